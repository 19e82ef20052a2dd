/* test_edge_rules.c - the firewall rules of the edge XDP program (every field
 * and boundary, payload bytes, order, dry run, refused sets, rate
 * thresholds) through bpf_prog_test_run_opts over packet tables: the
 * verdict, the output bytes and the counters that moved. Needs root. */
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

#include "rules_fixture.h"

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


/* ---- the port index (bifrost.h): the same verdicts and counters as the whole list ---- */

static uint32_t xs(void)
{
	static uint64_t s = 0x2545f4914f6cdd1dULL;

	s ^= s << 13;
	s ^= s >> 7;
	s ^= s << 17;
	return (uint32_t)s;
}

/* Turns the index off (on = 0: the whole lists are walked) for both halves' UDP and TCP
 * lists, keeping what user space wrote; index_restore() puts it back. */
static __u16 saved_on[2 * BF_RULE_CLASSES];

static void index_set(int off)
{
	for (__u32 k = 0; k < 2 * BF_RULE_CLASSES; k++) {
		struct bf_rule_idx *x = calloc(1, sizeof(*x));

		assert_non_null(x);
		assert_int_equal(bpf_map_lookup_elem(H.maps.fd.rule_idx, &k, x), 0);
		if (off)
			saved_on[k] = x->on;
		x->on = off ? 0 : saved_on[k];
		assert_int_equal(bpf_map_update_elem(H.maps.fd.rule_idx, &k, x, BPF_ANY), 0);
		free(x);
	}
}

static void all_counters(uint64_t *pk, size_t cap)
{
	struct edge_rule_stat *st;
	size_t n;

	memset(pk, 0, cap * sizeof(*pk));
	assert_int_equal(edge_maps_rule_stats(&H.maps.fd, &st, &n), 0);
	for (size_t i = 0; i < n; i++)
		if (st[i].id < cap)
			pk[st[i].id] = st[i].packets;
	free(st);
}

/* Random rule sets (ports, small and wide ranges, no port, a port crowded past what its
 * entry holds, pass, drop, dry runs, other fields) and packets to every port they name and
 * others: each packet's verdict, reason and every rule's counter with the index and with
 * the whole list (the index turned off) must be the same. */
static void test_edge_rules__port_index_same_as_linear(void **state)
{
	static const uint16_t ports[] = { 27015, 27016, 27017, 27020, 53, 5000, 27010, 27031 };
	char text[16384];
	unsigned walked = 0, indexed = 0;

	for (int round = 0; round < 6; round++) {
		size_t o = 0;
		int nrules = 40 + (int)(xs() % 40);

		for (int i = 1; i <= nrules; i++) {
			uint32_t v = xs();
			const char *proto = (const char *[]){ "udp", "tcp", "udp", "" }[v % 4];

			o += (size_t)snprintf(text + o, sizeof(text) - o, "rule %d action %s", i,
					      (v >> 2) % 3 ? "drop" : "pass");
			if (proto[0]) {
				o += (size_t)snprintf(text + o, sizeof(text) - o, " proto %s", proto);
				switch ((v >> 4) % 6) {
				case 0: /* crowded: round 2 piles every rule on one port */
				case 1:
					o += (size_t)snprintf(text + o, sizeof(text) - o, " dport %u",
							      round == 2 ? 27015 : ports[(v >> 8) % 8]);
					break;
				case 2:
					o += (size_t)snprintf(text + o, sizeof(text) - o,
							      " dport 27010-27020");
					break;
				case 3:
					o += (size_t)snprintf(text + o, sizeof(text) - o,
							      " dport 1000-40000");
					break;
				case 4:
					o += (size_t)snprintf(text + o, sizeof(text) - o,
							      " dport 27015-27030");
					break;
				default:
					break;
				}
				if ((v >> 12) % 5 == 0)
					o += (size_t)snprintf(text + o, sizeof(text) - o, " sport 40000");
			}
			if ((v >> 15) % 4 == 0)
				o += (size_t)snprintf(text + o, sizeof(text) - o, " src %s",
						      (v >> 17) % 2 ? "198.51.100.0/24" : "10.0.0.0/8");
			if ((v >> 18) % 5 == 0)
				o += (size_t)snprintf(text + o, sizeof(text) - o, " dry_run yes");
			if ((v >> 21) % 6 == 0)
				o += (size_t)snprintf(text + o, sizeof(text) - o, " payload_len 0-10");
			o += (size_t)snprintf(text + o, sizeof(text) - o, "\n");
		}
		config(text);
		for (size_t pi = 0; pi < sizeof(ports) / sizeof(ports[0]); pi++)
			for (int t = 0; t < 4; t++) {
				struct pkt_spec s = harness_udp(t & 2 ? "192.0.2.200" : CLIENT,
								t & 2 ? 40000 : 41000, ANY, ports[pi]);
				uint64_t c0[128], c1[128], c2[128];
				struct result ra, rb;
				uint8_t pkt[256];
				size_t n;

				s.proto = t & 1 ? IPPROTO_TCP : IPPROTO_UDP;
				n = pkt_build(&s, pkt, sizeof(pkt));
				all_counters(c0, 128);
				harness_run(pkt, n, &ra);
				all_counters(c1, 128);
				index_set(1);
				for (int q = 0; q < 2 * BF_RULE_CLASSES; q++)
					indexed += saved_on[q];
				harness_run(pkt, n, &rb);
				index_set(0);
				all_counters(c2, 128);
				if (ra.action != rb.action ||
				    memcmp(ra.delta, rb.delta, sizeof(ra.delta)))
					fail_msg("round %d, %s to port %u: indexed %d, linear %d\n%s", round,
						 t & 1 ? "tcp" : "udp", ports[pi], ra.action, rb.action,
						 text);
				for (int id = 1; id < 128; id++)
					if (c1[id] - c0[id] != c2[id] - c1[id])
						fail_msg("round %d, port %u: rule %d counted %llu indexed, "
							 "%llu linear", round, ports[pi], id,
							 (unsigned long long)(c1[id] - c0[id]),
							 (unsigned long long)(c2[id] - c1[id]));
				walked++;
			}
	}
	print_message("port index: %u packets, same verdicts and counters as the whole list\n",
		      walked);
	assert_true(indexed >= walked); /* the index was on for every packet's lists */
	config(NULL);
}

