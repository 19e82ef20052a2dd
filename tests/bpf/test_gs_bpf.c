/* test_gs_bpf.c - the game machine's programs (bpf/gs.bpf.c) through
 * bpf_prog_test_run_opts over packet tables: which IPIP the XDP ingress
 * decapsulates and records in gs_clients, which it drops and counts, and the
 * TC egress encapsulation back to the client's POP. Runs in a private network
 * namespace with veths, routes and static neighbours, so bpf_fib_lookup sees
 * a real routing table. Needs root. */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/pkt_cls.h>
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
#include "../../tools/common.h"
#include "gs.skel.h"
#include "../../tools/pktgen.h"

#define MACHINE "198.18.3.2"  /* this machine: POPs send IPIP here */
#define POP_A "192.0.2.11"    /* via t0, gateway GW_MAC */
#define POP_B "192.0.2.12"    /* via t0, gateway GW2_MAC; the default POP */
#define POP_C "192.0.2.13"    /* via t2 */
#define POP_NN "192.0.2.14"   /* via t0, gateway without a neighbour entry */
#define NOT_POP "192.0.2.99"  /* routed via t0 like the POPs, but no POP */
#define ANY "203.0.113.10"    /* anycast addresses served here */
#define ANY2 "203.0.113.11"
#define NOT_ANY "203.0.113.99"
#define OTHER "198.18.3.9"    /* neither this machine nor an anycast address */

static const uint8_t GW_MAC[6] = { 0x02, 0, 0, 0, 0, 0x02 };
static const uint8_t GW2_MAC[6] = { 0x02, 0, 0, 0, 0, 0x04 };
static const uint8_t BK_MAC[6] = { 0x02, 0, 0, 0, 0x06, 0x02 };

/* A setup command: the test program stops when one fails (said on stderr). */
#define sh(...)                                    \
	do {                                       \
		if (sh_run("setup", __VA_ARGS__))  \
			exit(1);                   \
	} while (0)

static struct gs_bpf *skel;
static int if_t0, if_t2, ncpu;
static uint8_t t0_mac[6], t2_mac[6];
static struct gs_config cfg;

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
	sh("ip addr add 198.18.0.1/24 dev t0 && ip addr add " MACHINE "/32 dev t0");
	sh("ip addr add 198.18.6.1/24 dev t2");
	sh("ip neigh replace 198.18.0.2 lladdr 02:00:00:00:00:02 dev t0 nud permanent");
	sh("ip neigh replace 198.18.0.4 lladdr 02:00:00:00:00:04 dev t0 nud permanent");
	sh("ip neigh replace 198.18.6.2 lladdr 02:00:00:00:06:02 dev t2 nud permanent");
	sh("ip route add default via 198.18.0.2 dev t0");
	sh("ip route add " POP_A "/32 via 198.18.0.2 dev t0");
	sh("ip route add " POP_B "/32 via 198.18.0.4 dev t0");
	sh("ip route add " POP_C "/32 via 198.18.6.2 dev t2");
	sh("ip route add " POP_NN "/32 via 198.18.0.3 dev t0");
	/* The kernel refuses FIB lookups on an interface without forwarding. */
	sh("sysctl -qw net.ipv4.conf.t0.forwarding=1 net.ipv4.conf.t2.forwarding=1");
	if_t0 = (int)if_nametoindex("t0");
	if_t2 = (int)if_nametoindex("t2");
	get_mac("t0", t0_mac);
	get_mac("t2", t2_mac);
}

static void set_config(void)
{
	__u32 zero = 0;

	assert_int_equal(bpf_map_update_elem(bpf_map__fd(skel->maps.gs_config), &zero, &cfg,
					     BPF_ANY), 0);
}

static void add_addr(struct bpf_map *m, const char *a)
{
	uint32_t k = pkt_ip(a), one = 1;

	if (bpf_map_update_elem(bpf_map__fd(m), &k, &one, BPF_ANY)) {
		fprintf(stderr, "map update: %s\n", strerror(errno));
		exit(1);
	}
}

