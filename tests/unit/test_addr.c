/* test_addr.c - address, CIDR, endpoint, number and duration parsing. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "addr.h"

static uint32_t ip(const char *s)
{
	struct in_addr a;

	assert_int_equal(inet_pton(AF_INET, s, &a), 1);
	return a.s_addr;
}

static void test_addr__ipv4_strict(void **state)
{
	static const char *bad[] = { "", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.4 ",
				     " 1.2.3.4", "01.2.3.4", "1..3.4", "a.b.c.d", "1.2.3.-4",
				     "1.2.3.4/24", "4294967295" };
	uint32_t a;

	assert_int_equal(bf_parse_ipv4("198.51.100.7", &a), 0);
	assert_int_equal(a, ip("198.51.100.7"));
	assert_int_equal(bf_parse_ipv4("0.0.0.0", &a), 0);
	assert_int_equal(a, 0);
	assert_int_equal(bf_parse_ipv4("255.255.255.255", &a), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (bf_parse_ipv4(bad[i], &a) != -EINVAL)
			fail_msg("'%s' accepted", bad[i]);
}

static void test_addr__mask_is_network_order(void **state)
{
	assert_int_equal(bf_plen_mask(24), ip("255.255.255.0"));
	assert_int_equal(bf_plen_mask(8), ip("255.0.0.0"));
	assert_int_equal(bf_plen_mask(17), ip("255.255.128.0"));
	assert_int_equal(bf_plen_mask(0), 0);
	assert_int_equal(bf_plen_mask(32), 0xffffffffu);
}

static void test_addr__cidr_covers_whole_prefix(void **state)
{
	struct bf_cidr c;
	char buf[BF_CIDR_STRLEN];

	assert_int_equal(bf_parse_cidr("198.51.100.0/24", false, &c), 0);
	assert_int_equal(c.plen, 24);
	assert_true(bf_cidr_contains(&c, ip("198.51.100.0")));
	assert_true(bf_cidr_contains(&c, ip("198.51.100.1")));
	assert_true(bf_cidr_contains(&c, ip("198.51.100.255")));
	assert_false(bf_cidr_contains(&c, ip("198.51.101.0")));
	assert_false(bf_cidr_contains(&c, ip("198.51.99.255")));
	assert_false(bf_cidr_contains(&c, ip("100.51.198.0"))); /* byte-swapped */
	assert_string_equal(bf_cidr_str(&c, buf), "198.51.100.0/24");

	assert_int_equal(bf_parse_cidr("203.0.113.7", false, &c), 0);
	assert_int_equal(c.plen, 32);
	assert_int_equal(bf_parse_cidr("0.0.0.0/0", false, &c), 0);
	assert_true(bf_cidr_contains(&c, ip("1.2.3.4")));
}

static void test_addr__cidr_rejects_bad_input(void **state)
{
	static const char *bad[] = { "198.51.100.1/24", "198.51.100.0/33", "198.51.100.0/",
				     "198.51.100.0/-1", "198.51.100.0/24/1", "/24",
				     "198.51.100.0/024x", "255.255.255.255/320",
				     "198.51.100.0/2400000000000000000000" };
	struct bf_cidr c;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (bf_parse_cidr(bad[i], false, &c) == 0)
			fail_msg("'%s' accepted", bad[i]);
	/* loose: host bits are cleared instead */
	assert_int_equal(bf_parse_cidr("198.51.100.77/24", true, &c), 0);
	assert_int_equal(c.addr, ip("198.51.100.0"));
}

static void test_addr__endpoint(void **state)
{
	uint32_t a;
	uint16_t p;

	assert_int_equal(bf_parse_endpoint("203.0.113.10:27015", false, &a, &p), 0);
	assert_int_equal(a, ip("203.0.113.10"));
	assert_int_equal(p, 27015);
	assert_int_equal(bf_parse_endpoint("203.0.113.10:0", false, &a, &p), -EINVAL);
	assert_int_equal(bf_parse_endpoint("203.0.113.10:0", true, &a, &p), 0);
	assert_int_equal(bf_parse_endpoint("203.0.113.10:65536", false, &a, &p), -EINVAL);
	assert_int_equal(bf_parse_endpoint("203.0.113.10", false, &a, &p), -EINVAL);
	assert_int_equal(bf_parse_endpoint(":80", false, &a, &p), -EINVAL);
	assert_int_equal(bf_parse_endpoint("203.0.113.10:80x", false, &a, &p), -EINVAL);
}

