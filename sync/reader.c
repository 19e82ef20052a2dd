/* reader.c - following the peers' change logs: the logs to follow (every
 * origin in <prefix>edges, plus ops), one blocking XREAD over all of them
 * from persisted cursors, seq checked for gaps, and a full resync from the
 * ZSET when a log has no cursor or a gap. Cursors and the owner's state
 * persist in one file. */
#include <errno.h>
#include <event2/event.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bounded.h"
#include "client_int.h"
#include "clock.h"
#include "log.h"

#define PEER_REFRESH_MS 1000 /* a new edge is followed within a second */
#define XREAD_MARGIN_MS 2000 /* a blocking read's deadline past its BLOCK time */


void reader_cursors_changed(struct sync_client *c)
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
	reader_cursors_changed(c);
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
	int64_t t0 = bf_mono_ms();
	FILE *f;

	/* A resync's stream is saved without a cursor and the owner's state is
	 * half read meanwhile: a save then costs as much and is worth little.
	 * Put off by a second at a time while one runs, 10 s at most. */
	for (unsigned i = 0; i < c->n_streams; i++)
		if (c->streams[i].resyncing) {
			struct timeval tv = { .tv_sec = 1 };

			if (!c->save_held_since)
				c->save_held_since = t0;
			if (t0 - c->save_held_since >= 10000)
				break;
			evtimer_add(c->cursor_timer, &tv);
			return;
		}
	c->save_held_since = 0;
	c->cursors_dirty = false;
	snprintf(tmp, sizeof(tmp), "%s.tmp", c->cfg.cursor_path);
	f = fopen(tmp, "w");
	if (!f) {
		pr_warn("cannot write cursors to %s: %s", tmp, strerror(errno));
		return;
	}
	fprintf(f, "instance %s\n", c->token);
	for (unsigned i = 0; i < c->n_streams; i++)
		if (c->streams[i].id[0] && !c->streams[i].resyncing)
			fprintf(f, "cursor %s %s %s %llu\n", bf_kind_name(c->streams[i].kind),
				c->streams[i].origin, c->streams[i].id,
				(unsigned long long)c->streams[i].seq);
	if (c->h.on_state_save)
		c->h.on_state_save(c->h.ctx, f);
	if (fclose(f) || rename(tmp, c->cfg.cursor_path))
		pr_warn("cannot save cursors to %s: %s", c->cfg.cursor_path, strerror(errno));
	c->save_gap_ms = 20 * (bf_mono_ms() - t0);
}

struct stream *reader_stream(struct sync_client *c, enum bf_kind k, const char *origin)
{
	for (unsigned i = 0; i < c->n_streams; i++)
		if (c->streams[i].kind == k && !strcmp(c->streams[i].origin, origin))
			return &c->streams[i];
	return NULL;
}

