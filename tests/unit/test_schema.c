/* test_schema.c - the Redis schema's pure functions: keys, entries, expiry,
 * change-log records and msgpack event frames, round trips and hostile
 * input (which must be refused without large allocations). */
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "alloc_watch.h" /* every malloc of this process, msgpack-c's too */
#include "schema.h"

#define NOW 1790000000000LL /* a fixed "now" in ms */
#define P BF_PREFIX_DEFAULT

static void test_schema__keys(void **state)
{
	char k[BF_KEY_MAX];

	assert_int_equal(bf_key_list(k, sizeof(k), P, BF_KIND_BL, "pop1"), 15);
	assert_string_equal(k, "bifrost:bl:pop1");
	bf_key_list(k, sizeof(k), P, BF_KIND_PUNCH, "ops");
	assert_string_equal(k, "bifrost:punch:ops");
	bf_key_log(k, sizeof(k), P, BF_KIND_WL, "pop-2");
	assert_string_equal(k, "bifrost:log:wl:pop-2");
	bf_key_edge(k, sizeof(k), P, "pop1");
	assert_string_equal(k, "bifrost:edge:pop1");
	bf_key_evt(k, sizeof(k), "lab:", "pop1");
	assert_string_equal(k, "lab:evt:pop1");
	bf_key_conn(k, sizeof(k), P, IPPROTO_UDP, htonl(0xcb00710a), 27015);
	assert_string_equal(k, "bifrost:conn:udp:203.0.113.10:27015");
	bf_key_conf_version(k, sizeof(k), P);
	assert_string_equal(k, "bifrost:conf:version");
	assert_int_equal(bf_key_list(k, sizeof(k), P, BF_KIND_BL, "a b"), -EINVAL);
	assert_int_equal(bf_key_list(k, sizeof(k), P, BF_KIND_BL, "pop:1"), -EINVAL);
	assert_int_equal(bf_key_list(k, 8, P, BF_KIND_BL, "pop1"), -ENAMETOOLONG);

}

/* The state file's cursor lines: good ones read, damaged ones refused whole. */
static void test_schema__cursor_lines(void **state)
{
	struct bf_cursor_line cl;
	static const char *const bad[] = {
		"cursor bl pop2 1700000000000-0",            /* no seq */
		"cursor xx pop2 1700000000000-0 5",          /* kind */
		"cursor bl pop/2 1700000000000-0 5",         /* origin */
		"cursor bl pop2 1700000000000 5",            /* id without -seq */
		"cursor bl pop2 -0 5",                       /* id without ms */
		"cursor bl pop2 123456789012345678901-0 5",  /* 21 digits */
		"cursor bl pop2 1700000000000-0x 5",
		"cursorbl pop2 1-0 5",
		"owner pop2 +inf wl 198.51.100.0/24",
		"",
	};
	char long_origin[96];

	assert_int_equal(bf_cursor_line_parse("cursor punch pop2 1700000000000-12 42", &cl), 0);
	assert_int_equal(cl.kind, BF_KIND_PUNCH);
	assert_string_equal(cl.origin, "pop2");
	assert_string_equal(cl.id, "1700000000000-12");
	assert_int_equal(cl.seq, 42);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(bf_cursor_line_parse(bad[i], &cl), -EINVAL);
	memset(long_origin, 'a', sizeof(long_origin));
	memcpy(long_origin, "cursor bl ", 10);
	snprintf(long_origin + 10 + 64, sizeof(long_origin) - 74, " 1-0 5");
	assert_int_equal(bf_cursor_line_parse(long_origin, &cl), -EINVAL); /* 64 characters */
	assert_true(bf_stream_id_valid("0-0"));
	assert_false(bf_stream_id_valid("1-"));
}

static void test_schema__entries_round_trip(void **state)
{
	static const struct {
		enum bf_kind k;
		const char *text;
	} good[] = {
		{ BF_KIND_BL, "198.51.100.0/24" },
		{ BF_KIND_BL, "198.51.100.7/32" },
		{ BF_KIND_WL, "0.0.0.0/0" },
		{ BF_KIND_PUNCH, "udp 198.51.100.34:5000 203.0.113.10:40000 via 198.18.3.2" },
		{ BF_KIND_PUNCH, "tcp 198.51.100.10:40123 203.0.113.7:443 via 192.0.2.20" },
		{ BF_KIND_VALID, "udp 198.51.100.34 203.0.113.10:27015" },
	};
	struct bf_entry e;
	char buf[BF_ENTRY_MAX + 1];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(bf_entry_parse(good[i].k, good[i].text, strlen(good[i].text), &e), 0);
		assert_true(bf_entry_format(&e, buf, sizeof(buf)) > 0);
		assert_string_equal(buf, good[i].text);
	}
	/* A bare address is a /32 and comes back canonical. */
	assert_int_equal(bf_entry_parse(BF_KIND_BL, "198.51.100.7", 12, &e), 0);
	bf_entry_format(&e, buf, sizeof(buf));
	assert_string_equal(buf, "198.51.100.7/32");
	assert_int_equal(bf_entry_format(&e, buf, 5), -ENOSPC);
	/* A validated client: the client and its connection, nothing else. */
	assert_int_equal(bf_entry_parse(BF_KIND_VALID, "udp 198.51.100.34 203.0.113.10:27015", 36, &e),
			 0);
	assert_int_equal(e.punch.remote_ip, htonl(0xc6336422));
	assert_int_equal(e.punch.bind_port, 27015);
	assert_int_equal(e.punch.remote_port, 0);
	assert_int_equal(e.punch.machine_ip, 0);
	assert_int_equal(bf_entry_format(&e, buf, 20), -ENOSPC);
}

