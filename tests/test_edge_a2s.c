/* test_edge_a2s.c - the A2S cache's data plane: the XDP redirect decision as a packet
 * table (bpf_prog_test_run_opts), with and without a worker socket. Needs root
 * (private network namespace, AF_XDP). */
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
#include <sys/mman.h>
#include <unistd.h>
#include <xdp/xsk.h>
#include <cmocka.h>

#include "a2s.h"
#include "edge.skel.h"
#include "edge_harness.h"

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
	v.flags = (uint16_t)((v.flags & ~BF_CONN_F_A2S_ANY) | a2s);
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
	uint16_t flags;   /* BF_CONN_F_A2S_* of the connection */
	uint8_t pl[40];
	size_t len;
	int redirect;     /* 1: to the worker when a socket is there */
};

#define F_I BF_CONN_F_A2S_INFO
#define F_P BF_CONN_F_A2S_PLAYER
#define F_R BF_CONN_F_A2S_RULES
#define INFO_BYTES                                                                 \
	0xff, 0xff, 0xff, 0xff, 0x54, 'S', 'o', 'u', 'r', 'c', 'e', ' ', 'E', 'n', 'g', \
		'i', 'n', 'e', ' ', 'Q', 'u', 'e', 'r', 'y', 0
#define HDR 0xff, 0xff, 0xff, 0xff

static const struct redirect_case CASES[] = {
	{ "info", IPPROTO_UDP, F_I, { INFO_BYTES }, 25, 1 },
	{ "info with challenge", IPPROTO_UDP, F_I, { INFO_BYTES, 1, 2, 3, 4 }, 29, 1 },
	{ "info with trailing bytes", IPPROTO_UDP, F_I, { INFO_BYTES, 1, 2, 3, 4, 5, 6 }, 31, 1 },
	{ "info, every kind cached", IPPROTO_UDP, F_I | F_P | F_R, { INFO_BYTES }, 25, 1 },
	{ "info of 24 bytes", IPPROTO_UDP, F_I, { INFO_BYTES }, 24, 0 },
	{ "info, wrong string", IPPROTO_UDP, F_I,
	  { HDR, 0x54, 'S', 'o', 'u', 'r', 'c', 'e', ' ', 'E', 'n', 'g', 'i', 'n', 'e', ' ', 'Q',
	    'u', 'e', 'r', 'z', 0 }, 25, 0 },
	{ "info, no NUL", IPPROTO_UDP, F_I,
	  { HDR, 0x54, 'S', 'o', 'u', 'r', 'c', 'e', ' ', 'E', 'n', 'g', 'i', 'n', 'e', ' ', 'Q',
	    'u', 'e', 'r', 'y', '!' }, 25, 0 },
	{ "info, only player+rules cached", IPPROTO_UDP, F_P | F_R, { INFO_BYTES }, 25, 0 },
	{ "info, a2s off", IPPROTO_UDP, 0, { INFO_BYTES }, 25, 0 },
	{ "info over tcp", IPPROTO_TCP, F_I, { INFO_BYTES }, 25, 0 },
	{ "player", IPPROTO_UDP, F_P, { HDR, 0x55, 0xff, 0xff, 0xff, 0xff }, 9, 1 },
	{ "player of 8 bytes", IPPROTO_UDP, F_P, { HDR, 0x55, 0xff, 0xff, 0xff }, 8, 0 },
	{ "player, only info cached", IPPROTO_UDP, F_I, { HDR, 0x55, 1, 2, 3, 4 }, 9, 0 },
	{ "rules", IPPROTO_UDP, F_R, { HDR, 0x56, 1, 2, 3, 4 }, 9, 1 },
	{ "rules, only player cached", IPPROTO_UDP, F_P, { HDR, 0x56, 1, 2, 3, 4 }, 9, 0 },
	{ "W of 9 bytes, info cached", IPPROTO_UDP, F_I, { HDR, 0x57, 0xff, 0xff, 0xff, 0xff }, 9, 1 },
	{ "W of 9 bytes, rules cached", IPPROTO_UDP, F_R, { HDR, 0x57, 0, 0, 0, 0 }, 9, 1 },
	{ "W of 5 bytes", IPPROTO_UDP, F_I | F_P | F_R, { HDR, 0x57 }, 5, 0 },
	{ "W, a2s off", IPPROTO_UDP, 0, { HDR, 0x57, 0xff, 0xff, 0xff, 0xff }, 9, 0 },
	{ "unknown type X", IPPROTO_UDP, F_I | F_P | F_R, { HDR, 0x58, 1, 2, 3, 4 }, 9, 0 },
	{ "split header", IPPROTO_UDP, F_I | F_P | F_R, { 0xfe, 0xff, 0xff, 0xff, 0x55, 1, 2, 3, 4 },
	  9, 0 },
	{ "game traffic", IPPROTO_UDP, F_I | F_P | F_R, { 'h', 'e', 'l', 'l', 'o', ' ', 'g', 'a',
	  'm', 'e' }, 10, 0 },
	{ "empty datagram", IPPROTO_UDP, F_I | F_P | F_R, { 0 }, 0, 0 },
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
		if (c->redirect && with_socket) {
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_edge_a2s__no_socket_forwards),
		cmocka_unit_test(test_edge_a2s__socket_redirects_only_answerable),
	};

	if (geteuid() != 0) {
		fprintf(stderr, "test_edge_a2s needs root (BPF, network namespaces, AF_XDP)\n");
		return 1;
	}
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
