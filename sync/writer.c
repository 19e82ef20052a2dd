/* writer.c - this origin's own changes to Redis: a ring buffer while Redis
 * is away or refuses, and batches written in order by the bus's Lua
 * (bifrost_batch: ZADD/ZREM + XADD with the next seq + PUBLISH each), so a
 * refused batch is sent again whole and the log never gets a gap. */
#include <errno.h>
#include <event2/event.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus_script.h"
#include "client_int.h"
#include "clock.h"
#include "log.h"

#define WRITE_BATCH 256          /* records per call: a burst costs few round trips */
#define WRITE_RETRY_MIN_MS 100
#define WRITE_RETRY_MAX_MS 10000
#define PRUNE_LIMIT 256          /* expired members per list per prune: bounded work */

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

static struct pending *queued(struct sync_client *c, unsigned i)
{
	return &c->q[(c->q_head + i) % c->cfg.max_pending];
}

/* Drops the first n queued writes (written, or refused for good). */
static void dequeue(struct sync_client *c, unsigned n)
{
	c->q_head = (c->q_head + n) % c->cfg.max_pending;
	c->q_len -= n;
}

/* Redis refused the whole batch (out of memory, a busy script, the script
 * cache flushed): nothing was written; it goes again, whole and first, after
 * a backoff, so the order of our own writes holds. */
static void batch_refused(struct sync_client *c, const char *err)
{
	struct timeval tv;

	c->st.write_retries++;
	if (!strncmp(err, "NOSCRIPT", 8)) {
		/* Redis restarted or SCRIPT FLUSH: load the script again, now. */
		c->script_sha[0] = '\0';
		writer_load_script(c);
		return;
	}
	c->write_backoff_ms = c->write_backoff_ms ? c->write_backoff_ms * 2 : WRITE_RETRY_MIN_MS;
	if (c->write_backoff_ms > WRITE_RETRY_MAX_MS)
		c->write_backoff_ms = WRITE_RETRY_MAX_MS;
	bf_log_state_hit(&c->write_refused, BF_LOG_ERROR,
			 "Redis refused our writes (%s): %u kept queued, sent again with "
			 "backoff up to %d s", err, c->q_len, WRITE_RETRY_MAX_MS / 1000);
	tv = (struct timeval){ .tv_sec = c->write_backoff_ms / 1000,
			       .tv_usec = (c->write_backoff_ms % 1000) * 1000 };
	evtimer_add(c->write_timer, &tv);
}

static void batch_done(redisAsyncContext *ac, void *reply, void *priv)
{
	struct sync_client *c = sync_link_owner(ac);
	const redisReply *r = reply;
	unsigned n = (unsigned)(uintptr_t)priv;

	if (!c || !r)
		return; /* disconnected: writer_down sends the batch again after the reconnect */
	c->inflight = 0;
	if (r->type == REDIS_REPLY_ERROR) {
		batch_refused(c, r->str);
		return;
	}
	if (r->type != REDIS_REPLY_ARRAY || r->elements != n) {
		batch_refused(c, "an answer of the wrong shape");
		return;
	}
	c->write_backoff_ms = 0;
	for (unsigned i = 0; i < n; i++) {
		const redisReply *e = r->element[i];

		if (e->type == REDIS_REPLY_INTEGER && queued(c, i)->prune) {
			c->st.pruned += (uint64_t)(e->integer > 0 ? e->integer : 0);
			continue;
		}
		if (e->type == REDIS_REPLY_INTEGER) {
			c->st.written++;
			continue;
		}
		/* This record alone was refused (its key holds another type, the
		 * ACL forbids it): sending it again would not help. */
		c->st.write_errors++;
		bf_log_state_hit(&c->record_refused, BF_LOG_ERROR,
				 "Redis refused a write to our %s log (%s); it is dropped, the "
				 "others are written; fix the key and the edge re-asserts its "
				 "entries at its next reconnect",
				 bf_kind_name(queued(c, i)->e.kind),
				 e->type == REDIS_REPLY_ERROR ? e->str : "unexpected answer");
	}
	dequeue(c, n);
	flush(c);
}

/* One call of the batch writer for up to WRITE_BATCH queued writes, in
 * their order: EVALSHA of the script loaded at connect (EVAL of its text if
 * Redis would not load it). */
static void flush(struct sync_client *c)
{
	enum { KEYLEN = BF_KEY_MAX, ELEN = BF_ENTRY_MAX + 1, XLEN = 24 };
	const char **argv;
	size_t *lens;
	char *buf, retention[24], maxlen[16], numkeys[16];
	unsigned n, argc, i;

	if (!c->writable || !sync_link_up(&c->cmd) || c->inflight || !c->q_len ||
	    evtimer_pending(c->write_timer, NULL))
		return;
	n = c->q_len < WRITE_BATCH ? c->q_len : WRITE_BATCH;
	argc = 5 + 5 * n;
	argv = calloc(argc, sizeof(*argv));
	lens = calloc(argc, sizeof(*lens));
	buf = malloc((size_t)n * (KEYLEN + ELEN + XLEN));
	if (!argv || !lens || !buf)
		goto out;
	argv[0] = c->script_sha[0] ? "EVALSHA" : "EVAL";
	argv[1] = c->script_sha[0] ? c->script_sha : bf_bus_eval_script();
	snprintf(numkeys, sizeof(numkeys), "%u", n);
	argv[2] = numkeys;
	snprintf(retention, sizeof(retention), "%lld", (long long)c->cfg.retention_ms);
	argv[3 + n] = retention;
	snprintf(maxlen, sizeof(maxlen), "%u", c->cfg.log_maxlen);
	argv[4 + n] = maxlen;
	for (i = 0; i < n; i++) {
		const struct pending *p = queued(c, i);
		char *key = buf + (size_t)i * (KEYLEN + ELEN + XLEN), *entry = key + KEYLEN,
		     *exp = entry + ELEN;

		bf_key_list(key, KEYLEN, c->prefix, p->e.kind, c->origin);
		if (p->prune) {
			snprintf(entry, ELEN, "-");
			snprintf(exp, XLEN, "%d", PRUNE_LIMIT);
		} else {
			bf_entry_format(&p->e, entry, ELEN);
			if (p->op == BF_OP_ADD)
				bf_exp_format(p->exp_ms, exp, XLEN);
			else
				snprintf(exp, XLEN, "0");
		}
		argv[3 + i] = key;
		argv[5 + n + 4 * i] = p->prune ? "prune" : p->op == BF_OP_ADD ? "add" : "del";
		argv[6 + n + 4 * i] = entry;
		argv[7 + n + 4 * i] = exp;
		argv[8 + n + 4 * i] = p->why;
	}
	if (!argv[1])
		goto out;
	for (i = 0; i < argc; i++)
		lens[i] = strlen(argv[i]);
	if (!sync_link_cmd_argv(&c->cmd, 0, batch_done, (void *)(uintptr_t)n, (int)argc, argv,
				lens))
		c->inflight = n;
out:
	free(argv);
	free(lens);
	free(buf);
}