static void test_schema__entries_hostile(void **state)
{
	static const struct {
		enum bf_kind k;
		const char *text;
	} bad[] = {
		{ BF_KIND_BL, "198.51.100.7/24" },
		{ BF_KIND_BL, "198.51.100.0/33" },
		{ BF_KIND_BL, "" },
		{ BF_KIND_BL, "198.51.100.0/24 " },
		{ BF_KIND_WL, "::1/128" },
		{ BF_KIND_PUNCH, "udp 198.51.100.34:5000 203.0.113.10:40000" },
		{ BF_KIND_PUNCH, "udp 198.51.100.34:5000 203.0.113.10:40000 by 198.18.3.2" },
		{ BF_KIND_PUNCH, "icmp 198.51.100.34:5000 203.0.113.10:40000 via 198.18.3.2" },
		{ BF_KIND_PUNCH, "udp  198.51.100.34:5000 203.0.113.10:40000 via 198.18.3.2" },
		{ BF_KIND_PUNCH, "udp 198.51.100.34:0 203.0.113.10:40000 via 198.18.3.2" },
		{ BF_KIND_PUNCH, "udp 198.51.100.34:5000 203.0.113.10:40000 via 198.18.3.2 x" },
		{ BF_KIND_PUNCH, "udp 198.51.100.34:5000 203.0.113.10:99999 via 198.18.3.2" },
		{ BF_KIND_VALID, "tcp 198.51.100.34 203.0.113.10:27015" },
		{ BF_KIND_VALID, "udp 198.51.100.34:5000 203.0.113.10:27015" },
		{ BF_KIND_VALID, "udp 198.51.100.0/24 203.0.113.10:27015" },
		{ BF_KIND_VALID, "udp 198.51.100.34 203.0.113.10" },
		{ BF_KIND_VALID, "udp 198.51.100.34 203.0.113.10:0" },
		{ BF_KIND_VALID, "udp 198.51.100.34 203.0.113.10:27015 via 198.18.3.2" },
		{ BF_KIND_VALID, "udp 198.51.100.34  203.0.113.10:27015" },
		{ BF_KIND_VALID, "udp" },
		{ BF_KIND_VALID, "198.51.100.34" },
		{ BF_KIND_PUNCH, "udp 198.51.100.34 203.0.113.10:27015" },
	};
	char big[4096];
	struct bf_entry e;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (bf_entry_parse(bad[i].k, bad[i].text, strlen(bad[i].text), &e) == 0)
			fail_msg("accepted: '%s'", bad[i].text);
	memset(big, '1', sizeof(big));
	assert_int_equal(bf_entry_parse(BF_KIND_BL, big, sizeof(big), &e), -EINVAL);
	assert_int_equal(bf_entry_parse(BF_KIND_BL, "1.2.3.4\0/8", 10, &e), -EINVAL);
}

static void test_schema__expiry(void **state)
{
	int64_t x;
	char buf[24];

	assert_int_equal(bf_exp_parse("+inf", 4, NOW, &x), 0);
	assert_true(x == BF_EXP_INF);
	assert_int_equal(bf_exp_parse("1790000060000", 13, NOW, &x), 0);
	assert_true(x == NOW + 60000);
	assert_int_equal(bf_exp_parse("1789999999999", 13, NOW, &x), -ESTALE);
	assert_int_equal(bf_exp_parse("99999999999999999", 17, NOW, &x), -ERANGE);
	assert_int_equal(bf_exp_parse("-5", 2, NOW, &x), -EINVAL);
	assert_int_equal(bf_exp_parse("1.79e12", 7, NOW, &x), -EINVAL);
	assert_int_equal(bf_exp_parse("", 0, NOW, &x), -EINVAL);
	assert_int_equal(bf_exp_parse("99999999999999999999999", 23, NOW, &x), -EINVAL);
	bf_exp_format(BF_EXP_INF, buf, sizeof(buf));
	assert_string_equal(buf, "+inf");
	bf_exp_format(NOW, buf, sizeof(buf));
	assert_string_equal(buf, "1790000000000");
}

#define F(n, v) { n, sizeof(n) - 1, v, sizeof(v) - 1 }

