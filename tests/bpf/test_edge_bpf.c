/* test_edge_bpf.c - the edge XDP program through bpf_prog_test_run_opts over
 * packet tables: verdict, counter and output bytes of every stage. Runs in a
 * private network namespace with veths, routes and static neighbours, so
 * bpf_fib_lookup sees a real routing table. Needs root. */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "bifrost.h"
#include "../../edge/maps.h"
#include "../../edge/stats.h"
#include "edge_tables.h"
#include "../../tools/pktgen.h"

/* ---- forwarding ---- */

static void test_edge_bpf__forward_udp_encapsulates(void **state)
{
	struct pkt_spec s = harness_udp(CLIENT, 50000, ANY_A, 27015);
	uint8_t pkt[256];
	size_t n = pkt_build(&s, pkt, sizeof(pkt));
	struct result r;

	harness_run_on(pkt, n, H.ifindex, &r);
	harness_expect("udp forward", &r, XDP_TX, BF_R_FORWARD);
	check_encap("udp forward", &r, GW_MAC, H.mac, MACH_A, pkt + 14, n - 14, 1);

	/* Without DF the outer header has no DF either. */
	s.frag = 0;
	n = pkt_build(&s, pkt, sizeof(pkt));
	harness_run_on(pkt, n, H.ifindex, &r);
	harness_expect("udp forward no DF", &r, XDP_TX, BF_R_FORWARD);
	check_encap("udp forward no DF", &r, GW_MAC, H.mac, MACH_A, pkt + 14, n - 14, 0);
}

static void test_edge_bpf__forward_vlan_and_options(void **state)
{
	struct pkt_spec s = harness_udp(CLIENT, 50000, ANY_A, 27015);
	uint8_t pkt[256];
	size_t n;
	struct result r;

	s.vlan = 1;
	s.vlan_id = 42;
	n = pkt_build(&s, pkt, sizeof(pkt));
	harness_run_on(pkt, n, H.ifindex, &r);
	harness_expect("vlan forward", &r, XDP_TX, BF_R_FORWARD);
	check_encap("vlan forward", &r, GW_MAC, H.mac, MACH_A, pkt + 18, n - 18, 1);

	s.vlan = 0;
	s.opt_words = 3; /* IHL 8 */
	n = pkt_build(&s, pkt, sizeof(pkt));
	harness_run_on(pkt, n, H.ifindex, &r);
	harness_expect("ip options forward", &r, XDP_TX, BF_R_FORWARD);
	check_encap("ip options forward", &r, GW_MAC, H.mac, MACH_A, pkt + 14, n - 14, 1);
}

static void test_edge_bpf__forward_tcp_rewrites_machine_port(void **state)
{
	struct pkt_spec s = harness_udp(CLIENT, 50000, ANY_A, 27015);
	uint8_t pkt[256], want[256];
	size_t n;
	struct result r;

	s.proto = IPPROTO_TCP;
	n = pkt_build(&s, pkt, sizeof(pkt));
	s.dport = 27016;
	pkt_build(&s, want, sizeof(want));
	harness_run_on(pkt, n, H.ifindex, &r);
	harness_expect("tcp forward", &r, XDP_TX, BF_R_FORWARD);
	/* The inner packet is the original with port 27016 and a valid checksum. */
	check_encap("tcp forward", &r, GW_MAC, H.mac, MACH_A, want + 14, n - 14, 1);
	assert_int_equal(pkt_l4_csum(r.out + 14 + 20), 0);
}

static void test_edge_bpf__forward_redirects_to_other_nic(void **state)
{
	struct pkt_spec s = harness_udp(CLIENT, 50000, ANY_B, 27015);
	uint8_t pkt[256];
	size_t n = pkt_build(&s, pkt, sizeof(pkt));
	struct result r;

	harness_run_on(pkt, n, H.ifindex, &r);
	harness_expect("redirect", &r, XDP_REDIRECT, BF_R_FORWARD);
	check_encap("redirect", &r, BK_MAC, H.mac_t2, MACH_B, pkt + 14, n - 14, 1);
}