static void write_timer(evutil_socket_t fd, short what, void *arg)
{
	flush(arg);
}

int sync_client_write(struct sync_client *c, enum bf_op op, const struct bf_entry *e,
		      int64_t exp_ms, const char *why)
{
	struct pending *p;

	if (c->q_len == c->cfg.max_pending) {
		c->st.dropped++;
		return -ENOBUFS;
	}
	p = queued(c, c->q_len);
	p->op = op;
	p->prune = false;
	p->e = *e;
	p->exp_ms = exp_ms;
	snprintf(p->why, sizeof(p->why), "%s", why && *why ? why : "-");
	c->q_len++;
	flush(c);
	return 0;
}

static void script_loaded(redisAsyncContext *ac, void *reply, void *priv)
{
	struct sync_client *c = sync_link_owner(ac);
	const redisReply *r = reply;

	if (!c || !r)
		return;
	if (r->type == REDIS_REPLY_STRING && r->len < sizeof(c->script_sha)) {
		memcpy(c->script_sha, r->str, r->len);
		c->script_sha[r->len] = '\0';
	} else if (!c->script_warned) {
		/* Without SCRIPT LOAD every batch carries the script's text. */
		c->script_warned = true;
		pr_warn("SCRIPT LOAD refused (%s): writing with EVAL",
			r->type == REDIS_REPLY_ERROR ? r->str : "unexpected answer");
	}
	flush(c);
}

void writer_load_script(struct sync_client *c)
{
	const char *s = bf_bus_eval_script();

	if (s)
		sync_link_cmd(&c->cmd, script_loaded, NULL, "SCRIPT LOAD %s", s);
}

/* Peers find an edge in <prefix>edges: said once if Redis refuses it. */
static void joined(redisAsyncContext *ac, void *reply, void *priv)
{
	struct sync_client *c = sync_link_owner(ac);
	const redisReply *r = reply;

	if (c && r && r->type == REDIS_REPLY_ERROR && !c->join_warned) {
		c->join_warned = true;
		pr_err("Redis refused to add %s to %sedges (%s): the other edges will not follow "
		       "this one's entries; check its ACL user (bifrostctl acl edge %s)",
		       c->origin, c->prefix, r->str, c->origin);
	}
}

/* The command link is up and this instance may write (instance.c): load the
 * script, join the edges, re-assert, write what waited. */
void writer_start(struct sync_client *c)
{
	c->writable = true;
	c->inflight = 0;
	writer_load_script(c);
	if (c->cfg.read_peers) {
		char key[BF_KEY_MAX];

		bf_key_edges(key, sizeof(key), c->prefix);
		sync_link_cmd(&c->cmd, joined, NULL, "SADD %s %s", key, c->origin);
	}
	if (c->h.on_connected)
		c->h.on_connected(c->h.ctx);
}

void writer_stop(struct sync_client *c)
{
	c->writable = false;
	c->inflight = 0; /* a batch without its answer goes again */
	c->script_sha[0] = '\0';
}

/* Our lists' expired members leave Redis (bifrost.lua prune: a `del` record
 * each, up to PRUNE_LIMIT a list a time), queued behind our writes so that
 * the order holds. Nothing else removes them: every peer expires its copy,
 * but the ZSETs would grow for ever and every resync would scan the dead. */
static void prune_due(struct sync_client *c)
{
	int64_t now = bf_mono_ms();

	if (!c->writable || now < c->prune_at)
		return;
	c->prune_at = now + c->cfg.prune_ms;
	for (int k = 0; k < BF_KIND_MAX; k++) {
		struct pending *p;

		if (c->q_len >= c->cfg.max_pending - 1)
			return; /* writes first: the next tick prunes */
		p = queued(c, c->q_len);
		memset(p, 0, sizeof(*p));
		p->prune = true;
		p->e.kind = (enum bf_kind)k;
		snprintf(p->why, sizeof(p->why), "expired");
		c->q_len++;
	}
	flush(c);
}

void writer_tick(struct sync_client *c)
{
	prune_due(c);
	bf_log_state_tick(&c->write_refused, "Redis refusing our writes");
	bf_log_state_tick(&c->record_refused, "Redis refusing some of our writes");
}

int writer_init(struct sync_client *c)
{
	c->write_timer = evtimer_new(c->base, write_timer, c);
	return c->write_timer ? 0 : -ENOMEM;
}

void writer_free(struct sync_client *c)
{
	if (c->write_timer)
		event_free(c->write_timer);
}
