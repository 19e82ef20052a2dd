/* test_replica.c - the bus client reading from a read replica (sync_config.replica), all
 * real on loopback: a primary, a replica that replicates through a relay this test can
 * stall (so the replica falls behind while staying connected), a writer on the primary
 * and a follower given the replica. Reads move to the replica once it keeps up (its
 * XREAD runs there, not on the primary); the replica lagging past the bound, its link
 * to the primary down, promoted, or killed each move them back to the primary at once
 * and back again when it recovers; no record written meanwhile is missed. */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "bus_script.h"
#include "clock.h"
#include "sync_harness.h"

static int base_port;
static struct redis_srv prim, repl;
static struct bf_endpoint prim_ep, repl_ep;
static char relay_port[16];

/* ---- the relay: replica <-> relay <-> primary, the primary's side stallable ---- */

static struct evconnlistener *relay;
static struct bufferevent *to_replica, *to_primary;
static bool stalled;

static void relay_close(void)
{
	if (to_replica)
		bufferevent_free(to_replica);
	if (to_primary)
		bufferevent_free(to_primary);
	to_replica = to_primary = NULL;
}

static void relay_read(struct bufferevent *bev, void *arg)
{
	struct bufferevent *other = bev == to_replica ? to_primary : to_replica;

	if (other)
		bufferevent_write_buffer(other, bufferevent_get_input(bev));
}

static void relay_event(struct bufferevent *bev, short what, void *arg)
{
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		relay_close();
}

static void relay_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
			 int len, void *arg)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(prim.port),
				   .sin_addr.s_addr = htonl(0x7f000001) };

	relay_close();
	to_replica = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	to_primary = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(to_replica, relay_read, NULL, relay_event, NULL);
	bufferevent_setcb(to_primary, relay_read, NULL, relay_event, NULL);
	bufferevent_enable(to_replica, EV_READ | EV_WRITE);
	bufferevent_enable(to_primary, EV_WRITE | (stalled ? 0 : EV_READ));
	bufferevent_socket_connect(to_primary, (struct sockaddr *)&sin, sizeof(sin));
}

/* What the primary sends the replica waits (in the relay's socket) while stalled. */
static void relay_stall(bool on)
{
	stalled = on;
	if (!to_primary)
		return;
	if (on)
		bufferevent_disable(to_primary, EV_READ);
	else
		bufferevent_enable(to_primary, EV_READ);
}

/* Each node in a directory of its own, emptied first: a replica writes the RDB of its
 * full sync to dump.rdb there, which a node started there later would load. */
static const char *node_dir(int port)
{
	static char dir[2][64];
	char *d = dir[port & 1];

	snprintf(d, sizeof(dir[0]), "/tmp/bf-test-replica-%d", port);
	sh("rm -rf %s && mkdir -p %s", d, d);
	return d;
}

static void replica_start(void)
{
	const char *args[] = { "--dir", node_dir(base_port + 1), "--replicaof", "127.0.0.1",
			       relay_port, "--notify-keyspace-events", "Kgzxt", NULL };

	redis_srv_start(&repl, NULL, "127.0.0.1", base_port + 1, args);
}

static int setup(void **state)
{
	const char *args[] = { "--dir", NULL, "--notify-keyspace-events", "Kgzxt",
			       "--repl-diskless-sync-delay", "0", NULL };
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001) };
	char spec[64], err[128];
	redisContext *rc;
	redisReply *r;

	base_port = 27600 + (getpid() % 200) * 4;
	base = event_base_new();
	args[1] = node_dir(base_port);
	redis_srv_start(&prim, NULL, "127.0.0.1", base_port, args);
	rc = redis_plain(&prim);
	r = redisCommand(rc, "FUNCTION LOAD REPLACE %s", bf_bus_library());
	assert_non_null(r);
	freeReplyObject(r);
	redisFree(rc);
	sin.sin_port = htons(base_port + 2);
	relay = evconnlistener_new_bind(base, relay_accept, NULL,
					LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 8,
					(struct sockaddr *)&sin, sizeof(sin));
	assert_non_null(relay);
	snprintf(relay_port, sizeof(relay_port), "%d", base_port + 2);
	replica_start();
	snprintf(spec, sizeof(spec), "127.0.0.1:%d", base_port);
	assert_int_equal(bf_endpoint_parse(spec, &prim_ep, err, sizeof(err)), 0);
	snprintf(spec, sizeof(spec), "127.0.0.1:%d", base_port + 1);
	assert_int_equal(bf_endpoint_parse(spec, &repl_ep, err, sizeof(err)), 0);
	return 0;
}

