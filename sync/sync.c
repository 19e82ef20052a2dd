/* sync.c - the Redis client of the fleet: connections, writes, catch-up. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <event2/event.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "sync.h"
#include "text.h"

#define MAX_INFLIGHT 1024 /* own writes sent and not yet acknowledged */
#define WRITE_BATCH 64    /* writes per MULTI/EXEC: a burst costs few round trips */
#define MAX_FIELDS 16
#define PEER_REFRESH_MS 1000 /* a new edge is followed within a second */
#define ID_MAX 48

enum conn_state { C_DOWN = 0, C_CONNECTING, C_UP };

struct conn {
	struct sync_client *c;
	const char *name;
	redisAsyncContext *ac;
	enum conn_state state;
	struct event *timer; /* connect timeout while connecting, backoff while down */
	int backoff_ms;
	void (*on_up)(struct conn *);
	void (*on_down)(struct conn *);
};

/* A peer's log we follow. */
struct stream {
	enum bf_kind kind;
	char origin[BF_ORIGIN_MAX + 1];
	char key[BF_KEY_MAX];
	char id[ID_MAX];  /* last ID consumed ("" = never read: resync first) */
	uint64_t seq;     /* seq of that record (0 = unknown) */
	bool resyncing;
};

struct pending {
	enum bf_op op;
	struct bf_entry e;
	int64_t exp_ms;
	char why[BF_WHY_MAX + 1];
};

struct sync_client {
	struct event_base *base;
	struct sync_config cfg;
	struct sync_handlers h;
	char prefix[BF_PREFIX_MAX + 1];
	char origin[BF_ORIGIN_MAX + 1];
	char host[128];
	char *state_path; /* our copy of cfg.cursor_path */
	struct conn cmd, rd, sub;
	int64_t frame_warned_ms;  /* last log line about a bad event frame */
	uint64_t frames_hushed;   /* bad frames not logged since then */

	struct pending *q; /* ring buffer of writes not yet acknowledged */
	unsigned q_head, q_len, inflight;
	uint64_t seq[BF_KIND_MAX];
	int seq_loading; /* XREVRANGEs outstanding after a connect */
	bool writable;   /* connected and seqs known */

	struct stream *streams;
	unsigned n_streams, cap_streams;
	bool reading;            /* an XREAD is outstanding */
	long long rd_id;         /* CLIENT ID of the stream-read connection */
	struct event *read_timer;
	int64_t peers_at;        /* last peer refresh (ms) */
	bool refreshing;

	struct event *cursor_timer;
	bool cursors_dirty;
	int64_t save_gap_ms;     /* wait between state saves (grows with their cost) */
	char conf_version[64];   /* last fleet config delivered */
	bool conf_loading;
	struct sync_stats st;
};

static int64_t sync_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t sync_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---------------------------------------------------------------- conns */

static void conn_start(struct conn *k);

static void conn_retry(struct conn *k)
{
	struct timeval tv = { .tv_sec = k->backoff_ms / 1000,
			      .tv_usec = (k->backoff_ms % 1000) * 1000 };

	k->state = C_DOWN;
	evtimer_add(k->timer, &tv);
	k->backoff_ms *= 2;
	if (k->backoff_ms > k->c->cfg.backoff_max_ms)
		k->backoff_ms = k->c->cfg.backoff_max_ms;
}

static void on_connect(const redisAsyncContext *ac, int status)
{
	struct conn *k = ac->data;

	if (!k)
		return;
	evtimer_del(k->timer);
	if (status != REDIS_OK) {
		/* hiredis frees the context after this callback. */
		k->ac = NULL;
		k->c->st.connect_failures++;
		pr_debug("redis %s:%d (%s): connect failed: %s", k->c->host, k->c->cfg.port, k->name,
			 ac->errstr);
		conn_retry(k);
		return;
	}
	k->state = C_UP;
	k->backoff_ms = k->c->cfg.backoff_min_ms;
	k->c->st.connects++;
	pr_info("redis %s:%d (%s): connected", k->c->host, k->c->cfg.port, k->name);
	k->on_up(k);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
	struct conn *k = ac->data;

	if (!k)
		return;
	k->ac = NULL;
	k->c->st.disconnects++;
	pr_warn("redis %s:%d (%s): connection lost (%s); the data plane keeps its tables, "
		"retrying",
		k->c->host, k->c->cfg.port, k->name, status == REDIS_OK ? "closed" : ac->errstr);
	k->on_down(k);
	conn_retry(k);
}

static void conn_timer(evutil_socket_t fd, short what, void *arg)
{
	struct conn *k = arg;

	if (k->state == C_CONNECTING) {
		redisAsyncContext *ac = k->ac;

		/* hiredis 0.14 has no connect timeout: ours gives up here. */
		pr_debug("redis %s:%d (%s): no connection within %d ms", k->c->host, k->c->cfg.port,
			 k->name, k->c->cfg.connect_timeout_ms);
		k->c->st.connect_failures++;
		k->ac = NULL;
		ac->data = NULL;
		redisAsyncFree(ac);
		conn_retry(k);
	} else if (k->state == C_DOWN) {
		conn_start(k);
	}
}

static void conn_start(struct conn *k)
{
	struct timeval tv = { .tv_sec = k->c->cfg.connect_timeout_ms / 1000,
			      .tv_usec = (k->c->cfg.connect_timeout_ms % 1000) * 1000 };
	redisAsyncContext *ac = redisAsyncConnect(k->c->host, k->c->cfg.port);

	if (!ac || ac->err) {
		pr_debug("redis %s (%s): %s", k->c->host, k->name, ac ? ac->errstr : "out of memory");
		if (ac)
			redisAsyncFree(ac);
		k->c->st.connect_failures++;
		conn_retry(k);
		return;
	}
	ac->data = k;
	redisLibeventAttach(ac, k->c->base);
	redisAsyncSetConnectCallback(ac, on_connect);
	redisAsyncSetDisconnectCallback(ac, on_disconnect);
	k->ac = ac;
	k->state = C_CONNECTING;
	evtimer_add(k->timer, &tv);
}

static int conn_init(struct sync_client *c, struct conn *k, const char *name,
		     void (*up)(struct conn *), void (*down)(struct conn *))
{
	k->c = c;
	k->name = name;
	k->on_up = up;
	k->on_down = down;
	k->backoff_ms = c->cfg.backoff_min_ms;
	k->timer = evtimer_new(c->base, conn_timer, k);
	return k->timer ? 0 : -ENOMEM;
}

