/* test_edge_valid.c - handshake validation (lib/validate.h) through
 * bpf_prog_test_run_opts over packet tables: for each module every handshake and query
 * packet kind, truncated and oversized ones, junk from an unvalidated source, the
 * budgets; validation only by the game server's reply on the return path, never by a
 * forged one; a validated client's traffic passed and reported; a peer's entry; the
 * ban-sharing policy. Needs root. */
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
#include <unistd.h>
#include <cmocka.h>

#include "bifrost.h"
#include "../../edge/maps.h"
#include "../../sync/clock.h"
#include "edge_tables.h"

#define SRCDS "203.0.113.50" /* udp/27015 -> machine A, validate srcds */
#define RAKNET "203.0.113.51" /* udp/28015 -> machine A, validate raknet */
#define PLAYER "198.51.100.90"

static const uint8_t MAGIC[16] = { 0x00, 0xff, 0xff, 0x00, 0xfe, 0xfe, 0xfe, 0xfe,
				   0xfd, 0xfd, 0xfd, 0xfd, 0x12, 0x34, 0x56, 0x78 };

static void config_valid(const char *more)
{
	char text[1024];

	snprintf(text, sizeof(text),
		 CONF_BACKENDS "conn udp " SRCDS ":27015 " MACH_A " validate srcds\n"
		 "conn udp " RAKNET ":28015 " MACH_A " validate raknet\n"
		 "handshake_pps 10\nhandshake_burst 4\nhandshake_conn_pps 0\n%s",
		 more);
	config_text(text, 0);
}

static struct bf_rl_key vkey(const char *client, const char *bind, uint16_t port)
{
	struct bf_rl_key k = { .src = pkt_ip(client), .bind_ip = pkt_ip(bind),
			       .bind_port = htons(port), .proto = IPPROTO_UDP };
	return k;
}

static int valid_live(const char *client, const char *bind, uint16_t port,
		      struct bf_valid_val *out)
{
	struct bf_rl_key k = vkey(client, bind, port);
	struct bf_valid_val v;

	if (bpf_map_lookup_elem(H.maps.fd.valid, &k, &v))
		return 0;
	if (out)
		*out = v;
	return v.expires_ns > bf_mono_ns();
}

static void forget(const char *client, const char *bind, uint16_t port)
{
	struct bf_rl_key k = vkey(client, bind, port);

	bpf_map_delete_elem(H.maps.fd.valid, &k);
	bpf_map_delete_elem(H.maps.fd.hs_src, &k);
}

/* One datagram from src:sport to dst:dport with payload p. */
static void run_udp(const char *src, uint16_t sport, const char *dst, uint16_t dport,
		    const void *p, size_t len, struct result *r)
{
	struct pkt_spec s = harness_udp(src, sport, dst, dport);
	static uint8_t pkt[2048];
	size_t n;

	s.payload = p;
	s.payload_len = len;
	n = pkt_build(&s, pkt, sizeof(pkt));
	assert_true(n > 0);
	harness_run(pkt, n, r);
}

/* The game server's reply to dst:dport from the bind address, as IPIP from machine A on
 * ifindex. */
static void run_reply(const char *bind, uint16_t port, const char *dst, uint16_t dport,
		      const void *p, size_t len, int ifindex, struct result *r)
{
	struct pkt_spec o = from_machine(MACH_A);
	struct pkt_spec in = harness_udp(bind, port, dst, dport);
	static uint8_t pkt[2048];
	size_t n;

	in.payload = p;
	in.payload_len = len;
	n = pkt_build_ipip(&o, &in, pkt, sizeof(pkt));
	harness_run_on(pkt, n, ifindex, r);
}

/* "\xff\xff\xff\xff" + op + fill up to len bytes */
static size_t oob(uint8_t *buf, char op, size_t len)
{
	memset(buf, 'x', len);
	memset(buf, 0xff, 4);
	buf[4] = (uint8_t)op;
	return len;
}

