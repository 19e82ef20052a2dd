/* test_sync_faults.c - the bus client under the faults a fleet meets, each
 * against a real redis-server: writes made without the log (bare ZADD, ZREM,
 * DEL, EXPIRE) converge by keyspace notifications and, with those off, by
 * the digest; a log of the wrong type or one the ACL forbids is skipped
 * while the others go on; a refused login backs off and is logged once;
 * out of memory keeps our writes, in order, with no gap; a bad or future
 * cursor resyncs; a second instance of an edge id publishes nothing; and a
 * Redis that vanishes without FIN or RST (a black hole: nft drops every
 * packet in its namespace) is noticed on all three links and caught up
 * after; a connection nobody answers on (a tunnel end refusing us) is never
 * taken for Redis. Needs root (the namespace) and nft. */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../tools/common.h"
#include "bus_script.h"
#include "clock.h"
#include "log.h"
#include "sync_harness.h"

static struct redis_srv srv;
static struct bf_endpoint ep = { .host = "127.0.0.1" };
static char tmp[64];

static const char *const notify_on[] = { "--notify-keyspace-events", "Kgzxte", NULL };
static const char *const bh_args[] = { "--notify-keyspace-events", "Kgzxte", "--protected-mode",
				       "no", NULL };

static int flushed(void **state)
{
	redis_do(&srv, "FLUSHALL");
	redis_do(&srv, "CONFIG SET notify-keyspace-events Kgzxte");
	redis_do(&srv, "CONFIG SET maxmemory 0");
	return 0;
}

static struct sync_config edge_cfg(const char *origin)
{
	return (struct sync_config){ .endpoint = &ep, .origin = origin, .read_peers = true,
				     .block_ms = 100, .backoff_min_ms = 20, .backoff_max_ms = 200,
				     .digest_ms = 60000 };
}

/* An ops write through the library, as bifrostctl or an operator makes it. */
static void ops_add(const char *cidr)
{
	redisContext *rc = redis_plain(&srv);
	redisReply *r = redisCommand(rc, "FCALL bifrost_add 1 bifrost:bl:ops %s 0 test", cidr);

	assert_non_null(r);
	assert_int_equal(r->type, REDIS_REPLY_INTEGER);
	freeReplyObject(r);
	redisFree(rc);
}

static void load_library(void)
{
	redisContext *rc = redis_plain(&srv);
	redisReply *r = redisCommand(rc, "FUNCTION LOAD REPLACE %s", bf_bus_library());

	assert_non_null(r);
	assert_int_equal(r->type, REDIS_REPLY_STRING);
	freeReplyObject(r);
	redisFree(rc);
}

struct want {
	struct peer *p;
	const char *origin, *text;
	bool present;
};

static bool holds(void *arg)
{
	const struct want *w = arg;

	return peer_has(w->p, w->origin, w->text) == w->present;
}

static bool eventually(struct peer *p, const char *origin, const char *text, bool present,
		       int ms)
{
	struct want w = { p, origin, text, present };

	return run_until_fn(holds, &w, ms);
}

static struct sync_stats stats(struct peer *p)
{
	struct sync_stats st;

	sync_client_stats(p->c, &st);
	return st;
}

/* ep, logged in as pop2 with the password s3cret (an ACL user the test makes). */
static struct bf_endpoint as_pop2(void)
{
	struct bf_endpoint user = ep;

	snprintf(user.user, sizeof(user.user), "pop2");
	snprintf(user.pass, sizeof(user.pass), "s3cret");
	user.has_pass = true;
	return user;
}

/* Bans 198.51.100.FROM/32 .. 198.51.100.(TO-1)/32 written by c, an hour each. */
static void write_bans(struct sync_client *c, int from, int to, const char *why)
{
	char cidr[32];

	for (int i = from; i < to; i++) {
		struct bf_entry e;

		snprintf(cidr, sizeof(cidr), "198.51.100.%d/32", i);
		e = bl(cidr);
		sync_client_write(c, BF_OP_ADD, &e, in_an_hour(), why);
	}
}

static bool two_bad_logs(void *arg)
{
	return stats(arg).bad_logs == 2;
}

static bool one_bad_log(void *arg) { return stats(arg).bad_logs == 1; }
static bool no_bad_logs(void *arg) { return stats(arg).bad_logs == 0; }

static bool nothing_pending(void *arg)
{
	return stats(arg).pending == 0;
}

