/* test_sync.c - libbifrost-sync against a real redis-server started here:
 * writes reach a peer, our own origin is never read back, garbage in a log is
 * counted and skipped, Redis killed and restarted empty loses nothing, a
 * trimmed cursor leads to a full resync. */
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

#include "log.h"
#include "sync_harness.h"

static struct redis_srv srv;
static struct bf_endpoint local_ep = { .host = "127.0.0.1" };
static char cursor_path[64];

static void redis_start(void)
{
	redis_srv_start(&srv, NULL, "127.0.0.1", local_ep.port, NULL);
}

static void redis_kill(void)
{
	redis_srv_kill(&srv);
}

static redisContext *plain(void)
{
	return redis_plain(&srv);
}

/* Each test starts on an empty Redis: no logs, no instance locks of the
 * edges an earlier test made (a lock outlives its client by 15 s). */
static int flushed(void **state)
{
	redis_do(&srv, "FLUSHALL");
	return 0;
}

static void open_peer(struct peer *p, const char *origin, const char *cursors)
{
	struct sync_config cfg = { .endpoint = &local_ep, .origin = origin, .read_peers = true,
				   .block_ms = 100, .backoff_min_ms = 20, .backoff_max_ms = 200,
				   .cursor_path = cursors };

	peer_open(p, &cfg);
}

static void test_sync__peer_hears_writes_not_itself(void **state)
{
	struct peer a, b;
	char cidr[32];
	struct sync_stats st;

	open_peer(&a, "pop1", NULL);
	open_peer(&b, "pop2", NULL);
	assert_true(run_until(&a.connected, 1, 3000));
	assert_true(run_until(&b.connected, 1, 3000));
	/* b follows ops and pop1 (3 logs each) once it has resynced them. */
	assert_true(run_until(&b.resync_end, 6, 5000));
	for (int i = 0; i < 100; i++) {
		struct bf_entry e;

		snprintf(cidr, sizeof(cidr), "198.19.%d.0/24", i);
		e = bl(cidr);
		assert_int_equal(sync_client_write(a.c, BF_OP_ADD, &e, in_an_hour(), "test"), 0);
	}
	{
		struct bf_entry e = bl("198.19.0.0/24");

		sync_client_write(a.c, BF_OP_DEL, &e, 0, "test");
	}
	assert_true(run_until(&b.records, 101, 5000));
	assert_string_equal(b.last, "198.19.0.0/24");
	settle(200);
	assert_int_equal(a.records, 0); /* never its own origin */
	sync_client_stats(a.c, &st);
	assert_int_equal(st.written, 101);
	assert_int_equal(st.pending, 0);
	sync_client_stats(b.c, &st);
	assert_int_equal(st.bad_records, 0);
	assert_int_equal(st.gaps, 0);

	/* An entry written by hand, as docs/REDIS.md tells an operator. */
	{
		redisContext *rc = plain();
		long long exp = (long long)in_an_hour();
		redisReply *r;
		int before = b.records;

		freeReplyObject(redisCommand(rc, "MULTI"));
		freeReplyObject(redisCommand(rc, "ZADD bifrost:bl:ops %lld 203.0.113.0/24", exp));
		freeReplyObject(redisCommand(rc, "XADD bifrost:log:bl:ops * op add entry 203.0.113.0/24 "
						 "exp %lld seq 1 why manual", exp));
		r = redisCommand(rc, "EXEC");
		assert_int_equal(r->type, REDIS_REPLY_ARRAY);
		freeReplyObject(r);
		redisFree(rc);
		assert_true(run_until(&b.records, before + 1, 3000));
		assert_string_equal(b.last, "203.0.113.0/24");
		assert_true(run_until(&a.records, 1, 3000)); /* ops is everyone's peer */
	}

	/* Garbage in a peer's log: counted, skipped, and the log goes on. */
	{
		redisContext *rc = plain();
		struct bf_entry e = bl("198.19.200.0/24");
		int before = b.records;

		freeReplyObject(redisCommand(rc, "XADD bifrost:log:bl:pop1 * junk yes"));
		freeReplyObject(redisCommand(rc, "XADD bifrost:log:bl:pop1 * op add entry 1.2.3.4/8 exp +inf seq 999"));
		redisFree(rc);
		sync_client_write(a.c, BF_OP_ADD, &e, in_an_hour(), "test");
		assert_true(run_until(&b.records, before + 1, 3000));
		sync_client_stats(b.c, &st);
		assert_int_equal(st.bad_records, 2);
		assert_int_equal(st.gaps, 0);
		assert_string_equal(b.last, "198.19.200.0/24");
	}
	peer_close(&a);
	peer_close(&b);
}