/* raknet offline message: id, [8-byte time,] magic, then fill up to len */
static size_t rak(uint8_t *buf, uint8_t id, size_t magic_at, size_t len)
{
	memset(buf, 0x5a, len);
	buf[0] = id;
	memcpy(buf + magic_at, MAGIC, 16);
	return len;
}

struct row {
	const char *name;
	size_t len;
	uint8_t pl[1600];
	int action, reason;
};

static void run_rows(const char *bind, uint16_t port, struct row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct result r;
		/* A source of its own each: the per-source budget is not what is tested here. */
		char src[32];

		snprintf(src, sizeof(src), "198.51.101.%zu", i + 1);
		forget(src, bind, port);
		run_udp(src, 40000, bind, port, rows[i].pl, rows[i].len, &r);
		harness_expect(rows[i].name, &r, rows[i].action, rows[i].reason);
		assert_false(valid_live(src, bind, port, NULL));
	}
}

/* Source: from an unvalidated source only 'q', 'k' and the queries pass, each within
 * its size; the game's netchannel and anything else are dropped. */
static void test_edge_valid__srcds_unvalidated(void **state)
{
	static struct row rows[20];
	size_t n = 0;

	config_valid("");
#define ROW(nm, op, l, act, why)                                                              \
	do {                                                                                   \
		rows[n].name = nm;                                                             \
		rows[n].len = oob(rows[n].pl, op, l);                                          \
		rows[n].action = act;                                                          \
		rows[n].reason = why;                                                          \
		n++;                                                                           \
	} while (0)
	ROW("q challenge request", 'q', 19, XDP_TX, BF_R_HANDSHAKE);
	ROW("q of 15 bytes (its answer would be larger)", 'q', 15, XDP_DROP, BF_R_UNVALIDATED);
	ROW("q of 64 bytes", 'q', 64, XDP_TX, BF_R_HANDSHAKE);
	ROW("q of 65 bytes", 'q', 65, XDP_DROP, BF_R_UNVALIDATED);
	ROW("k connect with a ticket", 'k', 600, XDP_TX, BF_R_HANDSHAKE);
	ROW("k of 1400 bytes", 'k', 1400, XDP_TX, BF_R_HANDSHAKE);
	ROW("k of 1401 bytes", 'k', 1401, XDP_DROP, BF_R_UNVALIDATED);
	ROW("A2S_PLAYER", 'U', 9, XDP_TX, BF_R_HANDSHAKE);
	ROW("A2A_PING", 'i', 20, XDP_TX, BF_R_HANDSHAKE);
	ROW("A2A_PING of 5 bytes (amplifies)", 'i', 5, XDP_DROP, BF_R_AMPLIFIER);
	ROW("GETCHALLENGE of 5 bytes (amplifies)", 'W', 5, XDP_DROP, BF_R_AMPLIFIER);
	ROW("B (a server's reply) from a client", 'B', 20, XDP_DROP, BF_R_UNVALIDATED);
	ROW("4 bytes of ff", 'x', 4, XDP_DROP, BF_R_UNVALIDATED);
#undef ROW
	/* netchannel: no connectionless header */
	rows[n].name = "netchannel packet";
	rows[n].len = 200;
	memset(rows[n].pl, 0x11, 200);
	rows[n].action = XDP_DROP;
	rows[n++].reason = BF_R_UNVALIDATED;
	rows[n].name = "empty datagram";
	rows[n].len = 0;
	rows[n].action = XDP_DROP;
	rows[n++].reason = BF_R_UNVALIDATED;
	run_rows(SRCDS, 27015, rows, n);
	/* A UDP length shorter than the IPv4 payload: the bytes after it would pass the size
	 * checks unseen. */
	{
		struct pkt_spec sp = harness_udp("198.51.101.77", 40000, SRCDS, 27015);
		uint8_t pl[600], pkt[800];
		struct result r;
		size_t n2;
		int ihl;

		forget("198.51.101.77", SRCDS, 27015);
		oob(pl, 'q', sizeof(pl));
		sp.payload = pl;
		sp.payload_len = sizeof(pl);
		n2 = pkt_build(&sp, pkt, sizeof(pkt));
		ihl = (pkt[14] & 15) * 4;
		pkt[14 + ihl + 4] = 0;
		pkt[14 + ihl + 5] = 8 + 20; /* a 20-byte q, then 580 more bytes */
		pkt[14 + ihl + 6] = pkt[14 + ihl + 7] = 0; /* no UDP checksum */
		harness_run(pkt, n2, &r);
		harness_expect("q with 580 bytes past its UDP length", &r, XDP_DROP, BF_R_UNVALIDATED);
	}
	config_maps(0);
}