static void conn_close(struct conn *k)
{
	if (k->ac) {
		k->ac->data = NULL;
		redisAsyncFree(k->ac);
		k->ac = NULL;
	}
	if (k->timer)
		event_free(k->timer);
	k->timer = NULL;
}

/* ---------------------------------------------------------------- writes */

static void flush(struct sync_client *c);

/* Finds `name` among a stream entry's [f, v, f, v...] and returns v. */
static const redisReply *field(const redisReply *fields, const char *name)
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

static void seq_loaded(redisAsyncContext *ac, void *reply, void *priv)
{
	struct conn *k = ac->data;
	struct sync_client *c = k ? k->c : NULL;
	const redisReply *r = reply;
	enum bf_kind kind = (enum bf_kind)(uintptr_t)priv;
	uint64_t seq = 0;

	if (!c || !r)
		return;
	/* [[id, [f, v, ...]]] or [] */
	if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
	    r->element[0]->type == REDIS_REPLY_ARRAY && r->element[0]->elements == 2) {
		const redisReply *s = field(r->element[0]->element[1], "seq");
		char buf[24];

		if (s && s->type == REDIS_REPLY_STRING && s->len < sizeof(buf)) {
			memcpy(buf, s->str, s->len);
			buf[s->len] = '\0';
			if (bf_parse_u64(buf, UINT64_MAX / 2, &seq))
				seq = 0;
		}
	}
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
	struct conn *k = ac->data;
	struct sync_client *c = k ? k->c : NULL;
	const redisReply *r = reply;
	unsigned n = (unsigned)(uintptr_t)priv;

	if (!c || !r)
		return; /* disconnected: on_down puts the in-flight writes back */
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
	snprintf(minid, sizeof(minid), "%lld-0", (long long)(sync_now_ms() - c->cfg.retention_ms));

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
	while (c->writable && c->cmd.state == C_UP && c->inflight < c->q_len &&
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

/* ---------------------------------------------------------------- reads */

static void read_next(struct sync_client *c);
static void refresh_peers(struct sync_client *c);
static void rd_wake(struct sync_client *c);

static void cursors_changed(struct sync_client *c)
{
	int64_t gap = c->save_gap_ms > 1000 ? c->save_gap_ms : 1000;
	struct timeval tv = { .tv_sec = gap / 1000, .tv_usec = (gap % 1000) * 1000 };

	if (!c->cfg.cursor_path || c->cursors_dirty)
		return;
	c->cursors_dirty = true;
	evtimer_add(c->cursor_timer, &tv);
}

void sync_client_state_changed(struct sync_client *c)
{
	cursors_changed(c);
}

/* Writes cursors and the owner's state to a temporary file renamed over the
 * old one. Saving a large state costs time on the event loop, so the next
 * save waits 20 times as long as this one took (at least a second): saving
 * never takes more than ~5% of the loop. An older snapshot is still a
 * consistent one; the logs replay from its cursors, and replays are harmless. */
static void cursors_save(evutil_socket_t fd, short what, void *arg)
{
	struct sync_client *c = arg;
	char tmp[4096 + 8];
	int64_t t0 = sync_mono_ms();
	FILE *f;

	c->cursors_dirty = false;
	snprintf(tmp, sizeof(tmp), "%s.tmp", c->cfg.cursor_path);
	f = fopen(tmp, "w");
	if (!f) {
		pr_warn("cannot write cursors to %s: %s", tmp, strerror(errno));
		return;
	}
	for (unsigned i = 0; i < c->n_streams; i++)
		if (c->streams[i].id[0] && !c->streams[i].resyncing)
			fprintf(f, "cursor %s %s %s %llu\n", bf_kind_name(c->streams[i].kind),
				c->streams[i].origin, c->streams[i].id,
				(unsigned long long)c->streams[i].seq);
	if (c->h.on_state_save)
		c->h.on_state_save(c->h.ctx, f);
	if (fclose(f) || rename(tmp, c->cfg.cursor_path))
		pr_warn("cannot save cursors to %s: %s", c->cfg.cursor_path, strerror(errno));
	c->save_gap_ms = 20 * (sync_mono_ms() - t0);
}

static struct stream *stream_find(struct sync_client *c, enum bf_kind k, const char *origin)
{
	for (unsigned i = 0; i < c->n_streams; i++)
		if (c->streams[i].kind == k && !strcmp(c->streams[i].origin, origin))
			return &c->streams[i];
	return NULL;
}

static struct stream *stream_add(struct sync_client *c, enum bf_kind k, const char *origin)
{
	struct stream *s = stream_find(c, k, origin);

	if (s)
		return s;
	if (c->n_streams == c->cap_streams) {
		unsigned ncap = c->cap_streams ? c->cap_streams * 2 : 16;
		struct stream *n;

		if (ncap > 3 * 4096)
			return NULL; /* 4096 origins is far past any fleet */
		n = realloc(c->streams, ncap * sizeof(*n));
		if (!n)
			return NULL;
		c->streams = n;
		c->cap_streams = ncap;
	}
	s = &c->streams[c->n_streams++];
	memset(s, 0, sizeof(*s));
	s->kind = k;
	snprintf(s->origin, sizeof(s->origin), "%s", origin);
	bf_key_log(s->key, sizeof(s->key), c->prefix, k, origin);
	return s;
}

static void cursors_load(struct sync_client *c)
{
	char line[512], kind[8], origin[BF_ORIGIN_MAX + 2], id[ID_MAX];
	unsigned long long seq;
	FILE *f;

	if (!c->cfg.cursor_path || !(f = fopen(c->cfg.cursor_path, "r")))
		return;
	while (fgets(line, sizeof(line), f)) {
		struct stream *s;
		int k;

		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, "cursor ", 7)) {
			if (c->h.on_state_line)
				c->h.on_state_line(c->h.ctx, line);
			continue;
		}
		if (sscanf(line + 7, "%7s %64s %47s %llu", kind, origin, id, &seq) != 4 ||
		    (k = bf_kind_parse(kind)) < 0 || !bf_origin_valid(origin) ||
		    !strcmp(origin, c->origin)) {
			pr_warn("%s: ignoring a bad cursor line", c->cfg.cursor_path);
			continue;
		}
		s = stream_add(c, (enum bf_kind)k, origin);
		if (s) {
			snprintf(s->id, sizeof(s->id), "%s", id);
			s->seq = seq;
		}
	}
	fclose(f);
}

