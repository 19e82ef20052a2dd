/* test_edge_rules.c - firewall rules, per-source rate limits, protected
 * prefixes and ICMP echo of the edge XDP program, through
 * bpf_prog_test_run_opts over packet tables: the verdict, the output bytes
 * and the counters that moved. Needs root (private network namespace). */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "edge_harness.h"

#define ANY "203.0.113.10"     /* udp+tcp 27015 and icmp, no limits */
#define LIM "203.0.113.20"     /* udp 27015 pps, 27016 bps, 27017 police only */
#define BIND_ONLY "203.0.113.30" /* udp 27015, no icmp connection */
#define ICMP_LIM "203.0.113.40"  /* icmp connection with a pps limit */
#define MACH "198.18.3.2"
#define CLIENT "198.51.100.77"
#define WL_CLIENT "198.51.100.5"
#define PROT_CLIENT "198.51.100.200" /* inside the protected /29 */

#define BASE                                                                      \
	"id test\niface t0\naddr " H_EDGE_ADDR "\n"                               \
	"conn udp " ANY ":27015 " MACH "\n"                                       \
	"conn tcp " ANY ":27015 " MACH "\n"                                       \
	"conn icmp " ANY " " MACH "\n"                                            \
	"conn udp " LIM ":27015 " MACH " pps 10 burst 1s block 500ms share_bans yes\n" \
	"conn udp " LIM ":27016 " MACH " bps 2000 burst 1s block 30s share_bans no\n" \
	"conn udp " LIM ":27017 " MACH " pps 50 block 0\n"                        \
	"conn udp " BIND_ONLY ":27015 " MACH "\n"                                 \
	"conn icmp " ICMP_LIM " " MACH " pps 2 burst 1s block 30s\n"              \
	"whitelist 198.51.100.0/28\n"                                             \
	"protect 198.51.100.200/29\n"

static void config(const char *rules)
{
	char text[8192];

	snprintf(text, sizeof(text), "%s%s", BASE, rules ? rules : "");
	harness_config(text);
}

static int group_setup(void **state)
{
	if (harness_setup())
		return -1;
	return 0;
}

static int group_teardown(void **state)
{
	harness_teardown();
	return 0;
}

static struct bf_counter rule_counter(uint32_t id)
{
	struct edge_rule_stat *st;
	struct bf_counter c = { 0 };
	size_t n;

	assert_int_equal(edge_maps_rule_stats(&H.maps.fd, &st, &n), 0);
	for (size_t i = 0; i < n; i++)
		if (st[i].id == id) {
			c.packets = st[i].packets;
			c.bytes = st[i].bytes;
		}
	free(st);
	return c;
}

static int rule_live(uint32_t id)
{
	struct edge_rule_stat *st;
	size_t n;
	int live = 0;

	assert_int_equal(edge_maps_rule_stats(&H.maps.fd, &st, &n), 0);
	for (size_t i = 0; i < n; i++)
		live |= st[i].id == id;
	free(st);
	return live;
}

/* ---- one row per rule field, with its boundaries ---- */

enum vary { V_SRC, V_DST, V_PROTO, V_IHL, V_TOS, V_IPID, V_TTL, V_IPLEN, V_FRAG, V_SPORT,
	    V_DPORT, V_TCPFL, V_SEQ, V_ACK, V_WIN, V_ICMP_TYPE, V_ICMP_CODE, V_PLEN };

struct field_row {
	const char *rule;       /* after "rule 100 action drop " */
	uint8_t proto;          /* of the packets */
	enum vary vary;
	uint32_t in[3], out[3]; /* values of the varied field; 0-terminated unless n_* */
	int n_in, n_out;
};

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static size_t field_packet(const struct field_row *row, uint32_t v, uint8_t *buf, size_t cap)
{
	static const uint8_t zeros[100];
	struct pkt_spec s = harness_udp(CLIENT, 40000, ANY, 27015);
	uint8_t *l4;
	size_t n;

	s.proto = row->proto;
	switch (row->vary) {
	case V_SRC: s.saddr = htonl(v); break;
	case V_DST: s.daddr = htonl(v); break;
	case V_PROTO: s.proto = (uint8_t)v; break;
	case V_IHL: s.opt_words = (int)v - 5; break;
	case V_TOS: s.tos = (uint8_t)v; break;
	case V_IPID: s.id = (uint16_t)v; break;
	case V_TTL: s.ttl = (uint8_t)v; break;
	case V_IPLEN: s.payload = zeros; s.payload_len = v - 28; break;
	case V_FRAG: s.frag = (uint16_t)v; break;
	case V_SPORT: s.sport = (uint16_t)v; break;
	case V_DPORT: s.dport = (uint16_t)v; break;
	case V_TCPFL: s.tcp_flags = (uint8_t)v; break;
	case V_PLEN: s.payload = zeros; s.payload_len = v; break;
	default: break;
	}
	n = pkt_build(&s, buf, cap);
	l4 = buf + 14 + 20 + (size_t)s.opt_words * 4;
	switch (row->vary) {
	case V_SEQ: put32(l4 + 4, v); break;
	case V_ACK: put32(l4 + 8, v); break;
	case V_WIN: l4[14] = (uint8_t)(v >> 8); l4[15] = (uint8_t)v; break;
	case V_ICMP_TYPE: l4[0] = (uint8_t)v; break;
	case V_ICMP_CODE: l4[1] = (uint8_t)v; break;
	default: break;
	}
	return n;
}

#define IP(a, b, c, d) ((uint32_t)(a) << 24 | (b) << 16 | (c) << 8 | (d))

