/* test_flowspec.c - a rule as a Flowspec route (sync/flowspec.c) and the plan
 * (sync/flowspec_plan.c): a table of rules and the exact route or the rail that refuses
 * them; every boundary of every rail; then a property run: random rules, and packets aimed
 * at each rail evaluated against the route's words the way an upstream router applies
 * them, none of which may match; the cap, the rate, the TTL, the canary, a restart. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "flowspec.h"
#include "schema.h"

static struct bf_cidr announce[3], protect[2], wl[2];
static uint32_t bgp[2];
static struct bf_fs_policy pol;

static struct bf_cidr cidr(const char *s)
{
	struct bf_cidr c;

	assert_int_equal(bf_parse_cidr4(s, false, &c), 0);
	return c;
}

static uint32_t ip(const char *s)
{
	uint32_t a;

	assert_int_equal(bf_parse_ipv4(s, &a), 0);
	return a;
}

static int setup(void **state)
{
	announce[0] = cidr("192.0.2.0/24");
	announce[1] = cidr("203.0.113.0/24");
	announce[2] = cidr("10.0.0.0/16");
	bgp[0] = ip("198.51.100.1"); /* the upstream */
	bgp[1] = ip("192.0.2.1");    /* our end, inside an announced prefix */
	protect[0] = cidr("192.0.2.250/32");
	protect[1] = cidr("198.20.0.0/16");
	wl[0] = cidr("198.18.0.0/16");
	wl[1] = cidr("203.0.113.200/30");
	pol = (struct bf_fs_policy){ .announce = announce, .n_announce = 3, .bgp_addrs = bgp,
				     .n_bgp = 2, .protect = protect, .n_protect = 2,
				     .whitelist = wl, .n_whitelist = 2, .min_plen = 24,
				     .mtu = 1500 };
	return 0;
}

static enum bf_fs_why tr(const char *text, char *match, char *detail)
{
	struct bf_rule_def r;
	char err[256];

	if (bf_rule_parse(7, text, strlen(text), &r, err, sizeof(err)))
		fail_msg("rule '%s' does not parse: %s", text, err);
	return bf_fs_translate(&r, &pol, match, BF_FS_MATCH_MAX, detail, BF_FS_DETAIL_MAX);
}

#define D "action drop proto udp dst 192.0.2.10/32 "

static void test_flowspec__routes(void **state)
{
	static const struct {
		const char *rule, *route;
	} t[] = {
		{ D "dport 27015",
		  "destination 192.0.2.10/32 protocol ==udp destination-port ==27015 "
		  "source-port !=179" },
		{ "action drop proto tcp dst 192.0.2.10/32 dport 27015-27020 sport 1024-65535 "
		  "tcp_flags syn,!ack,!rst",
		  "destination 192.0.2.10/32 protocol ==tcp destination-port >=27015 &<=27020 "
		  "source-port >=1024 tcp-flags =S &!R &!A" },
		{ "action drop proto icmp dst 10.0.9.0/24 icmp_type 8 icmp_code 0-3",
		  "destination 10.0.9.0/24 protocol ==icmp icmp-type ==8 icmp-code <=3" },
		{ "action drop proto 47 dst 203.0.113.7/32 src 198.19.0.0/16",
		  "destination 203.0.113.7/32 source 198.19.0.0/16 protocol ==47" },
		{ D "dport 53 ip_len 28-512 tos 184-187",
		  "destination 192.0.2.10/32 protocol ==udp destination-port ==53 source-port "
		  "!=179 packet-length >=28 &<=512 dscp ==46" },
		{ D "dport 27015 payload_len 0-3",
		  "destination 192.0.2.10/32 protocol ==udp destination-port ==27015 source-port "
		  "!=179 packet-length <=31" },
		{ D "dport 27015 payload 0:ffffffff flowspec strip-payload",
		  "destination 192.0.2.10/32 protocol ==udp destination-port ==27015 source-port "
		  "!=179" },
		/* port boundaries around 179 */
		{ D "dport 178 sport 180-65535",
		  "destination 192.0.2.10/32 protocol ==udp destination-port ==178 source-port "
		  ">=180" },
		{ D "dport 0-178",
		  "destination 192.0.2.10/32 protocol ==udp destination-port <=178 source-port "
		  "!=179" },
		/* a range over the whole domain is no constraint: 179 is closed off */
		{ D "dport 0-65535",
		  "destination 192.0.2.10/32 protocol ==udp destination-port !=179 source-port "
		  "!=179" },
		/* fields Flowspec lacks are fine when they select nothing */
		{ D "dport 1 ttl 0-255 ihl 5-15",
		  "destination 192.0.2.10/32 protocol ==udp destination-port ==1 source-port "
		  "!=179" },
		/* lengths: the MTU exactly */
		{ D "dport 1 ip_len 20-1500",
		  "destination 192.0.2.10/32 protocol ==udp destination-port ==1 source-port "
		  "!=179 packet-length >=20 &<=1500" },
		{ D "dport 1 payload_len 0-1472",
		  "destination 192.0.2.10/32 protocol ==udp destination-port ==1 source-port "
		  "!=179 packet-length <=1500" },
		/* dst at min_prefix_len exactly, beside the BGP address */
		{ "action drop proto icmp dst 10.0.7.0/24",
		  "destination 10.0.7.0/24 protocol ==icmp" },
		{ "action drop proto icmp dst 192.0.2.2/31",
		  "destination 192.0.2.2/31 protocol ==icmp" },
	};
	char m[BF_FS_MATCH_MAX], d[BF_FS_DETAIL_MAX];

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		enum bf_fs_why w = tr(t[i].rule, m, d);

		if (w != BF_FSW_OK)
			fail_msg("'%s' refused (%s): %s", t[i].rule, bf_fs_why_name(w), d);
		if (strcmp(m, t[i].route))
			fail_msg("'%s':\n  got  %s\n  want %s", t[i].rule, m, t[i].route);
	}
}