static void test_schema__log_records(void **state)
{
	const struct bf_field good[] = { F("op", "add"), F("entry", "198.51.100.0/24"),
					 F("exp", "1790000060000"), F("seq", "42"),
					 F("why", "ratelimit"), F("future", "ignored") };
	const struct bf_field del[] = { F("seq", "43"), F("op", "del"), F("entry", "198.51.100.0/24") };
	struct bf_log_rec r;
	const char *what = NULL;

	assert_int_equal(bf_log_rec_parse(BF_KIND_BL, good, 6, NOW, &r, &what), 0);
	assert_int_equal(r.op, BF_OP_ADD);
	assert_int_equal(r.seq, 42);
	assert_true(r.exp_ms == NOW + 60000);
	assert_string_equal(r.why, "ratelimit");
	assert_int_equal(r.entry.cidr.plen, 24);
	assert_int_equal(bf_log_rec_parse(BF_KIND_BL, del, 3, NOW, &r, &what), 0);
	assert_int_equal(r.op, BF_OP_DEL);
}

static void test_schema__log_records_hostile(void **state)
{
	static const struct {
		struct bf_field f[5];
		size_t n;
		int rc;
	} rows[] = {
		{ { F("entry", "198.51.100.0/24"), F("exp", "+inf"), F("seq", "1") }, 3, -EINVAL },
		{ { F("op", "add"), F("exp", "+inf"), F("seq", "1") }, 3, -EINVAL },
		{ { F("op", "add"), F("entry", "198.51.100.0/24"), F("exp", "+inf") }, 3, -EINVAL },
		{ { F("op", "put"), F("entry", "198.51.100.0/24"), F("exp", "+inf"), F("seq", "1") }, 4, -EINVAL },
		{ { F("op", "add"), F("entry", "198.51.100.9/24"), F("exp", "+inf"), F("seq", "1") }, 4, -EINVAL },
		{ { F("op", "add"), F("entry", "garbage"), F("exp", "+inf"), F("seq", "1") }, 4, -EINVAL },
		{ { F("op", "add"), F("entry", "198.51.100.0/24"), F("seq", "1") }, 3, -EINVAL },
		{ { F("op", "add"), F("entry", "198.51.100.0/24"), F("exp", "1000"), F("seq", "1") }, 4, -ESTALE },
		{ { F("op", "add"), F("entry", "198.51.100.0/24"), F("exp", "9999999999999999"), F("seq", "1") }, 4, -ERANGE },
		{ { F("op", "add"), F("entry", "198.51.100.0/24"), F("exp", "soon"), F("seq", "1") }, 4, -EINVAL },
		{ { F("op", "add"), F("entry", "198.51.100.0/24"), F("exp", "+inf"), F("seq", "0") }, 4, -EINVAL },
		{ { F("op", "add"), F("entry", "198.51.100.0/24"), F("exp", "+inf"), F("seq", "-1") }, 4, -EINVAL },
		{ { F("op", "add"), F("entry", "198.51.100.0/24"), F("exp", "+inf"), F("seq", "1"), F("op", "del") }, 5, -EINVAL },
		{ { F("op", "add"), F("entry", "198.51.100.0/24"), F("exp", "+inf"), F("seq", "1"), F("why", "a\nb") }, 5, -EINVAL },
	};
	struct bf_log_rec r;

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const char *what = NULL;
		int rc = bf_log_rec_parse(BF_KIND_BL, rows[i].f, rows[i].n, NOW, &r, &what);

		if (rc != rows[i].rc)
			fail_msg("row %zu: rc %d, want %d", i, rc, rows[i].rc);
		assert_non_null(what);
	}
}

