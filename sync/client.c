/* client.c - the sync client of libbifrost-sync (sync.h): its three links
 * (commands, stream reads, event channels) and the small commands owners
 * send with a callback. No redisReply leaves the library. */
#include <errno.h>
#include <event2/event.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bounded.h"
#include "client_int.h"
#include "clock.h"
#include "log.h"

int64_t sync_now_ms(void)
{
	return bf_wall_ms();
}

static void cmd_up(struct sync_link *l)
{
	struct sync_client *c = l->owner;

	instance_up(c);
	reader_cmd_up(c);
	converge_cmd_up(c);
}

static void cmd_down(struct sync_link *l)
{
	struct sync_client *c = l->owner;

	writer_stop(c);
	confload_down(c, l);
	reader_cmd_down(c);
	replica_cmd_down(c);
}

/* ---- Redis Sentinel: +switch-master ---- */

/* A sentinel's "+switch-master <master> <old ip> <old port> <new ip> <new port>": the
 * links to the old primary go down now and find the new one (each asks the sentinels and
 * checks ROLE), rather than when the old one dies, refuses a write or is killed. */
static void on_switch(redisAsyncContext *ac, void *reply, void *priv)
{
	struct sync_client *c = sync_link_owner(ac);
	const redisReply *r = reply;
	const redisReply *m;
	size_t ml = strlen(c ? c->ep.master : "");
	char msg[160];

	if (!c || !r || r->type != REDIS_REPLY_ARRAY || r->elements != 3)
		return;
	m = r->element[2];
	if (m->type != REDIS_REPLY_STRING || m->len <= ml || memcmp(m->str, c->ep.master, ml) ||
	    m->str[ml] != ' ')
		return; /* the subscribe confirmation, or another master's */
	c->st.primary_switches++;
	snprintf(msg, sizeof(msg), "the sentinels switched %.*s", (int)(m->len < 120 ? m->len : 120),
		 m->str);
	/* "<master> <old ip> <old port> <new ip> <new port>": a link already on the new
	 * primary (it asked the sentinels after the switch) stays. */
	char nhost[BF_HOST_MAX + 1] = "";
	unsigned nport = 0;
	struct sync_link *links[] = { &c->cmd, &c->rd, &c->sub };

	if (sscanf(msg + strlen("the sentinels switched ") + ml, "%*s %*s %253s %u", nhost,
		   &nport) != 2)
		nhost[0] = '\0';
	pr_warn("sentinel: %s; moving every connection to the new primary", msg);
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++)
		if (links[i]->at_replica)
			continue; /* the replica checks judge a link on the read replica */
		else if (!nhost[0] || strcmp(links[i]->primary.host, nhost) ||
		    links[i]->primary.port != nport)
			sync_link_abort(links[i], LINK_FAULT_NOT_PRIMARY, msg);
}

static void sen_up(struct sync_link *l)
{
	/* PING is no command on a subscribed connection: keepalive and TCP_USER_TIMEOUT
	 * find a dead sentinel. */
	redisAsyncCommand(l->ac, on_switch, NULL, "SUBSCRIBE +switch-master");
}

static void sen_down(struct sync_link *l)
{
}

static void client_tick(evutil_socket_t fd, short what, void *arg)
{
	struct sync_client *c = arg;
	struct timeval tv = { .tv_sec = 1 };

	reader_tick(c);
	subscriber_tick(c);
	writer_tick(c);
	instance_tick(c);
	converge_tick(c);
	evtimer_add(c->tick, &tv);
}