static int group_setup(void **state)
{
	struct bpf_map *m;

	setup_netns();
	ncpu = libbpf_num_possible_cpus();
	skel = gs_bpf__open();
	if (!skel || ncpu <= 0)
		return -1;
	/* No pins: the test must not touch a running bifrost-gs's maps. */
	bpf_object__for_each_map(m, skel->obj)
		bpf_map__set_pin_path(m, NULL);
	if (gs_bpf__load(skel))
		return -1;
	cfg = (struct gs_config){ .machine_ip = pkt_ip(MACHINE), .default_pop = pkt_ip(POP_B),
				  .idle_ns = 300ULL * 1000000000ULL, .outer_ttl = 64 };
	set_config();
	add_addr(skel->maps.gs_pops, POP_A);
	add_addr(skel->maps.gs_pops, POP_B);
	add_addr(skel->maps.gs_pops, POP_C);
	add_addr(skel->maps.gs_pops, POP_NN);
	add_addr(skel->maps.gs_anycast, ANY);
	add_addr(skel->maps.gs_anycast, ANY2);
	return 0;
}

static int group_teardown(void **state)
{
	gs_bpf__destroy(skel);
	return 0;
}

/* ---- running one packet ---- */

struct result {
	int action;
	uint8_t out[4096];
	uint32_t out_len;
	uint64_t delta[GS_R_MAX]; /* packets per reason */
};

static void read_stats(uint64_t packets[GS_R_MAX])
{
	struct bf_counter per[ncpu];

	for (__u32 r = 0; r < GS_R_MAX; r++) {
		packets[r] = 0;
		assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(skel->maps.gs_stats), &r, per), 0);
		for (int c = 0; c < ncpu; c++)
			packets[r] += per[c].packets;
	}
}

static void run_prog(int prog_fd, const uint8_t *pkt, size_t len, void *ctx, size_t ctx_len,
		     struct result *r)
{
	uint64_t before[GS_R_MAX], after[GS_R_MAX];
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = pkt, .data_size_in = (__u32)len,
		    .data_out = r->out, .data_size_out = sizeof(r->out), .ctx_in = ctx,
		    .ctx_size_in = (__u32)ctx_len, .repeat = 1);

	read_stats(before);
	assert_int_equal(bpf_prog_test_run_opts(prog_fd, &opts), 0);
	read_stats(after);
	r->action = (int)opts.retval;
	r->out_len = opts.data_size_out;
	for (int i = 0; i < GS_R_MAX; i++)
		r->delta[i] = after[i] - before[i];
}

static void run_xdp(const uint8_t *pkt, size_t len, int ifindex, struct result *r)
{
	struct xdp_md ctx = { .data_end = (__u32)len, .ingress_ifindex = (__u32)ifindex };

	run_prog(bpf_program__fd(skel->progs.bifrost_gs_ingress), pkt, len, &ctx, sizeof(ctx), r);
}

static void run_tc(const uint8_t *pkt, size_t len, int ifindex, struct result *r)
{
	struct __sk_buff ctx = { .ifindex = (__u32)ifindex };

	run_prog(bpf_program__fd(skel->progs.bifrost_gs_egress), pkt, len, &ctx, sizeof(ctx), r);
}

static const char *reason_names[GS_R_MAX] = { GS_R_NAMES };

/* The verdict and exactly one counted reason (none when reason < 0). */
static void expect(const char *name, const struct result *r, int action, int reason)
{
	if (r->action != action)
		fail_msg("%s: verdict %d, want %d", name, r->action, action);
	for (int i = 0; i < GS_R_MAX; i++) {
		uint64_t want = i == reason ? 1 : 0;

		if (r->delta[i] != want)
			fail_msg("%s: counter %s rose by %llu, want %llu", name, reason_names[i],
				 (unsigned long long)r->delta[i], (unsigned long long)want);
	}
}