/* ---- writes without the log ---- */

static void test_faults__bare_writes_converge_within_a_second(void **state)
{
	struct sync_config cfg = edge_cfg("pop2");
	struct peer b;
	int64_t t0;

	load_library();
	ops_add("198.51.100.0/24"); /* a logged write: the log has a record with its count */
	peer_open(&b, &cfg);
	assert_true(eventually(&b, "ops", "198.51.100.0/24", true, 3000));
	settle(300);

	t0 = bf_mono_ms();
	redis_do(&srv, "ZADD bifrost:bl:ops +inf 203.0.113.0/24");
	assert_true(eventually(&b, "ops", "203.0.113.0/24", true, 1000));
	redis_do(&srv, "ZREM bifrost:bl:ops 203.0.113.0/24");
	assert_true(eventually(&b, "ops", "203.0.113.0/24", false, 1000));
	redis_do(&srv, "ZADD bifrost:bl:ops %lld 192.0.2.0/24", (long long)in_an_hour());
	assert_true(eventually(&b, "ops", "192.0.2.0/24", true, 1000));
	redis_do(&srv, "DEL bifrost:bl:ops");
	assert_true(eventually(&b, "ops", "192.0.2.0/24", false, 1000));
	assert_false(peer_has(&b, "ops", "198.51.100.0/24"));
	redis_do(&srv, "ZADD bifrost:bl:ops +inf 198.18.0.0/15");
	assert_true(eventually(&b, "ops", "198.18.0.0/15", true, 1000));
	redis_do(&srv, "PEXPIRE bifrost:bl:ops 200");
	assert_true(eventually(&b, "ops", "198.18.0.0/15", false, 1500));
	assert_true(bf_mono_ms() - t0 < 6000);
	assert_true(stats(&b).bare_writes >= 5);

	/* A write through the library is no bare write: nothing read again. */
	{
		uint64_t bare = stats(&b).bare_writes, resyncs = stats(&b).resyncs;

		ops_add("100.64.0.0/10");
		assert_true(eventually(&b, "ops", "100.64.0.0/10", true, 1000));
		settle(300);
		assert_int_equal(stats(&b).bare_writes, bare);
		assert_int_equal(stats(&b).resyncs, resyncs);
	}
	peer_close(&b);
}

static void test_faults__digest_finds_bare_writes_without_notifications(void **state)
{
	struct sync_config cfg = edge_cfg("pop2");
	struct peer b;
	uint64_t resyncs;

	redis_do(&srv, "CONFIG SET notify-keyspace-events %s", "");
	load_library();
	ops_add("198.51.100.0/24");
	cfg.digest_ms = 300;
	peer_open(&b, &cfg);
	assert_true(eventually(&b, "ops", "198.51.100.0/24", true, 3000));

	redis_do(&srv, "ZADD bifrost:bl:ops +inf 203.0.113.0/24");
	assert_true(eventually(&b, "ops", "203.0.113.0/24", true, 2500));
	assert_true(stats(&b).digest_mismatches >= 1);
	assert_int_equal(stats(&b).bare_writes, 0); /* no notifications came */
	/* Found once: the same mismatch is not read again every round. */
	resyncs = stats(&b).resyncs;
	settle(1500);
	assert_int_equal(stats(&b).resyncs, resyncs);
	/* The next logged write carries the true count: all consistent again. */
	ops_add("100.64.0.0/10");
	assert_true(eventually(&b, "ops", "100.64.0.0/10", true, 1500));
	redis_do(&srv, "ZREM bifrost:bl:ops 203.0.113.0/24");
	assert_true(eventually(&b, "ops", "203.0.113.0/24", false, 2500));
	peer_close(&b);
}

/* ---- keys Redis refuses ---- */

