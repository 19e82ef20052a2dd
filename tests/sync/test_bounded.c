/* test_bounded.c - libbifrost-sync never reads what is over a cap: against a real
 * redis-server, keys and values far too big (made inside Redis by a script, so this
 * process never holds them) are refused and reported, the rest is delivered, and this
 * process's peak memory does not grow by what was refused. */
#include <errno.h>
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
#include <unistd.h>
#include <cmocka.h>

#include "log.h"
#include "sync_harness.h"

#define BIG (8 << 20) /* a value no cap lets through: 8 MiB */

static struct redis_srv srv;
static struct bf_endpoint local_ep = { .host = "127.0.0.1" };

/* ---- what a client hears ---- */

struct heard {
	struct sync_client *c;
	int records, begins, connected, confs, refusals, hashes, fetches;
	char refused[8][96]; /* "what why size limit detail" of the last ones */
	struct sync_fleet_conf conf;
	size_t conf_conns, conf_rules, conf_protect;
	size_t hash_n;
	bool fetch_null;
};

static void on_record(void *ctx, const char *o, const struct bf_log_rec *r)
{
	((struct heard *)ctx)->records++;
}

static void on_begin(void *ctx, enum bf_kind k, const char *o)
{
	((struct heard *)ctx)->begins++;
}

static void on_connected(void *ctx)
{
	((struct heard *)ctx)->connected++;
}

static void on_refused(void *ctx, const struct sync_refusal *r)
{
	struct heard *h = ctx;

	snprintf(h->refused[h->refusals++ % 8], sizeof(h->refused[0]), "%s %s %s %llu %llu %s",
		 r->what, r->why, r->key, (unsigned long long)r->size,
		 (unsigned long long)r->limit, r->detail);
}

/* Whether `want` is among the refusals heard (each "what why key size limit detail"). */
static bool was_refused(const struct heard *h, const char *want)
{
	for (int i = 0; i < 8 && i < h->refusals; i++)
		if (!strncmp(h->refused[i], want, strlen(want)))
			return true;
	for (int i = 0; i < 8 && i < h->refusals; i++)
		fprintf(stderr, "refused: %s\n", h->refused[i]);
	return false;
}

static void on_conf(void *ctx, const struct sync_fleet_conf *fc)
{
	struct heard *h = ctx;

	h->confs++;
	h->conf = *fc;
	h->conf_conns = fc->n_conns;
	h->conf_rules = fc->n_rules;
	h->conf_protect = fc->n_protect;
}

static void open_client(struct heard *h, const char *origin, bool peers,
			const struct sync_caps *caps)
{
	struct sync_config cfg = { .endpoint = &local_ep, .origin = origin, .read_peers = peers,
				   .block_ms = 100, .backoff_min_ms = 20, .backoff_max_ms = 200 };
	struct sync_handlers hs = { .on_record = on_record, .on_resync_begin = on_begin,
				    .on_connected = on_connected, .on_refused = on_refused,
				    .ctx = h };

	if (caps)
		cfg.caps = *caps;
	memset(h, 0, sizeof(*h));
	h->c = sync_client_new(base, &cfg, &hs);
	assert_non_null(h->c);
	assert_true(run_until(&h->connected, 1, 3000));
}

/* ---- Redis ---- */

#define cmd(...) redis_do(&srv, __VA_ARGS__)

/* A value of n bytes made inside Redis: this process never holds it. */
#define MAKE(call, n)                                                                       \
	assert_int_equal(redis_int(&srv, "EVAL %s 1 %s %d", "redis.call(" call ") return 1",  \
				   key, (n)),                                               \
			 1)

/* Peak resident memory since the last peak_reset, in KiB. */
static long peak_kib(void)
{
	char line[128];
	long kib = -1;
	FILE *f = fopen("/proc/self/status", "r");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmHWM:", 6))
			kib = strtol(line + 6, NULL, 10);
	if (f)
		fclose(f);
	return kib;
}

static void peak_reset(void)
{
	int fd = open("/proc/self/clear_refs", O_WRONLY);

	if (fd >= 0) {
		if (write(fd, "5", 1) != 1)
			fd = -fd;
		close(fd < 0 ? -fd : fd);
	}
}

/* ---- the tests ---- */

