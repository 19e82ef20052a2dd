/* test_edge_a2s.c - the A2S cache's data plane: the XDP redirect decision as a packet
 * table (bpf_prog_test_run_opts), with and without a worker socket, and the AF_XDP
 * workers end to end (a UDP client in a second private namespace across a veth). Needs
 * root (network namespaces, native XDP on veth, AF_XDP). */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xdp/xsk.h>
#include <cmocka.h>

#include "a2s.h"
#include "edge.skel.h"
#include "edge_harness.h"
#include "../../edge/a2s_workers.h"

#define ANY "203.0.113.10" /* udp + tcp 27015: the A2S-enabled game server */
#define MACH "198.18.3.2"
#define CLIENT "198.51.100.77"

#define BASE                                                                      \
	"id test\niface t0\naddr " H_EDGE_ADDR "\n"                               \
	"conn udp " ANY ":27015 " MACH "\n"                                       \
	"conn tcp " ANY ":27015 " MACH "\n"

static int group_setup(void **state)
{
	if (harness_setup())
		return -1;
	harness_config(BASE);
	return 0;
}

static int group_teardown(void **state)
{
	harness_teardown();
	return 0;
}

/* Sets the BF_CONN_F_A2S_* bits of a connection as the daemon would. */
static void conn_flags(uint8_t proto, const char *ip, uint16_t port, uint16_t a2s)
{
	struct bf_conn_key k = { .bind_ip = pkt_ip(ip), .bind_port = htons(port), .proto = proto };
	struct bf_conn_val v;

	assert_int_equal(bpf_map_lookup_elem(H.maps.fd.conns, &k, &v), 0);
	v.flags = (uint16_t)((v.flags & ~(BF_CONN_F_A2S_ANY | BF_CONN_F_SOURCE)) | a2s);
	assert_int_equal(bpf_map_update_elem(H.maps.fd.conns, &k, &v, BPF_EXIST), 0);
}

/* The forward path, unchanged: XDP_TX of the frame encapsulated to MACH. */
static void expect_forward(const char *name, const struct result *r, const uint8_t *pkt,
			   size_t n)
{
	uint32_t dst;

	harness_expect(name, r, XDP_TX, BF_R_FORWARD);
	if (r->out_len != n + 20)
		fail_msg("%s: output of %u bytes, want %zu", name, r->out_len, n + 20);
	assert_int_equal(r->out[14 + 9], IPPROTO_IPIP);
	memcpy(&dst, r->out + 14 + 16, 4);
	assert_int_equal(dst, pkt_ip(MACH));
	if (memcmp(r->out + 34, pkt + 14, n - 14))
		fail_msg("%s: the encapsulated datagram differs from the request", name);
}

/* ---- the redirect table ---- */


struct redirect_case {
	const char *name;
	uint8_t proto;
	uint16_t flags;   /* BF_CONN_F_A2S_* and _SOURCE of the connection */
	uint8_t pl[40];
	size_t len;
	int redirect;     /* 1: to the worker when a socket is there; AMP: dropped, amplifies */
};

#define AMP 2
#define F_S BF_CONN_F_SOURCE /* `a2s` on: a Source server, cached or not */

#define F_I BF_CONN_F_A2S_INFO
#define F_P BF_CONN_F_A2S_PLAYER
#define F_R BF_CONN_F_A2S_RULES
#define INFO_BYTES                                                                 \
	0xff, 0xff, 0xff, 0xff, 0x54, 'S', 'o', 'u', 'r', 'c', 'e', ' ', 'E', 'n', 'g', \
		'i', 'n', 'e', ' ', 'Q', 'u', 'e', 'r', 'y', 0
#define HDR 0xff, 0xff, 0xff, 0xff

