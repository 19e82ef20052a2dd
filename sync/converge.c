/* converge.c - the ZSETs are the truth: a write made to a peer's list
 * without its log (a bare ZADD, ZREM, DEL or EXPIRE from redis-cli or any
 * other tool) is found and that list read again whole.
 *
 * Two ways, because each misses what the other sees:
 * - keyspace notifications (fast, within a second): every change to a list
 *   key. A write through the bus's Lua or a MULTI is the list's event
 *   immediately followed by an `xadd` on its log (Redis runs them as one
 *   and delivers their events in order on this connection); a list event
 *   followed by anything else, or by nothing within PAIR_WAIT_MS, is a bare
 *   write. Needs notify-keyspace-events with K, g, z, x, t (docs/REDIS.md).
 * - a digest (every DIGEST_MS, and the safety net when notifications are
 *   off or were missed while the events link was down): each log record
 *   carries the ZSET's member count after it (`card`); ZCARD differing from
 *   the newest record's count, read together in one MULTI, means the ZSET
 *   was changed without the log. Two O(1) reads per list, whatever its size.
 */
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

#define PAIR_WAIT_MS 50
#define DIGEST_MS 10000

/* The notification patterns: list keys and their logs, of every kind. */
static const char *const patterns[] = { "%swl:*",     "%sbl:*",     "%spunch:*",
					"%svalid:*",  "%slog:wl:*", "%slog:bl:*",
					"%slog:punch:*", "%slog:valid:*" };

/* A list that changed without its log: read it whole (again, if a resync
 * of it is running: what it already read may predate the change). */
static void diverged(struct sync_client *c, struct stream *s, const char *how)
{
	if (s->fault)
		return;
	if (s->resyncing) {
		s->resync_again = true;
		return;
	}
	reader_resync(c, s, how);
}

static void unpaired(struct sync_client *c)
{
	struct stream *s = reader_stream(c, c->pend_kind, c->pend_origin);

	c->pend_active = false;
	evtimer_del(c->pair_timer);
	if (!s)
		return;
	c->st.bare_writes++;
	diverged(c, s, "written without its log (a bare write)");
}

static void pair_timer(evutil_socket_t fd, short what, void *arg)
{
	struct sync_client *c = arg;

	if (c->pend_active)
		unpaired(c);
}

/* "__keyspace@<db>__:<key>" with event <ev>. */
static void on_keyspace(redisAsyncContext *ac, void *reply, void *priv)
{
	struct sync_client *c = sync_link_owner(ac);
	const redisReply *r = reply, *ch, *ev;
	const char *key;
	char origin[BF_ORIGIN_MAX + 1];
	enum bf_kind k;
	bool is_log;

	if (!c || !r || r->type != REDIS_REPLY_ARRAY || r->elements != 4 ||
	    r->element[0]->type != REDIS_REPLY_STRING || strcmp(r->element[0]->str, "pmessage"))
		return;
	ch = r->element[2];
	ev = r->element[3];
	if (ch->type != REDIS_REPLY_STRING || ev->type != REDIS_REPLY_STRING ||
	    !(key = memchr(ch->str, ':', ch->len)))
		return;
	key++;
	if (bf_key_kind_parse(key, ch->len - (size_t)(key - ch->str), c->prefix, &is_log, &k,
			      origin))
		return;
	c->st.notifications++;
	if (!strcmp(origin, c->origin))
		return; /* our own writes: not followed */
	{
		struct stream *s = reader_stream(c, k, origin);

		/* A log Redis refused changed: perhaps repaired; try it at the next tick. */
		if (s && s->fault)
			s->retry_ms = 0;
	}
	if (c->pend_active) {
		if (is_log && k == c->pend_kind && !strcmp(origin, c->pend_origin) &&
		    !strcmp(ev->str, "xadd")) {
			c->pend_active = false; /* the list's change and its record */
			evtimer_del(c->pair_timer);
			return;
		}
		unpaired(c);
	}
	if (!is_log) {
		struct timeval tv = { .tv_usec = PAIR_WAIT_MS * 1000 };

		c->pend_active = true;
		c->pend_kind = k;
		snprintf(c->pend_origin, sizeof(c->pend_origin), "%s", origin);
		evtimer_add(c->pair_timer, &tv);
	}
}

