/* protect.h - protected sources: the one check every list, limit and rule
 * drop asks before dropping. */
#ifndef BF_PROTECT_H
#define BF_PROTECT_H

#include "cidr.h"
#include "edge_maps.h"
#include "stats.h"

/* A global (non-inlined) function: the verifier checks it once, not at every
 * one of the many paths that may end in a drop, and learns nothing from its
 * result, so those paths do not multiply. 1 when src is protected. */
__attribute__((noinline)) int bf_source_protected(__u64 plen_mask, __be32 src,
						  struct clock *clk)
{
	if (!clk) /* the verifier cannot know a global function's pointer is set */
		return 0;
	return cidr_match(&bf_protected, plen_mask, src, clk);
}

/* Returns 1 when `src` is protected: the caller must not drop the packet for
 * its list, limit or rule and goes on as if that stage had not matched. Each
 * drop spared is counted as `protected` (a packet spared by two stages counts
 * twice). The list is consulted only when some stage is about to drop. */
static __always_inline int spared(const struct bf_config *cfg, __be32 src, struct clock *clk,
				  __u32 bytes)
{
	if (!cfg->plen_mask[BF_LIST_PR] || !bf_source_protected(cfg->plen_mask[BF_LIST_PR], src, clk))
		return 0;
	stats_count(BF_R_PROTECTED, bytes);
	return 1;
}

#endif /* BF_PROTECT_H */
