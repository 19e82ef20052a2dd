/* link.c - one Redis connection: connect with a deadline, log in, keep a
 * deadline on every command, back off with jitter, reconnect, and say
 * up/down to its owner (one log line per change of state). */
#include <errno.h>
#include <event2/event.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "link.h"
#include "log.h"
#include "sync.h" /* struct sync_stats */

#define WATCHDOG_MS 500
#define IDLE_PING_MS 1000
#define STABLE_MS 1000   /* up this long: "connected", and the backoff starts over */

/* A command in flight. Redis answers in order, so the oldest is the head. */
struct link_cmd {
	struct link_cmd *next, *prev;
	struct sync_link *l;
	sync_link_cb cb;
	void *priv;
	int64_t sent_ms, due_ms;
};

static const char *const fault_names[LINK_FAULT_MAX] = {
	[LINK_FAULT_NONE] = "up",
	[LINK_FAULT_UNREACHABLE] = "unreachable",
	[LINK_FAULT_LOGIN] = "login refused",
	[LINK_FAULT_DEADLINE] = "deadline",
	[LINK_FAULT_LOST] = "lost",
	[LINK_FAULT_UNANSWERED] = "unanswered",
	[LINK_FAULT_MOVED] = "moving",
	[LINK_FAULT_NOT_PRIMARY] = "not primary",
};

/* How long each sentinel may take to name the primary: they are asked in turn, from
 * the event loop, so a dead one costs at most this. */
#define SENTINEL_ASK_MS 250

void *sync_link_owner(const redisAsyncContext *ac)
{
	const struct sync_link *l = ac ? ac->data : NULL;

	return l ? l->owner : NULL;
}

const char *sync_link_state_name(const struct sync_link *l)
{
	if (l->state == LINK_UP)
		return "up";
	if (l->fault == LINK_FAULT_NONE)
		return "connecting";
	return fault_names[l->fault];
}

/* The state changed: one line, at a level that says how bad it is. A fault
 * that repeats (Redis still away, the login still refused, a connection
 * that comes up and drops again) is not logged again until the link has
 * been up for a while; its attempts are counted. */
static void link_fault(struct sync_link *l, enum sync_link_fault f, const char *msg)
{
	char where[BF_ENDPOINT_STRLEN];

	l->fault = f;
	snprintf(l->fault_msg, sizeof(l->fault_msg), "%s", msg ? msg : "");
	if (f == l->logged)
		return;
	l->logged = f;
	bf_endpoint_str(l->primary.host[0] ? &l->primary : l->ep, where, sizeof(where));
	switch (f) {
	case LINK_FAULT_NOT_PRIMARY:
		pr_warn("redis %s (%s): not the primary of %s (%s): asking the sentinels again",
			where, l->name, l->ep->master[0] ? l->ep->master : "this fleet", l->fault_msg);
		break;
	case LINK_FAULT_LOGIN:
		pr_err("redis %s (%s): login refused: %s; check the user and password "
		       "(redis_auth_file, REDISCLI_AUTH); retrying with backoff up to %d ms",
		       where, l->name, l->fault_msg, l->backoff_max_ms);
		break;
	case LINK_FAULT_UNREACHABLE:
		pr_warn("redis %s (%s): unreachable (%s); the data plane keeps its tables, "
			"retrying with backoff up to %d ms",
			where, l->name, l->fault_msg, l->backoff_max_ms);
		break;
	case LINK_FAULT_UNANSWERED:
		pr_warn("redis %s (%s): connection closed before Redis answered (%s): a tunnel "
			"refusing us (wrong key?) or nothing behind it; retrying with backoff up "
			"to %d ms",
			where, l->name, l->fault_msg, l->backoff_max_ms);
		break;
	case LINK_FAULT_DEADLINE:
	case LINK_FAULT_LOST:
		pr_warn("redis %s (%s): connection %s (%s); the data plane keeps its tables, "
			"reconnecting",
			where, l->name, f == LINK_FAULT_DEADLINE ? "dead" : "lost", l->fault_msg);
		break;
	default:
		break;
	}
}