static const struct redirect_case CASES[] = {
	{ "info", IPPROTO_UDP, F_S | F_I, { INFO_BYTES }, 25, 1 },
	{ "info with challenge", IPPROTO_UDP, F_S | F_I, { INFO_BYTES, 1, 2, 3, 4 }, 29, 1 },
	{ "info with trailing bytes", IPPROTO_UDP, F_S | F_I, { INFO_BYTES, 1, 2, 3, 4, 5, 6 }, 31, 1 },
	{ "info, every kind cached", IPPROTO_UDP, F_S | F_I | F_P | F_R, { INFO_BYTES }, 25, 1 },
	{ "info of 24 bytes", IPPROTO_UDP, F_S | F_I, { INFO_BYTES }, 24, 0 },
	{ "info, wrong string", IPPROTO_UDP, F_S | F_I,
	  { HDR, 0x54, 'S', 'o', 'u', 'r', 'c', 'e', ' ', 'E', 'n', 'g', 'i', 'n', 'e', ' ', 'Q',
	    'u', 'e', 'r', 'z', 0 }, 25, 0 },
	{ "info, no NUL", IPPROTO_UDP, F_S | F_I,
	  { HDR, 0x54, 'S', 'o', 'u', 'r', 'c', 'e', ' ', 'E', 'n', 'g', 'i', 'n', 'e', ' ', 'Q',
	    'u', 'e', 'r', 'y', '!' }, 25, 0 },
	{ "info, only player+rules cached", IPPROTO_UDP, F_S | F_P | F_R, { INFO_BYTES }, 25, 0 },
	{ "info, a2s off", IPPROTO_UDP, 0, { INFO_BYTES }, 25, 0 },
	{ "info over tcp", IPPROTO_TCP, F_I, { INFO_BYTES }, 25, 0 },
	{ "player", IPPROTO_UDP, F_S | F_P, { HDR, 0x55, 0xff, 0xff, 0xff, 0xff }, 9, 1 },
	{ "player of 8 bytes", IPPROTO_UDP, F_S | F_P, { HDR, 0x55, 0xff, 0xff, 0xff }, 8, 0 },
	{ "player, only info cached", IPPROTO_UDP, F_S | F_I, { HDR, 0x55, 1, 2, 3, 4 }, 9, 0 },
	{ "rules", IPPROTO_UDP, F_S | F_R, { HDR, 0x56, 1, 2, 3, 4 }, 9, 1 },
	{ "rules, only player cached", IPPROTO_UDP, F_S | F_P, { HDR, 0x56, 1, 2, 3, 4 }, 9, 0 },
	{ "W of 9 bytes, info cached", IPPROTO_UDP, F_S | F_I, { HDR, 0x57, 0xff, 0xff, 0xff, 0xff }, 9, 1 },
	{ "W of 9 bytes, rules cached", IPPROTO_UDP, F_S | F_R, { HDR, 0x57, 0, 0, 0, 0 }, 9, 1 },
	/* Queries a Source server answers with more bytes than they carry:
	 * dropped whether anything is cached or not (no amplification). */
	{ "W of 5 bytes", IPPROTO_UDP, F_S | F_I | F_P | F_R, { HDR, 0x57 }, 5, AMP },
	{ "W of 5 bytes, nothing cached", IPPROTO_UDP, F_S, { HDR, 0x57 }, 5, AMP },
	{ "W of 8 bytes, nothing cached", IPPROTO_UDP, F_S, { HDR, 0x57, 1, 2, 3 }, 8, AMP },
	{ "W of 9 bytes, nothing cached", IPPROTO_UDP, F_S, { HDR, 0x57, 1, 2, 3, 4 }, 9, 0 },
	{ "W of 5 bytes, not a Source server", IPPROTO_UDP, 0, { HDR, 0x57 }, 5, 0 },
	{ "A2A_PING of 5 bytes", IPPROTO_UDP, F_S, { HDR, 0x69 }, 5, AMP },
	{ "A2A_PING of 19 bytes", IPPROTO_UDP, F_S, { HDR, 0x69, 'x' }, 19, AMP },
	{ "A2A_PING of 20 bytes", IPPROTO_UDP, F_S, { HDR, 0x69, 'x' }, 20, 0 },
	{ "A2A_PING, not a Source server", IPPROTO_UDP, 0, { HDR, 0x69 }, 5, 0 },
	{ "A2A_PING over tcp", IPPROTO_TCP, F_S, { HDR, 0x69 }, 5, 0 },
	{ "W, a2s off", IPPROTO_UDP, 0, { HDR, 0x57, 0xff, 0xff, 0xff, 0xff }, 9, 0 },
	{ "unknown type X", IPPROTO_UDP, F_S | F_I | F_P | F_R, { HDR, 0x58, 1, 2, 3, 4 }, 9, 0 },
	{ "split header", IPPROTO_UDP, F_S | F_I | F_P | F_R, { 0xfe, 0xff, 0xff, 0xff, 0x55, 1, 2, 3, 4 },
	  9, 0 },
	{ "game traffic", IPPROTO_UDP, F_S | F_I | F_P | F_R, { 'h', 'e', 'l', 'l', 'o', ' ', 'g', 'a',
	  'm', 'e' }, 10, 0 },
	{ "empty datagram", IPPROTO_UDP, F_S | F_I | F_P | F_R, { 0 }, 0, 0 },
};