void converge_subscribe(struct sync_client *c, struct sync_link *l)
{
	char pat[BF_KEY_MAX + 32];

	c->pend_active = false;
	for (size_t i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++) {
		char key[BF_KEY_MAX];

		snprintf(key, sizeof(key), patterns[i], c->prefix);
		snprintf(pat, sizeof(pat), "__keyspace@0__:%s", key);
		redisAsyncCommand(l->ac, on_keyspace, NULL, "PSUBSCRIBE %s", pat);
	}
	/* Notifications were lost while the link was down: the digest looks
	 * at every list soon. */
	c->digest_due_ms = bf_mono_ms() + 1000;
}

/* ---- the digest ---- */

static void digest_done(redisAsyncContext *ac, void *reply, void *priv)
{
	struct sync_client *c = sync_link_owner(ac);
	const redisReply *r = reply, *recs, *card, *last;
	struct stream *s;
	long long want;
	char buf[24];

	if (!c || !r || (uintptr_t)priv >= c->n_streams)
		return;
	s = &c->streams[(uintptr_t)priv];
	/* [[[id, fields]] or [], ZCARD] */
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    r->element[0]->type != REDIS_REPLY_ARRAY || r->element[1]->type != REDIS_REPLY_INTEGER)
		return; /* refused (the stream reader finds and reports a bad key) */
	recs = r->element[0];
	if (recs->elements != 1 || recs->element[0]->type != REDIS_REPLY_ARRAY ||
	    recs->element[0]->elements != 2)
		return; /* an empty log says nothing */
	last = recs->element[0]->element[0];
	/* The cursor as it was when the read was sent: the reads link may have
	 * consumed records newer than this reply's since (a race, not a fault). */
	if (last->type == REDIS_REPLY_STRING && s->id[0] &&
	    sync_id_cmp(last->str, last->len, s->digest_sent) == -1) {
		/* A cursor past the log's newest record waits for IDs that may never
		 * come (a state file from another Redis, a clock set back). */
		pr_warn("%s: our cursor %s is past the log's newest record %.*s; reading the "
			"list again", s->key, s->id, (int)last->len, last->str);
		s->id[0] = '\0';
		s->seq = 0;
		c->st.digest_mismatches++;
		reader_resync(c, s, "cursor past the log's end");
		return;
	}
	card = sync_field(recs->element[0]->element[1], "card");
	if (!card || card->type != REDIS_REPLY_STRING || card->len >= sizeof(buf) ||
	    last->type != REDIS_REPLY_STRING)
		return; /* a record from a writer that does not count */
	memcpy(buf, card->str, card->len);
	buf[card->len] = '\0';
	want = atoll(buf);
	if (want == r->element[1]->integer)
		return;
	/* Once per state: the same ZCARD after the same record is what the
	 * last resync already read. */
	if (s->digest_card == r->element[1]->integer && last->len < sizeof(s->digest_id) &&
	    !memcmp(s->digest_id, last->str, last->len) && !s->digest_id[last->len])
		return;
	s->digest_card = r->element[1]->integer;
	snprintf(s->digest_id, sizeof(s->digest_id), "%.*s", (int)last->len, last->str);
	c->st.digest_mismatches++;
	pr_warn("%s: the ZSET holds %lld members, its log says %lld: changed without the log; "
		"reading it again", s->key, r->element[1]->integer, want);
	diverged(c, s, "digest mismatch");
}