static uint64_t link_rand(struct sync_link *l)
{
	/* xorshift64*: jitter only, not a secret */
	l->rnd ^= l->rnd >> 12;
	l->rnd ^= l->rnd << 25;
	l->rnd ^= l->rnd >> 27;
	return l->rnd * 0x2545F4914F6CDD1DULL;
}

/* Waits half the backoff plus a random part of the other half (so a fleet
 * that lost Redis together does not come back in step), then doubles it. */
static void link_retry(struct sync_link *l)
{
	int half = l->backoff_ms / 2;
	int wait = half + (half > 0 ? (int)(link_rand(l) % (uint64_t)(half + 1)) : 0);
	struct timeval tv = { .tv_sec = wait / 1000, .tv_usec = (wait % 1000) * 1000 };

	l->state = LINK_DOWN;
	evtimer_add(l->timer, &tv);
	l->backoff_ms *= 2;
	if (l->backoff_ms > l->backoff_max_ms)
		l->backoff_ms = l->backoff_max_ms;
}

static void link_ready(struct sync_link *l)
{
	struct timeval tv = { .tv_usec = WATCHDOG_MS * 1000 };

	evtimer_del(l->timer);
	l->state = LINK_UP;
	l->up_ms = l->last_sent_ms = bf_mono_ms();
	l->ls.connects++;
	l->st->connects++;
	l->fault = LINK_FAULT_NONE;
	l->fault_msg[0] = '\0';
	event_add(l->watchdog, &tv);
	/* "connected" is logged, and the backoff starts over, once the link has
	 * stayed up a while (link_watchdog): a Redis that accepts and then
	 * drops every connection is neither hammered nor logged each time. */
	l->on_up(l);
}

static void link_stable(struct sync_link *l)
{
	char where[BF_ENDPOINT_STRLEN];

	l->backoff_ms = l->backoff_min_ms;
	if (l->logged == LINK_FAULT_NONE)
		return;
	l->logged = LINK_FAULT_NONE;
	if (l->at_replica)
		pr_info("redis %s (%s): connected to the read replica",
			bf_endpoint_str(&l->primary, where, sizeof(where)), l->name);
	else if (l->to_sentinel)
		pr_info("sentinel %s (%s): connected, following %s",
			bf_endpoint_str(&l->primary, where, sizeof(where)), l->name, l->ep->master);
	else if (bf_endpoint_is_sentinel(l->ep))
		pr_info("redis %s (%s): connected to the primary of %s",
			bf_endpoint_str(&l->primary, where, sizeof(where)), l->name, l->ep->master);
	else
		pr_info("redis %s (%s): connected", bf_endpoint_str(l->ep, where, sizeof(where)),
			l->name);
}

/* Sentinel: the Redis the sentinels named must say it is the primary (a sentinel that
 * has not seen a failover yet names the old one, which may be back as a replica). */
static void on_role(redisAsyncContext *ac, void *reply, void *priv)
{
	struct sync_link *l = ac->data;
	const redisReply *r = reply;
	char msg[96];

	if (!l || !r)
		return;
	if (bf_role_is_master(r)) {
		link_ready(l);
		return;
	}
	snprintf(msg, sizeof(msg), "ROLE says %.40s",
		 r->type == REDIS_REPLY_ARRAY && r->elements && r->element[0]->str ?
			 r->element[0]->str : r->type == REDIS_REPLY_ERROR ? r->str : "nothing");
	link_fault(l, LINK_FAULT_NOT_PRIMARY, msg);
	l->abort_why = LINK_FAULT_NOT_PRIMARY;
	redisAsyncDisconnect(ac);
}

/* The reply to the command queued before anything else (AUTH, or PING
 * without credentials): only a link Redis has answered, and that is logged
 * in, is up (for a Sentinel endpoint: and ROLE says it is the primary). A TCP
 * connect alone proves nothing through a tunnel: its local end accepts
 * whatever the far end then does. */