/* 0 and the client's record, or -errno when it has none. */
static int client_rec(const char *client, struct gs_client_val *v)
{
	uint32_t k = pkt_ip(client);

	return bpf_map_lookup_elem(bpf_map__fd(skel->maps.gs_clients), &k, v) ? -errno : 0;
}

static struct pkt_spec udp(const char *src, uint16_t sport, const char *dst, uint16_t dport)
{
	static const char payload[] = "bifrost gs test payload";
	struct pkt_spec s = {
		.saddr = pkt_ip(src), .daddr = pkt_ip(dst), .proto = IPPROTO_UDP,
		.sport = sport, .dport = dport, .frag = 0x4000, .tos = 0x28, .id = 0x1234,
		.payload = payload, .payload_len = sizeof(payload) - 1,
	};

	memcpy(s.dmac, t0_mac, 6);
	memcpy(s.smac, GW_MAC, 6);
	return s;
}

/* Outer header of IPIP from pop to dst, arriving on t0 or t2. */
static struct pkt_spec outer(const char *pop, const char *dst, int on_t2)
{
	struct pkt_spec o = { .saddr = pkt_ip(pop), .daddr = pkt_ip(dst), .frag = 0x4000,
			      .id = 0x4321 };

	memcpy(o.dmac, on_t2 ? t2_mac : t0_mac, 6);
	memcpy(o.smac, on_t2 ? BK_MAC : GW_MAC, 6);
	return o;
}

/* A decapsulated frame: a fresh Ethernet header with the original MACs and
 * EtherType IPv4, then the inner datagram byte for byte. */
static void check_decap(const char *name, const struct result *r, const uint8_t *frame,
			const uint8_t *inner, size_t inner_len)
{
	if (r->out_len != 14 + inner_len)
		fail_msg("%s: output is %u bytes, want %zu", name, r->out_len, 14 + inner_len);
	assert_memory_equal(r->out, frame, 12);
	assert_int_equal(r->out[12], 0x08);
	assert_int_equal(r->out[13], 0x00);
	assert_memory_equal(r->out + 14, inner, inner_len);
}

/* ---- ingress: the table ---- */

struct in_row {
	const char *name;
	const char *pop;       /* outer source */
	const char *outer_dst; /* NULL: MACHINE */
	const char *inner_dst; /* NULL: ANY */
	int on_t2;             /* arrives on t2 instead of t0 */
	int vlan, opt_words;   /* outer frame: 802.1Q tag, IPv4 option words */
	int action, reason;    /* XDP_PASS + GS_R_DECAP: decapsulated and recorded */
};

/* Each row has its own client, which must be recorded (with the row's POP)
 * exactly when the packet is decapsulated. */
static void run_in_rows(const struct in_row *rows, size_t n, int first_client)
{
	for (size_t i = 0; i < n; i++) {
		const struct in_row *w = &rows[i];
		char client[32];
		struct pkt_spec o = outer(w->pop, w->outer_dst ? w->outer_dst : MACHINE, w->on_t2);
		struct pkt_spec in;
		struct gs_client_val v;
		uint8_t pkt[512], inner[512];
		size_t len, ni;
		struct result r;
		int decap = w->action == XDP_PASS && w->reason == GS_R_DECAP;

		snprintf(client, sizeof(client), "198.51.100.%d", first_client + (int)i);
		in = udp(client, 50000, w->inner_dst ? w->inner_dst : ANY, 27015);
		o.vlan = w->vlan;
		o.vlan_id = 42;
		o.opt_words = w->opt_words;
		len = pkt_build_ipip(&o, &in, pkt, sizeof(pkt));
		ni = pkt_build_ip(&in, inner, sizeof(inner));
		assert_true(len && ni);
		assert_int_equal(client_rec(client, &v), -ENOENT);

		run_xdp(pkt, len, w->on_t2 ? if_t2 : if_t0, &r);
		expect(w->name, &r, w->action, w->reason);
		if (decap) {
			check_decap(w->name, &r, pkt, inner, ni);
			if (client_rec(client, &v))
				fail_msg("%s: client %s not recorded", w->name, client);
			if (v.pop_ip != pkt_ip(w->pop))
				fail_msg("%s: client recorded with the wrong POP", w->name);
		} else if (client_rec(client, &v) != -ENOENT) {
			fail_msg("%s: gs_clients written for a dropped packet", w->name);
		}
	}
}

