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
#include "edge.skel.h"
#include "../edge/maps.h"
#include "../edge/stats.h"
#include "pktgen.h"

#define EDGE_ADDR "192.0.2.11"
#define ANY_A "203.0.113.10"   /* udp+tcp -> machine A (via t0: XDP_TX) */
#define ANY_B "203.0.113.20"   /* udp -> machine B (via t2: redirect) */
#define ANY_BIG "203.0.113.30" /* udp -> machine behind a 600-byte MTU route */
#define ANY_NN "203.0.113.40"  /* udp -> machine whose next hop is unresolved */
#define MACH_A "198.18.3.2"
#define MACH_B "198.18.5.2"
#define MACH_BIG "198.18.7.2"
#define MACH_NN "198.18.8.2"
#define CLIENT "198.51.100.77"
#define WL_CLIENT "198.51.100.5" /* whitelisted, inside a blacklisted /29 */
#define REMOTE "198.51.100.34"

static const uint8_t GW_MAC[6] = { 0x02, 0, 0, 0, 0, 0x02 };
static const uint8_t BK_MAC[6] = { 0x02, 0, 0, 0, 0x06, 0x02 };

static struct edge_bpf *skel;
static struct edge_maps maps;
static int if_t0, if_t2, if_t4; /* t0, t2: backend interfaces; t4: an uplink only */
static uint8_t t0_mac[6], t2_mac[6];

static void sh(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (system(cmd) != 0) {
		fprintf(stderr, "setup command failed: %s\n", cmd);
		exit(1);
	}
}

static void get_mac(const char *ifname, uint8_t mac[6])
{
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (fd < 0 || ioctl(fd, SIOCGIFHWADDR, &ifr)) {
		perror("SIOCGIFHWADDR");
		exit(1);
	}
	memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	close(fd);
}

static void setup_netns(void)
{
	if (unshare(CLONE_NEWNET)) {
		perror("unshare(CLONE_NEWNET) (run as root)");
		exit(1);
	}
	sh("ip link set lo up");
	sh("ip link add t0 type veth peer name t1 && ip link set t0 up && ip link set t1 up");
	sh("ip link add t2 type veth peer name t3 && ip link set t2 up && ip link set t3 up");
	sh("ip link add t4 type veth peer name t5 && ip link set t4 up && ip link set t5 up");
	sh("ip addr add 198.18.0.1/24 dev t0 && ip addr add 198.18.6.1/24 dev t2");
	sh("ip addr add 198.18.10.1/24 dev t4");
	sh("ip neigh replace 198.18.0.2 lladdr 02:00:00:00:00:02 dev t0 nud permanent");
	sh("ip neigh replace 198.18.6.2 lladdr 02:00:00:00:06:02 dev t2 nud permanent");
	sh("ip route add default via 198.18.0.2 dev t0");
	sh("ip route add 198.18.5.0/24 via 198.18.6.2 dev t2");
	sh("ip route add 198.18.7.0/24 via 198.18.0.2 dev t0 mtu lock 600");
	sh("ip route add 198.18.8.0/24 via 198.18.0.3 dev t0");
	sh("sysctl -qw net.ipv4.conf.all.forwarding=1 net.ipv4.conf.t0.forwarding=1 "
	   "net.ipv4.conf.t2.forwarding=1");
	if_t0 = (int)if_nametoindex("t0");
	if_t2 = (int)if_nametoindex("t2");
	if_t4 = (int)if_nametoindex("t4");
	get_mac("t0", t0_mac);
	get_mac("t2", t2_mac);
}

static struct bf_cidr cidr(const char *s)
{
	struct bf_cidr c;

	if (bf_parse_cidr(s, false, &c))
		abort();
	return c;
}

#define CONF_IFACES "iface t0\niface t2\niface t4\n"
#define CONF_BACKENDS "backend_iface t0\nbackend_iface t2\n"

static void config_text(const char *more, int dry_run);

static void config_maps(int dry_run)
{
	config_text(CONF_BACKENDS, dry_run);
}

static void config_text(const char *more, int dry_run)
{
	struct edge_config cfg;
	char err[256], text[2048];
	const char *base = "id test\n" CONF_IFACES "addr " EDGE_ADDR "\n"
			   "conn udp " ANY_A ":27015 " MACH_A "\n"
			   "conn tcp " ANY_A ":27015 " MACH_A ":27016\n"
			   "conn udp " ANY_B ":27015 " MACH_B "\n"
			   "conn udp " ANY_BIG ":27015 " MACH_BIG "\n"
			   "conn udp " ANY_NN ":27015 " MACH_NN "\n"
			   "whitelist 198.51.100.0/28\n"
			   "blacklist 198.51.100.0/29\n"
			   "blacklist 198.19.1.0/24\n"
			   "blacklist 198.19.9.9/32\n";

	snprintf(text, sizeof(text), "%s%s", base, more);
	edge_config_init(&cfg);
	if (edge_config_parse(&cfg, text, "test", err, sizeof(err)))
		fail_msg("config: %s", err);
	cfg.dry_run = dry_run;
	assert_int_equal(edge_maps_write_config(&maps, &cfg), 0);
	{
		uint32_t *locals;
		size_t nl;

		assert_int_equal(edge_local_addrs(&locals, &nl), 0);
		assert_int_equal(edge_maps_apply_conns(&maps, cfg.conns, cfg.n_conns, locals, nl), 0);
		free(locals);
	}
	assert_int_equal(edge_maps_list_reconcile(&maps, EDGE_WL, cfg.wl, cfg.n_wl, BF_SRC_CONFIG), 0);
	assert_int_equal(edge_maps_list_reconcile(&maps, EDGE_BL, cfg.bl, cfg.n_bl, BF_SRC_CONFIG), 0);
	edge_config_free(&cfg);
}

static int group_setup(void **state)
{
	struct bpf_map *m;
	struct edge_map_fds fd;
	struct bf_cidr expired = cidr("198.19.2.0/24");
	struct bf_list_val blk = { .expires_ns = 0 };
	uint32_t blocked = pkt_ip("198.19.3.3");

	setup_netns();
	skel = edge_bpf__open();
	if (!skel)
		return -1;
	/* No pins: the test must not touch a running edge's maps. */
	bpf_object__for_each_map(m, skel->obj)
		bpf_map__set_pin_path(m, NULL);
	if (edge_bpf__load(skel))
		return -1;
	edge_map_fds_from_object(skel->obj, &fd);
	if (edge_maps_init(&maps, &fd))
		return -1;
	config_maps(0);
	/* An entry whose deadline has passed (1 ns after boot) must not match. */
	if (edge_maps_list_add(&maps, EDGE_BL, &expired, 1, BF_SRC_LOCAL))
		return -1;
	if (bpf_map_update_elem(fd.blocklist, &blocked, &blk, BPF_ANY))
		return -1;
	return 0;
}