static void test_flowspec__every_rail_refuses(void **state)
{
	static const struct {
		const char *rule;
		enum bf_fs_why why;
		const char *says;
	} t[] = {
		{ "action pass proto udp dst 192.0.2.10/32", BF_FSW_ACTION, "only drop" },
		{ "action drop dst 192.0.2.10/32", BF_FSW_NO_PROTO, "179" },
		{ "action drop proto udp dport 27015", BF_FSW_NO_DST, "no dst" },
		{ "action drop all yes", BF_FSW_NO_PROTO, "no proto" },
		{ "action drop proto udp dst 198.51.100.0/24", BF_FSW_DST_OUTSIDE, "announces" },
		{ "action drop proto udp dst 192.0.0.0/16", BF_FSW_DST_OUTSIDE, "announces" },
		{ "action drop proto udp dst 192.0.3.0/24", BF_FSW_DST_OUTSIDE, "announces" },
		{ "action drop proto udp dst 10.0.0.0/23", BF_FSW_DST_WIDE, "/24" },
		{ "action drop proto udp dst 10.0.0.0/16", BF_FSW_DST_WIDE, "/24" },
		{ "action drop proto udp dst 192.0.2.0/31", BF_FSW_BGP_PEER, "192.0.2.1" },
		{ "action drop proto udp dst 192.0.2.1/32 dport 5", BF_FSW_BGP_PEER, "192.0.2.1" },
		{ D "src 198.51.100.0/24", BF_FSW_BGP_PEER, "198.51.100.1" },
		{ D "src 198.51.100.1/32", BF_FSW_BGP_PEER, "198.51.100.1" },
		{ "action drop proto udp dst 192.0.2.250/32", BF_FSW_PROTECTED, "192.0.2.250/32" },
		{ "action drop proto udp dst 192.0.2.248/29", BF_FSW_PROTECTED, "protected" },
		{ D "src 198.20.1.1/32", BF_FSW_PROTECTED, "src" },
		{ D "src 198.16.0.0/12", BF_FSW_PROTECTED, "src" },
		{ D "src 198.18.5.0/24", BF_FSW_WHITELISTED, "198.18.0.0/16" },
		{ "action drop proto udp dst 203.0.113.201/32", BF_FSW_WHITELISTED, "dst" },
		{ "action drop proto tcp dst 192.0.2.10/32 dport 179", BF_FSW_PORT_179, "dport" },
		{ "action drop proto udp dst 192.0.2.10/32 dport 179", BF_FSW_PORT_179, "179" },
		{ "action drop proto tcp dst 192.0.2.10/32 dport 100-200", BF_FSW_PORT_179, "100-200" },
		{ "action drop proto tcp dst 192.0.2.10/32 dport 1 sport 179-179", BF_FSW_PORT_179,
		  "sport" },
		{ "action drop proto tcp dst 192.0.2.10/32 sport 0-179", BF_FSW_PORT_179, "sport" },
		{ "action drop proto tcp dst 192.0.2.10/32 sport 179-65535", BF_FSW_PORT_179, "sport" },
		{ D "ip_len 20-1501", BF_FSW_LENGTH, "MTU" },
		{ D "ip_len 20-65535", BF_FSW_LENGTH, "MTU" },
		{ D "payload_len 0-1473", BF_FSW_LENGTH, "MTU" },
		{ D "ip_len 100-200 payload_len 0-10", BF_FSW_LENGTH, "no packet length" },
		{ D "payload 4:54536f75726365", BF_FSW_PAYLOAD, "strip-payload" },
		{ D "payload 0:ff flowspec yes", BF_FSW_PAYLOAD, "strip-payload" },
		{ D "ttl 1-64", BF_FSW_FIELD, "ttl" },
		{ D "ihl 6", BF_FSW_FIELD, "ihl" },
		{ D "ip_id 0", BF_FSW_FIELD, "ip_id" },
		{ D "frag_off 1-8191", BF_FSW_FIELD, "frag_off" },
		{ D "ip_flags df", BF_FSW_FIELD, "ip_flags" },
		{ D "pps 1000", BF_FSW_FIELD, "pps" },
		{ D "bps 1m", BF_FSW_FIELD, "bps" },
		{ "action drop proto tcp dst 192.0.2.10/32 tcp_window 0-10", BF_FSW_FIELD, "tcp_window" },
		{ "action drop proto tcp dst 192.0.2.10/32 tcp_seq 5", BF_FSW_FIELD, "tcp_seq" },
		{ "action drop proto tcp dst 192.0.2.10/32 tcp_ack 5", BF_FSW_FIELD, "tcp_ack" },
		{ D "tos 1-5", BF_FSW_FIELD, "DSCP" },
		{ D "tos 4-6", BF_FSW_FIELD, "DSCP" },
		{ D "payload_len 10-20", BF_FSW_FIELD, "0-N" },
		{ "action drop proto tcp dst 192.0.2.10/32 payload_len 0-3", BF_FSW_FIELD, "udp" },
	};
	char m[BF_FS_MATCH_MAX], d[BF_FS_DETAIL_MAX];

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		enum bf_fs_why w = tr(t[i].rule, m, d);

		if (w != t[i].why)
			fail_msg("'%s': %s (%s), want %s", t[i].rule, bf_fs_why_name(w),
				 w ? d : m, bf_fs_why_name(t[i].why));
		if (m[0] || !strstr(d, t[i].says))
			fail_msg("'%s': route '%s', detail '%s' (want it to say '%s')", t[i].rule, m,
				 d, t[i].says);
		assert_null(strchr(d, '\n'));
	}
}