static size_t case_frame(const struct redirect_case *c, uint8_t *buf, size_t cap)
{
	struct pkt_spec s = harness_udp(CLIENT, 50000, ANY, 27015);

	s.proto = c->proto;
	s.payload = c->pl;
	s.payload_len = c->len;
	return pkt_build(&s, buf, cap);
}

static void run_table(int with_socket)
{
	for (size_t i = 0; i < sizeof(CASES) / sizeof(CASES[0]); i++) {
		const struct redirect_case *c = &CASES[i];
		char name[128];
		uint8_t pkt[256];
		size_t n = case_frame(c, pkt, sizeof(pkt));
		struct result r;

		snprintf(name, sizeof(name), "%s (%s)", c->name,
			 with_socket ? "socket" : "no socket");
		conn_flags(IPPROTO_UDP, ANY, 27015, c->proto == IPPROTO_UDP ? c->flags : 0);
		conn_flags(IPPROTO_TCP, ANY, 27015, c->proto == IPPROTO_TCP ? c->flags : 0);
		harness_run(pkt, n, &r);
		if (c->redirect == AMP) {
			harness_expect(name, &r, XDP_DROP, BF_R_AMPLIFIER);
		} else if (c->redirect && with_socket) {
			harness_expect(name, &r, XDP_REDIRECT, BF_R_A2S_REDIRECT);
			assert_int_equal(r.out_len, n); /* untouched: the worker reads it */
			assert_memory_equal(r.out, pkt, n);
		} else if (c->proto == IPPROTO_UDP) {
			expect_forward(name, &r, pkt, n);
		} else {
			harness_expect(name, &r, XDP_TX, BF_R_FORWARD);
		}
	}
	conn_flags(IPPROTO_UDP, ANY, 27015, 0);
	conn_flags(IPPROTO_TCP, ANY, 27015, 0);
}

/* `a2s yes` on a connection marks it a Source server in XDP (the amplifier
 * check); only UDP connections can say so, and the default is no. */
