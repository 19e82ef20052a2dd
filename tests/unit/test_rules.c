/* test_rules.c - the pure schema of firewall rules and per-source limits:
 * text and field forms, canonical round trips, one error per field that
 * names it, and hostile input (refused whole, never half-built). */
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "schema.h"

#define F(n, v) { n, sizeof(n) - 1, v, sizeof(v) - 1 }

static int parse(const char *text, struct bf_rule_def *r, char *err, size_t errlen)
{
	return bf_rule_parse(100, text, strlen(text), r, err, errlen);
}

static void test_rules__round_trip(void **state)
{
	static const char *const canonical[] = {
		"action drop",
		"action pass proto udp dport 27015",
		"enabled no action drop dry_run yes edges pop1,pop-2 src 198.51.100.0/24 "
		"dst 203.0.113.10/32 proto udp ihl 5-6 tos 0-16 ip_id 0 frag_off 0 ttl 1-64 "
		"ip_len 28-1500 ip_flags rf,df,!mf sport 1024-65535 dport 27015-27020 "
		"payload_len 0-24 payload 4:54536f75726365 pps 50000 bps 100000000",
		"action drop proto tcp tcp_flags fin,syn,!rst,!ack,cwr tcp_seq 0-4294967295 "
		"tcp_ack 7 tcp_window 0-1024",
		"action drop proto icmp icmp_type 8 icmp_code 0-3",
		"action drop proto 47",
		"action drop payload 0:ff00a0/ff00f0",
		"action drop payload 1400:00112233445566778899aabbccddeeff",
	};
	struct bf_rule_def r, r2;
	char err[256], buf[BF_RULE_TEXT_MAX + 1];

	for (size_t i = 0; i < sizeof(canonical) / sizeof(canonical[0]); i++) {
		if (parse(canonical[i], &r, err, sizeof(err)))
			fail_msg("'%s' refused: %s", canonical[i], err);
		assert_true(bf_rule_format(&r, buf, sizeof(buf)) > 0);
		assert_string_equal(buf, canonical[i]);
		assert_int_equal(parse(buf, &r2, err, sizeof(err)), 0);
		assert_memory_equal(&r, &r2, sizeof(r));
	}
	/* Other spellings come back canonical. */
	assert_int_equal(parse("  proto 17\tdport 27015-27015 action drop payload 0:FF/Ff "
			       "tcp_flags_are_not_here_so_no ", &r, err, sizeof(err)), -EINVAL);
	assert_int_equal(parse("proto 17 dport 27015-27015 action drop payload 0:FF/Ff "
			       "ip_flags !mf,df enabled yes dry_run no edges * pps 2k",
			       &r, err, sizeof(err)), 0);
	bf_rule_format(&r, buf, sizeof(buf));
	assert_string_equal(buf, "action drop proto udp ip_flags df,!mf dport 27015 payload 0:ff pps 2000");
	assert_int_equal(r.used, BF_RF_PROTO | BF_RF_DPORT | BF_RF_PAYLOAD | BF_RF_IP_FLAGS | BF_RF_PPS);
	assert_int_equal(r.ipfl_mask, BF_IPFL_DF | BF_IPFL_MF);
	assert_int_equal(r.ipfl_val, BF_IPFL_DF);
	/* Too small a buffer is an error, not a cut rule. */
	assert_int_equal(bf_rule_format(&r, buf, 10), -ENOSPC);
}

static void test_rules__values(void **state)
{
	struct bf_rule_def r;
	char err[256];

	assert_int_equal(parse("action pass proto tcp tcp_flags syn,!ack dport 80-81 ttl 64", &r,
			       err, sizeof(err)), 0);
	assert_int_equal(r.id, 100);
	assert_int_equal(r.action, BF_RULE_PASS);
	assert_true(r.enabled);
	assert_false(r.dry_run);
	assert_string_equal(r.edges, "*");
	assert_int_equal(r.proto, IPPROTO_TCP);
	assert_int_equal(r.tcpfl_mask, 0x12);
	assert_int_equal(r.tcpfl_val, 0x02);
	assert_int_equal(r.dport.lo, 80);
	assert_int_equal(r.dport.hi, 81);
	assert_int_equal(r.ttl.lo, 64);
	assert_int_equal(r.ttl.hi, 64);
	assert_int_equal(parse("action drop payload 3:40/f0 bps 4m", &r, err, sizeof(err)), 0);
	assert_int_equal(r.pl_off, 3);
	assert_int_equal(r.pl_len, 1);
	assert_int_equal(r.pl_val[0], 0x40);
	assert_int_equal(r.pl_mask[0], 0xf0);
	assert_int_equal(r.bps, 4000000);
}