static void test_edge_bpf__forward_route_failures(void **state)
{
	static uint8_t big[1000];
	struct pkt_spec s = harness_udp(CLIENT, 50000, ANY_BIG, 27015);
	uint8_t pkt[1200];
	size_t n;
	struct result r;

	s.payload = big;
	s.payload_len = sizeof(big);
	n = pkt_build(&s, pkt, sizeof(pkt));
	harness_run_on(pkt, n, H.ifindex, &r);
	harness_expect("too big", &r, XDP_DROP, BF_R_TOO_BIG);

	s = harness_udp(CLIENT, 50000, ANY_NN, 27015);
	n = pkt_build(&s, pkt, sizeof(pkt));
	harness_run_on(pkt, n, H.ifindex, &r);
	harness_expect("no neighbour", &r, XDP_DROP, BF_R_NO_NEIGH);
}

/* ---- lists ---- */

struct list_row {
	const char *name, *src, *dst;
	uint16_t dport;
	int action, reason;
};

static void run_rows(const struct list_row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct pkt_spec s = harness_udp(rows[i].src, 40000, rows[i].dst, rows[i].dport);
		uint8_t pkt[256];
		size_t len = pkt_build(&s, pkt, sizeof(pkt));
		struct result r;

		harness_run_on(pkt, len, H.ifindex, &r);
		harness_expect(rows[i].name, &r, rows[i].action, rows[i].reason);
	}
}

static void test_edge_bpf__lists(void **state)
{
	static const struct list_row rows[] = {
		{ "whitelisted to a connection", WL_CLIENT, ANY_A, 27015, XDP_TX, BF_R_WHITELIST },
		{ "whitelisted, unknown port, bind of one machine", WL_CLIENT, ANY_A, 9999, XDP_TX,
		  BF_R_WHITELIST },
		{ "whitelisted to the POP's address", WL_CLIENT, EDGE_ADDR, 22, XDP_PASS, BF_R_WHITELIST },
		{ "whitelisted to an address not served: no transit", WL_CLIENT, "198.18.200.1", 80,
		  XDP_DROP, BF_R_DEFAULT_DROP },
		{ "in a blacklisted /29 and the whitelist", "198.51.100.6", ANY_A, 27015, XDP_TX,
		  BF_R_WHITELIST },
		{ "blacklist /24, first address", "198.19.1.0", ANY_A, 27015, XDP_DROP,
		  BF_R_BLACKLIST },
		{ "blacklist /24, middle", "198.19.1.200", ANY_A, 27015, XDP_DROP, BF_R_BLACKLIST },
		{ "blacklist /24, last address", "198.19.1.255", ANY_A, 27015, XDP_DROP,
		  BF_R_BLACKLIST },
		{ "just below the /24", "198.19.0.255", ANY_A, 27015, XDP_TX, BF_R_FORWARD },
		{ "just above the /24", "198.19.2.0", ANY_A, 27015, XDP_TX, BF_R_FORWARD },
		{ "blacklist /32", "198.19.9.9", ANY_A, 27015, XDP_DROP, BF_R_BLACKLIST },
		{ "next to the /32", "198.19.9.8", ANY_A, 27015, XDP_TX, BF_R_FORWARD },
		{ "expired blacklist entry", "198.19.2.5", ANY_A, 27015, XDP_TX, BF_R_FORWARD },
		{ "blocklisted source", "198.19.3.3", ANY_A, 27015, XDP_DROP, BF_R_BLOCKLIST },
		{ "to the POP's address", CLIENT, EDGE_ADDR, 22, XDP_PASS, BF_R_LOCAL },
		{ "to an address of one of its interfaces", CLIENT, "198.18.6.1", 22, XDP_PASS,
		  BF_R_LOCAL },
		{ "blacklisted source to an interface address", "198.19.9.9", "198.18.6.1", 22,
		  XDP_DROP, BF_R_BLACKLIST },
		{ "address not served", CLIENT, "203.0.113.99", 27015, XDP_DROP, BF_R_DEFAULT_DROP },
		{ "blacklisted source, address not served", "198.19.9.9", "203.0.113.99", 1, XDP_DROP,
		  BF_R_DEFAULT_DROP },
		{ "anycast, wrong port", CLIENT, ANY_A, 27016, XDP_DROP, BF_R_DEFAULT_DROP },
	};

	/* The whitelist comes before the blacklist (docs/ARCHITECTURE.md, Decisions). */
	run_rows(rows, sizeof(rows) / sizeof(rows[0]));
}