static bool nothing_pending(void *arg)
{
	struct sync_stats st;

	sync_client_stats(arg, &st);
	return st.pending == 0;
}

static void test_sync__redis_restart_empty_loses_nothing(void **state)
{
	struct peer a, b;
	struct sync_stats st;

	open_peer(&a, "pop1", NULL);
	open_peer(&b, "pop2", NULL);
	assert_true(run_until(&a.connected, 1, 3000));
	assert_true(run_until(&b.resync_end, 6, 5000));
	redis_kill();
	settle(200);
	/* Written while Redis is away: buffered. */
	for (int i = 0; i < 20; i++) {
		char cidr[32];
		struct bf_entry e;

		snprintf(cidr, sizeof(cidr), "198.18.%d.0/24", 100 + i);
		e = bl(cidr);
		assert_int_equal(sync_client_write(a.c, BF_OP_ADD, &e, in_an_hour(), "outage"), 0);
	}
	sync_client_stats(a.c, &st);
	assert_int_equal(st.pending, 20);
	assert_true(st.disconnects >= 1);
	b.records = 0;
	redis_start(); /* empty: no persistence */
	assert_true(run_until(&a.connected, 2, 5000));
	assert_true(run_until(&b.records, 20, 5000));
	assert_true(run_until_fn(nothing_pending, a.c, 2000));
	/* The ZSET holds all 20 again. */
	{
		redisContext *rc = plain();
		redisReply *r = redisCommand(rc, "ZCARD bifrost:bl:pop1");

		assert_int_equal(r->integer, 20);
		freeReplyObject(r);
		redisFree(rc);
	}
	peer_close(&a);
	peer_close(&b);
}

static void test_sync__trimmed_cursor_resyncs(void **state)
{
	struct peer a, b;
	struct sync_stats st;
	struct bf_entry e;

	unlink(cursor_path);
	open_peer(&a, "pop1", NULL);
	open_peer(&b, "pop2", cursor_path);
	assert_true(run_until(&a.connected, 1, 3000));
	assert_true(run_until(&b.resync_end, 6, 5000));
	e = bl("192.0.2.0/24");
	sync_client_write(a.c, BF_OP_ADD, &e, in_an_hour(), "t");
	assert_true(run_until(&b.records, 1, 3000));
	peer_close(&b); /* saves its cursors */
	assert_int_equal(access(cursor_path, R_OK), 0);

	/* While b is gone: more writes, then the log is trimmed away. */
	for (int i = 0; i < 10; i++) {
		char cidr[32];

		snprintf(cidr, sizeof(cidr), "192.0.2.%d/32", i);
		e = bl(cidr);
		sync_client_write(a.c, BF_OP_ADD, &e, in_an_hour(), "t");
	}
	settle(300);
	{
		redisContext *rc = plain();

		freeReplyObject(redisCommand(rc, "XTRIM bifrost:log:bl:pop1 MAXLEN 0"));
		redisFree(rc);
	}
	e = bl("192.0.2.100/32");
	sync_client_write(a.c, BF_OP_ADD, &e, in_an_hour(), "t");
	settle(200);

	open_peer(&b, "pop2", cursor_path);
	assert_true(run_until(&b.resync_end, 1, 5000));
	settle(300);
	sync_client_stats(b.c, &st);
	assert_true(st.gaps >= 1);
	/* Everything live in pop1's bl ZSET came through the resync. */
	{
		redisContext *rc = plain();
		redisReply *r = redisCommand(rc, "ZCARD bifrost:bl:pop1");

		assert_true(b.records >= (int)r->integer);
		freeReplyObject(r);
		redisFree(rc);
	}
	peer_close(&a);
	peer_close(&b);
}

/* Net i of the bans the tests below write: 10.<i/250>.<i%250>.0/24. */
static const char *net(int i)
{
	static char cidr[32];

	snprintf(cidr, sizeof(cidr), "10.%d.%d.0/24", i / 250, i % 250);
	return cidr;
}

/* Nets 0..n-1 banned by p, gap_ms apart (0: all at once). */
static void write_nets(struct peer *p, int n, int gap_ms)
{
	for (int i = 0; i < n; i++) {
		struct bf_entry e = bl(net(i));

		sync_client_write(p->c, BF_OP_ADD, &e, in_an_hour(), "t");
		if (gap_ms)
			settle(gap_ms);
	}
}

/* A state file from another Redis (or a clock set back) leaves a cursor past the log's
 * newest record: the digest finds it and the list is read again, not waited on. */
