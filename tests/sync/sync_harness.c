/* sync_harness.c - redis-servers, peers, the loop and captured logs for the
 * sync client's tests (sync_harness.h). */
#include <event2/event.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../tools/common.h"
#include "sync_harness.h"

struct event_base *base;

void sh(const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = sh_vrun("test", fmt, ap);
	va_end(ap);
	if (rc)
		fail_msg("a command failed (above)");
}

void redis_srv_start(struct redis_srv *s, const char *netns, const char *host, int port,
		     const char *const *extra)
{
	const char *argv[48];
	char p[16];
	int n = 0;

	memset(s, 0, sizeof(*s));
	s->port = port;
	snprintf(s->host, sizeof(s->host), "%s", host);
	snprintf(s->netns, sizeof(s->netns), "%s", netns ? netns : "");
	snprintf(s->log, sizeof(s->log), "/tmp/bf-test-redis-%d.log", port);
	snprintf(p, sizeof(p), "%d", port);
	if (netns) {
		argv[n++] = "ip";
		argv[n++] = "netns";
		argv[n++] = "exec";
		argv[n++] = netns;
	}
	argv[n++] = "redis-server";
	argv[n++] = "--bind";
	argv[n++] = host;
	argv[n++] = "--port";
	argv[n++] = p;
	argv[n++] = "--save";
	argv[n++] = "";
	argv[n++] = "--appendonly";
	argv[n++] = "no";
	argv[n++] = "--loglevel";
	argv[n++] = "warning";
	argv[n++] = "--logfile";
	argv[n++] = s->log;
	for (int i = 0; extra && extra[i] && n < 46; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	s->pid = fork();
	if (s->pid == 0) {
		/* Not the test's connections: a server started mid-test would hold them
		 * open after the client closed them. */
		for (int fd = 3; fd < 4096; fd++)
			close(fd);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	for (int i = 0; i < 200; i++) {
		struct timeval tv = { .tv_usec = 200000 };
		redisContext *rc = redisConnectWithTimeout(host, port, tv);
		int ok = rc && !rc->err;

		redisFree(rc);
		if (ok)
			return;
		usleep(20000);
	}
	fprintf(stderr, "redis-server did not start on %s:%d\n", host, port);
	exit(1);
}

void redis_srv_kill(struct redis_srv *s)
{
	if (s->pid <= 0)
		return;
	kill(s->pid, SIGKILL);
	waitpid(s->pid, NULL, 0);
	s->pid = 0;
	unlink(s->log);
}

redisContext *redis_plain(const struct redis_srv *s)
{
	struct timeval tv = { .tv_sec = 2 };
	redisContext *rc = redisConnectWithTimeout(s->host, s->port, tv);

	assert_non_null(rc);
	assert_int_equal(rc->err, 0);
	redisSetTimeout(rc, tv);
	return rc;
}

static redisReply *vdo(const struct redis_srv *s, const char *fmt, va_list ap)
{
	redisContext *rc = redis_plain(s);
	redisReply *r = redisvCommand(rc, fmt, ap);

	redisFree(rc);
	assert_non_null(r);
	return r;
}

void redis_do(const struct redis_srv *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	freeReplyObject(vdo(s, fmt, ap));
	va_end(ap);
}

long long redis_int(const struct redis_srv *s, const char *fmt, ...)
{
	va_list ap;
	redisReply *r;
	long long v;

	va_start(ap, fmt);
	r = vdo(s, fmt, ap);
	va_end(ap);
	assert_int_equal(r->type, REDIS_REPLY_INTEGER);
	v = r->integer;
	freeReplyObject(r);
	return v;
}

/* ---- the peer ---- */

static struct peer_entry *find(struct peer *p, const char *origin, enum bf_kind k,
			       const char *text)
{
	for (int i = 0; i < p->n; i++)
		if (p->e[i].kind == k && !strcmp(p->e[i].origin, origin) &&
		    !strcmp(p->e[i].text, text))
			return &p->e[i];
	return NULL;
}

static void on_record(void *ctx, const char *origin, const struct bf_log_rec *r)
{
	struct peer *p = ctx;
	char text[BF_ENTRY_MAX + 1];
	struct peer_entry *x;

	p->records++;
	bf_entry_format(&r->entry, text, sizeof(text));
	snprintf(p->last, sizeof(p->last), "%s", text);
	x = find(p, origin, r->entry.kind, text);
	if (r->op == BF_OP_DEL) {
		if (x)
			*x = p->e[--p->n];
		return;
	}
	if (!x && p->n < PEER_MAX) {
		x = &p->e[p->n++];
		snprintf(x->origin, sizeof(x->origin), "%s", origin);
		x->kind = r->entry.kind;
		snprintf(x->text, sizeof(x->text), "%s", text);
	}
	if (x)
		x->stale = false;
}

static void on_begin(void *ctx, enum bf_kind k, const char *o)
{
	struct peer *p = ctx;

	p->resync_begin++;
	for (int i = 0; i < p->n; i++)
		if (p->e[i].kind == k && !strcmp(p->e[i].origin, o))
			p->e[i].stale = true;
}

static void on_end(void *ctx, enum bf_kind k, const char *o)
{
	struct peer *p = ctx;

	p->resync_end++;
	for (int i = 0; i < p->n;)
		if (p->e[i].stale && p->e[i].kind == k && !strcmp(p->e[i].origin, o))
			p->e[i] = p->e[--p->n];
		else
			i++;
}

static void on_connected(void *ctx)
{
	((struct peer *)ctx)->connected++;
}

/* Open peers: a test that fails part way leaves its peers open (their
 * memory on its stack); peers_close_all, after every test, closes them
 * before anything calls into them again. */
static struct peer *open_peers[16];

void peer_open(struct peer *p, struct sync_config *cfg)
{
	struct sync_handlers h = { .on_record = on_record, .on_resync_begin = on_begin,
				   .on_resync_end = on_end, .on_connected = on_connected, .ctx = p };
	size_t i;

	memset(p, 0, sizeof(*p));
	for (i = 0; i < sizeof(open_peers) / sizeof(open_peers[0]) && open_peers[i]; i++)
		;
	assert_true(i < sizeof(open_peers) / sizeof(open_peers[0]));
	p->c = sync_client_new(base, cfg, &h);
	assert_non_null(p->c);
	open_peers[i] = p;
}

void peer_close(struct peer *p)
{
	for (size_t i = 0; i < sizeof(open_peers) / sizeof(open_peers[0]); i++)
		if (open_peers[i] == p)
			open_peers[i] = NULL;
	sync_client_free(p->c);
	p->c = NULL;
}

int peers_close_all(void **state)
{
	for (size_t i = 0; i < sizeof(open_peers) / sizeof(open_peers[0]); i++)
		if (open_peers[i])
			peer_close(open_peers[i]);
	return 0;
}

bool peer_has(const struct peer *p, const char *origin, const char *text)
{
	for (int i = 0; i < p->n; i++)
		if (!strcmp(p->e[i].origin, origin) && !strcmp(p->e[i].text, text))
			return true;
	return false;
}

/* ---- the loop ---- */

static void stop_loop(evutil_socket_t fd, short w, void *arg)
{
	*(int *)arg = 1;
}

bool run_until_fn(bool (*fn)(void *), void *arg, int timeout_ms)
{
	int expired = 0;
	struct event *t = evtimer_new(base, stop_loop, &expired);
	struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 };

	evtimer_add(t, &tv);
	while (!fn(arg) && !expired)
		event_base_loop(base, EVLOOP_ONCE);
	event_free(t);
	return fn(arg);
}

struct at_least {
	const int *value;
	int want;
};

static bool reached(void *arg)
{
	const struct at_least *a = arg;

	return *a->value >= a->want;
}

bool run_until(const int *value, int want, int timeout_ms)
{
	struct at_least a = { value, want };

	return run_until_fn(reached, &a, timeout_ms);
}

static bool never(void *arg)
{
	return false;
}

void settle(int ms)
{
	run_until_fn(never, NULL, ms);
}

struct bf_entry bl(const char *cidr)
{
	struct bf_entry e;

	assert_int_equal(bf_entry_parse(BF_KIND_BL, cidr, strlen(cidr), &e), 0);
	return e;
}

int64_t in_an_hour(void)
{
	return sync_now_ms() + 3600000;
}

/* ---- captured logs ---- */

static int saved_stderr = -1;

void log_capture_start(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	fflush(stderr);
	saved_stderr = dup(2);
	dup2(fd, 2);
	close(fd);
}

void log_capture_stop(void)
{
	fflush(stderr);
	if (saved_stderr >= 0) {
		dup2(saved_stderr, 2);
		close(saved_stderr);
		saved_stderr = -1;
	}
}

int log_count(const char *path, const char *needle)
{
	char line[1024];
	FILE *f = fopen(path, "r");
	int n = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		n += strstr(line, needle) != NULL;
	fclose(f);
	return n;
}