static void test_rules__every_field_error_names_it(void **state)
{
	static const struct {
		const char *text, *want;
	} rows[] = {
		{ "proto udp", "action: missing" },
		{ "action reject", "action: 'reject' is not pass or drop" },
		{ "action drop enabled maybe", "enabled: 'maybe' is not yes or no" },
		{ "action drop dry_run 2", "dry_run: '2' is not yes or no" },
		{ "action drop edges pop1,,pop2", "edges: " },
		{ "action drop edges a/b", "edges: " },
		{ "action drop edges ,", "edges: " },
		{ "action drop src 198.51.100.1/24", "src: '198.51.100.1/24' is not a CIDR" },
		{ "action drop dst 300.1.1.1", "dst: " },
		{ "action drop proto sctp", "proto: 'sctp' is not udp, tcp, icmp or 0-255" },
		{ "action drop proto 256", "proto: " },
		{ "action drop proto 017", "proto: " },
		{ "action drop ihl 4", "ihl: '4' is not N or N-M within 5-15" },
		{ "action drop ihl 5-16", "ihl: " },
		{ "action drop tos 256", "tos: " },
		{ "action drop ip_id 65536", "ip_id: " },
		{ "action drop frag_off 8192", "frag_off: " },
		{ "action drop ttl 20-10", "ttl: '20-10' is not N or N-M within 0-255" },
		{ "action drop ip_len 19", "ip_len: " },
		{ "action drop ip_flags xf", "ip_flags: 'xf' is not a comma list of rf, df, mf" },
		{ "action drop ip_flags df,df", "ip_flags: " },
		{ "action drop ip_flags df,", "ip_flags: " },
		{ "action drop proto udp sport 70000", "sport: '70000' is not N or N-M within 0-65535" },
		{ "action drop proto udp dport -5", "dport: " },
		{ "action drop proto udp dport 1-", "dport: " },
		{ "action drop proto udp dport 0x50", "dport: " },
		{ "action drop proto tcp tcp_flags syn,!syn", "tcp_flags: " },
		{ "action drop proto tcp tcp_flags SYN", "tcp_flags: " },
		{ "action drop proto tcp tcp_seq 4294967296", "tcp_seq: " },
		{ "action drop proto tcp tcp_ack 1-2-3", "tcp_ack: " },
		{ "action drop proto tcp tcp_window 65536", "tcp_window: " },
		{ "action drop proto icmp icmp_type 256", "icmp_type: " },
		{ "action drop proto icmp icmp_code x", "icmp_code: " },
		{ "action drop payload_len 65536", "payload_len: " },
		{ "action drop payload 4", "payload: want OFFSET:HEX" },
		{ "action drop payload 1401:00", "payload: offset is not 0-1400" },
		{ "action drop payload 4:", "payload: bytes are not 1-16 bytes of hex digits" },
		{ "action drop payload 4:0", "payload: bytes are not" },
		{ "action drop payload 4:zz", "payload: bytes are not" },
		{ "action drop payload 0:00112233445566778899aabbccddeeff00", "payload: bytes are not" },
		{ "action drop payload 4:4142/ff", "payload: mask is not hex digits as long as the bytes" },
		{ "action drop payload 4:41/0f", "payload: bytes have bits outside the mask" },
		{ "action drop pps 0", "pps: '0' is not a rate" },
		{ "action drop pps 100g1", "pps: " },
		{ "action drop bps 101g", "bps: " },
		{ "action drop sport 1", "sport: needs proto udp or tcp" },
		{ "action drop proto icmp dport 1", "dport: needs proto udp or tcp" },
		{ "action drop proto udp tcp_flags syn", "tcp_flags: needs proto tcp" },
		{ "action drop tcp_seq 1", "tcp_seq: needs proto tcp" },
		{ "action drop proto udp tcp_ack 1", "tcp_ack: needs proto tcp" },
		{ "action drop tcp_window 1", "tcp_window: needs proto tcp" },
		{ "action drop proto tcp icmp_type 8", "icmp_type: needs proto icmp" },
		{ "action drop icmp_code 0", "icmp_code: needs proto icmp" },
		{ "action drop dport", "dport: has no value" },
		{ "action drop colour red", "unknown field 'colour'" },
		{ "action drop ttl 1 ttl 2", "ttl: given twice" },
	};
	struct bf_rule_def r;

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char err[256] = "";

		if (parse(rows[i].text, &r, err, sizeof(err)) != -EINVAL)
			fail_msg("accepted: '%s'", rows[i].text);
		if (strncmp(err, rows[i].want, strlen(rows[i].want)))
			fail_msg("'%s': error '%s', want it to start with '%s'", rows[i].text, err,
				 rows[i].want);
		/* Refused whole: nothing of it is left to apply. */
		assert_int_equal(r.action, 0);
		assert_int_equal(r.used, 0);
	}
}