static void test_faults__a_log_of_the_wrong_type_is_skipped(void **state)
{
	struct sync_config ca = edge_cfg("pop1"), cb = edge_cfg("pop2");
	struct peer a, b;
	struct bf_entry e = bl("198.51.100.0/24");
	uint64_t errs;

	redis_do(&srv, "SADD bifrost:edges pop3");
	redis_do(&srv, "SET bifrost:bl:pop3 junk");
	redis_do(&srv, "SET bifrost:log:bl:pop3 junk");
	peer_open(&a, &ca);
	peer_open(&b, &cb);
	assert_true(run_until(&a.connected, 1, 3000));
	assert_true(run_until_fn(one_bad_log, &b, 3000));
	assert_int_equal(stats(&b).bad_logs, 1);

	/* An established log turned into something else: XREAD fails as a
	 * whole until the log at fault is found; the others go on. */
	redis_do(&srv, "DEL bifrost:log:wl:pop1");
	redis_do(&srv, "SET bifrost:log:wl:pop1 junk");
	sync_client_write(a.c, BF_OP_ADD, &e, in_an_hour(), "t");
	assert_true(eventually(&b, "pop1", "198.51.100.0/24", true, 3000));
	assert_true(run_until_fn(two_bad_logs, &b, 2000));
	/* No hot loop: a handful of refused reads, not thousands. */
	errs = stats(&b).read_errors;
	settle(2000);
	assert_true(stats(&b).read_errors - errs < 10);

	/* Repaired: followed again within its retry. */
	redis_do(&srv, "DEL bifrost:log:bl:pop3 bifrost:bl:pop3");
	redis_do(&srv, "DEL bifrost:log:wl:pop1");
	/* Within its retry: the backoff has grown to a few seconds by now. */
	assert_true(run_until_fn(no_bad_logs, &b, 8000));
	peer_close(&a);
	peer_close(&b);
}

static void test_faults__acl_refusals_and_logins(void **state)
{
	struct bf_endpoint user = as_pop2();
	struct sync_config cb = edge_cfg("pop2");
	struct peer b;
	char log[96];

	load_library();
	/* pop2 may read pop1's and ops's logs, not pop3's. */
	redis_do(&srv, "ACL SETUSER pop2 on >s3cret +@all -@dangerous +client|id +client|unblock "
		       "+config|get ~bifrost:edges ~bifrost:lock:pop2 ~bifrost:*:pop2 "
		       "~bifrost:*:pop1 ~bifrost:*:ops ~bifrost:log:*:pop1 ~bifrost:log:*:ops "
		       "~bifrost:edge:* &*");
	redis_do(&srv, "SADD bifrost:edges pop3");
	redis_do(&srv, "FCALL bifrost_add 1 bifrost:bl:pop3 10.0.0.0/8 0 test");
	cb.endpoint = &user;
	peer_open(&b, &cb);
	assert_true(run_until(&b.connected, 1, 3000));
	ops_add("198.51.100.0/24");
	assert_true(eventually(&b, "ops", "198.51.100.0/24", true, 3000));
	settle(500);
	assert_true(stats(&b).bad_logs >= 1); /* pop3's logs: NOPERM */
	assert_false(peer_has(&b, "pop3", "10.0.0.0/8"));
	peer_close(&b);

	/* A wrong password: backoff (not a reconnect per event-loop turn),
	 * one log line. */
	snprintf(user.pass, sizeof(user.pass), "wrong");
	cb.backoff_min_ms = 50;
	cb.backoff_max_ms = 1000;
	snprintf(log, sizeof(log), "%s/login.log", tmp);
	log_capture_start(log);
	peer_open(&b, &cb);
	settle(3000);
	log_capture_stop();
	assert_false(sync_client_connected(b.c));
	assert_true(stats(&b).login_failures >= 3);
	assert_true(stats(&b).login_failures <= 3 * 10); /* 3 links, backoff 50 ms..1 s */
	assert_string_equal(stats(&b).link_state[SYNC_LINK_CMD], "login refused");
	assert_int_equal(log_count(log, "(commands): login refused"), 1);
	peer_close(&b);
}

/* Kills pop2's commands connection: its one link that is neither the blocking XREAD nor a
 * subscription. Waits (3 s at most) until its reads link is blocked in XREAD: until then
 * its last command may be CLIENT ID or PING, and it would look like the commands link. */
