/* link.c - one Redis connection: connect with a deadline, log in, back off,
 * reconnect, and say up/down to its owner. */
#include <errno.h>
#include <event2/event.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdio.h>

#include "link.h"
#include "log.h"
#include "sync.h" /* struct sync_stats */

void *sync_link_owner(const redisAsyncContext *ac)
{
	const struct sync_link *l = ac ? ac->data : NULL;

	return l ? l->owner : NULL;
}

static void link_retry(struct sync_link *l)
{
	struct timeval tv = { .tv_sec = l->backoff_ms / 1000,
			      .tv_usec = (l->backoff_ms % 1000) * 1000 };

	l->state = LINK_DOWN;
	evtimer_add(l->timer, &tv);
	l->backoff_ms *= 2;
	if (l->backoff_ms > l->backoff_max_ms)
		l->backoff_ms = l->backoff_max_ms;
}

static void link_ready(struct sync_link *l)
{
	char where[BF_ENDPOINT_STRLEN];

	evtimer_del(l->timer);
	l->state = LINK_UP;
	l->backoff_ms = l->backoff_min_ms;
	l->st->connects++;
	pr_info("redis %s (%s): connected", bf_endpoint_str(l->ep, where, sizeof(where)), l->name);
	l->on_up(l);
}

/* The reply to the AUTH queued before anything else: only a link that is
 * logged in is up. */
static void on_auth(redisAsyncContext *ac, void *reply, void *priv)
{
	struct sync_link *l = ac->data;
	const redisReply *r = reply;
	char where[BF_ENDPOINT_STRLEN];

	if (!l || !r)
		return;
	if (r->type == REDIS_REPLY_ERROR) {
		pr_err("redis %s (%s): login refused: %s", bf_endpoint_str(l->ep, where, sizeof(where)),
		       l->name, r->str);
		l->st->connect_failures++;
		redisAsyncDisconnect(ac);
		return;
	}
	link_ready(l);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
	struct sync_link *l = ac->data;
	char where[BF_ENDPOINT_STRLEN];

	if (!l)
		return;
	if (status != REDIS_OK) {
		/* hiredis frees the context after this callback. */
		evtimer_del(l->timer);
		l->ac = NULL;
		l->st->connect_failures++;
		pr_debug("redis %s (%s): connect failed: %s",
			 bf_endpoint_str(l->ep, where, sizeof(where)), l->name, ac->errstr);
		link_retry(l);
		return;
	}
	if (!l->ep->has_pass)
		link_ready(l);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
	struct sync_link *l = ac->data;
	char where[BF_ENDPOINT_STRLEN];
	int was_up;

	if (!l)
		return;
	evtimer_del(l->timer);
	was_up = l->state == LINK_UP;
	l->ac = NULL;
	if (was_up) {
		l->st->disconnects++;
		pr_warn("redis %s (%s): connection lost (%s); the data plane keeps its tables, "
			"retrying",
			bf_endpoint_str(l->ep, where, sizeof(where)), l->name,
			status == REDIS_OK ? "closed" : ac->errstr);
		l->on_down(l);
	}
	link_retry(l);
}

static void link_timer(evutil_socket_t fd, short what, void *arg)
{
	struct sync_link *l = arg;
	char where[BF_ENDPOINT_STRLEN];

	if (l->state == LINK_CONNECTING) {
		redisAsyncContext *ac = l->ac;

		/* hiredis 0.14 has no connect timeout: ours gives up here. */
		pr_debug("redis %s (%s): not connected within %d ms",
			 bf_endpoint_str(l->ep, where, sizeof(where)), l->name, l->connect_timeout_ms);
		l->st->connect_failures++;
		l->ac = NULL;
		ac->data = NULL;
		redisAsyncFree(ac);
		link_retry(l);
	} else if (l->state == LINK_DOWN) {
		sync_link_start(l);
	}
}

void sync_link_start(struct sync_link *l)
{
	struct timeval tv = { .tv_sec = l->connect_timeout_ms / 1000,
			      .tv_usec = (l->connect_timeout_ms % 1000) * 1000 };
	char err[256];
	redisAsyncContext *ac = bf_redis_connect_async(l->ep, on_auth, NULL, err, sizeof(err));

	if (!ac) {
		pr_debug("%s (%s)", err, l->name);
		l->st->connect_failures++;
		link_retry(l);
		return;
	}
	ac->data = l;
	redisLibeventAttach(ac, l->base);
	redisAsyncSetConnectCallback(ac, on_connect);
	redisAsyncSetDisconnectCallback(ac, on_disconnect);
	l->ac = ac;
	l->state = LINK_CONNECTING;
	evtimer_add(l->timer, &tv);
}

int sync_link_init(struct sync_link *l, struct event_base *base, const struct bf_endpoint *ep,
		   const char *name, int connect_timeout_ms, int backoff_min_ms, int backoff_max_ms,
		   struct sync_stats *st, void (*up)(struct sync_link *),
		   void (*down)(struct sync_link *), void *owner)
{
	l->name = name;
	l->ep = ep;
	l->base = base;
	l->connect_timeout_ms = connect_timeout_ms;
	l->backoff_min_ms = l->backoff_ms = backoff_min_ms;
	l->backoff_max_ms = backoff_max_ms;
	l->st = st;
	l->on_up = up;
	l->on_down = down;
	l->owner = owner;
	l->timer = evtimer_new(base, link_timer, l);
	return l->timer ? 0 : -ENOMEM;
}

void sync_link_close(struct sync_link *l)
{
	if (l->ac) {
		l->ac->data = NULL;
		redisAsyncFree(l->ac);
		l->ac = NULL;
	}
	if (l->timer)
		event_free(l->timer);
	l->timer = NULL;
	l->state = LINK_DOWN;
}
