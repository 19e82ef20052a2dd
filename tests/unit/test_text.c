/* test_text.c - escaping of untrusted strings for JSON and terminals. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "text.h"

static void test_text__json_escapes_quotes_backslashes_and_controls(void **state)
{
	char buf[64];
	const char in[] = "a\"b\\c\n\x1b[31m\x7f\xff";

	assert_string_equal(bf_json_esc(in, sizeof(in) - 1, buf, sizeof(buf)),
			    "a\\\"b\\\\c\\u000a\\u001b[31m\\u007f\\ufffd");
	/* A NUL inside the value is escaped too, not an end. */
	assert_string_equal(bf_json_esc("x\0y", 3, buf, sizeof(buf)), "x\\u0000y");
}

static void test_text__json_keeps_utf8_and_replaces_the_rest(void **state)
{
	char buf[64];
	FILE *f;
	char *out = NULL;
	size_t len = 0;

	/* é, €, 😀 pass; a lone continuation byte, an overlong '/', a
	 * surrogate and a sequence cut by the end of input do not. */
	assert_string_equal(bf_json_esc("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9, buf, sizeof(buf)),
			    "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
	assert_string_equal(bf_json_esc("\x80\xc0\xaf\xed\xa0\x80", 6, buf, sizeof(buf)),
			    "\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd");
	assert_string_equal(bf_json_esc("a\xc3", 2, buf, sizeof(buf)), "a\\ufffd");
	f = open_memstream(&out, &len);
	bf_json_fput(f, "Dust \"2\" \xc3\xa9\xff");
	bf_json_fput(f, NULL);
	fclose(f);
	assert_string_equal(out, "\"Dust \\\"2\\\" \xc3\xa9\\ufffd\"\"\"");
	free(out);
}

static void test_text__json_cuts_at_a_whole_escape(void **state)
{
	char buf[8];

	/* "ab" fits, then \u000a (6 bytes) would need 9 with the NUL. */
	assert_string_equal(bf_json_esc("ab\ncd", 5, buf, sizeof(buf)), "ab");
	assert_string_equal(bf_json_esc("abcdefghij", 10, buf, sizeof(buf)), "abcdefg");
	assert_string_equal(bf_json_esc("a\"", 2, buf, 3), "a");
	assert_string_equal(bf_json_esc("abc", 3, buf, 1), "");
	/* Never half a UTF-8 character. */
	assert_string_equal(bf_json_esc("abcdef\xc3\xa9", 8, buf, sizeof(buf)), "abcdef");
}

static void test_text__printable_replaces_what_a_terminal_would_act_on(void **state)
{
	char buf[16];

	assert_string_equal(bf_printable("ok\x1b]0;pwned\x07", 12, buf, sizeof(buf)), "ok?]0;pwned?");
	assert_string_equal(bf_printable("0123456789abcdefXYZ", 19, buf, sizeof(buf)),
			    "0123456789abcde");
	assert_string_equal(bf_printable("a\0b", 3, buf, sizeof(buf)), "a?b");
}

static void test_text__hex_decode(void **state)
{
	uint8_t out[4] = { 0x55, 0x55, 0x55, 0x55 };

	(void)state;
	assert_int_equal(bf_hex_decode("00fFa9", 6, out, sizeof(out)), 3);
	assert_int_equal(out[0], 0x00);
	assert_int_equal(out[1], 0xff);
	assert_int_equal(out[2], 0xa9);
	assert_int_equal(out[3], 0x55); /* nothing past the count */
	/* n bounds the read: "0102" of "010203" */
	assert_int_equal(bf_hex_decode("010203", 4, out, sizeof(out)), 2);
	assert_int_equal(out[1], 0x02);
	memset(out, 0x55, sizeof(out));
	assert_int_equal(bf_hex_decode("abc", 3, out, sizeof(out)), -EINVAL);
	assert_int_equal(bf_hex_decode("", 0, out, sizeof(out)), -EINVAL);
	assert_int_equal(bf_hex_decode("0g", 2, out, sizeof(out)), -EINVAL);
	assert_int_equal(bf_hex_decode("aa0 ", 4, out, sizeof(out)), -EINVAL);
	assert_int_equal(bf_hex_decode("0102030405", 10, out, sizeof(out)), -E2BIG);
	assert_int_equal(out[0], 0x55); /* untouched on error */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text__json_escapes_quotes_backslashes_and_controls),
		cmocka_unit_test(test_text__json_keeps_utf8_and_replaces_the_rest),
		cmocka_unit_test(test_text__json_cuts_at_a_whole_escape),
		cmocka_unit_test(test_text__printable_replaces_what_a_terminal_would_act_on),
		cmocka_unit_test(test_text__hex_decode),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