static void kill_commands_link(const char *user)
{
	redisContext *rc = redis_plain(&srv);
	char needle[64];
	static char seen[8192];
	unsigned long long cand = 0;
	int n = 0;

	snprintf(needle, sizeof(needle), " user=%s ", user);
	for (int t = 0; t < 60; t++) {
		redisReply *r = redisCommand(rc, "CLIENT LIST");
		int blocked = 0;

		assert_non_null(r);
		assert_int_equal(r->type, REDIS_REPLY_STRING);
		n = 0;
		seen[0] = '\0';
		for (char *line = strtok(r->str, "\n"); line; line = strtok(NULL, "\n")) {
			unsigned long long id;
			const char *c = strstr(line, " cmd=");

			if (!strstr(line, needle))
				continue;
			if (c && strlen(seen) + strlen(c) + 2 < sizeof(seen)) {
				strcat(seen, c);
				strcat(seen, "\n");
			}
			if (strstr(line, " flags=b ") && strstr(line, " cmd=xread "))
				blocked++;
			if (strstr(line, " cmd=xread ") || !strstr(line, " sub=0 ") ||
			    !strstr(line, " psub=0 ") || sscanf(line, "id=%llu", &id) != 1)
				continue;
			cand = id;
			n++;
		}
		freeReplyObject(r);
		if (blocked == 1 && n == 1)
			break;
		settle(50); /* the loop runs: the clients answer and go on reading */
	}
	if (n != 1)
		fail_msg("%d connections of %s look like its commands link:\n%s", n, user, seen);
	freeReplyObject(redisCommand(rc, "CLIENT KILL ID %llu", cand));
	redisFree(rc);
}

static bool cmd_link_down(void *arg)
{
	return strcmp(stats(arg).link_state[SYNC_LINK_CMD], "up") != 0;
}

/* A gap seen while the resync cannot start (the commands link is down, here refused its
 * login): the follower must not pick the log up again at the first record whose seq
 * happens to follow the one it knew, which would skip the records before it for good. */
static void test_faults__a_gap_waits_for_its_resync(void **state)
{
	struct bf_endpoint user = as_pop2();
	struct sync_config ca = edge_cfg("pop1"), cb = edge_cfg("pop2");
	struct peer a, b;
	char cidr[32];

	redis_do(&srv, "ACL SETUSER pop2 on >s3cret +@all ~* &*");
	cb.endpoint = &user;
	peer_open(&a, &ca);
	peer_open(&b, &cb);
	assert_true(run_until(&a.connected, 1, 3000));
	assert_true(run_until(&b.connected, 1, 3000));
	write_bans(a.c, 0, 3, "before");
	assert_true(eventually(&b, "pop1", "198.51.100.2/32", true, 3000));

	/* pop2's commands link goes, and cannot log in again; its other links stay. */
	redis_do(&srv, "ACL SETUSER pop2 resetpass >other");
	kill_commands_link("pop2");
	assert_true(run_until_fn(cmd_link_down, &b, 3000));
	/* pop1's log starts over (as after Redis restarted empty): seq 1, 2, 3, 4... */
	redis_do(&srv, "DEL bifrost:bl:pop1 bifrost:log:bl:pop1");
	write_bans(a.c, 10, 18, "after");
	settle(1000); /* pop2 reads the new log meanwhile: seq 1 after 3 */
	assert_true(stats(&b).gaps >= 1);
	redis_do(&srv, "ACL SETUSER pop2 resetpass >s3cret");
	for (int i = 10; i < 18; i++) {
		snprintf(cidr, sizeof(cidr), "198.51.100.%d/32", i);
		assert_true(eventually(&b, "pop1", cidr, true, 3000));
	}
	assert_true(eventually(&b, "pop1", "198.51.100.0/32", false, 3000));
	peer_close(&a);
	peer_close(&b);
	redis_do(&srv, "ACL DELUSER pop2");
}

/* ---- nothing grows for ever ---- */

static bool pop1_bl_pruned(void *arg)
{
	return redis_int(&srv, "ZCARD bifrost:bl:pop1") == 1;
}

static bool a_pruned(void *arg)
{
	return stats(arg).pruned > 0;
}

/* An expired entry leaves its ZSET as a `del` record of why `expired` within about a
 * second; the live one stays; the record keeps the `card` exact, so a peer's digest finds
 * no divergence. */