/* ---- the route as an upstream applies it (RFC 8955 numeric and bitmask operators) ---- */

struct pkt {
	uint32_t src, dst;
	uint8_t proto, tos, icmp_type, icmp_code, tcp_flags;
	uint16_t sport, dport, len;
};

/* A numeric component's terms: "==N", "<=N", ">=N", "!=N", "<N", ">N"; '&' ANDs a term
 * to the one before, otherwise terms OR. */
static bool num_match(char **w, int n, uint32_t v)
{
	bool any = false, cur = false;

	for (int i = 0; i < n; i++) {
		const char *t = w[i];
		bool and = *t == '&', r = false;
		unsigned long x;

		t += and;
		x = strtoul(t + 2, NULL, 10);
		if (!strncmp(t, "==", 2))
			r = v == x;
		else if (!strncmp(t, "<=", 2))
			r = v <= x;
		else if (!strncmp(t, ">=", 2))
			r = v >= x;
		else if (!strncmp(t, "!=", 2))
			r = v != x;
		else
			fail_msg("unknown term '%s'", w[i]);
		if (and)
			cur = cur && r;
		else {
			any = any || (i && cur);
			cur = r;
		}
	}
	return any || cur;
}

static bool route_match(const char *match, const struct pkt *p)
{
	char buf[BF_FS_MATCH_MAX], *w[128], *save = NULL, *t;
	int n = 0;
	bool tcpudp = p->proto == IPPROTO_TCP || p->proto == IPPROTO_UDP;

	snprintf(buf, sizeof(buf), "%s", match);
	for (t = strtok_r(buf, " ", &save); t && n < 128; t = strtok_r(NULL, " ", &save))
		w[n++] = t;
	for (int i = 0; i < n;) {
		const char *name = w[i++];
		int k = i;

		while (k < n && strchr("=<>!&", w[k][0]) != NULL)
			k++;
		if (!strcmp(name, "destination") || !strcmp(name, "source")) {
			struct bf_cidr c = cidr(w[i]);

			if (!bf_cidr_contains(&c, name[0] == 'd' ? p->dst : p->src))
				return false;
			i++;
			continue;
		}
		if (!strcmp(name, "protocol")) {
			const char *v = w[i] + 2;
			int pr = bf_parse_proto(v);

			if ((pr >= 0 ? pr : atoi(v)) != p->proto)
				return false;
		} else if (!strcmp(name, "destination-port")) {
			if (!tcpudp || !num_match(w + i, k - i, p->dport))
				return false;
		} else if (!strcmp(name, "source-port")) {
			if (!tcpudp || !num_match(w + i, k - i, p->sport))
				return false;
		} else if (!strcmp(name, "icmp-type")) {
			if (p->proto != IPPROTO_ICMP || !num_match(w + i, k - i, p->icmp_type))
				return false;
		} else if (!strcmp(name, "icmp-code")) {
			if (p->proto != IPPROTO_ICMP || !num_match(w + i, k - i, p->icmp_code))
				return false;
		} else if (!strcmp(name, "packet-length")) {
			if (!num_match(w + i, k - i, p->len))
				return false;
		} else if (!strcmp(name, "dscp")) {
			if (!num_match(w + i, k - i, p->tos >> 2))
				return false;
		} else if (!strcmp(name, "tcp-flags")) {
			static const char letters[] = "FSRPAUEC";

			if (p->proto != IPPROTO_TCP)
				return false;
			for (int j = i; j < k; j++) {
				const char *tt = w[j] + (w[j][0] == '&');
				int b = (int)(strchr(letters, tt[1]) - letters);
				bool set = p->tcp_flags & (1u << b);

				if ((tt[0] == '=') != set) /* all terms are ANDed here */
					return false;
			}
		} else {
			fail_msg("unknown component '%s' in '%s'", name, match);
		}
		i = k;
	}
	return true;
}

static uint32_t rnd(void)
{
	static uint64_t s = 0x9e3779b97f4a7c15ULL;

	s ^= s << 13;
	s ^= s >> 7;
	s ^= s << 17;
	return (uint32_t)s;
}

/* A random rule built from values near every rail's edge. */
static void random_rule(char *out, size_t len)
{
	static const char *const dsts[] = {
		"192.0.2.10/32", "192.0.2.0/24", "192.0.2.0/25", "192.0.2.128/25", "192.0.2.248/29",
		"192.0.2.0/31",  "192.0.2.2/31", "203.0.113.0/24", "203.0.113.200/29", "10.0.0.0/16",
		"10.0.5.0/24",   "10.0.0.0/8",  "198.51.100.0/24", "0.0.0.0/0", "192.0.2.250/32",
	};
	static const char *const srcs[] = { "198.51.100.0/24", "198.51.100.1/32", "198.18.0.0/15",
					    "198.19.0.0/16",   "198.20.5.0/24",   "0.0.0.0/0",
					    "100.64.0.0/10",   "192.0.2.0/24" };
	static const char *const protos[] = { "udp", "tcp", "icmp", "47", "6", "17" };
	static const char *const ports[] = { "179",      "178",       "180",   "0-178", "180-65535",
					     "100-200",  "0-65535",   "27015", "1-179", "179-65535",
					     "27000-27100" };
	size_t o = 0;
	const char *pr = protos[rnd() % 6];

	o += (size_t)snprintf(out + o, len - o, "action drop");
	if (rnd() % 8)
		o += (size_t)snprintf(out + o, len - o, " proto %s", pr);
	if (rnd() % 8)
		o += (size_t)snprintf(out + o, len - o, " dst %s", dsts[rnd() % 15]);
	if (rnd() % 2)
		o += (size_t)snprintf(out + o, len - o, " src %s", srcs[rnd() % 8]);
	if (!strcmp(pr, "udp") || !strcmp(pr, "tcp") || !strcmp(pr, "6") || !strcmp(pr, "17")) {
		if (rnd() % 2)
			o += (size_t)snprintf(out + o, len - o, " dport %s", ports[rnd() % 11]);
		if (rnd() % 3 == 0)
			o += (size_t)snprintf(out + o, len - o, " sport %s", ports[rnd() % 11]);
	}
	if (rnd() % 4 == 0)
		o += (size_t)snprintf(out + o, len - o, " ip_len %s",
				      (const char *[]){ "20-1500", "28-100", "20-1501", "1400-9000" }[rnd() % 4]);
	if (rnd() % 4 == 0)
		o += (size_t)snprintf(out + o, len - o, " payload_len %s",
				      (const char *[]){ "0-3", "0-1472", "0-1473", "5-9" }[rnd() % 4]);
	if (rnd() % 6 == 0)
		o += (size_t)snprintf(out + o, len - o, " tos %s",
				      (const char *[]){ "184-187", "0-255", "1-3", "0-3" }[rnd() % 4]);
	if (rnd() % 6 == 0)
		o += (size_t)snprintf(out + o, len - o, " payload 0:ff");
	if (rnd() % 3 == 0)
		o += (size_t)snprintf(out + o, len - o, " flowspec %s",
				      rnd() % 2 ? "yes" : "strip-payload");
}