/* RakNet: pings and Open Connection Requests 1 and 2, with the magic where RakNet
 * puts it and their sizes; frame sets, a wrong magic, a reply id are dropped. */
static void test_edge_valid__raknet_unvalidated(void **state)
{
	static struct row rows[20];
	size_t n = 0;

	config_valid("");
#define ROW(nm, id, at, l, act, why)                                                          \
	do {                                                                                   \
		rows[n].name = nm;                                                             \
		rows[n].len = rak(rows[n].pl, id, at, l);                                      \
		rows[n].action = act;                                                          \
		rows[n].reason = why;                                                          \
		n++;                                                                           \
	} while (0)
	ROW("unconnected ping", 0x01, 9, 33, XDP_TX, BF_R_HANDSHAKE);
	ROW("unconnected ping open connections", 0x02, 9, 33, XDP_TX, BF_R_HANDSHAKE);
	ROW("ping of 34 bytes", 0x01, 9, 34, XDP_DROP, BF_R_UNVALIDATED);
	ROW("ping with the magic at 1", 0x01, 1, 33, XDP_DROP, BF_R_UNVALIDATED);
	ROW("OCR1 padded to 1400", 0x05, 1, 1400, XDP_TX, BF_R_HANDSHAKE);
	ROW("OCR1 of 372 bytes (RakNet's smallest MTU)", 0x05, 1, 372, XDP_TX, BF_R_HANDSHAKE);
	ROW("OCR1 of 371 bytes", 0x05, 1, 371, XDP_DROP, BF_R_UNVALIDATED);
	ROW("OCR1 of 18 bytes", 0x05, 1, 18, XDP_DROP, BF_R_UNVALIDATED);
	ROW("OCR2 (ipv4)", 0x07, 1, 34, XDP_TX, BF_R_HANDSHAKE);
	ROW("OCR2 of 65 bytes", 0x07, 1, 65, XDP_DROP, BF_R_UNVALIDATED);
	ROW("OCR reply 2 from a client", 0x08, 1, 35, XDP_DROP, BF_R_UNVALIDATED);
	ROW("frame set 0x84", 0x84, 4, 60, XDP_DROP, BF_R_UNVALIDATED);
	ROW("ACK 0xc0", 0xc0, 4, 20, XDP_DROP, BF_R_UNVALIDATED);
#undef ROW
	rows[n].name = "OCR1 with a wrong magic";
	rows[n].len = rak(rows[n].pl, 0x05, 1, 100);
	rows[n].pl[16] = 0x79;
	rows[n].action = XDP_DROP;
	rows[n++].reason = BF_R_UNVALIDATED;
	run_rows(RAKNET, 28015, rows, n);
	config_maps(0);
}

/* The whole Source handshake: q passes, the server's A goes back, k passes, the server's
 * B goes back through the return path and validates the client, whose game traffic then
 * passes, byte for byte; a connection without validate is untouched. */