static int group_teardown(void **state)
{
	edge_bpf__destroy(skel);
	return 0;
}

/* ---- running one packet ---- */

struct result {
	int action;
	uint8_t out[4096];
	uint32_t out_len;
	struct bf_counter delta[BF_R_MAX];
};

static void run(const uint8_t *pkt, size_t len, int ifindex, struct result *r)
{
	struct xdp_md ctx = { .data_end = (__u32)len, .ingress_ifindex = (__u32)ifindex };
	struct bf_counter before[BF_R_MAX], after[BF_R_MAX];
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = pkt, .data_size_in = (__u32)len,
		    .data_out = r->out, .data_size_out = sizeof(r->out), .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .repeat = 1);

	assert_int_equal(edge_maps_read_stats(&maps.fd, before), 0);
	assert_int_equal(bpf_prog_test_run_opts(bpf_program__fd(skel->progs.bifrost_edge), &opts), 0);
	assert_int_equal(edge_maps_read_stats(&maps.fd, after), 0);
	r->action = (int)opts.retval;
	r->out_len = opts.data_size_out;
	for (int i = 0; i < BF_R_MAX; i++) {
		r->delta[i].packets = after[i].packets - before[i].packets;
		r->delta[i].bytes = after[i].bytes - before[i].bytes;
	}
}

static const char *reason_names[BF_R_MAX] = { BF_R_NAMES };
static const char *action_names[] = { "ABORTED", "DROP", "PASS", "TX", "REDIRECT" };

/* The verdict and exactly one counted reason (plus punch_new where a punch is made). */
static void expect(const char *name, const struct result *r, int action, int reason)
{
	if (r->action != action) {
		for (int i = 0; i < BF_R_MAX; i++)
			if (r->delta[i].packets)
				fprintf(stderr, "%s: counter %s moved\n", name, reason_names[i]);
		fail_msg("%s: action %s, want %s", name, action_names[r->action],
			 action_names[action]);
	}
	for (int i = 0; i < BF_R_MAX; i++) {
		uint64_t want = i == reason ? 1 : 0;

		if (i == BF_R_PUNCH_NEW || i == BF_R_PUNCH_REFUSED ||
		    (i == BF_R_WOULD_DROP && reason != BF_R_WOULD_DROP))
			continue;
		if (r->delta[i].packets != want)
			fail_msg("%s: counter %s rose by %llu, want %llu", name, reason_names[i],
				 (unsigned long long)r->delta[i].packets, (unsigned long long)want);
	}
}

static struct pkt_spec udp_to(const char *src, uint16_t sport, const char *dst, uint16_t dport)
{
	static const char payload[] = "bifrost test payload";
	struct pkt_spec s = {
		.saddr = pkt_ip(src), .daddr = pkt_ip(dst), .proto = IPPROTO_UDP,
		.sport = sport, .dport = dport, .frag = 0x4000, .tos = 0x28, .id = 0x1234,
		.payload = payload, .payload_len = sizeof(payload) - 1,
	};

	memcpy(s.dmac, t0_mac, 6);
	memcpy(s.smac, GW_MAC, 6);
	return s;
}

/* The outer source of what the edge sends its machines: its backend address. */
static const char *outer_src = EDGE_ADDR;

/* Checks an encapsulated frame: new Ethernet header, outer IPv4 fields and
 * checksum, and the inner datagram equal to `inner` byte for byte. */
static void check_encap(const char *name, const struct result *r, const uint8_t *dmac,
			const uint8_t *smac, const char *machine, const uint8_t *inner,
			size_t inner_len, int df)
{
	const uint8_t *o = r->out + 14;
	uint32_t src, dst;

	assert_int_equal(r->out_len, 14 + 20 + inner_len);
	assert_memory_equal(r->out, dmac, 6);
	assert_memory_equal(r->out + 6, smac, 6);
	assert_int_equal(r->out[12], 0x08);
	assert_int_equal(r->out[13], 0x00);
	assert_int_equal(o[0], 0x45);
	assert_int_equal(o[1], inner[1]);                  /* TOS copied */
	assert_int_equal(o[2] << 8 | o[3], 20 + inner_len); /* total length */
	if (df) {
		assert_int_equal(o[6], 0x40);              /* DF copied, ID 0 */
		assert_int_equal(o[4] << 8 | o[5], 0);
	} else {
		assert_int_equal(o[6] & 0x40, 0);
	}
	assert_int_equal(o[8], 64);                        /* outer TTL */
	assert_int_equal(o[9], IPPROTO_IPIP);
	memcpy(&src, o + 12, 4);
	memcpy(&dst, o + 16, 4);
	assert_int_equal(src, pkt_ip(outer_src));
	assert_int_equal(dst, pkt_ip(machine));
	if (pkt_csum(o, 20) != 0)
		fail_msg("%s: outer IPv4 checksum wrong", name);
	assert_memory_equal(o + 20, inner, inner_len);
}

/* ---- forwarding ---- */

static void test_edge_bpf__forward_udp_encapsulates(void **state)
{
	struct pkt_spec s = udp_to(CLIENT, 50000, ANY_A, 27015);
	uint8_t pkt[256];
	size_t n = pkt_build(&s, pkt, sizeof(pkt));
	struct result r;

	run(pkt, n, if_t0, &r);
	expect("udp forward", &r, XDP_TX, BF_R_FORWARD);
	check_encap("udp forward", &r, GW_MAC, t0_mac, MACH_A, pkt + 14, n - 14, 1);

	/* Without DF the outer header has no DF either. */
	s.frag = 0;
	n = pkt_build(&s, pkt, sizeof(pkt));
	run(pkt, n, if_t0, &r);
	expect("udp forward no DF", &r, XDP_TX, BF_R_FORWARD);
	check_encap("udp forward no DF", &r, GW_MAC, t0_mac, MACH_A, pkt + 14, n - 14, 0);
}

