/* test_edge_model.c - the edge's XDP program against its reference model (model.c):
 * random worlds (connections, whitelist, blacklist, protected prefixes, rules, echo
 * on or off) applied through the edge's own config path, and random and mutated
 * frames (UDP, TCP, ICMP, IPIP return traffic, A2S queries, options, VLAN tags,
 * fragments; truncated, wrong IHL, version, total length, checksums, EtherType) on
 * every interface. Verdict, reason and output bytes must agree. Each disagreement is
 * printed with its frame in hex (a fixture to keep) and fails the test.
 *
 *   BF_MODEL_SEED (default 1), BF_MODEL_FRAMES (default 20000), BF_MODEL_WORLD
 *   (frames per world, default 400). make test runs the defaults; make fuzz a long run. */
#include <bpf/bpf.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "edge_tables.h"
#include "model.h"

static uint64_t rng;

static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 16);
}
static uint32_t below(uint32_t n) { return n ? rnd() % n : 0; }
static int chance(int percent) { return (int)below(100) < percent; }
static uint32_t hip(const char *s) { return ntohl(pkt_ip(s)); }

/* Every connection a world may have. */
static const struct {
	const char *proto, *bind, *machine;
	uint16_t port, machine_port;
	bool a2s;
} CONN_POOL[] = {
	{ "udp", "203.0.113.10", "198.18.3.2", 27015, 0, false },
	{ "tcp", "203.0.113.10", "198.18.3.2", 27015, 27016, false },
	{ "udp", "203.0.113.10", "198.18.3.2", 27017, 0, true },
	{ "udp", "203.0.113.20", "198.18.5.2", 27015, 0, false },
	{ "udp", "203.0.113.30", "198.18.7.2", 27015, 0, false },
	{ "udp", "203.0.113.40", "198.18.8.2", 27015, 0, false },
	{ "icmp", "203.0.113.50", "198.18.3.2", 0, 0, false },
	{ "udp", "203.0.113.60", "198.18.5.2", 7777, 7778, false },
	{ "tcp", "203.0.113.60", "198.18.3.2", 7777, 0, false },
};
#define N_CONN_POOL (sizeof(CONN_POOL) / sizeof(CONN_POOL[0]))

static const char *SRC_POOL[] = {
	"198.51.100.1", "198.51.100.5", "198.51.100.17", "198.51.100.30", "198.51.100.64",
	"198.51.100.70", "198.51.100.77", "198.51.100.130", "198.51.100.200", "198.19.1.1",
	"198.19.1.5", "10.9.8.7", "203.0.113.10", "192.0.2.11", "198.18.3.2", "198.18.5.2",
	"198.18.5.9", "198.18.7.9", "198.18.8.9",
};
static const char *DST_POOL[] = {
	"203.0.113.10", "203.0.113.20", "203.0.113.30", "203.0.113.40", "203.0.113.50",
	"203.0.113.60", "203.0.113.99", "192.0.2.11", "198.18.0.1", "198.18.6.1",
	"198.18.10.1", "198.51.100.77", "10.0.0.1",
};
static const uint16_t PORT_POOL[] = { 27015, 27016, 27017, 7777, 7778, 22, 53, 0, 40000 };
#define PICK(a) (a[below(sizeof(a) / sizeof(a[0]))])

static struct m_cidr rand_cidr(void)
{
	int len = 20 + (int)below(13);
	uint32_t a = hip(PICK(SRC_POOL));
	uint32_t mask = len ? 0xffffffffu << (32 - len) : 0;

	return (struct m_cidr){ .addr = a & mask, .mask = mask };
}

