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

/* Bit index of the lowest set bit of a power of two, by a de Bruijn multiply:
 * a loop over the prefix lengths present costs one step per length, not 33. */
static const __u8 cidr_bit_index[64] = {
	0,  1,  48, 2,  57, 49, 28, 3,  61, 58, 50, 42, 38, 29, 17, 4,
	62, 55, 59, 36, 53, 51, 43, 22, 45, 39, 33, 30, 24, 18, 12, 5,
	63, 47, 56, 27, 60, 41, 37, 16, 54, 35, 52, 21, 44, 32, 23, 11,
	46, 26, 40, 15, 34, 20, 31, 10, 25, 14, 19, 9,  13, 8,  7,  6,
};

/* Returns 1 when `addr` falls in a live entry of `map`. `plen_mask` has bit
 * n set when the map holds some /n entry (kept by user space); each length
 * present costs one probe, whatever the order (the answer is a yes or no). */
static __always_inline int cidr_match(void *map, __u64 plen_mask, __be32 addr,
				      struct clock *clk)
{
	struct bf_cidr_key key;

	plen_mask &= (1ULL << 33) - 1;
	for (int i = 0; i < 33 && plen_mask; i++) {
		__u64 low = plen_mask & -plen_mask;
		__u32 plen = cidr_bit_index[(low * 0x03f79d71b4cb0a89ULL) >> 58];

		plen_mask &= plen_mask - 1;
		key.plen = plen;
		key.addr = addr & cidr_mask(plen);
		if (list_live(bpf_map_lookup_elem(map, &key), clk))
			return 1;
	}
	return 0;
}

#endif /* BF_CIDR_H */
