/* resync.c - a full resync of one followed log from its ZSET: the log's
 * head first (what the ZSET holds is read from there on), then ZSCAN in
 * pages, every live member handed to the owner as an add, and the owner told
 * where the resync begins and ends (what it did not re-announce is gone). */
#include <errno.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bounded.h"
#include "client_int.h"
#include "clock.h"
#include "log.h"

struct resync {
	struct sync_client *c;
	struct stream *s; /* stable: streams only grow; index kept below */
	unsigned idx;
	char last_id[SYNC_ID_MAX];
	uint64_t last_seq;
	char zkey[BF_KEY_MAX];
};

static void resync_scan(redisAsyncContext *ac, void *reply, void *priv);

/* r: Redis's answer when it refused or answered nonsense, NULL when the
 * connection went away (the next connect starts over). */
static void resync_failed(struct resync *rs, const redisReply *r)
{
	struct sync_client *c = rs->c;
	struct stream *s = &c->streams[rs->idx];

	s->resyncing = false;
	s->id[0] = '\0';
	if (r)
		reader_stream_fault(c, s, r->type == REDIS_REPLY_ERROR ? r->str
								: "not a ZSET or a stream");
	free(rs);
}

/* read: the ZSET was read; else it was refused unread (over its cap): what we hold from
 * it stays, and its log is followed from its head on. */
static void resync_finish(struct resync *rs, bool read)
{
	struct sync_client *c = rs->c;
	struct stream *s = &c->streams[rs->idx];

	if (read && c->h.on_resync_end)
		c->h.on_resync_end(c->h.ctx, s->kind, s->origin);
	snprintf(s->id, sizeof(s->id), "%s", rs->last_id);
	s->seq = rs->last_seq;
	s->resyncing = false;
	c->st.resyncs += read;
	reader_stream_ok(c, s);
	reader_cursors_changed(c);
	pr_info("resync of %s:%s %s at seq %llu", bf_kind_name(s->kind), s->origin,
		read ? "done" : "skipped, following its log", (unsigned long long)s->seq);
	free(rs);
	reader_wake(c);
	reader_next(c);
}

static void resync_scan(redisAsyncContext *ac, void *reply, void *priv)
{
	struct resync *rs = priv;
	const redisReply *r = reply;
	struct sync_client *c = rs->c;
	struct stream *s = &c->streams[rs->idx];
	int64_t now = bf_wall_ms();
	const redisReply *items;
	char cursor[32];
	bool last, unsent;

	if (!ac->data || !r || r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
	    r->element[0]->type != REDIS_REPLY_STRING || r->element[0]->len >= sizeof(cursor) ||
	    r->element[1]->type != REDIS_REPLY_ARRAY) {
		/* Lost the connection, a refusal (WRONGTYPE: the ZSET is something
		 * else) or a strange reply: tried again later, with backoff. */
		resync_failed(rs, r && ac->data ? r : NULL);
		return;
	}
	memcpy(cursor, r->element[0]->str, r->element[0]->len);
	cursor[r->element[0]->len] = '\0';
	/* The next page is asked for before this one is applied: Redis reads it
	 * while we apply (its reply is read only after this callback returns). */
	last = !strcmp(cursor, "0");
	unsent = !last && sync_read_zpage(&c->cmd, resync_scan, rs, rs->zkey, cursor);
	if (!last && !unsent)
		sync_link_send_now(&c->cmd);
	items = r->element[1];
	for (size_t i = 0; i + 1 < items->elements; i += 2) {
		const redisReply *m = items->element[i], *sc = items->element[i + 1];
		struct bf_log_rec rec = { .op = BF_OP_ADD };
		int rc;

		if (m->type != REDIS_REPLY_STRING || sc->type != REDIS_REPLY_STRING ||
		    bf_entry_parse(s->kind, m->str, m->len, &rec.entry)) {
			c->st.bad_records++;
			pr_warn("resync %s: bad member skipped", rs->zkey);
			continue;
		}
		rc = bf_exp_parse(sc->str, sc->len, now, &rec.exp_ms);
		if (rc == -ESTALE) {
			c->st.stale++;
			continue;
		}
		if (rc) {
			c->st.bad_records++;
			pr_warn("resync %s: bad score for %.*s skipped", rs->zkey, (int)m->len, m->str);
			continue;
		}
		memcpy(rec.why, "resync", sizeof("resync"));
		c->h.on_record(c->h.ctx, s->origin, &rec);
	}
	sync_page_dropped(c, bf_kind_name(s->kind), rs->zkey, r, BF_ENTRY_MAX);
	if (c->h.on_batch_end)
		c->h.on_batch_end(c->h.ctx);
	if (last)
		resync_finish(rs, true);
	else if (unsent) /* not even queued: begun again later, as after a lost link */
		resync_failed(rs, NULL);
}

static void resync_head(redisAsyncContext *ac, void *reply, void *priv)
{
	struct resync *rs = priv;
	const redisReply *r = reply;
	struct sync_client *c = rs->c;
	struct stream *s = &c->streams[rs->idx];
	int rc = ac->data ? sync_head_parse(c, r, bf_kind_name(s->kind), rs->zkey,
					    sync_cap_origin(c, s->kind), rs->last_id,
					    sizeof(rs->last_id), &rs->last_seq) : -EINVAL;

	if (rc == -EINVAL) {
		resync_failed(rs, r && ac->data ? r : NULL);
		return;
	}
	if (rc) { /* the ZSET holds more than its cap: not read */
		resync_finish(rs, false);
		return;
	}
	if (c->h.on_resync_begin)
		c->h.on_resync_begin(c->h.ctx, s->kind, s->origin);
	if (sync_read_zpage(&c->cmd, resync_scan, rs, rs->zkey, "0"))
		resync_failed(rs, NULL);
}

void reader_resync(struct sync_client *c, struct stream *s, const char *why)
{
	struct resync *rs;

	if (s->resyncing)
		return;
	if (!sync_link_up(&c->cmd)) {
		/* Started when the link is up (a stream without a cursor is
		 * resynced by the next peer refresh, or the next tick): the
		 * first reason is the one the log gives. */
		if (!s->resync_owed)
			s->resync_owed = why;
		return;
	}
	rs = calloc(1, sizeof(*rs));
	if (!rs)
		return;
	if (s->resync_owed) {
		why = s->resync_owed;
		s->resync_owed = NULL;
	}
	pr_info("resync of %s:%s from its ZSET (%s)", bf_kind_name(s->kind), s->origin, why);
	rs->c = c;
	rs->idx = (unsigned)(s - c->streams);
	bf_key_list(rs->zkey, sizeof(rs->zkey), c->prefix, s->kind, s->origin);
	s->resyncing = true;
	/* The log's head first: what the ZSET already holds is read from there on. */
	sync_read_head(&c->cmd, resync_head, rs, s->key, rs->zkey);
}