static void test_edge_rules__every_field_and_boundary(void **state)
{
	static const struct field_row rows[] = {
		{ "src 198.51.100.64/27", IPPROTO_UDP, V_SRC,
		  { IP(198, 51, 100, 64), IP(198, 51, 100, 95) }, { IP(198, 51, 100, 63), IP(198, 51, 100, 96) }, 2, 2 },
		{ "dst 203.0.113.8/29", IPPROTO_UDP, V_DST, { IP(203, 0, 113, 10) },
		  { IP(203, 0, 113, 20), IP(203, 0, 113, 30) }, 1, 2 },
		{ "proto tcp", IPPROTO_UDP, V_PROTO, { IPPROTO_TCP }, { IPPROTO_UDP, IPPROTO_ICMP }, 1, 2 },
		{ "proto 47", IPPROTO_UDP, V_PROTO, { 47 }, { IPPROTO_UDP }, 1, 1 },
		{ "ihl 6-7", IPPROTO_UDP, V_IHL, { 6, 7 }, { 5, 8 }, 2, 2 },
		{ "tos 16-32", IPPROTO_UDP, V_TOS, { 16, 32 }, { 15, 33 }, 2, 2 },
		{ "ip_id 1000-2000", IPPROTO_UDP, V_IPID, { 1000, 2000 }, { 999, 2001 }, 2, 2 },
		{ "ttl 10-20", IPPROTO_UDP, V_TTL, { 10, 20 }, { 9, 21 }, 2, 2 },
		{ "ip_len 60-70", IPPROTO_UDP, V_IPLEN, { 60, 70 }, { 59, 71 }, 2, 2 },
		/* Fragments never reach the rules (stage 1 drops them): offset 0 only. */
		{ "frag_off 0", IPPROTO_UDP, V_FRAG, { 0x4000, 0 }, { 0 }, 2, 0 },
		{ "frag_off 1-8191", IPPROTO_UDP, V_FRAG, { 0 }, { 0x4000, 0 }, 0, 2 },
		{ "ip_flags df", IPPROTO_UDP, V_FRAG, { 0x4000, 0xc000 }, { 0 }, 2, 1 },
		{ "ip_flags !df", IPPROTO_UDP, V_FRAG, { 0, 0x8000 }, { 0x4000 }, 2, 1 },
		{ "ip_flags rf,!df", IPPROTO_UDP, V_FRAG, { 0x8000 }, { 0xc000, 0x4000, 0 }, 1, 3 },
		{ "proto udp sport 1000-2000", IPPROTO_UDP, V_SPORT, { 1000, 2000 }, { 999, 2001 }, 2, 2 },
		{ "proto tcp sport 1000-2000", IPPROTO_TCP, V_SPORT, { 1000, 2000 }, { 999, 2001 }, 2, 2 },
		{ "proto udp dport 27015", IPPROTO_UDP, V_DPORT, { 27015 }, { 27014, 27016 }, 1, 2 },
		{ "proto udp dport 27014-27016", IPPROTO_UDP, V_DPORT, { 27014, 27015, 27016 }, { 27013, 27017 }, 3, 2 },
		{ "proto tcp tcp_flags syn,!ack", IPPROTO_TCP, V_TCPFL, { 0x02, 0x03 }, { 0x12, 0x10, 0x01 }, 2, 3 },
		{ "proto tcp tcp_flags rst", IPPROTO_TCP, V_TCPFL, { 0x04, 0x14 }, { 0x10 }, 2, 1 },
		{ "proto tcp tcp_seq 100-200", IPPROTO_TCP, V_SEQ, { 100, 200 }, { 99, 201 }, 2, 2 },
		{ "proto tcp tcp_seq 4294967295", IPPROTO_TCP, V_SEQ, { 4294967295u }, { 4294967294u, 0 }, 1, 2 },
		{ "proto tcp tcp_ack 100-200", IPPROTO_TCP, V_ACK, { 100, 200 }, { 99, 201 }, 2, 2 },
		{ "proto tcp tcp_window 1000-2000", IPPROTO_TCP, V_WIN, { 1000, 2000 }, { 999, 2001 }, 2, 2 },
		{ "proto icmp icmp_type 13-14", IPPROTO_ICMP, V_ICMP_TYPE, { 13, 14 }, { 12, 15 }, 2, 2 },
		{ "proto icmp icmp_code 1-2", IPPROTO_ICMP, V_ICMP_CODE, { 1, 2 }, { 0, 3 }, 2, 2 },
		{ "payload_len 10-20", IPPROTO_UDP, V_PLEN, { 10, 20 }, { 9, 21 }, 2, 2 },
		{ "proto tcp payload_len 0", IPPROTO_TCP, V_PLEN, { 0 }, { 1 }, 1, 1 },
	};
	uint8_t pkt[256];

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct field_row *row = &rows[i];
		struct result base[3], r;
		char rules[256], name[300];
		struct bf_counter c0, c1;

		/* Without the rule, the packets outside get some verdict... */
		config(NULL);
		for (int j = 0; j < row->n_out; j++)
			harness_run(pkt, field_packet(row, row->out[j], pkt, sizeof(pkt)), &base[j]);
		snprintf(rules, sizeof(rules), "rule 100 action drop %s\n", row->rule);
		config(rules);
		assert_true(rule_live(100));
		/* ...and with it exactly the same one, byte for byte. */
		for (int j = 0; j < row->n_out; j++) {
			size_t n = field_packet(row, row->out[j], pkt, sizeof(pkt));
			int reason = -1;

			for (int k = 0; k < BF_R_MAX; k++)
				if (base[j].delta[k].packets && k != BF_R_PUNCH_NEW)
					reason = k;
			snprintf(name, sizeof(name), "'%s', outside: %u", row->rule, row->out[j]);
			c0 = rule_counter(100);
			harness_run(pkt, n, &r);
			harness_expect(name, &r, base[j].action, reason);
			assert_int_equal(r.out_len, base[j].out_len);
			/* An encapsulated datagram without DF gets a random outer ID
			 * (and so another outer checksum). */
			if (r.out_len > 34 && r.out[14 + 9] == IPPROTO_IPIP && !(r.out[14 + 6] & 0x40)) {
				memcpy(r.out + 14 + 4, base[j].out + 14 + 4, 2);
				memcpy(r.out + 14 + 10, base[j].out + 14 + 10, 2);
			}
			if (memcmp(r.out, base[j].out, r.out_len))
				fail_msg("%s: output differs from the run without the rule", name);
			c1 = rule_counter(100);
			assert_int_equal(c1.packets, c0.packets);
		}
		for (int j = 0; j < row->n_in; j++) {
			size_t n = field_packet(row, row->in[j], pkt, sizeof(pkt));

			snprintf(name, sizeof(name), "'%s', inside: %u", row->rule, row->in[j]);
			c0 = rule_counter(100);
			harness_run(pkt, n, &r);
			harness_expect(name, &r, XDP_DROP, BF_R_RULE_DROP);
			c1 = rule_counter(100);
			assert_int_equal(c1.packets, c0.packets + 1);
			assert_int_equal(c1.bytes, c0.bytes + n);
		}
	}
	config(NULL);
}

/* ---- payload bytes ---- */

static size_t with_payload(const char *payload, size_t len, uint8_t *buf, size_t cap)
{
	struct pkt_spec s = harness_udp(CLIENT, 40000, ANY, 27015);

	s.payload = payload;
	s.payload_len = len;
	return pkt_build(&s, buf, cap);
}