/* ---- full resync of one stream from its ZSET ---- */

struct resync {
	struct sync_client *c;
	struct stream *s; /* stable: streams only grow; index kept below */
	unsigned idx;
	char last_id[ID_MAX];
	uint64_t last_seq;
	char zkey[BF_KEY_MAX];
};

static void resync_scan(redisAsyncContext *ac, void *reply, void *priv);

static void resync_finish(struct resync *rs)
{
	struct sync_client *c = rs->c;
	struct stream *s = &c->streams[rs->idx];

	if (c->h.on_resync_end)
		c->h.on_resync_end(c->h.ctx, s->kind, s->origin);
	snprintf(s->id, sizeof(s->id), "%s", rs->last_id);
	s->seq = rs->last_seq;
	s->resyncing = false;
	c->st.resyncs++;
	cursors_changed(c);
	pr_info("resync of %s:%s done at seq %llu", bf_kind_name(s->kind), s->origin,
		(unsigned long long)s->seq);
	free(rs);
	rd_wake(c);
	read_next(c);
}

static void resync_scan(redisAsyncContext *ac, void *reply, void *priv)
{
	struct resync *rs = priv;
	const redisReply *r = reply;
	struct sync_client *c = rs->c;
	struct stream *s = &c->streams[rs->idx];
	int64_t now = sync_now_ms();
	const redisReply *items;
	char cursor[32];

	if (!ac->data || !r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    r->element[0]->type != REDIS_REPLY_STRING || r->element[0]->len >= sizeof(cursor) ||
	    r->element[1]->type != REDIS_REPLY_ARRAY) {
		/* Lost the connection or a strange reply: try again later. */
		s->resyncing = false;
		s->id[0] = '\0';
		free(rs);
		return;
	}
	memcpy(cursor, r->element[0]->str, r->element[0]->len);
	cursor[r->element[0]->len] = '\0';
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
		snprintf(rec.why, sizeof(rec.why), "resync");
		c->h.on_record(c->h.ctx, s->origin, &rec);
	}
	if (!strcmp(cursor, "0")) {
		resync_finish(rs);
		return;
	}
	redisAsyncCommand(ac, resync_scan, rs, "ZSCAN %s %s COUNT 1000", rs->zkey, cursor);
}

static void resync_head(redisAsyncContext *ac, void *reply, void *priv)
{
	struct resync *rs = priv;
	const redisReply *r = reply;
	struct sync_client *c = rs->c;
	struct stream *s = &c->streams[rs->idx];

	if (!ac->data || !r || r->type != REDIS_REPLY_ARRAY) {
		s->resyncing = false;
		free(rs);
		return;
	}
	snprintf(rs->last_id, sizeof(rs->last_id), "0-0");
	rs->last_seq = 0;
	if (r->elements == 1 && r->element[0]->type == REDIS_REPLY_ARRAY &&
	    r->element[0]->elements == 2 && r->element[0]->element[0]->type == REDIS_REPLY_STRING &&
	    r->element[0]->element[0]->len < ID_MAX) {
		const redisReply *sq = field(r->element[0]->element[1], "seq");
		char buf[24];
		uint64_t v;

		memcpy(rs->last_id, r->element[0]->element[0]->str, r->element[0]->element[0]->len);
		rs->last_id[r->element[0]->element[0]->len] = '\0';
		if (sq && sq->type == REDIS_REPLY_STRING && sq->len < sizeof(buf)) {
			memcpy(buf, sq->str, sq->len);
			buf[sq->len] = '\0';
			if (!bf_parse_u64(buf, UINT64_MAX / 2, &v))
				rs->last_seq = v;
		}
	}
	if (c->h.on_resync_begin)
		c->h.on_resync_begin(c->h.ctx, s->kind, s->origin);
	redisAsyncCommand(ac, resync_scan, rs, "ZSCAN %s 0 COUNT 1000", rs->zkey);
}

static void resync(struct sync_client *c, struct stream *s, const char *why)
{
	struct resync *rs;

	if (s->resyncing || c->cmd.state != C_UP)
		return;
	rs = calloc(1, sizeof(*rs));
	if (!rs)
		return;
	pr_info("resync of %s:%s from its ZSET (%s)", bf_kind_name(s->kind), s->origin, why);
	rs->c = c;
	rs->idx = (unsigned)(s - c->streams);
	bf_key_list(rs->zkey, sizeof(rs->zkey), c->prefix, s->kind, s->origin);
	s->resyncing = true;
	/* The log's head first: what the ZSET already holds is read from there on. */
	redisAsyncCommand(c->cmd.ac, resync_head, rs, "XREVRANGE %s + - COUNT 1", s->key);
}

/* ---- following the logs ---- */

static void consume(struct sync_client *c, struct stream *s, const redisReply *e)
{
	struct bf_field f[MAX_FIELDS];
	const redisReply *id, *fv;
	struct bf_log_rec rec;
	const char *what = "";
	size_t n = 0;
	int rc;

	if (e->type != REDIS_REPLY_ARRAY || e->elements != 2)
		return;
	id = e->element[0];
	fv = e->element[1];
	if (id->type != REDIS_REPLY_STRING || id->len >= ID_MAX)
		return;
	if (fv->type == REDIS_REPLY_ARRAY && fv->elements <= 2 * MAX_FIELDS) {
		for (size_t i = 0; i + 1 < fv->elements; i += 2) {
			const redisReply *a = fv->element[i], *b = fv->element[i + 1];

			if (a->type != REDIS_REPLY_STRING || b->type != REDIS_REPLY_STRING)
				continue;
			f[n++] = (struct bf_field){ a->str, a->len, b->str, b->len };
		}
		rc = bf_log_rec_parse(s->kind, f, n, sync_now_ms(), &rec, &what);
	} else {
		rc = -EINVAL;
		what = "not a field list or too many fields";
		rec.seq = 0;
	}
	if (rc == 0 || rc == -ESTALE || rc == -ERANGE) {
		/* The seq is known: the log must be contiguous. */
		if (s->seq && rec.seq != s->seq + 1) {
			c->st.gaps++;
			pr_warn("%s: seq %llu follows %llu (log trimmed or Redis restarted)", s->key,
				(unsigned long long)rec.seq, (unsigned long long)s->seq);
			resync(c, s, "gap in seq");
			return;
		}
		s->seq = rec.seq;
	}
	memcpy(s->id, id->str, id->len);
	s->id[id->len] = '\0';
	cursors_changed(c);
	if (rc == 0) {
		c->st.records++;
		c->h.on_record(c->h.ctx, s->origin, &rec);
	} else if (rc == -ESTALE) {
		c->st.stale++;
	} else {
		c->st.bad_records++;
		pr_warn("%s %s: bad record skipped: %s", s->key, s->id, what);
	}
}