static void test_edge_valid__srcds_handshake_validates(void **state)
{
	uint8_t p[1500], game[120];
	struct bf_valid_val v;
	struct result r;
	size_t n;

	config_valid("");
	forget(PLAYER, SRCDS, 27015);
	memset(game, 0x21, sizeof(game));
	run_udp(PLAYER, 27005, SRCDS, 27015, game, sizeof(game), &r);
	harness_expect("game packet before the handshake", &r, XDP_DROP, BF_R_UNVALIDATED);
	run_udp(PLAYER, 27005, SRCDS, 27015, p, oob(p, 'q', 19), &r);
	harness_expect("q", &r, XDP_TX, BF_R_HANDSHAKE);
	run_reply(SRCDS, 27015, PLAYER, 27005, p, oob(p, 'A', 25), H.ifindex, &r);
	harness_expect("A goes back", &r, XDP_TX, BF_R_RETURN_PATH);
	assert_int_equal(r.delta[BF_R_VALIDATED].packets, 0);
	assert_false(valid_live(PLAYER, SRCDS, 27015, NULL));
	run_udp(PLAYER, 27005, SRCDS, 27015, p, oob(p, 'k', 400), &r);
	harness_expect("k", &r, XDP_TX, BF_R_HANDSHAKE);
	n = oob(p, 'B', 30);
	run_reply(SRCDS, 27015, PLAYER, 27005, p, n, H.ifindex, &r);
	harness_expect("B goes back", &r, XDP_TX, BF_R_RETURN_PATH);
	assert_int_equal(r.delta[BF_R_VALIDATED].packets, 1);
	assert_true(valid_live(PLAYER, SRCDS, 27015, &v));
	assert_true(v.src & BF_SRC_LOCAL);
	/* The reply itself is unchanged: the inner datagram after the Ethernet header. */
	{
		struct pkt_spec in = harness_udp(SRCDS, 27015, PLAYER, 27005);
		uint8_t want[256];
		size_t wn;

		in.payload = p;
		in.payload_len = n;
		wn = pkt_build_ip(&in, want, sizeof(want));
		assert_int_equal(r.out_len, 14 + wn);
		assert_memory_equal(r.out + 14, want, wn);
	}
	/* Now the game's traffic passes, from any port of that address, byte for byte. */
	{
		struct pkt_spec s = harness_udp(PLAYER, 27005, SRCDS, 27015);
		uint8_t pkt[512];
		size_t pn;

		s.payload = game;
		s.payload_len = sizeof(game);
		pn = pkt_build(&s, pkt, sizeof(pkt));
		harness_run(pkt, pn, &r);
		harness_expect("game packet after B", &r, XDP_TX, BF_R_FORWARD);
		check_encap("game packet after B", &r, GW_MAC, H.mac, MACH_A, pkt + 14, pn - 14, 1);
	}
	/* Another source is still held to the handshake. */
	run_udp("198.51.100.91", 27005, SRCDS, 27015, game, sizeof(game), &r);
	harness_expect("another source", &r, XDP_DROP, BF_R_UNVALIDATED);
	/* A connection without validate forwards anything. */
	run_udp("198.51.100.91", 27005, ANY_A, 27015, game, sizeof(game), &r);
	harness_expect("conn without validate", &r, XDP_TX, BF_R_FORWARD);
	config_maps(0);
}