static void test_edge_rules__payload_bytes(void **state)
{
	static const struct {
		const char *name, *payload;
		size_t len, frame_pad;
		int match;
	} rows[] = {
		{ "masked bytes equal", "0123AxC-", 8, 0, 1 },
		{ "masked-out byte differs", "0123AyC", 7, 0, 1 },
		{ "first byte differs", "0123BxC", 7, 0, 0 },
		{ "last byte differs", "0123AxD", 7, 0, 0 },
		{ "payload ends inside the bytes", "0123Ax", 6, 0, 0 },
		{ "payload ends before the offset", "012", 3, 0, 0 },
		{ "empty payload", "", 0, 0, 0 },
		/* The bytes are in the frame, but after the datagram: padding. */
		{ "bytes only in the Ethernet padding", "0123", 4, 8, 0 },
	};
	uint8_t pkt[256];
	struct result r;

	config("rule 7 action drop payload 4:410043/ff00ff\n");
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		size_t n = with_payload(rows[i].payload, rows[i].len, pkt, sizeof(pkt));

		if (rows[i].frame_pad) {
			memcpy(pkt + n, "AxCAxCAx", rows[i].frame_pad);
			n += rows[i].frame_pad;
		}
		harness_run(pkt, n, &r);
		harness_expect(rows[i].name, &r, rows[i].match ? XDP_DROP : XDP_TX,
			       rows[i].match ? BF_R_RULE_DROP : BF_R_FORWARD);
	}

	config(NULL);
}

static void test_edge_rules__payload_at_the_limits(void **state)
{
	static char big[1416];
	static uint8_t pkt[1600];
	struct result r;
	size_t n;

	memset(big, 'z', sizeof(big));
	memcpy(big + 1400, "ABCDEFGHIJKLMNOP", 16);
	config("rule 7 action drop payload 1400:4142434445464748494a4b4c4d4e4f50\n");
	n = with_payload(big, sizeof(big), pkt, sizeof(pkt));
	harness_run(pkt, n, &r);
	harness_expect("16 bytes at offset 1400", &r, XDP_DROP, BF_R_RULE_DROP);
	n = with_payload(big, sizeof(big) - 1, pkt, sizeof(pkt));
	harness_run(pkt, n, &r);
	harness_expect("one byte short", &r, XDP_TX, BF_R_FORWARD);
	config(NULL);
}

/* ---- order, pass, counters, dry run ---- */

static void test_edge_rules__first_match_wins(void **state)
{
	struct pkt_spec s = harness_udp(CLIENT, 40000, ANY, 27015);
	uint8_t pkt[256], tcp[256];
	size_t n = pkt_build(&s, pkt, sizeof(pkt)), nt;
	struct result r;
	struct bf_counter a, b, c;

	s.proto = IPPROTO_TCP;
	nt = pkt_build(&s, tcp, sizeof(tcp));

	/* A pass rule before a drop rule: the packet goes on to its connection. */
	config("rule 20 action drop proto udp\n"
	       "rule 10 action pass proto udp dport 27015\n"
	       "rule 30 action drop\n");
	harness_run(pkt, n, &r);
	harness_expect("pass rule first", &r, XDP_TX, BF_R_FORWARD);
	a = rule_counter(10);
	b = rule_counter(20);
	c = rule_counter(30);
	assert_int_equal(a.packets, 1);
	assert_int_equal(a.bytes, n);
	assert_int_equal(b.packets, 0);
	assert_int_equal(c.packets, 0);
	/* TCP skips the UDP rules (another class) and meets the catch-all. */
	harness_run(tcp, nt, &r);
	harness_expect("tcp meets the catch-all", &r, XDP_DROP, BF_R_RULE_DROP);
	assert_int_equal(rule_counter(30).packets, 1);

	/* Renumbered: the drop rule comes first now. The ids that stay keep
	 * their counters; the new one starts at 0. */
	config("rule 5 action drop proto udp\n"
	       "rule 10 action pass proto udp dport 27015\n"
	       "rule 30 action drop\n");
	harness_run(pkt, n, &r);
	harness_expect("drop rule first", &r, XDP_DROP, BF_R_RULE_DROP);
	assert_int_equal(rule_counter(5).packets, 1);
	assert_int_equal(rule_counter(10).packets, 1);
	assert_int_equal(rule_counter(30).packets, 1);
	assert_false(rule_live(20));

	/* A pass rule ends the rules but not the connection's own limits. */
	config("rule 1 action pass\n");
	{
		struct pkt_spec l = harness_udp("198.51.100.60", 40000, LIM, 27015);
		uint8_t lp[256];
		size_t ln = pkt_build(&l, lp, sizeof(lp));
		int dropped = 0;

		for (int i = 0; i < 20; i++) {
			harness_run(lp, ln, &r);
			dropped += r.action == XDP_DROP;
		}
		assert_true(dropped >= 8);
	}
	config(NULL);
	assert_false(rule_live(1));
}

static void test_edge_rules__disabled_and_scoped_rules(void **state)
{
	config("rule 1 action drop enabled no\n"
	       "rule 2 action drop edges pop9\n"
	       "rule 3 action drop edges pop9,test dry_run yes\n");
	assert_false(rule_live(1));
	assert_false(rule_live(2));
	assert_true(rule_live(3));
	config(NULL);
}

static void test_edge_rules__dry_run_rule_counts_and_passes(void **state)
{
	struct pkt_spec s = harness_udp(CLIENT, 40000, ANY, 27015);
	uint8_t pkt[256];
	size_t n = pkt_build(&s, pkt, sizeof(pkt));
	struct result r;
	struct edge_rule_stat *st;
	size_t ns;

	config("rule 1 action drop proto udp dry_run yes\n"
	       "rule 2 action drop proto udp dport 27015\n");
	harness_run(pkt, n, &r);
	/* The dry-run rule counts a would-drop and the next rule decides. */
	harness_expect("dry run, then a real drop", &r, XDP_DROP, BF_R_RULE_DROP);
	assert_int_equal(r.delta[BF_R_RULE_DRY_RUN].packets, 1);
	assert_int_equal(rule_counter(1).packets, 1);
	assert_int_equal(rule_counter(2).packets, 1);

	config("rule 1 action drop proto udp dry_run yes\n");
	harness_run(pkt, n, &r);
	harness_expect("dry run alone", &r, XDP_TX, BF_R_FORWARD);
	assert_int_equal(r.delta[BF_R_RULE_DRY_RUN].packets, 1);
	assert_int_equal(r.delta[BF_R_RULE_DRY_RUN].bytes, n);
	assert_int_equal(r.delta[BF_R_WOULD_DROP].packets, 0);
	assert_int_equal(rule_counter(1).packets, 2);
	assert_int_equal(edge_maps_rule_stats(&H.maps.fd, &st, &ns), 0);
	assert_int_equal(ns, 1);
	assert_int_equal(st[0].flags & BF_RULE_F_DRY_RUN, BF_RULE_F_DRY_RUN);
	assert_int_equal(st[0].action, BF_RULE_DROP);
	free(st);

	/* Edge-wide dry run: a drop rule's drop is passed and counted would_drop. */
	config("dry_run yes\nrule 2 action drop proto udp\n");
	harness_run(pkt, n, &r);
	harness_expect("edge dry run", &r, XDP_PASS, BF_R_RULE_DROP);
	assert_int_equal(r.delta[BF_R_WOULD_DROP].packets, 1);
	config(NULL);
}