static void rand_world(struct m_world *w)
{
	memset(w, 0, sizeof(*w));
	w->edge_addr = w->backend_addr = hip(EDGE_ADDR);
	w->locals[w->n_locals++] = hip("127.0.0.1");
	w->locals[w->n_locals++] = hip("198.18.0.1");
	w->locals[w->n_locals++] = hip("198.18.6.1");
	w->locals[w->n_locals++] = hip("198.18.10.1");
	for (size_t i = 0; i < N_CONN_POOL; i++) {
		struct m_conn *c;

		if (!chance(75))
			continue;
		c = &w->conns[w->n_conns++];
		c->proto = !strcmp(CONN_POOL[i].proto, "udp") ? IPPROTO_UDP :
			   !strcmp(CONN_POOL[i].proto, "tcp") ? IPPROTO_TCP : IPPROTO_ICMP;
		c->bind = hip(CONN_POOL[i].bind);
		c->port = CONN_POOL[i].port;
		c->machine = hip(CONN_POOL[i].machine);
		c->machine_port = CONN_POOL[i].machine_port;
		c->a2s = CONN_POOL[i].a2s;
	}
	for (int n = (int)below(4); n > 0; n--)
		w->wl[w->n_wl++] = rand_cidr();
	for (int n = (int)below(5); n > 0; n--)
		w->bl[w->n_bl++] = rand_cidr();
	for (int n = (int)below(3); n > 0; n--)
		w->pr[w->n_pr++] = rand_cidr();
	/* up to 4 rules, or (one world in four) up to 15: enough for the port index */
	for (int n = (int)below(chance(25) ? 16 : 5); n > 0 && w->n_rules < M_MAX; n--) {
		struct m_rule *ru = &w->rules[w->n_rules++];
		int fields = 0;

		memset(ru, 0, sizeof(*ru));
		ru->drop = chance(70);
		ru->proto = chance(70) ? (chance(50) ? IPPROTO_UDP : chance(60) ? IPPROTO_TCP : IPPROTO_ICMP) : -1;
		ru->dport_lo = ru->ttl_lo = ru->plen_lo = -1;
		if (chance(40)) {
			ru->src = rand_cidr();
			fields++;
		}
		if ((ru->proto == IPPROTO_UDP || ru->proto == IPPROTO_TCP) && chance(60)) {
			ru->dport_lo = PICK(PORT_POOL);
			ru->dport_hi = ru->dport_lo + (int)below(3);
			fields++;
		}
		if (chance(30)) {
			ru->ttl_lo = (int)below(200);
			ru->ttl_hi = ru->ttl_lo + (int)below(56);
			fields++;
		}
		if (chance(30)) {
			ru->plen_lo = (int)below(200);
			ru->plen_hi = ru->plen_lo + (int)below(400);
			fields++;
		}
		if (ru->proto == IPPROTO_TCP && chance(40)) {
			ru->syn_not_ack = true;
			fields++;
		}
		if (!fields && ru->proto < 0) { /* a rule must match something on purpose */
			ru->src = rand_cidr();
		}
	}
	w->icmp_echo = chance(70);
	w->if_t0 = H.ifindex;
	w->if_t2 = H.if_t2;
	w->if_t4 = H.if_t4;
	memcpy(w->mac_t0, H.mac, 6);
	memcpy(w->mac_t2, H.mac_t2, 6);
	memcpy(w->mac_t4, H.mac_t4, 6);
	memcpy(w->gw_t0, GW_MAC, 6);
	memcpy(w->gw_t2, BK_MAC, 6);
}

/* The punches the program learned in the last world, and the ports they opened (as
 * the sweeper's rebuild closes them). */
static void clear_punches(void)
{
	struct bf_punch_key k, next;

	while (!bpf_map_get_next_key(H.maps.fd.punches, NULL, &next)) {
		k = next;
		if (bpf_map_delete_elem(H.maps.fd.punches, &k))
			break;
	}
	assert_int_equal(edge_ports_rebuild(&H.maps.ports, &H.maps.conf,
					    1u << (H.maps.conf.rules_active & 1), NULL, 0),
			 0);
}

static void apply_world(const struct m_world *w)
{
	harness_ifaces(1); /* as bifrost-edge runs: the interfaces' MACs known */
	char text[8192], more[7000];

	if (model_config(w, more, sizeof(more)))
		fail_msg("world config too long");
	snprintf(text, sizeof(text),
		 "id model\niface t0\niface t2\niface t4\naddr " EDGE_ADDR "\n" CONF_BACKENDS "%s",
		 more);
	harness_config(text);
	clear_punches();
}