static void on_hello(redisAsyncContext *ac, void *reply, void *priv)
{
	struct sync_link *l = ac->data;
	const redisReply *r = reply;

	if (!l || !r)
		return;
	if (r->type == REDIS_REPLY_ERROR) {
		l->ls.login_failures++;
		l->st->login_failures++;
		link_fault(l, LINK_FAULT_LOGIN, r->str);
		l->abort_why = LINK_FAULT_LOGIN;
		redisAsyncDisconnect(ac);
		return;
	}
	if (bf_endpoint_is_sentinel(l->ep) && !l->to_sentinel && !l->at_replica) {
		redisAsyncCommand(ac, on_role, NULL, "ROLE");
		return;
	}
	link_ready(l);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
	struct sync_link *l = ac->data;

	if (!l)
		return;
	if (status != REDIS_OK) {
		/* hiredis frees the context after this callback. */
		evtimer_del(l->timer);
		l->ac = NULL;
		l->ls.connect_failures++;
		l->st->connect_failures++;
		link_fault(l, LINK_FAULT_UNREACHABLE, ac->errstr);
		link_retry(l);
		return;
	}
	/* Up when the first command is answered (on_hello), within the connect
	 * deadline. */
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
	struct sync_link *l = ac->data;
	enum sync_link_fault why;
	bool was_up;

	if (!l)
		return;
	evtimer_del(l->timer);
	event_del(l->watchdog);
	was_up = l->state == LINK_UP;
	why = l->abort_why;
	l->abort_why = LINK_FAULT_NONE;
	l->ac = NULL;
	if (was_up) {
		l->ls.disconnects++;
		l->st->disconnects++;
		if (why != LINK_FAULT_DEADLINE && why != LINK_FAULT_NOT_PRIMARY &&
		    why != LINK_FAULT_MOVED)
			link_fault(l, LINK_FAULT_LOST, status == REDIS_OK ? "closed" : ac->errstr);
		l->state = LINK_DOWN;
		l->on_down(l);
	} else if (why == LINK_FAULT_NOT_PRIMARY || why == LINK_FAULT_MOVED) {
		l->ls.connect_failures++;
		l->st->connect_failures++;
	} else if (why == LINK_FAULT_NONE) {
		l->ls.connect_failures++;
		l->st->connect_failures++;
		/* Connected, then closed with no reply (a login refused is
		 * LINK_FAULT_LOGIN, set before it disconnects). */
		link_fault(l, LINK_FAULT_UNANSWERED, status == REDIS_OK ? "closed" : ac->errstr);
	}
	if (why == LINK_FAULT_MOVED)
		l->backoff_ms = l->backoff_min_ms; /* moved on purpose: soon, with jitter (a
						    * region's edges do not all move at once) */
	link_retry(l);
}

static void link_timer(evutil_socket_t fd, short what, void *arg)
{
	struct sync_link *l = arg;

	if (l->state == LINK_CONNECTING) {
		redisAsyncContext *ac = l->ac;
		char msg[64];

		/* hiredis 0.14 has no connect timeout: ours gives up here. */
		snprintf(msg, sizeof(msg), "not connected within %d ms", l->connect_timeout_ms);
		l->ls.connect_failures++;
		l->st->connect_failures++;
		link_fault(l, LINK_FAULT_UNREACHABLE, msg);
		l->ac = NULL;
		ac->data = NULL;
		redisAsyncFree(ac);
		link_retry(l);
	} else if (l->state == LINK_DOWN) {
		sync_link_start(l);
	}
}

void sync_link_abort(struct sync_link *l, enum sync_link_fault why, const char *msg)
{
	redisAsyncContext *ac = l->ac;

	if (!ac || l->state != LINK_UP)
		return;
	if (why == LINK_FAULT_DEADLINE) {
		l->ls.deadline_misses++;
		l->st->deadline_misses++;
	}
	link_fault(l, why, msg);
	l->abort_why = why;
	/* Pending callbacks get NULL, then on_disconnect runs (hiredis calls it
	 * from redisAsyncFree for a connected context). */
	redisAsyncFree(ac);
}

void sync_link_move(struct sync_link *l, bool to_replica)
{
	l->want_replica = to_replica && l->replica;
	if (l->state == LINK_UP && l->at_replica != l->want_replica) {
		sync_link_abort(l, LINK_FAULT_MOVED,
				l->want_replica ? "to the read replica" : "to the primary");
	} else if (l->state != LINK_UP && l->timer && l->at_replica != l->want_replica) {
		/* Connecting to, or waiting out a backoff against, where it no
		 * longer goes: start over towards the other now. */
		redisAsyncContext *ac = l->ac;

		evtimer_del(l->timer);
		if (ac) {
			l->ac = NULL;
			ac->data = NULL;
			redisAsyncFree(ac);
		}
		l->backoff_ms = l->backoff_min_ms;
		sync_link_start(l);
	}
}

