/* test_edge_fixtures.c - the packet fixture corpus (tests/bpf/fixtures/edge.fx) through
 * the edge's XDP program: each fixture names a frame, the map state it meets (the
 * shared tables of edge_tables.h plus the config lines of its `state` block) and the
 * expected verdict, reason and output bytes. Every fixture runs; each failure is
 * reported by name and line, and the test fails if any did. The format is described
 * at the top of the corpus file. BF_FIXTURES names another file. */
#include <ctype.h>
#include <errno.h>
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

#define FX_DEFAULT "tests/bpf/fixtures/edge.fx"
#define FX_MAX_TOKENS 48
#define FX_STATE_MAX 4096

static const uint8_t FX_PAYLOAD[] = "bifrost rule payload";

struct frame {
	struct pkt_spec outer, inner;
	int ipip;
	uint8_t pay[1500], opay[1500];
	int ifindex;
	/* post-build mutations of the outermost IPv4 header and of the frame */
	long trunc, ihl, totlen, ethertype, ipver, icmp_type, extra_tags;
	int bad_csum, bad_inner_csum;
};

static int fx_fail;

static void fx_bad(const char *name, int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "FIXTURE %s (line %d): ", name, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fx_fail++;
}

static int parse_num(const char *s, long *out)
{
	char *end;

	errno = 0;
	*out = strtol(s, &end, 0);
	return errno || end == s || *end ? -1 : 0;
}

