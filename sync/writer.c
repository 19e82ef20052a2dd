/* writer.c - this origin's own changes to Redis: a ring buffer while Redis
 * is away, MULTI (ZADD/ZREM + XADD + PUBLISH) ... EXEC in batches, and the
 * logs' seq learned again after every connect. */
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

#define MAX_INFLIGHT 1024 /* own writes sent and not yet acknowledged */
#define WRITE_BATCH 64    /* writes per MULTI/EXEC: a burst costs few round trips */

static void flush(struct sync_client *c);

const redisReply *sync_field(const redisReply *fields, const char *name)
{
	if (!fields || fields->type != REDIS_REPLY_ARRAY)
		return NULL;
	for (size_t i = 0; i + 1 < fields->elements; i += 2) {
		const redisReply *f = fields->element[i];

		if (f->type == REDIS_REPLY_STRING && f->len == strlen(name) &&
		    !memcmp(f->str, name, f->len))
			return fields->element[i + 1];
	}
	return NULL;
}

uint64_t sync_field_seq(const redisReply *fields)
{
	const redisReply *s = sync_field(fields, "seq");
	char buf[24];
	uint64_t seq;

	if (!s || s->type != REDIS_REPLY_STRING || s->len >= sizeof(buf))
		return 0;
	memcpy(buf, s->str, s->len);
	buf[s->len] = '\0';
	return bf_parse_u64(buf, UINT64_MAX / 2, &seq) ? 0 : seq;
}

static void seq_loaded(redisAsyncContext *ac, void *reply, void *priv)
{
	struct sync_client *c = sync_link_owner(ac);
	const redisReply *r = reply;
	enum bf_kind kind = (enum bf_kind)(uintptr_t)priv;
	uint64_t seq = 0;

	if (!c || !r)
		return;
	/* [[id, [f, v, ...]]] or [] */
	if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
	    r->element[0]->type == REDIS_REPLY_ARRAY && r->element[0]->elements == 2)
		seq = sync_field_seq(r->element[0]->element[1]);
	c->seq[kind] = seq;
	if (--c->seq_loading)
		return;
	c->writable = true;
	if (c->cfg.read_peers) {
		char key[BF_KEY_MAX];

		bf_key_edges(key, sizeof(key), c->prefix);
		redisAsyncCommand(c->cmd.ac, NULL, NULL, "SADD %s %s", key, c->origin);
	}
	if (c->h.on_connected)
		c->h.on_connected(c->h.ctx);
	flush(c);
}

/* EXEC of a batch of `priv` writes: they leave the queue, written, or
 * counted and logged once when Redis refused the transaction (EXECABORT). */