static void test_edge_bpf__dry_run_passes_drops(void **state)
{
	static const struct list_row rows[] = {
		{ "dry-run blacklist", "198.19.9.9", ANY_A, 27015, XDP_PASS, BF_R_BLACKLIST },
		{ "dry-run default drop", CLIENT, "203.0.113.99", 1, XDP_PASS, BF_R_DEFAULT_DROP },
	};
	struct pkt_spec s = harness_udp("198.19.9.9", 1, ANY_A, 27015);
	uint8_t pkt[256];
	struct result r;

	config_maps(1);
	run_rows(rows, 2);
	harness_run_on(pkt, pkt_build(&s, pkt, sizeof(pkt)), H.ifindex, &r);
	assert_int_equal(r.delta[BF_R_WOULD_DROP].packets, 1);
	config_maps(0);
	harness_run_on(pkt, pkt_build(&s, pkt, sizeof(pkt)), H.ifindex, &r);
	harness_expect("dry-run off again", &r, XDP_DROP, BF_R_BLACKLIST);
	assert_int_equal(r.delta[BF_R_WOULD_DROP].packets, 0);
}

/* ---- non-IPv4 and malformed input ---- */

static void test_edge_bpf__non_ipv4_passes(void **state)
{
	uint8_t arp[42] = { 0 }, v6[54] = { 0 };
	struct result r;

	arp[12] = 0x08;
	arp[13] = 0x06;
	harness_run_on(arp, sizeof(arp), H.ifindex, &r);
	harness_expect("arp", &r, XDP_PASS, BF_R_NON_IPV4);
	v6[12] = 0x86;
	v6[13] = 0xdd;
	harness_run_on(v6, sizeof(v6), H.ifindex, &r);
	harness_expect("ipv6", &r, XDP_PASS, BF_R_NON_IPV4);
}