static void test_rules__hostile_input(void **state)
{
	struct bf_rule_def r;
	char err[256], big[8192];
	const struct bf_field nul_name[] = { { "action\0x", 8, "drop", 4 } };
	const struct bf_field nul_val[] = { { "action", 6, "drop\0", 5 } };
	const struct bf_field empty_val[] = { { "action", 6, "", 0 } };
	const struct bf_field ctl[] = { F("action", "drop"), F("\x1b[31mred", "1") };
	const struct bf_field good[] = { F("dport", "27015"), F("proto", "udp"), F("action", "drop") };

	/* Longer than a rule can be. */
	memset(big, 'a', sizeof(big));
	assert_int_equal(bf_rule_parse(1, big, sizeof(big), &r, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "rule: longer than"));
	/* Many fields (more than exist, so some repeat). */
	big[0] = '\0';
	for (int i = 0; i < 60; i++)
		strcat(big, "ttl 1 ");
	assert_int_equal(bf_rule_parse(1, big, strlen(big), &r, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "rule: more fields than there are"));
	/* A NUL inside the text. */
	assert_int_equal(bf_rule_parse(1, "action drop\0proto udp", 21, &r, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "NUL"));
	/* Not NUL-terminated: only n bytes are read. */
	assert_int_equal(bf_rule_parse(1, "action dropXXXX", 11, &r, err, sizeof(err)), 0);
	/* Ids. */
	assert_int_equal(bf_rule_parse(0, "action drop", 11, &r, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "id: 0 is not"));
	assert_int_equal(bf_rule_parse(BF_RULE_ID_MAX + 1, "action drop", 11, &r, err, sizeof(err)),
			 -EINVAL);
	/* The field form: NULs, empty values, control characters in messages. */
	assert_int_equal(bf_rule_parse_fields(1, nul_name, 1, &r, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "unknown field 'action?x'"));
	assert_int_equal(bf_rule_parse_fields(1, nul_val, 1, &r, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "action: empty, too long or with a NUL byte"));
	assert_int_equal(bf_rule_parse_fields(1, empty_val, 1, &r, err, sizeof(err)), -EINVAL);
	assert_int_equal(bf_rule_parse_fields(1, ctl, 2, &r, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "unknown field '?[31mred'");
	/* A long hostile value is cut in the message. */
	{
		struct bf_field longv[] = { F("action", "drop"), { "ttl", 3, big, 200 } };

		memset(big, '9', 200);
		assert_int_equal(bf_rule_parse_fields(1, longv, 2, &r, err, sizeof(err)), -EINVAL);
		assert_true(strlen(err) < 120);
		assert_non_null(strstr(err, "ttl: '99999999999999999999999999999999...'"));
	}
	/* Any order of fields gives the same rule. */
	assert_int_equal(bf_rule_parse_fields(5, good, 3, &r, err, sizeof(err)), 0);
	assert_int_equal(r.id, 5);
	assert_int_equal(r.dport.lo, 27015);
	/* A tiny error buffer still terminates. */
	assert_int_equal(parse("action drop colour red", &r, err, 8), -EINVAL);
	assert_int_equal(strlen(err), 7);
}

static void test_rules__ids_keys_and_scope(void **state)
{
	struct bf_rule_def r;
	char err[128], k[BF_KEY_MAX];
	uint32_t id;

	assert_int_equal(bf_rule_id_parse("100", 3, &id), 0);
	assert_int_equal(id, 100);
	assert_int_equal(bf_rule_id_parse("1000000", 7, &id), 0);
	assert_int_equal(bf_rule_id_parse("1000001", 7, &id), -EINVAL);
	assert_int_equal(bf_rule_id_parse("0", 1, &id), -EINVAL);
	assert_int_equal(bf_rule_id_parse("010", 3, &id), -EINVAL);
	assert_int_equal(bf_rule_id_parse("-1", 2, &id), -EINVAL);
	assert_int_equal(bf_rule_id_parse("", 0, &id), -EINVAL);
	assert_int_equal(bf_rule_id_parse("12345678901234567890", 20, &id), -EINVAL);
	assert_int_equal(bf_key_rules(k, sizeof(k), BF_PREFIX_DEFAULT), 13);
	assert_string_equal(k, "bifrost:rules");

	assert_int_equal(parse("action drop", &r, err, sizeof(err)), 0);
	assert_true(bf_rule_applies(&r, "pop1"));
	assert_true(bf_rule_applies(&r, NULL));
	assert_int_equal(parse("action drop edges pop1,pop2", &r, err, sizeof(err)), 0);
	assert_true(bf_rule_applies(&r, "pop1"));
	assert_true(bf_rule_applies(&r, "pop2"));
	assert_false(bf_rule_applies(&r, "pop"));
	assert_false(bf_rule_applies(&r, "pop12"));
	assert_false(bf_rule_applies(&r, NULL));
}

/* A rule whose every match field is a no-op matches every packet: a drop rule of that kind
 * is what a writer of bifrost:rules would use to take the fleet down, so edges refuse it
 * unless it says `all yes`, which only such a rule may say. */
static void test_rules__match_all_and_all_yes(void **state)
{
	static const char *const drops_all[] = {
		"action drop",
		"action drop src 0.0.0.0/0",
		"action drop src 0.0.0.0/0 dst 0.0.0.0/0 ttl 0-255 tos 0-255 ip_id 0-65535",
		"action drop ihl 5-15 ip_len 20-65535 frag_off 0-8191 payload_len 0-65535",
		"action drop pps 10",
		"action drop bps 1g edges pop1",
		"action drop payload 4:00/00",
	};
	static const char *const selects[][2] = {
		{ "action drop proto udp", "proto" },
		{ "action drop src 0.0.0.0/1", "src" },
		{ "action drop src 0.0.0.0/0 dst 203.0.113.10/32", "dst" },
		{ "action drop ttl 0-254", "ttl" },
		{ "action drop payload_len 1-65535", "payload_len" },
		{ "action drop ip_flags df", "ip_flags" },
		{ "action drop payload 4:00/01", "payload" },
		{ "action drop proto udp dport 0-65535", "proto" },
	};
	struct bf_rule_def r;
	char err[256], buf[BF_RULE_TEXT_MAX + 1];

	for (size_t i = 0; i < sizeof(drops_all) / sizeof(drops_all[0]); i++) {
		if (parse(drops_all[i], &r, err, sizeof(err)))
			fail_msg("'%s' refused: %s", drops_all[i], err);
		if (bf_rule_first_match(&r) || !bf_rule_unmarked_drop_all(&r))
			fail_msg("'%s' is not taken for a drop of every packet", drops_all[i]);
	}
	for (size_t i = 0; i < sizeof(selects) / sizeof(selects[0]); i++) {
		assert_int_equal(parse(selects[i][0], &r, err, sizeof(err)), 0);
		assert_non_null(bf_rule_first_match(&r));
		assert_string_equal(bf_rule_first_match(&r), selects[i][1]);
		assert_false(bf_rule_unmarked_drop_all(&r));
	}
	/* Rules that drop nothing are no threat: pass, dry run, disabled. */
	assert_int_equal(parse("action pass", &r, err, sizeof(err)), 0);
	assert_false(bf_rule_unmarked_drop_all(&r));
	assert_int_equal(parse("action drop dry_run yes", &r, err, sizeof(err)), 0);
	assert_false(bf_rule_unmarked_drop_all(&r));
	assert_int_equal(parse("action drop enabled no", &r, err, sizeof(err)), 0);
	assert_false(bf_rule_unmarked_drop_all(&r));
	/* `all yes` marks it: kept in the canonical text, and it parses back. */
	assert_int_equal(parse("all yes action drop src 0.0.0.0/0", &r, err, sizeof(err)), 0);
	assert_true(r.all);
	assert_false(bf_rule_unmarked_drop_all(&r));
	bf_rule_format(&r, buf, sizeof(buf));
	assert_string_equal(buf, "action drop all yes src 0.0.0.0/0");
	assert_int_equal(parse("action drop all no", &r, err, sizeof(err)), 0);
	assert_true(bf_rule_unmarked_drop_all(&r));
	bf_rule_format(&r, buf, sizeof(buf));
	assert_string_equal(buf, "action drop");
	/* ...and only a rule that matches every packet may say it. */
	assert_int_equal(parse("action drop all yes proto udp dport 53", &r, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "all: yes only on a rule that matches every packet; this one "
				 "matches on proto");
	assert_int_equal(parse("action drop all maybe", &r, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "all: 'maybe' is not yes or no"));
}

/* ---- per-source limits ---- */

static void test_rules__limits_presets_and_fields(void **state)
{
	const struct bf_field rust_over[] = { F("pps", "7k"), F("preset", "rust") };
	const struct bf_field full[] = { F("pps", "2000"), F("bps", "4m"), F("block", "45s"),
					 F("burst", "250ms"), F("share_bans", "yes"),
					 F("machine", "ignored"), F("a2s", "later") };
	struct bf_limits l;
	const char *what = NULL;
	char buf[160];

	bf_limits_init(&l);
	assert_false(bf_limits_any(&l));
	assert_int_equal(l.block_ms, 30000);
	assert_int_equal(l.burst_ms, 100);
	assert_false(l.share_bans); /* bans stay local unless asked (docs/ARCHITECTURE.md) */
	assert_int_equal(bf_limits_format(&l, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");

	/* Kilimanjaro's UDP defaults. */
	assert_int_equal(bf_limits_preset("source", IPPROTO_UDP, &l), 0);
	assert_int_equal(l.pps, 2000);
	assert_int_equal(l.block_ms, 30000);
	assert_false(l.share_bans);
	assert_int_equal(bf_limits_preset("rust", IPPROTO_UDP, &l), 0);
	assert_int_equal(l.pps, 5000);
	assert_int_equal(bf_limits_preset("gmod", IPPROTO_UDP, &l), 0);
	assert_int_equal(l.pps, 10000);
	assert_string_equal(l.preset, "gmod");
	assert_int_equal(bf_limits_preset("gmod", IPPROTO_ICMP, &l), 0);
	assert_int_equal(l.pps, 10);
	assert_int_equal(bf_limits_preset("quake", IPPROTO_UDP, &l), -EINVAL);

	/* The preset is the base whatever the order; fields change it. */
	bf_limits_init(&l);
	assert_int_equal(bf_limits_parse_fields(rust_over, 2, IPPROTO_UDP, &l, &what), 0);
	assert_int_equal(l.pps, 7000);
	assert_string_equal(l.preset, "rust");
	bf_limits_init(&l);
	assert_int_equal(bf_limits_parse_fields(full, 7, IPPROTO_UDP, &l, &what), 0);
	assert_int_equal(l.pps, 2000);
	assert_int_equal(l.bps, 4000000);
	assert_int_equal(l.block_ms, 45000);
	assert_int_equal(l.burst_ms, 250);
	assert_true(l.share_bans);
	assert_true(bf_limits_format(&l, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "pps 2000 bps 4000000 block 45s burst 250ms share_bans yes");
}

static void test_rules__limits_errors_name_the_field(void **state)
{
	static const struct {
		struct bf_field f;
		const char *want;
	} rows[] = {
		{ F("pps", "lots"), "pps: not a packet rate" },
		{ F("pps", "100000001"), "pps: " },
		{ F("pps", "-1"), "pps: " },
		{ F("pps", "2kk"), "pps: " },
		{ F("pps", ""), "pps: " },
		{ F("bps", "4q"), "bps: not a byte rate" },
		{ F("bps", "101g"), "bps: " },
		{ F("bps", "99999999999999999999999"), "bps: " },
		{ F("block", "forever"), "block: not a duration up to 7d" },
		{ F("block", "8d"), "block: " },
		{ F("burst", "0"), "burst: not a duration from 1ms to 10s" },
		{ F("burst", "11s"), "burst: " },
		{ F("share_bans", "perhaps"), "share_bans: not yes or no" },
		{ F("preset", "quake"), "preset: unknown (source, rust or gmod)" },
		{ { "pps", 3, "20\0" "0", 4 }, "pps: " },
	};
	struct bf_limits l;
	const char *what;

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		what = "";
		bf_limits_init(&l);
		if (bf_limits_parse_fields(&rows[i].f, 1, IPPROTO_UDP, &l, &what) != -EINVAL)
			fail_msg("accepted %s=%.*s", rows[i].f.name, (int)rows[i].f.val_len,
				 rows[i].f.val);
		if (strncmp(what, rows[i].want, strlen(rows[i].want)))
			fail_msg("error '%s', want '%s'", what, rows[i].want);
	}
	{
		const struct bf_field twice[] = { F("pps", "1"), F("pps", "2") };

		assert_int_equal(bf_limits_parse_fields(twice, 2, IPPROTO_UDP, &l, &what), -EINVAL);
		assert_string_equal(what, "pps: given twice");
	}
}

static void test_rules__connection_hash_with_limits(void **state)
{
	const struct bf_field good[] = { F("machine", "198.18.3.2"), F("preset", "source"),
					 F("block", "1m"), F("share_bans", "0") };
	const struct bf_field bad[] = { F("machine", "198.18.3.2"), F("bps", "fast") };
	struct bf_conn c;
	const char *what;
	char err[128];

	assert_int_equal(bf_conn_parse_key("bifrost:conn:udp:203.0.113.10:27015", 35,
					   BF_PREFIX_DEFAULT, &c), 0);
	assert_int_equal(bf_conn_parse_fields(good, 4, &c, &what), 0);
	assert_int_equal(c.limits.pps, 2000);
	assert_int_equal(c.limits.block_ms, 60000);
	assert_false(c.limits.share_bans);
	assert_int_equal(bf_conn_parse_key("bifrost:conn:udp:203.0.113.10:27015", 35,
					   BF_PREFIX_DEFAULT, &c), 0);
	assert_int_equal(bf_conn_parse_fields(bad, 2, &c, &what), -EINVAL);
	assert_string_equal(what, "bps: not a byte rate (0 to 100g bytes per second, k, m or g "
				  "suffix)");
	/* A connection without limit fields has none. */
	assert_int_equal(bf_conn_parse("udp", "203.0.113.10:1", "198.18.3.2", &c, err, sizeof(err)),
			 0);
	assert_false(bf_limits_any(&c.limits));
}

static void test_rules__rates(void **state)
{
	uint64_t v;

	assert_int_equal(bf_parse_rate("0", 10, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(bf_parse_rate("4m", UINT64_MAX, &v), 0);
	assert_int_equal(v, 4000000);
	assert_int_equal(bf_parse_rate("2K", UINT64_MAX, &v), 0);
	assert_int_equal(v, 2000);
	assert_int_equal(bf_parse_rate("1g", UINT64_MAX, &v), 0);
	assert_int_equal(v, 1000000000);
	assert_int_equal(bf_parse_rate("1g", 999999999, &v), -EINVAL);
	/* Found by fuzz_records: a suffix alone read before the buffer, and two suffixes
	 * were both taken ("5km" was 5,000,000). */
	assert_int_equal(bf_parse_rate("m", UINT64_MAX, &v), -EINVAL);
	assert_int_equal(bf_parse_rate("k", UINT64_MAX, &v), -EINVAL);
	assert_int_equal(bf_parse_rate("5km", UINT64_MAX, &v), -EINVAL);
	assert_int_equal(bf_parse_rate("5mk", UINT64_MAX, &v), -EINVAL);
	assert_int_equal(bf_parse_rate("k", UINT64_MAX, &v), -EINVAL);
	assert_int_equal(bf_parse_rate("1.5m", UINT64_MAX, &v), -EINVAL);
	assert_int_equal(bf_parse_rate("", UINT64_MAX, &v), -EINVAL);
	assert_int_equal(bf_parse_rate("99999999999999999999g", UINT64_MAX, &v), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rules__round_trip),
		cmocka_unit_test(test_rules__values),
		cmocka_unit_test(test_rules__every_field_error_names_it),
		cmocka_unit_test(test_rules__hostile_input),
		cmocka_unit_test(test_rules__ids_keys_and_scope),
		cmocka_unit_test(test_rules__match_all_and_all_yes),
		cmocka_unit_test(test_rules__limits_presets_and_fields),
		cmocka_unit_test(test_rules__limits_errors_name_the_field),
		cmocka_unit_test(test_rules__connection_hash_with_limits),
		cmocka_unit_test(test_rules__rates),
	};

	return cmocka_run_group_tests_name("rules", tests, NULL, NULL);
}
