/* test_a2s.c - sync/a2s.c: request classification and the edge's answer rule, the
 * builders and strict parsers of INFO, PLAYER and RULES (crafted bytes, every truncation,
 * trailing bytes, hostile counts), random input. None of it allocates. */
#include <errno.h>
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "a2s.h"
#include "alloc_watch.h" /* every allocation of this process */

/* ---- requests ---- */

static void test_a2s__classify_info(void **state)
{
	uint8_t b[64];
	struct a2s_req r;
	int n = a2s_build_info_req(b, sizeof(b), false, 0);

	assert_int_equal(n, 25);
	assert_memory_equal(b, "\xff\xff\xff\xff\x54Source Engine Query\0", 25);
	assert_int_equal(a2s_classify(b, 25, &r), A2S_INFO);
	assert_false(r.has_challenge);
	assert_int_equal(a2s_classify(b, 24, &r), A2S_MALFORMED); /* one byte short */
	/* Trailing bytes after the string: ignored; 1-3 of them are no challenge. */
	memset(b + 25, 0xab, 8);
	for (int len = 26; len <= 28; len++) {
		assert_int_equal(a2s_classify(b, (size_t)len, &r), A2S_INFO);
		assert_false(r.has_challenge);
	}
	assert_int_equal(a2s_build_info_req(b, sizeof(b), true, 0x11223344), 29);
	assert_memory_equal(b + 25, "\x44\x33\x22\x11", 4); /* little endian */
	assert_int_equal(a2s_classify(b, 29, &r), A2S_INFO);
	assert_true(r.has_challenge);
	assert_int_equal(r.challenge, 0x11223344);
	assert_int_equal(a2s_classify(b, 40, &r), A2S_INFO); /* more trailing bytes */
	assert_int_equal(r.challenge, 0x11223344);
	/* FFFFFFFF and 00000000 mean no challenge. */
	a2s_build_info_req(b, sizeof(b), true, 0xffffffff);
	a2s_classify(b, 29, &r);
	assert_false(r.has_challenge);
	a2s_build_info_req(b, sizeof(b), true, 0);
	a2s_classify(b, 29, &r);
	assert_false(r.has_challenge);
	/* The string must be exact, NUL included. */
	b[10] = 'E'; /* "SourcE" */
	assert_int_equal(a2s_classify(b, 29, &r), A2S_MALFORMED);
	a2s_build_info_req(b, sizeof(b), false, 0);
	b[24] = 'x';
	assert_int_equal(a2s_classify(b, 25, &r), A2S_MALFORMED);
	assert_int_equal(a2s_build_info_req(b, 24, false, 0), -ENOSPC);
	assert_int_equal(a2s_build_info_req(b, 28, true, 1), -ENOSPC);
}

static void test_a2s__classify_player_rules_w_other(void **state)
{
	uint8_t b[32];
	struct a2s_req r;

	assert_int_equal(a2s_build_player_req(b, sizeof(b), A2S_ASK_CHALLENGE), 9);
	assert_memory_equal(b, "\xff\xff\xff\xff\x55\xff\xff\xff\xff", 9);
	assert_int_equal(a2s_classify(b, 9, &r), A2S_PLAYER);
	assert_false(r.has_challenge);
	assert_int_equal(a2s_classify(b, 8, &r), A2S_MALFORMED);
	a2s_build_rules_req(b, sizeof(b), 0x01020304);
	assert_int_equal(b[4], 0x56);
	assert_int_equal(a2s_classify(b, 9, &r), A2S_RULES);
	assert_true(r.has_challenge);
	assert_int_equal(r.challenge, 0x01020304);
	assert_int_equal(a2s_classify(b, 20, &r), A2S_RULES); /* trailing bytes ignored */
	a2s_build_rules_req(b, sizeof(b), 0);
	a2s_classify(b, 9, &r);
	assert_false(r.has_challenge);
	assert_int_equal(a2s_build_getchallenge_req(b, sizeof(b)), 5);
	assert_int_equal(a2s_classify(b, 5, &r), A2S_GETCHALLENGE);
	/* Not A2S: short, another header, another type, a split part. */
	assert_int_equal(a2s_classify(b, 4, &r), A2S_NOT);
	assert_int_equal(a2s_classify((const uint8_t *)"\xff\xff\xff\xff\x69", 5, &r), A2S_NOT);
	assert_int_equal(a2s_classify((const uint8_t *)"\xfe\xff\xff\xff\x54", 5, &r), A2S_NOT);
	assert_int_equal(a2s_classify((const uint8_t *)"hello world", 11, &r), A2S_NOT);
	assert_int_equal(a2s_classify(b, 0, &r), A2S_NOT);
	assert_string_equal(a2s_kind_name(A2S_RULES), "rules");
	assert_string_equal(a2s_kind_name(A2S_KIND_MAX), "?");
}