static void test_gs_bpf__ingress_decapsulates_pop_ipip(void **state)
{
	static const struct in_row rows[] = {
		{ "from POP A on its link, to the machine, to an anycast address", POP_A, NULL,
		  NULL, 0, 0, 0, XDP_PASS, GS_R_DECAP },
		{ "second anycast address", POP_A, NULL, ANY2, 0, 0, 0, XDP_PASS, GS_R_DECAP },
		{ "VLAN tag", POP_A, NULL, NULL, 0, 1, 0, XDP_PASS, GS_R_DECAP },
		{ "outer IPv4 options", POP_A, NULL, NULL, 0, 0, 3, XDP_PASS, GS_R_DECAP },
		{ "VLAN tag and outer options", POP_B, NULL, NULL, 0, 1, 10, XDP_PASS, GS_R_DECAP },
		{ "POP C, routed via t2, arriving on t2", POP_C, NULL, NULL, 1, 0, 0, XDP_PASS,
		  GS_R_DECAP },
		{ "POP whose gateway is not resolved yet (NO_NEIGH)", POP_NN, NULL, NULL, 0, 0, 0,
		  XDP_PASS, GS_R_DECAP },
	};

	run_in_rows(rows, sizeof(rows) / sizeof(rows[0]), 10);
}

static void test_gs_bpf__ingress_drops_forged_ipip(void **state)
{
	static const struct in_row rows[] = {
		{ "outer destination is the anycast address", POP_A, ANY, NULL, 0, 0, 0, XDP_DROP,
		  GS_R_SPOOFED },
		{ "outer destination is another address", POP_A, OTHER, NULL, 0, 0, 0, XDP_DROP,
		  GS_R_SPOOFED },
		{ "outer destination is another POP", POP_A, POP_B, NULL, 0, 0, 0, XDP_DROP,
		  GS_R_SPOOFED },
		{ "inner destination not served here", POP_A, NULL, NOT_ANY, 0, 0, 0, XDP_DROP,
		  GS_R_SPOOFED },
		{ "inner destination is the machine", POP_A, NULL, MACHINE, 0, 0, 0, XDP_DROP,
		  GS_R_SPOOFED },
		{ "POP A (routed via t0) arriving on t2", POP_A, NULL, NULL, 1, 0, 0, XDP_DROP,
		  GS_R_SPOOFED },
		{ "POP C (routed via t2) arriving on t0", POP_C, NULL, NULL, 0, 0, 0, XDP_DROP,
		  GS_R_SPOOFED },
		{ "wrong interface, with a VLAN tag and options", POP_A, NULL, NULL, 1, 1, 2,
		  XDP_DROP, GS_R_SPOOFED },
		{ "outer source is no POP", NOT_POP, NULL, NULL, 0, 0, 0, XDP_DROP,
		  GS_R_IPIP_FOREIGN },
		{ "outer source is the client itself", "198.51.100.200", NULL, NULL, 0, 0, 0,
		  XDP_DROP, GS_R_IPIP_FOREIGN },
		{ "outer source is the machine", MACHINE, NULL, NULL, 0, 0, 0, XDP_DROP,
		  GS_R_IPIP_FOREIGN },
	};

	run_in_rows(rows, sizeof(rows) / sizeof(rows[0]), 40);
}