static void test_edge_rules__refused_sets_leave_the_live_one(void **state)
{
	struct bf_rule_def *many = calloc(BF_RULES_MAX + 1, sizeof(*many));
	char err[128];
	struct pkt_spec s = harness_udp(CLIENT, 40000, ANY, 27015);
	uint8_t pkt[256];
	size_t n = pkt_build(&s, pkt, sizeof(pkt));
	struct result r;

	assert_non_null(many);
	config("rule 9 action drop proto udp\n");
	for (int i = 0; i <= BF_RULES_MAX; i++)
		assert_int_equal(bf_rule_parse((uint32_t)i + 1, "action pass", 11, &many[i], err,
					       sizeof(err)),
				 0);
	assert_int_equal(edge_maps_apply_rules(&H.maps, many, BF_RULES_MAX + 1, "test"), -E2BIG);
	many[1].id = many[0].id;
	assert_int_equal(edge_maps_apply_rules(&H.maps, many, 2, "test"), -EINVAL);
	harness_run(pkt, n, &r);
	harness_expect("old set still live", &r, XDP_DROP, BF_R_RULE_DROP);
	/* Exactly BF_RULES_MAX is fine. */
	assert_int_equal(edge_maps_apply_rules(&H.maps, many + 1, BF_RULES_MAX, "test"), 0);
	assert_true(rule_live(BF_RULES_MAX + 1));
	harness_run(pkt, n, &r);
	harness_expect("1024 pass rules", &r, XDP_TX, BF_R_FORWARD);
	free(many);
	config(NULL);
}

static void test_edge_rules__rate_threshold(void **state)
{
	struct pkt_spec s = harness_udp(CLIENT, 40000, ANY, 27015);
	uint8_t pkt[256];
	size_t n = pkt_build(&s, pkt, sizeof(pkt));
	struct result r;
	struct bf_rule_rate zero = { 0 };
	struct edge_rule_stat *st;
	size_t ns;
	__u32 slot;

	/* 5 per second is 5 per 2^30 ns window: the 6th packet in a burst is
	 * above it, and every one after while the rate stays. */
	config("rule 3 action drop proto udp dport 27015 pps 5\n");
	for (int i = 0; i < 5; i++) {
		harness_run(pkt, n, &r);
		harness_expect("under the threshold", &r, XDP_TX, BF_R_FORWARD);
	}
	harness_run(pkt, n, &r);
	harness_expect("over the threshold", &r, XDP_DROP, BF_R_RULE_DROP);
	harness_run(pkt, n, &r);
	harness_expect("still over", &r, XDP_DROP, BF_R_RULE_DROP);
	assert_int_equal(rule_counter(3).packets, 2);

	/* Quiet again (as after two windows): the rule stops matching. */
	assert_int_equal(edge_maps_rule_stats(&H.maps.fd, &st, &ns), 0);
	free(st);
	for (slot = 0; slot < BF_RULE_SLOTS; slot++) {
		struct bf_rule_rate rr;

		if (!bpf_map_lookup_elem(H.maps.fd.rule_rates, &slot, &rr) && rr.cur_pkts >= 7)
			break;
	}
	assert_true(slot < BF_RULE_SLOTS);
	assert_int_equal(bpf_map_update_elem(H.maps.fd.rule_rates, &slot, &zero, BPF_EXIST), 0);
	harness_run(pkt, n, &r);
	harness_expect("quiet again", &r, XDP_TX, BF_R_FORWARD);

	/* bps: 100 bytes/s; a 48-byte datagram, then the third is above. */
	config("rule 4 action drop proto udp bps 100\n");
	harness_run(pkt, n, &r);
	harness_expect("48 bytes", &r, XDP_TX, BF_R_FORWARD);
	harness_run(pkt, n, &r);
	harness_expect("96 bytes", &r, XDP_TX, BF_R_FORWARD);
	harness_run(pkt, n, &r);
	harness_expect("144 bytes", &r, XDP_DROP, BF_R_RULE_DROP);
	config(NULL);
}

/* ---- rate limits ---- */

struct bans {
	int n;
	struct bf_ban last;
};

static int on_event(void *ctx, void *data, size_t size)
{
	const struct bf_event *e = data;
	struct bans *b = ctx;

	if (e->type == BF_EV_BAN) {
		b->n++;
		b->last = e->ban;
	}
	return 0;
}

static struct ring_buffer *ban_watch(struct bans *b)
{
	struct ring_buffer *rb = ring_buffer__new(H.maps.fd.events, on_event, b, NULL);

	assert_non_null(rb);
	ring_buffer__consume(rb);
	memset(b, 0, sizeof(*b));
	return rb;
}

static void test_edge_rules__ratelimit_pps_blocks_once(void **state)
{
	const char *src = "198.51.100.71";
	struct pkt_spec s = harness_udp(src, 40000, LIM, 27015);
	uint8_t pkt[256];
	size_t n = pkt_build(&s, pkt, sizeof(pkt));
	uint32_t a = pkt_ip(src);
	struct bf_list_val v;
	struct result r;
	struct bans b;
	struct ring_buffer *rb;
	uint64_t t0, t1;

	config(NULL);
	rb = ban_watch(&b);
	/* pps 10, burst 1s: 10 x 1s + 1 = 11 packets back to back conform. */
	for (int i = 0; i < 11; i++) {
		harness_run(pkt, n, &r);
		harness_expect("within the limit", &r, XDP_TX, BF_R_FORWARD);
	}
	assert_int_not_equal(bpf_map_lookup_elem(H.maps.fd.blocklist, &a, &v), 0);
	t0 = bf_mono_ns();
	harness_run(pkt, n, &r);
	t1 = bf_mono_ns();
	harness_expect("the 12th", &r, XDP_DROP, BF_R_RATELIMIT);
	/* Blocked in XDP at once, for block_time from that packet. */
	assert_int_equal(bpf_map_lookup_elem(H.maps.fd.blocklist, &a, &v), 0);
	assert_true(v.expires_ns >= t0 + 500000000ULL && v.expires_ns <= t1 + 500000000ULL);
	assert_int_equal(v.src, BF_SRC_LOCAL);
	assert_int_equal(v.reason, BF_LIMIT_PPS);
	for (int i = 0; i < 5; i++) {
		harness_run(pkt, n, &r);
		harness_expect("blocked", &r, XDP_DROP, BF_R_BLOCKLIST);
	}
	/* Exactly one event for the block, with what user space needs. */
	ring_buffer__consume(rb);
	assert_int_equal(b.n, 1);
	assert_int_equal(b.last.src, a);
	assert_int_equal(b.last.proto, IPPROTO_UDP);
	assert_int_equal(b.last.limit, BF_LIMIT_PPS);
	assert_int_equal(b.last.conn.bind_ip, pkt_ip(LIM));
	assert_int_equal(b.last.conn.bind_port, htons(27015));
	assert_int_equal(b.last.conn.proto, IPPROTO_UDP);
	assert_int_equal(b.last.block_ns, 500000000ULL);
	assert_int_equal(b.last.expires_ns, v.expires_ns);
	assert_int_equal(b.last.flags, BF_BAN_F_SHARE);

	/* The block ends after block_time; the source starts afresh. */
	usleep(520000);
	harness_run(pkt, n, &r);
	harness_expect("block over", &r, XDP_TX, BF_R_FORWARD);
	ring_buffer__consume(rb);
	assert_int_equal(b.n, 1);
	ring_buffer__free(rb);
}