static int teardown(void **state)
{
	redis_srv_kill(&repl);
	redis_srv_kill(&prim);
	relay_close();
	evconnlistener_free(relay);
	event_base_free(base);
	sh("rm -rf /tmp/bf-test-replica-%d /tmp/bf-test-replica-%d", base_port, base_port + 1);
	return 0;
}

/* ---- the writer (pop1, on the primary) and the follower (pop2, given the replica) ---- */

static struct peer w, f;
static int made;  /* bans written so far: 10.<n/250>.<n%250>.0/24 */
static int first; /* the first of them by the current writer */
static const char *w_origin = "pop1", *f_origin = "pop2";

static void writer_open(void)
{
	struct sync_config cfg = { .endpoint = &prim_ep, .origin = w_origin, .read_peers = true };

	peer_open(&w, &cfg);
}

static void follower_open(void)
{
	struct sync_config cfg = { .endpoint = &prim_ep, .origin = f_origin, .read_peers = true,
				   .replica = &repl_ep, .replica_max_lag_ms = 600 };

	peer_open(&f, &cfg);
}

static void ban_more(int n)
{
	for (int i = 0; i < n; i++, made++) {
		char cidr[32];
		struct bf_entry e;

		snprintf(cidr, sizeof(cidr), "10.%d.%d.0/24", made / 250, made % 250);
		e = bl(cidr);
		assert_int_equal(sync_client_write(w.c, BF_OP_ADD, &e, in_an_hour(), "test"), 0);
	}
}

static bool has_all(void *arg)
{
	for (int i = first; i < made; i++) {
		char cidr[32];

		snprintf(cidr, sizeof(cidr), "10.%d.%d.0/24", i / 250, i % 250);
		if (!peer_has(&f, w_origin, cidr))
			return false;
	}
	return true;
}

static struct sync_stats fst(void)
{
	struct sync_stats st;

	sync_client_stats(f.c, &st);
	return st;
}

static bool reading_replica(void *arg)
{
	return fst().replica_reading;
}

static bool reading_primary(void *arg)
{
	return !fst().replica_reading;
}

/* How many clients of that Redis are in a blocking XREAD: the writer's reader always
 * on the primary, the follower's where its reads go. */
static int xreads_on(const struct redis_srv *s)
{
	redisContext *rc = redis_plain(s);
	redisReply *r = redisCommand(rc, "CLIENT LIST");
	int n = 0;

	for (const char *p = r && r->type == REDIS_REPLY_STRING ? r->str : "";
	     (p = strstr(p, "cmd=xread")); p++)
		n++;
	freeReplyObject(r);
	redisFree(rc);
	return n;
}

static bool follower_xread_on_replica(void *arg)
{
	return xreads_on(&repl) == 1 && xreads_on(&prim) == 1;
}

static bool follower_xread_on_primary(void *arg)
{
	return xreads_on(&prim) == 2;
}

static void test_replica__reads_go_to_the_replica_once_it_keeps_up(void **state)
{
	struct sync_stats st;

	uint64_t resyncs;

	writer_open();
	follower_open();
	assert_true(run_until_fn(reading_replica, NULL, 8000));
	resyncs = fst().resyncs; /* each log's first read */
	ban_more(30);
	assert_true(run_until_fn(has_all, NULL, 5000));
	/* The follower's blocking read runs on the replica, none on the primary. */
	assert_true(run_until_fn(follower_xread_on_replica, NULL, 3000));
	st = fst();
	assert_true(st.replica_set);
	assert_string_equal(st.replica_link, "up");
	assert_string_equal(st.replica_why, "");
	assert_true(st.replica_lag_ms >= 0 && st.replica_lag_ms <= 600);
	assert_int_equal(st.replica_fallbacks, 0);
	assert_int_equal(st.resyncs, resyncs); /* moving the reads read nothing again */
}