struct sync_client *sync_client_new(struct event_base *base, const struct sync_config *cfg,
				    const struct sync_handlers *h)
{
	struct sync_client *c;
	int rc;

	if (!cfg->endpoint ||
	    !(bf_endpoint_is_sentinel(cfg->endpoint) ? cfg->endpoint->n_sentinels > 0 :
						       cfg->endpoint->host[0] && cfg->endpoint->port) ||
	    !cfg->origin ||
	    !bf_origin_valid(cfg->origin) || (cfg->prefix && !bf_prefix_valid(cfg->prefix)) ||
	    !h->on_record) {
		pr_err("sync: bad configuration (endpoint, origin or prefix)");
		return NULL;
	}
	if (cfg->read_peers && !strcmp(cfg->origin, "ops")) {
		pr_err("sync: 'ops' is the operators' origin; an edge needs an id of its own");
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->base = base;
	c->cfg = *cfg;
	c->h = *h;
	c->ep = *cfg->endpoint;
	snprintf(c->prefix, sizeof(c->prefix), "%s", cfg->prefix ? cfg->prefix : BF_PREFIX_DEFAULT);
	snprintf(c->origin, sizeof(c->origin), "%s", cfg->origin);
	/* The caller's strings need not outlive this call. */
	c->cfg.endpoint = &c->ep;
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
	DEF(cmd_timeout_ms, 5000);
	DEF(backoff_min_ms, 100);
	DEF(backoff_max_ms, 5000);
	DEF(block_ms, 1000);
	DEF(read_count, 1000);
	DEF(retention_ms, 24LL * 3600 * 1000);
	DEF(log_maxlen, 50000);
	DEF(prune_ms, 1000);
	DEF(digest_ms, 10000);
	DEF(max_pending, 65536);
#undef DEF
#define LINK(l, name, up, down)                                                              \
	sync_link_init(&c->l, base, &c->ep, name, c->cfg.connect_timeout_ms,                  \
		       c->cfg.backoff_min_ms, c->cfg.backoff_max_ms, c->cfg.cmd_timeout_ms, &c->st, \
		       up, down, c)
	c->q = calloc(c->cfg.max_pending, sizeof(*c->q));
	c->tick = evtimer_new(base, client_tick, c);
	rc = !c->q || !c->tick || reader_init(c) || writer_init(c) || converge_init(c) || LINK(cmd, "commands", cmd_up, cmd_down) ||
	     (cfg->read_peers && LINK(rd, "stream reads", reader_link_up, reader_link_down)) ||
	     (cfg->read_peers && LINK(sub, "events", subscriber_up, subscriber_down)) ||
	     (bf_endpoint_is_sentinel(&c->ep) && LINK(sen, "sentinel", sen_up, sen_down));
#undef LINK
	if (!cfg->read_peers)
		c->cfg.replica = NULL; /* nothing it reads is worth a second connection */
	if (rc) {
		sync_client_free(c);
		return NULL;
	}
	c->cmd.idle_ping = true;
	c->rd.idle_ping = true;
	instance_token_new(c);
	reader_cursors_load(c);
	if (cfg->read_peers)
		reader_cursors_changed(c); /* the token is in the state file soon */
	c->sen.to_sentinel = true;
	sync_link_start(&c->cmd);
	if (cfg->read_peers) {
		sync_link_start(&c->rd);
		sync_link_start(&c->sub);
	}
	if (bf_endpoint_is_sentinel(&c->ep))
		sync_link_start(&c->sen);
	if (replica_init(c)) {
		sync_client_free(c);
		return NULL;
	}
	client_tick(-1, 0, c);
	return c;
}

void sync_client_free(struct sync_client *c)
{
	if (!c)
		return;
	reader_cursors_save_now(c);
	sync_link_close(&c->cmd);
	sync_link_close(&c->rd);
	sync_link_close(&c->sub);
	sync_link_close(&c->sen);
	replica_free(c);
	reader_free(c);
	writer_free(c);
	converge_free(c);
	if (c->tick)
		event_free(c->tick);
	free(c->q);
	free(c->state_path);
	free(c);
}

int sync_client_cmd(struct sync_client *c, const char *fmt, ...)
{
	va_list ap;
	int rc;

	if (!sync_link_up(&c->cmd))
		return -ENOTCONN;
	va_start(ap, fmt);
	rc = sync_link_vcmd(&c->cmd, NULL, NULL, fmt, ap);
	va_end(ap);
	return rc;
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
	int rc;

	if (!sync_link_up(&c->cmd))
		return -ENOTCONN;
	d = malloc(sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->done = done;
	d->ctx = ctx;
	rc = sync_link_cmd_argv(&c->cmd, 0, cmd_done, d, argc, argv, lens);
	if (rc)
		free(d);
	return rc;
}

/* ---- reads with a callback: no redisReply leaves this file ---- */

struct fetch {
	struct sync_client *c;
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

	/* GETRANGE sent max + 1 bytes at most: one more than max is a value too big. */
	if (r && r->type == REDIS_REPLY_STRING && r->len > f->max)
		sync_refused(f->c, "a2s", "too_big", f->key, r->len, f->max, "");
	else if (r && r->type == REDIS_REPLY_STRING && r->len && (f->val = malloc(r->len + 1))) {
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
	struct sync_link *l;
	struct fetch *f;

	if (!sync_link_up(&c->cmd))
		return -ENOTCONN;
	if (strlen(key) >= BF_KEY_MAX || !(f = calloc(1, sizeof(*f))))
		return -EINVAL;
	f->c = c;
	f->cb = cb;
	f->ctx = ctx;
	f->max = max_len;
	snprintf(f->key, sizeof(f->key), "%s", key);
	/* Two commands back to back: the PTTL callback always runs last, and
	 * runs (reply NULL) if the connection goes away in between. */
	l = sync_read_link(c);
	sync_link_cmd(l, fetch_get, f, "GETRANGE %s 0 %llu", key, (unsigned long long)max_len);
	sync_link_cmd(l, fetch_pttl, f, "PTTL %s", key);
	return 0;
}

struct hget {
	struct sync_client *c;
	sync_hash_cb cb;
	void *ctx;
	char key[BF_KEY_MAX];
};

static void hgetall_done(redisAsyncContext *ac, void *reply, void *priv)
{
	const redisReply *r = reply;
	struct hget *h = priv;
	struct bf_field f[64];
	size_t n = 0;

	if (r && sync_read_refused(h->c, "a2s", h->key, r))
		r = NULL;
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

	if (!sync_link_up(&c->cmd))
		return -ENOTCONN;
	if (!(h = calloc(1, sizeof(*h))))
		return -ENOMEM;
	h->c = c;
	h->cb = cb;
	h->ctx = ctx;
	snprintf(h->key, sizeof(h->key), "%s", key);
	sync_read_hash(sync_read_link(c), hgetall_done, h, key, 64, 256, 256);
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
	const struct sync_link *links[SYNC_LINKS] = { &c->cmd, &c->rd, &c->sub };

	*st = c->st;
	replica_stats(c, st);
	st->pending = c->q_len;
	st->peers = c->n_streams / BF_KIND_MAX;
	st->bad_logs = 0;
	for (unsigned i = 0; i < c->n_streams; i++)
		st->bad_logs += c->streams[i].fault;
	for (int i = 0; i < SYNC_LINKS; i++)
		st->link_state[i] = i == SYNC_LINK_CMD || c->cfg.read_peers
					    ? sync_link_state_name(links[i])
					    : "off";
}
