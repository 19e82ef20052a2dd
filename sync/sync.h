/* sync.h - libbifrost-sync: the fleet's Redis bus (docs/REDIS.md). An opaque
 * client on hiredis async + libevent with three links (commands, blocking
 * stream reads, event-channel subscriptions; sync/link.c), transactional
 * writes (writer.c), catch-up from persisted cursors and resync (reader.c),
 * event channels (subscriber.c) and the fleet config (confload.c). */
#ifndef BF_SYNC_H
#define BF_SYNC_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "endpoint.h"
#include "schema.h"

struct event_base;
struct sync_client;

/* The most the client reads of a key from Redis (docs/REDIS.md, "What an edge refuses"): a
 * key over its cap is refused before it is read (the reply would otherwise be buffered
 * whole by hiredis), reported to on_refused, and the rest goes on. 0: the default. */
struct sync_caps {
	uint32_t per_origin[BF_KIND_MAX]; /* members of a <kind>:<origin> ZSET (bf_kinds[]) */
	uint32_t conns;                   /* <prefix>conn:* hashes, default 65536 */
	uint32_t rules;                   /* fields of <prefix>rules, default BF_RULES_MAX */
	uint32_t protect;                 /* members of <prefix>protect, default 65536 */
};

struct sync_config {
	const struct bf_endpoint *endpoint; /* where Redis is and how to log in (copied) */
	const char *prefix;        /* default "bifrost:" */
	const char *origin;        /* our origin: written as, never read back */
	bool read_peers;           /* follow every other origin's logs */
	int connect_timeout_ms;    /* default 1000 */
	int cmd_timeout_ms;        /* a command unanswered this long: the link is dead, default 5000 */
	int backoff_min_ms;        /* default 100 */
	int backoff_max_ms;        /* default 5000 */
	int block_ms;              /* XREAD BLOCK, default 1000 */
	int read_count;            /* XREAD COUNT, default 1000 */
	int64_t retention_ms;      /* logs are trimmed to this age (MINID), default 24 h */
	unsigned log_maxlen;       /* and to about this many records (MAXLEN ~), default 50000 */
	int prune_ms;              /* our lists' expired members leave Redis this often, default 1000 */
	int digest_ms;             /* ZCARD vs the log's count, every list this often, default 10 s */
	unsigned max_pending;      /* writes buffered while Redis is away, default 65536 */
	const char *cursor_path;   /* where cursors persist; NULL = memory only */
	struct sync_caps caps;     /* what is read at most (copied) */
	/* A read replica near us (a plain host:port; credentials are the endpoint's): the
	 * stream reads, the event channels, the A2S cache and fleet-config reads go to it
	 * while it is a replica whose link to its primary is up and that is no further
	 * behind the primary than replica_max_lag_ms (checked with INFO replication on
	 * both, every half second); else to the primary, and back once it has kept up for
	 * a few checks. Writes always go to the primary. NULL: everything on the primary. */
	const struct bf_endpoint *replica;
	int replica_max_lag_ms;    /* default 2000 */
};

/* A key, or members of one, refused before they were read: `what` is the kind of key
 * ("wl", "bl", "punch", "conn", "rule", "protect", "a2s", "edges", "conf"), `why`
 * "too_many" (more members or fields than `limit`: the key is not read) or "too_big" (a
 * member, field or value longer than `limit` bytes: left out, or the key not read). */
struct sync_refusal {
	const char *what, *why;
	const char *key;
	uint64_t size, limit;   /* members or bytes found (at least), the cap */
	const char *detail;     /* printable: which field or how many members, or "" */
};

struct sync_handlers {
	/* A validated record of a peer's log (never of our own origin). The
	 * record lives only for the call. */
	void (*on_record)(void *ctx, const char *origin, const struct bf_log_rec *r);
	/* Full resync of (kind, origin): on_record is then called with op add
	 * (seq 0) for every live member of the ZSET; at the end, entries of that
	 * kind and origin not re-announced since begin must be dropped. */
	void (*on_resync_begin)(void *ctx, enum bf_kind k, const char *origin);
	void (*on_resync_end)(void *ctx, enum bf_kind k, const char *origin);
	/* After each batch of on_record calls (an XREAD's reply, a page of a
	 * resync), before anything else is read: what the owner buffered from
	 * them is to be written now. Optional. */
	void (*on_batch_end)(void *ctx);
	/* The command connection is (again) up: Redis may have restarted empty,
	 * so the owner re-asserts its own live entries now. */
	void (*on_connected)(void *ctx);
	/* The state file (cursor_path) carries the owner's state too, written
	 * and read as one atomic file so that cursors and state always match:
	 * on_state_save appends lines (none may start with "cursor "), and
	 * on_state_line gets each such line back at start-up. */
	void (*on_state_save)(void *ctx, FILE *f);
	void (*on_state_line)(void *ctx, const char *line);
	/* A validated frame of a peer's event channel (read_peers only): edge
	 * up/down, entries. Entries are applied from the logs, not from here. */
	void (*on_event)(void *ctx, const struct bf_evt *ev);
	/* A refresher announced a stored A2S cache key on <prefix>a2s
	 * (read_peers only); the key's name is validated first. */
	void (*on_a2s_key)(void *ctx, enum bf_a2s_key k, uint32_t ip, uint16_t port);
	/* Something read from Redis was over a cap (sync_refusal); without a handler it is
	 * logged. */
	void (*on_refused)(void *ctx, const struct sync_refusal *r);
	void *ctx;
};