static void test_edge_bpf__malformed_dropped(void **state)
{
	struct pkt_spec u = harness_udp(CLIENT, 50000, ANY_A, 27015), t = u;
	uint8_t good[256], tcp[256], p[256];
	size_t n = pkt_build(&u, good, sizeof(good)), nt;
	struct result r;

	t.proto = IPPROTO_TCP;
	nt = pkt_build(&t, tcp, sizeof(tcp));

#define MALFORMED(name, len, mutate, reason)                        \
	do {                                                        \
		memcpy(p, good, n);                                 \
		mutate;                                             \
		harness_run_on(p, (len), H.ifindex, &r);                           \
		harness_expect(name, &r, XDP_DROP, reason);                 \
	} while (0)

	/* Frames shorter than 14 bytes never reach XDP (test_run refuses them too). */
	MALFORMED("truncated vlan tag", 16, (p[12] = 0x81, p[13] = 0), BF_R_MALFORMED);
	MALFORMED("truncated ipv4 header", 14 + 12, (void)0, BF_R_MALFORMED);
	MALFORMED("ihl below 5", n, (p[14] = 0x44), BF_R_MALFORMED);
	MALFORMED("ihl past the end", 14 + 40, (p[14] = 0x4f, p[16] = 0, p[17] = 40), BF_R_MALFORMED);
	MALFORMED("version 6 in an ipv4 frame", n, (p[14] = 0x65), BF_R_MALFORMED);
	MALFORMED("total length past the frame", n, (p[16] = 0x05), BF_R_MALFORMED);
	MALFORMED("total length below the header", n, (p[16] = 0, p[17] = 10), BF_R_MALFORMED);
	MALFORMED("truncated udp header", 14 + 24, (p[16] = 0, p[17] = 24), BF_R_MALFORMED);
	MALFORMED("udp length past the datagram", n, (p[14 + 20 + 4] = 0x10), BF_R_MALFORMED);
	MALFORMED("udp length below 8", n, (p[14 + 20 + 4] = 0, p[14 + 20 + 5] = 4), BF_R_MALFORMED);
	MALFORMED("more fragments", n, (p[14 + 6] = 0x20), BF_R_FRAGMENT);
	MALFORMED("fragment offset", n, (p[14 + 6] = 0x00, p[14 + 7] = 0x08), BF_R_FRAGMENT);

	memcpy(p, tcp, nt);
	harness_run_on(p, 14 + 30, H.ifindex, &r);
	harness_expect("truncated tcp header", &r, XDP_DROP, BF_R_MALFORMED);
	memcpy(p, tcp, nt);
	p[14 + 20 + 12] = 0x40; /* doff 4 */
	harness_run_on(p, nt, H.ifindex, &r);
	harness_expect("tcp doff below 5", &r, XDP_DROP, BF_R_MALFORMED);
	memcpy(p, tcp, nt);
	p[14 + 20 + 12] = 0xf0; /* doff 15: past the datagram */
	harness_run_on(p, nt, H.ifindex, &r);
	harness_expect("tcp doff past the datagram", &r, XDP_DROP, BF_R_MALFORMED);

	/* Ethernet padding after the datagram is fine. */
	memcpy(p, good, n);
	memset(p + n, 0xee, 20);
	harness_run_on(p, n + 20, H.ifindex, &r);
	harness_expect("padding after the datagram", &r, XDP_TX, BF_R_FORWARD);
#undef MALFORMED
}

/* ---- return path and punches ---- */

static void test_edge_bpf__return_path_decapsulates(void **state)
{
	struct pkt_spec o = from_machine(MACH_A);
	struct pkt_spec in = harness_udp(ANY_A, 27015, CLIENT, 50000);
	uint8_t pkt[256], inner[256];
	size_t n = pkt_build_ipip(&o, &in, pkt, sizeof(pkt));
	size_t ni = pkt_build_ip(&in, inner, sizeof(inner));
	struct result r;

	harness_run_on(pkt, n, H.ifindex, &r);
	harness_expect("return udp", &r, XDP_TX, BF_R_RETURN_PATH);
	assert_int_equal(r.delta[BF_R_PUNCH_NEW].packets, 0); /* a connection's reply */
	assert_int_equal(r.out_len, 14 + ni);
	assert_memory_equal(r.out, GW_MAC, 6);
	assert_memory_equal(r.out + 6, H.mac, 6);
	assert_memory_equal(r.out + 14, inner, ni);

	/* Outer header with options and a VLAN tag: still decapsulated exactly. */
	o.opt_words = 2;
	o.vlan = 1;
	n = pkt_build_ipip(&o, &in, pkt, sizeof(pkt));
	harness_run_on(pkt, n, H.ifindex, &r);
	harness_expect("return with outer options", &r, XDP_TX, BF_R_RETURN_PATH);
	assert_int_equal(r.out_len, 14 + ni);
	assert_memory_equal(r.out + 14, inner, ni);
}

