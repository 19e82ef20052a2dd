/* cidr.h - source-CIDR set lookup: one exact-match hash probe per prefix
 * length present in the set, longest first. */
#ifndef BF_CIDR_H
#define BF_CIDR_H

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include "../bifrost.h"

static __always_inline __be32 cidr_mask(__u32 plen)
{
	/* A shift by 32 is undefined, hence the special case for /0. */
	return plen ? bpf_htonl(0xffffffffu << (32 - plen)) : 0;
}

/* The time, read once per packet and only when an entry with an expiry is
 * found: bpf_ktime_get_ns() is a paravirtual clock read in a VM. */
struct clock {
	__u64 ns;
};

static __always_inline __u64 clock_now(struct clock *c)
{
	if (!c->ns)
		c->ns = bpf_ktime_get_ns();
	return c->ns;
}

static __always_inline int list_live(const struct bf_list_val *v, struct clock *clk)
{
	return v && (v->expires_ns == 0 || v->expires_ns > clock_now(clk));
}

/* Returns 1 when `addr` falls in a live entry of `map`. `plen_mask` has bit
 * n set when the map holds some /n entry (kept by user space). */
static __always_inline int cidr_match(void *map, __u64 plen_mask, __be32 addr,
				      struct clock *clk)
{
	struct bf_cidr_key key;

	if (!plen_mask)
		return 0;
	for (int plen = 32; plen >= 0; plen--) {
		if (!(plen_mask & (1ULL << plen)))
			continue;
		key.plen = plen;
		key.addr = addr & cidr_mask(plen);
		if (list_live(bpf_map_lookup_elem(map, &key), clk))
			return 1;
	}
	return 0;
}

#endif /* BF_CIDR_H */
