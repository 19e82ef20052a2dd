/* test_a2s_split.c - sync/a2s_split.c: split replies built and reassembled in any order;
 * duplicate, missing and mismatched parts; hostile headers. None of it allocates. */
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
		alloc_count = 0;
		for (int k = 0; k < ps.n; k++) {
			/* in order, reversed, and odd parts first */
			int i = order == 0 ? k : order == 1 ? ps.n - 1 - k :
				k < ps.n / 2 ? 2 * k + 1 : 2 * (k - ps.n / 2);

			got = a2s_asm_add(&a, ps.p[i], (size_t)ps.len[i], &what);
			assert_int_equal(got, k == ps.n - 1 ? 1 : 0);
		}
		assert_int_equal(alloc_count, 0);
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
	alloc_count = 0;
	assert_int_equal(a2s_asm_add(&a, hdr, len, &what), want_rc);
	assert_int_equal(alloc_count, 0);
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


int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_a2s__split_round_trip_any_order),
		cmocka_unit_test(test_a2s__split_duplicate_missing_mismatch),
		cmocka_unit_test(test_a2s__split_hostile_headers),
	};

	return cmocka_run_group_tests_name("a2s_split", tests, NULL, NULL);
}