static void xread_done(redisAsyncContext *ac, void *reply, void *priv)
{
	struct conn *k = ac->data;
	struct sync_client *c = k ? k->c : NULL;
	const redisReply *r = reply;

	if (!c)
		return;
	c->reading = false;
	if (!r)
		return; /* disconnected */
	if (r->type == REDIS_REPLY_ERROR) {
		pr_err("XREAD failed: %s", r->str);
	} else if (r->type == REDIS_REPLY_ARRAY) {
		for (size_t i = 0; i < r->elements; i++) {
			const redisReply *sr = r->element[i];
			struct stream *s = NULL;

			if (sr->type != REDIS_REPLY_ARRAY || sr->elements != 2 ||
			    sr->element[0]->type != REDIS_REPLY_STRING ||
			    sr->element[1]->type != REDIS_REPLY_ARRAY)
				continue;
			for (unsigned j = 0; j < c->n_streams; j++)
				if (strlen(c->streams[j].key) == sr->element[0]->len &&
				    !memcmp(c->streams[j].key, sr->element[0]->str, sr->element[0]->len))
					s = &c->streams[j];
			for (size_t j = 0; s && j < sr->element[1]->elements && !s->resyncing; j++)
				consume(c, s, sr->element[1]->element[j]);
		}
	}
	read_next(c);
}

static void read_next(struct sync_client *c)
{
	const char **argv;
	size_t *lens;
	char block[16], count[16];
	unsigned n = 0, argc;

	if (!c->cfg.read_peers || c->reading || c->rd.state != C_UP)
		return;
	if (sync_now_ms() - c->peers_at > PEER_REFRESH_MS)
		refresh_peers(c);
	argv = calloc(6 + 2 * (size_t)c->n_streams, sizeof(*argv));
	lens = calloc(6 + 2 * (size_t)c->n_streams, sizeof(*lens));
	if (!argv || !lens)
		goto out;
	snprintf(block, sizeof(block), "%d", c->cfg.block_ms);
	snprintf(count, sizeof(count), "%d", c->cfg.read_count);
	argv[0] = "XREAD";
	argv[1] = "COUNT";
	argv[2] = count;
	argv[3] = "BLOCK";
	argv[4] = block;
	argv[5] = "STREAMS";
	for (unsigned i = 0; i < c->n_streams; i++)
		if (c->streams[i].id[0] && !c->streams[i].resyncing)
			argv[6 + n++] = c->streams[i].key;
	for (unsigned i = 0, j = 0; i < c->n_streams; i++)
		if (c->streams[i].id[0] && !c->streams[i].resyncing)
			argv[6 + n + j++] = c->streams[i].id;
	if (!n) {
		/* Nothing to follow yet: look again shortly. */
		struct timeval tv = { .tv_usec = 200000 };

		evtimer_add(c->read_timer, &tv);
		goto out;
	}
	argc = 6 + 2 * n;
	for (unsigned i = 0; i < argc; i++)
		lens[i] = strlen(argv[i]);
	c->reading = true;
	redisAsyncCommandArgv(c->rd.ac, xread_done, NULL, (int)argc, argv, lens);
out:
	free(argv);
	free(lens);
}

static void read_timer(evutil_socket_t fd, short what, void *arg)
{
	read_next(arg);
}

static void peers_done(redisAsyncContext *ac, void *reply, void *priv)
{
	struct conn *k = ac->data;
	struct sync_client *c = k ? k->c : NULL;
	const redisReply *r = reply;
	const char *ops = "ops";

	if (!c)
		return;
	c->refreshing = false;
	if (!r || r->type != REDIS_REPLY_ARRAY)
		return;
	for (size_t i = 0; i <= r->elements; i++) {
		char origin[BF_ORIGIN_MAX + 1];
		const char *o = ops;

		if (i < r->elements) {
			const redisReply *m = r->element[i];

			if (m->type != REDIS_REPLY_STRING || m->len > BF_ORIGIN_MAX)
				continue;
			memcpy(origin, m->str, m->len);
			origin[m->len] = '\0';
			if (!bf_origin_valid(origin)) {
				c->st.bad_records++;
				continue;
			}
			o = origin;
		}
		if (!strcmp(o, c->origin))
			continue;
		for (int kk = 0; kk < BF_KIND_MAX; kk++) {
			struct stream *s = stream_find(c, (enum bf_kind)kk, o);

			if (!s) {
				s = stream_add(c, (enum bf_kind)kk, o);
				if (s)
					pr_info("following %s", s->key);
			}
			if (s && !s->id[0])
				resync(c, s, "no cursor yet");
		}
	}
	read_next(c);
}

static void refresh_peers(struct sync_client *c)
{
	char key[BF_KEY_MAX];

	if (c->refreshing || c->cmd.state != C_UP)
		return;
	c->refreshing = true;
	c->peers_at = sync_now_ms();
	bf_key_edges(key, sizeof(key), c->prefix);
	redisAsyncCommand(c->cmd.ac, peers_done, NULL, "SMEMBERS %s", key);
}

/* ---------------------------------------------------------------- up/down */

static void cmd_up(struct conn *k)
{
	struct sync_client *c = k->c;

	/* Redis may have restarted empty: learn where our logs stand. */
	c->writable = false;
	c->seq_loading = BF_KIND_MAX;
	for (int kk = 0; kk < BF_KIND_MAX; kk++) {
		char log[BF_KEY_MAX];

		bf_key_log(log, sizeof(log), c->prefix, (enum bf_kind)kk, c->origin);
		redisAsyncCommand(k->ac, seq_loaded, (void *)(uintptr_t)kk, "XREVRANGE %s + - COUNT 1",
				  log);
	}
	if (c->cfg.read_peers)
		refresh_peers(c);
}