/* Packets aimed at each rail, otherwise like what the rule matches. */
static void rail_packets(const struct bf_rule_def *r, struct pkt *ps, size_t *n)
{
	static const char *const addrs[] = { "198.51.100.1", "192.0.2.1", "192.0.2.250",
					     "198.20.9.9",   "198.18.1.1", "203.0.113.201",
					     "192.0.3.5",    "10.1.0.1",   "8.8.8.8" };
	struct pkt base = { 0 };

	base.src = r->src.plen ? r->src.addr : ip("100.64.1.1");
	base.dst = r->dst.addr;
	base.proto = r->proto;
	base.sport = (r->used & BF_RF_SPORT) ? (uint16_t)r->sport.lo : 40000;
	base.dport = (r->used & BF_RF_DPORT) ? (uint16_t)r->dport.lo : 27015;
	base.len = (r->used & BF_RF_IP_LEN) ? (uint16_t)r->ip_len.lo : 60;
	base.tos = (uint8_t)r->tos.lo;
	*n = 0;
	for (size_t i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
		ps[*n] = base;
		ps[(*n)++].dst = ip(addrs[i]);
		ps[*n] = base;
		ps[(*n)++].src = ip(addrs[i]);
	}
	for (int proto = 6; proto <= 17; proto += 11) {
		ps[*n] = base;
		ps[*n].proto = (uint8_t)proto;
		ps[(*n)++].dport = 179;
		ps[*n] = base;
		ps[*n].proto = (uint8_t)proto;
		ps[(*n)++].sport = 179;
	}
}

/* Which rail a packet that matched broke (NULL: none; the packet is fair game). */
static const char *rail_broken(const struct pkt *p)
{
	bool inside = false;

	if ((p->proto == IPPROTO_TCP || p->proto == IPPROTO_UDP) &&
	    (p->sport == 179 || p->dport == 179))
		return "port 179";
	for (size_t i = 0; i < pol.n_bgp; i++)
		if (p->dst == pol.bgp_addrs[i])
			return "a BGP address";
	for (size_t i = 0; i < pol.n_protect; i++)
		if (bf_cidr_contains(&pol.protect[i], p->dst))
			return "a protected destination";
	for (size_t i = 0; i < pol.n_whitelist; i++)
		if (bf_cidr_contains(&pol.whitelist[i], p->dst))
			return "a whitelisted destination";
	for (size_t i = 0; i < pol.n_announce; i++)
		inside |= bf_cidr_contains(&pol.announce[i], p->dst);
	return inside ? NULL : "a destination outside the announced prefixes";
}

/* No rule, whatever its fields, yields a route that matches a packet of a rail. A source
 * the rule names never overlaps a protected or whitelisted prefix either. */
static void test_flowspec__no_value_bypasses_a_rail(void **state)
{
	unsigned ok = 0, refused = 0, checked = 0;

	for (int it = 0; it < 200000; it++) {
		char text[512], m[BF_FS_MATCH_MAX], d[BF_FS_DETAIL_MAX], err[256];
		struct bf_rule_def r;
		struct pkt ps[64];
		size_t n;

		random_rule(text, sizeof(text));
		if (bf_rule_parse(1, text, strlen(text), &r, err, sizeof(err)))
			continue;
		if (bf_fs_translate(&r, &pol, m, sizeof(m), d, sizeof(d))) {
			assert_string_equal(m, "");
			refused++;
			continue;
		}
		ok++;
		assert_true(r.dst.plen >= pol.min_plen);
		/* a source the rule names holds no BGP, protected or whitelisted address (an
		 * unnamed one matches them as the edge's own rule does: docs/ARCHITECTURE.md) */
		if (r.src.plen) {
			for (size_t i = 0; i < pol.n_protect; i++)
				assert_false(bf_cidr_overlap(&r.src, &pol.protect[i]));
			for (size_t i = 0; i < pol.n_whitelist; i++)
				assert_false(bf_cidr_overlap(&r.src, &pol.whitelist[i]));
			for (size_t i = 0; i < pol.n_bgp; i++)
				assert_false(bf_cidr_contains(&r.src, pol.bgp_addrs[i]));
		}
		rail_packets(&r, ps, &n);
		for (size_t i = 0; i < n; i++) {
			const char *broken = rail_broken(&ps[i]);

			checked++;
			if (broken && route_match(m, &ps[i]))
				fail_msg("rule '%s' -> route '%s' matches %s (packet %zu)", text, m,
					 broken, i);
			/* the base packet is what the rule is about: the route must take it */
		}
	}
	print_message("rails: %u routes, %u refused, %u rail packets, none matched\n", ok, refused,
		      checked);
	assert_true(ok > 1000 && refused > 1000);
}

