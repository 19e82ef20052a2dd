/* test_msgpack.c - the one msgpack map walker both frame decoders use, and the check before it. */
#include <errno.h>
#include <msgpack.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "alloc_watch.h"
#include "schema.h"

#define B(lit) (const uint8_t *)lit, sizeof(lit) - 1
#define MAX_LEN 256

/* A frame the walk must refuse, and (where it matters) what it must say. */
struct row {
	const char *name;
	const uint8_t *b;
	size_t n;
	const char *what;
};

/* ---- a walk over a table with one key of each type ---- */

static char t[8];
static uint64_t u, nv, arr[3];
static unsigned f_calls;

/* "f": accepts integers, refuses the rest with its own message. */
static int take_f(const struct msgpack_object *v, void *dst, const char **what)
{
	if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
		*what = "f said no";
		return -EINVAL;
	}
	++*(unsigned *)dst;
	return 0;
}

enum { K_T, K_U, K_N, K_A, K_F, K_N_KEYS };
static struct bf_msgpack_key keys[K_N_KEYS];

static int walk_depth(const uint8_t *b, size_t n, unsigned depth, const char **what)
{
	const struct bf_msgpack_key k[K_N_KEYS] = {
		[K_T] = { .name = "t", .type = BF_MP_STR, .dst = t, .size = sizeof(t) },
		[K_U] = { .name = "u", .type = BF_MP_UINT, .dst = &u, .min = 1, .max = 100 },
		[K_N] = { .name = "n", .type = BF_MP_UINT_NIL, .dst = &nv, .max = 10 },
		[K_A] = { .name = "a", .type = BF_MP_UINTS, .dst = arr, .size = 3,
			  .bad = "a is not 3 counters" },
		[K_F] = { .name = "f", .type = BF_MP_FN, .dst = &f_calls, .fn = take_f },
	};

	memcpy(keys, k, sizeof(keys));
	memset(t, 0, sizeof(t));
	u = nv = 0;
	memset(arr, 0, sizeof(arr));
	f_calls = 0;
	*what = NULL;
	return bf_msgpack_walk(b, n, MAX_LEN, depth, "too big", keys, K_N_KEYS, what);
}

static int walk(const uint8_t *b, size_t n, const char **what)
{
	return walk_depth(b, n, 3, what);
}

/* Every row refused, each with its message. */
static void refuse_rows(const struct row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *what;

		if (walk(rows[i].b, rows[i].n, &what) != -EINVAL)
			fail_msg("accepted: %s", rows[i].name);
		if (strcmp(what, rows[i].what))
			fail_msg("%s: '%s', not '%s'", rows[i].name, what, rows[i].what);
	}
}
#define REFUSE_ROWS(rows) refuse_rows(rows, sizeof(rows) / sizeof(rows[0]))

static void test_msgpack__known_keys_taken(void **state)
{
	const char *what;

	/* {"t":"up","u":7,"n":3,"a":[1,2,3],"f":9} */
	assert_int_equal(walk(B("\x85\xa1t\xa2up\xa1u\x07\xa1n\x03\xa1" "a\x93\x01\x02\x03"
				"\xa1" "f\x09"), &what), 0);
	assert_string_equal(t, "up");
	assert_int_equal(u, 7);
	assert_int_equal(nv, 3);
	assert_false(keys[K_N].nil);
	assert_int_equal(arr[2], 3);
	assert_int_equal(f_calls, 1);
	for (int k = 0; k < K_N_KEYS; k++)
		assert_true(keys[k].seen);

	/* nil where it is allowed: marked, the value left alone; absent keys unseen */
	assert_int_equal(walk(B("\x81\xa1n\xc0"), &what), 0);
	assert_true(keys[K_N].seen);
	assert_true(keys[K_N].nil);
	assert_int_equal(nv, 0);
	assert_false(keys[K_T].seen);

	/* the bounds themselves are in range */
	assert_int_equal(walk(B("\x82\xa1u\x01\xa1n\x0a"), &what), 0);
	assert_int_equal(walk(B("\x81\xa1u\x64"), &what), 0);
	assert_int_equal(u, 100);
	/* a string of size - 1 bytes fits; an empty map is a map */
	assert_int_equal(walk(B("\x81\xa1t\xa7" "abcdefg"), &what), 0);
	assert_string_equal(t, "abcdefg");
	assert_int_equal(walk(B("\x80"), &what), 0);
}