static void test_sync__cursor_past_the_end_is_read_again(void **state)
{
	struct sync_config cfg = { .endpoint = &local_ep, .origin = "pop2", .read_peers = true,
				   .block_ms = 100, .digest_ms = 300, .cursor_path = cursor_path };
	struct peer a, b;
	struct bf_entry e;
	FILE *f;

	open_peer(&a, "pop1", NULL);
	assert_true(run_until(&a.connected, 1, 3000));
	e = bl("192.0.2.7/32");
	sync_client_write(a.c, BF_OP_ADD, &e, in_an_hour(), "t");
	settle(200);
	f = fopen(cursor_path, "w");
	assert_non_null(f);
	fprintf(f, "cursor bl pop1 99999999999999-0 41\n");
	fclose(f);
	peer_open(&b, &cfg);
	for (int i = 0; i < 50 && !peer_has(&b, "pop1", "192.0.2.7/32"); i++)
		settle(100);
	assert_true(peer_has(&b, "pop1", "192.0.2.7/32"));
	{
		struct sync_stats st;

		sync_client_stats(b.c, &st);
		assert_true(st.digest_mismatches >= 1);
	}
	peer_close(&b);
	peer_close(&a);
	unlink(cursor_path);
}

/* The digest reads a log's head on the commands link while the reads link consumes
 * newer records: a cursor that moved past the head it read in the meantime is no
 * cursor past the end (the race made followers resync under steady writes). */
static void test_sync__digest_under_steady_writes_reads_nothing_again(void **state)
{
	struct sync_config cfg = { .endpoint = &local_ep, .origin = "pop2", .read_peers = true,
				   .block_ms = 100, .digest_ms = 50 };
	struct peer a, b;
	struct sync_stats st;
	uint64_t resyncs;

	open_peer(&a, "pop1", NULL);
	peer_open(&b, &cfg);
	assert_true(run_until(&a.connected, 1, 3000));
	assert_true(run_until(&b.resync_end, 8, 5000));
	settle(300);
	sync_client_stats(b.c, &st);
	resyncs = st.resyncs;
	/* 2.5 s of a write every 6 ms (the peer holds 512), the digest at every tick. */
	write_nets(&a, 400, 6);
	settle(500);
	sync_client_stats(b.c, &st);
	assert_true(st.digests >= 2);
	assert_int_equal(st.digest_mismatches, 0);
	assert_int_equal(st.resyncs, resyncs);
	assert_true(peer_has(&b, "pop1", "10.1.149.0/24"));
	peer_close(&b);
	peer_close(&a);
}

/* Redis cuts a subscriber whose output buffer passes client-output-buffer-limit pubsub (by
 * default 32mb hard, 8mb for 60 s): the events link is remade, and nothing written
 * meanwhile is lost, since the records come through the logs, not the channels. */
static bool events_link_lost(void *arg)
{
	struct sync_stats st;

	sync_client_stats(((struct peer *)arg)->c, &st);
	return st.disconnects >= 1;
}

static void test_sync__a_subscriber_cut_off_by_its_buffer_limit_loses_nothing(void **state)
{
	struct peer a, b;
	struct sync_stats st;

	open_peer(&a, "pop1", NULL);
	open_peer(&b, "pop2", NULL);
	assert_true(run_until(&a.connected, 1, 3000));
	assert_true(run_until(&b.resync_end, 8, 5000));
	settle(300);
	redis_do(&srv, "CONFIG SET client-output-buffer-limit %s", "pubsub 2kb 1kb 1");
	/* 400 writes at once: their keyspace notifications are far past 2 KiB. */
	write_nets(&a, 400, 0);
	assert_true(run_until_fn(events_link_lost, &b, 5000));
	redis_do(&srv, "CONFIG SET client-output-buffer-limit %s", "pubsub 32mb 8mb 60");
	for (int i = 0; i < 50 && !peer_has(&b, "pop1", "10.1.149.0/24"); i++)
		settle(100);
	for (int i = 0; i < 400; i++)
		if (!peer_has(&b, "pop1", net(i)))
			fail_msg("%s missing after the events link was cut", net(i));
	sync_client_stats(b.c, &st);
	assert_string_equal(st.link_state[SYNC_LINK_READ], "up");
	peer_close(&b);
	peer_close(&a);
}

static void ignore(void *ctx, const char *origin, const struct bf_log_rec *r)
{
}

/* A state save is put off while a resync runs (the resyncing log would be saved
 * without a cursor, and a large register costs the loop as much as the resync),
 * and made once it is done. Redis is stopped mid-resync, past the save's second. */
