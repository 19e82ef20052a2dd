/* schema_stats.h - stats frames: bifrost:stats:<id> (HASH and channel, msgpack) and their sums. */
/* History goes to the stream bifrost:log:stats:<id>; key names in schema_keys.h. */
#ifndef BF_SCHEMA_STATS_H
#define BF_SCHEMA_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bifrost.h" /* BF_R_MAX, BF_R_NAMES: the reasons are the frame's rows */
#include "schema_keys.h"

#define BF_STATS_MAX_BYTES 4096  /* a frame is ~600 bytes; larger is refused unread */
#define BF_STATS_MAX_REASONS 64  /* a newer edge may send more rows than we know */

struct bf_stats_row {
	uint64_t pps, bps;        /* per second over the last interval; bps = bits/s */
	uint64_t packets, bytes;  /* totals since the counters were created */
};

struct bf_stats_frame {
	char origin[BF_ORIGIN_MAX + 1];
	int64_t ts_ms;            /* wall clock of the sample */
	uint32_t interval_ms;     /* what the rates were measured over */
	uint32_t n_reasons;       /* rows the sender had (we keep the first BF_R_MAX) */
	struct bf_stats_row r[BF_R_MAX]; /* indexed by enum bf_reason */
	uint64_t conn_in_pps, conn_in_bps, conn_out_pps, conn_out_bps;
	/* the sender's sync and table state */
	uint64_t sync_up, sync_pending, sync_peers, sync_resyncs, sync_bad_records,
		sync_bad_frames, stats_dropped, wl_entries, bl_entries;
};

/* What a reason says of its packet: one table (schema_stats.c) decides it for the
 * sums below, bifrostctl stats, the HASH and /metrics (label `verdict`), so that no
 * two of them can disagree. A side count counts beside the packet's own verdict. */
enum bf_verdict {
	BF_V_DROP = 1,  /* the packet was dropped */
	BF_V_FORWARD,   /* player -> game server, encapsulated */
	BF_V_PASS,      /* passed on, answered or handed to user space otherwise */
	BF_V_SIDE,      /* not a verdict: would_drop, punch_new, protected, ... */
};
enum bf_verdict bf_reason_verdict(unsigned reason); /* BF_V_PASS past BF_R_MAX */
const char *bf_verdict_name(enum bf_verdict v);     /* "drop", "forward", "pass", "side" */

/* Sums of a frame's rows by verdict: rx is every verdict (side counts left out),
 * fwd the forward ones, drop the dropping ones. */
struct bf_stats_sums {
	struct bf_stats_row rx, fwd, drop;
};
void bf_stats_sum(const struct bf_stats_frame *f, struct bf_stats_sums *s);
bool bf_reason_is_drop(unsigned reason); /* bf_reason_verdict() == BF_V_DROP */
const char *bf_reason_name(unsigned reason); /* NULL past BF_R_MAX */

/* The HASH's fields as name/value strings (docs/REDIS.md lists them); returns
 * how many were written (at most cap). */
#define BF_STATS_FIELD_MAX 32
struct bf_stats_field {
	char name[BF_STATS_FIELD_MAX];
	char val[24];
};
#define BF_STATS_HASH_FIELDS (24 + 2 * BF_R_MAX)
size_t bf_stats_hash_fields(const struct bf_stats_frame *f, struct bf_stats_field *out,
			    size_t cap);

int bf_stats_encode(const struct bf_stats_frame *f, uint8_t *buf, size_t len);
/* Same discipline as bf_evt_decode: size and structure checked before
 * msgpack-c allocates. -EINVAL with *what set. */
int bf_stats_decode(const uint8_t *buf, size_t len, struct bf_stats_frame *out,
		    const char **what);

#endif