static void test_addr__proto_numbers_durations(void **state)
{
	uint64_t v;

	assert_int_equal(bf_parse_proto("udp"), IPPROTO_UDP);
	assert_int_equal(bf_parse_proto("tcp"), IPPROTO_TCP);
	assert_int_equal(bf_parse_proto("icmp"), IPPROTO_ICMP);
	assert_int_equal(bf_parse_proto("UDP"), -EINVAL);
	assert_int_equal(bf_parse_u64("18446744073709551615", UINT64_MAX, &v), 0);
	assert_true(bf_parse_u64("18446744073709551616", UINT64_MAX, &v) < 0);
	assert_int_equal(bf_parse_u64("256", 255, &v), -ERANGE);
	assert_int_equal(bf_parse_u64("-1", 255, &v), -EINVAL);
	assert_int_equal(bf_parse_duration_ms("30", &v), 0);
	assert_int_equal(v, 30000);
	assert_int_equal(bf_parse_duration_ms("500ms", &v), 0);
	assert_int_equal(v, 500);
	assert_int_equal(bf_parse_duration_ms("5m", &v), 0);
	assert_int_equal(v, 300000);
	assert_int_equal(bf_parse_duration_ms("2h", &v), 0);
	assert_int_equal(v, 7200000);
	assert_int_equal(bf_parse_duration_ms("1d", &v), 0);
	assert_int_equal(v, 86400000);
	assert_int_equal(bf_parse_duration_ms("5x", &v), -EINVAL);
	assert_int_equal(bf_parse_duration_ms("s", &v), -EINVAL);
	assert_true(bf_parse_duration_ms("99999999999999d", &v) < 0);
}

/* IPv6 parses and prints with its family; IPv4 is the zero family, so
 * everything that only knows IPv4 keeps working, and refuses IPv6 by family. */
static void test_addr__families(void **state)
{
	struct bf_cidr c;
	struct bf_addr a;
	char s[BF_CIDR_STRLEN], t[BF_ADDR6_STRLEN];

	assert_int_equal(bf_parse_addr("198.51.100.7", &a), 0);
	assert_int_equal(a.family, BF_INET);
	assert_string_equal(bf_addr_str(&a, t), "198.51.100.7");
	assert_int_equal(bf_parse_addr("2001:db8::7", &a), 0);
	assert_int_equal(a.family, BF_INET6);
	assert_string_equal(bf_addr_str(&a, t), "2001:db8::7");
	assert_int_equal(bf_parse_addr("2001:db8::7%eth0", &a), -EINVAL);
	assert_int_equal(bf_parse_addr("[2001:db8::7]", &a), -EINVAL);
	assert_int_equal(bf_parse_addr("1.2.3", &a), -EINVAL);

	assert_int_equal(bf_parse_cidr("2001:db8::/32", false, &c), 0);
	assert_int_equal(c.family, BF_INET6);
	assert_int_equal(c.plen, 32);
	assert_string_equal(bf_cidr_str(&c, s), "2001:db8::/32");
	assert_int_equal(bf_parse_cidr("2001:db8::1", false, &c), 0);
	assert_int_equal(c.plen, 128);
	assert_int_equal(bf_parse_cidr("2001:db8::1/64", false, &c), -EINVAL); /* host bits */
	assert_int_equal(bf_parse_cidr("2001:db8::1/64", true, &c), 0);
	assert_string_equal(bf_cidr_str(&c, s), "2001:db8::/64");
	assert_int_equal(bf_parse_cidr("2001:db8::/129", false, &c), -EINVAL);
	assert_int_equal(bf_parse_cidr("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff/127", true, &c), 0);
	assert_string_equal(bf_cidr_str(&c, s), "2001:db8:ffff:ffff:ffff:ffff:ffff:fffe/127");
	assert_false(bf_cidr_contains(&c, 0)); /* an IPv6 CIDR holds no IPv4 address */

	/* The IPv4-only layers: IPv6 is a reason of its own, not garbage. */
	assert_int_equal(bf_parse_cidr4("198.51.100.0/24", false, &c), 0);
	assert_int_equal(c.family, BF_INET);
	assert_int_equal(bf_parse_cidr4("2001:db8::/32", false, &c), -EAFNOSUPPORT);
	assert_int_equal(bf_parse_cidr4("2001:db8::/", false, &c), -EINVAL);
	assert_int_equal(bf_parse_cidr4("garbage", false, &c), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addr__families),
		cmocka_unit_test(test_addr__ipv4_strict),
		cmocka_unit_test(test_addr__mask_is_network_order),
		cmocka_unit_test(test_addr__cidr_covers_whole_prefix),
		cmocka_unit_test(test_addr__cidr_rejects_bad_input),
		cmocka_unit_test(test_addr__endpoint),
		cmocka_unit_test(test_addr__proto_numbers_durations),
	};

	return cmocka_run_group_tests_name("addr", tests, NULL, NULL);
}