static struct stream *stream_add(struct sync_client *c, enum bf_kind k, const char *origin)
{
	struct stream *s = reader_stream(c, k, origin);

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

void reader_cursors_load(struct sync_client *c)
{
	char line[512];
	FILE *f;

	if (!c->cfg.cursor_path || !(f = fopen(c->cfg.cursor_path, "r")))
		return;
	while (fgets(line, sizeof(line), f)) {
		struct bf_cursor_line cl;
		struct stream *s;

		line[strcspn(line, "\n")] = '\0';
		if (!strncmp(line, "instance ", 9)) {
			/* The same instance after a restart: its lock is still ours. */
			if (strlen(line + 9) == sizeof(c->token) - 1 &&
			    strspn(line + 9, "0123456789abcdef") == sizeof(c->token) - 1)
				memcpy(c->token, line + 9, sizeof(c->token));
			continue;
		}
		if (strncmp(line, "cursor ", 7)) {
			if (c->h.on_state_line)
				c->h.on_state_line(c->h.ctx, line);
			continue;
		}
		if (bf_cursor_line_parse(line, &cl) || !strcmp(cl.origin, c->origin)) {
			pr_warn("%s: ignoring a bad cursor line", c->cfg.cursor_path);
			continue;
		}
		s = stream_add(c, cl.kind, cl.origin);
		if (s) {
			snprintf(s->id, sizeof(s->id), "%s", cl.id);
			s->seq = cl.seq;
		}
	}
	fclose(f);
}

/* ---- a log Redis refuses ---- */

#define STREAM_RETRY_MIN_MS 1000
#define STREAM_RETRY_MAX_MS 60000
#define XREAD_RETRY_MIN_MS 100
#define XREAD_RETRY_MAX_MS 5000

void reader_stream_fault(struct sync_client *c, struct stream *s, const char *err)
{
	s->backoff_ms = s->backoff_ms ? s->backoff_ms * 2 : STREAM_RETRY_MIN_MS;
	if (s->backoff_ms > STREAM_RETRY_MAX_MS)
		s->backoff_ms = STREAM_RETRY_MAX_MS;
	s->retry_ms = bf_mono_ms() + s->backoff_ms;
	c->st.read_errors++;
	if (s->fault)
		return;
	s->fault = true;
	pr_err("%s: Redis refuses it (%s); skipping it while the other logs go on, "
	       "retrying with backoff up to %d s (fix or delete the key)",
	       s->key, err, STREAM_RETRY_MAX_MS / 1000);
}

void reader_stream_ok(struct sync_client *c, struct stream *s)
{
	s->backoff_ms = 0;
	if (!s->fault)
		return;
	s->fault = false;
	pr_info("%s: readable again", s->key);
	reader_wake(c);
}

/* One log alone, from its cursor, without blocking: which of the logs made
 * the XREAD fail. */
static void probe_done(redisAsyncContext *ac, void *reply, void *priv)
{
	struct sync_client *c = sync_link_owner(ac);
	const redisReply *r = reply;
	struct stream *s;

	if (!c || !r || (uintptr_t)priv >= c->n_streams)
		return;
	s = &c->streams[(uintptr_t)priv];
	if (r->type != REDIS_REPLY_ERROR) {
		reader_stream_ok(c, s);
		return;
	}
	if (strstr(r->str, "Invalid stream ID")) {
		pr_warn("%s: cursor %s refused (%s); reading it again from its ZSET", s->key,
			s->id, r->str);
		s->id[0] = '\0';
		s->seq = 0;
		reader_resync(c, s, "bad cursor");
		return;
	}
	reader_stream_fault(c, s, r->str);
}

static void probe(struct sync_client *c, struct stream *s)
{
	sync_link_cmd(&c->cmd, probe_done, (void *)(uintptr_t)(s - c->streams),
		      "XREAD COUNT 1 STREAMS %s %s", s->key, s->id);
}

/* The XREAD over every log failed as a whole: Redis does not say which log
 * it refused, so each is tried alone; the next XREAD waits a backoff, and
 * the refusal is logged once while it lasts. */
static void xread_refused(struct sync_client *c, const char *err)
{
	struct timeval tv;

	c->st.read_errors++;
	if (c->rd.at_replica) {
		/* The replica's own ACL file or limits, not a log at fault: the
		 * reads go to the primary (the move remakes the link). */
		replica_reads_refused(c, err);
		return;
	}
	bf_log_state_hit(&c->xread_refused, BF_LOG_WARN,
			 "XREAD refused: %s; finding the log at fault, the others go on", err);
	for (unsigned i = 0; i < c->n_streams; i++)
		if (c->streams[i].id[0] && !c->streams[i].resyncing && !c->streams[i].fault)
			probe(c, &c->streams[i]);
	c->rd_backoff_ms = c->rd_backoff_ms ? c->rd_backoff_ms * 2 : XREAD_RETRY_MIN_MS;
	if (c->rd_backoff_ms > XREAD_RETRY_MAX_MS)
		c->rd_backoff_ms = XREAD_RETRY_MAX_MS;
	tv = (struct timeval){ .tv_sec = c->rd_backoff_ms / 1000,
			       .tv_usec = (c->rd_backoff_ms % 1000) * 1000 };
	c->rd_wait_until_ms = bf_mono_ms() + c->rd_backoff_ms;
	evtimer_add(c->read_timer, &tv);
}

/* Once a second: logs at fault whose wait is over are tried again (alone:
 * a log still refused does not stop the others). */
void reader_tick(struct sync_client *c)
{
	int64_t now = bf_mono_ms();

	bf_log_state_tick(&c->xread_refused, "XREAD refused");
	if (!sync_link_up(&c->cmd))
		return;
	for (unsigned i = 0; i < c->n_streams; i++) {
		struct stream *s = &c->streams[i];

		if (!s->fault || s->resyncing || now < s->retry_ms)
			continue;
		s->retry_ms = now + s->backoff_ms; /* one try per wait */
		if (s->id[0])
			probe(c, s);
		else
			reader_resync(c, s, "retry");
	}
}

int sync_id_cmp(const char *a, size_t n, const char *b)
{
	unsigned long long am, as, bm, bs;
	char buf[SYNC_ID_MAX];

	if (n >= sizeof(buf))
		return SYNC_ID_BAD;
	memcpy(buf, a, n);
	buf[n] = '\0';
	if (sscanf(buf, "%llu-%llu", &am, &as) != 2 || sscanf(b, "%llu-%llu", &bm, &bs) != 2)
		return SYNC_ID_BAD;
	if (am != bm)
		return am < bm ? -1 : 1;
	return as < bs ? -1 : as > bs;
}

/* ---- following the logs ---- */

static void consume(struct sync_client *c, struct stream *s, const redisReply *e)
{
	struct bf_field f[SYNC_MAX_FIELDS];
	const redisReply *id, *fv;
	struct bf_log_rec rec;
	const char *what = "";
	size_t n = 0;
	int rc;

	if (e->type != REDIS_REPLY_ARRAY || e->elements != 2)
		return;
	id = e->element[0];
	fv = e->element[1];
	if (id->type != REDIS_REPLY_STRING || id->len >= SYNC_ID_MAX)
		return;
	/* Not after our cursor: an XREAD sent before a resync moved the cursor to
	 * the log's head (a replica behind the primary answers it with records the
	 * resync already read from the ZSET). */
	if (s->id[0] && sync_id_cmp(id->str, id->len, s->id) <= 0)
		return;
	if (fv->type == REDIS_REPLY_ARRAY && fv->elements <= 2 * SYNC_MAX_FIELDS) {
		for (size_t i = 0; i + 1 < fv->elements; i += 2) {
			const redisReply *a = fv->element[i], *b = fv->element[i + 1];

			if (a->type != REDIS_REPLY_STRING || b->type != REDIS_REPLY_STRING)
				continue;
			f[n++] = (struct bf_field){ a->str, a->len, b->str, b->len };
		}
		rc = bf_log_rec_parse(s->kind, f, n, bf_wall_ms(), &rec, &what);
	} else {
		rc = -EINVAL;
		what = "not a field list or too many fields";
		rec.seq = 0;
	}
	if (rc == 0 || rc == -ESTALE || rc == -ERANGE) {
		/* The seq is known: the log must be contiguous. */
		if (s->seq && rec.seq != s->seq + 1) {
			c->st.gaps++;
			pr_warn("%s: seq %llu follows %llu (log trimmed or Redis restarted); reading "
				"its ZSET again", s->key, (unsigned long long)rec.seq,
				(unsigned long long)s->seq);
			/* The cursor and seq are forgotten at once, not when the resync
			 * starts (it waits for the commands link): else a later record
			 * whose seq happens to follow the old one would be taken as
			 * contiguous and the gap skipped for good. With no cursor the
			 * log is not read until the resync has read its ZSET. */
			s->id[0] = '\0';
			s->seq = 0;
			reader_cursors_changed(c);
			reader_resync(c, s, "gap in seq");
			return;
		}
		s->seq = rec.seq;
	}
	memcpy(s->id, id->str, id->len);
	s->id[id->len] = '\0';
	reader_cursors_changed(c);
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
	struct sync_client *c = sync_link_owner(ac);
	const redisReply *r = reply;

	if (!c)
		return;
	c->reading = false;
	if (!r)
		return; /* disconnected */
	if (r->type == REDIS_REPLY_ERROR) {
		xread_refused(c, r->str);
		return;
	}
	c->rd_backoff_ms = 0;
	if (r->type == REDIS_REPLY_ARRAY) {
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
			/* Until a gap in it (no cursor any more) or its resync. */
			for (size_t j = 0; s && j < sr->element[1]->elements && s->id[0] &&
					   !s->resyncing;
			     j++)
				consume(c, s, sr->element[1]->element[j]);
		}
		if (c->h.on_batch_end)
			c->h.on_batch_end(c->h.ctx);
	}
	reader_next(c);
}