static void test_edge_bpf__return_path_restores_bind_port(void **state)
{
	struct pkt_spec o = from_machine(MACH_A);
	struct pkt_spec in = harness_udp(ANY_A, 27016, CLIENT, 50000), want = in;
	uint8_t pkt[256], w[256];
	size_t n, nw;
	struct result r;

	in.proto = want.proto = IPPROTO_TCP;
	want.sport = 27015;
	n = pkt_build_ipip(&o, &in, pkt, sizeof(pkt));
	nw = pkt_build_ip(&want, w, sizeof(w));
	harness_run_on(pkt, n, H.ifindex, &r);
	harness_expect("return tcp mapped port", &r, XDP_TX, BF_R_RETURN_PATH);
	assert_int_equal(r.delta[BF_R_PUNCH_NEW].packets, 0);
	assert_memory_equal(r.out + 14, w, nw);
	assert_int_equal(pkt_l4_csum(r.out + 14), 0);
}

static void test_edge_bpf__return_path_invalid(void **state)
{
	struct pkt_spec o = from_machine(MACH_A);
	struct pkt_spec in = harness_udp(ANY_B, 27015, CLIENT, 50000); /* B's address, from A */
	uint8_t pkt[256];
	size_t n = pkt_build_ipip(&o, &in, pkt, sizeof(pkt));
	struct result r;

	harness_run_on(pkt, n, H.ifindex, &r);
	harness_expect("machine sends for an address it does not serve", &r, XDP_DROP,
	       BF_R_RETURN_INVALID);

	in = harness_udp(ANY_A, 27015, CLIENT, 50000);
	n = pkt_build_ipip(&o, &in, pkt, sizeof(pkt));
	pkt[14 + 20] = 0x44; /* inner IHL 4 */
	harness_run_on(pkt, n, H.ifindex, &r);
	harness_expect("bad inner header", &r, XDP_DROP, BF_R_MALFORMED);
	n = pkt_build_ipip(&o, &in, pkt, sizeof(pkt));
	pkt[14 + 20 + 2] = 0x04; /* inner total length past the outer payload */
	harness_run_on(pkt, n, H.ifindex, &r);
	harness_expect("inner length past the outer payload", &r, XDP_DROP, BF_R_MALFORMED);
	n = pkt_build_ipip(&o, &in, pkt, sizeof(pkt));
	harness_run_on(pkt, 14 + 20 + 10, H.ifindex, &r);
	harness_expect("truncated inner header", &r, XDP_DROP, BF_R_MALFORMED);

	/* IPIP from a stranger is no return path: dropped, whatever it carries. */
	o = from_machine("198.18.99.9");
	o.daddr = pkt_ip("203.0.113.99");
	n = pkt_build_ipip(&o, &in, pkt, sizeof(pkt));
	harness_run_on(pkt, n, H.ifindex, &r);
	harness_expect("ipip from an unknown host", &r, XDP_DROP, BF_R_IPIP_REFUSED);
}

static int count_punch_events(void *ctx, void *data, size_t size)
{
	const struct bf_event *e = data;

	if (e->type == BF_EV_PUNCH)
		(*(int *)ctx)++;
	return 0;
}