static void link_cmd_unlink(struct link_cmd *lc)
{
	struct sync_link *l = lc->l;

	if (lc->prev)
		lc->prev->next = lc->next;
	else
		l->head = lc->next;
	if (lc->next)
		lc->next->prev = lc->prev;
	else
		l->tail = lc->prev;
	l->inflight--;
}

static void link_reply(redisAsyncContext *ac, void *reply, void *priv)
{
	struct link_cmd *lc = priv;
	struct sync_link *l = lc->l;
	const redisReply *r = reply;
	bool readonly = r && r->type == REDIS_REPLY_ERROR && !strncmp(r->str, "READONLY", 8);

	link_cmd_unlink(lc);
	if (lc->cb)
		lc->cb(ac, reply, lc->priv);
	free(lc);
	/* A write refused READONLY: this Redis became a replica (a failover) under us.
	 * Reconnect, so a Sentinel endpoint finds the new primary (hiredis frees the
	 * connection once this callback returns). */
	if (readonly && ac->data == l)
		sync_link_abort(l, LINK_FAULT_NOT_PRIMARY, "a write was refused READONLY");
}

static struct link_cmd *link_cmd_new(struct sync_link *l, sync_link_cb cb, void *priv,
				     int deadline_ms)
{
	struct link_cmd *lc = calloc(1, sizeof(*lc));
	int64_t now = bf_mono_ms();

	if (!lc)
		return NULL;
	lc->l = l;
	lc->cb = cb;
	lc->priv = priv;
	lc->sent_ms = now;
	lc->due_ms = now + (deadline_ms > 0 ? deadline_ms : l->cmd_timeout_ms);
	lc->prev = l->tail;
	if (l->tail)
		l->tail->next = lc;
	else
		l->head = lc;
	l->tail = lc;
	l->inflight++;
	l->last_sent_ms = now;
	return lc;
}

int sync_link_vcmd(struct sync_link *l, sync_link_cb cb, void *priv, const char *fmt, va_list ap)
{
	struct link_cmd *lc;

	if (!sync_link_up(l))
		return -ENOTCONN;
	lc = link_cmd_new(l, cb, priv, 0);
	if (!lc)
		return -ENOMEM;
	if (redisvAsyncCommand(l->ac, link_reply, lc, fmt, ap) != REDIS_OK) {
		link_cmd_unlink(lc);
		free(lc);
		return -ENOMEM;
	}
	return 0;
}

int sync_link_cmd(struct sync_link *l, sync_link_cb cb, void *priv, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = sync_link_vcmd(l, cb, priv, fmt, ap);
	va_end(ap);
	return rc;
}

int sync_link_cmd_argv(struct sync_link *l, int deadline_ms, sync_link_cb cb, void *priv,
		       int argc, const char **argv, const size_t *lens)
{
	struct link_cmd *lc;

	if (!sync_link_up(l))
		return -ENOTCONN;
	lc = link_cmd_new(l, cb, priv, deadline_ms);
	if (!lc)
		return -ENOMEM;
	if (redisAsyncCommandArgv(l->ac, link_reply, lc, argc, argv, lens) != REDIS_OK) {
		link_cmd_unlink(lc);
		free(lc);
		return -ENOMEM;
	}
	return 0;
}

void sync_link_send_now(struct sync_link *l)
{
	int done = 0;

	/* An error here is the connection's: hiredis's own write event finds it
	 * again and the link goes down as for any lost connection. */
	if (sync_link_up(l) && l->ac)
		redisBufferWrite(&l->ac->c, &done);
}

/* Twice a second while up: the oldest command past its deadline means the
 * connection is dead (a partition, a Redis that stopped answering, a tunnel
 * whose far side is gone) even though TCP says nothing; a second with
 * nothing in flight sends a PING, so silence is noticed on an idle link too.
 * A link that has stayed up for a while starts its next backoff afresh. */
