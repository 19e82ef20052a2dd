/* redis_fixture.c - a unit test's own redis-server and event loop (redis_fixture.h). */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "redis_fixture.h"

int port;
struct event_base *base;
static pid_t redis_pid;

void redis_start(void)
{
	char p[16];

	snprintf(p, sizeof(p), "%d", port);
	redis_pid = fork();
	if (redis_pid == 0) {
		execlp("redis-server", "redis-server", "--bind", "127.0.0.1", "--port", p, "--save",
		       "", "--appendonly", "no", "--loglevel", "warning", "--logfile", "/dev/null",
		       (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 100; i++) {
		redisContext *rc = redisConnect("127.0.0.1", port);
		int ok = rc && !rc->err;

		redisFree(rc);
		if (ok)
			return;
		usleep(20000);
	}
	fprintf(stderr, "redis-server did not start on port %d\n", port);
	exit(1);
}

void redis_kill(void)
{
	kill(redis_pid, SIGKILL);
	waitpid(redis_pid, NULL, 0);
}

redisContext *plain(void)
{
	redisContext *rc = redisConnect("127.0.0.1", port);

	assert_non_null(rc);
	assert_int_equal(rc->err, 0);
	return rc;
}

static void stop_loop(evutil_socket_t fd, short w, void *arg)
{
	*(int *)arg = 1;
}

int run_until(const int *value, int want, int timeout_ms)
{
	int expired = 0;
	struct event *t = evtimer_new(base, stop_loop, &expired);
	struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 };

	evtimer_add(t, &tv);
	while (*value < want && !expired)
		event_base_loop(base, EVLOOP_ONCE);
	event_free(t);
	return *value >= want;
}

void settle(int ms)
{
	int never = 0;

	run_until(&never, 1, ms);
}