static void hash_cb(void *ctx, const struct bf_field *f, size_t n)
{
	struct heard *h = ctx;

	h->hashes++;
	h->hash_n = n;
}

static void fetch_cb(void *ctx, const char *key, const uint8_t *val, size_t len, int64_t pttl)
{
	struct heard *h = ctx;

	h->fetches++;
	h->fetch_null = !val;
}

/* The a2s key hash and the cache's strings: fetched at most as long as allowed. */
static void test_bounded__hash_and_string(void **state)
{
	struct heard h;
	const char *key;
	long before;

	cmd("FLUSHALL");
	key = "bifrost:a2s:key";
	MAKE("'HSET', KEYS[1], 'cur', string.rep('a', ARGV[1])", BIG);
	key = "bifrost:a2s:203.0.113.10:27015";
	MAKE("'SET', KEYS[1], string.rep('x', ARGV[1]), 'PX', 60000", BIG);
	cmd("SET bifrost:a2s:203.0.113.10:27016 hello PX 60000");
	open_client(&h, "pop1", false, NULL);
	settle(200);
	peak_reset();
	before = peak_kib();
	assert_int_equal(sync_client_hgetall(h.c, "bifrost:a2s:key", hash_cb, &h), 0);
	assert_int_equal(sync_client_fetch(h.c, "bifrost:a2s:203.0.113.10:27015", 65536, fetch_cb,
					   &h), 0);
	assert_true(run_until(&h.fetches, 1, 3000));
	/* Neither 8 MiB came here (a read of either would add twice that). */
	assert_true(peak_kib() - before < 4 * 1024);
	assert_int_equal(h.hashes, 1);
	assert_int_equal(h.hash_n, 0);
	assert_true(h.fetch_null);
	assert_true(was_refused(&h, "a2s too_big bifrost:a2s:key 8388608 256 field cur"));
	assert_true(was_refused(&h, "a2s too_big bifrost:a2s:203.0.113.10:27015 65537 65536"));
	/* What fits is read as before. */
	assert_int_equal(sync_client_fetch(h.c, "bifrost:a2s:203.0.113.10:27016", 65536, fetch_cb,
					   &h), 0);
	assert_true(run_until(&h.fetches, 2, 3000));
	assert_false(h.fetch_null);
	assert_int_equal(h.refusals, 2);
	sync_client_free(h.c);
}

/* A peer's ZSET over its cap is not read (its log is followed from its head); members
 * too long are left out of the pages, the rest is read; a log's head sends its seq only;
 * a hostile member of <prefix>edges is left out. */
static void test_bounded__resync(void **state)
{
	struct sync_caps caps = { .per_origin = { [BF_KIND_BL] = 3 } };
	struct heard h;
	const char *key;
	long before;

	cmd("FLUSHALL");
	for (int i = 0; i < 5; i++)
		cmd("ZADD bifrost:bl:ops +inf 198.51.100.%d/32", i);
	cmd("XADD bifrost:log:bl:ops * op add entry 198.51.100.4/32 exp +inf seq 5");
	cmd("ZADD bifrost:wl:ops +inf 198.51.100.0/24 +inf 203.0.113.0/24");
	key = "bifrost:wl:ops";
	MAKE("'ZADD', KEYS[1], '+inf', string.rep('1', ARGV[1])", BIG);
	key = "bifrost:log:punch:ops";
	MAKE("'XADD', KEYS[1], '*', 'seq', '1', 'junk', string.rep('j', ARGV[1])", BIG);
	key = "bifrost:edges";
	MAKE("'SADD', KEYS[1], string.rep('e', ARGV[1])", BIG);
	peak_reset();
	before = peak_kib();
	open_client(&h, "pop1", true, &caps);
	assert_true(run_until(&h.records, 2, 3000)); /* the two good whitelist entries */
	settle(300);
	assert_int_equal(h.records, 2);
	assert_int_equal(h.begins, 3); /* wl, punch and valid; bl was not read */
	assert_true(was_refused(&h, "bl too_many bifrost:bl:ops 5 3"));
	assert_true(was_refused(&h, "wl too_big bifrost:wl:ops 97 96 1 member"));
	assert_true(was_refused(&h, "edges too_big bifrost:edges 64 63 1 member"));
	assert_true(peak_kib() - before < 4 * 1024);
	/* The refused ZSET's log is followed from its head on. */
	cmd("XADD bifrost:log:bl:ops * op add entry 198.51.100.9/32 exp +inf seq 6");
	assert_true(run_until(&h.records, 3, 3000));
	sync_client_free(h.c);
}

