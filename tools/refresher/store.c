/* store.c - bifrost-a2s-refresher's Redis: connections to query, locks, stored replies. */
#include <errno.h>
#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "refresher.h"

#define MAX_FIELDS 32      /* fields read from one connection hash */

static const enum bf_a2s_key key_kind[K_MAX] = { BF_A2S_INFO, BF_A2S_PLAYER, BF_A2S_RULES };

/* Adds the A2S connection of one hash to ts. */
static void take_conn(const redisReply *k, const redisReply *h, const struct opts *o,
		      struct target *ts, size_t *n, struct stats *st)
{
	struct bf_field f[MAX_FIELDS];
	struct target *t = &ts[*n];
	const char *what = "not a hash";
	size_t nf = 0;

	memset(t, 0, sizeof(*t));
	if (!h || h->type != REDIS_REPLY_ARRAY || h->elements > 2 * MAX_FIELDS ||
	    bf_conn_parse_key(k->str, k->len, o->prefix, &t->c)) {
		st->bad_conns++;
		return;
	}
	for (size_t i = 0; i + 1 < h->elements; i += 2)
		if (h->element[i]->type == REDIS_REPLY_STRING &&
		    h->element[i + 1]->type == REDIS_REPLY_STRING)
			f[nf++] = (struct bf_field){ h->element[i]->str, h->element[i]->len,
						     h->element[i + 1]->str, h->element[i + 1]->len };
	if (bf_conn_parse_fields(f, nf, &t->c, &what)) {
		/* The edges log invalid hashes; here it is only counted. */
		pr_debug("%.*s: %s", (int)k->len, k->str, what);
		st->bad_conns++;
		return;
	}
	if (!t->c.a2s)
		return;
	if (o->target_bind) {
		t->ip = t->c.bind_ip;
		t->port = t->c.bind_port;
	} else {
		t->ip = t->c.machine_ip;
		t->port = t->c.machine_port ? t->c.machine_port : t->c.bind_port;
	}
	(*n)++;
}

/* Reads every A2S-enabled UDP connection. 0 or -EIO (Redis failed). */
int load_targets(redisContext *rc, const struct opts *o, struct target *ts, size_t *n,
			struct stats *st)
{
	static bool warned;
	char cursor[32] = "0", match[BF_KEY_MAX];

	/* Every key bf_key_conn names for udp; main.c keeps glob characters out of the prefix. */
	snprintf(match, sizeof(match), "%sconn:udp:*", o->prefix);
	*n = 0;
	do {
		redisReply *r = redisCommand(rc, "SCAN %s MATCH %s COUNT 1000", cursor, match);
		const redisReply *keys;

		if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
		    r->element[0]->type != REDIS_REPLY_STRING || r->element[0]->len >= sizeof(cursor) ||
		    r->element[1]->type != REDIS_REPLY_ARRAY) {
			freeReplyObject(r);
			return -EIO;
		}
		snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
		keys = r->element[1];
		for (size_t i = 0; i < keys->elements; i++)
			if (keys->element[i]->type == REDIS_REPLY_STRING)
				redisAppendCommand(rc, "HGETALL %b", keys->element[i]->str,
						   keys->element[i]->len);
		for (size_t i = 0; i < keys->elements; i++) {
			redisReply *h = NULL;

			if (keys->element[i]->type != REDIS_REPLY_STRING)
				continue;
			if (redisGetReply(rc, (void **)&h) != REDIS_OK) {
				freeReplyObject(r);
				return -EIO;
			}
			if (*n < MAX_TARGETS)
				take_conn(keys->element[i], h, o, ts, n, st);
			else if (!warned) {
				warned = true;
				pr_warn("more than %d A2S connections: the rest are not refreshed",
					MAX_TARGETS);
			}
			freeReplyObject(h);
		}
		freeReplyObject(r);
	} while (strcmp(cursor, "0"));
	return 0;
}

/* SET ... NX PX for every target, pipelined: t->won for those this refresher got. The lock
 * lives 9/10 of an interval, so its owner's next round finds it gone and wins again,
 * while a refresher running out of phase finds it held. 0 or -EIO. */
int take_locks(redisContext *rc, const struct opts *o, struct target *ts, size_t n,
		      struct stats *st)
{
	uint64_t px = o->interval_ms * 9 / 10;

	for (size_t i = 0; i < n; i++) {
		char key[BF_KEY_MAX];

		bf_key_a2s(key, sizeof(key), o->prefix, BF_A2S_LOCK, ts[i].c.bind_ip,
			   ts[i].c.bind_port);
		redisAppendCommand(rc, "SET %s %s NX PX %llu", key, o->id,
				   (unsigned long long)(px ? px : 1));
	}
	for (size_t i = 0; i < n; i++) {
		redisReply *r = NULL;

		if (redisGetReply(rc, (void **)&r) != REDIS_OK)
			return -EIO;
		ts[i].won = r && r->type == REDIS_REPLY_STATUS;
		if (r && r->type == REDIS_REPLY_ERROR) {
			pr_warn("redis refused the lock: %s", r->str);
			st->redis_errors++;
		}
		st->locked += !ts[i].won;
		freeReplyObject(r);
	}
	return 0;
}

/* Stores each refreshed reply (SET key bytes PX ttl) and announces its key on the channel,
 * pipelined. 0 or -EIO. */
int store(redisContext *rc, const struct opts *o, struct target *ts, size_t n,
		 struct stats *st)
{
	char chan[BF_KEY_MAX];
	size_t sent = 0;

	bf_key_a2s_channel(chan, sizeof(chan), o->prefix);
	for (size_t i = 0; i < n; i++) {
		for (int k = 0; k < K_MAX; k++) {
			char key[BF_KEY_MAX];

			if (!ts[i].reply[k])
				continue;
			bf_key_a2s(key, sizeof(key), o->prefix, key_kind[k], ts[i].c.bind_ip,
				   ts[i].c.bind_port);
			redisAppendCommand(rc, "SET %s %b PX %llu", key, ts[i].reply[k],
					   ts[i].reply_len[k], (unsigned long long)o->ttl_ms);
			redisAppendCommand(rc, "PUBLISH %s %s", chan, key);
			sent++;
		}
	}
	for (size_t i = 0; i < sent; i++) {
		redisReply *set = NULL, *pub = NULL;
		int ok = redisGetReply(rc, (void **)&set) == REDIS_OK &&
			 redisGetReply(rc, (void **)&pub) == REDIS_OK;

		if (!ok) {
			freeReplyObject(set);
			return -EIO;
		}
		if (set && set->type == REDIS_REPLY_STATUS)
			st->stored++;
		else {
			st->redis_errors++;
			pr_warn("redis refused a cache write: %s",
				set && set->type == REDIS_REPLY_ERROR ? set->str : "unexpected reply");
		}
		freeReplyObject(set);
		freeReplyObject(pub);
	}
	return 0;
}