static void test_edge_rules__ratelimit_bps(void **state)
{
	const char *src = "198.51.100.72";
	struct pkt_spec s = harness_udp(src, 40000, LIM, 27016);
	static const uint8_t payload[72];
	uint8_t pkt[256];
	uint32_t a = pkt_ip(src);
	struct bf_list_val v;
	struct result r;
	struct bans b;
	struct ring_buffer *rb;
	size_t n;

	config(NULL);
	rb = ban_watch(&b);
	s.payload = payload;
	s.payload_len = sizeof(payload); /* 100-byte datagrams: 50 ms each at 2000 B/s */
	n = pkt_build(&s, pkt, sizeof(pkt));
	for (int i = 0; i < 21; i++) {
		harness_run(pkt, n, &r);
		harness_expect("within the byte limit", &r, XDP_TX, BF_R_FORWARD);
	}
	harness_run(pkt, n, &r);
	harness_expect("over the byte limit", &r, XDP_DROP, BF_R_RATELIMIT);
	assert_int_equal(bpf_map_lookup_elem(H.maps.fd.blocklist, &a, &v), 0);
	assert_int_equal(v.reason, BF_LIMIT_BPS);
	ring_buffer__consume(rb);
	assert_int_equal(b.n, 1);
	assert_int_equal(b.last.limit, BF_LIMIT_BPS);
	assert_int_equal(b.last.flags, 0); /* share_bans no */
	ring_buffer__free(rb);
}

static void test_edge_rules__ratelimit_police_only(void **state)
{
	const char *src = "198.51.100.73";
	struct pkt_spec s = harness_udp(src, 40000, LIM, 27017);
	uint8_t pkt[256];
	size_t n = pkt_build(&s, pkt, sizeof(pkt));
	uint32_t a = pkt_ip(src);
	struct bf_list_val v;
	struct result r;
	struct bans b;
	struct ring_buffer *rb;

	config(NULL);
	rb = ban_watch(&b);
	/* pps 50, burst 100ms: 6 back to back, then only the excess is dropped. */
	for (int i = 0; i < 6; i++) {
		harness_run(pkt, n, &r);
		harness_expect("within", &r, XDP_TX, BF_R_FORWARD);
	}
	harness_run(pkt, n, &r);
	harness_expect("excess", &r, XDP_DROP, BF_R_RATELIMIT);
	assert_int_not_equal(bpf_map_lookup_elem(H.maps.fd.blocklist, &a, &v), 0);
	/* Each connection's limit is the source's own there: being over at one
	 * costs nothing at another. */
	{
		struct pkt_spec o = harness_udp(src, 40000, LIM, 27015);
		uint8_t op[256];
		size_t on = pkt_build(&o, op, sizeof(op));

		for (int i = 0; i < 11; i++) {
			harness_run(op, on, &r);
			harness_expect("another connection, own budget", &r, XDP_TX, BF_R_FORWARD);
		}
	}
	usleep(25000); /* one packet's worth of time */
	harness_run(pkt, n, &r);
	harness_expect("again after 20 ms", &r, XDP_TX, BF_R_FORWARD);
	ring_buffer__consume(rb);
	assert_int_equal(b.n, 0);
	ring_buffer__free(rb);
}

static uint64_t now_ns(void)
{
	return bf_mono_ns();
}