static void test_sync__state_save_waits_for_the_resync(void **state)
{
	redisContext *rc = plain();
	struct peer b;
	char line[256];
	bool found = false;
	FILE *f;

	/* pop1's bans: 20 pages of ZSCAN, and its log's head. */
	for (int i = 0; i < 20000; i += 500) {
		for (int j = i; j < i + 500; j++)
			redisAppendCommand(rc, "ZADD bifrost:bl:pop1 %lld %s", (long long)in_an_hour(),
					   net(j));
		for (int j = i; j < i + 500; j++) {
			redisReply *r = NULL;

			assert_int_equal(redisGetReply(rc, (void **)&r), REDIS_OK);
			freeReplyObject(r);
		}
	}
	freeReplyObject(redisCommand(rc, "XADD bifrost:log:bl:pop1 * op add entry %s exp %lld seq 1 why t",
				     net(0), (long long)in_an_hour()));
	freeReplyObject(redisCommand(rc, "SADD bifrost:edges pop1"));
	unlink(cursor_path);
	open_peer(&b, "pop2", cursor_path);
	/* Mid-resync (the loop stands still outside run_until: at most the page already
	 * answered is applied next); the empty lists' resyncs have ended and made the
	 * cursors dirty, so a save is due within the second. */
	assert_true(run_until(&b.records, 1000, 5000));
	assert_true(b.records < 20000);
	sh("kill -STOP %d", (int)srv.pid);
	settle(1800);
	sh("kill -CONT %d", (int)srv.pid);
	assert_int_not_equal(access(cursor_path, F_OK), 0); /* not saved meanwhile */
	assert_true(run_until(&b.records, 20000, 10000));
	settle(1500);
	f = fopen(cursor_path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		found |= !strncmp(line, "cursor bl pop1 ", 15);
	fclose(f);
	assert_true(found);
	peer_close(&b);
	redisFree(rc);
}

static void test_sync__connect_timeout_and_retry(void **state)
{
	struct peer a;
	struct sync_stats st;
	struct bf_endpoint nobody = { .host = "127.0.0.1", .port = (uint16_t)(local_ep.port + 1) };
	struct sync_config cfg = { .endpoint = &nobody, .origin = "pop9",
				   .connect_timeout_ms = 100, .backoff_min_ms = 20,
				   .backoff_max_ms = 50 };
	struct sync_handlers h = { .on_record = ignore, .ctx = &a };
	struct bf_entry e = bl("198.51.100.0/24");

	peer_open(&a, &cfg);
	settle(400);
	sync_client_stats(a.c, &st);
	assert_true(st.connect_failures >= 3);
	assert_false(sync_client_connected(a.c));
	assert_int_equal(sync_client_write(a.c, BF_OP_ADD, &e, in_an_hour(), "t"), 0);
	peer_close(&a);

	nobody.port = 0;
	assert_null(sync_client_new(base, &cfg, &h));
	nobody.port = local_ep.port;
	cfg.origin = "bad origin";
	assert_null(sync_client_new(base, &cfg, &h));
	cfg.origin = "pop9";
	cfg.prefix = "bifrost"; /* no ':' at the end */
	assert_null(sync_client_new(base, &cfg, &h));
	cfg.prefix = NULL;
	cfg.origin = "ops"; /* the operators': never an edge's */
	cfg.read_peers = true;
	assert_null(sync_client_new(base, &cfg, &h));
}

static int setup(void **state)
{
	local_ep.port = (uint16_t)(27000 + getpid() % 2000);
	snprintf(cursor_path, sizeof(cursor_path), "/tmp/bf-test-cursors-%d", getpid());
	bf_log_init("test_sync", getenv("BF_DEBUG") ? BF_LOG_DEBUG : BF_LOG_ERROR);
	base = event_base_new();
	redis_start();
	return 0;
}

static int teardown(void **state)
{
	redis_kill();
	unlink(cursor_path);
	event_base_free(base);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_sync__peer_hears_writes_not_itself, flushed, peers_close_all),
		cmocka_unit_test_setup_teardown(test_sync__redis_restart_empty_loses_nothing, flushed, peers_close_all),
		cmocka_unit_test_setup_teardown(test_sync__trimmed_cursor_resyncs, flushed, peers_close_all),
		cmocka_unit_test_setup_teardown(test_sync__state_save_waits_for_the_resync, flushed, peers_close_all),
		cmocka_unit_test_setup_teardown(test_sync__cursor_past_the_end_is_read_again, flushed, peers_close_all),
		cmocka_unit_test_setup_teardown(test_sync__digest_under_steady_writes_reads_nothing_again, flushed, peers_close_all),
		cmocka_unit_test_setup_teardown(test_sync__a_subscriber_cut_off_by_its_buffer_limit_loses_nothing, flushed, peers_close_all),
		cmocka_unit_test_setup_teardown(test_sync__connect_timeout_and_retry, flushed, peers_close_all),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("sync", tests, setup, teardown);
}