static void rand_l4(struct pkt_spec *s, uint8_t *pay)
{
	size_t n;

	s->ttl = (uint8_t)(1 + below(255));
	s->tos = (uint8_t)below(256);
	s->id = (uint16_t)rnd();
	s->frag = chance(80) ? 0x4000 : 0;
	if (chance(5))
		s->frag |= (uint16_t)(chance(50) ? 0x2000 : 1 + below(8191));
	if (chance(15))
		s->opt_words = 1 + (int)below(10);
	s->sport = chance(70) ? PICK(PORT_POOL) : (uint16_t)rnd();
	s->dport = chance(80) ? PICK(PORT_POOL) : (uint16_t)rnd();
	s->tcp_flags = (uint8_t)below(64);
	s->echo_id = (uint16_t)rnd();
	s->echo_seq = (uint16_t)rnd();
	n = chance(90) ? below(300) : below(1400);
	for (size_t i = 0; i < n; i++)
		pay[i] = (uint8_t)rnd();
	if (chance(10) && n >= 5) { /* a Source query: W or A2A_PING, of any length */
		memset(pay, 0xff, 4);
		pay[4] = chance(50) ? 'W' : 'i';
		n = 5 + below(20);
	}
	s->payload = pay;
	s->payload_len = n;
}

static uint8_t rand_proto(void)
{
	uint32_t r = below(100);

	return r < 50 ? IPPROTO_UDP : r < 75 ? IPPROTO_TCP : r < 95 ? IPPROTO_ICMP : (uint8_t)(47 + below(3));
}

/* A random frame into buf; its ingress interface in *ifindex. Half the plain frames
 * aim at one of the world's connections, some answer a punch the model learned. */
