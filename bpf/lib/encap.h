/* encap.h - next hop by bpf_fib_lookup, IPIP encapsulation and decapsulation
 * in XDP, and the XDP_TX / bpf_redirect choice. */
#ifndef BF_ENCAP_H
#define BF_ENCAP_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "csum.h"
#include "parse.h"
#include "edge_maps.h"

#define BF_NEIGH_REPORT_NS 100000000ULL /* one neighbour-miss event per 100 ms per CPU */

/* Set only by bf-bench (through the skeleton's rodata) to measure what the
 * trust checks cost: the return path's interface and outer-destination test
 * and the IPv4 checksum test before encapsulation. The edge never sets it;
 * the verifier prunes the skipped branch when it is 0. */
const volatile __u32 bf_bench_unchecked = 0;

static __always_inline void report_neigh_miss(__u32 ifindex, __be32 nexthop)
{
	__u32 zero = 0;
	__u64 *last = bpf_map_lookup_elem(&bf_neigh_rl, &zero);
	__u64 now = bpf_ktime_get_ns();
	struct bf_event *ev;

	if (!last || now - *last < BF_NEIGH_REPORT_NS)
		return;
	*last = now;
	ev = bpf_ringbuf_reserve(&bf_events, sizeof(*ev), 0);
	if (!ev)
		return;
	__builtin_memset(ev, 0, sizeof(*ev));
	ev->type = BF_EV_NEIGH_MISS;
	ev->ifindex = ifindex;
	ev->neigh.nexthop = nexthop;
	bpf_ringbuf_submit(ev, 0);
}

/* Rewrites the UDP/TCP source (dst 0) or destination (dst 1) port of p with
 * its checksum (a connection whose machine listens on another port). The
 * parsed copy in p keeps the old port. 0, or -1 when the header is not
 * there (the verifier's view: parse_ipv4 checked it). Other protocols have
 * no port: nothing to do. */
static __always_inline int l4_set_port(const struct pkt *p, void *data_end, int dst, __be16 port)
{
	if (p->proto == IPPROTO_UDP) {
		struct udphdr *udp = p->l4;
		__be16 *f;

		if ((void *)(udp + 1) > data_end)
			return -1;
		f = dst ? &udp->dest : &udp->source;
		udp_csum_replace16(&udp->check, *f, port);
		*f = port;
	} else if (p->proto == IPPROTO_TCP) {
		struct tcphdr *tcp = p->l4;
		__be16 *f;

		if ((void *)(tcp + 1) > data_end)
			return -1;
		f = dst ? &tcp->dest : &tcp->source;
		csum_replace16(&tcp->check, *f, port);
		*f = port;
	}
	return 0;
}

/* Resolves the next hop for a packet of `tot_len` bytes from src to dst.
 * Returns 0 with fib filled in, or -1 with *reason set. */
static __always_inline int fib_route(struct xdp_md *ctx, struct bpf_fib_lookup *fib,
				     __be32 src, __be32 dst, __u16 tot_len, __u8 tos,
				     __u32 *reason)
{
	int rc;

	__builtin_memset(fib, 0, sizeof(*fib));
	fib->family = AF_INET;
	fib->tos = tos;
	fib->l4_protocol = IPPROTO_IPIP;
	fib->tot_len = tot_len;
	fib->ipv4_src = src;
	fib->ipv4_dst = dst;
	fib->ifindex = ctx->ingress_ifindex;

	rc = bpf_fib_lookup(ctx, fib, sizeof(*fib), 0);
	switch (rc) {
	case BPF_FIB_LKUP_RET_SUCCESS:
		return 0;
	case BPF_FIB_LKUP_RET_FRAG_NEEDED:
		*reason = BF_R_TOO_BIG;
		return -1;
	case BPF_FIB_LKUP_RET_NO_NEIGH:
		report_neigh_miss(fib->ifindex, fib->ipv4_dst);
		*reason = BF_R_NO_NEIGH;
		return -1;
	default:
		*reason = BF_R_NO_ROUTE;
		return -1;
	}
}

