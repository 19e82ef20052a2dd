/* test_endpoint.c - parsing Redis endpoints once (names, IPv4, IPv6,
 * ports) and the credentials from the environment. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "endpoint.h"

static void test_endpoint__parses_every_form(void **state)
{
	static const struct {
		const char *in, *host, *str;
		unsigned port;
	} rows[] = {
		{ "198.18.4.2:6379", "198.18.4.2", "198.18.4.2:6379", 6379 },
		{ "198.18.4.2", "198.18.4.2", "198.18.4.2:6379", 6379 },
		{ "redis.example.net:6380", "redis.example.net", "redis.example.net:6380", 6380 },
		{ "localhost", "localhost", "localhost:6379", 6379 },
		{ "[2001:db8::1]:7000", "2001:db8::1", "[2001:db8::1]:7000", 7000 },
		{ "[::1]", "::1", "[::1]:6379", 6379 },
		{ "2001:db8::2", "2001:db8::2", "[2001:db8::2]:6379", 6379 },
		{ "r-1.pop_a.example:1", "r-1.pop_a.example", "r-1.pop_a.example:1", 1 },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct bf_endpoint ep;
		char err[128] = "", s[BF_ENDPOINT_STRLEN];

		if (bf_endpoint_parse(rows[i].in, &ep, err, sizeof(err)))
			fail_msg("%s: %s", rows[i].in, err);
		assert_string_equal(ep.host, rows[i].host);
		assert_int_equal(ep.port, rows[i].port);
		assert_string_equal(bf_endpoint_str(&ep, s, sizeof(s)), rows[i].str);
		assert_false(ep.has_pass);
	}
}

static void test_endpoint__refuses_with_a_reason(void **state)
{
	static const struct {
		const char *in, *want;
	} rows[] = {
		{ "", "empty Redis endpoint" },
		{ "198.18.4.2:0", "port must be 1-65535" },
		{ "198.18.4.2:65536", "port must be 1-65535" },
		{ "198.18.4.2:", "port must be 1-65535" },
		{ "198.18.4.2:63x", "port must be 1-65535" },
		{ "[2001:db8::1", "want [IPv6]:port" },
		{ "[2001:db8::1]x", "want [IPv6]:port" },
		{ "[198.18.4.2]:1", "is not an IPv6 address" },
		{ "bad host:1", "want host[:port]" },
		{ "-lead:1", "want host[:port]" },
		{ "a..b:1", "want host[:port]" },
		{ ":6379", "want host[:port]" },
		{ "redis://198.18.4.2:6379", "want host[:port]" },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct bf_endpoint ep;
		char err[160] = "";

		assert_int_equal(bf_endpoint_parse(rows[i].in, &ep, err, sizeof(err)), -EINVAL);
		if (!strstr(err, rows[i].want))
			fail_msg("'%s': error '%s' does not say '%s'", rows[i].in, err, rows[i].want);
	}
}

static void test_endpoint__credentials_from_the_environment(void **state)
{
	struct bf_endpoint ep;
	char err[128] = "", big[BF_PASS_MAX + 2];

	assert_int_equal(bf_endpoint_parse("198.18.4.2", &ep, err, sizeof(err)), 0);
	unsetenv("REDISCLI_AUTH");
	assert_int_equal(bf_endpoint_credentials(&ep, err, sizeof(err)), 0);
	assert_false(ep.has_pass);
	setenv("REDISCLI_AUTH", "s3cret word", 1);
	assert_int_equal(bf_endpoint_credentials(&ep, err, sizeof(err)), 0);
	assert_true(ep.has_pass);
	assert_string_equal(ep.pass, "s3cret word");
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	setenv("REDISCLI_AUTH", big, 1);
	assert_int_equal(bf_endpoint_credentials(&ep, err, sizeof(err)), -EINVAL);
	unsetenv("REDISCLI_AUTH");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_endpoint__parses_every_form),
		cmocka_unit_test(test_endpoint__refuses_with_a_reason),
		cmocka_unit_test(test_endpoint__credentials_from_the_environment),
	};

	return cmocka_run_group_tests_name("endpoint", tests, NULL, NULL);
}