/* The fleet config: a connection hash with a field too long is refused unread and the
 * other one is delivered; a rule too long refuses the set (as a bad rule does); a
 * protect set over its cap is refused whole; too many connection hashes refuse them
 * all; a version too long is reported once and loads nothing. */
static void test_bounded__fleet_config(void **state)
{
	struct sync_caps caps = { .conns = 2, .protect = 3 };
	struct heard h;
	const char *key;
	long before;

	cmd("FLUSHALL");
	cmd("HSET bifrost:conn:udp:203.0.113.10:27015 machine 198.18.3.2");
	key = "bifrost:conn:udp:203.0.113.10:27016";
	MAKE("'HSET', KEYS[1], 'machine', string.rep('9', ARGV[1])", BIG);
	key = "bifrost:rules";
	MAKE("'HSET', KEYS[1], '10', 'action drop proto udp', '20', string.rep(' ', ARGV[1])",
	     2000);
	for (int i = 0; i < 4; i++)
		cmd("SADD bifrost:protect 192.0.2.%d/32", i);
	cmd("SET bifrost:conf:version 1");
	open_client(&h, "pop1", false, &caps);
	peak_reset();
	before = peak_kib();
	assert_int_equal(sync_client_poll_conf(h.c, on_conf, &h), 0);
	assert_true(run_until(&h.confs, 1, 3000));
	assert_int_equal(h.conf_conns, 1);
	assert_int_equal(h.conf.bad_conns, 1);
	assert_false(h.conf.conns_refused);
	assert_int_equal(h.conf.bad_rules, 1);
	assert_int_equal(h.conf_rules, 0);
	assert_true(h.conf.protect_refused);
	assert_int_equal(h.conf_protect, 0);
	assert_true(was_refused(&h, "conn too_big bifrost:conn:udp:203.0.113.10:27016 8388608 "
				    "256 field machine"));
	assert_true(was_refused(&h, "rule too_big bifrost:rules 2000 1024 field 20"));
	assert_true(was_refused(&h, "protect too_many bifrost:protect 4 3"));
	assert_true(peak_kib() - before < 4 * 1024);
	/* A third connection hash: more than caps.conns, none read. */
	cmd("HSET bifrost:conn:udp:203.0.113.10:27017 machine 198.18.3.2");
	cmd("HDEL bifrost:rules 20");
	cmd("SET bifrost:conf:version 2");
	assert_int_equal(sync_client_poll_conf(h.c, on_conf, &h), 0);
	assert_true(run_until(&h.confs, 2, 3000));
	assert_true(h.conf.conns_refused);
	assert_int_equal(h.conf_rules, 1);
	assert_true(was_refused(&h, "conn too_many bifrost:conn:* 3 2"));
	/* A version longer than 63 bytes: reported once, nothing loads. */
	h.refusals = 0;
	cmd("SET bifrost:conf:version %0100d", 7);
	for (int i = 0; i < 3; i++) {
		sync_client_poll_conf(h.c, on_conf, &h);
		settle(100);
	}
	assert_int_equal(h.confs, 2);
	assert_int_equal(h.refusals, 1);
	assert_true(was_refused(&h, "conf too_big bifrost:conf:version 64 63"));
	sync_client_free(h.c);
}

static int setup(void **state)
{
	local_ep.port = (uint16_t)(25000 + getpid() % 2000);
	bf_log_init("test_bounded", getenv("BF_DEBUG") ? BF_LOG_DEBUG : BF_LOG_ERROR);
	base = event_base_new();
	redis_srv_start(&srv, NULL, "127.0.0.1", local_ep.port, NULL);
	return 0;
}

static int teardown(void **state)
{
	redis_srv_kill(&srv);
	event_base_free(base);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bounded__hash_and_string),
		cmocka_unit_test(test_bounded__resync),
		cmocka_unit_test(test_bounded__fleet_config),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("bounded", tests, setup, teardown);
}