/* ---- ingress: the rest ---- */

static void test_gs_bpf__ingress_bad_inner_dropped(void **state)
{
	struct pkt_spec o = outer(POP_A, MACHINE, 0);
	struct pkt_spec in = udp("198.51.100.70", 50000, ANY, 27015);
	struct gs_client_val v;
	uint8_t good[512], p[512];
	size_t n = pkt_build_ipip(&o, &in, good, sizeof(good));
	struct result r;

#define BAD(name, len, mutate, reason)                              \
	do {                                                        \
		memcpy(p, good, n);                                 \
		mutate;                                             \
		run_xdp(p, (len), if_t0, &r);                       \
		expect(name, &r, XDP_DROP, reason);                 \
	} while (0)

	BAD("inner header truncated", 14 + 20 + 10, (p[14 + 2] = 0, p[14 + 3] = 30), GS_R_BAD_INNER);
	BAD("inner IHL 4", n, (p[14 + 20] = 0x44), GS_R_BAD_INNER);
	BAD("inner version 6", n, (p[14 + 20] = 0x65), GS_R_BAD_INNER);
	BAD("inner length past the outer payload", n, (p[14 + 20 + 2] = 0x04), GS_R_BAD_INNER);
	BAD("inner UDP length past the datagram", n, (p[14 + 20 + 20 + 4] = 0x10), GS_R_BAD_INNER);
	BAD("outer fragment (more fragments)", n, (p[14 + 6] = 0x20), GS_R_BAD_INNER);
	BAD("outer fragment (offset)", n, (p[14 + 6] = 0x00, p[14 + 7] = 0x08), GS_R_BAD_INNER);
	BAD("inner fragment", n, (p[14 + 20 + 6] = 0x20), GS_R_BAD_INNER);
	/* Checks on the outer header come first: a forged packet is spoofed. */
	BAD("bad inner, outer destination wrong", n, (p[14 + 20] = 0x44, p[14 + 19] ^= 1),
	    GS_R_SPOOFED);
	BAD("outer fragment from no POP", n, (p[14 + 6] = 0x20, p[14 + 15] = 99),
	    GS_R_IPIP_FOREIGN);
#undef BAD
	assert_int_equal(client_rec("198.51.100.70", &v), -ENOENT);
}

static void test_gs_bpf__ingress_non_ipip_passes(void **state)
{
	struct pkt_spec s = udp("198.51.100.80", 50000, MACHINE, 22);
	uint8_t pkt[512], arp[42] = { 0 };
	size_t n = pkt_build(&s, pkt, sizeof(pkt));
	struct gs_client_val v;
	struct result r;

	run_xdp(pkt, n, if_t0, &r);
	expect("UDP to the machine", &r, XDP_PASS, GS_R_PASS);
	assert_int_equal(r.out_len, n);
	assert_memory_equal(r.out, pkt, n);

	/* From a POP's address too: only IPIP is the tunnel. */
	s = udp(POP_A, 50000, MACHINE, 22);
	n = pkt_build(&s, pkt, sizeof(pkt));
	run_xdp(pkt, n, if_t0, &r);
	expect("UDP from a POP to the machine", &r, XDP_PASS, GS_R_PASS);

	s = udp("198.51.100.80", 50000, ANY, 27015);
	s.proto = IPPROTO_TCP;
	n = pkt_build(&s, pkt, sizeof(pkt));
	run_xdp(pkt, n, if_t2, &r);
	expect("TCP to the anycast address, other interface", &r, XDP_PASS, GS_R_PASS);

	arp[12] = 0x08;
	arp[13] = 0x06;
	run_xdp(arp, sizeof(arp), if_t0, &r);
	expect("ARP", &r, XDP_PASS, GS_R_PASS);
	assert_int_equal(client_rec("198.51.100.80", &v), -ENOENT);
}

