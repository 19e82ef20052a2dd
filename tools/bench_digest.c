/* bench_digest.c - bf-bench digest: what the convergence digest (sync/converge.c) costs an
 * edge and Redis, with a small list and with a million-entry one, beside Redis's own round
 * trip. The real sync client follows one origin from a cursor at its log's end (no resync),
 * twice for the same time: with the digest at every tick (once a second) and with it off;
 * the difference is the digest's. Redis's CPU comes from INFO (used_cpu_*), its command time
 * from INFO commandstats, the client's from getrusage. */
#include <errno.h>
#include <stdarg.h>
#include <event2/event.h>
#include <getopt.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bench_digest.h"
#include "bench_fleet.h"
#include "bus_script.h"
#include "common.h"
#include "endpoint.h"
#include "log.h"
#include "sync.h"

#define RUN_S 10

static redisReply *cmd(redisContext *rc, const char *fmt, ...)
{
	va_list ap;
	redisReply *r;

	va_start(ap, fmt);
	r = redisvCommand(rc, fmt, ap);
	va_end(ap);
	if (!r || r->type == REDIS_REPLY_ERROR) {
		fprintf(stderr, "bf-bench digest: %s\n", r ? r->str : rc->errstr);
		exit(1);
	}
	return r;
}

/* A number from INFO's "name:value" lines; commandstats lines read usec=. */
static double info_num(redisContext *rc, const char *section, const char *name,
		       const char *field)
{
	redisReply *r = cmd(rc, "INFO %s", section);
	const char *p = strstr(r->str, name);
	double v = 0;

	if (p && field)
		p = strstr(p, field);
	if (p)
		v = atof(strchr(p, field ? '=' : ':') + 1);
	freeReplyObject(r);
	return v;
}

static double redis_cpu_s(redisContext *rc)
{
	return info_num(rc, "cpu", "used_cpu_sys:", NULL) +
	       info_num(rc, "cpu", "used_cpu_user:", NULL);
}

static double digest_cmd_us(redisContext *rc)
{
	static const char *const names[] = { "cmdstat_multi:", "cmdstat_xrevrange:",
					     "cmdstat_zcard:", "cmdstat_exec:" };
	double us = 0;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		us += info_num(rc, "commandstats", names[i], "usec=");
	return us;
}


static void noop(void *ctx, const char *o, const struct bf_log_rec *r) {}

static void stop(evutil_socket_t fd, short w, void *arg)
{
	event_base_loopbreak(arg);
}

/* origin's bl list with n members (from 240.0.0.0/4, never a real source) and one logged
 * write, so its log's newest record carries the count; returns the record's ID. */
static void fill(redisContext *rc, const char *origin, unsigned n, char *id, size_t idlen,
		 unsigned long long *seq)
{
	char key[BF_KEY_MAX];
	redisReply *r;

	snprintf(key, sizeof(key), "bifrost:bl:%s", origin);
	freeReplyObject(cmd(rc, "DEL %s bifrost:log:bl:%s", key, origin));
	for (unsigned i = 0; i < n; i += 1000) {
		const char *argv[2 + 2000];
		char (*m)[24] = calloc(1000, sizeof(*m));
		int argc = 2;

		argv[0] = "ZADD";
		argv[1] = key;
		for (unsigned j = i; j < n && j < i + 1000; j++) {
			unsigned a = 0xf0000000u + j;

			snprintf(m[j - i], sizeof(m[0]), "%u.%u.%u.%u/32", a >> 24, (a >> 16) & 255,
				 (a >> 8) & 255, a & 255);
			argv[argc++] = "+inf";
			argv[argc++] = m[j - i];
		}
		redisAppendCommandArgv(rc, argc, argv, NULL);
		free(m);
	}
	for (unsigned i = 0; i < n; i += 1000) {
		redisGetReply(rc, (void **)&r);
		freeReplyObject(r);
	}
	freeReplyObject(cmd(rc, "FCALL bifrost_add 1 %s 241.0.0.0/24 0 bench", key));
	r = cmd(rc, "XREVRANGE bifrost:log:bl:%s + - COUNT 1", origin);
	snprintf(id, idlen, "%s", r->element[0]->element[0]->str);
	*seq = 1;
	freeReplyObject(r);
	freeReplyObject(cmd(rc, "SADD bifrost:edges %s", origin));
}

struct measure {
	double rounds, redis_cpu_us, redis_cmd_us, client_cpu_us;
	unsigned lists;
};

struct phase {
	unsigned entries;
	struct measure on, off;
};

/* The client following origin for RUN_S seconds with the digest every digest_ms. */
static void follow(const struct bf_endpoint *ep, redisContext *rc, const char *origin,
		   const char *id, unsigned long long seq, int digest_ms, const char *me,
		   struct measure *m)
{
	char state[64];
	struct event_base *base = event_base_new();
	struct sync_config cfg = { .endpoint = ep, .origin = me, .read_peers = true,
				   .digest_ms = digest_ms, .cursor_path = state };
	struct sync_handlers h = { .on_record = noop };
	struct timeval warm = { .tv_sec = 2 }, tv = { .tv_sec = RUN_S };
	struct sync_client *sc;
	struct sync_stats st0, st1;
	struct event *t;
	double rc0, cmd0, cpu0;
	FILE *f;