static void sleep_until(uint64_t t)
{
	struct timespec ts = { .tv_sec = (time_t)(t / 1000000000ULL),
			       .tv_nsec = (long)(t % 1000000000ULL) };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/* A fixed one-second window passes up to twice the limit around its edge
 * (the limit just before it, the limit again just after). The bucket does
 * not: over any stretch T it passes at most pps x (T + burst) + 1. */
static void test_edge_rules__ratelimit_burst_across_a_second(void **state)
{
	const char *src = "198.51.100.74";
	struct pkt_spec s = harness_udp(src, 40000, LIM, 27017);
	uint8_t pkt[256];
	size_t n = pkt_build(&s, pkt, sizeof(pkt));
	const uint64_t L = 50, step = 1000000000ULL / (4 * L); /* 4x the limit */
	uint64_t start, first = 0, last = 0, passed = 0, sent = 0, bound;
	struct result r;

	config(NULL);
	/* From 250 ms before a whole second to 250 ms after it. */
	start = (now_ns() / 1000000000ULL + 1) * 1000000000ULL + 750000000ULL;
	for (uint64_t t = start; t < start + 500000000ULL; t += step) {
		sleep_until(t);
		if (!first)
			first = now_ns();
		harness_run(pkt, n, &r);
		last = now_ns();
		sent++;
		passed += r.action == XDP_TX;
	}
	bound = L * (last - first + 100000000ULL) / 1000000000ULL + 1;
	print_message("straddle: sent %llu at %llu/s over %.3f s, passed %llu (bound %llu, a "
		      "fixed window would pass %llu)\n",
		      (unsigned long long)sent, (unsigned long long)(4 * L),
		      (double)(last - first) / 1e9, (unsigned long long)passed,
		      (unsigned long long)bound, (unsigned long long)(2 * L));
	assert_true(sent >= 90);
	assert_true(passed <= bound);
	assert_true(passed < 2 * L / 2 + 10); /* far from the 2x a window edge would allow */
	assert_true(passed >= L / 3);        /* and it does pass traffic at the limit */
}

static void test_edge_rules__ratelimit_dry_run(void **state)
{
	const char *src = "198.51.100.75";
	struct pkt_spec s = harness_udp(src, 40000, LIM, 27015);
	uint8_t pkt[256];
	size_t n = pkt_build(&s, pkt, sizeof(pkt));
	uint32_t a = pkt_ip(src);
	struct bf_list_val v;
	struct result r;
	struct bans b;
	struct ring_buffer *rb;

	config("dry_run yes\n");
	rb = ban_watch(&b);
	for (int i = 0; i < 11; i++)
		harness_run(pkt, n, &r);
	for (int i = 0; i < 3; i++) {
		harness_run(pkt, n, &r);
		harness_expect("dry run over the limit", &r, XDP_PASS, BF_R_RATELIMIT);
		assert_int_equal(r.delta[BF_R_WOULD_DROP].packets, 1);
	}
	/* Nothing enforced: no blocklist entry; one event, marked dry run. */
	assert_int_not_equal(bpf_map_lookup_elem(H.maps.fd.blocklist, &a, &v), 0);
	ring_buffer__consume(rb);
	assert_int_equal(b.n, 1);
	assert_int_equal(b.last.flags, BF_BAN_F_SHARE | BF_BAN_F_DRY_RUN);
	ring_buffer__free(rb);
	config(NULL);
}

/* ---- protected prefixes ---- */

/* Protected means "never banned", not "never policed": a protected address
 * (a POP, a machine, a BGP peer) is public and can be forged, so lists and
 * bans spare it but drop rules and per-packet limits police it. */
static void test_edge_rules__protected_never_banned_but_policed(void **state)
{
	struct pkt_spec s = harness_udp(PROT_CLIENT, 40000, ANY, 27015);
	struct bf_cidr bl = { .addr = pkt_ip("198.51.100.192"), .plen = 26 };
	struct bf_cidr inside = { .addr = pkt_ip("198.51.100.200"), .plen = 32 };
	struct bf_cidr narrow = { .addr = pkt_ip("198.51.100.200"), .plen = 29 };
	struct bf_list_val blk = { .expires_ns = 0, .src = BF_SRC_LOCAL };
	uint32_t a = pkt_ip(PROT_CLIENT);
	uint8_t pkt[256];
	size_t n;
	struct result r;
	struct bans b;
	struct ring_buffer *rb;
	uint64_t refused;

	/* The blacklisted /26 holds the protected /29: accepted, XDP spares the
	 * protected part. An entry inside the /29 is refused. */
	config("rule 1 action drop proto udp src 198.51.100.192/26\n");
	assert_int_equal(edge_maps_list_add(&H.maps, BF_LIST_BL, &bl, 0, BF_SRC_FLEET), 0);
	refused = H.maps.refused_protected;
	assert_int_equal(edge_maps_list_add(&H.maps, BF_LIST_BL, &inside, 0, BF_SRC_FLEET), -EPERM);
	assert_int_equal(edge_maps_list_put(&H.maps, BF_LIST_BL, &narrow, 0, BF_SRC_FLEET), -EPERM);
	assert_int_equal(edge_maps_block(&H.maps, a, 0, BF_SRC_FLEET, 0), -EPERM);
	assert_int_equal(H.maps.refused_protected, refused + 3);
	assert_true(edge_maps_protected(&H.maps, a));
	assert_false(edge_maps_protected(&H.maps, pkt_ip(CLIENT)));
	assert_int_equal(edge_maps_block(&H.maps, pkt_ip("198.51.100.190"), 0, BF_SRC_FLEET, 0), 0);
	assert_int_equal(bpf_map_delete_elem(H.maps.fd.blocklist, &(uint32_t){ pkt_ip("198.51.100.190") }), 0);
	assert_int_equal(bpf_map_update_elem(H.maps.fd.blocklist, &a, &blk, BPF_ANY), 0);

	/* Blocklisted and blacklisted: spared (counted `protected` for each
	 * list), then dropped by the drop rule all the same. */
	n = pkt_build(&s, pkt, sizeof(pkt));
	harness_run(pkt, n, &r);
	harness_expect("protected, listed and ruled", &r, XDP_DROP, BF_R_RULE_DROP);
	assert_int_equal(r.delta[BF_R_PROTECTED].packets, 2);
	assert_int_equal(r.delta[BF_R_PROTECTED].bytes, 2 * n);
	assert_int_equal(rule_counter(1).packets, 1);
	/* Without the rule, the lists alone do not drop it. */
	config(NULL);
	assert_int_equal(bpf_map_update_elem(H.maps.fd.blocklist, &a, &blk, BPF_ANY), 0);
	harness_run(pkt, n, &r);
	harness_expect("protected, listed", &r, XDP_TX, BF_R_FORWARD);
	assert_int_equal(r.delta[BF_R_PROTECTED].packets, 2);
	/* An unprotected neighbour in the same blacklisted /26 is dropped. */
	s.saddr = pkt_ip("198.51.100.193");
	harness_run(pkt, pkt_build(&s, pkt, sizeof(pkt)), &r);
	harness_expect("unprotected neighbour", &r, XDP_DROP, BF_R_BLACKLIST);
	assert_int_equal(r.delta[BF_R_PROTECTED].packets, 0);
	bpf_map_delete_elem(H.maps.fd.blocklist, &a);

	/* Over a rate limit (10 pps, 1 s burst: 11 back to back): its excess is
	 * dropped like anyone's, but it is never blocked and no ban goes out. */
	rb = ban_watch(&b);
	s = harness_udp(PROT_CLIENT, 40000, LIM, 27015);
	n = pkt_build(&s, pkt, sizeof(pkt));
	for (int i = 0; i < 11; i++) {
		harness_run(pkt, n, &r);
		harness_expect("protected within the limit", &r, XDP_TX, BF_R_FORWARD);
	}
	for (int i = 0; i < 19; i++) {
		harness_run(pkt, n, &r);
		harness_expect("protected over the limit: policed", &r, XDP_DROP, BF_R_RATELIMIT);
	}
	/* spared twice: the blacklisted /26, and the block */
	assert_int_equal(r.delta[BF_R_PROTECTED].packets, 2);
	assert_int_not_equal(bpf_map_lookup_elem(H.maps.fd.blocklist, &a, &blk), 0);
	ring_buffer__consume(rb);
	assert_int_equal(b.n, 0);
	ring_buffer__free(rb);
	/* Another source over the same limit is blocked and reported. */
	rb = ban_watch(&b);
	s = harness_udp("198.51.100.150", 40000, LIM, 27015);
	n = pkt_build(&s, pkt, sizeof(pkt));
	for (int i = 0; i < 12; i++)
		harness_run(pkt, n, &r);
	harness_expect("unprotected over the limit", &r, XDP_DROP, BF_R_RATELIMIT);
	ring_buffer__consume(rb);
	assert_int_equal(b.n, 1);
	ring_buffer__free(rb);
	bpf_map_delete_elem(H.maps.fd.blocklist, &(uint32_t){ pkt_ip("198.51.100.150") });

	assert_int_equal(edge_maps_list_del(&H.maps, BF_LIST_BL, &bl, BF_SRC_FLEET), 0);
	config(NULL);
}

static void test_edge_rules__reconcile_skips_protected(void **state)
{
	struct bf_cidr_key k1 = { .plen = 32, .addr = pkt_ip("198.51.100.201") };
	struct bf_cidr_key k2 = { .plen = 32, .addr = pkt_ip("198.19.44.4") };
	struct bf_list_val v;

	config("blacklist 198.51.100.201/32\nblacklist 198.19.44.4/32\n");
	assert_int_not_equal(bpf_map_lookup_elem(H.maps.fd.blacklist, &k1, &v), 0);
	assert_int_equal(bpf_map_lookup_elem(H.maps.fd.blacklist, &k2, &v), 0);
	config(NULL);
}

/* ---- ICMP echo ---- */

static size_t echo_request(const char *src, const char *dst, uint8_t *buf, size_t cap)
{
	static const char payload[] = "ping payload 0123456789abcdef";
	struct pkt_spec s = harness_udp(src, 0, dst, 0);

	s.proto = IPPROTO_ICMP;
	s.ttl = 51;
	s.id = 0xbeef;
	s.payload = payload;
	s.payload_len = sizeof(payload) - 1;
	return pkt_build(&s, buf, cap);
}

/* What the reply must be, byte for byte, built the slow way. */
static void echo_reply(const uint8_t *req, size_t n, uint8_t *out)
{
	uint8_t *ip = out + 14, *icmp = out + 34;
	uint16_t c;

	memcpy(out, req, n);
	memcpy(out, req + 6, 6);
	memcpy(out + 6, req, 6);
	memcpy(ip + 12, req + 14 + 16, 4);
	memcpy(ip + 16, req + 14 + 12, 4);
	ip[8] = 64;
	ip[10] = ip[11] = 0;
	c = pkt_csum(ip, 20);
	ip[10] = (uint8_t)(c >> 8);
	ip[11] = (uint8_t)c;
	icmp[0] = 0;
	icmp[2] = icmp[3] = 0;
	c = pkt_csum(icmp, n - 34);
	icmp[2] = (uint8_t)(c >> 8);
	icmp[3] = (uint8_t)c;
}

/* A request whose checksum is wrong gets no reply (the reply would carry
 * the error on); long, odd and even lengths are summed right. */
static void test_edge_rules__icmp_echo_checksums(void **state)
{
	static uint8_t big[1400];
	uint8_t pkt[1600], want[1600];
	struct pkt_spec s = harness_udp("198.51.100.86", 0, BIND_ONLY, 0);
	struct result r;
	size_t n;

	s.proto = IPPROTO_ICMP;
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7 + 3);
	/* ICMP messages of 9..13 bytes. (Not 8: an all-zero reply's checksum is
	 * 0x0000 updated, 0xffff computed, and both are right.) */
	for (size_t len = 1; len <= 5; len++) {
		s.payload = big;
		s.payload_len = len;
		n = pkt_build(&s, pkt, sizeof(pkt));
		echo_reply(pkt, n, want);
		harness_run(pkt, n, &r);
		harness_expect("short echo", &r, XDP_TX, BF_R_ICMP_ECHO);
		assert_memory_equal(r.out, want, n);
	}
	s.saddr = pkt_ip("198.51.100.87");
	s.payload_len = sizeof(big);
	n = pkt_build(&s, pkt, sizeof(pkt));
	echo_reply(pkt, n, want);
	harness_run(pkt, n, &r);
	harness_expect("1400-byte echo", &r, XDP_TX, BF_R_ICMP_ECHO);
	assert_memory_equal(r.out, want, n);
	pkt[34 + 8 + 700] ^= 0x10; /* one payload bit: the ICMP sum no longer holds */
	harness_run(pkt, n, &r);
	harness_expect("payload changed", &r, XDP_DROP, BF_R_BAD_CSUM);
	s.saddr = pkt_ip("198.51.100.88");
	s.payload_len = 9;
	n = pkt_build(&s, pkt, sizeof(pkt));
	pkt[34 + 2] ^= 0xff;
	harness_run(pkt, n, &r);
	harness_expect("bad icmp checksum", &r, XDP_DROP, BF_R_BAD_CSUM);
	n = pkt_build(&s, pkt, sizeof(pkt));
	pkt[14 + 10] ^= 0x01;
	harness_run(pkt, n, &r);
	harness_expect("bad ip header checksum", &r, XDP_DROP, BF_R_BAD_CSUM);
	n = pkt_build(&s, pkt, sizeof(pkt));
	pkt[n - 1] ^= 0x01; /* the odd last byte counts */
	harness_run(pkt, n, &r);
	harness_expect("odd last byte changed", &r, XDP_DROP, BF_R_BAD_CSUM);
}

