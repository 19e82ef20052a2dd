/* ratelimit.h - per-source limits of the connections (GCRA per source and
 * connection), the block a source over a limit earns, and the BF_EV_BAN
 * event sent once per block. */
#ifndef BF_RATELIMIT_H
#define BF_RATELIMIT_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "../bifrost.h"
#include "cidr.h"
#include "edge_maps.h"
#include "parse.h"
#include "protect.h"

/* The state of (source, connection), created on first use. NULL only when
 * the map refuses, and then the caller lets the packet through: a limit is a
 * guard against floods, and a full LRU map is not a reason to drop players. */
static __always_inline struct bf_rl_val *rl_state(const struct pkt *p)
{
	struct bf_rl_key k = {
		.src = p->saddr,
		.bind_ip = p->daddr,
		.bind_port = p->proto == IPPROTO_ICMP ? 0 : p->dport,
		.proto = p->proto,
	};
	struct bf_rl_val *st = bpf_map_lookup_elem(&bf_ratelimit, &k);
	struct bf_rl_val nv = {};

	if (st)
		return st;
	bpf_map_update_elem(&bf_ratelimit, &k, &nv, BPF_NOEXIST);
	return bpf_map_lookup_elem(&bf_ratelimit, &k);
}

/* GCRA (virtual scheduling): a packet conforms when its theoretical arrival
 * time is at most `tol` ahead of now; it then moves that time on by its cost
 * (pkt_ns per packet, bytes * byte_ns16 >> 16 in byte time). A packet that
 * does not conform costs nothing. Returns 0, or the BF_LIMIT_* it broke.
 * Updates race between CPUs without atomics: a lost update under-counts
 * one packet, it never over-counts. */
static __always_inline int rl_charge(struct bf_rl_val *st, __u64 pkt_ns, __u64 byte_ns16,
				     __u64 tol, __u32 bytes, __u64 now)
{
	__u64 tp = st->tat_pkt > now ? st->tat_pkt : now;
	__u64 tb = st->tat_byte > now ? st->tat_byte : now;

	if (pkt_ns && tp - now > tol)
		return BF_LIMIT_PPS;
	if (byte_ns16 && tb - now > tol)
		return BF_LIMIT_BPS;
	if (pkt_ns)
		st->tat_pkt = tp + pkt_ns;
	if (byte_ns16)
		st->tat_byte = tb + (((__u64)bytes * byte_ns16) >> 16);
	return 0;
}

/* Blocks the source for the connection's block_time: in bf_blocklist (so
 * stage 4 drops it from now on) and with one BF_EV_BAN event. The CPU whose
 * compare-and-swap moves blocked_until wins; others only drop. In dry-run
 * nothing is written to bf_blocklist (a later switch to enforcing must not
 * inherit dry-run blocks): blocked_until alone keeps the source counted. */
static __always_inline void rl_block(struct xdp_md *ctx, const struct bf_config *cfg,
				     const struct pkt *p, const struct bf_conn_val *conn,
				     struct bf_rl_val *st, int limit, int share, __u64 now)
{
	__u64 old = st->blocked_until;
	__u64 block_ns = (__u64)conn->block_ms * 1000000ULL;
	__u64 until = now + block_ns;
	int dry = cfg->flags & BF_F_DRY_RUN;
	struct bf_event *ev;

	/* A block still running here means someone removed the source from
	 * bf_blocklist (an operator's unblock): respect it, drop the excess only. */
	if (old > now || __sync_val_compare_and_swap(&st->blocked_until, old, until) != old)
		return;
	if (!dry) {
		struct bf_list_val v = { .expires_ns = until, .src = BF_SRC_LOCAL, .reason = limit };

		bpf_map_update_elem(&bf_blocklist, &p->saddr, &v, BPF_ANY);
	}
	ev = bpf_ringbuf_reserve(&bf_events, sizeof(*ev), 0);
	if (!ev)
		return;
	__builtin_memset(ev, 0, sizeof(*ev));
	ev->type = BF_EV_BAN;
	ev->ifindex = ctx->ingress_ifindex;
	ev->ban.src = p->saddr;
	ev->ban.proto = p->proto;
	ev->ban.limit = limit;
	ev->ban.flags = (share && (conn->flags & BF_CONN_F_SHARE_BANS) ? BF_BAN_F_SHARE : 0) |
			(dry ? BF_BAN_F_DRY_RUN : 0);
	ev->ban.conn.bind_ip = p->daddr;
	ev->ban.conn.bind_port = p->proto == IPPROTO_ICMP ? 0 : p->dport;
	ev->ban.conn.proto = p->proto;
	ev->ban.block_ns = block_ns;
	ev->ban.expires_ns = until;
	bpf_ringbuf_submit(ev, 0);
}

/* Stage 6: the per-source limits of connection `conn`. Returns XDP_DROP
 * (reason `ratelimit`) for a source over a limit, or BF_GO_ON. Bytes are
 * the IPv4 total length. A protected source is policed (its excess is
 * dropped: its address can be forged) but never blocked or reported for a
 * ban: a forged flood must not cut off a POP, a machine or a peer. `cls` is
 * what validation made of the source (BF_VS_*): on a connection that
 * validates, only a validated client's ban may be shared with the fleet (an
 * unvalidated source's address may be forged, to have a player banned
 * everywhere). */
static __always_inline int ratelimit(struct xdp_md *ctx, const struct bf_config *cfg,
				     const struct pkt *p, const struct bf_conn_val *conn,
				     struct clock *clk, __u32 bytes, int cls, __u32 *reason)
{
	struct bf_rl_val *st;
	int limit = 0, blocked;
	__u64 now;

	if (!conn->pkt_ns && !conn->byte_ns16)
		return BF_GO_ON;
	now = clock_now(clk);
	st = rl_state(p);
	if (!st)
		return BF_GO_ON;
	blocked = (cfg->flags & BF_F_DRY_RUN) && st->blocked_until > now;
	if (!blocked) {
		limit = rl_charge(st, conn->pkt_ns, conn->byte_ns16, conn->burst_ns, p->ip_len, now);
		if (!limit)
			return BF_GO_ON;
	}
	if (limit && conn->block_ms && !spared(cfg, p->saddr, clk, bytes))
		rl_block(ctx, cfg, p, conn, st, limit, cls <= BF_VS_VALID, now);
	*reason = BF_R_RATELIMIT;
	return XDP_DROP;
}

#endif /* BF_RATELIMIT_H */
