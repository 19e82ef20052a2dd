/* client_int.h - the sync client's private state, shared by the files that
 * make it up (client.c, writer.c, reader.c, subscriber.c, confload.c). Not
 * included outside sync/. No redisReply leaves these files. */
#ifndef BF_SYNC_CLIENT_INT_H
#define BF_SYNC_CLIENT_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "endpoint.h"
#include "link.h"
#include "log.h"
#include "replica_lag.h"
#include "sync.h"

struct redisReply;
struct redisAsyncContext;

#define SYNC_ID_MAX 48         /* a stream entry ID */
#define SYNC_MAX_FIELDS 16     /* fields of a log record or a connection hash */

/* A peer's log we follow. */
struct stream {
	enum bf_kind kind;
	char origin[BF_ORIGIN_MAX + 1];
	char key[BF_KEY_MAX];
	char id[SYNC_ID_MAX]; /* last ID consumed ("" = never read: resync first) */
	uint64_t seq;         /* seq of that record (0 = unknown) */
	bool resyncing;
	/* Redis refused this log or its ZSET (WRONGTYPE, NOPERM, ...): it is
	 * left out of the XREAD, so the others go on, and tried again later. */
	bool fault;
	int64_t retry_ms;     /* monotonic ms of the next try */
	int backoff_ms;
	bool resync_again;    /* changed without its log while a resync ran */
	/* Why a resync is owed that could not start (the commands link was
	 * down): the one that starts later says it. A static string. */
	const char *resync_owed;
	long long digest_card; /* converge.c: the mismatch last acted on */
	char digest_sent[SYNC_ID_MAX]; /* our cursor when the digest's read was sent */
	char digest_id[SYNC_ID_MAX];
};

/* One own change waiting to be written. */
struct pending {
	enum bf_op op;
	bool prune;   /* not a write: expired members of our e.kind list out (writer.c) */
	struct bf_entry e;
	int64_t exp_ms;
	char why[BF_WHY_MAX + 1];
};

struct sync_client {
	struct event_base *base;
	struct sync_config cfg;
	struct sync_handlers h;
	struct bf_endpoint ep;
	char prefix[BF_PREFIX_MAX + 1];
	char origin[BF_ORIGIN_MAX + 1];
	char *state_path; /* our copy of cfg.cursor_path */
	struct sync_link cmd, rd, sub;
	struct sync_link sen;     /* Sentinel endpoints: a sentinel's +switch-master, followed */
	struct event *tick;       /* once a second: retries, the ping echo */
	int64_t sub_up_ms, echo_ms, ping_acked_ms; /* subscriber.c, monotonic ms */
	int64_t frame_warned_ms;  /* last log line about a bad event frame */
	uint64_t frames_hushed;   /* bad frames not logged since then */

	/* writer.c */
	struct pending *q; /* ring buffer of writes not yet acknowledged */
	unsigned q_head, q_len, inflight;
	bool writable;     /* connected, and this instance holds its id */
	char script_sha[48];
	bool script_warned, join_warned;
	struct event *write_timer; /* backoff after a refused batch */
	int write_backoff_ms;
	struct bf_log_state write_refused, record_refused;
	int64_t prune_at; /* monotonic ms of the next prune of our lists */

	/* instance.c */
	char token[33];    /* this instance, in <prefix>lock:<origin> */
	bool lock_warned;
	struct bf_log_state id_conflict;

	/* reader.c */
	struct stream *streams;
	unsigned n_streams, cap_streams;
	bool reading;            /* an XREAD is outstanding */
	long long rd_id;         /* CLIENT ID of the stream-read connection */
	struct event *read_timer;
	int rd_backoff_ms;       /* after a refused XREAD: wait before the next */
	int64_t rd_wait_until_ms;
	struct bf_log_state xread_refused;
	int64_t peers_at;        /* last peer refresh (ms) */
	bool refreshing;
	struct event *cursor_timer;
	bool cursors_dirty;
	int64_t save_gap_ms;     /* wait between state saves (grows with their cost) */
	int64_t save_held_since; /* a save put off while a resync runs, since (mono ms) */

	/* converge.c */
	bool pend_active;        /* a list's event waiting for its log's xadd */
	enum bf_kind pend_kind;
	char pend_origin[BF_ORIGIN_MAX + 1];
	struct event *pair_timer;
	int64_t digest_due_ms;
	bool notify_off, notify_warned;