static void test_edge_rules__icmp_echo_answered(void **state)
{
	const char *dsts[] = { ANY, BIND_ONLY };
	uint8_t pkt[256], want[256];
	struct result r;
	size_t n;

	config(NULL);
	for (int i = 0; i < 2; i++) {
		n = echo_request("198.51.100.81", dsts[i], pkt, sizeof(pkt));
		echo_reply(pkt, n, want);
		harness_run(pkt, n, &r);
		harness_expect("echo request", &r, XDP_TX, BF_R_ICMP_ECHO);
		assert_int_equal(r.out_len, n);
		assert_memory_equal(r.out, want, n);
		assert_int_equal(pkt_csum(r.out + 14, 20), 0);
		assert_int_equal(pkt_csum(r.out + 34, n - 34), 0);
	}
	/* A whitelisted source is answered too. */
	n = echo_request(WL_CLIENT, BIND_ONLY, pkt, sizeof(pkt));
	harness_run(pkt, n, &r);
	harness_expect("whitelisted echo", &r, XDP_TX, BF_R_ICMP_ECHO);
	/* The POP's own address is the kernel's to answer. */
	n = echo_request("198.51.100.81", H_EDGE_ADDR, pkt, sizeof(pkt));
	harness_run(pkt, n, &r);
	harness_expect("echo to the POP", &r, XDP_PASS, BF_R_LOCAL);
	/* Not a bind address: dropped like anything else there. */
	n = echo_request("198.51.100.81", "203.0.113.99", pkt, sizeof(pkt));
	harness_run(pkt, n, &r);
	harness_expect("echo to an unserved address", &r, XDP_DROP, BF_R_DEFAULT_DROP);
	/* With IP options: not answered; forwarded if there is an icmp connection. */
	{
		struct pkt_spec s = harness_udp("198.51.100.81", 0, ANY, 0);

		s.proto = IPPROTO_ICMP;
		s.opt_words = 1;
		n = pkt_build(&s, pkt, sizeof(pkt));
		harness_run(pkt, n, &r);
		harness_expect("echo with options, icmp connection", &r, XDP_TX, BF_R_FORWARD);
		s.daddr = pkt_ip(BIND_ONLY);
		n = pkt_build(&s, pkt, sizeof(pkt));
		harness_run(pkt, n, &r);
		harness_expect("echo with options, no icmp connection", &r, XDP_DROP,
			       BF_R_DEFAULT_DROP);
	}
	/* A rule sees echo requests first. */
	config("rule 1 action drop proto icmp icmp_type 8\n");
	n = echo_request("198.51.100.81", ANY, pkt, sizeof(pkt));
	harness_run(pkt, n, &r);
	harness_expect("echo dropped by a rule", &r, XDP_DROP, BF_R_RULE_DROP);
	/* Echo answering off: the icmp connection gets it. */
	config("icmp_echo no\n");
	harness_run(pkt, n, &r);
	harness_expect("echo off, forwarded", &r, XDP_TX, BF_R_FORWARD);
	n = echo_request("198.51.100.81", BIND_ONLY, pkt, sizeof(pkt));
	harness_run(pkt, n, &r);
	harness_expect("echo off, nothing there", &r, XDP_DROP, BF_R_DEFAULT_DROP);
	config(NULL);
}