static size_t rand_frame(const struct m_world *w, uint8_t *buf, size_t cap, int *ifindex)
{
	static uint8_t pay[1500], ipay[1500];
	struct pkt_spec s = { 0 }, in = { 0 };
	size_t n, l3;
	uint32_t r = below(100);

	memcpy(s.dmac, H.mac, 6);
	memcpy(s.smac, GW_MAC, 6);
	*ifindex = r < 80 ? H.ifindex : r < 92 ? H.if_t2 : H.if_t4;
	if (chance(22)) { /* IPIP, mostly a machine's return traffic */
		static const char *osrc[] = { "198.18.3.2", "198.18.5.2", "198.18.7.2", "198.18.8.2",
					      "198.51.100.77", "203.0.113.10" };
		static const char *odst[] = { EDGE_ADDR, EDGE_ADDR, EDGE_ADDR, "198.18.0.1",
					      "203.0.113.10" };
		static const char *ibind[] = { "203.0.113.10", "203.0.113.20", "203.0.113.30",
					       "203.0.113.40", "203.0.113.60", "203.0.113.99" };
		static const char *idst[] = { "198.51.100.77", "198.51.100.5", "10.9.8.7",
					      "198.18.5.9", "198.18.7.9", "198.18.8.9" };

		s.saddr = pkt_ip(PICK(osrc));
		s.daddr = pkt_ip(PICK(odst));
		s.frag = chance(95) ? 0x4000 : 0x2000;
		s.ttl = 64;
		if (chance(10))
			s.opt_words = 1 + (int)below(4);
		in.proto = chance(95) ? (chance(60) ? IPPROTO_UDP : IPPROTO_TCP) : IPPROTO_ICMP;
		rand_l4(&in, ipay);
		in.saddr = pkt_ip(PICK(ibind));
		in.daddr = pkt_ip(PICK(idst));
		in.sport = chance(70) ? PICK(PORT_POOL) : (uint16_t)rnd();
		if (*ifindex == H.if_t4 && chance(50))
			*ifindex = H.ifindex;
		n = pkt_build_ipip(&s, &in, buf, cap);
	} else {
		s.proto = rand_proto();
		rand_l4(&s, pay);
		s.saddr = pkt_ip(PICK(SRC_POOL));
		s.daddr = pkt_ip(PICK(DST_POOL));
		if (w->n_punches && chance(12)) { /* a remote's reply to a punch */
			const struct m_punch *k = &w->punches[below((uint32_t)w->n_punches)];

			s.proto = k->proto;
			s.saddr = htonl(k->remote);
			s.daddr = htonl(k->bind);
			s.sport = k->remote_port;
			s.dport = k->bind_port;
		} else if (w->n_conns && chance(50)) {
			const struct m_conn *c = &w->conns[below((uint32_t)w->n_conns)];

			s.proto = c->proto;
			s.daddr = htonl(c->bind);
			s.dport = c->port;
			if (c->proto == IPPROTO_ICMP && chance(50))
				s.dport = 0;
		}
		if (chance(10)) {
			s.vlan = 1;
			s.vlan_id = (uint16_t)below(4096);
		}
		n = pkt_build(&s, buf, cap);
	}
	if (!n)
		return 0;
	/* Addressed to the ingress interface; now and then to another host, or to all. */
	r = below(100);
	memcpy(buf, *ifindex == H.ifindex ? H.mac : *ifindex == H.if_t2 ? H.mac_t2 : H.mac_t4, 6);
	if (r < 8) {
		buf[0] = 0x02;
		buf[5] ^= (uint8_t)(1 + below(255));
	} else if (r < 11) {
		memset(buf, 0xff, 6);
	}
	l3 = s.vlan ? 18 : 14;
	if (chance(4)) { /* more tags in front */
		int t = 1 + (int)below(2);

		for (int i = 0; i < t && n + 4 <= cap; i++) {
			memmove(buf + 16, buf + 12, n - 12);
			buf[12] = 0x88;
			buf[13] = 0xa8;
			n += 4;
			l3 += 4;
		}
	}
	if (chance(25)) { /* one mutation */
		uint8_t *ip = buf + l3;

		switch (below(8)) {
		case 0: n = 14 + below((uint32_t)(n - 14)); break;
		case 1: ip[0] = (uint8_t)((ip[0] & 0xf0) | below(16)); goto fix;
		case 2: ip[0] = (uint8_t)((ip[0] & 0x0f) | below(16) << 4); goto fix;
		case 3: wr_len: ip[2] = (uint8_t)rnd(); ip[3] = (uint8_t)rnd(); goto fix;
		case 4: ip[11] ^= (uint8_t)(1 + below(255)); break;
		case 5: buf[l3 - 2] = (uint8_t)rnd(); buf[l3 - 1] = (uint8_t)rnd(); break;
		case 6: /* the inner header's checksum (IPIP) or a byte of the L4 header */
			if ((ip[0] & 0x0f) >= 5 && l3 + (size_t)(ip[0] & 0x0f) * 4 + 12 < n)
				buf[l3 + (size_t)(ip[0] & 0x0f) * 4 + below(12)] ^= (uint8_t)(1 + below(255));
			break;
		default: if (chance(50)) goto wr_len; n = 14 + below((uint32_t)(n - 14)); break;
		fix:
			if ((ip[0] & 0x0f) >= 5 && l3 + (size_t)(ip[0] & 0x0f) * 4 <= n)
				model_ipv4_csum(ip, (size_t)(ip[0] & 0x0f) * 4);
			break;
		}
	}
	return n < 14 ? 14 : n;
}

static const char *action_name(int a)
{
	static const char *n[] = { "aborted", "drop", "pass", "tx", "redirect" };

	return a >= 0 && a <= 4 ? n[a] : "?";
}

static void hex(FILE *f, const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%02x", b[i]);
	fputc('\n', f);
}

/* The program's output against the model's: the outer ID of a datagram without DF
 * is random (RFC 6864), taken from the program before comparing. */
static int same_out(struct m_result *m, const uint8_t *in, const struct result *r, char *why,
		    size_t len)
{
	if (m->echo) { /* the sender's addresses swapped, type 0, both checksums right */
		const uint8_t *o = r->out + m->l3, *i = in + m->l3;
		size_t ihl = (size_t)(o[0] & 0x0f) * 4;

		if (r->out_len < m->l3 + ihl + 8 || memcmp(o + 12, i + 16, 4) ||
		    memcmp(o + 16, i + 12, 4) || o[ihl] != 0 || pkt_csum(o, ihl) ||
		    pkt_csum(o + ihl, (size_t)(o[2] << 8 | o[3]) - ihl)) {
			snprintf(why, len, "not an echo reply to the sender with right checksums");
			return -1;
		}
		return 0;
	}
	if (m->action == XDP_DROP || m->action == XDP_ABORTED)
		return 0;
	if ((m->action == XDP_TX || m->action == XDP_REDIRECT) && m->out_len >= 34 &&
	    m->out[23] == IPPROTO_IPIP && !(m->out[20] & 0x40) && r->out_len >= 34) {
		m->out[18] = r->out[18];
		m->out[19] = r->out[19];
		model_ipv4_csum(m->out + 14, 20);
	}
	if (m->out_len != r->out_len || memcmp(m->out, r->out, m->out_len)) {
		size_t i = 0;

		while (i < m->out_len && i < r->out_len && m->out[i] == r->out[i])
			i++;
		snprintf(why, len, "output differs at byte %zu (model %zu bytes, program %u)", i,
			 m->out_len, r->out_len);
		return -1;
	}
	return 0;
}