static void test_schema__events_round_trip(void **state)
{
	struct bf_evt e = { .type = BF_EVT_ENTRY, .origin = "pop1" }, d;
	uint8_t buf[BF_EVT_MAX_BYTES];
	const char *what = NULL;
	const char *punch = "udp 198.51.100.34:5000 203.0.113.10:40000 via 198.18.3.2";
	int n;

	assert_int_equal(bf_entry_parse(BF_KIND_PUNCH, punch, strlen(punch), &e.rec.entry), 0);
	e.rec.op = BF_OP_ADD;
	e.rec.exp_ms = NOW + 120000;
	e.rec.seq = 7;
	strcpy(e.rec.why, "punch");
	n = bf_evt_encode(&e, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(bf_evt_decode(buf, (size_t)n, NOW, &d, &what), 0);
	assert_int_equal(d.type, BF_EVT_ENTRY);
	assert_string_equal(d.origin, "pop1");
	assert_memory_equal(&d.rec.entry, &e.rec.entry, sizeof(e.rec.entry));
	assert_true(d.rec.exp_ms == e.rec.exp_ms);
	assert_int_equal(d.rec.seq, 7);
	assert_string_equal(d.rec.why, "punch");

	e.rec.exp_ms = BF_EXP_INF;
	n = bf_evt_encode(&e, buf, sizeof(buf));
	assert_int_equal(bf_evt_decode(buf, (size_t)n, NOW, &d, &what), 0);
	assert_true(d.rec.exp_ms == BF_EXP_INF);

	e = (struct bf_evt){ .type = BF_EVT_EDGE_UP, .origin = "pop2", .version = "1.0" };
	n = bf_evt_encode(&e, buf, sizeof(buf));
	assert_int_equal(bf_evt_decode(buf, (size_t)n, NOW, &d, &what), 0);
	assert_int_equal(d.type, BF_EVT_EDGE_UP);
	assert_string_equal(d.version, "1.0");
	assert_int_equal(bf_evt_encode(&e, buf, 4), -ENOSPC);
}

#define B(lit) (const uint8_t *)lit, sizeof(lit) - 1

static void test_schema__events_hostile(void **state)
{
	static const struct {
		const char *name;
		const uint8_t *b;
		size_t n;
	} rows[] = {
		{ "empty", B("") },
		{ "array32 claiming 4G items", B("\xdd\xff\xff\xff\xff") },
		{ "map32 claiming 4G pairs", B("\xdf\xff\xff\xff\xff") },
		{ "str32 claiming 4 GiB", B("\xdb\xff\xff\xff\xff" "abc") },
		{ "bin32 claiming 4 GiB", B("\xc6\x7f\xff\xff\xff") },
		{ "ext32 claiming 4 GiB", B("\xc9\x7f\xff\xff\xff\x01") },
		{ "array16 of 65535 in 3 bytes", B("\xdc\xff\xff") },
		{ "reserved byte 0xc1", B("\xc1") },
		{ "truncated map", B("\x82\xa1t\xa5" "entry") },
		{ "trailing bytes", B("\x80\x00") },
		{ "two objects", B("\x80\x80") },
		{ "not a map", B("\x93\x01\x02\x03") },
		{ "deep nesting", B("\x91\x91\x91\x91\x91\x90") },
		{ "map without origin", B("\x81\xa1t\xa2up") },
		{ "origin of wrong type", B("\x82\xa1t\xa2up\xa1o\x05") },
		{ "bad origin", B("\x82\xa1t\xa2up\xa1o\xa3" "a b") },
		{ "unknown type", B("\x82\xa1t\xa3zzz\xa1o\xa4pop1") },
		{ "entry without seq", B("\x85\xa1t\xa5" "entry\xa1o\xa4pop1\xa1k\xa2" "bl\xa2op\xa3" "del\xa1" "e\xaf" "198.51.100.0/24") },
	};
	struct bf_evt d;

	biggest_alloc = 0;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const char *what = NULL;

		if (bf_evt_decode(rows[i].b, rows[i].n, NOW, &d, &what) == 0)
			fail_msg("accepted: %s", rows[i].name);
		assert_non_null(what);
	}
	/* msgpack-c would reserve gigabytes for some of these; nothing did. */
	if (biggest_alloc > 64 * 1024)
		fail_msg("an allocation of %zu bytes happened", biggest_alloc);

	{
		uint8_t big[BF_EVT_MAX_BYTES + 1] = { 0 };
		const char *what;

		assert_int_equal(bf_evt_decode(big, sizeof(big), NOW, &d, &what), -EINVAL);
	}
	/* Structural checker on its own: a legal nested frame passes. */
	assert_int_equal(bf_msgpack_check((const uint8_t *)"\x81\xa1" "a\x92\x01\xc0", 6, 2), 0);
	assert_int_equal(bf_msgpack_check((const uint8_t *)"\x81\xa1" "a\x92\x01\xc0", 6, 1), -EINVAL);
}

static void test_schema__event_entry_validation(void **state)
{
	struct bf_evt e = { .type = BF_EVT_ENTRY, .origin = "pop1" }, d;
	uint8_t buf[BF_EVT_MAX_BYTES];
	const char *what;
	int n;

	assert_int_equal(bf_entry_parse(BF_KIND_BL, "198.51.100.0/24", 15, &e.rec.entry), 0);
	e.rec.op = BF_OP_ADD;
	e.rec.seq = 1;
	e.rec.exp_ms = NOW - 1; /* encoded as is, refused on decode */
	n = bf_evt_encode(&e, buf, sizeof(buf));
	assert_int_equal(bf_evt_decode(buf, (size_t)n, NOW, &d, &what), -EINVAL);
	assert_string_equal(what, "expiry in the past or absurdly far");
	e.rec.exp_ms = NOW + BF_EXP_HORIZON_MS + 1;
	n = bf_evt_encode(&e, buf, sizeof(buf));
	assert_int_equal(bf_evt_decode(buf, (size_t)n, NOW, &d, &what), -EINVAL);
	/* Free text that would act on a terminal is refused, as in the logs. */
	e.rec.exp_ms = NOW + 1000;
	snprintf(e.rec.why, sizeof(e.rec.why), "ban\x1b[2J");
	n = bf_evt_encode(&e, buf, sizeof(buf));
	assert_int_equal(bf_evt_decode(buf, (size_t)n, NOW, &d, &what), -EINVAL);
	assert_string_equal(what, "control characters in why or version");
	snprintf(e.rec.why, sizeof(e.rec.why), "flood \"quoted\" ok");
	n = bf_evt_encode(&e, buf, sizeof(buf));
	assert_int_equal(bf_evt_decode(buf, (size_t)n, NOW, &d, &what), 0);
	e = (struct bf_evt){ .type = BF_EVT_EDGE_UP, .origin = "pop1", .version = "v1\r" };
	n = bf_evt_encode(&e, buf, sizeof(buf));
	assert_int_equal(bf_evt_decode(buf, (size_t)n, NOW, &d, &what), -EINVAL);
}