/* A log the next XREAD includes. */
static bool following(const struct stream *s)
{
	return s->id[0] && !s->resyncing && !s->fault;
}

void reader_next(struct sync_client *c)
{
	const char **argv;
	size_t *lens;
	char block[16], count[16];
	unsigned n = 0, argc;

	if (!c->cfg.read_peers || c->reading || !sync_link_up(&c->rd) ||
	    bf_mono_ms() < c->rd_wait_until_ms)
		return;
	if (bf_wall_ms() - c->peers_at > PEER_REFRESH_MS)
		reader_refresh_peers(c);
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
		if (following(&c->streams[i]))
			argv[6 + n++] = c->streams[i].key;
	for (unsigned i = 0, j = 0; i < c->n_streams; i++)
		if (following(&c->streams[i]))
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
	/* Its deadline is the BLOCK time plus a margin: a read that outlives it
	 * went to a dead peer. */
	if (!sync_link_cmd_argv(&c->rd, c->cfg.block_ms + XREAD_MARGIN_MS, xread_done, NULL,
				(int)argc, argv, lens))
		c->reading = true;
out:
	free(argv);
	free(lens);
}

static void read_timer(evutil_socket_t fd, short what, void *arg)
{
	reader_next(arg);
}

static void peers_done(redisAsyncContext *ac, void *reply, void *priv)
{
	struct sync_client *c = sync_link_owner(ac);
	const redisReply *r = reply;
	const char *ops = "ops";
	char key[BF_KEY_MAX];
	bool refused;

	if (!c)
		return;
	c->refreshing = false;
	bf_key_edges(key, sizeof(key), c->prefix);
	/* A refused set still leaves ops, and the edges already followed. */
	r = sync_set_members(c, "edges", key, r, BF_ORIGIN_MAX, &refused);
	if (!r && !refused)
		return;
	for (size_t i = 0; i <= (r ? r->elements : 0); i++) {
		char origin[BF_ORIGIN_MAX + 1];
		const char *o = ops;

		if (r && i < r->elements) {
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
			struct stream *s = reader_stream(c, (enum bf_kind)kk, o);

			if (!s) {
				s = stream_add(c, (enum bf_kind)kk, o);
				if (s)
					pr_info("following %s", s->key);
			}
			if (s && !s->id[0] && !s->fault)
				reader_resync(c, s, "no cursor yet");
		}
	}
	reader_next(c);
}