static void test_a2s__decide_never_more_than_sent(void **state)
{
	struct a2s_req info = { .kind = A2S_INFO, .has_challenge = true, .challenge = 5 };
	struct a2s_req ask = { .kind = A2S_PLAYER };
	struct a2s_req w = { .kind = A2S_GETCHALLENGE };
	struct a2s_req bad = { .kind = A2S_MALFORMED }, other = { .kind = A2S_NOT };

	assert_int_equal(a2s_decide(&info, 29, true, true), A2S_ACT_REPLY);
	assert_int_equal(a2s_decide(&info, 29, false, true), A2S_ACT_CHALLENGE);
	assert_int_equal(a2s_decide(&info, 29, true, false), A2S_ACT_FORWARD);
	info.has_challenge = false;
	/* challenge_ok cannot make a request without a challenge verified */
	assert_int_equal(a2s_decide(&info, 25, true, true), A2S_ACT_CHALLENGE);
	assert_int_equal(a2s_decide(&ask, 9, false, true), A2S_ACT_CHALLENGE);
	assert_int_equal(a2s_decide(&w, 5, false, true), A2S_ACT_DROP); /* 9 > 5 */
	assert_int_equal(a2s_decide(&w, 9, false, true), A2S_ACT_CHALLENGE);
	assert_int_equal(a2s_decide(&w, 9, true, true), A2S_ACT_CHALLENGE); /* W is never a query */
	assert_int_equal(a2s_decide(&w, 9, false, false), A2S_ACT_FORWARD);
	assert_int_equal(a2s_decide(&bad, 100, true, true), A2S_ACT_DROP);
	assert_int_equal(a2s_decide(&other, 100, true, true), A2S_ACT_FORWARD);
}


/* ---- INFO ---- */

static struct a2s_info sample_info(uint8_t edf)
{
	struct a2s_info i = {
		.protocol = 17, .name = "Bifrost \"test\" server", .map = "de_dust2",
		.folder = "csgo", .game = "Counter-Strike: Global Offensive", .appid = 730,
		.players = 3, .max_players = 32, .bots = 1, .server_type = 'd', .environment = 'l',
		.visibility = 0, .vac = 1, .version = "1.38.7.9", .has_edf = true, .edf = edf,
		.port = 27015, .steamid = 90071992547409921ULL, .tv_port = 27020,
		.tv_name = "SourceTV", .keywords = "bifrost,empty,secure", .gameid = 730,
	};

	return i;
}

static void assert_info_equal(const struct a2s_info *a, const struct a2s_info *b)
{
	assert_int_equal(a->protocol, b->protocol);
	assert_string_equal(a->name, b->name);
	assert_string_equal(a->map, b->map);
	assert_string_equal(a->folder, b->folder);
	assert_string_equal(a->game, b->game);
	assert_int_equal(a->appid, b->appid);
	assert_int_equal(a->players, b->players);
	assert_int_equal(a->max_players, b->max_players);
	assert_int_equal(a->bots, b->bots);
	assert_int_equal(a->server_type, b->server_type);
	assert_int_equal(a->environment, b->environment);
	assert_int_equal(a->visibility, b->visibility);
	assert_int_equal(a->vac, b->vac);
	assert_string_equal(a->version, b->version);
	assert_int_equal(a->has_edf, b->has_edf);
	assert_int_equal(a->edf, b->edf);
	if (a->edf & A2S_EDF_PORT)
		assert_int_equal(a->port, b->port);
	if (a->edf & A2S_EDF_STEAMID)
		assert_int_equal(a->steamid, b->steamid);
	if (a->edf & A2S_EDF_TV) {
		assert_int_equal(a->tv_port, b->tv_port);
		assert_string_equal(a->tv_name, b->tv_name);
	}
	if (a->edf & A2S_EDF_KEYWORDS)
		assert_string_equal(a->keywords, b->keywords);
	if (a->edf & A2S_EDF_GAMEID)
		assert_int_equal(a->gameid, b->gameid);
}

