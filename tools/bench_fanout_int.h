/* bench_fanout_int.h - what bf-bench fanout's run (bench_fanout.c) and its report
 * (bench_fanout_report.c) share: the run's state, its limits and its messages. */
#ifndef BF_BENCH_FANOUT_INT_H
#define BF_BENCH_FANOUT_INT_H

#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "endpoint.h"

struct event;
struct event_base;
struct sync_client;

/* Entries from 240.0.0.0/4 (reserved, never a real source): 240.0.i/256.i%256/32 is
 * record i (1..k), record 0 is written before the followers start (each finds it in its
 * resync: it follows the writer's log) and 240.1.0.0/32, PRIME, once every follower has
 * it: one that gets PRIME from its XREAD (seq > 0) has that log in its blocking read, not
 * only in its cursors (a read already blocked when the resync ended may lack it for up to
 * its BLOCK time). The records are timed only once every follower is primed. */
#define BULK_BASE 0xf0000000u
#define PRIME (BULK_BASE + 0x10000u)
#define MAX_RECORDS 65535u
#define MAX_FOLLOWERS 5000u
#define MAX_SERVERS 9 /* the primary and up to 8 replicas */
#define MAX_THREADS 8
#define WRITER "fanw"
#define FAN_USER "bf-fan"
#define TICK_MS 50      /* each loop's look at its followers */
#define START_BATCH 20  /* followers a loop starts per tick: no connect storm */
#define CTL_MS 5        /* the writer's loop: the run's phases */
#define SETTLE_S 5.0    /* with replicas: at most this long for reads to move to them */
#define PINGS 2000
#define REDIS_TIMEOUT_MS 5000

struct fan;

struct follower {
	struct fan *fan;
	struct sync_client *c;
	char origin[16];
	bool warm;       /* record 0 seen */
	bool primed;     /* PRIME seen in a log record (not a resync) */
	unsigned got;    /* records 1..k seen, each once */
	unsigned dup, early;
	double *lat_us;  /* [0..k]: write -> on_record, NAN until seen */
	/* at the end */
	bool links_up, on_replica;
	char why[32];
	/* from the priming record on: at the end minus then */
	uint64_t resyncs, gaps, digest_mismatches, disconnects, replica_fallbacks;
};

struct shard {
	struct fan *fan;
	pthread_t th;
	struct event_base *base;
	struct event *tick;
	unsigned lo, hi, made, failed;
	atomic_uint ready, primed, complete, on_replica, made_n, failed_n;
	atomic_uint counted; /* 1: its followers' counters taken as the baseline */
};

enum phase { P_CONNECT, P_WARM, P_READY, P_PRIME, P_WRITE, P_DRAIN, P_DONE };

struct fan {
	/* options */
	unsigned n, k, threads;
	int interval_ms, ready_s, drain_s;
	const char *prefix;
	struct bf_endpoint ep;                  /* the primary, as the admin */
	struct bf_endpoint fep;                 /* the primary, as FAN_USER */
	struct bf_endpoint rep[MAX_SERVERS - 1]; /* replicas, as FAN_USER */
	unsigned n_rep;
	redisContext *admin[MAX_SERVERS];       /* [0] the primary, then the replicas */

	/* shared with the follower loops */
	_Atomic uint64_t *t_write; /* [0..k] mono ns of each record's write, 0 = not yet */
	struct follower *f;
	struct shard sh[MAX_THREADS];
	unsigned started; /* threads running */
	atomic_bool stop;
	atomic_bool count; /* the followers' counters from now on */

	/* the writer's loop (this thread) */
	struct event_base *base;
	struct sync_client *w;
	struct event *ctl, *pace;
	enum phase phase;
	unsigned next;
	int write_errors;
	double t_start, t_ready_at, t_primed_at, deadline, t_write0, t_write1, t_end;
	unsigned rep_at_start;
	double cpu0, cpu1, rcpu0[MAX_SERVERS], rcpu1[MAX_SERVERS];
	const char *fail; /* why the run did not measure, NULL when it did */
	char fail_buf[256];
};

/* Our stderr (the library's goes to a file while the run lasts), and a line on it. */
extern FILE *fanout_say_f;
void fanout_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* bench_fanout_report.c: the library's log lines from tmp, but the refusals to join
 * <prefix>edges this bench causes (their count returned), a message many followers
 * logged once with how many times; and the run's JSON object (1 when a follower missed
 * a record). */
unsigned fanout_replay_log(FILE *tmp, const char *prefix);
int fanout_report(struct fan *fan, double *ping, size_t n_ping, double *ping_rep,
		  size_t n_ping_rep, unsigned joins_refused);

#endif
