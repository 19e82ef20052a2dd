/* stats.h - per-CPU verdict counters and the dry-run rewrite of drops. */
#ifndef BF_STATS_H
#define BF_STATS_H

#include "edge_maps.h"

/* Set only by bf-bench (through the skeleton's rodata) to measure what the
 * counters cost; the verifier prunes the counting when it is 1. */
const volatile __u32 bf_stats_off = 0;

static __always_inline void stats_count(__u32 reason, __u64 bytes)
{
	struct bf_counter *c;

	if (bf_stats_off)
		return;
	c = bpf_map_lookup_elem(&bf_stats, &reason);
	if (c) {
		c->packets++;
		c->bytes += bytes;
	}
}

/* Counts the verdict under its reason; in dry-run a drop is also counted as
 * would_drop and becomes a pass. */
static __always_inline int stats_verdict(const struct bf_config *cfg, int action,
					 __u32 reason, __u64 bytes)
{
	stats_count(reason, bytes);
	if (action == XDP_DROP && cfg && (cfg->flags & BF_F_DRY_RUN)) {
		stats_count(BF_R_WOULD_DROP, bytes);
		return XDP_PASS;
	}
	return action;
}

#endif /* BF_STATS_H */
