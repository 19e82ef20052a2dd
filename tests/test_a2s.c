/* test_a2s.c - sync/a2s.c: SipHash-2-4 against the paper's vectors, request classification
 * and the edge's answer rule, challenge buckets and key rotation, builders and strict parsers
 * (crafted bytes, every truncation, trailing bytes, hostile counts), split replies. */
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

/* ---- allocation watch: the library must not allocate, whatever it is fed ---- */
extern void *__libc_malloc(size_t);
static size_t mallocs;

void *malloc(size_t n)
{
	mallocs++;
	return __libc_malloc(n);
}

static uint32_t ip(const char *s)
{
	struct in_addr a;

	assert_int_equal(inet_pton(AF_INET, s, &a), 1);
	return a.s_addr;
}

static const uint8_t KEY[16] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };

/* ---- SipHash ---- */

static void test_a2s__siphash_paper_vectors(void **state)
{
	/* Key 00..0f, message 00..(len-1): the paper's appendix example (15 bytes) and the
	 * first outputs of the reference implementation's vector table. */
	static const struct {
		size_t len;
		uint64_t out;
	} v[] = {
		{ 0, 0x726fdb47dd0e0e31ULL }, { 1, 0x74f839c593dc67fdULL },
		{ 2, 0x0d6c8009d9a94f5aULL }, { 3, 0x85676696d7fb7e2dULL },
		{ 4, 0xcf2794e0277187b7ULL }, { 8, 0x93f5f5799a932462ULL },
		{ 15, 0xa129ca6149be45e5ULL },
	};
	uint8_t msg[64];

	for (int i = 0; i < 64; i++)
		msg[i] = (uint8_t)i;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		assert_int_equal(a2s_siphash24(KEY, msg, v[i].len), v[i].out);
	/* One bit of key or message changes the output. */
	{
		uint8_t k2[16];

		memcpy(k2, KEY, 16);
		k2[15] ^= 0x80;
		assert_int_not_equal(a2s_siphash24(k2, msg, 15), 0xa129ca6149be45e5ULL);
		msg[14] ^= 1;
		assert_int_not_equal(a2s_siphash24(KEY, msg, 15), 0xa129ca6149be45e5ULL);
	}
}

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

/* ---- the challenge ---- */

static void test_a2s__challenge_buckets(void **state)
{
	struct a2s_keys k = { .bucket_ms = 30000 };
	uint32_t c1 = ip("198.51.100.7"), c2 = ip("198.51.100.8");
	uint64_t t = 1790000000000ULL; /* ms; a bucket boundary is every 30 s */
	uint32_t c;

	memcpy(k.cur, KEY, 16);
	c = a2s_challenge_now(&k, c1, t);
	assert_int_equal(c, a2s_challenge(KEY, c1, t / 30000));
	assert_true(a2s_challenge_ok(&k, c1, c, t));
	assert_true(a2s_challenge_ok(&k, c1, c, t + 29999 - t % 30000)); /* same bucket */
	assert_true(a2s_challenge_ok(&k, c1, c, t + 30000));  /* previous bucket */
	assert_false(a2s_challenge_ok(&k, c1, c, t + 60000)); /* older: refused */
	assert_false(a2s_challenge_ok(&k, c2, c, t));         /* another address */
	assert_false(a2s_challenge_ok(&k, c1, c + 1, t));
	assert_false(a2s_challenge_ok(&k, c1, 0, t));
	assert_false(a2s_challenge_ok(&k, c1, 0xffffffff, t));
	assert_int_not_equal(a2s_challenge_now(&k, c2, t), c);
	assert_int_not_equal(a2s_challenge_now(&k, c1, t + 30000), c);
	/* A future bucket's challenge is not accepted now. */
	assert_false(a2s_challenge_ok(&k, c1, a2s_challenge_now(&k, c1, t + 30000), t));
	/* bucket_ms 0 is the default. */
	k.bucket_ms = 0;
	assert_int_equal(a2s_bucket(t, 0), t / A2S_BUCKET_MS_DEFAULT);
	assert_int_equal(a2s_challenge_now(&k, c1, t), a2s_challenge(KEY, c1, t / 30000));
	/* Bucket 0 has no previous. */
	assert_true(a2s_challenge_ok(&k, c1, a2s_challenge(KEY, c1, 0), 5));
	/* Never the two "no challenge" values, over many inputs. */
	for (uint32_t i = 0; i < 200000; i++) {
		c = a2s_challenge(KEY, i * 2654435761u, i / 7);
		assert_true(c != 0 && c != 0xffffffff);
	}
}