static int parse_hex(const char *s, uint8_t *out, size_t cap, size_t *n)
{
	size_t len = strlen(s);

	if (len % 2 || len / 2 > cap)
		return -1;
	for (size_t i = 0; i < len / 2; i++) {
		unsigned v;

		if (!isxdigit((unsigned char)s[2 * i]) || !isxdigit((unsigned char)s[2 * i + 1]) ||
		    sscanf(s + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (uint8_t)v;
	}
	*n = len / 2;
	return 0;
}

/* "a.b.c.d[:port]>a.b.c.d[:port]" */
static int parse_flow(const char *t, struct pkt_spec *s)
{
	char a[64], b[64], *gt, *c;

	if (strlen(t) >= sizeof(a) || !(gt = strchr(t, '>')))
		return -1;
	snprintf(a, sizeof(a), "%.*s", (int)(gt - t), t);
	snprintf(b, sizeof(b), "%s", gt + 1);
	if ((c = strchr(a, ':'))) {
		*c = '\0';
		s->sport = (uint16_t)atoi(c + 1);
	}
	if ((c = strchr(b, ':'))) {
		*c = '\0';
		s->dport = (uint16_t)atoi(c + 1);
	}
	s->saddr = pkt_ip(a);
	s->daddr = pkt_ip(b);
	return 0;
}

static int tcp_flags(const char *s, uint8_t *out)
{
	*out = 0;
	for (; *s; s++) {
		switch (*s) {
		case 'F': *out |= 0x01; break;
		case 'S': *out |= 0x02; break;
		case 'R': *out |= 0x04; break;
		case 'P': *out |= 0x08; break;
		case 'A': *out |= 0x10; break;
		case 'U': *out |= 0x20; break;
		default: return -1;
		}
	}
	return 0;
}

static void spec_defaults(struct pkt_spec *s, uint8_t *pay)
{
	static const uint8_t gw[6] = H_GW_MAC;

	memset(s, 0, sizeof(*s));
	s->proto = IPPROTO_UDP;
	s->frag = 0x4000;
	s->tos = 0x28;
	s->id = 0x1234;
	memcpy(pay, FX_PAYLOAD, sizeof(FX_PAYLOAD) - 1);
	s->payload = pay;
	s->payload_len = sizeof(FX_PAYLOAD) - 1;
	memcpy(s->dmac, H.mac, 6);
	memcpy(s->smac, gw, 6);
}

/* One field of a spec (KEY=VALUE or a bare word). 0, or -1 if unknown or bad. */
static int spec_field(struct pkt_spec *s, uint8_t *pay, const char *k, const char *v)
{
	long n;
	size_t len;

	if (!v) {
		if (!strcmp(k, "udp"))
			s->proto = IPPROTO_UDP;
		else if (!strcmp(k, "tcp"))
			s->proto = IPPROTO_TCP;
		else if (!strcmp(k, "icmp") || !strcmp(k, "echo"))
			s->proto = IPPROTO_ICMP;
		else if (strchr(k, '>'))
			return parse_flow(k, s);
		else if (!strcmp(k, "vlan"))
			s->vlan = 1;
		else
			return -1;
		return 0;
	}
	if (!strcmp(k, "payload")) {
		if (parse_hex(v, pay, 1400, &len))
			return -1;
		s->payload_len = len;
		return 0;
	}
	if (!strcmp(k, "flags"))
		return tcp_flags(v, &s->tcp_flags);
	if (parse_num(v, &n) || n < 0)
		return -1;
	if (!strcmp(k, "ttl") && n <= 255)
		s->ttl = (uint8_t)n;
	else if (!strcmp(k, "tos") && n <= 255)
		s->tos = (uint8_t)n;
	else if (!strcmp(k, "id") && n <= 65535)
		s->id = (uint16_t)n;
	else if (!strcmp(k, "frag") && n <= 65535)
		s->frag = (uint16_t)n;
	else if (!strcmp(k, "opts") && n <= 10)
		s->opt_words = (int)n;
	else if (!strcmp(k, "vlan") && n <= 4095) {
		s->vlan = 1;
		s->vlan_id = (uint16_t)n;
	} else if (!strcmp(k, "proto") && n <= 255)
		s->proto = (uint8_t)n;
	else if (!strcmp(k, "len") && n <= 1400) {
		for (long i = 0; i < n; i++)
			pay[i] = (uint8_t)('a' + i % 26);
		s->payload_len = (size_t)n;
	} else
		return -1;
	return 0;
}

/* The frame tokens of one fixture. 0, or -1 with the token at fault in *bad. */
static int parse_frame(char **tok, int n, struct frame *f, const char **bad)
{
	struct pkt_spec *cur;

	memset(f, 0, sizeof(*f));
	spec_defaults(&f->outer, f->opay);
	f->ifindex = H.ifindex;
	f->trunc = f->ihl = f->totlen = f->ethertype = f->ipver = f->icmp_type = -1;
	cur = &f->outer;
	for (int i = 0; i < n; i++) {
		char key[64], *eq = strchr(tok[i], '=');
		const char *v = eq ? eq + 1 : NULL;
		long num = 0;

		*bad = tok[i];
		snprintf(key, sizeof(key), "%.*s", eq ? (int)(eq - tok[i]) : (int)strlen(tok[i]), tok[i]);
		if (!strcmp(key, "ipip") && i + 1 < n) {
			/* From here on the tokens describe the inner packet; the outer one
			 * is IPIP between the two addresses, from the gateway. */
			f->ipip = 1;
			if (parse_flow(tok[++i], &f->outer))
				return -1;
			f->outer.frag = 0x4000;
			spec_defaults(&f->inner, f->pay);
			cur = &f->inner;
			continue;
		}
		if (!strncmp(key, "o.", 2)) { /* an outer field, after ipip */
			if (spec_field(&f->outer, f->opay, key + 2, v))
				return -1;
			continue;
		}
		if (!strcmp(key, "on") && v) {
			if (!strcmp(v, "t0"))
				f->ifindex = H.ifindex;
			else if (!strcmp(v, "t2")) {
				f->ifindex = H.if_t2;
				memcpy(f->outer.dmac, H.mac_t2, 6);
			} else if (!strcmp(v, "t4")) {
				f->ifindex = H.if_t4;
				memcpy(f->outer.dmac, H.mac_t4, 6);
			} else
				return -1;
			continue;
		}
		if (!strcmp(key, "dmac") && v) { /* another host's, broadcast, multicast */
			static const uint8_t other[6] = { 0x02, 0x99, 0, 0, 0, 0x01 };
			static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
			static const uint8_t mcast[6] = { 0x01, 0x00, 0x5e, 0, 0, 0x01 };

			if (!strcmp(v, "other"))
				memcpy(f->outer.dmac, other, 6);
			else if (!strcmp(v, "bcast"))
				memcpy(f->outer.dmac, bcast, 6);
			else if (!strcmp(v, "mcast"))
				memcpy(f->outer.dmac, mcast, 6);
			else
				return -1;
			continue;
		}
		if ((!strcmp(key, "csum") || !strcmp(key, "icsum")) && v && !strcmp(v, "bad")) {
			*(key[0] == 'i' ? &f->bad_inner_csum : &f->bad_csum) = 1;
			continue;
		}
		if (v && (!strcmp(key, "trunc") || !strcmp(key, "ihl") || !strcmp(key, "totlen") ||
			  !strcmp(key, "ethertype") || !strcmp(key, "ipver") ||
			  !strcmp(key, "icmp_type") || !strcmp(key, "tags"))) {
			if (parse_num(v, &num) || num < 0 || num > 65535)
				return -1;
			if (!strcmp(key, "trunc"))
				f->trunc = num;
			else if (!strcmp(key, "ihl"))
				f->ihl = num;
			else if (!strcmp(key, "totlen"))
				f->totlen = num;
			else if (!strcmp(key, "ethertype"))
				f->ethertype = num;
			else if (!strcmp(key, "ipver"))
				f->ipver = num;
			else if (!strcmp(key, "icmp_type"))
				f->icmp_type = num;
			else
				f->extra_tags = num;
			continue;
		}
		if (spec_field(cur, cur == &f->outer ? f->opay : f->pay, key, v))
			return -1;
	}
	*bad = NULL;
	return 0;
}

/* The frame's bytes, its mutations applied; *l3 is where the (outer) IPv4 header starts. */
static size_t build_frame(struct frame *f, uint8_t *buf, size_t cap, size_t *l3)
{
	size_t n = f->ipip ? pkt_build_ipip(&f->outer, &f->inner, buf, cap) :
			     pkt_build(&f->outer, buf, cap);
	uint8_t *ip;

	if (!n)
		return 0;
	*l3 = f->outer.vlan ? 18 : 14;
	/* More tags in front of the one pktgen wrote: 802.1ad first, as QinQ does. */
	for (long t = 0; t < f->extra_tags && n + 4 <= cap; t++) {
		memmove(buf + 16, buf + 12, n - 12);
		buf[12] = 0x88;
		buf[13] = 0xa8;
		n += 4;
		*l3 += 4;
	}
	ip = buf + *l3;
	if (f->ethertype >= 0) {
		buf[*l3 - 2] = (uint8_t)(f->ethertype >> 8);
		buf[*l3 - 1] = (uint8_t)f->ethertype;
	}
	if (f->icmp_type >= 0 && (ip[0] & 0x0f) >= 5)
		ip[(ip[0] & 0x0f) * 4] = (uint8_t)f->icmp_type;
	if (f->ihl >= 0 || f->totlen >= 0 || f->ipver >= 0) {
		if (f->ihl >= 0)
			ip[0] = (uint8_t)((ip[0] & 0xf0) | (f->ihl & 0x0f));
		if (f->ipver >= 0)
			ip[0] = (uint8_t)((ip[0] & 0x0f) | (f->ipver << 4));
		if (f->totlen >= 0) {
			ip[2] = (uint8_t)(f->totlen >> 8);
			ip[3] = (uint8_t)f->totlen;
		}
		/* The header checksum made right again over what the header says it is. */
		model_ipv4_csum(ip, (size_t)((ip[0] & 0x0f) >= 5 ? (ip[0] & 0x0f) * 4 : 20));
	}
	if (f->bad_csum)
		ip[11] ^= 0x5a;
	if (f->bad_inner_csum && f->ipip)
		ip[(ip[0] & 0x0f) * 4 + 11] ^= 0x5a;
	if (f->trunc >= 0 && (size_t)f->trunc < n)
		n = (size_t)f->trunc;
	return n;
}

static int verdict_of(const char *s)
{
	static const char *names[] = { "aborted", "drop", "pass", "tx", "redirect" };

	for (int i = 0; i < 5; i++)
		if (!strcmp(s, names[i]))
			return i;
	return -1;
}

static int reason_of(const char *s)
{
	for (int i = 0; i < BF_R_MAX; i++)
		if (harness_reason_names[i] && !strcmp(s, harness_reason_names[i]))
			return i;
	return -1;
}

/* out=same | encap=MACH[,nodf] | encap-t2=MACH | decap | echo */
static int check_out(const char *want, const uint8_t *in, size_t n, size_t l3,
		     const struct result *r, char *why, size_t len)
{
	static const uint8_t gw[6] = H_GW_MAC, bk[6] = H_GW_T2_MAC;

	if (!strcmp(want, "same")) {
		if (r->out_len != n || memcmp(r->out, in, n)) {
			snprintf(why, len, "the frame was changed (%u bytes out, %zu in)", r->out_len, n);
			return -1;
		}
		return 0;
	}
	if (!strncmp(want, "encap=", 6) || !strncmp(want, "encap-t2=", 9)) {
		char mach[32];
		const char *c;
		int t2 = want[5] == '-', df = !strstr(want, ",nodf");

		snprintf(mach, sizeof(mach), "%s", strchr(want, '=') + 1);
		if ((c = strchr(mach, ',')))
			mach[c - mach] = '\0';
		return encap_diff(r, t2 ? bk : gw, t2 ? H.mac_t2 : H.mac, mach, in + l3, n - l3, df,
				  why, len);
	}
	if (!strcmp(want, "decap")) {
		/* The inner datagram, as the machine sent it, after a new Ethernet header. */
		size_t inner = n - l3 - (size_t)(in[l3] & 0x0f) * 4;
		const uint8_t *ip = in + n - inner;

		if (r->out_len != 14 + inner || memcmp(r->out, gw, 6) || memcmp(r->out + 6, H.mac, 6) ||
		    memcmp(r->out + 14, ip, inner)) {
			snprintf(why, len, "not the inner datagram behind the gateway's MAC (%u bytes)",
				 r->out_len);
			return -1;
		}
		return 0;
	}
	if (!strcmp(want, "echo")) {
		const uint8_t *o = r->out + l3, *i = in + l3;
		size_t ihl = (size_t)(o[0] & 0x0f) * 4;

		if (r->out_len != n || memcmp(o + 12, i + 16, 4) || memcmp(o + 16, i + 12, 4) ||
		    o[ihl] != 0 || pkt_csum(o, ihl) || pkt_csum(o + ihl, n - l3 - ihl)) {
			snprintf(why, len, "not an echo reply to the sender with right checksums");
			return -1;
		}
		return 0;
	}
	snprintf(why, len, "unknown out= '%s'", want);
	return -1;
}

static int split(char *s, char **tok, int max)
{
	int n = 0;

	for (char *t = strtok(s, " \t"); t && n < max; t = strtok(NULL, " \t"))
		tok[n++] = t;
	return n;
}

static void apply_state(const char *lines)
{
	char more[FX_STATE_MAX + 64];

	snprintf(more, sizeof(more), "%s%s", CONF_BACKENDS, lines);
	config_text(more, 0);
}

static void test_edge_fixtures__corpus(void **state)
{
	const char *path = getenv("BF_FIXTURES") ? getenv("BF_FIXTURES") : FX_DEFAULT;
	FILE *fp = fopen(path, "r");
	char line[1024], statebuf[FX_STATE_MAX] = "", name[128] = "";
	int lineno = 0, runs = 0, state_dirty = 1;

	if (!fp)
		fail_msg("cannot open %s: %s (run from the tree's root)", path, strerror(errno));
	harness_ifaces(1); /* as bifrost-edge runs: the interfaces' MACs known */
	while (fgets(line, sizeof(line), fp)) {
		char *tok[FX_MAX_TOKENS], *arrow, *colon, *nl = strchr(line, '\n');
		int n, nexp, verdict, reason;
		uint8_t pkt[2048];
		size_t len, l3 = 0;
		struct frame f;
		struct result r;
		const char *bad;
		char why[512], *exp[8];

		lineno++;
		if (nl)
			*nl = '\0';
		if (!line[0] || line[0] == '#')
			continue;
		if (!strncmp(line, "state ", 6)) { /* a new map state: the base plus what follows */
			statebuf[0] = '\0';
			state_dirty = 1;
			continue;
		}
		if (!strncmp(line, "config ", 7)) {
			size_t used = strlen(statebuf);

			snprintf(statebuf + used, sizeof(statebuf) - used, "%s\n", line + 7);
			state_dirty = 1;
			continue;
		}
		if (!(colon = strchr(line, ':')) || !(arrow = strstr(line, "=>")) || arrow < colon) {
			fx_bad("?", lineno, "not 'name: frame => verdict reason [out=...]'");
			continue;
		}
		snprintf(name, sizeof(name), "%.*s", (int)(colon - line), line);
		*arrow = '\0';
		if (state_dirty) {
			apply_state(statebuf);
			state_dirty = 0;
		}
		n = split(colon + 1, tok, FX_MAX_TOKENS);
		nexp = split(arrow + 2, exp, 8);
		if (parse_frame(tok, n, &f, &bad)) {
			fx_bad(name, lineno, "bad frame token '%s'", bad ? bad : "?");
			continue;
		}
		if (nexp < 2 || (verdict = verdict_of(exp[0])) < 0 || (reason = reason_of(exp[1])) < 0) {
			fx_bad(name, lineno, "bad expectation (verdict: drop pass tx redirect aborted; "
					     "then a reason of bpf/bifrost.h)");
			continue;
		}
		len = build_frame(&f, pkt, sizeof(pkt), &l3);
		if (!len) {
			fx_bad(name, lineno, "the frame does not build");
			continue;
		}
		harness_run_on(pkt, len, f.ifindex, &r);
		runs++;
		if (harness_check(&r, verdict, reason, why, sizeof(why))) {
			fx_bad(name, lineno, "%s", why);
			continue;
		}
		for (int i = 2; i < nexp; i++) {
			if (strncmp(exp[i], "out=", 4)) {
				fx_bad(name, lineno, "unknown expectation '%s'", exp[i]);
				break;
			}
			if (check_out(exp[i] + 4, pkt, len, l3, &r, why, sizeof(why)))
				fx_bad(name, lineno, "%s", why);
		}
	}
	fclose(fp);
	harness_ifaces(0);
	printf("fixtures: %d run from %s, %d failed\n", runs, path, fx_fail);
	assert_true(runs > 0);
	assert_int_equal(fx_fail, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_edge_fixtures__corpus),
	};

	if (geteuid() != 0) {
		fprintf(stderr, "test_edge_fixtures needs root (BPF and network namespaces)\n");
		return 1;
	}
	return cmocka_run_group_tests_name("edge_fixtures", tests, tables_setup, tables_teardown);
}