static void test_a2s__info_round_trip_every_edf(void **state)
{
	static const uint8_t bits[] = { A2S_EDF_PORT, A2S_EDF_STEAMID, A2S_EDF_TV, A2S_EDF_KEYWORDS,
					A2S_EDF_GAMEID };
	uint8_t b[1400];
	const char *what = NULL;

	for (unsigned m = 0; m < 32; m++) {
		uint8_t edf = 0;
		struct a2s_info in, out;
		int n;

		for (int j = 0; j < 5; j++)
			if (m & 1u << j)
				edf |= bits[j];
		in = sample_info(edf);
		n = a2s_build_info(b, sizeof(b), &in);
		assert_true(n > 0);
		alloc_count = 0;
		assert_int_equal(a2s_info_parse(b, (size_t)n, &out, &what), 0);
		assert_int_equal(alloc_count, 0);
		assert_info_equal(&out, &in);
		/* Strings point into the parsed buffer. */
		assert_true((const uint8_t *)out.name > b && (const uint8_t *)out.name < b + n);
	}
	/* Without EDF the reply ends after version. */
	{
		struct a2s_info in = sample_info(0), out;
		int n;

		in.has_edf = false;
		n = a2s_build_info(b, sizeof(b), &in);
		assert_int_equal(a2s_info_parse(b, (size_t)n, &out, &what), 0);
		assert_false(out.has_edf);
		assert_string_equal(out.version, "1.38.7.9");
	}
	/* The Ship (appid 2400) has three more bytes before version. */
	{
		struct a2s_info in = sample_info(A2S_EDF_PORT), out;
		int n, m;

		in.appid = A2S_APPID_THE_SHIP;
		in.ship_mode = 2;
		in.ship_witnesses = 3;
		in.ship_duration = 4;
		n = a2s_build_info(b, sizeof(b), &in);
		in.appid = 730;
		m = a2s_build_info(b + 700, 700, &in);
		assert_int_equal(n, m + 3);
		assert_int_equal(a2s_info_parse(b, (size_t)n, &out, &what), 0);
		assert_int_equal(out.ship_mode, 2);
		assert_int_equal(out.ship_witnesses, 3);
		assert_int_equal(out.ship_duration, 4);
		assert_string_equal(out.version, "1.38.7.9");
	}
	/* NULL strings are written as "". */
	{
		struct a2s_info in = { .protocol = 17 }, out;
		int n = a2s_build_info(b, sizeof(b), &in);

		assert_int_equal(a2s_info_parse(b, (size_t)n, &out, &what), 0);
		assert_string_equal(out.name, "");
		assert_int_equal(a2s_build_info(b, (size_t)n - 1, &in), -ENOSPC);
	}
}

/* Written byte by byte from the format description, not with our builder. */
static const uint8_t crafted_info[] = {
	0xff, 0xff, 0xff, 0xff, 0x49, 0x11,                  /* header, 'I', protocol 17 */
	'G', 'a', 'm', 'e', 0,                               /* name */
	'c', 's', '_', 'o', 'f', 'f', 'i', 'c', 'e', 0,      /* map */
	'c', 's', 't', 'r', 'i', 'k', 'e', 0,                /* folder */
	'C', 'S', 0,                                         /* game */
	0x0a, 0x00,                                          /* id 10 */
	0x05, 0x10, 0x02,                                    /* players 5, max 16, bots 2 */
	'd', 'w', 0x01, 0x00,                                /* dedicated, windows, pw, no vac */
	'1', '.', '0', 0,                                    /* version */
	0xf1,                                                /* EDF: 80 40 20 10 01 */
	0x87, 0x69,                                          /* port 27015 */
	0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,      /* steamid */
	0x8c, 0x69, 'T', 'V', 0,                             /* spectator port 27020, name */
	'a', ',', 'b', 0,                                    /* keywords */
	0x0a, 0, 0, 0, 0, 0, 0, 0,                           /* gameid 10 */
};