static void test_edge_bpf__forward_vlan_and_options(void **state)
{
	struct pkt_spec s = udp_to(CLIENT, 50000, ANY_A, 27015);
	uint8_t pkt[256];
	size_t n;
	struct result r;

	s.vlan = 1;
	s.vlan_id = 42;
	n = pkt_build(&s, pkt, sizeof(pkt));
	run(pkt, n, if_t0, &r);
	expect("vlan forward", &r, XDP_TX, BF_R_FORWARD);
	check_encap("vlan forward", &r, GW_MAC, t0_mac, MACH_A, pkt + 18, n - 18, 1);

	s.vlan = 0;
	s.opt_words = 3; /* IHL 8 */
	n = pkt_build(&s, pkt, sizeof(pkt));
	run(pkt, n, if_t0, &r);
	expect("ip options forward", &r, XDP_TX, BF_R_FORWARD);
	check_encap("ip options forward", &r, GW_MAC, t0_mac, MACH_A, pkt + 14, n - 14, 1);
}

static void test_edge_bpf__forward_tcp_rewrites_machine_port(void **state)
{
	struct pkt_spec s = udp_to(CLIENT, 50000, ANY_A, 27015);
	uint8_t pkt[256], want[256];
	size_t n;
	struct result r;

	s.proto = IPPROTO_TCP;
	n = pkt_build(&s, pkt, sizeof(pkt));
	s.dport = 27016;
	pkt_build(&s, want, sizeof(want));
	run(pkt, n, if_t0, &r);
	expect("tcp forward", &r, XDP_TX, BF_R_FORWARD);
	/* The inner packet is the original with port 27016 and a valid checksum. */
	check_encap("tcp forward", &r, GW_MAC, t0_mac, MACH_A, want + 14, n - 14, 1);
	assert_int_equal(pkt_l4_csum(r.out + 14 + 20), 0);
}

static void test_edge_bpf__forward_redirects_to_other_nic(void **state)
{
	struct pkt_spec s = udp_to(CLIENT, 50000, ANY_B, 27015);
	uint8_t pkt[256];
	size_t n = pkt_build(&s, pkt, sizeof(pkt));
	struct result r;

	run(pkt, n, if_t0, &r);
	expect("redirect", &r, XDP_REDIRECT, BF_R_FORWARD);
	check_encap("redirect", &r, BK_MAC, t2_mac, MACH_B, pkt + 14, n - 14, 1);
}

static void test_edge_bpf__forward_route_failures(void **state)
{
	static uint8_t big[1000];
	struct pkt_spec s = udp_to(CLIENT, 50000, ANY_BIG, 27015);
	uint8_t pkt[1200];
	size_t n;
	struct result r;

	s.payload = big;
	s.payload_len = sizeof(big);
	n = pkt_build(&s, pkt, sizeof(pkt));
	run(pkt, n, if_t0, &r);
	expect("too big", &r, XDP_DROP, BF_R_TOO_BIG);

	s = udp_to(CLIENT, 50000, ANY_NN, 27015);
	n = pkt_build(&s, pkt, sizeof(pkt));
	run(pkt, n, if_t0, &r);
	expect("no neighbour", &r, XDP_DROP, BF_R_NO_NEIGH);
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
		struct pkt_spec s = udp_to(rows[i].src, 40000, rows[i].dst, rows[i].dport);
		uint8_t pkt[256];
		size_t len = pkt_build(&s, pkt, sizeof(pkt));
		struct result r;

		run(pkt, len, if_t0, &r);
		expect(rows[i].name, &r, rows[i].action, rows[i].reason);
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
	struct pkt_spec s = udp_to("198.19.9.9", 1, ANY_A, 27015);
	uint8_t pkt[256];
	struct result r;

	config_maps(1);
	run_rows(rows, 2);
	run(pkt, pkt_build(&s, pkt, sizeof(pkt)), if_t0, &r);
	assert_int_equal(r.delta[BF_R_WOULD_DROP].packets, 1);
	config_maps(0);
	run(pkt, pkt_build(&s, pkt, sizeof(pkt)), if_t0, &r);
	expect("dry-run off again", &r, XDP_DROP, BF_R_BLACKLIST);
	assert_int_equal(r.delta[BF_R_WOULD_DROP].packets, 0);
}

/* ---- non-IPv4 and malformed input ---- */

static void test_edge_bpf__non_ipv4_passes(void **state)
{
	uint8_t arp[42] = { 0 }, v6[54] = { 0 };
	struct result r;

	arp[12] = 0x08;
	arp[13] = 0x06;
	run(arp, sizeof(arp), if_t0, &r);
	expect("arp", &r, XDP_PASS, BF_R_NON_IPV4);
	v6[12] = 0x86;
	v6[13] = 0xdd;
	run(v6, sizeof(v6), if_t0, &r);
	expect("ipv6", &r, XDP_PASS, BF_R_NON_IPV4);
}

