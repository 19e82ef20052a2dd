/* csum.h - Internet checksum helpers: IPv4 header and incremental updates (RFC 1624). */
#ifndef BF_CSUM_H
#define BF_CSUM_H

#include <linux/bpf.h>
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

#define BF_CSUM_LEN_MAX 1500

/* 1 when the len bytes at off from the frame's start sum (one's complement,
 * RFC 1071) to 0xffff: a message that carries its own checksum, such as an
 * ICMP echo request. A global function: the verifier walks its loop once,
 * not at every caller. 0 for anything out of bounds or longer than
 * BF_CSUM_LEN_MAX. */
__attribute__((noinline)) int bf_inet_csum_ok(struct xdp_md *ctx, __u32 off, __u32 len)
{
	void *data, *data_end;
	__u64 sum = 0;

	if (!ctx || off > 128 || len > BF_CSUM_LEN_MAX)
		return 0;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	for (__u32 i = 0; i + 1 < len && i < BF_CSUM_LEN_MAX; i += 2) {
		const __u16 *w = data + off + i;

		if ((const void *)(w + 1) > data_end)
			return 0;
		sum += *w;
	}
	if (len & 1) {
		/* The odd last byte is summed as if a zero byte followed it. */
		const __u8 *b = data + off + ((len - 1) & 0x7ff);

		if ((const void *)(b + 1) > data_end)
			return 0;
		sum += *b;
	}
	return csum_fold32(sum) == 0;
}

/* 1 when the IPv4 header at ip, l2_len bytes into the frame (IHL already
 * checked by parse_ipv4), has a right checksum: its one's-complement sum
 * folds to 0xffff, whatever the byte order it is summed in. The usual
 * 20-byte header is summed inline; one with options goes through
 * bf_inet_csum_ok. Checked before the edge sends a packet on, not before
 * it drops one: a drop needs no checksum. */
static __always_inline int ipv4_csum_ok(struct xdp_md *ctx, const struct iphdr *ip,
					__u32 l2_len)
{
	const void *data_end = (const void *)(long)ctx->data_end;
	const __u32 *w = (const __u32 *)ip;

	if (ip->ihl != 5)
		return bf_inet_csum_ok(ctx, l2_len, ip->ihl * 4);
	if ((const void *)(w + 5) > data_end)
		return 0;
	return csum_fold32((__u64)w[0] + w[1] + w[2] + w[3] + w[4]) == 0;
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
