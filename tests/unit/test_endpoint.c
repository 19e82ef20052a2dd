/* test_endpoint.c - parsing Redis endpoints once (names, IPv4, IPv6,
 * ports) and the credentials: a credentials file (its text, its
 * permissions, reading it) or the environment, and which one wins. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

/* Redis Sentinel: a master name and 1-8 sentinels; shown as the master, never the
 * sentinels' addresses. */
static void test_endpoint__sentinel(void **state)
{
	static const struct {
		const char *in, *want;
	} bad[] = {
		{ "sentinel:", "want sentinel:MASTER@HOST" },
		{ "sentinel:bfm", "want sentinel:MASTER@HOST" },
		{ "sentinel:@127.0.0.1", "want sentinel:MASTER@HOST" },
		{ "sentinel:b f@127.0.0.1", "want sentinel:MASTER@HOST" },
		{ "sentinel:bfm@", "empty sentinel" },
		{ "sentinel:bfm@127.0.0.1,", "empty sentinel" },
		{ "sentinel:bfm@127.0.0.1:0", "port must be 1-65535" },
		{ "sentinel:bfm@bad host", "bad sentinel" },
		{ "sentinel:bfm@a,b,c,d,e,f,g,h,i", "more than 8 sentinels" },
	};
	struct bf_endpoint ep;
	char err[200], s[BF_ENDPOINT_STRLEN];

	assert_int_equal(bf_endpoint_parse("sentinel:bifrost-main@10.0.0.1,10.0.0.2:26380,[2001:db8::3]:26381",
					   &ep, err, sizeof(err)),
			 0);
	assert_true(bf_endpoint_is_sentinel(&ep));
	assert_string_equal(ep.master, "bifrost-main");
	assert_int_equal(ep.n_sentinels, 3);
	assert_string_equal(ep.sentinels[0].host, "10.0.0.1");
	assert_int_equal(ep.sentinels[0].port, 26379);
	assert_int_equal(ep.sentinels[1].port, 26380);
	assert_string_equal(ep.sentinels[2].host, "2001:db8::3");
	assert_string_equal(ep.host, "");
	assert_string_equal(bf_endpoint_str(&ep, s, sizeof(s)), "bifrost-main via 3 sentinels");
	assert_int_equal(bf_endpoint_parse("198.18.4.2", &ep, err, sizeof(err)), 0);
	assert_false(bf_endpoint_is_sentinel(&ep));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(bf_endpoint_parse(bad[i].in, &ep, err, sizeof(err)), -EINVAL);
		if (!strstr(err, bad[i].want))
			fail_msg("'%s': error '%s' does not say '%s'", bad[i].in, err, bad[i].want);
		assert_false(bf_endpoint_is_sentinel(&ep));
	}
}

/* ---- credentials ---- */

static char dir[64];

static int mkdir_tmp(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/bf-test-endpoint.XXXXXX");
	assert_non_null(mkdtemp(dir));
	return 0;
}

static int rm_tmp(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd);
}

/* dir/name with text and mode; its path in path. */
static void put_file(const char *name, const char *text, mode_t mode, char *path, size_t len)
{
	FILE *f;

	snprintf(path, len, "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
}

static void test_endpoint__auth_file_text(void **state)
{
	static const struct {
		const char *text, *user, *pass;
	} rows[] = {
		{ "user pop1\npassword s3cret word\n", "pop1", "s3cret word" },
		{ "# Bifrost\n\n  password\tp#ss  word\r\n", "", "p#ss  word" },
		{ "password x\nuser ops@fleet-1.a_b", "ops@fleet-1.a_b", "x" },
		{ "\t# user nobody\npassword  \t caf\xc3\xa9 au lait\n", "",
		  "caf\xc3\xa9 au lait" },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct bf_endpoint ep = { .host = "h" };
		char err[160] = "";

		if (bf_auth_parse(rows[i].text, strlen(rows[i].text), "f", &ep, err, sizeof(err)))
			fail_msg("row %zu: %s", i, err);
		assert_string_equal(ep.user, rows[i].user);
		assert_string_equal(ep.pass, rows[i].pass);
		assert_true(ep.has_pass);
		assert_string_equal(ep.host, "h");
	}
}

static void test_endpoint__auth_file_refusals(void **state)
{
	char longpass[BF_PASS_MAX + 16], longuser[BF_USER_MAX + 32];
	struct {
		const char *text, *want;
	} rows[] = {
		{ "", "f: no 'password' line" },
		{ "user pop1\n", "f: no 'password' line" },
		{ "hunter2 secret\n", "f:1: unknown key (want 'user NAME' or 'password SECRET')" },
		{ "user pop1\npass word\n", "f:2: unknown key" },
		{ "password\n", "f:1: password has no value" },
		{ "password \t\n", "f:1: password has no value" },
		{ "user\n", "f:1: user has no value" },
		{ "password hunter2 \n", "f:1: the value ends in a space or tab (remove it)" },
		{ "password hunter2\t\n", "f:1: the value ends in a space or tab" },
		{ "password hun\x01ter2\n", "f:1: a control character in the value" },
		{ "password hun\x7fter2\n", "f:1: a control character in the value" },
		{ "password a\npassword b\n", "f:2: a second password line" },
		{ "user a\npassword b\nuser c\n", "f:3: a second user line" },
		{ "user pop 1\npassword b\n", "f:1: a user name is 1-64 of A-Z a-z 0-9 - _ . @" },
		{ "user \"pop1\"\npassword b\n", "f:1: a user name is" },
		{ longuser, "f:1: a user name is" },
		{ longpass, "f:1: the password is longer than 512 bytes" },
	};

	snprintf(longuser, sizeof(longuser), "user %0*d\npassword x\n", BF_USER_MAX + 1, 7);
	snprintf(longpass, sizeof(longpass), "password %0*d\n", BF_PASS_MAX + 1, 7);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct bf_endpoint ep = { .host = "h" };
		char err[200] = "";

		assert_int_equal(bf_auth_parse(rows[i].text, strlen(rows[i].text), "f", &ep, err,
					       sizeof(err)), -EINVAL);
		if (!strstr(err, rows[i].want))
			fail_msg("row %zu: error '%s' does not say '%s'", i, err, rows[i].want);
		/* never quotes the file */
		assert_null(strstr(err, "hunter2"));
		assert_false(ep.has_pass);
		assert_string_equal(ep.pass, "");
	}
	{
		struct bf_endpoint ep = { 0 };
		char err[200] = "";

		assert_int_equal(bf_auth_parse("password a\0b\n", 13, "f", &ep, err, sizeof(err)),
				 -EINVAL);
		assert_string_equal(err, "f: a NUL byte (not a text file)");
	}
}