static void test_faults__expired_entries_leave_redis(void **state)
{
	struct sync_config ca = edge_cfg("pop1"), cb = edge_cfg("pop2");
	struct peer a, b;
	struct bf_entry soon = bl("198.51.100.1/32"), later = bl("198.51.100.2/32");
	uint64_t resyncs;
	redisContext *rc;
	redisReply *r;

	cb.digest_ms = 1000;
	peer_open(&a, &ca);
	peer_open(&b, &cb);
	assert_true(run_until(&a.connected, 1, 3000));
	assert_true(run_until(&b.resync_end, 6, 5000)); /* b follows pop1 and ops */
	resyncs = stats(&b).resyncs;
	sync_client_write(a.c, BF_OP_ADD, &soon, bf_wall_ms() + 1500, "t");
	sync_client_write(a.c, BF_OP_ADD, &later, in_an_hour(), "t");
	assert_true(eventually(&b, "pop1", "198.51.100.2/32", true, 1000));
	assert_int_equal(redis_int(&srv, "ZCARD bifrost:bl:pop1"), 2);
	assert_true(run_until_fn(pop1_bl_pruned, NULL, 4000));
	assert_true(run_until_fn(a_pruned, &a, 1000)); /* its reply reaches a */
	assert_int_equal(stats(&a).pruned, 1);
	rc = redis_plain(&srv);
	r = redisCommand(rc, "XREVRANGE bifrost:log:bl:pop1 + - COUNT 1");
	assert_non_null(r);
	assert_int_equal(r->elements, 1);
	{
		const redisReply *f = r->element[0]->element[1];
		const char *want[] = { "op", "del", "entry", "198.51.100.1/32", "why", "expired",
				       "card", "1" };

		for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i += 2) {
			bool found = false;

			for (size_t j = 0; j + 1 < f->elements; j += 2)
				found |= !strcmp(f->element[j]->str, want[i]) &&
					 !strcmp(f->element[j + 1]->str, want[i + 1]);
			assert_true(found);
		}
	}
	freeReplyObject(r);
	redisFree(rc);
	assert_true(eventually(&b, "pop1", "198.51.100.1/32", false, 2000));
	settle(2500); /* two digests of pop1's lists at pop2 */
	assert_true(stats(&b).digests >= 2);
	assert_int_equal(stats(&b).digest_mismatches, 0);
	assert_int_equal(stats(&b).resyncs, resyncs);
	assert_true(peer_has(&b, "pop1", "198.51.100.2/32"));
	peer_close(&a);
	peer_close(&b);
}

/* Our logs are trimmed by length as well as by age; a peer that starts after the trim
 * reads the ZSET and holds everything. */
static void test_faults__logs_are_bounded_by_length(void **state)
{
	struct sync_config ca = edge_cfg("pop1"), cb = edge_cfg("pop2");
	struct peer a, b;
	long long len;

	ca.log_maxlen = 20;
	peer_open(&a, &ca);
	assert_true(run_until(&a.connected, 1, 3000));
	write_bans(a.c, 0, 250, "t");
	settle(1000);
	assert_int_equal(redis_int(&srv, "ZCARD bifrost:bl:pop1"), 250);
	len = redis_int(&srv, "XLEN bifrost:log:bl:pop1");
	/* MAXLEN ~ trims whole stream nodes (up to 100 records): 20 <= len < 20 + 100. */
	assert_true(len >= 20 && len < 120);
	peer_open(&b, &cb);
	assert_true(eventually(&b, "pop1", "198.51.100.249/32", true, 3000));
	assert_true(eventually(&b, "pop1", "198.51.100.0/32", true, 3000));
	peer_close(&a);
	peer_close(&b);
}

/* ---- our own writes while Redis refuses them ---- */

static void test_faults__out_of_memory_keeps_writes_in_order(void **state)
{
	struct sync_config ca = edge_cfg("pop1"), cb = edge_cfg("pop2");
	struct peer a, b;
	redisContext *rc;
	redisReply *r;

	peer_open(&a, &ca);
	peer_open(&b, &cb);
	assert_true(run_until(&a.connected, 1, 3000));
	assert_true(run_until(&b.resync_end, 6, 5000));
	redis_do(&srv, "CONFIG SET maxmemory-policy noeviction");
	redis_do(&srv, "CONFIG SET maxmemory 1");
	write_bans(a.c, 0, 10, "t");
	/* Then one taken back: the order must hold. */
	{
		struct bf_entry e = bl("198.51.100.3/32");

		sync_client_write(a.c, BF_OP_DEL, &e, 0, "t");
	}
	settle(800);
	assert_int_equal(stats(&a).written, 0);
	assert_int_equal(stats(&a).pending, 11);
	assert_true(stats(&a).write_retries >= 1);
	redis_do(&srv, "CONFIG SET maxmemory 0");
	assert_true(eventually(&b, "pop1", "198.51.100.9/32", true, 12000));
	assert_false(peer_has(&b, "pop1", "198.51.100.3/32"));
	assert_true(run_until_fn(nothing_pending, &a, 2000));
	assert_int_equal(stats(&b).gaps, 0);
	/* The log: seq 1 to 11, no gap, no repeat. */
	rc = redis_plain(&srv);
	r = redisCommand(rc, "XRANGE bifrost:log:bl:pop1 - +");
	assert_int_equal(r->elements, 11);
	for (size_t i = 0; i < r->elements; i++) {
		const redisReply *f = r->element[i]->element[1];
		char want[24];

		snprintf(want, sizeof(want), "%zu", i + 1);
		for (size_t j = 0; j + 1 < f->elements; j += 2)
			if (!strcmp(f->element[j]->str, "seq"))
				assert_string_equal(f->element[j + 1]->str, want);
	}
	freeReplyObject(r);
	redisFree(rc);
	peer_close(&a);
	peer_close(&b);
}