static void test_replica__a_lagging_replica_is_left_and_nothing_is_missed(void **state)
{
	const char *logf = "/tmp/bf-test-replica-lag.log";
	struct sync_stats st;
	int64_t t0;

	log_capture_start(logf);
	relay_stall(true);
	ban_more(10); /* the primary has them; the stalled replica does not */
	t0 = bf_mono_ms();
	assert_true(run_until_fn(reading_primary, NULL, 4000));
	/* Left within the bound plus a check or two. */
	assert_true(bf_mono_ms() - t0 < 600 + 3 * 500 + 500);
	assert_true(run_until_fn(has_all, NULL, 4000));
	assert_true(run_until_fn(follower_xread_on_primary, NULL, 3000));
	st = fst();
	assert_int_equal(st.replica_fallbacks, 1);
	assert_string_equal(st.replica_why, "lagging");
	assert_true(st.replica_lag_ms > 600);
	/* Stalled still: reads stay on the primary, and more bans still come. */
	ban_more(5);
	assert_true(run_until_fn(has_all, NULL, 3000));
	settle(1500);
	assert_false(fst().replica_reading);
	relay_stall(false);
	assert_true(run_until_fn(reading_replica, NULL, 6000));
	ban_more(5);
	assert_true(run_until_fn(has_all, NULL, 3000));
	log_capture_stop();
	assert_int_equal(log_count(logf, "lagging"), 1); /* one line for the state */
	assert_int_equal(log_count(logf, "keeping up"), 1);
	unlink(logf);
}

static void test_replica__down_promoted_or_cut_off_replicas_are_left(void **state)
{

	/* Its link to its primary down (pointed at a port nothing listens on). */
	redis_do(&repl, "REPLICAOF 127.0.0.1 %d", base_port + 3);
	ban_more(5);
	assert_true(run_until_fn(reading_primary, NULL, 4000));
	assert_string_equal(fst().replica_why, "link down");
	assert_true(run_until_fn(has_all, NULL, 3000));
	redis_do(&repl, "REPLICAOF 127.0.0.1 %s", relay_port);
	assert_true(run_until_fn(reading_replica, NULL, 8000));
	ban_more(5);
	assert_true(run_until_fn(has_all, NULL, 3000));

	/* Promoted: it takes writes of its own now, and is no longer the fleet's. */
	redis_do(&repl, "REPLICAOF NO ONE");
	assert_true(run_until_fn(reading_primary, NULL, 4000));
	assert_string_equal(fst().replica_why, "not a replica");
	ban_more(5);
	assert_true(run_until_fn(has_all, NULL, 3000));
	redis_do(&repl, "REPLICAOF 127.0.0.1 %s", relay_port);
	assert_true(run_until_fn(reading_replica, NULL, 8000));

	/* Killed: its connections go, reads are on the primary at once. */
	redis_srv_kill(&repl);
	ban_more(5);
	assert_true(run_until_fn(reading_primary, NULL, 4000));
	assert_string_equal(fst().replica_why, "down");
	assert_true(run_until_fn(has_all, NULL, 3000));
	assert_true(run_until_fn(follower_xread_on_primary, NULL, 3000));
	replica_start();
	assert_true(run_until_fn(reading_replica, NULL, 10000));
	ban_more(5);
	assert_true(run_until_fn(has_all, NULL, 3000));
	assert_true(run_until_fn(follower_xread_on_replica, NULL, 3000));
	assert_int_equal(fst().replica_fallbacks, 4);
	peer_close(&f);
	peer_close(&w);
}

/* The replica answers INFO but refuses our reads (its own ACL file: ACLs are not
 * replicated): reads go back to the primary and stay there a while, instead of
 * retrying the refused XREAD there for ever. */
static void test_replica__a_replica_refusing_our_reads_is_left(void **state)
{
	const char *logf = "/tmp/bf-test-replica-refused.log";

	/* New ids: the last test's instances hold theirs for 15 s more. */
	w_origin = "pop3";
	f_origin = "pop4";
	first = made;
	writer_open();
	follower_open();
	assert_true(run_until_fn(reading_replica, NULL, 8000));
	log_capture_start(logf);
	redis_do(&repl, "ACL SETUSER default -xread");
	ban_more(5); /* ends the blocked XREAD: the next one is refused */
	assert_true(run_until_fn(reading_primary, NULL, 4000));
	assert_true(run_until_fn(has_all, NULL, 3000));
	assert_string_equal(fst().replica_why, "down");
	/* Its INFO is fine, but reads stay on the primary (30 s hold). */
	settle(2500);
	assert_false(fst().replica_reading);
	ban_more(5);
	assert_true(run_until_fn(has_all, NULL, 3000));
	log_capture_stop();
	assert_int_equal(log_count(logf, "it refuses our reads"), 1);
	unlink(logf);
	redis_do(&repl, "ACL SETUSER default +xread");
	peer_close(&f);
	peer_close(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_replica__reads_go_to_the_replica_once_it_keeps_up),
		cmocka_unit_test(test_replica__a_lagging_replica_is_left_and_nothing_is_missed),
		cmocka_unit_test(test_replica__down_promoted_or_cut_off_replicas_are_left),
		cmocka_unit_test(test_replica__a_replica_refusing_our_reads_is_left),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