static void test_endpoint__auth_file_permissions(void **state)
{
	static const struct {
		mode_t mode;
		unsigned uid, euid;
		off_t size;
		int rc;
		const char *want;
	} rows[] = {
		{ S_IFREG | 0600, 1000, 1000, 40, 0, "" },
		{ S_IFREG | 0400, 1000, 1000, 40, 0, "" },
		{ S_IFREG | 0600, 0, 1000, 40, 0, "" }, /* root's file */
		{ S_IFREG | 0640, 1000, 1000, 40, -EPERM,
		  "/e/p1: group or others may read or write it (mode 0640); run: chmod 600 /e/p1" },
		{ S_IFREG | 0604, 1000, 1000, 40, -EPERM, "(mode 0604); run: chmod 600" },
		{ S_IFREG | 0620, 1000, 1000, 40, -EPERM, "(mode 0620)" },
		{ S_IFREG | 0602, 1000, 1000, 40, -EPERM, "(mode 0602)" },
		{ S_IFREG | 0610, 1000, 1000, 40, -EPERM, "(mode 0610)" },
		{ S_IFREG | 0600, 4242, 1000, 40, -EPERM,
		  "/e/p1: owned by uid 4242, not by this user (uid 1000) or root; run: chown 1000 "
		  "/e/p1" },
		{ S_IFDIR | 0700, 1000, 1000, 40, -EINVAL, "/e/p1: not a regular file" },
		{ S_IFIFO | 0600, 1000, 1000, 0, -EINVAL, "not a regular file" },
		{ S_IFLNK | 0777, 1000, 1000, 4, -EINVAL, "not a regular file" },
		{ S_IFREG | 0600, 1000, 1000, BF_AUTH_FILE_MAX + 1, -EFBIG,
		  "/e/p1: 4097 bytes, more than 4096: not a credentials file?" },
		{ S_IFREG | 0600, 1000, 1000, BF_AUTH_FILE_MAX, 0, "" },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct stat st = { .st_mode = rows[i].mode, .st_uid = rows[i].uid,
				   .st_size = rows[i].size };
		char err[240] = "";

		assert_int_equal(bf_auth_file_safe(&st, rows[i].euid, "/e/p1", err, sizeof(err)),
				 rows[i].rc);
		if (!strstr(err, rows[i].want))
			fail_msg("row %zu: error '%s' does not say '%s'", i, err, rows[i].want);
	}
}