/* The kernel answers FWD_DISABLED to a lookup on an interface with
 * forwarding off: the reverse path cannot be checked, so IPIP is dropped. */
static void test_gs_bpf__ingress_forwarding_off_fails_closed(void **state)
{
	struct pkt_spec o = outer(POP_A, MACHINE, 0);
	struct pkt_spec in = udp("198.51.100.90", 50000, ANY, 27015);
	struct gs_client_val v;
	uint8_t pkt[512];
	size_t n = pkt_build_ipip(&o, &in, pkt, sizeof(pkt));
	struct result r;

	sh("sysctl -qw net.ipv4.conf.t0.forwarding=0");
	run_xdp(pkt, n, if_t0, &r);
	sh("sysctl -qw net.ipv4.conf.t0.forwarding=1");
	expect("forwarding off on the ingress interface", &r, XDP_DROP, GS_R_SPOOFED);
	assert_int_equal(client_rec("198.51.100.90", &v), -ENOENT);
	run_xdp(pkt, n, if_t0, &r);
	expect("forwarding on again", &r, XDP_PASS, GS_R_DECAP);
}

/* A client recorded via POP A stays with A whatever forged IPIP claims. */
static void test_gs_bpf__forged_ipip_never_moves_a_client(void **state)
{
	static const char *x = "198.51.100.100";
	struct pkt_spec in = udp(x, 50000, ANY, 27015);
	struct gs_client_val before, after;
	struct {
		const char *name, *pop, *dst, *inner_dst;
		int on_t2, reason;
	} forged[] = {
		{ "POP B's source on t2", POP_B, MACHINE, ANY, 1, GS_R_SPOOFED },
		{ "POP B's source to the anycast address", POP_B, ANY, ANY, 0, GS_R_SPOOFED },
		{ "POP B's source, inner not to an anycast address", POP_B, MACHINE, NOT_ANY, 0,
		  GS_R_SPOOFED },
		{ "POP C's source on t0", POP_C, MACHINE, ANY, 0, GS_R_SPOOFED },
		{ "a source that is no POP", NOT_POP, MACHINE, ANY, 0, GS_R_IPIP_FOREIGN },
	};
	uint8_t pkt[512];
	size_t n;
	struct pkt_spec o = outer(POP_A, MACHINE, 0);
	struct result r;

	n = pkt_build_ipip(&o, &in, pkt, sizeof(pkt));
	run_xdp(pkt, n, if_t0, &r);
	expect("X via POP A", &r, XDP_PASS, GS_R_DECAP);
	assert_int_equal(client_rec(x, &before), 0);
	assert_int_equal(before.pop_ip, pkt_ip(POP_A));
	/* An entry older than a second is rewritten by the next valid packet;
	 * an old timestamp shows whether a forged one rewrote it. */
	before.seen_ns = 1;
	assert_int_equal(bpf_map_update_elem(bpf_map__fd(skel->maps.gs_clients),
					     &(uint32_t){ pkt_ip(x) }, &before, BPF_EXIST), 0);

	for (size_t i = 0; i < sizeof(forged) / sizeof(forged[0]); i++) {
		o = outer(forged[i].pop, forged[i].dst, forged[i].on_t2);
		in.daddr = pkt_ip(forged[i].inner_dst);
		n = pkt_build_ipip(&o, &in, pkt, sizeof(pkt));
		run_xdp(pkt, n, forged[i].on_t2 ? if_t2 : if_t0, &r);
		expect(forged[i].name, &r, XDP_DROP, forged[i].reason);
		assert_int_equal(client_rec(x, &after), 0);
		if (after.pop_ip != pkt_ip(POP_A) || after.seen_ns != 1)
			fail_msg("%s: the record of X changed", forged[i].name);
	}

	/* A real packet via POP B moves X (the check is not a freeze). */
	o = outer(POP_B, MACHINE, 0);
	in.daddr = pkt_ip(ANY);
	n = pkt_build_ipip(&o, &in, pkt, sizeof(pkt));
	run_xdp(pkt, n, if_t0, &r);
	expect("X via POP B", &r, XDP_PASS, GS_R_DECAP);
	assert_int_equal(client_rec(x, &after), 0);
	assert_int_equal(after.pop_ip, pkt_ip(POP_B));
}

