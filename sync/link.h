/* link.h - one Redis connection of the sync client: connect (through the
 * endpoint, logging in first) with a deadline of its own, reconnect with
 * backoff from both the connect and the disconnect callbacks, and tell its
 * owner when it comes up and goes down. hiredis 0.14 has no connect
 * timeout, answers no PING on a subscribed connection and tears a
 * connection down on one error, so each job gets its own link. */
#ifndef BF_SYNC_LINK_H
#define BF_SYNC_LINK_H

#include <stdbool.h>
#include <stdint.h>

#include "endpoint.h"

struct event;
struct event_base;
struct redisAsyncContext;
struct sync_stats;

enum sync_link_state { LINK_DOWN = 0, LINK_CONNECTING, LINK_UP };

struct sync_link {
	const char *name;               /* "commands", "stream reads", "events" */
	const struct bf_endpoint *ep;   /* not owned */
	struct event_base *base;
	struct redisAsyncContext *ac;
	enum sync_link_state state;
	struct event *timer;            /* connect deadline while connecting, backoff while down */
	int connect_timeout_ms, backoff_ms, backoff_min_ms, backoff_max_ms;
	struct sync_stats *st;          /* connects, disconnects, connect_failures */
	void (*on_up)(struct sync_link *);
	void (*on_down)(struct sync_link *);
	void *owner;
};

/* Sets the link up (not connected yet). 0 or -ENOMEM. */
int sync_link_init(struct sync_link *l, struct event_base *base, const struct bf_endpoint *ep,
		   const char *name, int connect_timeout_ms, int backoff_min_ms, int backoff_max_ms,
		   struct sync_stats *st, void (*up)(struct sync_link *),
		   void (*down)(struct sync_link *), void *owner);
/* Connects now; keeps trying until it is closed. */
void sync_link_start(struct sync_link *l);
void sync_link_close(struct sync_link *l);

static inline bool sync_link_up(const struct sync_link *l)
{
	return l->state == LINK_UP;
}

/* The owner of the link a hiredis callback came from, or NULL when the
 * connection is gone (hiredis then calls every pending callback with a NULL
 * reply, before the disconnect callback). */
void *sync_link_owner(const struct redisAsyncContext *ac);

#endif
