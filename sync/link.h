/* link.h - one Redis connection of the sync client: connect (through the
 * endpoint, logging in first) with a deadline of its own, a deadline on
 * every command sent through it, TCP keepalive and TCP_USER_TIMEOUT on its
 * socket, reconnect with jittered exponential backoff, and tell its owner
 * when it comes up and goes down. hiredis 0.14 has no connect or command
 * timeout, answers no PING on a subscribed connection and tears a
 * connection down on one error, so each job gets its own link and the
 * deadlines are kept here. */
#ifndef BF_SYNC_LINK_H
#define BF_SYNC_LINK_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "endpoint.h"

struct event;
struct event_base;
struct redisAsyncContext;
struct sync_stats;
struct link_cmd;

enum sync_link_state { LINK_DOWN = 0, LINK_CONNECTING, LINK_UP };

/* Why a link is not up, for the one log line per change and the reports. */
enum sync_link_fault {
	LINK_FAULT_NONE = 0,
	LINK_FAULT_UNREACHABLE, /* connect failed or timed out */
	LINK_FAULT_LOGIN,       /* Redis refused the login */
	LINK_FAULT_DEADLINE,    /* a command or a blocking read went unanswered */
	LINK_FAULT_LOST,        /* the connection closed or failed */
	LINK_FAULT_UNANSWERED,  /* connected, then closed before Redis answered: a tunnel
				 * end (stunnel) whose far end refused us, or no Redis */
	LINK_FAULT_NOT_PRIMARY, /* Sentinel: what we reached is no primary (ROLE), or a write
				 * was refused READONLY: the primary moved */
	LINK_FAULT_MOVED,       /* closed by us to go to the read replica, or back to the primary */
	LINK_FAULT_MAX
};

struct sync_link_stats {
	uint64_t connects, disconnects, connect_failures, login_failures, deadline_misses;
};

struct sync_link {
	const char *name;               /* "commands", "stream reads", "events" */
	const struct bf_endpoint *ep;   /* not owned */
	struct bf_endpoint primary;     /* what this connection goes to: *ep, or the primary the
					 * sentinels named for a Sentinel endpoint */
	int next_sentinel;              /* the sentinel asked first next time */
	bool to_sentinel;               /* connects to ep's sentinels themselves, in turn (no
					 * login: a sentinel's own), not to the primary */
	const struct bf_endpoint *replica; /* a read replica it may go to instead (not owned) */
	bool want_replica;              /* the next connection goes to the replica */
	bool at_replica;                /* this one does (no ROLE check: it is no primary) */
	struct event_base *base;
	struct redisAsyncContext *ac;
	enum sync_link_state state;
	struct event *timer;            /* connect deadline while connecting, backoff while down */
	struct event *watchdog;         /* twice a second while up: deadlines, idle PING */
	int connect_timeout_ms, backoff_ms, backoff_min_ms, backoff_max_ms;
	int cmd_timeout_ms;             /* a command's deadline unless it was given one */
	bool idle_ping;                 /* PING after a second with nothing in flight */
	struct link_cmd *head, *tail;   /* commands in flight, oldest first */
	unsigned inflight;
	int64_t last_sent_ms;
	enum sync_link_fault fault;     /* the current fault (NONE while up) */
	enum sync_link_fault logged;    /* the state last logged (NONE: "connected") */
	int64_t up_ms;                  /* when it last came up */
	enum sync_link_fault abort_why; /* set when the link tears itself down */
	char fault_msg[160];
	uint64_t rnd;                   /* jitter */
	struct sync_link_stats ls;
	struct sync_stats *st;          /* the client's totals: connects, disconnects, ... */
	void (*on_up)(struct sync_link *);
	void (*on_down)(struct sync_link *);
	void *owner;
};

/* Sets the link up (not connected yet). 0 or -ENOMEM. */
int sync_link_init(struct sync_link *l, struct event_base *base, const struct bf_endpoint *ep,
		   const char *name, int connect_timeout_ms, int backoff_min_ms, int backoff_max_ms,
		   int cmd_timeout_ms, struct sync_stats *st, void (*up)(struct sync_link *),
		   void (*down)(struct sync_link *), void *owner);
/* Connects now; keeps trying until it is closed. */
void sync_link_start(struct sync_link *l);
void sync_link_close(struct sync_link *l);
/* Tears the connection down now (its commands get a NULL reply, its owner
 * on_down) and reconnects after the backoff; `why` is what is logged. */
void sync_link_abort(struct sync_link *l, enum sync_link_fault why, const char *msg);

/* Where the link's reads go (l->replica must be set to move to it): a link up
 * elsewhere is closed and reconnects there at once; one down reconnects there
 * now. `msg` is logged by the caller, not here. */
void sync_link_move(struct sync_link *l, bool to_replica);

static inline bool sync_link_up(const struct sync_link *l)
{
	return l->state == LINK_UP;
}

/* "up", "connecting", "unreachable", "login refused", "deadline", "lost":
 * what the heartbeat and /metrics report. */
const char *sync_link_state_name(const struct sync_link *l);

/* A command with a deadline: cb(ac, reply, priv) exactly once, with the
 * reply, or NULL when the connection went away first (also when it was torn
 * down for a missed deadline). cb may be NULL. deadline_ms 0 takes the
 * link's; a blocking read gives its BLOCK time plus a margin. 0, -ENOTCONN
 * (not up: cb is not called) or -ENOMEM. Subscriptions, whose callbacks
 * run once per message, go to hiredis directly. */
typedef void (*sync_link_cb)(struct redisAsyncContext *ac, void *reply, void *priv);
/* fmt is hiredis's: printf's plus %b (pointer, length) for binary data. */
int sync_link_cmd(struct sync_link *l, sync_link_cb cb, void *priv, const char *fmt, ...);
int sync_link_vcmd(struct sync_link *l, sync_link_cb cb, void *priv, const char *fmt,
		   va_list ap);
int sync_link_cmd_argv(struct sync_link *l, int deadline_ms, sync_link_cb cb, void *priv,
		       int argc, const char **argv, const size_t *lens);

/* Sends what was queued on the link now, not when the event loop next runs:
 * a command queued inside a reply's callback (the next page of a scan) is
 * then answered while the callback goes on. What the socket does not take
 * now is sent by the loop as usual. */
void sync_link_send_now(struct sync_link *l);

/* The owner of the link a hiredis callback came from, or NULL when the
 * connection is gone (hiredis then calls every pending callback with a NULL
 * reply, before the disconnect callback). */
void *sync_link_owner(const struct redisAsyncContext *ac);

#endif