static void test_a2s__info_crafted_bytes(void **state)
{
	struct a2s_info i;
	const char *what = NULL;
	uint8_t b[sizeof(crafted_info) + 1];

	assert_int_equal(a2s_info_parse(crafted_info, sizeof(crafted_info), &i, &what), 0);
	assert_int_equal(i.protocol, 17);
	assert_string_equal(i.name, "Game");
	assert_string_equal(i.map, "cs_office");
	assert_string_equal(i.folder, "cstrike");
	assert_string_equal(i.game, "CS");
	assert_int_equal(i.appid, 10);
	assert_int_equal(i.players, 5);
	assert_int_equal(i.max_players, 16);
	assert_int_equal(i.bots, 2);
	assert_int_equal(i.server_type, 'd');
	assert_int_equal(i.environment, 'w');
	assert_int_equal(i.visibility, 1);
	assert_int_equal(i.vac, 0);
	assert_string_equal(i.version, "1.0");
	assert_int_equal(i.edf, 0xf1);
	assert_int_equal(i.port, 27015);
	assert_int_equal(i.steamid, 0x0807060504030201ULL);
	assert_int_equal(i.tv_port, 27020);
	assert_string_equal(i.tv_name, "TV");
	assert_string_equal(i.keywords, "a,b");
	assert_int_equal(i.gameid, 10);
	/* Our builder writes exactly these bytes back. */
	assert_int_equal(a2s_build_info(b, sizeof(b), &i), (int)sizeof(crafted_info));
	assert_memory_equal(b, crafted_info, sizeof(crafted_info));
	/* One byte more: trailing. */
	b[sizeof(crafted_info)] = 0;
	assert_int_equal(a2s_info_parse(b, sizeof(b), &i, &what), -EBADMSG);
	assert_string_equal(what, "trailing bytes");
	/* An EDF claiming fields that are not there. */
	memcpy(b, crafted_info, sizeof(crafted_info));
	b[45] = 0xf1 | 0x02; /* unknown bit: no field of its own */
	assert_int_equal(a2s_info_parse(b, sizeof(crafted_info), &i, &what), 0);
	b[45] = 0x80;        /* port only: the rest is trailing */
	assert_int_equal(a2s_info_parse(b, sizeof(crafted_info), &i, &what), -EBADMSG);
	assert_string_equal(what, "trailing bytes");
	/* A string without its NUL. */
	assert_int_equal(a2s_info_parse(crafted_info, 9, &i, &what), -EBADMSG);
	assert_string_equal(what, "name");
	/* Not INFO. */
	memcpy(b, crafted_info, sizeof(crafted_info));
	b[4] = 0x45;
	assert_int_equal(a2s_info_parse(b, sizeof(crafted_info), &i, &what), -EBADMSG);
	assert_string_equal(what, "type byte");
	b[0] = 0xfe;
	assert_int_equal(a2s_info_parse(b, sizeof(crafted_info), &i, &what), -EBADMSG);
	assert_string_equal(what, "header (not FF FF FF FF)");
}

static void test_a2s__info_truncated_at_every_byte(void **state)
{
	/* Offsets in crafted_info where each field starts; a cut inside a field names it. */
	static const struct {
		size_t from;
		const char *what;
	} f[] = {
		{ 0, "header (not FF FF FF FF)" }, { 4, "type byte" }, { 5, "protocol" },
		{ 6, "name" }, { 11, "map" }, { 21, "folder" }, { 29, "game" }, { 32, "id" },
		{ 34, "players" }, { 35, "max players" }, { 36, "bots" }, { 37, "server type" },
		{ 38, "environment" }, { 39, "visibility" }, { 40, "vac" }, { 41, "version" },
		{ 45, NULL }, /* version complete, no EDF: valid */
		{ 46, "edf port" }, { 48, "edf steamid" }, { 56, "edf spectator port" },
		{ 58, "edf spectator name" }, { 61, "edf keywords" }, { 65, "edf gameid" },
		{ sizeof(crafted_info), NULL },
	};
	struct a2s_info i;

	for (size_t len = 0; len < sizeof(crafted_info); len++) {
		const char *what = NULL, *want = NULL;
		size_t k;
		int rc;

		for (k = 0; k + 1 < sizeof(f) / sizeof(f[0]) && f[k + 1].from <= len; k++)
			;
		want = f[k].what;
		rc = a2s_info_parse(crafted_info, len, &i, &what);
		if (len == 45) {
			assert_int_equal(rc, 0); /* ends after version: a valid reply without EDF */
			assert_false(i.has_edf);
			continue;
		}
		if (rc != -EBADMSG || !what || strcmp(what, want))
			fail_msg("cut at %zu: rc %d what '%s', want '%s'", len, rc, what ? what : "",
				 want);
	}
}

