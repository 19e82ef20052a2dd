/* test_a2s_challenge.c - sync/a2s_challenge.c: SipHash-2-4 against the paper's vectors,
 * challenge buckets, key rotation as the fleet's script does it, the challenge reply. */
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


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a2s__siphash_paper_vectors),
		cmocka_unit_test(test_a2s__challenge_buckets),
		cmocka_unit_test(test_a2s__challenge_key_rotation),
		cmocka_unit_test(test_a2s__challenge_reply),
	};

	return cmocka_run_group_tests_name("a2s_challenge", tests, NULL, NULL);
}
