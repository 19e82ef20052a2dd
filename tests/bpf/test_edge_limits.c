/* test_edge_limits.c - per-source rate limits, protected prefixes and ICMP
 * echo of the edge XDP program through bpf_prog_test_run_opts over packet
 * tables: the verdict, the output bytes, the counters and the ban events.
 * Needs root. */
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

static void test_edge_limits__ratelimit_pps_blocks_once(void **state)
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

static void test_edge_limits__ratelimit_bps(void **state)
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

static void test_edge_limits__ratelimit_police_only(void **state)
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
static void test_edge_limits__ratelimit_burst_across_a_second(void **state)
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

static void test_edge_limits__ratelimit_dry_run(void **state)
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
static void test_edge_limits__protected_never_banned_but_policed(void **state)
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
	assert_int_equal(H.maps.refused_protected, refused + 2);
	assert_true(edge_maps_protected(&H.maps, a));
	assert_false(edge_maps_protected(&H.maps, pkt_ip(CLIENT)));
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

static void test_edge_limits__reconcile_skips_protected(void **state)
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
static void test_edge_limits__icmp_echo_checksums(void **state)
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

static void test_edge_limits__icmp_echo_answered(void **state)
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

static void test_edge_limits__icmp_echo_limits(void **state)
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
		cmocka_unit_test(test_edge_limits__ratelimit_pps_blocks_once),
		cmocka_unit_test(test_edge_limits__ratelimit_bps),
		cmocka_unit_test(test_edge_limits__ratelimit_police_only),
		cmocka_unit_test(test_edge_limits__ratelimit_burst_across_a_second),
		cmocka_unit_test(test_edge_limits__ratelimit_dry_run),
		cmocka_unit_test(test_edge_limits__protected_never_banned_but_policed),
		cmocka_unit_test(test_edge_limits__reconcile_skips_protected),
		cmocka_unit_test(test_edge_limits__icmp_echo_checksums),
		cmocka_unit_test(test_edge_limits__icmp_echo_answered),
		cmocka_unit_test(test_edge_limits__icmp_echo_limits),
	};

	if (geteuid() != 0) {
		fprintf(stderr, "test_edge_limits needs root (BPF and network namespaces)\n");
		return 1;
	}
	return cmocka_run_group_tests_name("edge_limits", tests, group_setup, group_teardown);
}