static void exec_done(redisAsyncContext *ac, void *reply, void *priv)
{
	struct sync_client *c = sync_link_owner(ac);
	const redisReply *r = reply;
	unsigned n = (unsigned)(uintptr_t)priv;

	if (!c || !r)
		return; /* disconnected: writer_down puts the in-flight writes back */
	if (r->type != REDIS_REPLY_ARRAY) {
		struct pending *p = &c->q[c->q_head];
		char e[BF_ENTRY_MAX + 1];

		bf_entry_format(&p->e, e, sizeof(e));
		c->st.write_errors += n;
		pr_err("redis refused a write of %u entries (the first %s %s): %s", n,
		       bf_kind_name(p->e.kind), e,
		       r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
	} else {
		c->st.written += n;
	}
	c->q_head = (c->q_head + n) % c->cfg.max_pending;
	c->q_len -= n;
	c->inflight -= n;
	flush(c);
}

/* ZADD/ZREM + XADD + PUBLISH of one write, inside the caller's MULTI. */
static void send_one(struct sync_client *c, const struct pending *p)
{
	char key[BF_KEY_MAX], log[BF_KEY_MAX], evt[BF_KEY_MAX], entry[BF_ENTRY_MAX + 1];
	char exp[24], seq[24], minid[32];
	uint8_t frame[BF_EVT_MAX_BYTES];
	struct bf_evt ev = { .type = BF_EVT_ENTRY };
	enum bf_kind k = p->e.kind;
	int n;

	c->seq[k]++;
	bf_key_list(key, sizeof(key), c->prefix, k, c->origin);
	bf_key_log(log, sizeof(log), c->prefix, k, c->origin);
	bf_key_evt(evt, sizeof(evt), c->prefix, c->origin);
	bf_entry_format(&p->e, entry, sizeof(entry));
	bf_exp_format(p->exp_ms, exp, sizeof(exp));
	snprintf(seq, sizeof(seq), "%llu", (unsigned long long)c->seq[k]);
	snprintf(minid, sizeof(minid), "%lld-0", (long long)(bf_wall_ms() - c->cfg.retention_ms));

	snprintf(ev.origin, sizeof(ev.origin), "%s", c->origin);
	ev.rec.op = p->op;
	ev.rec.entry = p->e;
	ev.rec.exp_ms = p->op == BF_OP_ADD ? p->exp_ms : BF_EXP_INF;
	ev.rec.seq = c->seq[k];
	snprintf(ev.rec.why, sizeof(ev.rec.why), "%s", p->why);
	n = bf_evt_encode(&ev, frame, sizeof(frame));

	if (p->op == BF_OP_ADD) {
		redisAsyncCommand(c->cmd.ac, NULL, NULL, "ZADD %s %s %s", key, exp, entry);
		redisAsyncCommand(c->cmd.ac, NULL, NULL,
				  "XADD %s MINID ~ %s * op add entry %s exp %s seq %s why %s", log,
				  minid, entry, exp, seq, p->why);
	} else {
		redisAsyncCommand(c->cmd.ac, NULL, NULL, "ZREM %s %s", key, entry);
		redisAsyncCommand(c->cmd.ac, NULL, NULL,
				  "XADD %s MINID ~ %s * op del entry %s seq %s why %s", log, minid,
				  entry, seq, p->why);
	}
	if (n > 0)
		redisAsyncCommand(c->cmd.ac, NULL, NULL, "PUBLISH %s %b", evt, frame, (size_t)n);
}

/* Sends what waits, in transactions of up to WRITE_BATCH writes: one write
 * alone goes at once (no waiting to fill a batch); a burst (a flood of new
 * sources banned, a reconnect's re-assertion) costs 64 times fewer round
 * trips and transactions than one each. */
static void flush(struct sync_client *c)
{
	while (c->writable && sync_link_up(&c->cmd) && c->inflight < c->q_len &&
	       c->inflight < MAX_INFLIGHT) {
		unsigned n = c->q_len - c->inflight;

		if (n > WRITE_BATCH)
			n = WRITE_BATCH;
		redisAsyncCommand(c->cmd.ac, NULL, NULL, "MULTI");
		for (unsigned i = 0; i < n; i++)
			send_one(c, &c->q[(c->q_head + c->inflight + i) % c->cfg.max_pending]);
		redisAsyncCommand(c->cmd.ac, exec_done, (void *)(uintptr_t)n, "EXEC");
		c->inflight += n;
	}
}

int sync_client_write(struct sync_client *c, enum bf_op op, const struct bf_entry *e,
		      int64_t exp_ms, const char *why)
{
	struct pending *p;

	if (c->q_len == c->cfg.max_pending) {
		c->st.dropped++;
		return -ENOBUFS;
	}
	p = &c->q[(c->q_head + c->q_len) % c->cfg.max_pending];
	p->op = op;
	p->e = *e;
	p->exp_ms = exp_ms;
	snprintf(p->why, sizeof(p->why), "%s", why && *why ? why : "-");
	c->q_len++;
	flush(c);
	return 0;
}

void writer_up(struct sync_client *c)
{
	/* Redis may have restarted empty: learn where our logs stand. */
	c->writable = false;
	c->seq_loading = BF_KIND_MAX;
	for (int kk = 0; kk < BF_KIND_MAX; kk++) {
		char log[BF_KEY_MAX];

		bf_key_log(log, sizeof(log), c->prefix, (enum bf_kind)kk, c->origin);
		sync_read_head(c->cmd.ac, seq_loaded, (void *)(uintptr_t)kk, log, NULL);
	}
}

void writer_down(struct sync_client *c)
{
	c->writable = false;
	c->inflight = 0; /* unacknowledged writes go again after the reconnect */
}