static void test_edge_a2s__source_flag_from_config(void **state)
{
	struct bf_conn_key k = { .bind_ip = pkt_ip(ANY), .bind_port = htons(27015),
				 .proto = IPPROTO_UDP };
	struct bf_conn_val v;
	uint8_t pkt[64];
	struct pkt_spec s = harness_udp(CLIENT, 50000, ANY, 27015);
	struct result r;

	assert_int_equal(bpf_map_lookup_elem(H.maps.fd.conns, &k, &v), 0);
	assert_int_equal(v.flags & BF_CONN_F_SOURCE, 0);
	harness_config("id test\niface t0\naddr " H_EDGE_ADDR "\n"
		       "conn udp " ANY ":27015 " MACH " a2s yes\n"
		       "conn tcp " ANY ":27015 " MACH "\n");
	assert_int_equal(bpf_map_lookup_elem(H.maps.fd.conns, &k, &v), 0);
	assert_int_equal(v.flags & BF_CONN_F_SOURCE, BF_CONN_F_SOURCE);
	s.payload = "\xff\xff\xff\xff\x57";
	s.payload_len = 5;
	harness_run(pkt, pkt_build(&s, pkt, sizeof(pkt)), &r);
	harness_expect("bare W to a server with a2s yes", &r, XDP_DROP, BF_R_AMPLIFIER);
	harness_config(BASE);
	harness_run(pkt, pkt_build(&s, pkt, sizeof(pkt)), &r);
	harness_expect("bare W to a server without a2s", &r, XDP_TX, BF_R_FORWARD);
}

/* No worker socket on the queue: bpf_redirect_map falls back and the request is
 * forwarded as it always was. */
static void test_edge_a2s__no_socket_forwards(void **state)
{
	run_table(0);
}

/* A bare AF_XDP socket on t0 queue 0 (copy mode: veth has no zero-copy). */
struct raw_xsk {
	void *area;
	struct xsk_umem *umem;
	struct xsk_socket *xsk;
	struct xsk_ring_prod fill, tx;
	struct xsk_ring_cons comp, rx;
};

#define RAW_FRAMES 64
#define RAW_FRAME 4096