/* RakNet is validated on the server's Open Connection Reply 2 only. */
static void test_edge_valid__raknet_reply2_validates(void **state)
{
	uint8_t p[256], frame[80];
	struct result r;

	config_valid("");
	forget(PLAYER, RAKNET, 28015);
	memset(frame, 0x33, sizeof(frame));
	frame[0] = 0x84;
	run_reply(RAKNET, 28015, PLAYER, 50000, p, rak(p, 0x1c, 17, 60), H.ifindex, &r);
	harness_expect("unconnected pong", &r, XDP_TX, BF_R_RETURN_PATH);
	run_reply(RAKNET, 28015, PLAYER, 50000, p, rak(p, 0x06, 1, 28), H.ifindex, &r);
	harness_expect("OC reply 1", &r, XDP_TX, BF_R_RETURN_PATH);
	run_reply(RAKNET, 28015, PLAYER, 50000, p, rak(p, 0x08, 1, 34), H.ifindex, &r);
	harness_expect("OC reply 2 one byte short", &r, XDP_TX, BF_R_RETURN_PATH);
	run_reply(RAKNET, 28015, PLAYER, 50000, p, oob(p, 'B', 30), H.ifindex, &r);
	harness_expect("a Source B on a RakNet connection", &r, XDP_TX, BF_R_RETURN_PATH);
	assert_false(valid_live(PLAYER, RAKNET, 28015, NULL));
	run_udp(PLAYER, 50000, RAKNET, 28015, frame, sizeof(frame), &r);
	harness_expect("frame set before reply 2", &r, XDP_DROP, BF_R_UNVALIDATED);
	run_reply(RAKNET, 28015, PLAYER, 50000, p, rak(p, 0x08, 1, 35), H.ifindex, &r);
	harness_expect("OC reply 2", &r, XDP_TX, BF_R_RETURN_PATH);
	assert_int_equal(r.delta[BF_R_VALIDATED].packets, 1);
	assert_true(valid_live(PLAYER, RAKNET, 28015, NULL));
	run_udp(PLAYER, 50000, RAKNET, 28015, frame, sizeof(frame), &r);
	harness_expect("frame set after reply 2", &r, XDP_TX, BF_R_FORWARD);
	config_maps(0);
}

/* Every field of a packet can be forged: a server's 'B' arriving from the Internet, or
 * as IPIP claiming machine A on the wrong interface, or from a machine that does not
 * serve the address, validates nobody. */
static void test_edge_valid__forged_replies_do_not_validate(void **state)
{
	uint8_t p[64], pkt[256];
	size_t n = oob(p, 'B', 30);
	struct result r;

	config_valid("");
	forget(PLAYER, SRCDS, 27015);
	/* B straight from the bind address (spoofed) to the player's address: not served */
	run_udp(SRCDS, 27015, PLAYER, 27005, p, n, &r);
	harness_expect("B from the Internet", &r, XDP_DROP, BF_R_DEFAULT_DROP);
	/* B "from the server" to the bind address itself, as if the player were it */
	run_udp(PLAYER, 27005, SRCDS, 27015, p, n, &r);
	harness_expect("B to the server", &r, XDP_DROP, BF_R_UNVALIDATED);
	/* IPIP from machine A's address on the uplink */
	run_reply(SRCDS, 27015, PLAYER, 27005, p, n, H.if_t4, &r);
	harness_expect("IPIP B on the uplink", &r, XDP_DROP, BF_R_RETURN_SPOOFED);
	/* IPIP from machine A on the backend interface of machine B */
	run_reply(SRCDS, 27015, PLAYER, 27005, p, n, H.if_t2, &r);
	harness_expect("IPIP B on another backend", &r, XDP_DROP, BF_R_RETURN_SPOOFED);
	/* IPIP from machine B (a real machine) for an address it does not serve */
	{
		struct pkt_spec o = from_machine(MACH_B);
		struct pkt_spec in = harness_udp(SRCDS, 27015, PLAYER, 27005);

		in.payload = p;
		in.payload_len = n;
		harness_run_on(pkt, pkt_build_ipip(&o, &in, pkt, sizeof(pkt)), H.if_t2, &r);
		harness_expect("B from a machine not serving it", &r, XDP_DROP, BF_R_RETURN_INVALID);
	}
	/* From machine A, for its connection, but from a port that is no connection's */
	run_reply(SRCDS, 27016, PLAYER, 27005, p, n, H.ifindex, &r);
	harness_expect("B from another port", &r, XDP_TX, BF_R_RETURN_PATH);
	assert_int_equal(r.delta[BF_R_VALIDATED].packets, 0);
	assert_false(valid_live(PLAYER, SRCDS, 27015, NULL));
	config_maps(0);
}