static void test_schema__connections(void **state)
{
	const struct bf_field good[] = { F("machine", "198.18.3.2"), F("port", "27016"),
					 F("a2s", "1"), F("limits", "later") };
	const struct bf_field bad_machine[] = { F("machine", "nonsense") };
	const struct bf_field bad_port[] = { F("machine", "198.18.3.2"), F("port", "0") };
	const struct bf_field none[] = { F("port", "1") };
	struct bf_conn c;
	const char *what;
	char err[128];

	assert_int_equal(bf_conn_parse_key("bifrost:conn:udp:203.0.113.10:27015", 35, P, &c), 0);
	assert_int_equal(c.proto, IPPROTO_UDP);
	assert_int_equal(c.bind_port, 27015);
	assert_false(c.a2s); /* off unless the hash says so */
	assert_int_equal(bf_conn_parse_fields(good, 4, &c, &what), 0);
	assert_int_equal(c.machine_port, 27016);
	assert_true(c.a2s);
	assert_int_equal(bf_conn_parse_fields(bad_machine, 1, &c, &what), -EINVAL);
	assert_string_equal(what, "machine is not an address");
	assert_int_equal(bf_conn_parse_fields(bad_port, 2, &c, &what), -EINVAL);
	assert_int_equal(bf_conn_parse_fields(none, 1, &c, &what), -EINVAL);
	{
		const struct bf_field off[] = { F("machine", "198.18.3.2"), F("a2s", "0") };
		const char *bad[] = { "", "2", "yes", "10", "on" };

		assert_int_equal(bf_conn_parse_fields(off, 2, &c, &what), 0);
		assert_false(c.a2s);
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			const struct bf_field f[] = { F("machine", "198.18.3.2"),
						      { "a2s", 3, bad[i], strlen(bad[i]) } };

			assert_int_equal(bf_conn_parse_fields(f, 2, &c, &what), -EINVAL);
			assert_string_equal(what, "a2s is not 0 or 1");
		}
		/* A2S is a UDP protocol. */
		assert_int_equal(bf_conn_parse_key("bifrost:conn:tcp:203.0.113.10:27015", 35, P, &c), 0);
		assert_int_equal(bf_conn_parse_fields(good, 4, &c, &what), -EINVAL);
		assert_string_equal(what, "a2s on a connection that is not udp");
	}
	{ /* validate: a module's exact name, udp only */
		const struct bf_field v[] = { F("machine", "198.18.3.2"), F("validate", "raknet") };
		const char *bad[] = { "", "RakNet", "srcds ", "quake", "1" };

		assert_int_equal(bf_conn_parse_key("bifrost:conn:udp:203.0.113.10:27015", 35, P, &c), 0);
		assert_int_equal(c.validate, BF_VALIDATE_NONE);
		assert_int_equal(bf_conn_parse_fields(v, 2, &c, &what), 0);
		assert_int_equal(c.validate, BF_VALIDATE_RAKNET);
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			const struct bf_field f[] = { F("machine", "198.18.3.2"),
						      { "validate", 8, bad[i], strlen(bad[i]) } };

			assert_int_equal(bf_conn_parse_fields(f, 2, &c, &what), -EINVAL);
			assert_string_equal(what, "validate is not none, srcds or raknet");
		}
		assert_int_equal(bf_conn_parse_key("bifrost:conn:tcp:203.0.113.10:27015", 35, P, &c), 0);
		assert_int_equal(bf_conn_parse_fields(v, 2, &c, &what), -EINVAL);
		assert_string_equal(what, "validate on a connection that is not udp");
		assert_string_equal(bf_validate_name(BF_VALIDATE_SRCDS), "srcds");
	}
	assert_int_equal(bf_conn_parse_key("bifrost:conn:icmp:203.0.113.10:0", 32, P, &c), 0);
	assert_int_equal(bf_conn_parse_key("bifrost:conn:icmp:203.0.113.10:5", 32, P, &c), -EINVAL);
	assert_int_equal(bf_conn_parse_key("bifrost:conn:udp:203.0.113.10:0", 31, P, &c), -EINVAL);
	assert_int_equal(bf_conn_parse_key("bifrost:conn:sctp:203.0.113.10:1", 32, P, &c), -EINVAL);
	assert_int_equal(bf_conn_parse_key("bifrost:conn:udp", 16, P, &c), -EINVAL);
	assert_int_equal(bf_conn_parse_key("other:conn:udp:203.0.113.10:1", 29, P, &c), -EINVAL);
	assert_int_equal(bf_conn_parse("tcp", "203.0.113.10:27015", "198.18.3.2:27016", &c, err,
				       sizeof(err)), 0);
	assert_int_equal(c.machine_port, 27016);
	assert_int_equal(bf_conn_parse("udp", "203.0.113.10", "198.18.3.2", &c, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "bad bind endpoint"));
}