static void cmd_down(struct conn *k)
{
	struct sync_client *c = k->c;

	c->writable = false;
	c->conf_loading = false; /* its callbacks saw NULL replies and gave up */
	c->inflight = 0; /* unacknowledged writes go again after the reconnect */
	c->refreshing = false;
	for (unsigned i = 0; i < c->n_streams; i++)
		if (c->streams[i].resyncing) {
			c->streams[i].resyncing = false;
			c->streams[i].id[0] = '\0';
		}
}

static void rd_id_cb(redisAsyncContext *ac, void *reply, void *priv)
{
	struct conn *k = ac->data;
	const redisReply *r = reply;

	if (!k || !r)
		return;
	k->c->rd_id = r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
	read_next(k->c);
}

static void rd_up(struct conn *k)
{
	/* Its id lets the command connection cut a blocking XREAD short when
	 * the set of logs to follow changes (a resync finished). */
	k->c->rd_id = 0;
	redisAsyncCommand(k->ac, rd_id_cb, NULL, "CLIENT ID");
}

/* A blocked XREAD does not include a log that just became readable: end it
 * now rather than after block_ms. */
static void rd_wake(struct sync_client *c)
{
	if (c->reading && c->rd_id && c->cmd.state == C_UP)
		redisAsyncCommand(c->cmd.ac, NULL, NULL, "CLIENT UNBLOCK %lld", c->rd_id);
}

static void rd_down(struct conn *k)
{
	k->c->reading = false;
}

/* ---------------------------------------------------------------- events */

/* Anyone who can PUBLISH can send junk: one log line per 10 s at most. */
static void bad_frame(struct sync_client *c, const redisReply *ch, const char *what)
{
	int64_t now = sync_now_ms();

	c->st.bad_frames++;
	if (now - c->frame_warned_ms < 10000) {
		c->frames_hushed++;
		return;
	}
	pr_warn("%.*s: bad event frame skipped: %s (%llu more since the last report)",
		(int)(ch->len > BF_KEY_MAX ? BF_KEY_MAX : ch->len), ch->str, what,
		(unsigned long long)c->frames_hushed);
	c->frame_warned_ms = now;
	c->frames_hushed = 0;
}

/* Every frame on <prefix>evt:*. An edge that says it is up is followed at
 * once rather than at the next peer refresh. */
static void on_frame(redisAsyncContext *ac, void *reply, void *priv)
{
	struct conn *k = ac->data;
	struct sync_client *c = k ? k->c : NULL;
	const redisReply *r = reply, *ch, *msg;
	size_t plen;
	const char *what = NULL;
	char origin[BF_ORIGIN_MAX + 1];
	struct bf_evt ev;

	if (!c || !r || r->type != REDIS_REPLY_ARRAY || r->elements != 4 ||
	    r->element[0]->type != REDIS_REPLY_STRING || strcmp(r->element[0]->str, "pmessage"))
		return; /* the psubscribe confirmation, or the connection going away */
	ch = r->element[2];
	msg = r->element[3];
	if (ch->type != REDIS_REPLY_STRING || msg->type != REDIS_REPLY_STRING)
		return;
	plen = strlen(c->prefix) + 4; /* "<prefix>evt:" */
	if (ch->len <= plen || ch->len - plen > BF_ORIGIN_MAX) {
		bad_frame(c, ch, "channel name");
		return;
	}
	memcpy(origin, ch->str + plen, ch->len - plen);
	origin[ch->len - plen] = '\0';
	if (bf_evt_decode((const uint8_t *)msg->str, msg->len, sync_now_ms(), &ev, &what)) {
		bad_frame(c, ch, what);
		return;
	}
	if (strcmp(ev.origin, origin)) {
		bad_frame(c, ch, "origin differs from the channel's");
		return;
	}
	c->st.frames++;
	if (!strcmp(origin, c->origin))
		return;
	if (ev.type == BF_EVT_EDGE_UP && !stream_find(c, BF_KIND_WL, origin)) {
		c->peers_at = 0;
		refresh_peers(c);
	}
	if (c->h.on_event)
		c->h.on_event(c->h.ctx, &ev);
}

/* A refresher stored an A2S cache key: the message is its name. */
static void on_a2s_msg(redisAsyncContext *ac, void *reply, void *priv)
{
	struct conn *k = ac->data;
	struct sync_client *c = k ? k->c : NULL;
	const redisReply *r = reply, *msg;
	enum bf_a2s_key kind;
	uint32_t ip;
	uint16_t port;

	if (!c || !r || r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
	    r->element[0]->type != REDIS_REPLY_STRING || strcmp(r->element[0]->str, "message"))
		return;
	msg = r->element[2];
	if (msg->type != REDIS_REPLY_STRING ||
	    bf_key_a2s_parse(msg->str, msg->len, c->prefix, &kind, &ip, &port) ||
	    kind == BF_A2S_LOCK) {
		bad_frame(c, r->element[1], "not an A2S cache key");
		return;
	}
	if (c->h.on_a2s_key)
		c->h.on_a2s_key(c->h.ctx, kind, ip, port);
}

static void sub_up(struct conn *k)
{
	char ch[BF_KEY_MAX];

	/* PING on a subscribed connection never answers in hiredis 0.14, and
	 * this connection sends nothing else. */
	redisAsyncCommand(k->ac, on_frame, NULL, "PSUBSCRIBE %sevt:*", k->c->prefix);
	bf_key_a2s_channel(ch, sizeof(ch), k->c->prefix);
	redisAsyncCommand(k->ac, on_a2s_msg, NULL, "SUBSCRIBE %s", ch);
}

static void sub_down(struct conn *k)
{
}

/* ---------------------------------------------------------------- config */

#define MAX_CONNS 65536

struct conf_load {
	struct sync_client *c;
	sync_conf_cb cb;
	void *ctx;
	char version[64];
	struct bf_conn *conns; /* [0, n) good, [next, sent) awaiting their HGETALL */
	size_t n, next, sent, waiting;
	unsigned bad;
	bool scanning;
	struct bf_rule_def *rules;
	size_t n_rules;
	unsigned bad_rules;
	struct bf_cidr *protect;
	size_t n_protect;
	unsigned bad_protect;
};

