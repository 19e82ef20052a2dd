/* test_notify.c - sync/notify.c: the notification datagrams systemd would receive,
 * on a real unix socket (a path and the abstract namespace), bad $NOTIFY_SOCKET
 * values, and the watchdog interval's decision table. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "notify.h"

/* A listener like systemd's: bound datagram socket; name "@..." is abstract. */
static int listen_at(const char *name)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t n = strlen(name);
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	memcpy(sa.sun_path, name, n);
	if (name[0] == '@')
		sa.sun_path[0] = '\0';
	else
		unlink(name);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa,
			      (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n)), 0);
	return fd;
}

static void expect_datagram(int fd, const char *want)
{
	char buf[256];
	ssize_t n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);

	assert_true(n >= 0);
	buf[n] = '\0';
	assert_string_equal(buf, want);
}

static void test_notify__path_socket(void **state)
{
	char path[] = "/tmp/bf-notify-test-XXXXXX";
	int tmp = mkstemp(path), fd;

	assert_true(tmp >= 0);
	close(tmp);
	fd = listen_at(path);
	assert_int_equal(bf_notify_to(path, "READY=1\nSTATUS=running"), 0);
	expect_datagram(fd, "READY=1\nSTATUS=running");
	assert_int_equal(bf_notify_to(path, "WATCHDOG=1"), 0);
	expect_datagram(fd, "WATCHDOG=1");
	/* Through the environment, as the daemons call it. */
	setenv("NOTIFY_SOCKET", path, 1);
	assert_int_equal(bf_notify("STOPPING=1"), 0);
	expect_datagram(fd, "STOPPING=1");
	unsetenv("NOTIFY_SOCKET");
	assert_int_equal(bf_notify("READY=1"), 0); /* outside systemd: nothing, no error */
	assert_int_equal(recv(fd, path, 1, MSG_DONTWAIT), -1);
	close(fd);
	unlink(path);
}

static void test_notify__abstract_socket(void **state)
{
	char name[64];
	int fd;

	snprintf(name, sizeof(name), "@bf-notify-test-%d", (int)getpid());
	fd = listen_at(name);
	assert_int_equal(bf_notify_to(name, "READY=1"), 0);
	expect_datagram(fd, "READY=1");
	close(fd);
}

static void test_notify__bad_addresses(void **state)
{
	char longname[200];

	assert_int_equal(bf_notify_to(NULL, "READY=1"), 0);
	assert_int_equal(bf_notify_to("", "READY=1"), 0);
	assert_int_equal(bf_notify_to("relative/path", "READY=1"), -EINVAL);
	assert_int_equal(bf_notify_to("@", "READY=1"), -EINVAL);
	memset(longname, 'a', sizeof(longname) - 1);
	longname[0] = '/';
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(bf_notify_to(longname, "READY=1"), -EINVAL);
	/* A path no one listens on: the error is returned, not swallowed. */
	assert_int_equal(bf_notify_to("/nonexistent-bf-notify/sock", "READY=1"), -ENOENT);
}

static void test_notify__watchdog_table(void **state)
{
	static const struct {
		const char *usec, *pid;
		long self;
		uint64_t want;
	} t[] = {
		{ "3000000", NULL, 42, 3000000 },   /* no WATCHDOG_PID: ours */
		{ "3000000", "42", 42, 3000000 },   /* for this process */
		{ "3000000", "43", 42, 0 },         /* for another process */
		{ "3000000", "4x", 42, 0 },         /* garbage pid */
		{ NULL, NULL, 42, 0 },              /* no watchdog */
		{ "0", NULL, 42, 0 },               /* zero: off */
		{ "-5", NULL, 42, 0 },              /* negative */
		{ "12abc", NULL, 42, 0 },           /* trailing junk */
		{ "", NULL, 42, 0 },
		{ "99999999999999999999999", NULL, 42, 0 }, /* overflow */
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		assert_int_equal(bf_watchdog_usec_of(t[i].usec, t[i].pid, t[i].self), t[i].want);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_notify__path_socket),
		cmocka_unit_test(test_notify__abstract_socket),
		cmocka_unit_test(test_notify__bad_addresses),
		cmocka_unit_test(test_notify__watchdog_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