static void test_edge_bpf__malformed_dropped(void **state)
{
	struct pkt_spec u = udp_to(CLIENT, 50000, ANY_A, 27015), t = u;
	uint8_t good[256], tcp[256], p[256];
	size_t n = pkt_build(&u, good, sizeof(good)), nt;
	struct result r;

	t.proto = IPPROTO_TCP;
	nt = pkt_build(&t, tcp, sizeof(tcp));

#define MALFORMED(name, len, mutate, reason)                        \
	do {                                                        \
		memcpy(p, good, n);                                 \
		mutate;                                             \
		run(p, (len), if_t0, &r);                           \
		expect(name, &r, XDP_DROP, reason);                 \
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
	run(p, 14 + 30, if_t0, &r);
	expect("truncated tcp header", &r, XDP_DROP, BF_R_MALFORMED);
	memcpy(p, tcp, nt);
	p[14 + 20 + 12] = 0x40; /* doff 4 */
	run(p, nt, if_t0, &r);
	expect("tcp doff below 5", &r, XDP_DROP, BF_R_MALFORMED);
	memcpy(p, tcp, nt);
	p[14 + 20 + 12] = 0xf0; /* doff 15: past the datagram */
	run(p, nt, if_t0, &r);
	expect("tcp doff past the datagram", &r, XDP_DROP, BF_R_MALFORMED);

	/* Ethernet padding after the datagram is fine. */
	memcpy(p, good, n);
	memset(p + n, 0xee, 20);
	run(p, n + 20, if_t0, &r);
	expect("padding after the datagram", &r, XDP_TX, BF_R_FORWARD);
#undef MALFORMED
}

/* ---- return path and punches ---- */

static struct pkt_spec from_machine(const char *machine)
{
	struct pkt_spec o = { .saddr = pkt_ip(machine), .daddr = pkt_ip(EDGE_ADDR),
			      .frag = 0x4000 };

	memcpy(o.dmac, t0_mac, 6);
	memcpy(o.smac, GW_MAC, 6);
	return o;
}

static void test_edge_bpf__return_path_decapsulates(void **state)
{
	struct pkt_spec o = from_machine(MACH_A);
	struct pkt_spec in = udp_to(ANY_A, 27015, CLIENT, 50000);
	uint8_t pkt[256], inner[256];
	size_t n = pkt_build_ipip(&o, &in, pkt, sizeof(pkt));
	size_t ni = pkt_build_ip(&in, inner, sizeof(inner));
	struct result r;

	run(pkt, n, if_t0, &r);
	expect("return udp", &r, XDP_TX, BF_R_RETURN_PATH);
	assert_int_equal(r.delta[BF_R_PUNCH_NEW].packets, 0); /* a connection's reply */
	assert_int_equal(r.out_len, 14 + ni);
	assert_memory_equal(r.out, GW_MAC, 6);
	assert_memory_equal(r.out + 6, t0_mac, 6);
	assert_memory_equal(r.out + 14, inner, ni);

	/* Outer header with options and a VLAN tag: still decapsulated exactly. */
	o.opt_words = 2;
	o.vlan = 1;
	n = pkt_build_ipip(&o, &in, pkt, sizeof(pkt));
	run(pkt, n, if_t0, &r);
	expect("return with outer options", &r, XDP_TX, BF_R_RETURN_PATH);
	assert_int_equal(r.out_len, 14 + ni);
	assert_memory_equal(r.out + 14, inner, ni);
}

static void test_edge_bpf__return_path_restores_bind_port(void **state)
{
	struct pkt_spec o = from_machine(MACH_A);
	struct pkt_spec in = udp_to(ANY_A, 27016, CLIENT, 50000), want = in;
	uint8_t pkt[256], w[256];
	size_t n, nw;
	struct result r;

	in.proto = want.proto = IPPROTO_TCP;
	want.sport = 27015;
	n = pkt_build_ipip(&o, &in, pkt, sizeof(pkt));
	nw = pkt_build_ip(&want, w, sizeof(w));
	run(pkt, n, if_t0, &r);
	expect("return tcp mapped port", &r, XDP_TX, BF_R_RETURN_PATH);
	assert_int_equal(r.delta[BF_R_PUNCH_NEW].packets, 0);
	assert_memory_equal(r.out + 14, w, nw);
	assert_int_equal(pkt_l4_csum(r.out + 14), 0);
}

static void test_edge_bpf__return_path_invalid(void **state)
{
	struct pkt_spec o = from_machine(MACH_A);
	struct pkt_spec in = udp_to(ANY_B, 27015, CLIENT, 50000); /* B's address, from A */
	uint8_t pkt[256];
	size_t n = pkt_build_ipip(&o, &in, pkt, sizeof(pkt));
	struct result r;

	run(pkt, n, if_t0, &r);
	expect("machine sends for an address it does not serve", &r, XDP_DROP,
	       BF_R_RETURN_INVALID);

	in = udp_to(ANY_A, 27015, CLIENT, 50000);
	n = pkt_build_ipip(&o, &in, pkt, sizeof(pkt));
	pkt[14 + 20] = 0x44; /* inner IHL 4 */
	run(pkt, n, if_t0, &r);
	expect("bad inner header", &r, XDP_DROP, BF_R_MALFORMED);
	n = pkt_build_ipip(&o, &in, pkt, sizeof(pkt));
	pkt[14 + 20 + 2] = 0x04; /* inner total length past the outer payload */
	run(pkt, n, if_t0, &r);
	expect("inner length past the outer payload", &r, XDP_DROP, BF_R_MALFORMED);
	n = pkt_build_ipip(&o, &in, pkt, sizeof(pkt));
	run(pkt, 14 + 20 + 10, if_t0, &r);
	expect("truncated inner header", &r, XDP_DROP, BF_R_MALFORMED);

	/* IPIP from a stranger is no return path: dropped, whatever it carries. */
	o = from_machine("198.18.99.9");
	o.daddr = pkt_ip("203.0.113.99");
	n = pkt_build_ipip(&o, &in, pkt, sizeof(pkt));
	run(pkt, n, if_t0, &r);
	expect("ipip from an unknown host", &r, XDP_DROP, BF_R_IPIP_REFUSED);
}

/* ---- the trust boundary of the return path ---- */

static size_t punch_count(void)
{
	struct bf_punch_key *k;
	struct bf_punch_val *v;
	size_t n;

	assert_int_equal(edge_map_dump(maps.fd.punches, sizeof(*k), sizeof(*v), (void **)&k,
				       (void **)&v, &n), 0);
	free(k);
	free(v);
	return n;
}

struct ipip_row {
	const char *name;
	const char *outer_src, *outer_dst;
	int *ifindex;          /* the interface it arrives on */
	int action, reason;
};

/* Every field of an IPIP packet can be forged: only a machine's, arriving on
 * the backend interface its route leaves by, addressed to the backend
 * address, is the return path. A forged one is relayed nowhere and makes no
 * punch, even for a port the attacker names (TCP/22 here). */
static void test_edge_bpf__ipip_only_where_it_can_come_from(void **state)
{
	static const struct ipip_row rows[] = {
		{ "machine A on its backend interface", MACH_A, EDGE_ADDR, &if_t0, XDP_TX,
		  BF_R_RETURN_PATH },
		{ "machine B on its backend interface", MACH_B, EDGE_ADDR, &if_t2, XDP_REDIRECT,
		  BF_R_RETURN_PATH },
		{ "A's source on the uplink", MACH_A, EDGE_ADDR, &if_t4, XDP_DROP,
		  BF_R_RETURN_SPOOFED },
		{ "A's source on a backend interface its route does not use", MACH_A, EDGE_ADDR,
		  &if_t2, XDP_DROP, BF_R_RETURN_SPOOFED },
		{ "B's source on A's interface", MACH_B, EDGE_ADDR, &if_t0, XDP_DROP,
		  BF_R_RETURN_SPOOFED },
		{ "A's source to the anycast address", MACH_A, ANY_A, &if_t0, XDP_DROP,
		  BF_R_RETURN_SPOOFED },
		{ "A's source to an interface address", MACH_A, "198.18.6.1", &if_t0, XDP_DROP,
		  BF_R_RETURN_SPOOFED },
		{ "A's source to the anycast address on the uplink", MACH_A, ANY_A, &if_t4,
		  XDP_DROP, BF_R_RETURN_SPOOFED },
		{ "a stranger to the POP", "198.51.100.99", EDGE_ADDR, &if_t4, XDP_DROP,
		  BF_R_IPIP_REFUSED },
		{ "a stranger on a backend interface", "198.18.0.77", EDGE_ADDR, &if_t0, XDP_DROP,
		  BF_R_IPIP_REFUSED },
		{ "a stranger to an address not served", "198.51.100.99", "203.0.113.99", &if_t4,
		  XDP_DROP, BF_R_IPIP_REFUSED },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct pkt_spec o = from_machine(rows[i].outer_src);
		/* From the bind address, from port 22 that is no connection: a
		 * return path would learn a punch for it. */
		struct pkt_spec in = udp_to(rows[i].outer_src[7] == '5' ? ANY_B : ANY_A, 22, CLIENT,
					    50000 + (uint16_t)i);
		uint8_t pkt[256], inner[256];
		size_t before = punch_count(), n, ni;
		struct result r;

		in.proto = IPPROTO_TCP;
		o.daddr = pkt_ip(rows[i].outer_dst);
		n = pkt_build_ipip(&o, &in, pkt, sizeof(pkt));
		ni = pkt_build_ip(&in, inner, sizeof(inner));
		run(pkt, n, *rows[i].ifindex, &r);
		expect(rows[i].name, &r, rows[i].action, rows[i].reason);
		if (rows[i].action == XDP_DROP) {
			assert_int_equal(r.delta[BF_R_PUNCH_NEW].packets, 0);
			assert_int_equal(punch_count(), before);
		} else {
			assert_int_equal(r.delta[BF_R_PUNCH_NEW].packets, 1);
			assert_int_equal(punch_count(), before + 1);
			assert_int_equal(r.out_len, 14 + ni);
			assert_memory_equal(r.out + 14, inner, ni);
		}
	}
}

/* backend_addr: the machines send to it, it is the outer source of what
 * the edge sends them, and IPIP to the POP's public address is refused. */
static void test_edge_bpf__backend_addr(void **state)
{
	struct pkt_spec o = from_machine(MACH_A);
	struct pkt_spec in = udp_to(ANY_A, 27015, CLIENT, 50000);
	struct pkt_spec s = udp_to(CLIENT, 50000, ANY_A, 27015);
	uint8_t pkt[256];
	size_t n;
	struct result r;

	config_text(CONF_BACKENDS "backend_addr 198.18.0.1\n", 0);
	n = pkt_build_ipip(&o, &in, pkt, sizeof(pkt));
	run(pkt, n, if_t0, &r);
	expect("to the public address", &r, XDP_DROP, BF_R_RETURN_SPOOFED);
	o.daddr = pkt_ip("198.18.0.1");
	n = pkt_build_ipip(&o, &in, pkt, sizeof(pkt));
	run(pkt, n, if_t0, &r);
	expect("to the backend address", &r, XDP_TX, BF_R_RETURN_PATH);
	n = pkt_build(&s, pkt, sizeof(pkt));
	run(pkt, n, if_t0, &r);
	expect("forward from the backend address", &r, XDP_TX, BF_R_FORWARD);
	outer_src = "198.18.0.1";
	check_encap("forward from the backend address", &r, GW_MAC, t0_mac, MACH_A, pkt + 14,
		    n - 14, 1);
	outer_src = EDGE_ADDR;
	config_maps(0);
}

/* A machine is accepted only on a backend interface its route leaves by;
 * when the route moves, the edge follows within a refresh. */
static void test_edge_bpf__machine_route_follows(void **state)
{
	struct pkt_spec o = from_machine(MACH_A);
	struct pkt_spec in = udp_to(ANY_A, 27015, CLIENT, 50000);
	uint8_t pkt[256];
	size_t n = pkt_build_ipip(&o, &in, pkt, sizeof(pkt));
	uint32_t a = pkt_ip(MACH_A);
	struct bf_machine m;
	struct result r;

	/* Only t2 is a backend interface: A (routed by t0) is refused everywhere. */
	config_text("backend_iface t2\n", 0);
	assert_int_equal(bpf_map_lookup_elem(maps.fd.machines, &a, &m), 0);
	assert_int_equal(m.ifindex, 0);
	run(pkt, n, if_t0, &r);
	expect("route not by a backend interface", &r, XDP_DROP, BF_R_RETURN_SPOOFED);
	config_maps(0);

	/* The route to A moves to t2: the return path follows it. */
	sh("ip route add %s/32 via 198.18.6.2 dev t2", MACH_A);
	assert_int_equal(edge_machines_refresh(&maps.mach), 1);
	run(pkt, n, if_t0, &r);
	expect("old interface after the move", &r, XDP_DROP, BF_R_RETURN_SPOOFED);
	run(pkt, n, if_t2, &r);
	expect("new interface after the move", &r, XDP_REDIRECT, BF_R_RETURN_PATH);
	sh("ip route del %s/32", MACH_A);
	assert_int_equal(edge_machines_refresh(&maps.mach), 1);
	run(pkt, n, if_t0, &r);
	expect("back on t0", &r, XDP_TX, BF_R_RETURN_PATH);
}

/* Each machine has a budget of live punches: past it, new punches are
 * refused (the game server's packets still go out) and the ones carrying
 * traffic stay; an expired one gives its room back. */
static void test_edge_bpf__punch_budget(void **state)
{
	struct pkt_spec o = from_machine(MACH_B);
	struct result r;
	struct bf_punch_key k0;
	struct bf_punch_val v;
	struct edge_sweep_stats st;
	uint8_t pkt[256], text[128];
	uint64_t base = edge_machine_punches(&maps.mach, pkt_ip(MACH_B));
	size_t n;

	/* Room for three more than B holds from the tests before. */
	snprintf((char *)text, sizeof(text), CONF_BACKENDS "punch_max_per_machine %llu\n",
		 (unsigned long long)base + 3);
	config_text((char *)text, 0);
	for (uint16_t i = 0; i < 5; i++) {
		struct pkt_spec out = udp_to(ANY_B, 41000 + i, REMOTE, 5000);

		n = pkt_build_ipip(&o, &out, pkt, sizeof(pkt));
		run(pkt, n, if_t2, &r);
		expect("game server calls out", &r, XDP_REDIRECT, BF_R_RETURN_PATH);
		assert_int_equal(r.delta[BF_R_PUNCH_NEW].packets, i < 3);
		assert_int_equal(r.delta[BF_R_PUNCH_REFUSED].packets, i >= 3);
	}
	assert_int_equal(edge_machine_punches(&maps.mach, pkt_ip(MACH_B)), base + 3);
	/* A refused flow has no hole; a counted one has. */
	{
		struct pkt_spec in = udp_to(REMOTE, 5000, ANY_B, 41004);

		n = pkt_build(&in, pkt, sizeof(pkt));
		run(pkt, n, if_t0, &r);
		expect("reply to a refused punch", &r, XDP_DROP, BF_R_DEFAULT_DROP);
		in.dport = 41000;
		n = pkt_build(&in, pkt, sizeof(pkt));
		run(pkt, n, if_t0, &r);
		expect("reply to a live punch", &r, XDP_REDIRECT, BF_R_PUNCH_HIT);
	}
	/* Peers' punches count against the same budget. */
	k0 = (struct bf_punch_key){ .bind_ip = pkt_ip(ANY_B), .remote_ip = pkt_ip(REMOTE),
				    .bind_port = htons(41000), .remote_port = htons(5000),
				    .proto = IPPROTO_UDP };
	{
		struct bf_punch_key k = k0;

		k.bind_port = htons(42000);
		assert_int_equal(edge_punch_put(&maps.mach, &k, pkt_ip(MACH_B), edge_mono_ns() + 60e9),
				 -EDQUOT);
		/* One expires and is swept: room for one more. */
		assert_int_equal(bpf_map_lookup_elem(maps.fd.punches, &k0, &v), 0);
		v.expires_ns = 1;
		assert_int_equal(bpf_map_update_elem(maps.fd.punches, &k0, &v, BPF_EXIST), 0);
		assert_int_equal(edge_maps_sweep(&maps, edge_mono_ns(), &st), 0);
		assert_true(st.punches >= 1);
		assert_int_equal(edge_machine_punches(&maps.mach, pkt_ip(MACH_B)), base + 2);
		assert_int_equal(edge_punch_put(&maps.mach, &k, pkt_ip(MACH_B), edge_mono_ns() + 60e9),
				 0);
		assert_int_equal(edge_machine_punches(&maps.mach, pkt_ip(MACH_B)), base + 3);
		assert_int_equal(edge_punch_del(&maps.mach, &k), 0);
		assert_int_equal(edge_machine_punches(&maps.mach, pkt_ip(MACH_B)), base + 2);
	}
	config_maps(0);
}

/* A peer's punch (from Redis, writable by whoever reaches it) must name one
 * of this POP's machines, serving the punch's bind address. */
static void test_edge_bpf__peer_punch_must_name_a_machine(void **state)
{
	struct bf_punch_key k = { .bind_ip = pkt_ip(ANY_A), .remote_ip = pkt_ip(REMOTE),
				  .bind_port = htons(22), .remote_port = htons(6000),
				  .proto = IPPROTO_TCP };
	struct pkt_spec in = udp_to(REMOTE, 6000, ANY_A, 22);
	uint64_t exp = edge_mono_ns() + 60000000000ULL, unknown = maps.mach.refused_unknown,
		 served = maps.mach.refused_served;
	struct bf_punch_val v;
	uint8_t pkt[256];
	struct result r;

	in.proto = IPPROTO_TCP;
	assert_int_equal(edge_punch_put(&maps.mach, &k, pkt_ip("198.51.100.66"), exp), -ENOENT);
	assert_int_equal(maps.mach.refused_unknown, unknown + 1);
	assert_int_equal(edge_punch_put(&maps.mach, &k, pkt_ip(MACH_B), exp), -EPERM);
	assert_int_equal(maps.mach.refused_served, served + 1);
	assert_int_not_equal(bpf_map_lookup_elem(maps.fd.punches, &k, &v), 0);
	run(pkt, pkt_build(&in, pkt, sizeof(pkt)), if_t0, &r);
	expect("no hole from a refused peer punch", &r, XDP_DROP, BF_R_DEFAULT_DROP);
	assert_int_equal(edge_punch_put(&maps.mach, &k, pkt_ip(MACH_A), exp), 0);
	run(pkt, pkt_build(&in, pkt, sizeof(pkt)), if_t0, &r);
	expect("a valid peer punch", &r, XDP_TX, BF_R_PUNCH_HIT);
	assert_int_equal(edge_punch_del(&maps.mach, &k), 0);
}

/* ---- checksums and tags: nothing forwarded that the receiver would refuse ---- */

static void test_edge_bpf__ipv4_checksum(void **state)
{
	struct pkt_spec s = udp_to(CLIENT, 50000, ANY_A, 27015);
	uint8_t pkt[256];
	size_t n;
	struct result r;

	n = pkt_build(&s, pkt, sizeof(pkt));
	pkt[14 + 10] ^= 0x01;
	run(pkt, n, if_t0, &r);
	expect("bad header checksum to a connection", &r, XDP_DROP, BF_R_BAD_CSUM);
	s.saddr = pkt_ip(WL_CLIENT);
	n = pkt_build(&s, pkt, sizeof(pkt));
	pkt[14 + 11] ^= 0x80;
	run(pkt, n, if_t0, &r);
	expect("bad header checksum, whitelisted", &r, XDP_DROP, BF_R_BAD_CSUM);
	s.saddr = pkt_ip(CLIENT);
	s.opt_words = 2;
	n = pkt_build(&s, pkt, sizeof(pkt));
	pkt[14 + 20] = 0x02; /* an option byte changed: the sum no longer holds */
	run(pkt, n, if_t0, &r);
	expect("bad checksum over options", &r, XDP_DROP, BF_R_BAD_CSUM);
	n = pkt_build(&s, pkt, sizeof(pkt));
	run(pkt, n, if_t0, &r);
	expect("good checksum over options", &r, XDP_TX, BF_R_FORWARD);
	/* A drop needs no checksum: the cheap verdict stays the verdict. */
	s = udp_to(CLIENT, 50000, "203.0.113.99", 27015);
	n = pkt_build(&s, pkt, sizeof(pkt));
	pkt[14 + 10] ^= 0x01;
	run(pkt, n, if_t0, &r);
	expect("bad checksum, address not served", &r, XDP_DROP, BF_R_DEFAULT_DROP);
}

/* QinQ (802.1ad + 802.1Q) is parsed like one tag; a third tag is malformed:
 * no tag may hide an IPv4 packet from the filters. */
static void test_edge_bpf__qinq(void **state)
{
	struct pkt_spec s = udp_to(CLIENT, 50000, ANY_A, 27015);
	uint8_t one[256], pkt[256];
	size_t n = pkt_build(&s, one, sizeof(one));
	struct result r;

	/* [dst src][88a8 tci][8100 tci][0800][ip] */
	memcpy(pkt, one, 12);
	memcpy(pkt + 12, "\x88\xa8\x00\x64\x81\x00\x00\x2a", 8);
	memcpy(pkt + 20, one + 12, n - 12);
	run(pkt, n + 8, if_t0, &r);
	expect("qinq forward", &r, XDP_TX, BF_R_FORWARD);
	check_encap("qinq forward", &r, GW_MAC, t0_mac, MACH_A, one + 14, n - 14, 1);

	s.saddr = pkt_ip("198.19.9.9"); /* blacklisted */
	n = pkt_build(&s, one, sizeof(one));
	memcpy(pkt + 20, one + 12, n - 12);
	run(pkt, n + 8, if_t0, &r);
	expect("qinq from a blacklisted source", &r, XDP_DROP, BF_R_BLACKLIST);

	/* three tags */
	memcpy(pkt, one, 12);
	memcpy(pkt + 12, "\x88\xa8\x00\x64\x81\x00\x00\x2a\x81\x00\x00\x2b", 12);
	memcpy(pkt + 24, one + 12, n - 12);
	run(pkt, n + 12, if_t0, &r);
	expect("three tags", &r, XDP_DROP, BF_R_MALFORMED);
	/* two tags, then something that is not IPv4: still passed (ARP in QinQ) */
	memcpy(pkt + 12, "\x88\xa8\x00\x64\x81\x00\x00\x2a\x08\x06", 10);
	run(pkt, 64, if_t0, &r);
	expect("arp in qinq", &r, XDP_PASS, BF_R_NON_IPV4);
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
	struct pkt_spec out = udp_to(ANY_A, 40000, REMOTE, 5000);
	struct pkt_spec reply = udp_to(REMOTE, 5000, ANY_A, 40000);
	struct bf_punch_key key = { .bind_ip = pkt_ip(ANY_A), .remote_ip = pkt_ip(REMOTE),
				    .bind_port = htons(40000), .remote_port = htons(5000),
				    .proto = IPPROTO_UDP };
	struct bf_punch_val v;
	struct ring_buffer *rb;
	uint8_t pkt[256];
	size_t n;
	struct result r;
	int events = 0;

	rb = ring_buffer__new(maps.fd.events, count_punch_events, &events, NULL);
	assert_non_null(rb);
	ring_buffer__consume(rb);
	events = 0;

	/* Before the game server calls out, the remote is dropped. */
	n = pkt_build(&reply, pkt, sizeof(pkt));
	run(pkt, n, if_t0, &r);
	expect("remote before the punch", &r, XDP_DROP, BF_R_DEFAULT_DROP);

	n = pkt_build_ipip(&o, &out, pkt, sizeof(pkt));
	run(pkt, n, if_t0, &r);
	expect("game server calls out", &r, XDP_TX, BF_R_RETURN_PATH);
	assert_int_equal(r.delta[BF_R_PUNCH_NEW].packets, 1);
	assert_int_equal(bpf_map_lookup_elem(maps.fd.punches, &key, &v), 0);
	assert_int_equal(v.machine_ip, pkt_ip(MACH_A));
	assert_true(v.expires_ns > edge_mono_ns() + 100ULL * 1000000000ULL);
	ring_buffer__consume(rb);
	assert_int_equal(events, 1);

	/* A second packet of the flow is not reported again (rate bound). */
	run(pkt, n, if_t0, &r);
	expect("flow continues", &r, XDP_TX, BF_R_RETURN_PATH);
	assert_int_equal(r.delta[BF_R_PUNCH_NEW].packets, 0);
	ring_buffer__consume(rb);
	assert_int_equal(events, 1);

	n = pkt_build(&reply, pkt, sizeof(pkt));
	run(pkt, n, if_t0, &r);
	expect("remote replies", &r, XDP_TX, BF_R_PUNCH_HIT);
	check_encap("remote replies", &r, GW_MAC, t0_mac, MACH_A, pkt + 14, n - 14, 1);

	reply.sport = 5001;
	n = pkt_build(&reply, pkt, sizeof(pkt));
	run(pkt, n, if_t0, &r);
	expect("other remote port", &r, XDP_DROP, BF_R_DEFAULT_DROP);

	/* An expired punch stops matching before the sweeper removes it. */
	v.expires_ns = 1;
	assert_int_equal(bpf_map_update_elem(maps.fd.punches, &key, &v, BPF_EXIST), 0);
	reply.sport = 5000;
	n = pkt_build(&reply, pkt, sizeof(pkt));
	run(pkt, n, if_t0, &r);
	expect("expired punch", &r, XDP_DROP, BF_R_DEFAULT_DROP);
	ring_buffer__free(rb);
}

static void test_edge_bpf__no_punch_to_whitelisted(void **state)
{
	struct pkt_spec o = from_machine(MACH_A);
	struct pkt_spec out = udp_to(ANY_A, 40001, WL_CLIENT, 5000);
	struct bf_punch_key key = { .bind_ip = pkt_ip(ANY_A), .remote_ip = pkt_ip(WL_CLIENT),
				    .bind_port = htons(40001), .remote_port = htons(5000),
				    .proto = IPPROTO_UDP };
	struct bf_punch_val v;
	uint8_t pkt[256];
	size_t n = pkt_build_ipip(&o, &out, pkt, sizeof(pkt));
	struct result r;

	run(pkt, n, if_t0, &r);
	expect("call out to a whitelisted host", &r, XDP_TX, BF_R_RETURN_PATH);
	assert_int_equal(r.delta[BF_R_PUNCH_NEW].packets, 0);
	assert_int_not_equal(bpf_map_lookup_elem(maps.fd.punches, &key, &v), 0);
}

static void test_edge_bpf__sweeper_removes_expired(void **state)
{
	struct edge_sweep_stats st;
	struct bf_cidr c = cidr("198.19.2.0/24");
	struct bf_cidr_key k = { .plen = 24, .addr = c.addr };
	struct bf_list_val v;

	assert_int_equal(bpf_map_lookup_elem(maps.fd.blacklist, &k, &v), 0);
	assert_int_equal(edge_maps_sweep(&maps, edge_mono_ns(), &st), 0);
	assert_true(st.blacklist >= 1);
	assert_int_not_equal(bpf_map_lookup_elem(maps.fd.blacklist, &k, &v), 0);
	/* The /24 bit stays: 198.19.1.0/24 is still there. */
	assert_true(maps.conf.bl_plen_mask & (1ULL << 24));
}

/* 100000 expired /32s: each sweep walks a bounded share of the map and
 * resumes where it stopped; a few sweeps empty it, and live entries stay. */
static void test_edge_bpf__sweeper_walks_big_maps_in_bounded_steps(void **state)
{
	const unsigned n = 100000;
	uint64_t past = edge_mono_ns() - 1, total = 0;
	struct edge_sweep_stats st;
	struct bf_cidr live = cidr("198.19.1.0/24");
	struct bf_cidr_key lk = { .plen = 24, .addr = live.addr };
	struct bf_list_val v;
	uint32_t before = maps.plen_count[EDGE_BL][32];
	int sweeps = 0;

	for (unsigned i = 0; i < n; i++) {
		struct bf_cidr c = { .addr = htonl(0xf0000000u + i), .plen = 32 };

		assert_int_equal(edge_maps_list_add(&maps, EDGE_BL, &c, past, BF_SRC_FLEET), 0);
	}
	do {
		assert_int_equal(edge_maps_sweep(&maps, edge_mono_ns(), &st), 0);
		/* Never the whole map in one call: the cost of a tick is bounded. */
		assert_true(st.blacklist < n);
		total += st.blacklist;
		sweeps++;
	} while (st.blacklist && sweeps < 10);
	assert_int_equal(total, n);
	assert_true(sweeps >= 2);
	assert_int_equal(maps.plen_count[EDGE_BL][32], before);
	assert_int_equal(!!(maps.conf.bl_plen_mask & (1ULL << 32)), before > 0);
	assert_int_equal(bpf_map_lookup_elem(maps.fd.blacklist, &lk, &v), 0);
}

static void test_edge_bpf__conn_removal_is_applied(void **state)
{
	struct bf_conn one;
	char err[128];
	struct pkt_spec s = udp_to(CLIENT, 50000, ANY_B, 27015);
	uint8_t pkt[256];
	size_t n = pkt_build(&s, pkt, sizeof(pkt));
	struct result r;
	uint32_t mb = pkt_ip(MACH_B), cnt;

	assert_int_equal(bf_conn_parse("udp", ANY_A ":27015", MACH_A, &one, err, sizeof(err)), 0);
	assert_int_equal(edge_maps_apply_conns(&maps, &one, 1, NULL, 0), 0);
	run(pkt, n, if_t0, &r);
	expect("removed connection", &r, XDP_DROP, BF_R_DEFAULT_DROP);
	assert_int_not_equal(bpf_map_lookup_elem(maps.fd.machines, &mb, &cnt), 0);
	config_maps(0);
	run(pkt, n, if_t0, &r);
	expect("connection back", &r, XDP_REDIRECT, BF_R_FORWARD);
}

/* ---- per-connection counters ---- */

static struct bf_conn_counter conn_counter(uint8_t proto, const char *bind, uint16_t port)
{
	struct bf_conn_key k = { .bind_ip = pkt_ip(bind), .bind_port = htons(port), .proto = proto };
	struct edge_stats_sample s;
	const struct edge_conn_sample *c;
	struct bf_conn_counter v = { 0 };

	assert_int_equal(edge_stats_read(&maps.fd, &s), 0);
	c = edge_stats_conn(&s, &k);
	if (c)
		v = c->c;
	edge_stats_sample_free(&s);
	return v;
}

static void test_edge_bpf__conn_counters(void **state)
{
	struct pkt_spec s = udp_to(CLIENT, 50001, ANY_A, 27015);
	struct pkt_spec o = from_machine(MACH_A);
	struct pkt_spec in = udp_to(ANY_A, 27015, CLIENT, 50001);
	struct bf_conn_counter c0 = conn_counter(IPPROTO_UDP, ANY_A, 27015), c1, nn0, nn1;
	uint8_t pkt[256];
	size_t n = pkt_build(&s, pkt, sizeof(pkt));
	struct result r;

	run(pkt, n, if_t0, &r);
	expect("counted forward", &r, XDP_TX, BF_R_FORWARD);
	run(pkt, n, if_t0, &r);
	c1 = conn_counter(IPPROTO_UDP, ANY_A, 27015);
	assert_int_equal(c1.in_packets - c0.in_packets, 2);
	assert_int_equal(c1.in_bytes - c0.in_bytes, 2 * (n - 14)); /* IP bytes, no Ethernet */
	assert_int_equal(c1.out_packets, c0.out_packets);

	/* a reply of the connection on the return path counts out */
	n = pkt_build_ipip(&o, &in, pkt, sizeof(pkt));
	run(pkt, n, if_t0, &r);
	expect("counted reply", &r, XDP_TX, BF_R_RETURN_PATH);
	c0 = conn_counter(IPPROTO_UDP, ANY_A, 27015);
	assert_int_equal(c0.out_packets - c1.out_packets, 1);
	assert_int_equal(c0.out_bytes - c1.out_bytes, n - 14 - 20); /* the inner packet */
	assert_int_equal(c0.in_packets, c1.in_packets);

	/* what encapsulation could not send is not counted as forwarded */
	nn0 = conn_counter(IPPROTO_UDP, ANY_NN, 27015);
	s = udp_to(CLIENT, 50000, ANY_NN, 27015);
	n = pkt_build(&s, pkt, sizeof(pkt));
	run(pkt, n, if_t0, &r);
	expect("no neighbour, not counted", &r, XDP_DROP, BF_R_NO_NEIGH);
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
		cmocka_unit_test(test_edge_bpf__ipip_only_where_it_can_come_from),
		cmocka_unit_test(test_edge_bpf__backend_addr),
		cmocka_unit_test(test_edge_bpf__machine_route_follows),
		cmocka_unit_test(test_edge_bpf__punch_budget),
		cmocka_unit_test(test_edge_bpf__peer_punch_must_name_a_machine),
		cmocka_unit_test(test_edge_bpf__ipv4_checksum),
		cmocka_unit_test(test_edge_bpf__qinq),
	};

	if (geteuid() != 0) {
		fprintf(stderr, "test_edge_bpf needs root (BPF and network namespaces)\n");
		return 1;
	}
	return cmocka_run_group_tests_name("edge_bpf", tests, group_setup, group_teardown);
}