static void conf_free(struct conf_load *cl)
{
	cl->c->conf_loading = false;
	free(cl->conns);
	free(cl->rules);
	free(cl->protect);
	free(cl);
}

static void conf_abort(struct conf_load *cl)
{
	conf_free(cl);
}

static void conf_deliver(struct conf_load *cl)
{
	struct sync_client *c = cl->c;
	struct sync_fleet_conf fc = {
		.version = cl->version, .conns = cl->conns, .n_conns = cl->n, .bad_conns = cl->bad,
		.rules = cl->rules, .n_rules = cl->n_rules, .bad_rules = cl->bad_rules,
		.protect = cl->protect, .n_protect = cl->n_protect, .bad_protect = cl->bad_protect,
	};

	snprintf(c->conf_version, sizeof(c->conf_version), "%s", cl->version);
	cl->cb(cl->ctx, &fc);
	conf_free(cl);
}

#define MAX_PROTECT 65536

static void conf_protect(redisAsyncContext *ac, void *reply, void *priv)
{
	struct conf_load *cl = priv;
	const redisReply *r = reply;

	if (!ac->data || !r || r->type != REDIS_REPLY_ARRAY) {
		conf_abort(cl);
		return;
	}
	if (r->elements > MAX_PROTECT) {
		pr_warn("fleet config: %zu protected prefixes is more than %d; none applied",
			r->elements, MAX_PROTECT);
		cl->bad_protect = (unsigned)r->elements;
	} else if (r->elements && !(cl->protect = calloc(r->elements, sizeof(*cl->protect)))) {
		conf_abort(cl);
		return;
	}
	for (size_t i = 0; cl->protect && i < r->elements; i++) {
		const redisReply *m = r->element[i];
		char buf[BF_CIDR_STRLEN + 1];

		if (m->type != REDIS_REPLY_STRING || m->len >= sizeof(buf)) {
			cl->bad_protect++;
			continue;
		}
		memcpy(buf, m->str, m->len);
		buf[m->len] = '\0';
		if (bf_parse_cidr(buf, false, &cl->protect[cl->n_protect])) {
			cl->bad_protect++;
			pr_warn("fleet config: protected prefix '%s' refused: not a CIDR with its host "
				"bits clear",
				buf);
			continue;
		}
		cl->n_protect++;
	}
	conf_deliver(cl);
}

static void conf_rules(redisAsyncContext *ac, void *reply, void *priv)
{
	struct conf_load *cl = priv;
	const redisReply *r = reply;
	char key[BF_KEY_MAX];

	if (!ac->data || !r || (r->type != REDIS_REPLY_ARRAY && r->type != REDIS_REPLY_NIL)) {
		conf_abort(cl);
		return;
	}
	if (r->type == REDIS_REPLY_ARRAY && r->elements / 2 > BF_RULES_MAX) {
		/* More than XDP holds: refuse the set rather than cut it. */
		pr_warn("fleet config: %zu rules is more than %d; the rules are not applied",
			r->elements / 2, BF_RULES_MAX);
		cl->bad_rules = (unsigned)(r->elements / 2);
	} else if (r->type == REDIS_REPLY_ARRAY && r->elements &&
		   !(cl->rules = calloc(r->elements / 2, sizeof(*cl->rules)))) {
		conf_abort(cl);
		return;
	}
	for (size_t i = 0; cl->rules && i + 1 < r->elements; i += 2) {
		const redisReply *id = r->element[i], *text = r->element[i + 1];
		char err[160], shown[24];
		uint32_t rid;

		if (id->type != REDIS_REPLY_STRING || text->type != REDIS_REPLY_STRING)
			continue;
		if (bf_rule_id_parse(id->str, id->len, &rid)) {
			cl->bad_rules++;
			pr_warn("fleet config: rule id '%s' refused: not 1-%d",
				bf_printable(id->str, id->len, shown, sizeof(shown)), BF_RULE_ID_MAX);
			continue;
		}
		if (text->len > BF_RULE_TEXT_MAX ||
		    bf_rule_parse(rid, text->str, text->len, &cl->rules[cl->n_rules], err,
				  sizeof(err))) {
			cl->bad_rules++;
			pr_warn("fleet config: rule %u refused: %s", rid,
				text->len > BF_RULE_TEXT_MAX ? "longer than 1024 bytes" : err);
			continue;
		}
		cl->n_rules++;
	}
	bf_key_protect(key, sizeof(key), cl->c->prefix);
	redisAsyncCommand(ac, conf_protect, cl, "SMEMBERS %s", key);
}

/* Connections are in: the rules next, then the protected prefixes. */
static void conf_done(struct conf_load *cl)
{
	char key[BF_KEY_MAX];

	bf_key_rules(key, sizeof(key), cl->c->prefix);
	redisAsyncCommand(cl->c->cmd.ac, conf_rules, cl, "HGETALL %s", key);
}

static void conf_hash(redisAsyncContext *ac, void *reply, void *priv)
{
	struct conf_load *cl = priv;
	const redisReply *r = reply;
	struct bf_field f[MAX_FIELDS];
	struct bf_conn *cn;
	const char *what = "not a hash";
	size_t nf = 0;

	if (!ac->data || !r) {
		if (--cl->waiting == 0 && !cl->scanning)
			conf_abort(cl);
		return;
	}
	/* Replies come in the order of the HGETALLs: slot `next` holds what
	 * this one's key said; good ones are packed down to `n`. */
	cn = &cl->conns[cl->next++];
	if (r->type == REDIS_REPLY_ARRAY && r->elements <= 2 * MAX_FIELDS) {
		for (size_t i = 0; i + 1 < r->elements; i += 2)
			if (r->element[i]->type == REDIS_REPLY_STRING &&
			    r->element[i + 1]->type == REDIS_REPLY_STRING)
				f[nf++] = (struct bf_field){ r->element[i]->str, r->element[i]->len,
							     r->element[i + 1]->str,
							     r->element[i + 1]->len };
		if (!bf_conn_parse_fields(f, nf, cn, &what))
			cl->conns[cl->n++] = *cn;
		else
			goto bad;
	} else {
	bad:
		cl->bad++;
		pr_warn("fleet config: connection %s %s:%u refused: %s", bf_proto_name(cn->proto),
			inet_ntoa((struct in_addr){ .s_addr = cn->bind_ip }), cn->bind_port, what);
	}
	if (--cl->waiting == 0 && !cl->scanning)
		conf_done(cl);
}

