/* test_text.c - escaping of untrusted strings for JSON and terminals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "text.h"

static void test_text__json_escapes_quotes_backslashes_and_controls(void **state)
{
	char buf[64];
	const char in[] = "a\"b\\c\n\x1b[31m\x7f\xff";

	assert_string_equal(bf_json_esc(in, sizeof(in) - 1, buf, sizeof(buf)),
			    "a\\\"b\\\\c\\u000a\\u001b[31m\\u007f\\u00ff");
	/* A NUL inside the value is escaped too, not an end. */
	assert_string_equal(bf_json_esc("x\0y", 3, buf, sizeof(buf)), "x\\u0000y");
}

static void test_text__json_cuts_at_a_whole_escape(void **state)
{
	char buf[8];

	/* "ab" fits, then \u000a (6 bytes) would need 9 with the NUL. */
	assert_string_equal(bf_json_esc("ab\ncd", 5, buf, sizeof(buf)), "ab");
	assert_string_equal(bf_json_esc("abcdefghij", 10, buf, sizeof(buf)), "abcdefg");
	assert_string_equal(bf_json_esc("a\"", 2, buf, 3), "a");
	assert_string_equal(bf_json_esc("abc", 3, buf, 1), "");
}

static void test_text__printable_replaces_what_a_terminal_would_act_on(void **state)
{
	char buf[16];

	assert_string_equal(bf_printable("ok\x1b]0;pwned\x07", 12, buf, sizeof(buf)), "ok?]0;pwned?");
	assert_string_equal(bf_printable("0123456789abcdefXYZ", 19, buf, sizeof(buf)),
			    "0123456789abcde");
	assert_string_equal(bf_printable("a\0b", 3, buf, sizeof(buf)), "a?b");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text__json_escapes_quotes_backslashes_and_controls),
		cmocka_unit_test(test_text__json_cuts_at_a_whole_escape),
		cmocka_unit_test(test_text__printable_replaces_what_a_terminal_would_act_on),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