static void test_edge_bpf__punch_created_and_hit(void **state)
{
	struct pkt_spec o = from_machine(MACH_A);
	struct pkt_spec out = harness_udp(ANY_A, 40000, REMOTE, 5000);
	struct pkt_spec reply = harness_udp(REMOTE, 5000, ANY_A, 40000);
	struct bf_punch_key key = { .bind_ip = pkt_ip(ANY_A), .remote_ip = pkt_ip(REMOTE),
				    .bind_port = htons(40000), .remote_port = htons(5000),
				    .proto = IPPROTO_UDP };
	struct bf_punch_val v;
	struct ring_buffer *rb;
	uint8_t pkt[256];
	size_t n;
	struct result r;
	int events = 0;

	rb = ring_buffer__new(H.maps.fd.events, count_punch_events, &events, NULL);
	assert_non_null(rb);
	ring_buffer__consume(rb);
	events = 0;

	/* Before the game server calls out, the remote is dropped. */
	n = pkt_build(&reply, pkt, sizeof(pkt));
	harness_run_on(pkt, n, H.ifindex, &r);
	harness_expect("remote before the punch", &r, XDP_DROP, BF_R_DEFAULT_DROP);

	n = pkt_build_ipip(&o, &out, pkt, sizeof(pkt));
	harness_run_on(pkt, n, H.ifindex, &r);
	harness_expect("game server calls out", &r, XDP_TX, BF_R_RETURN_PATH);
	assert_int_equal(r.delta[BF_R_PUNCH_NEW].packets, 1);
	assert_int_equal(bpf_map_lookup_elem(H.maps.fd.punches, &key, &v), 0);
	assert_int_equal(v.machine_ip, pkt_ip(MACH_A));
	assert_true(v.expires_ns > bf_mono_ns() + 100ULL * 1000000000ULL);
	ring_buffer__consume(rb);
	assert_int_equal(events, 1);

	/* A second packet of the flow is not reported again (rate bound). */
	harness_run_on(pkt, n, H.ifindex, &r);
	harness_expect("flow continues", &r, XDP_TX, BF_R_RETURN_PATH);
	assert_int_equal(r.delta[BF_R_PUNCH_NEW].packets, 0);
	ring_buffer__consume(rb);
	assert_int_equal(events, 1);

	n = pkt_build(&reply, pkt, sizeof(pkt));
	harness_run_on(pkt, n, H.ifindex, &r);
	harness_expect("remote replies", &r, XDP_TX, BF_R_PUNCH_HIT);
	check_encap("remote replies", &r, GW_MAC, H.mac, MACH_A, pkt + 14, n - 14, 1);

	reply.sport = 5001;
	n = pkt_build(&reply, pkt, sizeof(pkt));
	harness_run_on(pkt, n, H.ifindex, &r);
	harness_expect("other remote port", &r, XDP_DROP, BF_R_DEFAULT_DROP);

	/* An expired punch stops matching before the sweeper removes it. */
	v.expires_ns = 1;
	assert_int_equal(bpf_map_update_elem(H.maps.fd.punches, &key, &v, BPF_EXIST), 0);
	reply.sport = 5000;
	n = pkt_build(&reply, pkt, sizeof(pkt));
	harness_run_on(pkt, n, H.ifindex, &r);
	harness_expect("expired punch", &r, XDP_DROP, BF_R_DEFAULT_DROP);
	ring_buffer__free(rb);
}

static void test_edge_bpf__no_punch_to_whitelisted(void **state)
{
	struct pkt_spec o = from_machine(MACH_A);
	struct pkt_spec out = harness_udp(ANY_A, 40001, WL_CLIENT, 5000);
	struct bf_punch_key key = { .bind_ip = pkt_ip(ANY_A), .remote_ip = pkt_ip(WL_CLIENT),
				    .bind_port = htons(40001), .remote_port = htons(5000),
				    .proto = IPPROTO_UDP };
	struct bf_punch_val v;
	uint8_t pkt[256];
	size_t n = pkt_build_ipip(&o, &out, pkt, sizeof(pkt));
	struct result r;

	harness_run_on(pkt, n, H.ifindex, &r);
	harness_expect("call out to a whitelisted host", &r, XDP_TX, BF_R_RETURN_PATH);
	assert_int_equal(r.delta[BF_R_PUNCH_NEW].packets, 0);
	assert_int_not_equal(bpf_map_lookup_elem(H.maps.fd.punches, &key, &v), 0);
}

static void test_edge_bpf__sweeper_removes_expired(void **state)
{
	struct edge_sweep_stats st;
	struct bf_cidr c = cidr("198.19.2.0/24");
	struct bf_cidr_key k = { .plen = 24, .addr = c.addr };
	struct bf_list_val v;

	assert_int_equal(bpf_map_lookup_elem(H.maps.fd.blacklist, &k, &v), 0);
	assert_int_equal(edge_maps_sweep(&H.maps, bf_mono_ns(), &st), 0);
	assert_true(st.list[BF_LIST_BL] >= 1);
	assert_int_not_equal(bpf_map_lookup_elem(H.maps.fd.blacklist, &k, &v), 0);
	/* The /24 bit stays: 198.19.1.0/24 is still there. */
	assert_true(H.maps.conf.plen_mask[BF_LIST_BL] & (1ULL << 24));
}