enum sync_link_id { SYNC_LINK_CMD = 0, SYNC_LINK_READ, SYNC_LINK_EVENTS, SYNC_LINKS };

struct sync_stats {
	uint64_t connects, disconnects, connect_failures, login_failures, deadline_misses;
	uint64_t written, write_errors, write_retries, dropped; /* dropped: buffer full */
	uint64_t pruned;          /* our expired members removed from Redis */
	uint64_t records, stale, bad_records, gaps, resyncs;
	uint64_t read_errors;                      /* refused reads (XREAD, a resync) */
	uint64_t frames, bad_frames;               /* event channels (read_peers) */
	uint64_t notifications;                    /* keyspace events of peers' lists and logs */
	uint64_t bare_writes;                      /* list changes without a log record */
	uint64_t digests, digest_mismatches;       /* digest rounds; lists found changed */
	uint64_t primary_switches;                 /* Sentinel: +switch-master of our master */
	/* A read replica (sync_config.replica): whether reads go to it now, the last
	 * lag measured (ms, -1 unknown), how often reads moved away from it, and why
	 * they are not on it ("" when they are; "down", "not a replica", "link down",
	 * "lagging", "checking"). */
	bool replica_set;                          /* a read replica is configured */
	bool replica_reading;
	const char *replica_link;                  /* its connection's state, as link_state */
	int64_t replica_lag_ms;
	uint64_t replica_fallbacks;
	const char *replica_why;
	unsigned pending, peers;
	unsigned bad_logs;                         /* logs skipped now: Redis refuses them */
	bool id_conflict;                          /* another live instance holds our id */
	/* Each link's state ("up", "connecting", "unreachable", "login refused",
	 * "deadline", "lost"; "off" when the client has no such link). */
	const char *link_state[SYNC_LINKS];
};

/* Starts connecting at once; never fails for Redis being away. NULL only
 * for a bad config (logged). */
struct sync_client *sync_client_new(struct event_base *base, const struct sync_config *cfg,
				    const struct sync_handlers *h);
void sync_client_free(struct sync_client *c);

/* Queues one change of our own origin: ZADD/ZREM + XADD + PUBLISH in one
 * MULTI/EXEC, sent now or when Redis is back. exp_ms is ignored for del.
 * -ENOBUFS when the buffer is full (counted in `dropped`; the next
 * reconnect's re-assertion repairs it). */
int sync_client_write(struct sync_client *c, enum bf_op op, const struct bf_entry *e,
		      int64_t exp_ms, const char *why);

/* The owner's state changed: the state file is rewritten within a second. */
void sync_client_state_changed(struct sync_client *c);

/* The fleet's config as one snapshot: what `bifrost:conf:version` names. */
struct sync_fleet_conf {
	const char *version;
	const struct bf_conn *conns;      /* every valid bifrost:conn:* hash */
	size_t n_conns;
	unsigned bad_conns;               /* refused (logged with their key) */
	bool conns_refused;               /* more hashes than caps.conns: none read, keep yours */
	const struct bf_rule_def *rules;  /* bifrost:rules, every valid rule */
	size_t n_rules;
	unsigned bad_rules;               /* refused (logged with id and field) */
	const struct bf_cidr *protect;    /* bifrost:protect */
	size_t n_protect;
	unsigned bad_protect;
	bool protect_refused;             /* more than caps.protect: not read, keep yours */
};

/* Fleet config: reads bifrost:conf:version and, when it differs from the
 * last version delivered (or none was), loads every bifrost:conn:* hash,
 * the rules (bifrost:rules) and the protected prefixes (bifrost:protect),
 * and calls cb once with what validated; what did not is logged by key and
 * counted. Nothing happens while the key is absent: the fleet has no config
 * yet. At most one load runs at a time. */
typedef void (*sync_conf_cb)(void *ctx, const struct sync_fleet_conf *fc);
int sync_client_poll_conf(struct sync_client *c, sync_conf_cb cb, void *ctx);