static void conf_scan(redisAsyncContext *ac, void *reply, void *priv)
{
	struct conf_load *cl = priv;
	const redisReply *r = reply;
	char cursor[32], match[BF_KEY_MAX];

	if (!ac->data || !r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    r->element[0]->type != REDIS_REPLY_STRING || r->element[0]->len >= sizeof(cursor) ||
	    r->element[1]->type != REDIS_REPLY_ARRAY) {
		cl->scanning = false;
		if (!cl->waiting)
			conf_abort(cl);
		return;
	}
	for (size_t i = 0; i < r->element[1]->elements; i++) {
		const redisReply *k = r->element[1]->element[i];
		struct bf_conn *cn;

		if (k->type != REDIS_REPLY_STRING)
			continue;
		if (cl->sent >= MAX_CONNS) {
			cl->bad++;
			continue;
		}
		/* Parse the key now; the HGETALL reply fills the rest in order. */
		cn = &cl->conns[cl->sent];
		if (bf_conn_parse_key(k->str, k->len, cl->c->prefix, cn)) {
			cl->bad++;
			pr_warn("fleet config: bad connection key '%.*s' skipped", (int)k->len, k->str);
			continue;
		}
		cl->sent++;
		cl->waiting++;
		redisAsyncCommand(cl->c->cmd.ac, conf_hash, cl, "HGETALL %b", k->str, k->len);
	}
	memcpy(cursor, r->element[0]->str, r->element[0]->len);
	cursor[r->element[0]->len] = '\0';
	if (!strcmp(cursor, "0")) {
		cl->scanning = false;
		if (!cl->waiting)
			conf_done(cl);
		return;
	}
	snprintf(match, sizeof(match), "%sconn:*", cl->c->prefix);
	redisAsyncCommand(ac, conf_scan, cl, "SCAN %s MATCH %s COUNT 1000", cursor, match);
}

static void conf_version(redisAsyncContext *ac, void *reply, void *priv)
{
	struct conf_load *cl = priv;
	const redisReply *r = reply;
	char match[BF_KEY_MAX];

	if (!ac->data || !r || r->type != REDIS_REPLY_STRING || r->len >= sizeof(cl->version) ||
	    (cl->c->conf_version[0] && strlen(cl->c->conf_version) == r->len &&
	     !memcmp(cl->c->conf_version, r->str, r->len))) {
		conf_abort(cl); /* absent, unchanged or lost */
		return;
	}
	memcpy(cl->version, r->str, r->len);
	cl->version[r->len] = '\0';
	cl->conns = calloc(MAX_CONNS, sizeof(*cl->conns));
	if (!cl->conns) {
		conf_abort(cl);
		return;
	}
	cl->scanning = true;
	snprintf(match, sizeof(match), "%sconn:*", cl->c->prefix);
	redisAsyncCommand(ac, conf_scan, cl, "SCAN 0 MATCH %s COUNT 1000", match);
}

int sync_client_poll_conf(struct sync_client *c, sync_conf_cb cb, void *ctx)
{
	struct conf_load *cl;
	char key[BF_KEY_MAX];

	if (c->conf_loading || c->cmd.state != C_UP)
		return -EBUSY;
	cl = calloc(1, sizeof(*cl));
	if (!cl)
		return -ENOMEM;
	cl->c = c;
	cl->cb = cb;
	cl->ctx = ctx;
	c->conf_loading = true;
	bf_key_conf_version(key, sizeof(key), c->prefix);
	redisAsyncCommand(c->cmd.ac, conf_version, cl, "GET %s", key);
	return 0;
}

/* ---------------------------------------------------------------- api */

