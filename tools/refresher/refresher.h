/* refresher.h - what the refresher's main.c, query.c and store.c share. */
#ifndef BF_REFRESHER_H
#define BF_REFRESHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "a2s.h"
#include "addr.h"
#include "endpoint.h"
#include "schema.h"

#define PROG "bifrost-a2s-refresher"
#define MAX_TARGETS 4096   /* A2S connections handled; more are logged and left out */

enum { K_INFO, K_PLAYER, K_RULES, K_MAX };

struct opts {
	struct bf_endpoint redis;
	char where[BF_ENDPOINT_STRLEN];  /* the endpoint as logs show it */
	char prefix[BF_PREFIX_MAX + 1];  /* of every key, "bifrost:" unless --prefix */
	char id[BF_ORIGIN_MAX + 1];
	uint64_t interval_ms, timeout_ms, ttl_ms;
	bool target_bind, player, rules, once, json;
	int verbose;
};

/* One A2S connection and this round's query of it. */
struct target {
	struct bf_conn c;
	uint32_t ip;   /* where the query goes (machine or bind address) */
	uint16_t port;
	bool won;      /* the lock is ours this round */
	/* the query */
	int fd, kind, nkinds, rounds;
	bool with;
	uint32_t ch;
	uint64_t deadline;
	struct a2s_asm as;
	uint8_t *as_buf;
	uint8_t *reply[K_MAX];
	size_t reply_len[K_MAX];
	const char *fail;   /* "timeout", "garbage", "unreachable"; NULL = fine so far */
	const char *detail; /* static text */
	int fail_kind;
};

struct stats {
	unsigned long long rounds, servers, locked, refreshed, failed, timeouts, garbage,
		unreachable, partial, stored, redis_errors, bad_conns;
};

/* ---- query.c ---- */

/* Queries every target this refresher won; each step waits at most o->timeout_ms. */
void run_queries(struct target *ts, size_t n, const struct opts *o);
/* Counts the round's outcomes into st and logs each server whose state changed. */
void tally(struct target *ts, size_t n, const struct opts *o, struct stats *st);
/* Frees the round's replies and closes what is still open. */
void free_round(struct target *ts, size_t n);

/* ---- store.c: each 0, or -EIO when Redis failed (the context is then unusable) ---- */

struct redisContext;
/* Reads every A2S-enabled UDP connection into ts[0..*n). */
int load_targets(struct redisContext *rc, const struct opts *o, struct target *ts, size_t *n,
		 struct stats *st);
/* Takes each target's lock for this interval: t->won for those this refresher got. */
int take_locks(struct redisContext *rc, const struct opts *o, struct target *ts, size_t n,
	       struct stats *st);
/* Stores each refreshed reply and announces its key. */
int store(struct redisContext *rc, const struct opts *o, struct target *ts, size_t n,
	  struct stats *st);

#endif