/* ---- PLAYER ---- */

static void test_a2s__player_round_trip_and_hostile(void **state)
{
	struct a2s_player in[3] = { { 0, "alice", 12, 61.5f }, { 1, "", -3, 0.0f },
				    { 7, "bob \"b\"", 0, 3600.25f } };
	struct a2s_player out[3];
	uint8_t b[512];
	const char *what = NULL;
	size_t n = 0;
	int len = a2s_build_player(b, sizeof(b), in, 3);

	assert_int_equal(len, 6 + (1 + 6 + 8) + (1 + 1 + 8) + (1 + 8 + 8));
	alloc_count = 0;
	assert_int_equal(a2s_player_parse(b, (size_t)len, out, 3, &n, &what), 0);
	assert_int_equal(alloc_count, 0);
	assert_int_equal(n, 3);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(out[i].index, in[i].index);
		assert_string_equal(out[i].name, in[i].name);
		assert_int_equal(out[i].score, in[i].score);
		assert_true(out[i].duration == in[i].duration);
	}
	/* Fewer slots than players: validated all, stored what fits. */
	memset(out, 0, sizeof(out));
	assert_int_equal(a2s_player_parse(b, (size_t)len, out, 1, &n, &what), 0);
	assert_int_equal(n, 3);
	assert_string_equal(out[0].name, "alice");
	assert_null(out[1].name);
	assert_int_equal(a2s_player_parse(b, (size_t)len, NULL, 0, &n, &what), 0);
	/* Every truncation fails. */
	for (int cut = 0; cut < len; cut++)
		assert_int_equal(a2s_player_parse(b, (size_t)cut, NULL, 0, &n, &what), -EBADMSG);
	b[len] = 'x';
	assert_int_equal(a2s_player_parse(b, (size_t)len + 1, NULL, 0, &n, &what), -EBADMSG);
	assert_string_equal(what, "trailing bytes");
	/* 255 players claimed in 10 bytes: refused before reading a player. */
	memcpy(b, "\xff\xff\xff\xff\x44\xff\x00\x41\x00\x00", 10);
	assert_int_equal(a2s_player_parse(b, 10, out, 3, &n, &what), -EBADMSG);
	assert_string_equal(what, "player count larger than the reply");
	/* A name without its NUL. */
	memcpy(b, "\xff\xff\xff\xff\x44\x01\x00xxxxxxxxxxxx", 19);
	assert_int_equal(a2s_player_parse(b, 19, out, 3, &n, &what), -EBADMSG);
	assert_string_equal(what, "player name");
	/* Zero players. */
	assert_int_equal(a2s_build_player(b, sizeof(b), NULL, 0), 6);
	assert_int_equal(a2s_player_parse(b, 6, NULL, 0, &n, &what), 0);
	assert_int_equal(n, 0);
	assert_int_equal(a2s_build_player(b, sizeof(b), in, 256), -EINVAL);
	assert_int_equal(a2s_build_player(b, 20, in, 3), -ENOSPC);
}

/* ---- RULES ---- */