void reader_refresh_peers(struct sync_client *c)
{
	char key[BF_KEY_MAX];

	if (c->refreshing || !sync_link_up(&c->cmd))
		return;
	c->refreshing = true;
	c->peers_at = bf_wall_ms();
	bf_key_edges(key, sizeof(key), c->prefix);
	sync_read_set(&c->cmd, peers_done, NULL, key, SYNC_EDGES_MAX, BF_ORIGIN_MAX);
}

static void rd_id_cb(redisAsyncContext *ac, void *reply, void *priv)
{
	struct sync_client *c = sync_link_owner(ac);
	const redisReply *r = reply;

	if (!c || !r)
		return;
	c->rd_id = r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
	reader_next(c);
}

void reader_link_up(struct sync_link *l)
{
	struct sync_client *c = l->owner;

	/* Its id lets the command connection cut a blocking XREAD short when
	 * the set of logs to follow changes (a resync finished). */
	c->rd_id = 0;
	sync_link_cmd(l, rd_id_cb, NULL, "CLIENT ID");
}

/* A blocked XREAD does not include a log that just became readable: end it
 * now rather than after block_ms. */
void reader_wake(struct sync_client *c)
{
	/* The id is the reading node's: a read replica's, while reads are on it. */
	struct sync_link *l = c->rd.at_replica ? &c->rep : &c->cmd;

	if (c->reading && c->rd_id && sync_link_up(l))
		sync_link_cmd(l, NULL, NULL, "CLIENT UNBLOCK %lld", c->rd_id);
}

void reader_link_down(struct sync_link *l)
{
	((struct sync_client *)l->owner)->reading = false;
}

void reader_cmd_up(struct sync_client *c)
{
	if (!c->cfg.read_peers)
		return;
	/* Resyncs owed while the link was down (a gap, a list changed without its
	 * log): a log with a cursor is not picked up by the peer refresh. */
	for (unsigned i = 0; i < c->n_streams; i++)
		if (c->streams[i].resync_owed)
			reader_resync(c, &c->streams[i], c->streams[i].resync_owed);
	reader_refresh_peers(c);
}

void reader_cmd_down(struct sync_client *c)
{
	c->refreshing = false;
	for (unsigned i = 0; i < c->n_streams; i++)
		if (c->streams[i].resyncing) {
			c->streams[i].resyncing = false;
			c->streams[i].id[0] = '\0';
		}
}

void reader_cursors_save_now(struct sync_client *c)
{
	if (c->cursors_dirty)
		cursors_save(-1, 0, c);
}

int reader_init(struct sync_client *c)
{
	c->read_timer = evtimer_new(c->base, read_timer, c);
	c->cursor_timer = evtimer_new(c->base, cursors_save, c);
	return c->read_timer && c->cursor_timer ? 0 : -ENOMEM;
}

void reader_free(struct sync_client *c)
{
	if (c->read_timer)
		event_free(c->read_timer);
	if (c->cursor_timer)
		event_free(c->cursor_timer);
	free(c->streams);
}