/* What the fleet's script does at Redis (sync/publish.c): cur becomes prev. */
static void rotate(struct a2s_keys *k, const uint8_t next[16])
{
	memcpy(k->prev, k->cur, 16);
	memcpy(k->cur, next, 16);
	k->has_prev = true;
}

static void test_a2s__challenge_key_rotation(void **state)
{
	struct a2s_keys k = { .bucket_ms = 10000 };
	uint8_t next[16], third[16];
	uint32_t c1 = ip("203.0.113.50");
	uint64_t t = 1790000000000ULL;
	uint32_t old, fresh;

	memcpy(k.cur, KEY, 16);
	assert_int_equal(a2s_key_parse("ffeeddccbbaa99887766554433221100", next), 0);
	assert_int_equal(next[0], 0xff);
	assert_int_equal(next[15], 0x00);
	assert_int_equal(a2s_key_parse("FFEEDDCCBBAA99887766554433221100", third), 0);
	assert_memory_equal(next, third, 16);
	assert_int_equal(a2s_key_parse("ffeeddccbbaa9988776655443322110", third), -EINVAL);
	assert_int_equal(a2s_key_parse("ffeeddccbbaa998877665544332211000", third), -EINVAL);
	assert_int_equal(a2s_key_parse("gfeeddccbbaa99887766554433221100", third), -EINVAL);

	old = a2s_challenge_now(&k, c1, t);
	rotate(&k, next);
	fresh = a2s_challenge_now(&k, c1, t);
	assert_int_not_equal(old, fresh);
	assert_true(a2s_challenge_ok(&k, c1, old, t));   /* handed out before the rotation */
	assert_true(a2s_challenge_ok(&k, c1, fresh, t));
	assert_true(a2s_challenge_ok(&k, c1, old, t + 10000)); /* old key, previous bucket */
	assert_false(a2s_challenge_ok(&k, c1, old, t + 20000));
	/* The next rotation forgets the first key. */
	memset(third, 0x42, 16);
	rotate(&k, third);
	assert_false(a2s_challenge_ok(&k, c1, old, t));
	assert_true(a2s_challenge_ok(&k, c1, fresh, t));
	k.has_prev = false;
	assert_false(a2s_challenge_ok(&k, c1, fresh, t));
}

static void test_a2s__challenge_reply(void **state)
{
	uint8_t b[16];
	uint32_t c = 0;

	assert_int_equal(a2s_build_challenge(b, sizeof(b), 0xdeadbeef), 9);
	assert_memory_equal(b, "\xff\xff\xff\xff\x41\xef\xbe\xad\xde", 9);
	assert_int_equal(a2s_challenge_parse(b, 9, &c), 0);
	assert_int_equal(c, 0xdeadbeef);
	assert_int_equal(a2s_challenge_parse(b, 8, &c), -EBADMSG);
	b[9] = 0;
	assert_int_equal(a2s_challenge_parse(b, 10, &c), -EBADMSG);
	b[4] = 0x49;
	assert_int_equal(a2s_challenge_parse(b, 9, &c), -EBADMSG);
	assert_int_equal(a2s_build_challenge(b, 8, 1), -ENOSPC);
	assert_int_equal(a2s_reply_type(b, 9), 0x49);
	assert_int_equal(a2s_reply_type(b, 4), -EBADMSG);
	assert_int_equal(a2s_reply_type((const uint8_t *)"\xfe\xff\xff\xff\0\0\0\0\2\0\xe0\4", 12),
			 A2S_PKT_SPLIT);
	assert_int_equal(a2s_reply_type((const uint8_t *)"\xfe\xff\xff\xff\0", 5), -EBADMSG);
	assert_int_equal(a2s_reply_type((const uint8_t *)"\xfd\xff\xff\xff\x49", 5), -EBADMSG);
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
		mallocs = 0;
		assert_int_equal(a2s_info_parse(b, (size_t)n, &out, &what), 0);
		assert_int_equal(mallocs, 0);
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
	mallocs = 0;
	assert_int_equal(a2s_player_parse(b, (size_t)len, out, 3, &n, &what), 0);
	assert_int_equal(mallocs, 0);
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
	mallocs = 0;
	assert_int_equal(a2s_rules_parse(b, 20, out, 3, &n, &what), -EBADMSG);
	assert_int_equal(mallocs, 0);
	assert_string_equal(what, "rule count larger than the reply");
	/* A count of 6 that the 13 bytes could hold, but the 4th rule's name is cut. */
	b[5] = 6;
	b[6] = 0;
	assert_int_equal(a2s_rules_parse(b, 20, out, 3, &n, &what), -EBADMSG);
	assert_string_equal(what, "rule name");
	assert_int_equal(a2s_build_rules(b, sizeof(b), in, 65536), -EINVAL);
}