static void test_edge_rules__icmp_echo_limits(void **state)
{
	uint8_t pkt[256];
	size_t n;
	struct result r;
	struct bans b;
	struct ring_buffer *rb;
	uint32_t a = pkt_ip("198.51.100.82");
	struct bf_list_val v;
	char text[256];

	config(NULL);
	rb = ban_watch(&b);
	/* The edge's echo limit (10/s, 1 s burst): 11, then dropped, no ban. */
	n = echo_request("198.51.100.82", BIND_ONLY, pkt, sizeof(pkt));
	for (int i = 0; i < 11; i++) {
		harness_run(pkt, n, &r);
		harness_expect("echo within the limit", &r, XDP_TX, BF_R_ICMP_ECHO);
	}
	harness_run(pkt, n, &r);
	harness_expect("echo over the limit", &r, XDP_DROP, BF_R_ECHO_LIMIT);
	assert_int_not_equal(bpf_map_lookup_elem(H.maps.fd.blocklist, &a, &v), 0);
	ring_buffer__consume(rb);
	assert_int_equal(b.n, 0);

	/* An icmp connection's own limit (2/s, 1 s burst) blocks and reports. */
	n = echo_request("198.51.100.83", ICMP_LIM, pkt, sizeof(pkt));
	for (int i = 0; i < 3; i++) {
		harness_run(pkt, n, &r);
		harness_expect("echo within the connection's limit", &r, XDP_TX, BF_R_ICMP_ECHO);
	}
	harness_run(pkt, n, &r);
	harness_expect("echo over the connection's limit", &r, XDP_DROP, BF_R_RATELIMIT);
	ring_buffer__consume(rb);
	assert_int_equal(b.n, 1);
	assert_int_equal(b.last.proto, IPPROTO_ICMP);
	assert_int_equal(b.last.conn.bind_port, 0);

	/* A protected source is policed by the echo limit like anyone. */
	n = echo_request(PROT_CLIENT, BIND_ONLY, pkt, sizeof(pkt));
	for (int i = 0; i < 11; i++) {
		harness_run(pkt, n, &r);
		harness_expect("protected echo within the limit", &r, XDP_TX, BF_R_ICMP_ECHO);
	}
	harness_run(pkt, n, &r);
	harness_expect("protected echo over the limit", &r, XDP_DROP, BF_R_ECHO_LIMIT);

	/* The global limit, as each CPU's share: one per CPU per second here. */
	snprintf(text, sizeof(text), "icmp_echo_global_pps %ld\n", sysconf(_SC_NPROCESSORS_ONLN));
	config(text);
	n = echo_request("198.51.100.84", BIND_ONLY, pkt, sizeof(pkt));
	harness_run(pkt, n, &r);
	harness_expect("first echo under the global limit", &r, XDP_TX, BF_R_ICMP_ECHO);
	n = echo_request("198.51.100.85", BIND_ONLY, pkt, sizeof(pkt));
	harness_run(pkt, n, &r);
	harness_expect("second source, global limit", &r, XDP_DROP, BF_R_ECHO_LIMIT);
	ring_buffer__free(rb);
	config(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_edge_rules__every_field_and_boundary),
		cmocka_unit_test(test_edge_rules__payload_bytes),
		cmocka_unit_test(test_edge_rules__payload_at_the_limits),
		cmocka_unit_test(test_edge_rules__first_match_wins),
		cmocka_unit_test(test_edge_rules__disabled_and_scoped_rules),
		cmocka_unit_test(test_edge_rules__dry_run_rule_counts_and_passes),
		cmocka_unit_test(test_edge_rules__refused_sets_leave_the_live_one),
		cmocka_unit_test(test_edge_rules__rate_threshold),
		cmocka_unit_test(test_edge_rules__ratelimit_pps_blocks_once),
		cmocka_unit_test(test_edge_rules__ratelimit_bps),
		cmocka_unit_test(test_edge_rules__ratelimit_police_only),
		cmocka_unit_test(test_edge_rules__ratelimit_burst_across_a_second),
		cmocka_unit_test(test_edge_rules__ratelimit_dry_run),
		cmocka_unit_test(test_edge_rules__protected_never_banned_but_policed),
		cmocka_unit_test(test_edge_rules__reconcile_skips_protected),
		cmocka_unit_test(test_edge_rules__icmp_echo_answered),
		cmocka_unit_test(test_edge_rules__icmp_echo_checksums),
		cmocka_unit_test(test_edge_rules__icmp_echo_limits),
	};

	if (geteuid() != 0) {
		fprintf(stderr, "test_edge_rules needs root (BPF and network namespaces)\n");
		return 1;
	}
	return cmocka_run_group_tests_name("edge_rules", tests, group_setup, group_teardown);
}
