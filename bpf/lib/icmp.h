/* icmp.h - ICMP echo requests to bind addresses, answered by the edge:
 * per-source and global limits, then the reply built in place (XDP_TX). */
#ifndef BF_ICMP_H
#define BF_ICMP_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>
#include "../bifrost.h"
#include "csum.h"
#include "edge_maps.h"
#include "parse.h"
#include "protect.h"
#include "ratelimit.h"

#define BF_ECHO_TTL 64
#define BF_ICMP_ECHOREPLY 0
#define BF_ICMP_ECHO 8

/* <linux/icmp.h> drags in libc socket headers that -target bpf cannot use. */
struct bf_icmp_echo {
	__u8 type;
	__u8 code;
	__u16 checksum;
	__be16 id;
	__be16 seq;
};

/* This CPU's share of the global echo limit (GCRA, per-CPU state: no
 * atomics, and the shares add up to the global rate). 1 when over. */
static __always_inline int echo_cpu_over(const struct bf_config *cfg, __u64 now)
{
	__u32 zero = 0;
	__u64 *tat, t;

	if (!cfg->echo_cpu_pkt_ns)
		return 0;
	tat = bpf_map_lookup_elem(&bf_echo_rl, &zero);
	if (!tat)
		return 0;
	t = *tat > now ? *tat : now;
	if (t - now > cfg->echo_cpu_burst_ns)
		return 1;
	*tat = t + cfg->echo_cpu_pkt_ns;
	return 0;
}

/* The per-source echo limit: an ICMP connection's own limits (which block
 * like any connection's), else the edge's echo limit (which only drops the
 * excess: a player's ping tool is no reason to ban him). XDP action or BF_GO_ON. */
static __always_inline int echo_source_limit(struct xdp_md *ctx, const struct bf_config *cfg,
					     const struct pkt *p, struct clock *clk,
					     __u32 bytes, __u32 *reason)
{
	struct bf_conn_key ck = { .bind_ip = p->daddr, .proto = IPPROTO_ICMP };
	struct bf_conn_val *conn = bpf_map_lookup_elem(&bf_conns, &ck);
	struct bf_rl_val *st;

	if (conn && (conn->pkt_ns || conn->byte_ns16))
		return ratelimit(ctx, cfg, p, conn, clk, bytes, 0, reason);
	if (!cfg->echo_pkt_ns)
		return BF_GO_ON;
	st = rl_state(p);
	if (!st || !rl_charge(st, cfg->echo_pkt_ns, 0, cfg->echo_burst_ns, 0, clock_now(clk)))
		return BF_GO_ON;
	*reason = BF_R_ECHO_LIMIT;
	return XDP_DROP;
}

/* Answers an echo request to a bind address (bf_dests BIND): addresses and
 * MACs swapped, type 0, TTL 64, checksums updated incrementally, out of the
 * interface it came in by (to the router that sent it). Requests with IP
 * options are not answered here (their reply would need the options
 * reversed); they go on like any ICMP. `filtered`: apply the per-source
 * limit (0 for whitelisted sources). Returns an XDP action, or BF_GO_ON when the
 * packet is not such a request. */
static __always_inline int icmp_echo(struct xdp_md *ctx, const struct bf_config *cfg,
				     const struct pkt *p, const struct bf_dest *dest, int filtered,
				     struct clock *clk, __u32 bytes, __u32 *reason)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct bf_icmp_echo *ic = p->l4;
	struct iphdr *ip = p->ip;
	__u8 mac[ETH_ALEN];
	__be32 a;
	__u16 old;
	int rc;

	if (p->proto != IPPROTO_ICMP || !(cfg->flags & BF_F_ICMP_ECHO) || !dest ||
	    !(dest->flags & BF_DEST_BIND))
		return BF_GO_ON;
	if ((void *)(eth + 1) > data_end || (void *)(ip + 1) > data_end ||
	    (void *)(ic + 1) > data_end)
		return BF_GO_ON;
	if (ic->type != BF_ICMP_ECHO || ic->code != 0 || ip->ihl != 5)
		return BF_GO_ON;
	if (filtered) {
		rc = echo_source_limit(ctx, cfg, p, clk, bytes, reason);
		if (rc != BF_GO_ON)
			return rc;
	}
	if (echo_cpu_over(cfg, clock_now(clk))) {
		*reason = BF_R_ECHO_LIMIT;
		return XDP_DROP;
	}
	/* Only what is about to be answered is summed (a flood is cut by the
	 * limits first, cheaply). A request with a wrong checksum gets no
	 * reply: the incremental update would carry the error into it. */
	if (!ipv4_csum_ok(ctx, ip, p->l2_len) ||
	    !bf_inet_csum_ok(ctx, p->l2_len + sizeof(*ip), p->ip_len - sizeof(*ip))) {
		*reason = BF_R_BAD_CSUM;
		return XDP_DROP;
	}

	__builtin_memcpy(mac, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, mac, ETH_ALEN);
	/* Swapping the addresses leaves the header sum as it is. */
	a = ip->saddr;
	ip->saddr = ip->daddr;
	ip->daddr = a;
	/* The 16-bit words as they lie in memory, old and new: RFC 1624 does
	 * not care about byte order as long as both are the same. */
	old = *(__u16 *)&ip->ttl;
	ip->ttl = BF_ECHO_TTL;
	csum_replace16(&ip->check, old, *(__u16 *)&ip->ttl);
	old = *(__u16 *)ic;
	ic->type = BF_ICMP_ECHOREPLY;
	csum_replace16(&ic->checksum, old, *(__u16 *)ic);
	*reason = BF_R_ICMP_ECHO;
	return XDP_TX;
}

#endif /* BF_ICMP_H */