/* The per-source handshake budget (burst 4 here) and the connection's (each CPU's
 * share); what goes over is dropped as handshake_limit and counted per connection. */
static void test_edge_valid__budgets(void **state)
{
	uint8_t p[256];
	struct result r;
	int passed = 0;

	config_valid("");
	forget("198.51.102.1", SRCDS, 27015);
	for (int i = 0; i < 10; i++) {
		run_udp("198.51.102.1", 40000, SRCDS, 27015, p, oob(p, 'q', 19), &r);
		if (r.action == XDP_TX) {
			harness_expect("within the budget", &r, XDP_TX, BF_R_HANDSHAKE);
			passed++;
		} else {
			harness_expect("over the per-source budget", &r, XDP_DROP,
				       BF_R_HANDSHAKE_LIMIT);
		}
	}
	assert_int_equal(passed, 4);
	/* Per connection: 10 a second, each CPU its share (of 2 here: one every 0.2 s), a
	 * second's burst: 6 in a row on one CPU, at most twice that over both. */
	config_valid("handshake_pps 0\nhandshake_conn_pps 10\n");
	passed = 0;
	for (int i = 0; i < 40; i++) {
		char src[32];

		snprintf(src, sizeof(src), "198.51.103.%d", i + 1);
		forget(src, SRCDS, 27015);
		run_udp(src, 40000, SRCDS, 27015, p, oob(p, 'k', 100), &r);
		passed += r.action == XDP_TX;
		if (r.action != XDP_TX)
			harness_expect("over the connection's budget", &r, XDP_DROP,
				       BF_R_HANDSHAKE_LIMIT);
	}
	assert_true(passed >= 5 && passed <= 12);
	/* Queries have a budget of their own: the spent handshake one does not stop them,
	 * and a query flood does not spend the handshakes'. */
	run_udp("198.51.103.99", 40000, SRCDS, 27015, p, oob(p, 'U', 9), &r);
	harness_expect("a query after the handshakes' budget is spent", &r, XDP_TX, BF_R_HANDSHAKE);
	config_maps(0);
}

/* A peer's validated client (the fleet's entry) plays here without a handshake, and
 * its first packet here is reported (so this POP publishes it too); an expired entry
 * is no validation; sharing a ban needs a validated source. */
static void test_edge_valid__peer_entry_and_expiry(void **state)
{
	struct bf_rl_key k = vkey("198.51.104.1", SRCDS, 27015);
	uint8_t game[40];
	struct bf_valid_val v;
	struct result r;

	config_valid("");
	memset(game, 0x44, sizeof(game));
	forget("198.51.104.1", SRCDS, 27015);
	assert_int_equal(edge_valid_put(&H.maps, &k, bf_mono_ns() + 60ULL * 1000000000ULL), 0);
	run_udp("198.51.104.1", 27005, SRCDS, 27015, game, sizeof(game), &r);
	harness_expect("a peer's client", &r, XDP_TX, BF_R_FORWARD);
	assert_int_equal(bpf_map_lookup_elem(H.maps.fd.valid, &k, &v), 0);
	assert_true(v.reported_ns != 0);
	assert_true(v.src & BF_SRC_FLEET);
	/* its idle deadline moved to now + valid_idle (300 s) */
	assert_true(v.expires_ns > bf_mono_ns() + 200ULL * 1000000000ULL);
	/* the fleet forgets it: it plays here, so it stays until it goes idle */
	assert_int_equal(edge_valid_del(&H.maps, &k), 0);
	assert_int_equal(bpf_map_lookup_elem(H.maps.fd.valid, &k, &v), 0);
	/* one never seen here goes */
	forget("198.51.104.1", SRCDS, 27015);
	assert_int_equal(edge_valid_put(&H.maps, &k, bf_mono_ns() + 60ULL * 1000000000ULL), 0);
	assert_int_equal(edge_valid_del(&H.maps, &k), 0);
	assert_int_not_equal(bpf_map_lookup_elem(H.maps.fd.valid, &k, &v), 0);
	/* expired */
	forget("198.51.104.1", SRCDS, 27015);
	assert_int_equal(edge_valid_put(&H.maps, &k, bf_mono_ns() - 1), 0);
	run_udp("198.51.104.1", 27005, SRCDS, 27015, game, sizeof(game), &r);
	harness_expect("an expired entry", &r, XDP_DROP, BF_R_UNVALIDATED);
	forget("198.51.104.1", SRCDS, 27015);
	config_maps(0);
}