static void test_a2s__rules_round_trip_and_hostile(void **state)
{
	struct a2s_rule in[3] = { { "mp_timelimit", "30" }, { "sv_tags", "" }, { "", "x" } };
	struct a2s_rule out[3];
	uint8_t b[256];
	const char *what = NULL;
	size_t n = 0;
	int len = a2s_build_rules(b, sizeof(b), in, 3);

	assert_int_equal(len, 7 + 13 + 3 + 8 + 1 + 1 + 2);
	assert_int_equal(a2s_rules_parse(b, (size_t)len, out, 3, &n, &what), 0);
	assert_int_equal(n, 3);
	for (int i = 0; i < 3; i++) {
		assert_string_equal(out[i].name, in[i].name);
		assert_string_equal(out[i].value, in[i].value);
	}
	for (int cut = 0; cut < len; cut++) {
		int rc = a2s_rules_parse(b, (size_t)cut, NULL, 0, &n, &what);

		if (rc != -EBADMSG)
			fail_msg("cut at %d parsed", cut);
	}
	/* Cut inside the second rule's value / name. */
	assert_int_equal(a2s_rules_parse(b, 7 + 13 + 1, NULL, 0, &n, &what), -EBADMSG);
	assert_string_equal(what, "rule value");
	assert_int_equal(a2s_rules_parse(b, 7 + 13 + 3 + 2, NULL, 0, &n, &what), -EBADMSG);
	assert_string_equal(what, "rule name");
	assert_int_equal(a2s_rules_parse(b, 6, NULL, 0, &n, &what), -EBADMSG);
	assert_string_equal(what, "rule count");
	b[len] = 0;
	assert_int_equal(a2s_rules_parse(b, (size_t)len + 1, NULL, 0, &n, &what), -EBADMSG);
	assert_string_equal(what, "trailing bytes");
	/* 65535 rules claimed in 20 bytes. */
	memcpy(b, "\xff\xff\xff\xff\x45\xff\xff" "a\0b\0c\0d\0e\0f\0g", 20);
	alloc_count = 0;
	assert_int_equal(a2s_rules_parse(b, 20, out, 3, &n, &what), -EBADMSG);
	assert_int_equal(alloc_count, 0);
	assert_string_equal(what, "rule count larger than the reply");
	/* A count of 6 that the 13 bytes could hold, but the 4th rule's name is cut. */
	b[5] = 6;
	b[6] = 0;
	assert_int_equal(a2s_rules_parse(b, 20, out, 3, &n, &what), -EBADMSG);
	assert_string_equal(what, "rule name");
	assert_int_equal(a2s_build_rules(b, sizeof(b), in, 65536), -EINVAL);
}


/* ---- random input: every parser answers 0 or an error, never crashes ---- */

static void test_a2s__random_input_never_crashes(void **state)
{
	static uint8_t buf[A2S_REPLY_MAX];
	uint8_t b[1500];
	uint32_t x = 12345;
	struct a2s_info i;
	struct a2s_player pl[8];
	struct a2s_rule r[8];
	struct a2s_req q;
	struct a2s_asm a;
	const char *what;
	size_t n;

	a2s_asm_init(&a, buf, sizeof(buf));
	alloc_count = 0;
	for (int round = 0; round < 20000; round++) {
		size_t len = (x = x * 1103515245 + 12345) % sizeof(b);

		for (size_t k = 0; k < len; k++)
			b[k] = (uint8_t)((x = x * 1103515245 + 12345) >> 16);
		/* mostly valid headers, so the parsers get past them */
		if (len >= 5 && round % 4) {
			memcpy(b, round % 8 == 1 ? "\xfe\xff\xff\xff" : "\xff\xff\xff\xff", 4);
			b[4] = "IDEATUVW"[round % 8];
		}
		what = NULL;
		assert_true(a2s_info_parse(b, len, &i, &what) <= 0);
		assert_true(a2s_player_parse(b, len, pl, 8, &n, &what) <= 0);
		assert_true(a2s_rules_parse(b, len, r, 8, &n, &what) <= 0);
		a2s_classify(b, len, &q);
		if (a2s_asm_add(&a, b, len, &what) == 1 || round % 50 == 0)
			a2s_asm_init(&a, buf, sizeof(buf));
	}
	assert_int_equal(alloc_count, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a2s__classify_info),
		cmocka_unit_test(test_a2s__classify_player_rules_w_other),
		cmocka_unit_test(test_a2s__decide_never_more_than_sent),
		cmocka_unit_test(test_a2s__info_round_trip_every_edf),
		cmocka_unit_test(test_a2s__info_crafted_bytes),
		cmocka_unit_test(test_a2s__info_truncated_at_every_byte),
		cmocka_unit_test(test_a2s__player_round_trip_and_hostile),
		cmocka_unit_test(test_a2s__rules_round_trip_and_hostile),
		cmocka_unit_test(test_a2s__random_input_never_crashes),
	};

	return cmocka_run_group_tests_name("a2s", tests, NULL, NULL);
}