/* ---- split replies ---- */

static int big_rules(uint8_t *b, size_t cap, unsigned n)
{
	static char names[300][24], values[300][40];
	struct a2s_rule r[300];

	for (unsigned i = 0; i < n; i++) {
		snprintf(names[i], sizeof(names[i]), "bf_rule_%03u", i);
		snprintf(values[i], sizeof(values[i]), "value_%u_abcdefghijklmnop", i);
		r[i] = (struct a2s_rule){ names[i], values[i] };
	}
	return a2s_build_rules(b, cap, r, n);
}

struct parts {
	int n;
	uint8_t p[64][A2S_SPLIT_HDR_LEN + A2S_SPLIT_PAYLOAD];
	int len[64];
};

static void split_all(const uint8_t *reply, int len, uint32_t id, struct parts *ps)
{
	ps->n = a2s_split_count((size_t)len);
	assert_true(ps->n > 1);
	for (int i = 0; i < ps->n; i++) {
		ps->len[i] = a2s_split_build(reply, (size_t)len, id, (unsigned)i, ps->p[i],
					     sizeof(ps->p[i]));
		assert_true(ps->len[i] > A2S_SPLIT_HDR_LEN);
	}
}

static void test_a2s__split_round_trip_any_order(void **state)
{
	static uint8_t reply[A2S_REPLY_MAX], buf[A2S_REPLY_MAX];
	static struct parts ps;
	struct a2s_asm a;
	struct a2s_split_hdr h;
	const char *what = NULL;
	int len = big_rules(reply, sizeof(reply), 200);
	size_t n;

	assert_true(len > 4 * A2S_SPLIT_PAYLOAD);
	split_all(reply, len, 0x80001234, &ps); /* bit 31 is cleared on the wire */
	assert_int_equal(ps.n, (len + 1247) / 1248);
	assert_int_equal(a2s_split_hdr_parse(ps.p[1], (size_t)ps.len[1], &h, &what), 0);
	assert_int_equal(h.id, 0x1234);
	assert_int_equal(h.total, ps.n);
	assert_int_equal(h.number, 1);
	assert_int_equal(h.size, 1248);
	assert_memory_equal(ps.p[0], "\xfe\xff\xff\xff\x34\x12\x00\x00", 8);
	assert_int_equal(ps.p[0][10], 0xe0);
	assert_int_equal(ps.p[0][11], 0x04);
	assert_int_equal(ps.len[0], 12 + 1248);
	assert_int_equal(ps.len[ps.n - 1], 12 + len - (ps.n - 1) * 1248);

	for (int order = 0; order < 3; order++) {
		int got = 0;

		a2s_asm_init(&a, buf, sizeof(buf));
		assert_int_equal(a2s_asm_missing(&a), -1);
		mallocs = 0;
		for (int k = 0; k < ps.n; k++) {
			/* in order, reversed, and odd parts first */
			int i = order == 0 ? k : order == 1 ? ps.n - 1 - k :
				k < ps.n / 2 ? 2 * k + 1 : 2 * (k - ps.n / 2);

			got = a2s_asm_add(&a, ps.p[i], (size_t)ps.len[i], &what);
			assert_int_equal(got, k == ps.n - 1 ? 1 : 0);
		}
		assert_int_equal(mallocs, 0);
		assert_int_equal(a2s_asm_missing(&a), 0);
		assert_int_equal(a.len, len);
		assert_memory_equal(a.buf, reply, (size_t)len);
		assert_int_equal(a2s_rules_parse(a.buf, a.len, NULL, 0, &n, &what), 0);
		assert_int_equal(n, 200);
	}
	/* Small replies are not split: the reply is its own part 0. */
	assert_int_equal(a2s_split_count(1400), 1);
	assert_int_equal(a2s_split_count(1401), 2);
	assert_int_equal(a2s_split_count(A2S_REPLY_MAX), 53);
	assert_int_equal(a2s_split_count(A2S_REPLY_MAX + 1), -EMSGSIZE);
	assert_int_equal(a2s_split_build(reply, 100, 1, 0, buf, sizeof(buf)), 100);
	assert_memory_equal(buf, reply, 100);
	assert_int_equal(a2s_split_build(reply, 100, 1, 1, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(a2s_split_build(reply, (size_t)len, 1, (unsigned)ps.n, buf, sizeof(buf)),
			 -EINVAL);
	assert_int_equal(a2s_split_build(reply, (size_t)len, 1, 0, buf, 100), -ENOSPC);
}

static void test_a2s__split_duplicate_missing_mismatch(void **state)
{
	static uint8_t reply[A2S_REPLY_MAX], buf[A2S_REPLY_MAX], p[1400];
	static struct parts ps;
	struct a2s_asm a;
	const char *what = NULL;
	int len = big_rules(reply, sizeof(reply), 150);

	split_all(reply, len, 77, &ps);
	assert_true(ps.n >= 3);
	a2s_asm_init(&a, buf, sizeof(buf));
	assert_int_equal(a2s_asm_add(&a, ps.p[0], (size_t)ps.len[0], &what), 0);
	/* duplicate: ignored */
	assert_int_equal(a2s_asm_add(&a, ps.p[0], (size_t)ps.len[0], &what), -EALREADY);
	assert_string_equal(what, "duplicate part");
	/* another answer's part: ignored */
	memcpy(p, ps.p[1], (size_t)ps.len[1]);
	p[4] = 78;
	assert_int_equal(a2s_asm_add(&a, p, (size_t)ps.len[1], &what), -ESTALE);
	/* total or size changed mid-answer: refused */
	memcpy(p, ps.p[1], (size_t)ps.len[1]);
	p[8]++;
	assert_int_equal(a2s_asm_add(&a, p, (size_t)ps.len[1], &what), -EBADMSG);
	assert_string_equal(what, "split total changed");
	memcpy(p, ps.p[1], (size_t)ps.len[1]);
	p[10] = 0xe1; /* 1249 */
	assert_int_equal(a2s_asm_add(&a, p, (size_t)ps.len[1], &what), -EBADMSG);
	assert_string_equal(what, "split size changed");
	/* every part but one: still incomplete */
	for (int i = 1; i < ps.n - 1; i++)
		assert_int_equal(a2s_asm_add(&a, ps.p[i], (size_t)ps.len[i], &what), 0);
	assert_int_equal(a2s_asm_missing(&a), 1);
	assert_int_equal(a2s_asm_add(&a, ps.p[ps.n - 1], (size_t)ps.len[ps.n - 1], &what), 1);
	assert_memory_equal(a.buf, reply, (size_t)len);
	assert_int_equal(a2s_asm_add(&a, ps.p[1], (size_t)ps.len[1], &what), -EALREADY);
}

static void split_hdr_refused(const uint8_t *hdr, size_t len, int want_rc, const char *want)
{
	static uint8_t buf[A2S_REPLY_MAX];
	struct a2s_asm a;
	const char *what = NULL;

	a2s_asm_init(&a, buf, sizeof(buf));
	mallocs = 0;
	assert_int_equal(a2s_asm_add(&a, hdr, len, &what), want_rc);
	assert_int_equal(mallocs, 0);
	assert_string_equal(what, want);
	assert_int_equal(a2s_asm_missing(&a), -1);
}

static void test_a2s__split_hostile_headers(void **state)
{
	static uint8_t p[2000];
	/* FE FF FF FF, id 5, total 3, number 0, size 1248, payload */
	static const uint8_t ok[12] = { 0xfe, 0xff, 0xff, 0xff, 5, 0, 0, 0, 3, 0, 0xe0, 0x04 };

#define HDR(field_off, val)                                                                        \
	do {                                                                                       \
		memset(p, 0xff, sizeof(p));                                                        \
		memcpy(p, ok, 12);                                                                 \
		p[field_off] = (uint8_t)(val);                                                     \
	} while (0)
	HDR(7, 0x80); /* id bit 31: bzip2 */
	split_hdr_refused(p, 100, -EOPNOTSUPP, "bzip2-compressed answer (unsupported)");
	HDR(8, 0);
	split_hdr_refused(p, 100, -EBADMSG, "split total (1-64 parts)");
	HDR(8, 65);
	split_hdr_refused(p, 100, -EBADMSG, "split total (1-64 parts)");
	HDR(9, 3);
	split_hdr_refused(p, 100, -EBADMSG, "split number (not below total)");
	HDR(11, 0x06); /* size 0x06e0 = 1760 */
	split_hdr_refused(p, 100, -EBADMSG, "split size (1-1400)");
	HDR(10, 0);
	p[11] = 0;
	split_hdr_refused(p, 100, -EBADMSG, "split size (1-1400)");
	HDR(9, 0);
	split_hdr_refused(p, 12 + 1249, -EBADMSG, "split payload (empty or longer than size)");
	split_hdr_refused(p, 12, -EBADMSG, "split payload (empty or longer than size)");
	split_hdr_refused(p, 11, -EBADMSG, "split header");
	HDR(0, 0xfd);
	split_hdr_refused(p, 100, -EBADMSG, "split header");
	/* 60 parts of 1400: more than 64 KiB, refused before anything is stored. */
	HDR(8, 60);
	p[10] = 0x78;
	p[11] = 0x05;
	split_hdr_refused(p, 100, -EMSGSIZE, "answer larger than 64 KiB");
	/* Fits the protocol, not the caller's buffer. */
	{
		uint8_t small[2000];
		struct a2s_asm a;
		const char *what = NULL;

		HDR(9, 0);
		a2s_asm_init(&a, small, sizeof(small));
		assert_int_equal(a2s_asm_add(&a, p, 100, &what), -EMSGSIZE);
		assert_string_equal(what, "answer larger than the buffer");
	}
	/* One part, no FF FF FF FF inside: refused once complete. */
	{
		uint8_t buf[1400];
		struct a2s_asm a;
		const char *what = NULL;

		HDR(8, 1);
		p[12] = 0;
		a2s_asm_init(&a, buf, sizeof(buf));
		assert_int_equal(a2s_asm_add(&a, p, 100, &what), -EBADMSG);
		assert_string_equal(what, "reassembled reply has no FF FF FF FF header");
	}
#undef HDR
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
	mallocs = 0;
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
	assert_int_equal(mallocs, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a2s__siphash_paper_vectors),
		cmocka_unit_test(test_a2s__classify_info),
		cmocka_unit_test(test_a2s__classify_player_rules_w_other),
		cmocka_unit_test(test_a2s__decide_never_more_than_sent),
		cmocka_unit_test(test_a2s__challenge_buckets),
		cmocka_unit_test(test_a2s__challenge_key_rotation),
		cmocka_unit_test(test_a2s__challenge_reply),
		cmocka_unit_test(test_a2s__info_round_trip_every_edf),
		cmocka_unit_test(test_a2s__info_crafted_bytes),
		cmocka_unit_test(test_a2s__info_truncated_at_every_byte),
		cmocka_unit_test(test_a2s__player_round_trip_and_hostile),
		cmocka_unit_test(test_a2s__rules_round_trip_and_hostile),
		cmocka_unit_test(test_a2s__split_round_trip_any_order),
		cmocka_unit_test(test_a2s__split_duplicate_missing_mismatch),
		cmocka_unit_test(test_a2s__split_hostile_headers),
		cmocka_unit_test(test_a2s__random_input_never_crashes),
	};

	return cmocka_run_group_tests_name("a2s", tests, NULL, NULL);
}