/* ---- egress ---- */

/* An encapsulated reply: the Ethernet header the route to the POP gives,
 * outer IPv4 fields and checksum, the inner datagram byte for byte. */
static void check_encap(const char *name, const struct result *r, const uint8_t *dmac,
			const char *pop, const uint8_t *inner, size_t inner_len)
{
	const uint8_t *o = r->out + 14;
	uint32_t src, dst;

	if (r->out_len != 14 + 20 + inner_len)
		fail_msg("%s: output is %u bytes, want %zu", name, r->out_len, 14 + 20 + inner_len);
	assert_memory_equal(r->out, dmac, 6);
	assert_memory_equal(r->out + 6, t0_mac, 6);
	assert_int_equal(r->out[12], 0x08);
	assert_int_equal(r->out[13], 0x00);
	assert_int_equal(o[0], 0x45);                      /* version 4, IHL 5 */
	assert_int_equal(o[1], inner[1]);                  /* TOS copied */
	assert_int_equal(o[2] << 8 | o[3], 20 + inner_len); /* total length */
	assert_int_equal(o[6], 0x40);                      /* DF copied, so ID 0 */
	assert_int_equal(o[4] << 8 | o[5], 0);
	assert_int_equal(o[8], cfg.outer_ttl);
	assert_int_equal(o[9], IPPROTO_IPIP);
	memcpy(&src, o + 12, 4);
	memcpy(&dst, o + 16, 4);
	if (src != pkt_ip(MACHINE) || dst != pkt_ip(pop))
		fail_msg("%s: outer addresses wrong", name);
	if (pkt_csum(o, 20) != 0)
		fail_msg("%s: outer IPv4 checksum wrong", name);
	assert_memory_equal(o + 20, inner, inner_len);
}

/* A reply as the kernel hands it to TC egress on t0: routed to the client
 * through the default gateway. */
static size_t reply(const char *src, const char *client, uint8_t *pkt, size_t cap,
		    uint8_t *inner, size_t *ni)
{
	struct pkt_spec s = udp(src, 27015, client, 50000);

	memcpy(s.dmac, GW_MAC, 6);
	memcpy(s.smac, t0_mac, 6);
	*ni = pkt_build_ip(&s, inner, 512);
	return pkt_build(&s, pkt, cap);
}

static void record(const char *client, const char *pop, uint64_t seen_ns)
{
	struct gs_client_val v = { .pop_ip = pkt_ip(pop), .seen_ns = seen_ns };
	uint32_t k = pkt_ip(client);

	assert_int_equal(bpf_map_update_elem(bpf_map__fd(skel->maps.gs_clients), &k, &v, BPF_ANY),
			 0);
}

/* test_run gives the skb the device of ctx.ifindex, so the program's route
 * lookup towards the POP runs as on t0. */
static void test_gs_bpf__egress_encapsulates_to_client_pop(void **state)
{
	uint8_t pkt[512], inner[512];
	size_t n, ni;
	struct pkt_spec o = outer(POP_A, MACHINE, 0);
	struct pkt_spec in = udp("198.51.100.110", 50000, ANY, 27015);
	struct result r;

	/* Learned by the ingress program, as in production. */
	n = pkt_build_ipip(&o, &in, pkt, sizeof(pkt));
	run_xdp(pkt, n, if_t0, &r);
	expect("client via POP A", &r, XDP_PASS, GS_R_DECAP);

	n = reply(ANY, "198.51.100.110", pkt, sizeof(pkt), inner, &ni);
	run_tc(pkt, n, if_t0, &r);
	expect("reply to a client of POP A", &r, TC_ACT_OK, GS_R_ENCAP);
	check_encap("reply to a client of POP A", &r, GW_MAC, POP_A, inner, ni);

	/* POP B sits behind another gateway: the frame goes to that one. */
	record("198.51.100.111", POP_B, 0);
	n = reply(ANY2, "198.51.100.111", pkt, sizeof(pkt), inner, &ni);
	run_tc(pkt, n, if_t0, &r);
	expect("reply to a client of POP B", &r, TC_ACT_OK, GS_R_ENCAP);
	check_encap("reply to a client of POP B", &r, GW2_MAC, POP_B, inner, ni);
}