/* ---- cursors ---- */

static void test_faults__bad_or_future_cursors_resync(void **state)
{
	struct sync_config cb = edge_cfg("pop2");
	struct peer b;
	char state_path[96];
	FILE *f;

	load_library();
	redis_do(&srv, "SADD bifrost:edges pop1");
	redis_do(&srv, "FCALL bifrost_add 1 bifrost:bl:pop1 198.51.100.0/24 0 test");
	redis_do(&srv, "FCALL bifrost_add 1 bifrost:wl:pop1 192.0.2.0/24 0 test");
	snprintf(state_path, sizeof(state_path), "%s/state", tmp);
	f = fopen(state_path, "w");
	assert_non_null(f);
	/* Past the log's end (waits for IDs that never come), and one Redis
	 * refuses as an ID; the rest of pop1's and ops's logs from nothing. */
	fprintf(f, "cursor bl pop1 99999999999999-0 7\n");
	fprintf(f, "cursor wl pop1 18446744073709551616-0 3\n");
	fprintf(f, "cursor punch pop1 junk 3\n");
	fclose(f);
	cb.cursor_path = state_path;
	cb.digest_ms = 300;
	peer_open(&b, &cb);
	assert_true(eventually(&b, "pop1", "198.51.100.0/24", true, 3000));
	assert_true(eventually(&b, "pop1", "192.0.2.0/24", true, 3000));
	peer_close(&b);
	unlink(state_path);
}

/* ---- one instance per id ---- */

static void test_faults__a_second_instance_publishes_nothing(void **state)
{
	struct sync_config ca = edge_cfg("pop1"), cb = edge_cfg("pop2");
	struct peer a1, a2, b;
	struct bf_entry e = bl("198.51.100.0/24");

	peer_open(&a1, &ca);
	assert_true(run_until(&a1.connected, 1, 3000));
	peer_open(&a2, &ca);
	peer_open(&b, &cb);
	settle(1500);
	assert_true(stats(&a2).id_conflict);
	assert_false(sync_client_connected(a2.c));
	assert_false(stats(&a1).id_conflict);
	sync_client_write(a2.c, BF_OP_ADD, &e, in_an_hour(), "t");
	settle(500);
	assert_false(peer_has(&b, "pop1", "198.51.100.0/24"));
	/* The first one gone (its lock lapses; here taken away at once): the
	 * second writes what it kept. */
	peer_close(&a1);
	redis_do(&srv, "DEL bifrost:lock:pop1");
	assert_true(eventually(&b, "pop1", "198.51.100.0/24", true, 3000));
	assert_false(stats(&a2).id_conflict);
	peer_close(&a2);
	peer_close(&b);
}

/* ---- a Redis that vanishes without FIN or RST ---- */

#define NS "bfsyncbh"
#define BH_HOST "10.199.77.2"

static bool all_links_down(void *arg)
{
	struct peer *p = arg;
	struct sync_stats st = stats(p);

	for (int i = 0; i < SYNC_LINKS; i++)
		if (!strcmp(st.link_state[i], "up"))
			return false;
	return true;
}

static bool all_links_up(void *arg)
{
	struct peer *p = arg;
	struct sync_stats st = stats(p);

	for (int i = 0; i < SYNC_LINKS; i++)
		if (strcmp(st.link_state[i], "up"))
			return false;
	return true;
}

static struct redis_srv bh; /* killed by teardown too, if the test fails */