/* Writes the Ethernet header the route asks for at the start of the frame
 * and sends it: XDP_TX on the ingress NIC, bpf_redirect to another. */
static __always_inline int xmit(struct xdp_md *ctx, const struct bpf_fib_lookup *fib)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > data_end)
		return XDP_ABORTED;
	__builtin_memcpy(eth->h_dest, fib->dmac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, fib->smac, ETH_ALEN);
	eth->h_proto = bpf_htons(ETH_P_IP);
	if (fib->ifindex == ctx->ingress_ifindex)
		return XDP_TX;
	return bpf_redirect(fib->ifindex, 0);
}

/* Wraps the IPv4 packet in p in an outer IPv4/IPIP header from src to dst
 * and sends it towards dst. The inner packet is not touched; a VLAN tag is
 * not carried over (the route decides the egress). A packet whose IPv4
 * header checksum is wrong is dropped (`bad_csum`): the game machine's
 * kernel would drop it too, after it crossed the backbone. Returns an XDP
 * action. */
static __always_inline int encap_ipip(struct xdp_md *ctx, const struct pkt *p,
				      __be32 src, __be32 dst, __u8 ttl, __u32 *reason)
{
	struct bpf_fib_lookup fib;
	struct iphdr *outer;
	void *data, *data_end;
	__u16 frag_off = p->ip->frag_off & bpf_htons(BF_IP_DF);
	__u8 tos = p->ip->tos;
	__u32 inner_len = p->ip_len;
	int delta;

	if (!bf_bench_unchecked && !ipv4_csum_ok(ctx, p->ip, p->l2_len)) {
		*reason = BF_R_BAD_CSUM;
		return XDP_DROP;
	}

	if (fib_route(ctx, &fib, src, dst, inner_len + sizeof(*outer), tos, reason))
		return XDP_DROP;

	/* New layout: [eth 14][outer 20][inner]; old: [eth 14/18][inner]. */
	delta = (int)p->l2_len - (int)(sizeof(struct ethhdr) + sizeof(*outer));
	if (bpf_xdp_adjust_head(ctx, delta)) {
		*reason = BF_R_MALFORMED;
		return XDP_DROP;
	}
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	outer = data + sizeof(struct ethhdr);
	if ((void *)(outer + 1) > data_end) {
		*reason = BF_R_MALFORMED;
		return XDP_ABORTED;
	}
	outer->version = 4;
	outer->ihl = 5;
	outer->tos = tos;
	outer->tot_len = bpf_htons(inner_len + sizeof(*outer));
	/* RFC 2003: DF is copied from the inner header. An atomic datagram
	 * (DF set) needs no ID (RFC 6864); otherwise a random one. */
	outer->frag_off = frag_off;
	outer->id = frag_off ? 0 : (__u16)bpf_get_prandom_u32();
	outer->ttl = ttl;
	outer->protocol = IPPROTO_IPIP;
	outer->saddr = src;
	outer->daddr = dst;
	ipv4_csum_20(outer);
	return xmit(ctx, &fib);
}

/* Strips the outer header of the IPIP packet `outer` whose inner packet is
 * `inner` and sends the inner packet towards its destination. */
static __always_inline int decap_ipip(struct xdp_md *ctx, const struct pkt *outer,
				      const struct pkt *inner, __u32 *reason)
{
	struct bpf_fib_lookup fib;
	int delta;

	if (fib_route(ctx, &fib, inner->saddr, inner->daddr, inner->ip_len,
		      inner->ip->tos, reason))
		return XDP_DROP;
	/* New layout: [eth 14][inner]; old: [eth 14/18][outer ihl*4][inner]. */
	delta = (int)((void *)inner->ip - (void *)outer->ip) + (int)outer->l2_len -
		(int)sizeof(struct ethhdr);
	if (bpf_xdp_adjust_head(ctx, delta)) {
		*reason = BF_R_MALFORMED;
		return XDP_DROP;
	}
	return xmit(ctx, &fib);
}

#endif /* BF_ENCAP_H */