static void test_gs_bpf__egress_unknown_or_idle_client_to_default_pop(void **state)
{
	uint8_t pkt[512], inner[512];
	size_t n, ni;
	struct result r;

	/* cfg.default_pop is POP B */
	n = reply(ANY, "198.51.100.120", pkt, sizeof(pkt), inner, &ni);
	run_tc(pkt, n, if_t0, &r);
	expect("reply to a client never seen", &r, TC_ACT_OK, GS_R_ENCAP);
	check_encap("reply to a client never seen", &r, GW2_MAC, POP_B, inner, ni);

	/* Seen via POP A at 1 ns after boot, with a 1 ms idle limit: too old. */
	record("198.51.100.121", POP_A, 1);
	cfg.idle_ns = 1000000;
	set_config();
	n = reply(ANY, "198.51.100.121", pkt, sizeof(pkt), inner, &ni);
	run_tc(pkt, n, if_t0, &r);
	cfg.idle_ns = 300ULL * 1000000000ULL;
	set_config();
	expect("reply to an idle client", &r, TC_ACT_OK, GS_R_ENCAP);
	check_encap("reply to an idle client", &r, GW2_MAC, POP_B, inner, ni);
}

static void test_gs_bpf__egress_other_traffic_and_no_pop(void **state)
{
	uint8_t pkt[512], inner[512];
	size_t n, ni;
	struct result r;

	/* Not from an anycast address: the machine's own traffic, untouched. */
	n = reply(MACHINE, "198.51.100.130", pkt, sizeof(pkt), inner, &ni);
	run_tc(pkt, n, if_t0, &r);
	expect("from the machine's address", &r, TC_ACT_OK, -1);
	assert_int_equal(r.out_len, n);
	assert_memory_equal(r.out, pkt, n);

	/* No POP for the client and no default: dropped. */
	cfg.default_pop = 0;
	set_config();
	n = reply(ANY, "198.51.100.131", pkt, sizeof(pkt), inner, &ni);
	run_tc(pkt, n, if_t0, &r);
	cfg.default_pop = pkt_ip(POP_B);
	set_config();
	expect("no POP known, no default", &r, TC_ACT_SHOT, GS_R_NO_POP);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gs_bpf__ingress_decapsulates_pop_ipip),
		cmocka_unit_test(test_gs_bpf__ingress_drops_forged_ipip),
		cmocka_unit_test(test_gs_bpf__ingress_bad_inner_dropped),
		cmocka_unit_test(test_gs_bpf__ingress_non_ipip_passes),
		cmocka_unit_test(test_gs_bpf__ingress_forwarding_off_fails_closed),
		cmocka_unit_test(test_gs_bpf__forged_ipip_never_moves_a_client),
		cmocka_unit_test(test_gs_bpf__egress_encapsulates_to_client_pop),
		cmocka_unit_test(test_gs_bpf__egress_unknown_or_idle_client_to_default_pop),
		cmocka_unit_test(test_gs_bpf__egress_other_traffic_and_no_pop),
	};

	if (geteuid() != 0) {
		fprintf(stderr, "test_gs_bpf needs root (BPF and network namespaces)\n");
		return 1;
	}
	return cmocka_run_group_tests_name("gs_bpf", tests, group_setup, group_teardown);
}