static void test_faults__black_holed_redis_is_noticed_and_caught_up(void **state)
{
	struct bf_endpoint bep = { .host = BH_HOST, .port = 6390 };
	struct sync_config ca = edge_cfg("pop1"), cb = edge_cfg("pop2");
	struct peer a, b;
	char log[96];
	int64_t t0, t_down;

	sh("ip netns del " NS " 2>/dev/null; ip netns add " NS);
	sh("ip link add bfsh0 type veth peer name bfsh1 netns " NS);
	sh("ip addr add 10.199.77.1/30 dev bfsh0 && ip link set bfsh0 up");
	sh("ip netns exec " NS " sh -c 'ip link set lo up && ip addr add " BH_HOST
	   "/30 dev bfsh1 && ip link set bfsh1 up'");
	redis_srv_start(&bh, NS, BH_HOST, 6390, bh_args);
	ca.endpoint = cb.endpoint = &bep;
	peer_open(&a, &ca);
	peer_open(&b, &cb);
	assert_true(run_until_fn(all_links_up, &b, 3000));
	assert_true(run_until(&b.resync_end, 6, 5000));

	snprintf(log, sizeof(log), "%s/blackhole.log", tmp);
	log_capture_start(log);
	sh("ip netns exec " NS " nft add table inet bfbh");
	sh("ip netns exec " NS " nft add chain inet bfbh in "
	   "'{ type filter hook input priority 0; policy drop; }'");
	t0 = bf_mono_ms();
	for (int i = 0; i < 5; i++) {
		char cidr[32];
		struct bf_entry e;

		snprintf(cidr, sizeof(cidr), "198.51.100.%d/32", i);
		e = bl(cidr);
		sync_client_write(a.c, BF_OP_ADD, &e, in_an_hour(), "t");
	}
	/* Every link of both, even the idle ones, within 10 s. */
	assert_true(run_until_fn(all_links_down, &a, 10000));
	assert_true(run_until_fn(all_links_down, &b, 10000 - (int)(bf_mono_ms() - t0)));
	t_down = bf_mono_ms() - t0;
	settle(2000);
	sh("ip netns exec " NS " nft delete table inet bfbh");
	assert_true(run_until_fn(all_links_up, &b, 10000));
	for (int i = 0; i < 5; i++) {
		char cidr[32];

		snprintf(cidr, sizeof(cidr), "198.51.100.%d/32", i);
		assert_true(eventually(&b, "pop1", cidr, true, 5000));
	}
	log_capture_stop();
	fprintf(stderr, "black hole: every link of both clients down after %lld ms\n",
		(long long)t_down);
	assert_true(t_down <= 10000);
	/* One line per link per change of state, not one per attempt. */
	assert_true(log_count(log, "redis " BH_HOST ":6390") <= 2 * 3 * 3);
	/* The peer may see the entries before the writer has its last answers (a
	 * prune queued while Redis was away): drained within a few seconds. */
	assert_true(run_until_fn(nothing_pending, &a, 5000));
	assert_int_equal(stats(&a).pending, 0);
	peer_close(&a);
	peer_close(&b);
	redis_srv_kill(&bh);
	system("ip netns del " NS " 2>/dev/null; ip link del bfsh0 2>/dev/null");
}

/* ---- a listener that is not Redis: what a local tunnel end (stunnel) looks
 * like when its far end refuses the handshake (it accepts, then closes) or
 * hangs (it accepts and says nothing) ---- */

struct fake_end {
	int lfd, hold, held[64], n_held, accepted;
	struct event *ev;
};

static void fake_accept(evutil_socket_t fd, short what, void *arg)
{
	struct fake_end *f = arg;
	int c = accept(fd, NULL, NULL);

	if (c < 0)
		return;
	f->accepted++;
	if (f->hold && f->n_held < 64)
		f->held[f->n_held++] = c;
	else
		close(c);
}

static uint16_t fake_open(struct fake_end *f, int hold)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);

	memset(f, 0, sizeof(*f));
	f->hold = hold;
	f->lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(f->lfd >= 0);
	assert_int_equal(bind(f->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(f->lfd, 64), 0);
	assert_int_equal(getsockname(f->lfd, (struct sockaddr *)&a, &len), 0);
	f->ev = event_new(base, f->lfd, EV_READ | EV_PERSIST, fake_accept, f);
	event_add(f->ev, NULL);
	return ntohs(a.sin_port);
}