static void link_watchdog(evutil_socket_t fd, short what, void *arg)
{
	struct sync_link *l = arg;
	struct timeval tv = { .tv_usec = WATCHDOG_MS * 1000 };
	int64_t now = bf_mono_ms();

	if (l->state != LINK_UP)
		return;
	if (l->head && now > l->head->due_ms) {
		char msg[96];

		snprintf(msg, sizeof(msg), "no reply within %lld ms, %u commands in flight",
			 (long long)(now - l->head->sent_ms), l->inflight);
		sync_link_abort(l, LINK_FAULT_DEADLINE, msg);
		return;
	}
	if (now - l->up_ms >= STABLE_MS)
		link_stable(l);
	if (l->idle_ping && !l->head && now - l->last_sent_ms >= IDLE_PING_MS)
		sync_link_cmd(l, NULL, NULL, "PING");
	event_add(l->watchdog, &tv);
}

void sync_link_start(struct sync_link *l)
{
	struct timeval tv = { .tv_sec = l->connect_timeout_ms / 1000,
			      .tv_usec = (l->connect_timeout_ms % 1000) * 1000 };
	char err[256];
	redisAsyncContext *ac = NULL;

	/* A Sentinel endpoint: the primary the sentinels name now (asked from the loop,
	 * SENTINEL_ASK_MS each at most), confirmed by ROLE once connected. */
	l->at_replica = l->replica && l->want_replica && !l->to_sentinel;
	if (l->to_sentinel) {
		const struct bf_hostport *s = &l->ep->sentinels[l->next_sentinel++ % l->ep->n_sentinels];

		memset(&l->primary, 0, sizeof(l->primary));
		snprintf(l->primary.host, sizeof(l->primary.host), "%s", s->host);
		l->primary.port = s->port;
		ac = bf_redis_connect_async(&l->primary, on_hello, NULL, err, sizeof(err));
	} else if (l->at_replica) {
		l->primary = *l->replica;
		ac = bf_redis_connect_async(&l->primary, on_hello, NULL, err, sizeof(err));
	} else if (!bf_endpoint_primary(l->ep, SENTINEL_ASK_MS, &l->next_sentinel, &l->primary,
					err, sizeof(err))) {
		ac = bf_redis_connect_async(&l->primary, on_hello, NULL, err, sizeof(err));
	}
	if (!ac) {
		l->ls.connect_failures++;
		l->st->connect_failures++;
		link_fault(l, LINK_FAULT_UNREACHABLE, err);
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
		   int cmd_timeout_ms, struct sync_stats *st, void (*up)(struct sync_link *),
		   void (*down)(struct sync_link *), void *owner)
{
	l->name = name;
	l->ep = ep;
	l->base = base;
	l->connect_timeout_ms = connect_timeout_ms;
	l->backoff_min_ms = l->backoff_ms = backoff_min_ms;
	l->backoff_max_ms = backoff_max_ms;
	l->cmd_timeout_ms = cmd_timeout_ms;
	l->st = st;
	l->on_up = up;
	l->on_down = down;
	l->owner = owner;
	l->logged = LINK_FAULT_MAX; /* nothing logged yet: the first connect is */
	l->rnd = (uint64_t)bf_mono_ns() ^ (uint64_t)(uintptr_t)l ^ 0x9E3779B97F4A7C15ULL;
	if (!l->rnd)
		l->rnd = 1;
	l->timer = evtimer_new(base, link_timer, l);
	l->watchdog = evtimer_new(base, link_watchdog, l);
	return l->timer && l->watchdog ? 0 : -ENOMEM;
}

void sync_link_close(struct sync_link *l)
{
	if (l->ac) {
		redisAsyncContext *ac = l->ac;

		/* Callbacks still pending see no owner and free what they hold. */
		ac->data = NULL;
		l->ac = NULL;
		redisAsyncFree(ac);
	}
	if (l->timer)
		event_free(l->timer);
	if (l->watchdog)
		event_free(l->watchdog);
	l->timer = NULL;
	l->watchdog = NULL;
	l->state = LINK_DOWN;
}