static int bans, bans_shared;

static int on_ev(void *ctx, void *data, size_t size)
{
	const struct bf_event *e = data;

	if (e->type == BF_EV_BAN) {
		bans++;
		bans_shared += !!(e->ban.flags & BF_BAN_F_SHARE);
	}
	return 0;
}

/* Only a validated client's ban is shared: an unvalidated source's address may be
 * forged to have a player banned fleet-wide. */
static void test_edge_valid__ban_sharing_needs_validation(void **state)
{
	struct bf_rl_key k = vkey("198.51.105.1", SRCDS, 27015);
	uint8_t p[256], game[40];
	struct result r;
	struct ring_buffer *rb;

	config_valid("conn udp " SRCDS ":27016 " MACH_A
		     " validate srcds pps 2 burst 1ms block 1s share_bans yes\n");
	rb = ring_buffer__new(H.maps.fd.events, on_ev, NULL, NULL);
	assert_non_null(rb);
	ring_buffer__consume(rb);
	bans = bans_shared = 0;
	memset(game, 0x55, sizeof(game));
	/* unvalidated: q over the connection's pps limit is blocked, not shared */
	forget("198.51.105.2", SRCDS, 27016);
	for (int i = 0; i < 3; i++)
		run_udp("198.51.105.2", 40000, SRCDS, 27016, p, oob(p, 'q', 19), &r);
	harness_expect("unvalidated over the limit", &r, XDP_DROP, BF_R_BLOCKLIST);
	ring_buffer__consume(rb);
	assert_int_equal(bans, 1);
	assert_int_equal(bans_shared, 0);
	/* validated: shared */
	k.bind_port = htons(27016);
	bpf_map_delete_elem(H.maps.fd.valid, &k);
	assert_int_equal(edge_valid_put(&H.maps, &k, bf_mono_ns() + 60ULL * 1000000000ULL), 0);
	for (int i = 0; i < 3; i++)
		run_udp("198.51.105.1", 40000, SRCDS, 27016, game, sizeof(game), &r);
	ring_buffer__consume(rb);
	assert_int_equal(bans, 2);
	assert_int_equal(bans_shared, 1);
	ring_buffer__free(rb);
	bpf_map_delete_elem(H.maps.fd.blocklist, &k.src);
	{
		uint32_t a = pkt_ip("198.51.105.2");

		bpf_map_delete_elem(H.maps.fd.blocklist, &a);
	}
	config_maps(0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_edge_valid__srcds_unvalidated),
		cmocka_unit_test(test_edge_valid__raknet_unvalidated),
		cmocka_unit_test(test_edge_valid__srcds_handshake_validates),
		cmocka_unit_test(test_edge_valid__raknet_reply2_validates),
		cmocka_unit_test(test_edge_valid__forged_replies_do_not_validate),
		cmocka_unit_test(test_edge_valid__budgets),
		cmocka_unit_test(test_edge_valid__peer_entry_and_expiry),
		cmocka_unit_test(test_edge_valid__ban_sharing_needs_validation),
	};

	if (geteuid() != 0) {
		fprintf(stderr, "test_edge_valid needs root (BPF and network namespaces)\n");
		return 1;
	}
	return cmocka_run_group_tests_name("edge_valid", tests, tables_setup, tables_teardown);
}
