/* subscriber.c - the event channels: every <prefix>evt:<origin> frame
 * (validated; an edge that says it is up is followed at once), the A2S
 * refreshers' announcements on <prefix>a2s, and our own ping echo on
 * <prefix>ping:<origin>, which tells a subscribed link that still receives
 * from one that silently stopped. */
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <string.h>

#include "client_int.h"
#include "clock.h"
#include "log.h"

/* Anyone who can PUBLISH can send junk: one log line per 10 s at most. */
static void bad_frame(struct sync_client *c, const redisReply *ch, const char *what)
{
	int64_t now = bf_wall_ms();

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
	struct sync_client *c = sync_link_owner(ac);
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
	if (bf_evt_decode((const uint8_t *)msg->str, msg->len, bf_wall_ms(), &ev, &what)) {
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
	if (ev.type == BF_EVT_EDGE_UP && !reader_stream(c, BF_KIND_WL, origin)) {
		c->peers_at = 0;
		reader_refresh_peers(c);
	}
	if (c->h.on_event)
		c->h.on_event(c->h.ctx, &ev);
}

/* A refresher stored an A2S cache key: the message is its name. */
static void on_a2s_msg(redisAsyncContext *ac, void *reply, void *priv)
{
	struct sync_client *c = sync_link_owner(ac);
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

/* Our ping came back. */
static void on_ping(redisAsyncContext *ac, void *reply, void *priv)
{
	struct sync_client *c = sync_link_owner(ac);
	const redisReply *r = reply;

	if (c && r && r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
	    r->element[0]->type == REDIS_REPLY_STRING && !strcmp(r->element[0]->str, "message"))
		c->echo_ms = bf_mono_ms();
}

static void ping_published(redisAsyncContext *ac, void *reply, void *priv)
{
	struct sync_client *c = sync_link_owner(ac);
	const redisReply *r = reply;

	if (c && r && r->type == REDIS_REPLY_INTEGER)
		c->ping_acked_ms = bf_mono_ms();
}

void subscriber_up(struct sync_link *l)
{
	struct sync_client *c = l->owner;
	char ch[BF_KEY_MAX];

	/* PING on a subscribed connection never answers in hiredis 0.14, and
	 * this connection sends nothing else: its liveness is our own ping
	 * coming back (subscriber_tick). */
	redisAsyncCommand(l->ac, on_frame, NULL, "PSUBSCRIBE %sevt:*", c->prefix);
	bf_key_a2s_channel(ch, sizeof(ch), c->prefix);
	redisAsyncCommand(l->ac, on_a2s_msg, NULL, "SUBSCRIBE %s", ch);
	bf_key_ping(ch, sizeof(ch), c->prefix, c->origin);
	redisAsyncCommand(l->ac, on_ping, NULL, "SUBSCRIBE %s", ch);
	converge_subscribe(c, l);
	c->sub_up_ms = bf_mono_ms();
	c->echo_ms = 0;
}

void subscriber_down(struct sync_link *l)
{
}

/* Once a second: a ping to ourselves through Redis. When Redis has taken
 * one since the last echo and none came back for ECHO_DEADLINE_MS, the
 * events link is dead whatever TCP says (a tunnel whose far side is gone, a
 * Redis that dropped the connection's state): it is torn down and made
 * again, and the logs catch up anything missed. */
#define ECHO_DEADLINE_MS 5000
void subscriber_tick(struct sync_client *c)
{
	int64_t now = bf_mono_ms(), last;
	char ch[BF_KEY_MAX];

	if (!c->cfg.read_peers || !sync_link_up(&c->sub))
		return;
	last = c->echo_ms > c->sub_up_ms ? c->echo_ms : c->sub_up_ms;
	if (now - last > ECHO_DEADLINE_MS && c->ping_acked_ms > last) {
		char msg[96];

		snprintf(msg, sizeof(msg), "our own ping did not come back for %lld ms",
			 (long long)(now - last));
		sync_link_abort(&c->sub, LINK_FAULT_DEADLINE, msg);
		return;
	}
	bf_key_ping(ch, sizeof(ch), c->prefix, c->origin);
	sync_link_cmd(&c->cmd, ping_published, NULL, "PUBLISH %s %lld", ch, (long long)now);
}

