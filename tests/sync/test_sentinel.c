/* test_sentinel.c - the bus client on a Redis primary with a replica watched by three
 * Redis Sentinels (redis-server --sentinel), all real, on loopback: a Sentinel endpoint
 * finds the primary and checks it with ROLE; when the primary is SIGKILLed while an
 * edge writes, the sentinels promote the replica and every link follows (the edge
 * re-asserts its entries, as bifrost-edge does): the new primary and a peer hold every
 * entry made before, during and after; the old primary, back as a replica, is never
 * written to; a failover the sentinels make while the primary lives (SENTINEL FAILOVER)
 * is followed at +switch-master; bifrostctl's blocking connect finds the new primary. */
#include <errno.h>
#include <event2/event.h>
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

#include "bus_script.h"
#include "clock.h"
#include "log.h"
#include "sync_harness.h"

#define NSENT 3

static int base_port;
static struct redis_srv prim, repl;           /* the primary and replica at the start */
static pid_t sent_pid[NSENT];
static int sent_port[NSENT];
static struct bf_endpoint ep;                 /* sentinel:bfm@127.0.0.1:S1,S2,S3 */

static void sentinel_start(int i)
{
	char conf[64], text[512];
	FILE *f;

	snprintf(conf, sizeof(conf), "/tmp/bf-test-sentinel-%d.conf", sent_port[i]);
	snprintf(text, sizeof(text),
		 "port %d\nbind 127.0.0.1\ndaemonize no\nlogfile /tmp/bf-test-sentinel-%d.log\n"
		 "sentinel monitor bfm 127.0.0.1 %d 2\n"
		 "sentinel down-after-milliseconds bfm 1000\n"
		 "sentinel failover-timeout bfm 4000\n"
		 "sentinel parallel-syncs bfm 1\n",
		 sent_port[i], sent_port[i], prim.port);
	f = fopen(conf, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	sent_pid[i] = fork();
	if (sent_pid[i] == 0) {
		execlp("redis-server", "redis-server", conf, "--sentinel", (char *)NULL);
		_exit(127);
	}
}

/* A reply of a sentinel, or NULL. */
static redisReply *ask(int port, const char *fmt, ...)
{
	struct timeval tv = { .tv_sec = 1 };
	redisContext *rc = redisConnectWithTimeout("127.0.0.1", port, tv);
	redisReply *r = NULL;
	va_list ap;

	if (rc && !rc->err) {
		redisSetTimeout(rc, tv);
		va_start(ap, fmt);
		r = redisvCommand(rc, fmt, ap);
		va_end(ap);
	}
	redisFree(rc);
	return r;
}

/* The port of the primary the sentinels agree on (all three), or 0. */
static int agreed_primary(void)
{
	int port = 0;

	for (int i = 0; i < NSENT; i++) {
		redisReply *r = ask(sent_port[i], "SENTINEL get-master-addr-by-name bfm");
		int p = r && r->type == REDIS_REPLY_ARRAY && r->elements == 2 ? atoi(r->element[1]->str) : 0;

		freeReplyObject(r);
		if (!p || (port && p != port))
			return 0;
		port = p;
	}
	return port;
}

/* ROLE of the Redis on port: "master", "slave", or "" when it does not answer. */
static const char *role(int port, char *buf, size_t len)
{
	redisReply *r = ask(port, "ROLE");

	snprintf(buf, len, "%s",
		 r && r->type == REDIS_REPLY_ARRAY && r->elements && r->element[0]->str ?
			 r->element[0]->str : "");
	freeReplyObject(r);
	return buf;
}

/* Waits until every sentinel sees the other two and the replica (the failover needs
 * them). */
static void sentinels_ready(void)
{
	for (int t = 0; t < 300; t++) {
		int ok = 0;

		for (int i = 0; i < NSENT; i++) {
			redisReply *r = ask(sent_port[i], "SENTINEL master bfm");

			for (size_t j = 0; r && r->type == REDIS_REPLY_ARRAY && j + 1 < r->elements; j += 2)
				if ((!strcmp(r->element[j]->str, "num-other-sentinels") &&
				     atoi(r->element[j + 1]->str) == NSENT - 1) ||
				    (!strcmp(r->element[j]->str, "num-slaves") &&
				     atoi(r->element[j + 1]->str) >= 1))
					ok++;
			freeReplyObject(r);
		}
		if (ok == 2 * NSENT)
			return;
		usleep(100000);
	}
	fail_msg("the sentinels did not find each other and the replica within 30 s");
}

/* A data node in a directory of its own, emptied first: a replica writes the RDB it
 * receives to dump.rdb, which a node started there later would load. */
static void node_start(struct redis_srv *s, int port, const char *replica_of_port)
{
	static char dir[2][64];
	char *d = dir[port & 1];
	const char *args[] = { "--dir", d, replica_of_port ? "--replicaof" : NULL, "127.0.0.1",
			       replica_of_port, NULL };

	snprintf(d, sizeof(dir[0]), "/tmp/bf-test-sentinel-node-%d", port);
	sh("rm -rf %s && mkdir -p %s", d, d);
	redis_srv_start(s, NULL, "127.0.0.1", port, args);
}

static int setup(void **state)
{
	static char prim_port[16];
	char spec[256], err[256];
	redisContext *rc;
	redisReply *r;

	base_port = 27400 + (getpid() % 200) * 8;
	base = event_base_new();
	node_start(&prim, base_port, NULL);
	snprintf(prim_port, sizeof(prim_port), "%d", base_port);
	node_start(&repl, base_port + 1, prim_port);
	rc = redis_plain(&prim);
	r = redisCommand(rc, "FUNCTION LOAD REPLACE %s", bf_bus_library());
	assert_non_null(r);
	freeReplyObject(r);
	redisFree(rc);
	for (int i = 0; i < NSENT; i++) {
		sent_port[i] = base_port + 2 + i;
		sentinel_start(i);
	}
	sentinels_ready();
	snprintf(spec, sizeof(spec), "sentinel:bfm@127.0.0.1:%d,127.0.0.1:%d,127.0.0.1:%d",
		 sent_port[0], sent_port[1], sent_port[2]);
	assert_int_equal(bf_endpoint_parse(spec, &ep, err, sizeof(err)), 0);
	return 0;
}

static int teardown(void **state)
{
	for (int i = 0; i < NSENT; i++)
		if (sent_pid[i] > 0) {
			kill(sent_pid[i], SIGKILL);
			waitpid(sent_pid[i], NULL, 0);
		}
	redis_srv_kill(&prim);
	redis_srv_kill(&repl);
	sh("rm -rf /tmp/bf-test-sentinel-node-%d /tmp/bf-test-sentinel-node-%d "
	   "/tmp/bf-test-sentinel-%d.conf /tmp/bf-test-sentinel-%d.conf /tmp/bf-test-sentinel-%d.conf "
	   "/tmp/bf-test-sentinel-%d.log /tmp/bf-test-sentinel-%d.log /tmp/bf-test-sentinel-%d.log",
	   base_port, base_port + 1, sent_port[0], sent_port[1], sent_port[2], sent_port[0],
	   sent_port[1], sent_port[2]);
	event_base_free(base);
	return 0;
}

/* ---- an edge that re-asserts what it wrote when it (re)connects ---- */

#define BANS_MAX 256
struct edge {
	struct sync_client *c;
	int connects, n;
	char cidr[BANS_MAX][32];
};

static void edge_connected(void *ctx)
{
	struct edge *e = ctx;

	e->connects++;
	for (int i = 0; i < e->n; i++) {
		struct bf_entry b = bl(e->cidr[i]);

		sync_client_write(e->c, BF_OP_ADD, &b, in_an_hour(), "reassert");
	}
}

static void edge_record(void *ctx, const char *origin, const struct bf_log_rec *rec)
{
}

static void edge_open(struct edge *e, const char *origin)
{
	struct sync_config cfg = { .endpoint = &ep, .origin = origin, .read_peers = false,
				   .backoff_min_ms = 50, .backoff_max_ms = 400,
				   .connect_timeout_ms = 500, .cmd_timeout_ms = 1000 };
	struct sync_handlers h = { .on_record = edge_record, .on_connected = edge_connected,
				   .ctx = e };

	memset(e, 0, sizeof(*e));
	e->c = sync_client_new(base, &cfg, &h);
	assert_non_null(e->c);
}

static void edge_ban(struct edge *e, int i)
{
	struct bf_entry b;

	assert_true(e->n < BANS_MAX);
	snprintf(e->cidr[e->n], sizeof(e->cidr[0]), "198.51.%d.%d/32", 100 + i / 250, i % 250);
	b = bl(e->cidr[e->n]);
	sync_client_write(e->c, BF_OP_ADD, &b, in_an_hour(), "t");
	e->n++;
}

/* Members of bifrost:bl:<origin> at the Redis on port. */
static long long zcard(int port, const char *origin)
{
	redisReply *r = ask(port, "ZCARD bifrost:bl:%s", origin);
	long long n = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;

	freeReplyObject(r);
	return n;
}

struct want {
	int port;
	const char *origin;
	long long n;
};

static bool zcard_is(void *arg)
{
	const struct want *w = arg;

	return zcard(w->port, w->origin) == w->n;
}

static bool primary_moved(void *arg)
{
	int p = agreed_primary();

	return p && p != *(int *)arg;
}

/* ---- tests ---- */

/* The endpoint names the primary; bifrostctl's blocking connect lands on it (ROLE). */
static void test_sentinel__finds_the_primary(void **state)
{
	struct bf_endpoint p;
	char err[256], buf[16];
	int next = 0;
	redisContext *rc;
	redisReply *r;

	assert_int_equal(bf_endpoint_primary(&ep, 500, &next, &p, err, sizeof(err)), 0);
	assert_int_equal(p.port, agreed_primary());
	assert_string_equal(role(p.port, buf, sizeof(buf)), "master");
	rc = bf_redis_connect(&ep, 1000, err, sizeof(err));
	assert_non_null(rc);
	r = redisCommand(rc, "ROLE");
	assert_true(bf_role_is_master(r));
	freeReplyObject(r);
	redisFree(rc);
	{ /* a master name no sentinel monitors */
		struct bf_endpoint bad = ep;

		snprintf(bad.master, sizeof(bad.master), "nosuch");
		assert_int_equal(bf_endpoint_primary(&bad, 500, NULL, &p, err, sizeof(err)), -ENOENT);
		assert_non_null(strstr(err, "no sentinel knows a master named nosuch"));
		assert_null(bf_redis_connect(&bad, 500, err, sizeof(err)));
	}
	{ /* no sentinel answers */
		struct bf_endpoint dead = ep;

		for (int i = 0; i < dead.n_sentinels; i++)
			dead.sentinels[i].port = 1;
		assert_int_equal(bf_endpoint_primary(&dead, 300, NULL, &p, err, sizeof(err)),
				 -EHOSTUNREACH);
		assert_non_null(strstr(err, "no sentinel of bfm answered"));
	}
}

/* SIGKILL the primary while an edge writes: the sentinels promote the replica, every
 * link follows within the bound docs/OPERATIONS.md gives, and nothing is lost: the new
 * primary holds every entry made before, during and after the failover. */
static void test_sentinel__primary_killed_nothing_lost(void **state)
{
	struct edge a;
	int old = agreed_primary(), i = 0, during;
	int64_t t0, t_moved, t_written;
	struct want w = { .origin = "pop1" };
	char buf[16];
	struct redis_srv *dead = old == prim.port ? &prim : &repl;

	edge_open(&a, "pop1");
	assert_true(run_until(&a.connects, 1, 3000));
	for (; i < 20; i++)
		edge_ban(&a, i);
	w.port = old;
	w.n = 20;
	if (!run_until_fn(zcard_is, &w, 3000)) {
		struct sync_stats st;

		sync_client_stats(a.c, &st);
		fail_msg("20 bans not on the primary %d: %lld there, %lld on %d; %llu pending",
			 old, zcard(old, "pop1"), zcard(old == prim.port ? repl.port : prim.port, "pop1"),
			 old == prim.port ? repl.port : prim.port, (unsigned long long)st.pending);
	}
	settle(200); /* the replica has them too */

	redis_srv_kill(dead);
	t0 = bf_mono_ms();
	/* bans keep coming while there is no primary: queued, then written */
	for (during = 0; !primary_moved(&old) && bf_mono_ms() - t0 < 20000; during++) {
		edge_ban(&a, i++);
		settle(100);
	}
	t_moved = bf_mono_ms();
	assert_true(primary_moved(&old));
	for (int k = 0; k < 20; k++)
		edge_ban(&a, i++);
	w.port = agreed_primary();
	w.n = i;
	assert_true(run_until_fn(zcard_is, &w, 10000));
	t_written = bf_mono_ms();
	assert_string_equal(role(w.port, buf, sizeof(buf)), "master");
	assert_true(a.connects >= 2);
	fprintf(stderr,
		"# failover: promoted %lld ms after SIGKILL, %d bans made meanwhile; all %d on "
		"the new primary %lld ms after SIGKILL\n",
		(long long)(t_moved - t0), during, i, (long long)(t_written - t0));

	/* The old primary comes back empty: the sentinels make it a replica of the new one
	 * (they look at it every 10 s), and no write of ours goes to it meanwhile. */
	node_start(dead, old, NULL);
	for (int k = 0; k < 250 && strcmp(role(old, buf, sizeof(buf)), "slave"); k++) {
		/* ROLE and ZCARD in one transaction: while it says master, it is empty */
		struct timeval tv = { .tv_sec = 1 };
		redisContext *rc = redisConnectWithTimeout("127.0.0.1", old, tv);
		redisReply *r;

		assert_true(rc && !rc->err);
		redisAppendCommand(rc, "MULTI");
		redisAppendCommand(rc, "ROLE");
		redisAppendCommand(rc, "ZCARD bifrost:bl:pop1");
		redisAppendCommand(rc, "EXEC");
		for (int q = 0; q < 3; q++) {
			assert_int_equal(redisGetReply(rc, (void **)&r), REDIS_OK);
			freeReplyObject(r);
		}
		assert_int_equal(redisGetReply(rc, (void **)&r), REDIS_OK);
		assert_int_equal(r->type, REDIS_REPLY_ARRAY);
		assert_int_equal(r->elements, 2);
		if (bf_role_is_master(r->element[0]) && r->element[1]->integer) {
			redisReply *x = ask(old, "INFO replication"), *y = ask(agreed_primary(), "INFO replication");

			fail_msg("old %d is master with %lld entries (k=%d, agreed primary %d)\nOLD: %s\nNEW: %s", old,
				 r->element[1]->integer, k, agreed_primary(), x ? x->str : "", y ? y->str : "");
		}
		freeReplyObject(r);
		redisFree(rc);
		edge_ban(&a, i++);
		settle(100);
	}
	assert_string_equal(role(old, buf, sizeof(buf)), "slave");
	edge_ban(&a, i++);
	w.n = i;
	assert_true(run_until_fn(zcard_is, &w, 5000));
	w.port = old; /* and replicated to the old primary, now a replica, once it synced */
	assert_true(run_until_fn(zcard_is, &w, 10000));
	sync_client_free(a.c);
}

/* A failover while the primary lives (SENTINEL FAILOVER): the links move at the
 * sentinels' +switch-master, and the edge's writes land on the new primary. */
static void test_sentinel__switch_master_is_followed(void **state)
{
	struct edge a;
	int old = agreed_primary(), i = 300;
	struct want w = { .origin = "pop2" };
	redisReply *r;
	char buf[16];

	log_capture_start("/tmp/bf-test-sentinel-switch.log");
	edge_open(&a, "pop2");
	assert_true(run_until(&a.connects, 1, 3000));
	edge_ban(&a, i++);
	w.port = old;
	w.n = 1;
	assert_true(run_until_fn(zcard_is, &w, 3000));
	settle(300);
	r = ask(sent_port[1], "SENTINEL FAILOVER bfm");
	assert_non_null(r);
	assert_int_not_equal(r->type, REDIS_REPLY_ERROR);
	freeReplyObject(r);
	assert_true(run_until_fn(primary_moved, &old, 15000));
	for (int k = 0; k < 10; k++)
		edge_ban(&a, i++);
	w.port = agreed_primary();
	w.n = 11;
	assert_true(run_until_fn(zcard_is, &w, 8000));
	assert_string_equal(role(w.port, buf, sizeof(buf)), "master");
	{
		struct sync_stats st;

		sync_client_stats(a.c, &st);
		assert_int_equal(st.primary_switches, 1); /* /metrics bifrost_sync_primary_switches_total */
	}
	sync_client_free(a.c);
	log_capture_stop();
	assert_true(log_count("/tmp/bf-test-sentinel-switch.log", "sentinel: the sentinels switched bfm") >= 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sentinel__finds_the_primary),
		cmocka_unit_test(test_sentinel__primary_killed_nothing_lost),
		cmocka_unit_test(test_sentinel__switch_master_is_followed),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("sentinel", tests, setup, teardown);
}