/* 100000 expired /32s: each sweep walks a bounded share of the map and
 * resumes where it stopped; a few sweeps empty it, and live entries stay. */
static void test_edge_bpf__sweeper_walks_big_maps_in_bounded_steps(void **state)
{
	const unsigned n = 100000;
	uint64_t past = bf_mono_ns() - 1, total = 0;
	struct edge_sweep_stats st;
	struct bf_cidr live = cidr("198.19.1.0/24");
	struct bf_cidr_key lk = { .plen = 24, .addr = live.addr };
	struct bf_list_val v;
	uint32_t before = H.maps.plen_count[BF_LIST_BL][32];
	int sweeps = 0;

	for (unsigned i = 0; i < n; i++) {
		struct bf_cidr c = { .addr = htonl(0xf0000000u + i), .plen = 32 };

		assert_int_equal(edge_maps_list_add(&H.maps, BF_LIST_BL, &c, past, BF_SRC_FLEET), 0);
	}
	do {
		assert_int_equal(edge_maps_sweep(&H.maps, bf_mono_ns(), &st), 0);
		/* Never the whole map in one call: the cost of a tick is bounded. */
		assert_true(st.list[BF_LIST_BL] < n);
		total += st.list[BF_LIST_BL];
		sweeps++;
	} while (st.list[BF_LIST_BL] && sweeps < 10);
	assert_int_equal(total, n);
	assert_true(sweeps >= 2);
	assert_int_equal(H.maps.plen_count[BF_LIST_BL][32], before);
	assert_int_equal(!!(H.maps.conf.plen_mask[BF_LIST_BL] & (1ULL << 32)), before > 0);
	assert_int_equal(bpf_map_lookup_elem(H.maps.fd.blacklist, &lk, &v), 0);
}

static void test_edge_bpf__conn_removal_is_applied(void **state)
{
	struct bf_conn one;
	char err[128];
	struct pkt_spec s = harness_udp(CLIENT, 50000, ANY_B, 27015);
	uint8_t pkt[256];
	size_t n = pkt_build(&s, pkt, sizeof(pkt));
	struct result r;
	uint32_t mb = pkt_ip(MACH_B), cnt;

	assert_int_equal(bf_conn_parse("udp", ANY_A ":27015", MACH_A, &one, err, sizeof(err)), 0);
	assert_int_equal(edge_maps_apply_conns(&H.maps, &one, 1, NULL, 0), 0);
	harness_run_on(pkt, n, H.ifindex, &r);
	harness_expect("removed connection", &r, XDP_DROP, BF_R_DEFAULT_DROP);
	assert_int_not_equal(bpf_map_lookup_elem(H.maps.fd.machines, &mb, &cnt), 0);
	config_maps(0);
	harness_run_on(pkt, n, H.ifindex, &r);
	harness_expect("connection back", &r, XDP_REDIRECT, BF_R_FORWARD);
}

/* ---- per-connection counters ---- */

static struct bf_conn_counter conn_counter(uint8_t proto, const char *bind, uint16_t port)
{
	struct bf_conn_key k = { .bind_ip = pkt_ip(bind), .bind_port = htons(port), .proto = proto };
	struct edge_stats_sample s;
	const struct edge_conn_sample *c;
	struct bf_conn_counter v = { 0 };

	assert_int_equal(edge_stats_read(&H.maps.fd, &s), 0);
	c = edge_stats_conn(&s, &k);
	if (c)
		v = c->c;
	edge_stats_sample_free(&s);
	return v;
}