static void test_endpoint__auth_file_read(void **state)
{
	char path[128], big[BF_AUTH_FILE_MAX + 64], err[300];
	struct bf_endpoint ep;

	put_file("good", "user pop1\npassword s3cret word\n", 0600, path, sizeof(path));
	memset(&ep, 0, sizeof(ep));
	assert_int_equal(bf_auth_file_read(path, &ep, err, sizeof(err)), 0);
	assert_string_equal(ep.user, "pop1");
	assert_string_equal(ep.pass, "s3cret word");
	assert_string_equal(ep.auth_src, path);

	put_file("open", "password x\n", 0644, path, sizeof(path));
	memset(&ep, 0, sizeof(ep));
	assert_int_equal(bf_auth_file_read(path, &ep, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "run: chmod 600"));
	assert_false(ep.has_pass);

	memset(big, '#', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	put_file("big", big, 0600, path, sizeof(path));
	assert_int_equal(bf_auth_file_read(path, &ep, err, sizeof(err)), -EFBIG);

	snprintf(path, sizeof(path), "%s/fifo", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	/* refused without waiting for a writer */
	assert_int_equal(bf_auth_file_read(path, &ep, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not a regular file"));

	assert_int_equal(bf_auth_file_read(dir, &ep, err, sizeof(err)), -EINVAL);

	snprintf(path, sizeof(path), "%s/missing", dir);
	assert_int_equal(bf_auth_file_read(path, &ep, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "cannot open the credentials file"));

	put_file("bad", "user pop1\npassword\n", 0600, path, sizeof(path));
	assert_int_equal(bf_auth_file_read(path, &ep, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "/bad:2: password has no value"));
	assert_false(ep.has_pass);
}

static void test_endpoint__credentials_sources(void **state)
{
	struct bf_endpoint ep;
	char err[300] = "", big[BF_PASS_MAX + 2], path[128];

	unsetenv("REDISCLI_AUTH");
	unsetenv("BIFROST_REDIS_USER");
	/* none at all */
	assert_int_equal(bf_endpoint_parse("198.18.4.2", &ep, err, sizeof(err)), 0);
	assert_int_equal(bf_endpoint_credentials(&ep, NULL, err, sizeof(err)), 0);
	assert_false(ep.has_pass);
	assert_string_equal(ep.auth_src, "");
	/* the environment: a password */
	setenv("REDISCLI_AUTH", "s3cret word", 1);
	assert_int_equal(bf_endpoint_credentials(&ep, "", err, sizeof(err)), 0);
	assert_true(ep.has_pass);
	assert_string_equal(ep.user, "");
	assert_string_equal(ep.pass, "s3cret word");
	assert_string_equal(ep.auth_src, "REDISCLI_AUTH");
	/* the environment: a user and a password */
	setenv("BIFROST_REDIS_USER", "pop2", 1);
	memset(&ep, 0, sizeof(ep));
	assert_int_equal(bf_endpoint_credentials(&ep, NULL, err, sizeof(err)), 0);
	assert_string_equal(ep.user, "pop2");
	assert_string_equal(ep.auth_src, "BIFROST_REDIS_USER and REDISCLI_AUTH");
	/* a file wins over the environment, both user and password */
	put_file("pop1", "user pop1\npassword from file\n", 0600, path, sizeof(path));
	memset(&ep, 0, sizeof(ep));
	assert_int_equal(bf_endpoint_credentials(&ep, path, err, sizeof(err)), 0);
	assert_string_equal(ep.user, "pop1");
	assert_string_equal(ep.pass, "from file");
	assert_string_equal(ep.auth_src, path);
	/* a file without a user: the environment's user is not mixed in */
	put_file("passonly", "password p\n", 0600, path, sizeof(path));
	memset(&ep, 0, sizeof(ep));
	assert_int_equal(bf_endpoint_credentials(&ep, path, err, sizeof(err)), 0);
	assert_string_equal(ep.user, "");
	/* a named file that is refused is not replaced by the environment */
	put_file("open", "password p\n", 0640, path, sizeof(path));
	memset(&ep, 0, sizeof(ep));
	assert_int_equal(bf_endpoint_credentials(&ep, path, err, sizeof(err)), -EPERM);
	assert_false(ep.has_pass);
	/* a user with no password, a bad user, a password too long */
	unsetenv("REDISCLI_AUTH");
	assert_int_equal(bf_endpoint_credentials(&ep, NULL, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "BIFROST_REDIS_USER is set but REDISCLI_AUTH"));
	setenv("REDISCLI_AUTH", "x", 1);
	setenv("BIFROST_REDIS_USER", "two words", 1);
	assert_int_equal(bf_endpoint_credentials(&ep, NULL, err, sizeof(err)), -EINVAL);
	unsetenv("BIFROST_REDIS_USER");
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	setenv("REDISCLI_AUTH", big, 1);
	assert_int_equal(bf_endpoint_credentials(&ep, NULL, err, sizeof(err)), -EINVAL);
	unsetenv("REDISCLI_AUTH");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_endpoint__parses_every_form),
		cmocka_unit_test(test_endpoint__refuses_with_a_reason),
		cmocka_unit_test(test_endpoint__sentinel),
		cmocka_unit_test(test_endpoint__auth_file_text),
		cmocka_unit_test(test_endpoint__auth_file_refusals),
		cmocka_unit_test(test_endpoint__auth_file_permissions),
		cmocka_unit_test(test_endpoint__auth_file_read),
		cmocka_unit_test(test_endpoint__credentials_sources),
	};

	return cmocka_run_group_tests_name("endpoint", tests, mkdir_tmp, rm_tmp);
}