static void raw_xsk_open(struct raw_xsk *x, const char *ifname, uint32_t queue)
{
	struct xsk_socket_config cfg = {
		.rx_size = 64, .tx_size = 64,
		.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD,
		.bind_flags = XDP_COPY,
	};
	int rc;

	x->area = mmap(NULL, RAW_FRAMES * RAW_FRAME, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(x->area != MAP_FAILED);
	rc = xsk_umem__create(&x->umem, x->area, RAW_FRAMES * RAW_FRAME, &x->fill, &x->comp, NULL);
	if (rc)
		fail_msg("xsk_umem__create: %s", strerror(-rc));
	rc = xsk_socket__create(&x->xsk, ifname, queue, x->umem, &x->rx, &x->tx, &cfg);
	if (rc)
		fail_msg("xsk_socket__create on %s: %s (AF_XDP unavailable?)", ifname, strerror(-rc));
}

static void raw_xsk_close(struct raw_xsk *x)
{
	xsk_socket__delete(x->xsk);
	xsk_umem__delete(x->umem);
	munmap(x->area, RAW_FRAMES * RAW_FRAME);
}

/* With a socket in bf_xsks at the queue's slot, exactly the table's answerable requests
 * are redirected; the rest still goes to the game server. */
static void test_edge_a2s__socket_redirects_only_answerable(void **state)
{
	struct raw_xsk x;
	uint32_t key = 0; /* xsk_base 0 (first interface) + queue 0 */
	int fd;

	raw_xsk_open(&x, "t0", 0);
	fd = xsk_socket__fd(x.xsk);
	assert_int_equal(bpf_map_update_elem(bpf_map__fd(H.skel->maps.bf_xsks), &key, &fd, BPF_ANY),
			 0);
	run_table(1);
	assert_int_equal(bpf_map_delete_elem(bpf_map__fd(H.skel->maps.bf_xsks), &key), 0);
	raw_xsk_close(&x);
	/* The socket gone, the same requests are forwarded again. */
	run_table(0);
}


/* ---- the workers, end to end ---- */

#define XDP_PASS_OBJ "build/bpf/xdp_pass.bpf.o"

static void shf(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (system(cmd) != 0)
		fail_msg("command failed: %s", cmd);
}

/* Moves t1 into a second private namespace with CLIENT on it and returns a UDP socket
 * bound there (the socket keeps working from the harness namespace). */
static int client_socket(void)
{
	int home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC), cns, s, one = 1;
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(50000),
				   .sin_addr.s_addr = pkt_ip(CLIENT) };
	struct timeval tv = { .tv_sec = 0, .tv_usec = 300000 };
	char mac[32];

	assert_true(home >= 0);
	snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", H.mac[0], H.mac[1], H.mac[2],
		 H.mac[3], H.mac[4], H.mac[5]);
	assert_int_equal(unshare(CLONE_NEWNET), 0);
	cns = open("/proc/self/ns/net", O_RDONLY);
	assert_true(cns >= 0);
	assert_int_equal(setns(home, CLONE_NEWNET), 0);
	shf("ip link set t1 netns /proc/%d/fd/%d", (int)getpid(), cns);
	assert_int_equal(setns(cns, CLONE_NEWNET), 0);
	shf("ip link set lo up && ip link set t1 up && ip addr add " CLIENT "/24 dev t1");
	shf("ip route add 203.0.113.0/24 dev t1");
	shf("ip neigh replace " ANY " lladdr %s dev t1 nud permanent", mac);
	/* The kernel, not only this test, checks the reply's checksums. */
	if (system("ethtool -K t1 rx off >/dev/null 2>&1") != 0)
		fprintf(stderr, "note: ethtool -K t1 rx off failed; UDP checksum unchecked\n");
	/* A veth only takes XDP_TX'd frames when its peer runs XDP (the lab does the same). */
	if (system("ip link set dev t1 xdpdrv obj " XDP_PASS_OBJ " sec xdp 2>/dev/null") != 0)
		fprintf(stderr, "note: no xdp_pass on t1 (%s)\n", XDP_PASS_OBJ);
	s = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(s >= 0);
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	assert_int_equal(bind(s, (struct sockaddr *)&sin, sizeof(sin)), 0);
	sin.sin_addr.s_addr = pkt_ip(ANY);
	sin.sin_port = htons(27015);
	assert_int_equal(connect(s, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(setns(home, CLONE_NEWNET), 0);
	close(home);
	close(cns);
	return s;
}

/* Sends a request; returns the length of the one datagram that answers it (-1: none in
 * 300 ms). */
static int ask(int s, const uint8_t *req, size_t len, uint8_t *out, size_t cap)
{
	assert_int_equal(send(s, req, len, 0), (ssize_t)len);
	return (int)recv(s, out, cap, 0);
}

static uint32_t get_challenge(int s, const uint8_t *req, size_t len)
{
	uint8_t buf[2048];
	uint32_t ch = 0;
	int n = ask(s, req, len, buf, sizeof(buf));

	if (n != A2S_CHALLENGE_LEN)
		fail_msg("want a 9-byte S2C_CHALLENGE, got %d bytes", n);
	assert_int_equal(a2s_challenge_parse(buf, (size_t)n, &ch), 0);
	return ch;
}

static uint64_t stat_packets(int reason)
{
	struct bf_counter c[BF_R_MAX];

	assert_int_equal(edge_maps_read_stats(&H.maps.fd, c), 0);
	return c[reason].packets;
}

static void test_edge_a2s__workers_answer_from_cache(void **state)
{
	static uint8_t info[1400], rules[8192], got[8192], asmbuf[A2S_REPLY_MAX];
	struct a2s_info in = {
		.protocol = 17, .name = "Bifrost test server", .map = "de_dust2",
		.folder = "cstrike", .game = "Counter-Strike", .appid = 240, .players = 3,
		.max_players = 24, .server_type = 'd', .environment = 'l', .version = "1.0.0.1",
	};
	struct a2s_rule rl[120];
	char names[120][16], vals[120][24];
	struct edge_dp dp = { .n_ifs = 1 };
	struct edge_a2s_counters c;
	struct edge_a2s *a;
	uint64_t fwd0, redir0;
	uint8_t req[64];
	char err[256] = "";
	int s, n_info, n_rules, n, rc, fd;
	uint32_t ch, uip = pkt_ip(ANY);

	for (int i = 0; i < 120; i++) {
		snprintf(names[i], sizeof(names[i]), "sv_rule_%03d", i);
		snprintf(vals[i], sizeof(vals[i]), "value-%d-abcdef", i * 7);
		rl[i].name = names[i];
		rl[i].value = vals[i];
	}
	n_info = a2s_build_info(info, sizeof(info), &in);
	n_rules = a2s_build_rules(rules, sizeof(rules), rl, 120);
	assert_true(n_info > 0);
	assert_true(n_rules > A2S_PACKET_MAX); /* goes out split */

	s = client_socket();
	fd = bpf_program__fd(H.skel->progs.bifrost_edge);
	rc = bpf_xdp_attach(H.ifindex, fd, XDP_FLAGS_DRV_MODE, NULL);
	if (rc)
		fail_msg("native XDP on veth t0: %s", strerror(-rc));
	snprintf(dp.ifs[0].name, sizeof(dp.ifs[0].name), "t0");
	dp.ifs[0].ifindex = H.ifindex;
	a = edge_a2s_start(&dp, bpf_map__fd(H.skel->maps.bf_xsks), err, sizeof(err));
	if (!a && (strstr(err, "Address family not supported") || strstr(err, "not supported"))) {
		bpf_xdp_detach(H.ifindex, XDP_FLAGS_DRV_MODE, NULL);
		close(s);
		fprintf(stderr, "AF_XDP unavailable on this kernel: %s\n", err);
		skip();
	}
	if (!a)
		fail_msg("edge_a2s_start: %s", err);

	/* The cache, and the flags user space would set once it is filled. */
	assert_int_equal(edge_a2s_put(a, uip, 27015, A2S_INFO, info, (size_t)n_info), 0);
	assert_int_equal(edge_a2s_put(a, uip, 27015, A2S_RULES, rules, (size_t)n_rules), 0);
	assert_int_equal(edge_a2s_ready(a, uip, 27015), 1u << A2S_INFO | 1u << A2S_RULES);
	assert_int_equal(edge_a2s_put(a, uip, 27015, A2S_PLAYER, info, (size_t)n_info), -EBADMSG);
	conn_flags(IPPROTO_UDP, ANY, 27015, BF_CONN_F_A2S_INFO | BF_CONN_F_A2S_RULES);
	fwd0 = stat_packets(BF_R_FORWARD);
	redir0 = stat_packets(BF_R_A2S_REDIRECT);

	/* INFO without a challenge: exactly the 9-byte challenge. */
	n = a2s_build_info_req(req, sizeof(req), false, 0);
	ch = get_challenge(s, req, (size_t)n);
	/* With it: the cached reply, byte for byte. */
	n = a2s_build_info_req(req, sizeof(req), true, ch);
	rc = ask(s, req, (size_t)n, got, sizeof(got));
	assert_int_equal(rc, n_info);
	assert_memory_equal(got, info, (size_t)n_info);
	/* With trailing bytes after the challenge: the same. */
	req[n] = 0x42;
	rc = ask(s, req, (size_t)n + 1, got, sizeof(got));
	assert_int_equal(rc, n_info);
	/* A wrong challenge: a fresh challenge again, nothing more. */
	n = a2s_build_info_req(req, sizeof(req), true, ch == 0x12345678 ? 0x12345679 : 0x12345678);
	assert_int_equal(get_challenge(s, req, (size_t)n), ch);

	/* RULES: challenge, then the reply in split parts that reassemble to the original. */
	n = a2s_build_rules_req(req, sizeof(req), A2S_ASK_CHALLENGE);
	assert_int_equal(get_challenge(s, req, (size_t)n), ch);
	n = a2s_build_rules_req(req, sizeof(req), ch);
	assert_int_equal(send(s, req, (size_t)n, 0), n);
	{
		struct a2s_asm as;
		const char *what = "";
		int parts = a2s_split_count((size_t)n_rules), done = 0;

		a2s_asm_init(&as, asmbuf, sizeof(asmbuf));
		for (int i = 0; i < parts && done != 1; i++) {
			rc = (int)recv(s, got, sizeof(got), 0);
			if (rc <= 0)
				fail_msg("split part %d of %d missing", i, parts);
			assert_true(rc <= A2S_SPLIT_HDR_LEN + A2S_SPLIT_PAYLOAD);
			done = a2s_asm_add(&as, got, (size_t)rc, &what);
			if (done < 0)
				fail_msg("split part %d: %s", i, what);
		}
		assert_int_equal(done, 1);
		assert_int_equal(as.len, (size_t)n_rules);
		assert_memory_equal(asmbuf, rules, (size_t)n_rules);
	}
	/* A 9-byte W gets a challenge. */
	n = a2s_build_getchallenge_req(req, sizeof(req));
	memcpy(req + n, "\xff\xff\xff\xff", 4);
	assert_int_equal(get_challenge(s, req, (size_t)n + 4), ch);

	/* None of it reached the game server; all of it went to the workers. */
	assert_int_equal(stat_packets(BF_R_FORWARD), fwd0);
	assert_int_equal(stat_packets(BF_R_A2S_REDIRECT), redir0 + 7);
	edge_a2s_counters(a, &c);
	assert_int_equal(c.workers, 1);
	assert_int_equal(c.challenged, 4);
	assert_int_equal(c.served, 3);
	assert_int_equal(c.bad, 0);
	assert_int_equal(c.dropped, 0);
	assert_int_equal(c.tx_parts, 4 + 2 + a2s_split_count((size_t)n_rules));

	/* A bare 5-byte W is no request XDP redirects: it goes to the game server (which
	 * does its own handshake), and the edge sends the client nothing. */
	n = a2s_build_getchallenge_req(req, sizeof(req));
	rc = ask(s, req, (size_t)n, got, sizeof(got));
	assert_int_equal(rc, -1);
	assert_int_equal(stat_packets(BF_R_FORWARD), fwd0 + 1);
	/* PLAYER is not cached here: forwarded too. */
	n = a2s_build_player_req(req, sizeof(req), A2S_ASK_CHALLENGE);
	assert_int_equal(ask(s, req, (size_t)n, got, sizeof(got)), -1);
	assert_int_equal(stat_packets(BF_R_FORWARD), fwd0 + 2);

	/* The cache entry dropped (the flag not yet cleared): the worker declines, counted. */
	edge_a2s_drop(a, uip, 27015, A2S_INFO);
	assert_int_equal(edge_a2s_ready(a, uip, 27015), 1u << A2S_RULES);
	n = a2s_build_info_req(req, sizeof(req), true, ch);
	assert_int_equal(ask(s, req, (size_t)n, got, sizeof(got)), -1);
	edge_a2s_counters(a, &c);
	assert_int_equal(c.dropped, 1);

	/* Stopped: the socket is out of bf_xsks and requests are forwarded again. */
	edge_a2s_stop(a);
	redir0 = stat_packets(BF_R_A2S_REDIRECT);
	n = a2s_build_rules_req(req, sizeof(req), ch);
	assert_int_equal(ask(s, req, (size_t)n, got, sizeof(got)), -1);
	assert_int_equal(stat_packets(BF_R_A2S_REDIRECT), redir0);
	assert_int_equal(stat_packets(BF_R_FORWARD), fwd0 + 3);

	conn_flags(IPPROTO_UDP, ANY, 27015, 0);
	bpf_xdp_detach(H.ifindex, XDP_FLAGS_DRV_MODE, NULL);
	close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_edge_a2s__source_flag_from_config),
		cmocka_unit_test(test_edge_a2s__no_socket_forwards),
		cmocka_unit_test(test_edge_a2s__socket_redirects_only_answerable),
		cmocka_unit_test(test_edge_a2s__workers_answer_from_cache),
	};

	if (geteuid() != 0) {
		fprintf(stderr, "test_edge_a2s needs root (BPF, network namespaces, AF_XDP)\n");
		return 1;
	}
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