static void test_msgpack__unknown_keys_skipped(void **state)
{
	const char *what;

	/* {"t":"up","zzz":5,"longkey":[1,2],5:"x","o":{"u":"no"}}: a newer sender's
	 * keys, whatever they hold, and keys that are no string */
	assert_int_equal(walk(B("\x85\xa1t\xa2up\xa3zzz\x05\xa7longkey\x92\x01\x02\x05\xa1x"
				"\xa1o\x81\xa1u\xa2no"), &what), 0);
	assert_string_equal(t, "up");
	assert_false(keys[K_U].seen); /* the "u" nested under "o" is not ours */
	/* a key that is bytes, not a string, is not "t"; nor is "t\0" */
	assert_int_equal(walk(B("\x82\xc4\x01t\x05\xa2t\x00\x05"), &what), 0);
	assert_false(keys[K_T].seen);
	/* an unknown key given twice is still only skipped */
	assert_int_equal(walk(B("\x83\xa3zzz\x01\xa3zzz\x02\xa1t\xa1x"), &what), 0);
	assert_string_equal(t, "x");
}

#define TWICE "a key appears twice"

static void test_msgpack__duplicate_key_refused(void **state)
{
	static const struct row rows[] = {
		{ "same value twice", B("\x82\xa1t\xa1x\xa1t\xa1x"), TWICE },
		{ "two values", B("\x82\xa1u\x01\xa1u\x02"), TWICE },
		{ "nil then a value", B("\x82\xa1n\xc0\xa1n\x01"), TWICE },
		{ "apart", B("\x83\xa1" "a\x93\x01\x02\x03\xa1t\xa1x\xa1" "a\x93\x01\x02\x03"), TWICE },
		{ "callback key", B("\x82\xa1" "f\x01\xa1" "f\x02"), TWICE },
	};
	struct bf_evt e;
	struct bf_stats_frame s;
	const char *what;

	REFUSE_ROWS(rows);
	assert_int_equal(f_calls, 1); /* refused before the second call */

	/* Both decoders walk this way: an origin or a timestamp given twice
	 * would be read differently by first-wins and last-wins readers. */
	assert_int_equal(bf_evt_decode(B("\x83\xa1t\xa2up\xa1o\xa4pop1\xa1o\xa4pop2"), 0, &e, &what),
			 -EINVAL);
	assert_string_equal(what, TWICE);
	assert_int_equal(bf_evt_decode(B("\x82\xa1t\xa2up\xa1o\xa4pop1"), 0, &e, &what), 0);
	assert_int_equal(bf_stats_decode(B("\x85\xa1t\xa5stats\xa1o\xa4pop1\xa2ts\x01\xa1r\x90"
					   "\xa2ts\x02"), &s, &what), -EINVAL);
	assert_string_equal(what, TWICE);
}

static void test_msgpack__wrong_type_refused(void **state)
{
	static const struct row rows[] = {
		{ "string key, integer value", B("\x81\xa1t\x05"), "bad field" },
		{ "string too long for its buffer", B("\x81\xa1t\xa8" "abcdefgh"), "bad field" },
		{ "string with a NUL", B("\x81\xa1t\xa3" "a\x00" "b"), "bad field" },
		{ "string as bytes", B("\x81\xa1t\xc4\x02up"), "bad field" },
		{ "integer as a string", B("\x81\xa1u\xa1" "5"), "bad field" },
		{ "integer below min", B("\x81\xa1u\x00"), "bad field" },
		{ "integer above max", B("\x81\xa1u\x65"), "bad field" },
		{ "negative integer", B("\x81\xa1u\xff"), "bad field" },
		{ "float", B("\x81\xa1u\xcb\x3f\xf8\x00\x00\x00\x00\x00\x00"), "bad field" },
		{ "nil where none is allowed", B("\x81\xa1u\xc0"), "bad field" },
		{ "nil-or-integer above max", B("\x81\xa1n\x0b"), "bad field" },
		{ "nil-or-integer as true", B("\x81\xa1n\xc3"), "bad field" },
		{ "counters: two", B("\x81\xa1" "a\x92\x01\x02"), "a is not 3 counters" },
		{ "counters: four", B("\x81\xa1" "a\x94\x01\x02\x03\x04"), "a is not 3 counters" },
		{ "counters: a string among them", B("\x81\xa1" "a\x93\x01\x02\xa1x"),
		  "a is not 3 counters" },
		{ "counters: a negative one", B("\x81\xa1" "a\x93\x01\x02\xff"), "a is not 3 counters" },
		{ "counters: not an array", B("\x81\xa1" "a\x03"), "a is not 3 counters" },
		{ "callback refuses", B("\x81\xa1" "f\xa2no"), "f said no" },
		/* in the map's order: the first fault is the one reported */
		{ "callback first", B("\x82\xa1" "f\xa2no\xa1t\x05"), "f said no" },
		{ "callback second", B("\x82\xa1t\x05\xa1" "f\xa2no"), "bad field" },
		{ "after good keys", B("\x83\xa1t\xa2up\xa1u\x07\xa1n\xa1x"), "bad field" },
	};

	REFUSE_ROWS(rows);
}