	snprintf(state, sizeof(state), "/tmp/bf-bench-digest-%d.state", getpid());
	f = fopen(state, "w");
	if (!f)
		exit(1);
	fprintf(f, "cursor bl %s %s %llu\n", origin, id, seq);
	fclose(f);
	sc = sync_client_new(base, &cfg, &h);
	if (!sc)
		exit(1);
	t = evtimer_new(base, stop, base);
	evtimer_add(t, &warm); /* connected, the small lists resynced */
	event_base_dispatch(base);
	sync_client_stats(sc, &st0);
	rc0 = redis_cpu_s(rc);
	cmd0 = digest_cmd_us(rc);
	cpu0 = bench_cpu_s();
	evtimer_add(t, &tv);
	event_base_dispatch(base);
	sync_client_stats(sc, &st1);
	m->rounds = (double)(st1.digests - st0.digests);
	m->lists = st1.peers * BF_KIND_MAX;
	m->redis_cpu_us = (redis_cpu_s(rc) - rc0) * 1e6;
	m->redis_cmd_us = digest_cmd_us(rc) - cmd0;
	m->client_cpu_us = (bench_cpu_s() - cpu0) * 1e6;
	if (st1.bad_logs || st1.resyncs != st0.resyncs || st1.digest_mismatches)
		fprintf(stderr, "bf-bench digest: the run resynced or found a mismatch\n");
	event_free(t);
	sync_client_free(sc);
	event_base_free(base);
	unlink(state);
	/* Gone from the fleet: the next run follows only the origin measured. */
	freeReplyObject(cmd(rc, "SREM bifrost:edges %s", me));
	freeReplyObject(cmd(rc, "DEL bifrost:lock:%s bifrost:edge:%s", me, me));
}

static void run(const struct bf_endpoint *ep, redisContext *rc, const char *origin,
		struct phase *ph)
{
	char id[64], me[32];
	unsigned long long seq;

	fill(rc, origin, ph->entries, id, sizeof(id), &seq);
	snprintf(me, sizeof(me), "%s-on", origin);
	follow(ep, rc, origin, id, seq, 1, me, &ph->on);
	snprintf(me, sizeof(me), "%s-off", origin);
	follow(ep, rc, origin, id, seq, 1000000000, me, &ph->off);
	freeReplyObject(cmd(rc, "SREM bifrost:edges %s", origin));
	freeReplyObject(cmd(rc, "DEL bifrost:bl:%s bifrost:log:bl:%s", origin, origin));
}

int bench_digest_main(int argc, char **argv)
{
	static const struct option lo[] = { { "redis", required_argument, NULL, 'r' },
					    { "entries", required_argument, NULL, 'n' },
					    { NULL, 0, NULL, 0 } };
	struct bf_endpoint ep;
	struct phase ph[2] = { { .entries = 10 }, { .entries = 1000000 } };
	char err[256];
	redisContext *rc;
	double ping_us, t0;
	int opt;

	while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (opt == 'r' && !bf_endpoint_parse(optarg, &ep, err, sizeof(err)))
			continue;
		if (opt == 'n' && atoi(optarg) > 0) {
			ph[1].entries = (unsigned)atoi(optarg);
			continue;
		}
		fprintf(stderr, "Usage: bf-bench digest --redis HOST:PORT [--entries N]\n");
		return 2;
	}
	if (!ep.host[0] || bf_endpoint_credentials(&ep, NULL, err, sizeof(err)) ||
	    !(rc = bf_redis_connect(&ep, 5000, err, sizeof(err)))) {
		fprintf(stderr, "bf-bench digest: %s\n", ep.host[0] ? err : "--redis is required");
		return 2;
	}
	bf_log_init("bf-bench", BF_LOG_ERROR);
	freeReplyObject(cmd(rc, "FUNCTION LOAD REPLACE %s", bf_bus_library()));
	t0 = mono_s();
	for (int i = 0; i < 2000; i++)
		freeReplyObject(cmd(rc, "PING"));
	ping_us = (mono_s() - t0) * 1e6 / 2000;
	for (int i = 0; i < 2; i++)
		run(&ep, rc, i ? "dgbig" : "dgsmall", &ph[i]);
	printf("{\"ping_us\":%.1f,\"seconds\":%d,\"phases\":[", ping_us, RUN_S);
	for (int i = 0; i < 2; i++) {
		const struct measure *on = &ph[i].on, *off = &ph[i].off;
		double n = on->rounds > 0 ? on->rounds : 1;

		printf("%s{\"entries\":%u,\"lists\":%u,\"rounds\":%.0f,"
		       "\"redis_cmd_us_per_round\":%.1f,\"redis_cpu_us_per_round\":%.1f,"
		       "\"client_cpu_us_per_round\":%.1f}",
		       i ? "," : "", ph[i].entries, on->lists, on->rounds,
		       (on->redis_cmd_us - off->redis_cmd_us) / n,
		       (on->redis_cpu_us - off->redis_cpu_us) / n,
		       (on->client_cpu_us - off->client_cpu_us) / n);
	}
	printf("]}\n");
	redisFree(rc);
	return 0;
}