/* The route takes what the rule drops: packets the edge's rule matches and the rails
 * allow are matched upstream too. */
static void test_flowspec__route_takes_the_rules_packets(void **state)
{
	char m[BF_FS_MATCH_MAX], d[BF_FS_DETAIL_MAX];
	struct pkt p = { .src = ip("100.64.1.1"), .dst = ip("192.0.2.10"), .proto = IPPROTO_UDP,
			 .sport = 40000, .dport = 27015, .len = 31 };

	assert_int_equal(tr(D "dport 27015 payload_len 0-3", m, d), BF_FSW_OK);
	assert_true(route_match(m, &p));
	p.len = 32; /* a 4-byte payload: the rule leaves it */
	assert_false(route_match(m, &p));
	p.len = 31;
	p.dport = 27016;
	assert_false(route_match(m, &p));
	assert_int_equal(tr("action drop proto tcp dst 192.0.2.10/32 dport 27015 tcp_flags syn,!ack",
			    m, d), BF_FSW_OK);
	p = (struct pkt){ .src = ip("100.64.1.1"), .dst = ip("192.0.2.10"), .proto = IPPROTO_TCP,
			  .sport = 40000, .dport = 27015, .len = 40, .tcp_flags = 0x02 };
	assert_true(route_match(m, &p));
	p.tcp_flags = 0x12; /* SYN-ACK */
	assert_false(route_match(m, &p));
}

/* ---- the plan ---- */

static struct bf_fs_limits lim(void)
{
	return (struct bf_fs_limits){ .max_rules = 3, .interval_ms = 1000, .ttl_ms = 60000,
				      .max_ttl_ms = 3600000, .canary_hold_ms = 10000 };
}

static void rules_of(const char *const *texts, size_t n, struct bf_rule_def *out)
{
	char err[256];

	for (size_t i = 0; i < n; i++) {
		const char *sp = strchr(texts[i], ' ');
		uint32_t id = (uint32_t)atoi(texts[i]);

		if (bf_rule_parse(id, sp + 1, strlen(sp + 1), &out[i], err, sizeof(err)))
			fail_msg("%s: %s", texts[i], err);
	}
}

static const struct bf_fs_line *line_of(const struct bf_fs_rule_state *s, size_t n, uint32_t id)
{
	for (size_t i = 0; i < n; i++)
		if (s[i].id == id)
			return &s[i].line;
	fail_msg("no line for rule %u", id);
	return NULL;
}

#define STATE(s, n, id) (line_of((s), (n), (id))->state)
#define WHY(s, n, id) (line_of((s), (n), (id))->why)

static void test_flowspec__plan_cap_rate_ttl(void **state)
{
	static const char *const texts[] = {
		"50 action drop proto icmp dst 192.0.2.50/32 flowspec yes",
		"10 action drop proto icmp dst 192.0.2.10/32 flowspec yes",
		"20 action drop proto icmp dst 192.0.2.20/32 flowspec yes flowspec_ttl 5s",
		"30 action drop proto icmp dst 192.0.2.30/32 flowspec yes",
		"40 action drop proto tcp dst 192.0.2.40/32 dport 179 flowspec yes",
	};
	struct bf_rule_def r[5];
	struct bf_fs_rule_state a[5], b[5];
	struct bf_fs_limits l = lim();
	uint64_t last = 0, t0 = 1000000;

	rules_of(texts, 5, r);
	/* t0: the lowest id goes out first; the next two wait for the rate; the 4th is over
	 * the cap; 40 is refused by a rail and takes no place */
	bf_fs_plan(r, 5, &pol, &l, NULL, 0, NULL, 0, t0, &last, a);
	assert_int_equal(STATE(a, 5, 10), BF_FSS_ANNOUNCED);
	assert_int_equal(line_of(a, 5, 10)->until_ms, t0 + 60000);
	assert_int_equal(STATE(a, 5, 20), BF_FSS_PENDING);
	assert_string_equal(WHY(a, 5, 20), "rate");
	assert_int_equal(STATE(a, 5, 30), BF_FSS_PENDING);
	assert_int_equal(STATE(a, 5, 50), BF_FSS_REFUSED);
	assert_string_equal(WHY(a, 5, 50), "cap");
	assert_int_equal(STATE(a, 5, 40), BF_FSS_REFUSED);
	assert_string_equal(WHY(a, 5, 40), "port_179");
	/* 999 ms later: still one a second */
	bf_fs_plan(r, 5, &pol, &l, a, 5, NULL, 0, t0 + 999, &last, b);
	assert_int_equal(STATE(b, 5, 20), BF_FSS_PENDING);
	bf_fs_plan(r, 5, &pol, &l, b, 5, NULL, 0, t0 + 1000, &last, a);
	assert_int_equal(STATE(a, 5, 20), BF_FSS_ANNOUNCED);
	assert_int_equal(line_of(a, 5, 20)->until_ms, t0 + 1000 + 5000); /* its own TTL */
	assert_int_equal(STATE(a, 5, 30), BF_FSS_PENDING);
	bf_fs_plan(r, 5, &pol, &l, a, 5, NULL, 0, t0 + 2000, &last, b);
	assert_int_equal(STATE(b, 5, 30), BF_FSS_ANNOUNCED);
	assert_int_equal(STATE(b, 5, 50), BF_FSS_REFUSED);
	/* rule 20's TTL runs out: expired, and its place goes to 50 (one a second) */
	bf_fs_plan(r, 5, &pol, &l, b, 5, NULL, 0, t0 + 6000, &last, a);
	assert_int_equal(STATE(a, 5, 20), BF_FSS_EXPIRED);
	assert_int_equal(STATE(a, 5, 50), BF_FSS_ANNOUNCED);
	assert_int_equal(line_of(a, 5, 10)->since_ms, t0); /* the others keep their expiry */
	/* it stays expired while the rule is unchanged... */
	bf_fs_plan(r, 5, &pol, &l, a, 5, NULL, 0, t0 + 9000, &last, b);
	assert_int_equal(STATE(b, 5, 20), BF_FSS_EXPIRED);
	/* ...a new TTL is a new rule: it waits for a place (the cap is full) */
	r[2].flowspec_ttl_ms = 7000;
	bf_fs_plan(r, 5, &pol, &l, b, 5, NULL, 0, t0 + 10000, &last, a);
	assert_int_equal(STATE(a, 5, 20), BF_FSS_REFUSED);
	assert_string_equal(WHY(a, 5, 20), "cap");
	/* a changed match replaces the route (and waits its turn) */
	r[1].dst.addr = ip("192.0.2.11");
	bf_fs_plan(r, 5, &pol, &l, a, 5, NULL, 0, t0 + 20000, &last, b);
	assert_int_equal(STATE(b, 5, 10), BF_FSS_ANNOUNCED);
	assert_int_equal(line_of(b, 5, 10)->since_ms, t0 + 20000);
	assert_non_null(strstr(line_of(b, 5, 10)->text, "192.0.2.11/32"));
}