static void fake_close(struct fake_end *f)
{
	event_free(f->ev);
	close(f->lfd);
	for (int i = 0; i < f->n_held; i++)
		close(f->held[i]);
}

static void test_faults__an_unanswered_connection_is_not_up(void **state)
{
	for (int hold = 0; hold <= 1; hold++) {
		struct bf_endpoint fep = { .host = "127.0.0.1" };
		struct sync_config cfg = edge_cfg("pop9");
		struct fake_end f;
		struct sync_stats st;
		struct peer a;
		char log[96];

		fep.port = fake_open(&f, hold);
		cfg.endpoint = &fep;
		cfg.connect_timeout_ms = 100;
		snprintf(log, sizeof(log), "%s/unanswered-%d.log", tmp, hold);
		log_capture_start(log);
		peer_open(&a, &cfg);
		settle(700);
		log_capture_stop();
		st = stats(&a);
		/* Each link connected, then was closed (or timed out) with no
		 * reply: a failure, backed off (20, 40, 80, 160, 200 ms ...),
		 * never up, never "connected". */
		assert_true(f.accepted >= 4);
		assert_true(st.connect_failures >= 4);
		assert_true(st.connect_failures <= 3 * 8);
		assert_int_equal(st.connects, 0);
		assert_int_equal(a.connected, 0);
		assert_true(all_links_down(&a));
		if (!hold) { /* one line per link, however many attempts */
			assert_int_equal(log_count(log, "closed before Redis answered"), 3);
			assert_string_equal(st.link_state[SYNC_LINK_CMD], "unanswered");
		}
		peer_close(&a);
		fake_close(&f);
	}
}

static int setup(void **state)
{
	ep.port = (uint16_t)(29000 + getpid() % 1000);
	snprintf(tmp, sizeof(tmp), "/tmp/bf-test-faults-%d", getpid());
	mkdir(tmp, 0700);
	bf_log_init("test_sync_faults", getenv("BF_DEBUG") ? BF_LOG_DEBUG : BF_LOG_WARN);
	base = event_base_new();
	redis_srv_start(&srv, NULL, "127.0.0.1", ep.port, notify_on);
	return 0;
}

static int teardown(void **state)
{
	redis_srv_kill(&srv);
	redis_srv_kill(&bh);
	event_base_free(base);
	system("ip netns del " NS " 2>/dev/null; ip link del bfsh0 2>/dev/null");
	sh_run(NULL, "rm -rf %s", tmp);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_faults__bare_writes_converge_within_a_second, flushed, peers_close_all),
		cmocka_unit_test_setup_teardown(test_faults__digest_finds_bare_writes_without_notifications, flushed, peers_close_all),
		cmocka_unit_test_setup_teardown(test_faults__a_log_of_the_wrong_type_is_skipped, flushed, peers_close_all),
		cmocka_unit_test_setup_teardown(test_faults__acl_refusals_and_logins, flushed, peers_close_all),
		cmocka_unit_test_setup_teardown(test_faults__a_gap_waits_for_its_resync, flushed, peers_close_all),
		cmocka_unit_test_setup_teardown(test_faults__expired_entries_leave_redis, flushed, peers_close_all),
		cmocka_unit_test_setup_teardown(test_faults__logs_are_bounded_by_length, flushed, peers_close_all),
		cmocka_unit_test_setup_teardown(test_faults__out_of_memory_keeps_writes_in_order, flushed, peers_close_all),
		cmocka_unit_test_setup_teardown(test_faults__bad_or_future_cursors_resync, flushed, peers_close_all),
		cmocka_unit_test_setup_teardown(test_faults__a_second_instance_publishes_nothing, flushed, peers_close_all),
		cmocka_unit_test_setup_teardown(test_faults__black_holed_redis_is_noticed_and_caught_up, flushed, peers_close_all),
		cmocka_unit_test_setup_teardown(test_faults__an_unanswered_connection_is_not_up, flushed, peers_close_all),
	};

	signal(SIGPIPE, SIG_IGN);
	if (getenv("TEST_FILTER")) /* one test by name pattern, to debug it */
		cmocka_set_test_filter(getenv("TEST_FILTER"));
	if (geteuid() != 0) {
		fprintf(stderr, "test_sync_faults: needs root (a network namespace, nft)\n");
		return 1;
	}
	return cmocka_run_group_tests_name("sync_faults", tests, setup, teardown);
}