#define BROKEN "not one well-formed msgpack object"

/* bf_msgpack_check is what stands between a hostile count and msgpack-c's
 * allocator; test_schema.c throws lies at it from the top of a frame, these
 * hide them inside one, where the walk would otherwise meet them. */
static void test_msgpack__counts_checked_before_allocation(void **state)
{
	static const struct row rows[] = {
		{ "array32 of 4G items under a key", B("\x81\xa1" "a\xdd\xff\xff\xff\xff"), BROKEN },
		{ "array16 one item short", B("\x81\xa1" "a\xdc\x00\x04\x01\x02\x03"), BROKEN },
		{ "str32 of 4 GiB under a key", B("\x81\xa1t\xdb\xff\xff\xff\xff" "abc"), BROKEN },
		{ "str8 one byte short", B("\x81\xa1t\xd9\x03" "ab"), BROKEN },
		{ "bin32 of 2 GiB under a key", B("\x81\xa1t\xc6\x7f\xff\xff\xff"), BROKEN },
		{ "ext8 longer than the frame", B("\x81\xa1t\xc7\xff\x01\x00"), BROKEN },
		{ "map16 of 65535 pairs in an array", B("\x81\xa1z\x91\xde\xff\xff"), BROKEN },
		{ "map16 of 65535 pairs holding one", B("\xde\xff\xff\xa1t\xa1x"), BROKEN },
		{ "map claiming 2 pairs, holding 1", B("\x82\xa1t\xa1x"), BROKEN },
		{ "key without a value", B("\x81\xa1t"), BROKEN },
		{ "string key cut short", B("\x81\xa5t"), BROKEN },
		{ "uint64 cut short", B("\x81\xa1u\xcf\x00\x00"), BROKEN },
		{ "trailing byte", B("\x81\xa1t\xa1x\xc0"), BROKEN },
	};
	const char *what;

	biggest_alloc = 0;
	REFUSE_ROWS(rows);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		assert_int_equal(bf_msgpack_check(rows[i].b, rows[i].n, 3), -EINVAL);
	if (biggest_alloc > 64 * 1024)
		fail_msg("an allocation of %zu bytes happened", biggest_alloc);

	/* a count that exactly fits the bytes present is fine */
	assert_int_equal(walk(B("\x81\xa1" "a\xdc\x00\x03\x01\x02\x03"), &what), 0);
	assert_int_equal(arr[0], 1);
	assert_int_equal(walk(B("\x81\xa1t\xd9\x02up"), &what), 0);
	assert_string_equal(t, "up");
}

static void test_msgpack__frame_limits(void **state)
{
	uint8_t big[MAX_LEN + 1];
	const char *what;

	/* size first, before anything is read */
	memset(big, 0xc1, sizeof(big));
	assert_int_equal(walk(big, sizeof(big), &what), -EINVAL);
	assert_string_equal(what, "too big");
	/* depth: a map holding an array holding an array is 3 deep */
	assert_int_equal(walk_depth(B("\x81\xa1z\x91\x91\x01"), 3, &what), 0);
	assert_int_equal(walk_depth(B("\x81\xa1z\x91\x91\x91\x01"), 3, &what), -EINVAL);
	assert_string_equal(what, BROKEN);
	assert_int_equal(walk_depth(B("\x81\xa1z\x91\x91\x01"), 2, &what), -EINVAL);
	/* one object, and it must be a map */
	assert_int_equal(walk(B("\x92\xa1t\xa1x"), &what), -EINVAL);
	assert_string_equal(what, "not a msgpack map");
	assert_int_equal(walk(B("\xa1t"), &what), -EINVAL);
	assert_string_equal(what, "not a msgpack map");
	assert_int_equal(walk(B(""), &what), -EINVAL);
	assert_string_equal(what, BROKEN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_msgpack__known_keys_taken),
		cmocka_unit_test(test_msgpack__unknown_keys_skipped),
		cmocka_unit_test(test_msgpack__duplicate_key_refused),
		cmocka_unit_test(test_msgpack__wrong_type_refused),
		cmocka_unit_test(test_msgpack__counts_checked_before_allocation),
		cmocka_unit_test(test_msgpack__frame_limits),
	};

	return cmocka_run_group_tests_name("msgpack", tests, NULL, NULL);
}
