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

static void read_next(struct sync_client *c);
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
	int64_t t0 = bf_mono_ms();
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
	char line[512], kind[8], origin[BF_ORIGIN_MAX + 2], id[SYNC_ID_MAX];
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
	char last_id[SYNC_ID_MAX];
	uint64_t last_seq;
	char zkey[BF_KEY_MAX];
};

static void resync_scan(redisAsyncContext *ac, void *reply, void *priv);

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
	cursors_changed(c);
	pr_info("resync of %s:%s %s at seq %llu", bf_kind_name(s->kind), s->origin,
		read ? "done" : "skipped, following its log", (unsigned long long)s->seq);
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
	int64_t now = bf_wall_ms();
	const redisReply *items;
	char cursor[32];

	if (!ac->data || !r || r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
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
	sync_page_dropped(c, bf_kind_name(s->kind), rs->zkey, r, BF_ENTRY_MAX);
	if (!strcmp(cursor, "0")) {
		resync_finish(rs, true);
		return;
	}
	sync_read_zpage(ac, resync_scan, rs, rs->zkey, cursor);
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
		s->resyncing = false;
		free(rs);
		return;
	}
	if (rc) { /* the ZSET holds more than its cap: not read */
		resync_finish(rs, false);
		return;
	}
	if (c->h.on_resync_begin)
		c->h.on_resync_begin(c->h.ctx, s->kind, s->origin);
	sync_read_zpage(ac, resync_scan, rs, rs->zkey, "0");
}

static void resync(struct sync_client *c, struct stream *s, const char *why)
{
	struct resync *rs;

	if (s->resyncing || !sync_link_up(&c->cmd))
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
	sync_read_head(c->cmd.ac, resync_head, rs, s->key, rs->zkey);
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
	struct sync_client *c = sync_link_owner(ac);
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

	if (!c->cfg.read_peers || c->reading || !sync_link_up(&c->rd))
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
			if (s && !s->id[0])
				resync(c, s, "no cursor yet");
		}
	}
	read_next(c);
}

void reader_refresh_peers(struct sync_client *c)
{
	char key[BF_KEY_MAX];

	if (c->refreshing || !sync_link_up(&c->cmd))
		return;
	c->refreshing = true;
	c->peers_at = bf_wall_ms();
	bf_key_edges(key, sizeof(key), c->prefix);
	sync_read_set(c->cmd.ac, peers_done, NULL, key, SYNC_EDGES_MAX, BF_ORIGIN_MAX);
}

static void rd_id_cb(redisAsyncContext *ac, void *reply, void *priv)
{
	struct sync_client *c = sync_link_owner(ac);
	const redisReply *r = reply;

	if (!c || !r)
		return;
	c->rd_id = r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
	read_next(c);
}

void reader_link_up(struct sync_link *l)
{
	struct sync_client *c = l->owner;

	/* Its id lets the command connection cut a blocking XREAD short when
	 * the set of logs to follow changes (a resync finished). */
	c->rd_id = 0;
	redisAsyncCommand(l->ac, rd_id_cb, NULL, "CLIENT ID");
}

/* A blocked XREAD does not include a log that just became readable: end it
 * now rather than after block_ms. */
static void rd_wake(struct sync_client *c)
{
	if (c->reading && c->rd_id && sync_link_up(&c->cmd))
		redisAsyncCommand(c->cmd.ac, NULL, NULL, "CLIENT UNBLOCK %lld", c->rd_id);
}

void reader_link_down(struct sync_link *l)
{
	((struct sync_client *)l->owner)->reading = false;
}

void reader_cmd_up(struct sync_client *c)
{
	if (c->cfg.read_peers)
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
