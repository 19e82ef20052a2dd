/* csum.h - Internet checksum helpers: IPv4 header and incremental updates (RFC 1624). */
#ifndef BF_CSUM_H
#define BF_CSUM_H

#include <linux/ip.h>

static __always_inline __u16 csum_fold32(__u64 sum)
{
	sum = (sum & 0xffffffff) + (sum >> 32);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

/* Fills iph->check for a 20-byte header (the encapsulation never adds options). */
static __always_inline void ipv4_csum_20(struct iphdr *iph)
{
	__u32 *w = (__u32 *)iph;
	__u64 sum = 0;

	iph->check = 0;
#pragma unroll
	for (int i = 0; i < 5; i++)
		sum += w[i];
	iph->check = csum_fold32(sum);
}

/* HC' = ~(~HC + ~m + m'), RFC 1624 eqn. 3, for one 16-bit field. */
static __always_inline void csum_replace16(__u16 *check, __u16 old, __u16 new)
{
	__u32 sum = (__u16)~*check + (__u16)~old + new;

	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	*check = (__u16)~sum;
}

/* UDP checksum 0 means "none" and must stay 0; a computed 0 is sent as 0xffff. */
static __always_inline void udp_csum_replace16(__u16 *check, __u16 old, __u16 new)
{
	if (*check == 0)
		return;
	csum_replace16(check, old, new);
	if (*check == 0)
		*check = 0xffff;
}

#endif /* BF_CSUM_H */