struct sync_client *sync_client_new(struct event_base *base, const struct sync_config *cfg,
				    const struct sync_handlers *h)
{
	struct sync_client *c;

	if (!cfg->host || strlen(cfg->host) >= sizeof(c->host) || cfg->port <= 0 ||
	    cfg->port > 65535 || !cfg->origin || !bf_origin_valid(cfg->origin) ||
	    (cfg->prefix && strlen(cfg->prefix) > BF_PREFIX_MAX) || !h->on_record) {
		pr_err("sync: bad configuration (host, port, origin or prefix)");
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->base = base;
	c->cfg = *cfg;
	c->h = *h;
	snprintf(c->host, sizeof(c->host), "%s", cfg->host);
	snprintf(c->prefix, sizeof(c->prefix), "%s", cfg->prefix ? cfg->prefix : BF_PREFIX_DEFAULT);
	snprintf(c->origin, sizeof(c->origin), "%s", cfg->origin);
	/* The caller's strings need not outlive this call. */
	c->cfg.host = c->host;
	c->cfg.prefix = c->prefix;
	c->cfg.origin = c->origin;
	if (cfg->cursor_path && !(c->state_path = strdup(cfg->cursor_path))) {
		free(c);
		return NULL;
	}
	c->cfg.cursor_path = c->state_path;
#define DEF(f, v)                 \
	if (c->cfg.f <= 0)        \
		c->cfg.f = (v)
	DEF(connect_timeout_ms, 1000);
	DEF(backoff_min_ms, 100);
	DEF(backoff_max_ms, 5000);
	DEF(block_ms, 1000);
	DEF(read_count, 1000);
	DEF(retention_ms, 24LL * 3600 * 1000);
	DEF(max_pending, 65536);
#undef DEF
	c->q = calloc(c->cfg.max_pending, sizeof(*c->q));
	c->read_timer = evtimer_new(base, read_timer, c);
	c->cursor_timer = evtimer_new(base, cursors_save, c);
	if (!c->q || !c->read_timer || !c->cursor_timer ||
	    conn_init(c, &c->cmd, "commands", cmd_up, cmd_down) ||
	    (cfg->read_peers && conn_init(c, &c->rd, "stream reads", rd_up, rd_down)) ||
	    (cfg->read_peers && conn_init(c, &c->sub, "events", sub_up, sub_down))) {
		sync_client_free(c);
		return NULL;
	}
	cursors_load(c);
	conn_start(&c->cmd);
	if (cfg->read_peers) {
		conn_start(&c->rd);
		conn_start(&c->sub);
	}
	return c;
}

void sync_client_free(struct sync_client *c)
{
	if (!c)
		return;
	if (c->cursors_dirty)
		cursors_save(-1, 0, c);
	conn_close(&c->cmd);
	conn_close(&c->rd);
	conn_close(&c->sub);
	if (c->read_timer)
		event_free(c->read_timer);
	if (c->cursor_timer)
		event_free(c->cursor_timer);
	free(c->streams);
	free(c->q);
	free(c->state_path);
	free(c);
}

int sync_client_cmd(struct sync_client *c, const char *fmt, ...)
{
	va_list ap;
	int rc;

	if (c->cmd.state != C_UP)
		return -ENOTCONN;
	va_start(ap, fmt);
	rc = redisvAsyncCommand(c->cmd.ac, NULL, NULL, fmt, ap);
	va_end(ap);
	return rc == REDIS_OK ? 0 : -EIO;
}

struct cmd_done {
	sync_done_cb done;
	void *ctx;
};

static void cmd_done(redisAsyncContext *ac, void *reply, void *priv)
{
	const redisReply *r = reply;
	struct cmd_done *d = priv;

	/* hiredis calls this with reply NULL when the connection drops or is freed */
	d->done(d->ctx, r && r->type != REDIS_REPLY_ERROR);
	free(d);
}

int sync_client_cmd_argv(struct sync_client *c, int argc, const char **argv, const size_t *lens,
			 sync_done_cb done, void *ctx)
{
	struct cmd_done *d;

	if (c->cmd.state != C_UP)
		return -ENOTCONN;
	d = malloc(sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->done = done;
	d->ctx = ctx;
	if (redisAsyncCommandArgv(c->cmd.ac, cmd_done, d, argc, argv, lens) != REDIS_OK) {
		free(d);
		return -EIO;
	}
	return 0;
}

/* ---- reads with a callback: no redisReply leaves this file ---- */

struct fetch {
	sync_fetch_cb cb;
	void *ctx;
	size_t max;
	uint8_t *val; /* copy of the GET reply, NULL if absent or refused */
	size_t len;
	char key[BF_KEY_MAX];
};

static void fetch_get(redisAsyncContext *ac, void *reply, void *priv)
{
	const redisReply *r = reply;
	struct fetch *f = priv;

	/* The size is checked before the copy: a hostile value costs nothing. */
	if (r && r->type == REDIS_REPLY_STRING && r->len <= f->max && (f->val = malloc(r->len + 1))) {
		memcpy(f->val, r->str, r->len);
		f->len = r->len;
	}
}

static void fetch_pttl(redisAsyncContext *ac, void *reply, void *priv)
{
	const redisReply *r = reply;
	struct fetch *f = priv;
	/* hiredis hands every pending callback a NULL reply when the
	 * connection drops, before the disconnect callback runs. */
	int64_t pttl = !r ? SYNC_FETCH_LOST : r->type == REDIS_REPLY_INTEGER ? (int64_t)r->integer : -2;

	if (!r) {
		free(f->val);
		f->val = NULL;
	}
	f->cb(f->ctx, f->key, f->val, f->val ? f->len : 0, pttl);
	free(f->val);
	free(f);
}

int sync_client_fetch(struct sync_client *c, const char *key, size_t max_len, sync_fetch_cb cb,
		      void *ctx)
{
	struct fetch *f;

	if (c->cmd.state != C_UP)
		return -ENOTCONN;
	if (strlen(key) >= BF_KEY_MAX || !(f = calloc(1, sizeof(*f))))
		return -EINVAL;
	f->cb = cb;
	f->ctx = ctx;
	f->max = max_len;
	snprintf(f->key, sizeof(f->key), "%s", key);
	/* Two commands back to back: the PTTL callback always runs last, and
	 * runs (reply NULL) if the connection goes away in between. */
	redisAsyncCommand(c->cmd.ac, fetch_get, f, "GET %s", key);
	redisAsyncCommand(c->cmd.ac, fetch_pttl, f, "PTTL %s", key);
	return 0;
}

struct hget {
	sync_hash_cb cb;
	void *ctx;
};

static void hgetall_done(redisAsyncContext *ac, void *reply, void *priv)
{
	const redisReply *r = reply;
	struct hget *h = priv;
	struct bf_field f[64];
	size_t n = 0;

	for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i + 1 < r->elements && n < 64;
	     i += 2)
		if (r->element[i]->type == REDIS_REPLY_STRING &&
		    r->element[i + 1]->type == REDIS_REPLY_STRING)
			f[n++] = (struct bf_field){ r->element[i]->str, r->element[i]->len,
						    r->element[i + 1]->str, r->element[i + 1]->len };
	h->cb(h->ctx, f, n);
	free(h);
}

int sync_client_hgetall(struct sync_client *c, const char *key, sync_hash_cb cb, void *ctx)
{
	struct hget *h;

	if (c->cmd.state != C_UP)
		return -ENOTCONN;
	if (!(h = calloc(1, sizeof(*h))))
		return -ENOMEM;
	h->cb = cb;
	h->ctx = ctx;
	redisAsyncCommand(c->cmd.ac, hgetall_done, h, "HGETALL %s", key);
	return 0;
}

int sync_client_announce(struct sync_client *c, enum bf_evt_type t, const char *version)
{
	struct bf_evt ev = { .type = t };
	uint8_t frame[BF_EVT_MAX_BYTES];
	char key[BF_KEY_MAX];
	int n;

	snprintf(ev.origin, sizeof(ev.origin), "%s", c->origin);
	snprintf(ev.version, sizeof(ev.version), "%s", version ? version : "");
	n = bf_evt_encode(&ev, frame, sizeof(frame));
	if (n < 0)
		return n;
	bf_key_evt(key, sizeof(key), c->prefix, c->origin);
	return sync_client_cmd(c, "PUBLISH %s %b", key, frame, (size_t)n);
}

bool sync_client_connected(const struct sync_client *c)
{
	return c->writable;
}

void sync_client_stats(const struct sync_client *c, struct sync_stats *st)
{
	*st = c->st;
	st->pending = c->q_len;
	st->peers = c->n_streams / BF_KIND_MAX;
}