static void test_flowspec__plan_max_ttl_and_restart(void **state)
{
	static const char *const texts[] = {
		"1 action drop proto icmp dst 192.0.2.1/32 flowspec yes", /* BGP address: refused */
		"2 action drop proto icmp dst 192.0.2.2/32 flowspec yes flowspec_ttl 7d",
		"3 action drop proto icmp dst 192.0.2.3/32 flowspec yes",
	};
	struct bf_rule_def r[3];
	struct bf_fs_rule_state a[3], b[3], back[3];
	struct bf_fs_limits l = lim();
	uint64_t last = 0;
	char buf[BF_FS_MATCH_MAX + 96];

	rules_of(texts, 3, r);
	bf_fs_plan(r, 3, &pol, &l, NULL, 0, NULL, 0, 5000, &last, a);
	assert_int_equal(STATE(a, 3, 1), BF_FSS_REFUSED);
	assert_string_equal(WHY(a, 3, 1), "bgp_peer");
	assert_int_equal(line_of(a, 3, 2)->until_ms, 5000 + l.max_ttl_ms);
	bf_fs_plan(r, 3, &pol, &l, a, 3, NULL, 0, 6000, &last, b);
	assert_int_equal(STATE(b, 3, 3), BF_FSS_ANNOUNCED);
	/* a restart: the lines go through Redis as text, stopped; the routes come back with
	 * the expiry they had, at once (they are not new) */
	for (int i = 0; i < 3; i++) {
		if (b[i].line.state == BF_FSS_ANNOUNCED)
			b[i].line.state = BF_FSS_STOPPED;
		assert_true(bf_fs_line_format(&b[i].line, buf, sizeof(buf)) > 0);
		back[i].id = b[i].id;
		assert_int_equal(bf_fs_line_parse(buf, strlen(buf), &back[i].line), 0);
		assert_int_equal(back[i].line.state, b[i].line.state);
		assert_string_equal(back[i].line.text, b[i].line.text);
	}
	last = 0;
	bf_fs_plan(r, 3, &pol, &l, back, 3, NULL, 0, 9000, &last, a);
	assert_int_equal(STATE(a, 3, 2), BF_FSS_ANNOUNCED);
	assert_int_equal(STATE(a, 3, 3), BF_FSS_ANNOUNCED);
	assert_int_equal(line_of(a, 3, 3)->since_ms, 6000);
	assert_int_equal(last, 0); /* nothing new went out */
	/* dry run: the same decisions, DRY_RUN instead of ANNOUNCED */
	l.dry_run = true;
	last = 0;
	bf_fs_plan(r, 3, &pol, &l, NULL, 0, NULL, 0, 5000, &last, a);
	assert_int_equal(STATE(a, 3, 2), BF_FSS_DRY_RUN);
	assert_int_equal(STATE(a, 3, 3), BF_FSS_PENDING);
}

