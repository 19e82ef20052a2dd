/* stats.h - the edge's counters read from the maps (per-CPU values summed
 * without locks), and per-second rates between two samples. */
#ifndef EDGE_STATS_H
#define EDGE_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "bifrost.h"
#include "loader.h"
#include "schema.h"

struct edge_conn_sample {
	struct bf_conn_key key;
	struct bf_conn_counter c;
};

struct edge_stats_sample {
	uint64_t mono_ns;                 /* when it was read; 0 = never */
	int64_t wall_ms;
	struct bf_counter r[BF_R_MAX];
	struct edge_conn_sample *conns;   /* sorted by key (memcmp order) */
	size_t n_conns;
};

/* Reads bf_stats and bf_conn_stats. 0 or -errno; s is replaced (free the old
 * one first or keep it as `prev`). */
int edge_stats_read(const struct edge_map_fds *fd, struct edge_stats_sample *s);
void edge_stats_sample_free(struct edge_stats_sample *s);

/* How much a counter grew: a counter that went backwards was reset (map
 * re-created, LRU eviction) and counts from 0, so the growth is cur. */
uint64_t edge_stats_delta(uint64_t prev, uint64_t cur);
/* delta scaled to one second of dt_ns (rounded; 0 when dt_ns is 0). */
uint64_t edge_stats_per_sec(uint64_t delta, uint64_t dt_ns);

/* Fills the frame's rows (rates from prev to cur, totals of cur) and the
 * connection rates; ts_ms and interval_ms from cur. prev with mono_ns 0
 * (the first sample) gives zero rates. */
void edge_stats_rates(const struct edge_stats_sample *prev, const struct edge_stats_sample *cur,
		      struct bf_stats_frame *f);

/* The connection's counters in s, or NULL. */
const struct edge_conn_sample *edge_stats_conn(const struct edge_stats_sample *s,
					       const struct bf_conn_key *k);

#endif