static void digest_round(struct sync_client *c)
{
	for (unsigned i = 0; i < c->n_streams; i++) {
		struct stream *s = &c->streams[i];
		char zkey[BF_KEY_MAX];

		if (!s->id[0] || s->resyncing || s->fault)
			continue;
		bf_key_list(zkey, sizeof(zkey), c->prefix, s->kind, s->origin);
		memcpy(s->digest_sent, s->id, sizeof(s->digest_sent));
		/* The newest record's seq and card only, with ZCARD, in one step. */
		sync_read_head(&c->cmd, digest_done, (void *)(uintptr_t)i, s->key, zkey);
	}
	c->st.digests++;
}

/* Once a second: lists marked again during their resync, and the digest
 * when it is due (digest_ms apart plus up to a tenth of it, so a fleet's
 * edges do not all read at the same instant). */
void converge_tick(struct sync_client *c)
{
	int64_t now = bf_mono_ms();

	if (!c->cfg.read_peers || !sync_link_up(&c->cmd))
		return;
	for (unsigned i = 0; i < c->n_streams; i++) {
		struct stream *s = &c->streams[i];

		if (s->resync_again && !s->resyncing) {
			s->resync_again = false;
			diverged(c, s, "changed during its resync");
		}
	}
	if (now < c->digest_due_ms)
		return;
	c->digest_due_ms = now + c->cfg.digest_ms +
			   (int64_t)(bf_mono_ns() % (uint64_t)(c->cfg.digest_ms / 10 + 1));
	digest_round(c);
}

/* Whether Redis sends the notifications the fast path needs: said once
 * when it does not (the digest still converges, within DIGEST_MS), or that
 * it cannot be checked when CONFIG is not allowed (an edge's ACL user). */
static void notify_conf(redisAsyncContext *ac, void *reply, void *priv)
{
	struct sync_client *c = sync_link_owner(ac);
	const redisReply *r = reply;
	const char *v, *need = "Kgzxt";
	bool all;

	if (!c || !r)
		return;
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    r->element[1]->type != REDIS_REPLY_STRING) {
		/* An edge's ACL user may not run CONFIG (docs/REDIS.md): expected. */
		if (!c->notify_warned)
			pr_info("cannot check notify-keyspace-events (%s): bare writes to the lists "
				"are found by keyspace notifications if Redis sends them (see "
				"docs/REDIS.md), else by the digest within %d s",
				r->type == REDIS_REPLY_ERROR && !strncmp(r->str, "NOPERM", 6)
					? "this user may not read Redis's config"
					: r->type == REDIS_REPLY_ERROR ? r->str : "unexpected answer",
				c->cfg.digest_ms / 1000);
		c->notify_warned = true;
		return;
	}
	v = r->element[1]->str;
	all = strchr(v, 'A') != NULL;
	for (const char *n = need; *n; n++)
		if (!strchr(v, *n) && !(all && *n != 'K')) {
			c->notify_off = true;
			if (!c->notify_warned)
				pr_warn("Redis sends no keyspace notifications of the kinds the edges "
					"use (notify-keyspace-events is '%s'): a bare write to a list "
					"is found by the digest within %d s instead of at once; fix: "
					"redis-cli CONFIG SET notify-keyspace-events Kgzxte (and in "
					"redis.conf)", v, c->cfg.digest_ms / 1000);
			c->notify_warned = true;
			return;
		}
	c->notify_off = false;
}

void converge_cmd_up(struct sync_client *c)
{
	if (c->cfg.read_peers)
		sync_link_cmd(&c->cmd, notify_conf, NULL, "CONFIG GET notify-keyspace-events");
}

int converge_init(struct sync_client *c)
{
	c->pair_timer = evtimer_new(c->base, pair_timer, c);
	c->digest_due_ms = bf_mono_ms() + c->cfg.digest_ms;
	return c->pair_timer ? 0 : -ENOMEM;
}

void converge_free(struct sync_client *c)
{
	if (c->pair_timer)
		event_free(c->pair_timer);
}