static void test_flowspec__plan_canary(void **state)
{
	static const char *const texts[] = {
		"1 action drop proto icmp dst 192.0.2.5/32 flowspec yes",
		"2 action drop proto icmp dst 192.0.2.6/32 flowspec yes",
	};
	struct bf_rule_def r[2];
	struct bf_fs_rule_state a[2], canary[2];
	struct bf_fs_limits l = lim();
	uint64_t last = 0;
	char m[BF_FS_MATCH_MAX], d[BF_FS_DETAIL_MAX];

	rules_of(texts, 2, r);
	l.follow_canary = true;
	/* the canary has not announced them: both wait */
	bf_fs_plan(r, 2, &pol, &l, NULL, 0, NULL, 0, 100000, &last, a);
	assert_int_equal(STATE(a, 2, 1), BF_FSS_PENDING);
	assert_string_equal(WHY(a, 2, 1), "canary");
	/* the canary announced 1 for longer than the hold, 2 too recently, and a different
	 * route under 2's id before that */
	assert_int_equal(bf_fs_translate(&r[0], &pol, m, sizeof(m), d, sizeof(d)), BF_FSW_OK);
	canary[0] = (struct bf_fs_rule_state){ 1, { BF_FSS_ANNOUNCED, 80000, 900000, "-", "" } };
	snprintf(canary[0].line.text, sizeof(canary[0].line.text), "%s", m);
	canary[1] = (struct bf_fs_rule_state){ 2, { BF_FSS_ANNOUNCED, 95000, 900000, "-",
						    "destination 192.0.2.7/32 protocol ==icmp" } };
	bf_fs_plan(r, 2, &pol, &l, NULL, 0, canary, 2, 100000, &last, a);
	assert_int_equal(STATE(a, 2, 1), BF_FSS_ANNOUNCED);
	assert_int_equal(STATE(a, 2, 2), BF_FSS_PENDING);
	assert_string_equal(WHY(a, 2, 2), "canary");
	/* refused at the canary: waits here too */
	canary[0].line.state = BF_FSS_REFUSED;
	last = 0;
	bf_fs_plan(r, 2, &pol, &l, NULL, 0, canary, 2, 100000, &last, a);
	assert_int_equal(STATE(a, 2, 1), BF_FSS_PENDING);
}


/* Lines read back (a restart, or anyone who can write the state hash) are held to the
 * cap, to their own TTL and to the clock; a dry run's lines are no announcement. */
static void test_flowspec__plan_read_back_is_checked(void **state)
{
	static const char *const texts[] = {
		"1 action drop proto icmp dst 192.0.2.11/32 flowspec yes",
		"2 action drop proto icmp dst 192.0.2.12/32 flowspec yes",
		"3 action drop proto icmp dst 192.0.2.13/32 flowspec yes",
		"4 action drop proto icmp dst 192.0.2.14/32 flowspec yes",
		"5 action drop proto icmp dst 192.0.2.15/32 flowspec yes",
	};
	struct bf_rule_def r[5];
	struct bf_fs_rule_state prev[5], a[5];
	struct bf_fs_limits l = lim();
	uint64_t last = 0, now = 10000000;
	char m[BF_FS_MATCH_MAX], d[BF_FS_DETAIL_MAX];

	rules_of(texts, 5, r);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(bf_fs_translate(&r[i], &pol, m, sizeof(m), d, sizeof(d)), BF_FSW_OK);
		prev[i].id = r[i].id;
		prev[i].line = (struct bf_fs_line){ BF_FSS_STOPPED, now - 1000, now - 1000 + l.ttl_ms,
						    "-", "" };
		snprintf(prev[i].line.text, sizeof(prev[i].line.text), "%s", m);
	}
	/* max_rules 3: five lines read back, three go out again (by priority) */
	bf_fs_plan(r, 5, &pol, &l, prev, 5, NULL, 0, now, &last, a);
	assert_int_equal(STATE(a, 5, 1), BF_FSS_ANNOUNCED);
	assert_int_equal(STATE(a, 5, 3), BF_FSS_ANNOUNCED);
	assert_int_equal(STATE(a, 5, 4), BF_FSS_REFUSED);
	assert_string_equal(WHY(a, 5, 5), "cap");
	assert_int_equal(last, 0);
	/* a line that says it went out an hour from now is not trusted: a new route */
	prev[0].line.since_ms = now + 3600000;
	prev[0].line.until_ms = prev[0].line.since_ms + l.ttl_ms;
	bf_fs_plan(r, 1, &pol, &l, prev, 5, NULL, 0, now, &last, a);
	assert_int_equal(STATE(a, 1, 1), BF_FSS_ANNOUNCED);
	assert_int_equal(line_of(a, 1, 1)->since_ms, now);
	assert_int_equal(line_of(a, 1, 1)->until_ms, now + l.ttl_ms);
	/* a dry run's line, read back by a live exporter: a new route, which waits its turn */
	prev[1].line.state = BF_FSS_DRY_RUN;
	bf_fs_plan(&r[1], 1, &pol, &l, prev, 5, NULL, 0, now + 10, &last, a);
	assert_int_equal(STATE(a, 1, 2), BF_FSS_PENDING);
	assert_string_equal(WHY(a, 1, 2), "rate");
	/* stale inputs (Redis failed): what is out stays, nothing new is decided */
	l.hold_new = true;
	l.max_rules = 5;
	last = 0;
	bf_fs_plan(r, 5, &pol, &l, prev, 5, NULL, 0, now + 2000, &last, a);
	assert_int_equal(STATE(a, 5, 3), BF_FSS_ANNOUNCED);
	assert_int_equal(STATE(a, 5, 1), BF_FSS_PENDING);
	assert_string_equal(WHY(a, 5, 1), "redis");
	assert_int_equal(last, 0);
}

/* A rule refused for a moment (its destination whitelisted, say) keeps its expiry: it
 * cannot be renewed for ever that way. */