/* What the index holds: rules on one port each, a crowded port's 16th rule in `any`, a
 * wide range in `any`, nothing for ICMP. */
static void test_edge_rules__port_index_layout(void **state)
{
	char text[4096];
	size_t o = 0;
	struct bf_config conf;
	struct bf_rule_idx *x = calloc(1, sizeof(*x));
	struct bf_rule_port_list pl;
	__u32 zero = 0, key;
	struct bf_rule_port_key pk;

	assert_non_null(x);
	for (int i = 1; i <= 16; i++)
		o += (size_t)snprintf(text + o, sizeof(text) - o,
				      "rule %d action drop proto udp dport 27015 payload_len 100\n", i);
	o += (size_t)snprintf(text + o, sizeof(text) - o,
			      "rule 20 action drop proto udp dport 1-1000\n"
			      "rule 21 action drop proto udp dport 27016-27017\n"
			      "rule 22 action drop proto icmp\n");
	config(text);
	assert_int_equal(bpf_map_lookup_elem(H.maps.fd.config, &zero, &conf), 0);
	key = (conf.rules_active & 1) * BF_RULE_CLASSES + 0;
	assert_int_equal(bpf_map_lookup_elem(H.maps.fd.rule_idx, &key, x), 0);
	assert_int_equal(x->on, 1);
	assert_int_equal(x->n_any, 2); /* the 16th on 27015 (position 15), 1-1000 (16) */
	assert_int_equal(x->any[0], 15);
	assert_int_equal(x->any[1], 16);
	pk = (struct bf_rule_port_key){ .half = conf.rules_active & 1, .cls = 0, .port = 27015 };
	assert_int_equal(bpf_map_lookup_elem(H.maps.fd.rule_ports, &pk, &pl), 0);
	assert_int_equal(pl.n, BF_RULE_PORT_LIST);
	assert_int_equal(pl.pos[14], 14);
	pk.port = 27017;
	assert_int_equal(bpf_map_lookup_elem(H.maps.fd.rule_ports, &pk, &pl), 0);
	assert_int_equal(pl.n, 1);
	assert_int_equal(pl.pos[0], 17);
	/* the other half's entries are gone once it is written again */
	config("rule 1 action drop proto udp dport 5\n");
	config("rule 1 action drop proto udp dport 6\n");
	pk.port = 27015;
	pk.half = 0;
	assert_int_not_equal(bpf_map_lookup_elem(H.maps.fd.rule_ports, &pk, &pl), 0);
	pk.half = 1;
	assert_int_not_equal(bpf_map_lookup_elem(H.maps.fd.rule_ports, &pk, &pl), 0);
	free(x);
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
		cmocka_unit_test(test_edge_rules__port_index_same_as_linear),
		cmocka_unit_test(test_edge_rules__port_index_layout),
	};

	if (geteuid() != 0) {
		fprintf(stderr, "test_edge_rules needs root (BPF and network namespaces)\n");
		return 1;
	}
	return cmocka_run_group_tests_name("edge_rules", tests, group_setup, group_teardown);
}