static void test_schema__a2s_keys(void **state)
{
	char k[BF_KEY_MAX];
	uint32_t ip = htonl(0xcb00710a), got_ip;
	uint16_t port;
	enum bf_a2s_key kind;
	static const char *want[] = { "bifrost:a2s:203.0.113.10:27015",
				      "bifrost:a2s:player:203.0.113.10:27015",
				      "bifrost:a2s:rules:203.0.113.10:27015",
				      "bifrost:a2s:lock:203.0.113.10:27015" };

	for (int i = 0; i < BF_A2S_KEY_MAX; i++) {
		int n = bf_key_a2s(k, sizeof(k), P, (enum bf_a2s_key)i, ip, 27015);

		assert_int_equal(n, (int)strlen(want[i]));
		assert_string_equal(k, want[i]);
		assert_int_equal(bf_key_a2s_parse(k, (size_t)n, P, &kind, &got_ip, &port), 0);
		assert_int_equal(kind, i);
		assert_int_equal(got_ip, ip);
		assert_int_equal(port, 27015);
	}
	assert_int_equal(bf_key_a2s_channel(k, sizeof(k), P), 11);
	assert_string_equal(k, "bifrost:a2s");
	assert_int_equal(bf_key_a2s(k, sizeof(k), P, BF_A2S_KEY_MAX, ip, 1), -EINVAL);
	assert_int_equal(bf_key_a2s(k, sizeof(k), P, BF_A2S_INFO, ip, 0), -EINVAL);
	assert_int_equal(bf_key_a2s(k, 20, P, BF_A2S_INFO, ip, 1), -ENAMETOOLONG);
	{
		static const char *bad[] = { "bifrost:a2s", "bifrost:a2s:", "bifrost:a2s:1.2.3.4",
					     "bifrost:a2s:1.2.3.4:0", "bifrost:a2s:stats:1.2.3.4:5",
					     "bifrost:a2s:rules:1.2.3.4:5:6", "other:a2s:1.2.3.4:5",
					     "bifrost:conn:udp:1.2.3.4:5" };

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			assert_int_equal(bf_key_a2s_parse(bad[i], strlen(bad[i]), P, &kind, &got_ip,
							  &port), -EINVAL);
		/* embedded NUL */
		assert_int_equal(bf_key_a2s_parse("bifrost:a2s:1.2.3.4:5\0x", 23, P, &kind, &got_ip,
						  &port), -EINVAL);
	}
}

/* ---- stats frames ---- */

static void fill_frame(struct bf_stats_frame *f)
{
	memset(f, 0, sizeof(*f));
	snprintf(f->origin, sizeof(f->origin), "pop-1");
	f->ts_ms = NOW;
	f->interval_ms = 1000;
	f->n_reasons = BF_R_MAX;
	for (unsigned r = 0; r < BF_R_MAX; r++)
		f->r[r] = (struct bf_stats_row){ r + 1, (r + 1) * 800, 1000 + r,
						 (uint64_t)1 << 40 | r };
	f->conn_in_pps = 11;
	f->conn_in_bps = 12;
	f->conn_out_pps = 13;
	f->conn_out_bps = UINT64_MAX;
	f->sync_up = 1;
	f->sync_pending = 2;
	f->sync_peers = 3;
	f->sync_resyncs = 4;
	f->sync_bad_records = 5;
	f->sync_bad_frames = 6;
	f->stats_dropped = 7;
	f->wl_entries = 8;
	f->bl_entries = 9;
}

static void test_schema__stats_round_trip(void **state)
{
	struct bf_stats_frame f, d;
	uint8_t buf[BF_STATS_MAX_BYTES];
	const char *what = NULL;
	char k[BF_KEY_MAX];
	int n;

	fill_frame(&f);
	n = bf_stats_encode(&f, buf, sizeof(buf));
	assert_true(n > 0 && n < BF_STATS_MAX_BYTES);
	assert_int_equal(bf_stats_decode(buf, (size_t)n, &d, &what), 0);
	assert_memory_equal(&f, &d, sizeof(f));
	assert_int_equal(bf_stats_encode(&f, buf, 10), -ENOSPC);
	/* an event frame is not a stats frame, and the other way round */
	{
		struct bf_evt e;

		assert_int_equal(bf_evt_decode(buf, (size_t)n, NOW, &e, &what), -EINVAL);
	}
	strcpy(f.origin, "bad id");
	assert_int_equal(bf_stats_encode(&f, buf, sizeof(buf)), -EINVAL);

	bf_key_stats(k, sizeof(k), P, "pop1");
	assert_string_equal(k, "bifrost:stats:pop1");
	bf_key_stats_log(k, sizeof(k), P, "pop1");
	assert_string_equal(k, "bifrost:log:stats:pop1");
	assert_int_equal(bf_key_stats(k, sizeof(k), P, "a:b"), -EINVAL);
}

/* Every reason of bpf/bifrost.h has its verdict in one table (schema_stats.c): the
 * counts per verdict are pinned, so a reason added without one (it would read as pass)
 * or moved to another verdict fails here until this test says so too. */