/* Fire-and-forget command on the command connection (heartbeats): sent when
 * connected, skipped otherwise. Returns 0 if sent. */
int sync_client_cmd(struct sync_client *c, const char *fmt, ...);

/* Like sync_client_cmd, with the arguments as a vector (binary safe) and a
 * completion: done(ctx, ok) is called exactly once when Redis answered (ok:
 * not an error reply) or the connection went away first (ok false). Not
 * called when this returns an error (-ENOTCONN: not connected). Nothing is
 * buffered beyond hiredis's output buffer: a caller that must not pile up
 * commands waits for done before sending more. */
typedef void (*sync_done_cb)(void *ctx, bool ok);
int sync_client_cmd_argv(struct sync_client *c, int argc, const char **argv, const size_t *lens,
			 sync_done_cb done, void *ctx);

/* Reads a STRING key with its remaining TTL: cb(ctx, key, val, len, pttl_ms)
 * is called once, with val NULL when the key is absent, empty or larger than
 * max_len (at most max_len + 1 bytes are ever read: GETRANGE; a larger one is
 * reported to on_refused as "a2s"). When the connection went away before
 * the answer, val is NULL and pttl_ms is SYNC_FETCH_LOST: nothing is known
 * about the key. val lives only for the call. -ENOTCONN when not connected. */
#define SYNC_FETCH_LOST INT64_MIN
typedef void (*sync_fetch_cb)(void *ctx, const char *key, const uint8_t *val, size_t len,
			      int64_t pttl_ms);
int sync_client_fetch(struct sync_client *c, const char *key, size_t max_len, sync_fetch_cb cb,
		      void *ctx);

/* Reads a HASH: cb(ctx, fields, n) once (n 0: absent, lost or refused); the
 * fields live only for the call. A hash of more than 64 fields, or with a name
 * or value longer than 256 bytes, is not read (reported to on_refused as "a2s"). */
typedef void (*sync_hash_cb)(void *ctx, const struct bf_field *f, size_t n);
int sync_client_hgetall(struct sync_client *c, const char *key, sync_hash_cb cb, void *ctx);

/* Publishes an edge up/down frame on our event channel. */
int sync_client_announce(struct sync_client *c, enum bf_evt_type t, const char *version);

/* ---- an edge's own state, each command built from typed values (publish.c);
 * each returns -ENOTCONN when the command link is not up ---- */

struct sync_heartbeat {
	const char *version, *ifaces, *xdp_mode;
	const char *conf_version;  /* the fleet config last applied ("-" when none) */
	int64_t started_ms;
	unsigned conf_refused;     /* hashes, rules, prefixes of that config refused */
	uint64_t bus_refused;      /* everything refused from the bus (guard rails), in all */
	const char *bus_refused_by; /* "kind/why=N ..." of those, or "" */
};
/* <prefix>edge:<origin>: these fields and the client's own counters, then
 * PEXPIRE ttl_ms (a dead edge's heartbeat vanishes). */
int sync_publish_heartbeat(struct sync_client *c, const struct sync_heartbeat *hb, int ttl_ms);

struct sync_rule_count {
	uint32_t id;
	uint64_t packets, bytes;
};
/* <prefix>rulestats:<origin>: rule id -> "packets bytes", rewritten whole. */
int sync_publish_rulestats(struct sync_client *c, const struct sync_rule_count *r, size_t n,
			   int ttl_ms);

/* The stats frame: HSET <prefix>stats:<origin> + PEXPIRE ttl_ms, PUBLISH of
 * the msgpack frame on the channel of that name, and XADD to the history
 * stream trimmed to history_ms (none when 0). done(ctx, ok) runs once per
 * command sent. Returns how many were sent (>= 1), or -errno with none. */
int sync_publish_stats(struct sync_client *c, const struct bf_stats_frame *fr, int64_t history_ms,
		       int ttl_ms, sync_done_cb done, void *ctx);

/* The fleet's A2S challenge key <prefix>a2s:key: created with fresh_hex if
 * absent, rotated (cur -> prev) once it is every_ms old, atomically (one
 * script: exactly one edge's key wins a rotation); then read: cb(ctx,
 * fields, n) with cur/prev/since. */
int sync_a2s_key_rotate(struct sync_client *c, const char *fresh_hex, int64_t every_ms,
			sync_hash_cb cb, void *ctx);

/* The key prefix the client was made with. */
const char *sync_client_prefix(const struct sync_client *c);

bool sync_client_connected(const struct sync_client *c);
void sync_client_stats(const struct sync_client *c, struct sync_stats *st);

/* Wall clock in Unix ms (the unit of every expiry on the bus). */
int64_t sync_now_ms(void);

#endif