static void test_flowspec__plan_refusal_keeps_the_expiry(void **state)
{
	static const char *const texts[] = {
		"7 action drop proto icmp dst 192.0.2.77/32 flowspec yes flowspec_ttl 10s",
	};
	struct bf_rule_def r[1];
	struct bf_fs_rule_state a[1], b[1];
	struct bf_fs_limits l = lim();
	struct bf_cidr moment = cidr("192.0.2.77/32");
	struct bf_fs_policy p2 = pol;
	uint64_t last = 0, t0 = 5000000;

	rules_of(texts, 1, r);
	bf_fs_plan(r, 1, &pol, &l, NULL, 0, NULL, 0, t0, &last, a);
	assert_int_equal(STATE(a, 1, 7), BF_FSS_ANNOUNCED);
	p2.whitelist = &moment;
	p2.n_whitelist = 1;
	bf_fs_plan(r, 1, &p2, &l, a, 1, NULL, 0, t0 + 2000, &last, b);
	assert_int_equal(STATE(b, 1, 7), BF_FSS_REFUSED);
	assert_int_equal(line_of(b, 1, 7)->until_ms, t0 + 10000);
	/* back before its expiry: out again with the old expiry */
	bf_fs_plan(r, 1, &pol, &l, b, 1, NULL, 0, t0 + 4000, &last, a);
	assert_int_equal(STATE(a, 1, 7), BF_FSS_ANNOUNCED);
	assert_int_equal(line_of(a, 1, 7)->until_ms, t0 + 10000);
	/* refused again, back after it: expired, not renewed */
	bf_fs_plan(r, 1, &p2, &l, a, 1, NULL, 0, t0 + 5000, &last, b);
	bf_fs_plan(r, 1, &pol, &l, b, 1, NULL, 0, t0 + 11000, &last, a);
	assert_int_equal(STATE(a, 1, 7), BF_FSS_EXPIRED);
}

/* A route waiting for its turn keeps its place: a new rule of a lower id does not push it
 * over the cap. */
static void test_flowspec__plan_waiting_route_keeps_its_place(void **state)
{
	static const char *const texts[] = {
		"10 action drop proto icmp dst 192.0.2.10/32 flowspec yes",
		"50 action drop proto icmp dst 192.0.2.50/32 flowspec yes",
		"20 action drop proto icmp dst 192.0.2.20/32 flowspec yes",
	};
	struct bf_rule_def r[3];
	struct bf_fs_rule_state a[3], b[3];
	struct bf_fs_limits l = lim();
	uint64_t last = 0, t0 = 7000000;

	l.max_rules = 2;
	rules_of(texts, 3, r);
	bf_fs_plan(r, 2, &pol, &l, NULL, 0, NULL, 0, t0, &last, a);
	assert_int_equal(STATE(a, 2, 10), BF_FSS_ANNOUNCED);
	assert_int_equal(STATE(a, 2, 50), BF_FSS_PENDING);
	bf_fs_plan(r, 3, &pol, &l, a, 2, NULL, 0, t0 + 100, &last, b);
	assert_int_equal(STATE(b, 3, 50), BF_FSS_PENDING);
	assert_int_equal(STATE(b, 3, 20), BF_FSS_REFUSED);
	assert_string_equal(WHY(b, 3, 20), "cap");
}

#define P(t) bf_rule_parse(1, (t), strlen(t), &r, err, sizeof(err))

static void test_flowspec__lines_and_rule_fields(void **state)
{
	struct bf_fs_line l;
	struct bf_rule_def r;
	char buf[256], err[256];
	static const char *const bad[] = {
		"", "announced", "announced 1 2", "announced x 2 - a", "bogus 1 2 - a",
		"announced 1 2 -", "announced -1 2 - x", "announced 1  2 - x", "announced 1 2 - ",
		"announced 99999999999999999999 2 - x",
	};

	assert_int_equal(bf_fs_line_parse("refused 0 0 cap 3 routes are out", 32, &l), 0);
	assert_int_equal(l.state, BF_FSS_REFUSED);
	assert_string_equal(l.why, "cap");
	assert_string_equal(l.text, "3 routes are out");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(bf_fs_line_parse(bad[i], strlen(bad[i]), &l), -EINVAL);
	assert_int_equal(bf_fs_line_parse("announced 1 2 - a\0b", 19, &l), -EINVAL);
	/* the rule fields: canonical text, errors that name the field */
	assert_int_equal(P("action drop proto udp flowspec strip-payload flowspec_ttl 90s"), 0);
	assert_int_equal(r.flowspec, BF_FS_STRIP_PAYLOAD);
	assert_int_equal(r.flowspec_ttl_ms, 90000);
	assert_true(bf_rule_format(&r, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "action drop proto udp flowspec strip-payload flowspec_ttl 90s");
	assert_int_equal(P("action drop flowspec maybe"), -EINVAL);
	assert_non_null(strstr(err, "flowspec:"));
	assert_int_equal(P("action drop flowspec yes flowspec_ttl 8d"), -EINVAL);
	assert_non_null(strstr(err, "flowspec_ttl:"));
	assert_int_equal(P("action drop flowspec_ttl 1h"), -EINVAL);
	assert_non_null(strstr(err, "only on a rule with flowspec"));
	assert_int_equal(P("action drop flowspec no"), 0);
	assert_true(bf_rule_format(&r, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "action drop");
	assert_string_equal(bf_duration_str(7200000, buf, sizeof(buf)), "2h");
	assert_string_equal(bf_duration_str(1500, buf, sizeof(buf)), "1500ms");
	assert_string_equal(bf_duration_str(86400000, buf, sizeof(buf)), "1d");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flowspec__routes),
		cmocka_unit_test(test_flowspec__every_rail_refuses),
		cmocka_unit_test(test_flowspec__no_value_bypasses_a_rail),
		cmocka_unit_test(test_flowspec__route_takes_the_rules_packets),
		cmocka_unit_test(test_flowspec__plan_cap_rate_ttl),
		cmocka_unit_test(test_flowspec__plan_max_ttl_and_restart),
		cmocka_unit_test(test_flowspec__plan_canary),
		cmocka_unit_test(test_flowspec__plan_read_back_is_checked),
		cmocka_unit_test(test_flowspec__plan_refusal_keeps_the_expiry),
		cmocka_unit_test(test_flowspec__plan_waiting_route_keeps_its_place),
		cmocka_unit_test(test_flowspec__lines_and_rule_fields),
	};

	return cmocka_run_group_tests_name("flowspec", tests, setup, NULL);
}