static void test_schema__every_reason_has_a_verdict(void **state)
{
	unsigned n[BF_V_SIDE + 1] = { 0 };

	for (unsigned r = 0; r < BF_R_MAX; r++) {
		enum bf_verdict v = bf_reason_verdict(r);

		assert_true(v >= BF_V_DROP && v <= BF_V_SIDE);
		assert_int_equal(bf_reason_is_drop(r), v == BF_V_DROP);
		n[v]++;
	}
	assert_int_equal(BF_R_MAX, 35);
	assert_int_equal(n[BF_V_DROP], 18);    /* ..., unvalidated, handshake_limit */
	assert_int_equal(n[BF_V_FORWARD], 3);  /* forward, punch_hit, handshake */
	assert_int_equal(n[BF_V_SIDE], 7);     /* would_drop, punch_new, protected, rule_dry_run,
						* punch_refused, validated, valid_refused */
	assert_int_equal(n[BF_V_PASS], 7);     /* non_ipv4, return_path, whitelist, local, icmp_echo, a2s_redirect, other_host */
	assert_int_equal(bf_reason_verdict(BF_R_OTHER_HOST), BF_V_PASS);
	assert_int_equal(bf_reason_verdict(BF_R_AMPLIFIER), BF_V_DROP);
	assert_int_equal(bf_reason_verdict(BF_R_A2S_REDIRECT), BF_V_PASS);
	assert_string_equal(bf_verdict_name(BF_V_SIDE), "side");
}

static void test_schema__stats_sums_and_hash_fields(void **state)
{
	struct bf_stats_field fl[BF_STATS_HASH_FIELDS];
	struct bf_stats_frame f = { .origin = "pop1" };
	struct bf_stats_sums s;
	size_t n;

	f.r[BF_R_FORWARD] = (struct bf_stats_row){ 100, 800000, 1000, 100000 };
	f.r[BF_R_PUNCH_HIT] = (struct bf_stats_row){ 1, 8, 2, 3 };
	f.r[BF_R_BLACKLIST] = (struct bf_stats_row){ 50, 400, 60, 70 };
	f.r[BF_R_DEFAULT_DROP] = (struct bf_stats_row){ 5, 40, 6, 7 };
	f.r[BF_R_LOCAL] = (struct bf_stats_row){ 2, 16, 3, 4 };
	f.r[BF_R_WOULD_DROP] = (struct bf_stats_row){ 1000, 1000, 1000, 1000 };
	f.r[BF_R_PUNCH_NEW] = (struct bf_stats_row){ 1000, 1000, 1000, 1000 };
	bf_stats_sum(&f, &s);
	assert_int_equal(s.rx.pps, 158);
	assert_int_equal(s.rx.packets, 1071);
	assert_int_equal(s.fwd.pps, 101);
	assert_int_equal(s.fwd.bps, 800008);
	assert_int_equal(s.drop.pps, 55);
	assert_int_equal(s.drop.bytes, 77);
	/* Rate limits and drop rules are drops; protected and dry-run rule
	 * matches count beside the verdict and are not received twice. */
	f.r[BF_R_RATELIMIT] = (struct bf_stats_row){ 7, 56, 8, 9 };
	f.r[BF_R_RULE_DROP] = (struct bf_stats_row){ 3, 24, 4, 5 };
	f.r[BF_R_PROTECTED] = (struct bf_stats_row){ 900, 900, 900, 900 };
	f.r[BF_R_RULE_DRY_RUN] = (struct bf_stats_row){ 900, 900, 900, 900 };
	bf_stats_sum(&f, &s);
	assert_int_equal(s.drop.pps, 55 + 7 + 3);
	assert_int_equal(s.rx.pps, 158 + 7 + 3);
	f.r[BF_R_RATELIMIT] = f.r[BF_R_RULE_DROP] = (struct bf_stats_row){ 0 };
	f.r[BF_R_PROTECTED] = f.r[BF_R_RULE_DRY_RUN] = (struct bf_stats_row){ 0 };
	/* The trust boundary's drops are drops; a refused punch counts beside. */
	f.r[BF_R_RETURN_SPOOFED] = (struct bf_stats_row){ 1, 8, 1, 1 };
	f.r[BF_R_IPIP_REFUSED] = (struct bf_stats_row){ 2, 16, 2, 2 };
	f.r[BF_R_BAD_CSUM] = (struct bf_stats_row){ 4, 32, 4, 4 };
	f.r[BF_R_AMPLIFIER] = (struct bf_stats_row){ 8, 64, 8, 8 };
	f.r[BF_R_PUNCH_REFUSED] = (struct bf_stats_row){ 900, 900, 900, 900 };
	bf_stats_sum(&f, &s);
	assert_int_equal(s.drop.pps, 55 + 15);
	assert_int_equal(s.rx.pps, 158 + 15);
	f.r[BF_R_RETURN_SPOOFED] = f.r[BF_R_IPIP_REFUSED] = (struct bf_stats_row){ 0 };
	f.r[BF_R_BAD_CSUM] = f.r[BF_R_AMPLIFIER] = f.r[BF_R_PUNCH_REFUSED] = (struct bf_stats_row){ 0 };

	n = bf_stats_hash_fields(&f, fl, BF_STATS_HASH_FIELDS);
	assert_int_equal(n, 24 + 2 * BF_R_MAX);
	assert_string_equal(fl[2].name, "rx_pps");
	assert_string_equal(fl[2].val, "158");
	for (size_t i = 0; i < n; i++)
		if (!strcmp(fl[i].name, "blacklist_packets"))
			assert_string_equal(fl[i].val, "60");
	assert_int_equal(bf_stats_hash_fields(&f, fl, 3), 3); /* bounded by cap */
}