static void test_edge_model__agrees(void **state)
{
	long seed = getenv("BF_MODEL_SEED") ? atol(getenv("BF_MODEL_SEED")) : 1;
	long frames = getenv("BF_MODEL_FRAMES") ? atol(getenv("BF_MODEL_FRAMES")) : 20000;
	long per_world = getenv("BF_MODEL_WORLD") ? atol(getenv("BF_MODEL_WORLD")) : 400;
	static struct m_world w;
	static struct m_result m;
	long bad = 0, verdicts[5] = { 0 };
	uint64_t reasons[BF_R_MAX] = { 0 };
	int covered = 0;

	rng = 0x9e3779b97f4a7c15ull ^ (uint64_t)seed * 0x2545f4914f6cdd1dull;
	for (long i = 0; i < frames && bad < 20; i++) {
		uint8_t f[2048];
		struct result r;
		char why[512];
		int ifindex;
		size_t n;

		if (i % per_world == 0) {
			rand_world(&w);
			apply_world(&w);
		}
		n = rand_frame(&w, f, sizeof(f), &ifindex);
		if (!n)
			continue;
		model_run(&w, f, n, ifindex, &m);
		harness_run_on(f, n, ifindex, &r);
		if (r.action >= 0 && r.action <= 4)
			verdicts[r.action]++;
		if (m.reason >= 0 && m.reason < BF_R_MAX)
			reasons[m.reason]++;
		if (harness_check(&r, m.action, m.reason, why, sizeof(why)) ||
		    same_out(&m, f, &r, why, sizeof(why))) {
			bad++;
			fprintf(stderr, "DISAGREE frame %ld (seed %ld, world %ld, ingress %s): model %s %s; %s\n  ",
				i, seed, i / per_world,
				ifindex == H.ifindex ? "t0" : ifindex == H.if_t2 ? "t2" : "t4",
				action_name(m.action), harness_reason_names[m.reason], why);
			hex(stderr, f, n);
			fprintf(stderr, "  program: %s, moved:", action_name(r.action));
			for (int k = 0; k < BF_R_MAX; k++)
				if (r.delta[k].packets)
					fprintf(stderr, " %s", harness_reason_names[k]);
			fputc('\n', stderr);
			if (m.action == XDP_TX || m.action == XDP_REDIRECT) {
				fprintf(stderr, "  model:   ");
				hex(stderr, m.out, m.out_len < 80 ? m.out_len : 80);
				fprintf(stderr, "  program: ");
				hex(stderr, r.out, r.out_len < 80 ? r.out_len : 80);
			}
		}
	}
	for (int i = 0; i < BF_R_MAX; i++)
		covered += reasons[i] > 0;
	printf("model: %ld frames, seed %ld: %ld disagreements; verdicts drop %ld pass %ld tx %ld "
	       "redirect %ld; %d reasons reached:",
	       frames, seed, bad, verdicts[XDP_DROP], verdicts[XDP_PASS], verdicts[XDP_TX],
	       verdicts[XDP_REDIRECT], covered);
	for (int i = 0; i < BF_R_MAX; i++)
		if (reasons[i])
			printf(" %s %llu", harness_reason_names[i], (unsigned long long)reasons[i]);
	printf("\n");
	assert_int_equal(bad, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_edge_model__agrees),
	};

	if (geteuid() != 0) {
		fprintf(stderr, "test_edge_model needs root (BPF and network namespaces)\n");
		return 1;
	}
	return cmocka_run_group_tests_name("edge_model", tests, tables_setup, tables_teardown);
}