	/* replica.c */
	struct bf_endpoint rep_ep;  /* cfg.replica with the endpoint's credentials */
	struct sync_link rep;       /* to the replica: INFO checks and plain reads */
	struct event *rep_timer;    /* the checks, every REPLICA_CHECK_MS */
	struct bf_lag lag;          /* the primary's offsets */
	bool replica_reading;       /* reads are on the replica */
	unsigned rep_good;          /* checks passed in a row */
	int64_t rep_lag_ms;
	uint64_t rep_fallbacks;
	enum bf_replica_verdict rep_verdict;
	bool rep_checked;           /* a verdict is known */
	struct bf_repl_info prim;   /* the primary's last INFO replication */
	bool prim_known;            /* since the commands link last came up */
	char prim_refused[96];      /* the primary refuses INFO: its answer ("" when not) */
	int64_t rep_moved_ms;       /* when reads last moved to the replica */
	int64_t rep_hold_ms;        /* reads stay off it until then (it refused them) */

	/* confload.c */
	struct sync_link *conf_link; /* the link the last load ran on */
	int64_t conf_at_ms;          /* monotonic ms of the last version delivered */
	char conf_version[64];   /* last fleet config delivered */
	bool conf_loading;
	bool conf_too_big;       /* the version key is longer than 63 bytes (reported once) */

	struct sync_stats st;
};

/* Stream ids "ms-seq": a[0..n) against the string b, -1, 0 or 1; SYNC_ID_BAD when
 * either is not an id. */
#define SYNC_ID_BAD 2
int sync_id_cmp(const char *a, size_t n, const char *b);

/* `name`'s value among a stream entry's [f, v, f, v...], or NULL. */
const struct redisReply *sync_field(const struct redisReply *fields, const char *name);
/* A stream entry's `seq` field as a number (0 when absent or bad). */
uint64_t sync_field_seq(const struct redisReply *fields);

/* writer.c: this instance may write (start) or may not (stop: the link
 * went down, or another instance holds the id). */
void writer_start(struct sync_client *c);
void writer_stop(struct sync_client *c);
void writer_load_script(struct sync_client *c);
void writer_tick(struct sync_client *c);
int writer_init(struct sync_client *c);
void writer_free(struct sync_client *c);

/* instance.c: one live instance per edge id */
void instance_token_new(struct sync_client *c);
void instance_up(struct sync_client *c);   /* the command link is up */
void instance_tick(struct sync_client *c);

/* reader.c */
void reader_cmd_up(struct sync_client *c);    /* the command link is up: follow the peers */
void reader_cmd_down(struct sync_client *c);  /* resyncs in flight are lost */
void reader_link_up(struct sync_link *l);     /* the stream-read link */
void reader_link_down(struct sync_link *l);
void reader_refresh_peers(struct sync_client *c);
struct stream *reader_stream(struct sync_client *c, enum bf_kind k, const char *origin);
void reader_next(struct sync_client *c);            /* the next XREAD, if none is out */
void reader_wake(struct sync_client *c);            /* cut a blocked XREAD short */
void reader_cursors_changed(struct sync_client *c); /* save the state file soon */
/* Redis refused s (a reply's error text): logged when it starts, retried
 * with backoff; reader_stream_ok when it reads again. */
void reader_stream_fault(struct sync_client *c, struct stream *s, const char *err);
void reader_stream_ok(struct sync_client *c, struct stream *s);
void reader_tick(struct sync_client *c);            /* once a second */

/* resync.c: read (kind, origin) whole from its ZSET; `why` is logged. */
void reader_resync(struct sync_client *c, struct stream *s, const char *why);
void reader_cursors_load(struct sync_client *c);
void reader_cursors_save_now(struct sync_client *c);
int reader_init(struct sync_client *c);
void reader_free(struct sync_client *c);

/* subscriber.c: the event-channel link */
void subscriber_up(struct sync_link *l);
void subscriber_down(struct sync_link *l);
void subscriber_tick(struct sync_client *c);

/* converge.c: writes made without the log */
void converge_subscribe(struct sync_client *c, struct sync_link *l);
void converge_cmd_up(struct sync_client *c);
void converge_tick(struct sync_client *c);
int converge_init(struct sync_client *c);
void converge_free(struct sync_client *c);

/* confload.c: link l went down (a load running on it gave up) */
void confload_down(struct sync_client *c, const struct sync_link *l);

/* replica.c: the read replica (sync_config.replica) */
int replica_init(struct sync_client *c);   /* starts its link and checks */
void replica_free(struct sync_client *c);
void replica_cmd_down(struct sync_client *c); /* the primary's offsets start over */
void replica_stats(const struct sync_client *c, struct sync_stats *st);
/* The replica refused what the reads link asked of it (XREAD): reads leave it. */
void replica_reads_refused(struct sync_client *c, const char *err);
/* The link plain reads go through: the replica's while reads are on it. */
static inline struct sync_link *sync_read_link(struct sync_client *c)
{
	return c->replica_reading && sync_link_up(&c->rep) ? &c->rep : &c->cmd;
}

#endif