static void test_schema__stats_hostile(void **state)
{
	static const struct {
		const char *name;
		const uint8_t *b;
		size_t n;
	} rows[] = {
		{ "empty", B("") },
		{ "array32 claiming 4G items", B("\xdd\xff\xff\xff\xff") },
		{ "map32 claiming 4G pairs", B("\xdf\xff\xff\xff\xff") },
		{ "str32 claiming 4 GiB", B("\xdb\xff\xff\xff\xff" "abc") },
		{ "not a map", B("\x93\x01\x02\x03") },
		{ "nested too deep", B("\x81\xa1r\x91\x91\x91\x90") },
		{ "no type", B("\x82\xa1o\xa4pop1\xa2ts\x01") },
		{ "wrong type", B("\x84\xa1t\xa5" "entry\xa1o\xa4pop1\xa2ts\x01\xa1r\x90") },
		{ "no reasons", B("\x83\xa1t\xa5stats\xa1o\xa4pop1\xa2ts\x01") },
		{ "no ts", B("\x83\xa1t\xa5stats\xa1o\xa4pop1\xa1r\x90") },
		{ "bad origin", B("\x84\xa1t\xa5stats\xa1o\xa3" "a b\xa2ts\x01\xa1r\x90") },
		{ "negative ts", B("\x84\xa1t\xa5stats\xa1o\xa4pop1\xa2ts\xff\xa1r\x90") },
		{ "row of 3", B("\x84\xa1t\xa5stats\xa1o\xa4pop1\xa2ts\x01\xa1r\x91\x93\x01\x02\x03") },
		{ "row with a string", B("\x84\xa1t\xa5stats\xa1o\xa4pop1\xa2ts\x01\xa1r\x91\x94\x01\x02\x03\xa1x") },
		{ "negative counter", B("\x84\xa1t\xa5stats\xa1o\xa4pop1\xa2ts\x01\xa1r\x91\x94\x01\x02\x03\xff") },
		{ "reasons not an array", B("\x84\xa1t\xa5stats\xa1o\xa4pop1\xa2ts\x01\xa1r\x05") },
		{ "sync state short", B("\x85\xa1t\xa5stats\xa1o\xa4pop1\xa2ts\x01\xa1r\x90\xa1s\x91\x01") },
		{ "absurd interval", B("\x85\xa1t\xa5stats\xa1o\xa4pop1\xa2ts\x01\xa1r\x90\xa2iv\xce\xff\xff\xff\xff") },
	};
	struct bf_stats_frame d;

	biggest_alloc = 0;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const char *what = NULL;

		if (bf_stats_decode(rows[i].b, rows[i].n, &d, &what) == 0)
			fail_msg("accepted: %s", rows[i].name);
		assert_non_null(what);
	}
	if (biggest_alloc > 64 * 1024)
		fail_msg("an allocation of %zu bytes happened", biggest_alloc);
	{
		uint8_t big[BF_STATS_MAX_BYTES + 1] = { 0 };
		const char *what;

		assert_int_equal(bf_stats_decode(big, sizeof(big), &d, &what), -EINVAL);
	}
	{
		/* The smallest valid frame; a newer sender's unknown keys are ignored. */
		const char *what = NULL;

		assert_int_equal(bf_stats_decode((const uint8_t *)"\x85\xa1t\xa5stats\xa1o\xa4pop1"
								   "\xa2ts\x01\xa1r\x90\xa3zzz\x05",
						 28, &d, &what), 0);
		assert_string_equal(d.origin, "pop1");
		assert_int_equal(d.ts_ms, 1);
		assert_int_equal(d.n_reasons, 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_schema__keys),
		cmocka_unit_test(test_schema__entries_round_trip),
		cmocka_unit_test(test_schema__entries_hostile),
		cmocka_unit_test(test_schema__expiry),
		cmocka_unit_test(test_schema__log_records),
		cmocka_unit_test(test_schema__log_records_hostile),
		cmocka_unit_test(test_schema__events_round_trip),
		cmocka_unit_test(test_schema__events_hostile),
		cmocka_unit_test(test_schema__event_entry_validation),
		cmocka_unit_test(test_schema__connections),
		cmocka_unit_test(test_schema__a2s_keys),
		cmocka_unit_test(test_schema__stats_round_trip),
		cmocka_unit_test(test_schema__cursor_lines),
		cmocka_unit_test(test_schema__every_reason_has_a_verdict),
		cmocka_unit_test(test_schema__stats_sums_and_hash_fields),
		cmocka_unit_test(test_schema__stats_hostile),
	};

	return cmocka_run_group_tests_name("schema", tests, NULL, NULL);
}