static void test_edge_bpf__conn_counters(void **state)
{
	struct pkt_spec s = harness_udp(CLIENT, 50001, ANY_A, 27015);
	struct pkt_spec o = from_machine(MACH_A);
	struct pkt_spec in = harness_udp(ANY_A, 27015, CLIENT, 50001);
	struct bf_conn_counter c0 = conn_counter(IPPROTO_UDP, ANY_A, 27015), c1, nn0, nn1;
	uint8_t pkt[256];
	size_t n = pkt_build(&s, pkt, sizeof(pkt));
	struct result r;

	harness_run_on(pkt, n, H.ifindex, &r);
	harness_expect("counted forward", &r, XDP_TX, BF_R_FORWARD);
	harness_run_on(pkt, n, H.ifindex, &r);
	c1 = conn_counter(IPPROTO_UDP, ANY_A, 27015);
	assert_int_equal(c1.in_packets - c0.in_packets, 2);
	assert_int_equal(c1.in_bytes - c0.in_bytes, 2 * (n - 14)); /* IP bytes, no Ethernet */
	assert_int_equal(c1.out_packets, c0.out_packets);

	/* a reply of the connection on the return path counts out */
	n = pkt_build_ipip(&o, &in, pkt, sizeof(pkt));
	harness_run_on(pkt, n, H.ifindex, &r);
	harness_expect("counted reply", &r, XDP_TX, BF_R_RETURN_PATH);
	c0 = conn_counter(IPPROTO_UDP, ANY_A, 27015);
	assert_int_equal(c0.out_packets - c1.out_packets, 1);
	assert_int_equal(c0.out_bytes - c1.out_bytes, n - 14 - 20); /* the inner packet */
	assert_int_equal(c0.in_packets, c1.in_packets);

	/* what encapsulation could not send is not counted as forwarded */
	nn0 = conn_counter(IPPROTO_UDP, ANY_NN, 27015);
	s = harness_udp(CLIENT, 50000, ANY_NN, 27015);
	n = pkt_build(&s, pkt, sizeof(pkt));
	harness_run_on(pkt, n, H.ifindex, &r);
	harness_expect("no neighbour, not counted", &r, XDP_DROP, BF_R_NO_NEIGH);
	nn1 = conn_counter(IPPROTO_UDP, ANY_NN, 27015);
	assert_int_equal(nn1.in_packets, nn0.in_packets);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_edge_bpf__forward_udp_encapsulates),
		cmocka_unit_test(test_edge_bpf__forward_vlan_and_options),
		cmocka_unit_test(test_edge_bpf__forward_tcp_rewrites_machine_port),
		cmocka_unit_test(test_edge_bpf__forward_redirects_to_other_nic),
		cmocka_unit_test(test_edge_bpf__forward_route_failures),
		cmocka_unit_test(test_edge_bpf__conn_counters),
		cmocka_unit_test(test_edge_bpf__lists),
		cmocka_unit_test(test_edge_bpf__dry_run_passes_drops),
		cmocka_unit_test(test_edge_bpf__non_ipv4_passes),
		cmocka_unit_test(test_edge_bpf__malformed_dropped),
		cmocka_unit_test(test_edge_bpf__return_path_decapsulates),
		cmocka_unit_test(test_edge_bpf__return_path_restores_bind_port),
		cmocka_unit_test(test_edge_bpf__return_path_invalid),
		cmocka_unit_test(test_edge_bpf__punch_created_and_hit),
		cmocka_unit_test(test_edge_bpf__no_punch_to_whitelisted),
		cmocka_unit_test(test_edge_bpf__sweeper_removes_expired),
		cmocka_unit_test(test_edge_bpf__sweeper_walks_big_maps_in_bounded_steps),
		cmocka_unit_test(test_edge_bpf__conn_removal_is_applied),
	};

	if (geteuid() != 0) {
		fprintf(stderr, "test_edge_bpf needs root (BPF and network namespaces)\n");
		return 1;
	}
	return cmocka_run_group_tests_name("edge_bpf", tests, tables_setup, tables_teardown);
}
