/* rules.h - firewall rules (stage 5): the live list of the packet's protocol
 * class, in priority order, through bpf_loop; first match wins. */
#ifndef BF_RULES_H
#define BF_RULES_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "../bifrost.h"
#include "cidr.h"
#include "edge_maps.h"
#include "parse.h"
#include "stats.h"

/* The packet as the rules see it: every field extracted once, host order,
 * so that a rule costs compares only. Shared with the bpf_loop callback. */
struct rule_pkt {
	struct xdp_md *ctx;
	__u64 now;           /* read on first need (rate thresholds) */
	__u32 base;          /* bf_rules index of the list's first rule */
	__u32 bytes;         /* frame length: the per-rule byte counters */
	__be32 saddr, daddr;
	__u32 seq, ack;
	__u32 pl_start;      /* payload offset from ctx->data */
	__u16 ip_id, frag, ip_len, sport, dport, win, plen;
	__u8 proto, ihl, tos, ttl, ipfl, tcpfl, icmp_type, icmp_code;
	__u8 action;         /* BF_RULE_* of the first (non dry-run) match; 0 = none */
	__u8 dry_hits;       /* some dry-run drop rule matched */
	/* the port index's walk: this port's rules (a copy) and the list's `any` */
	__u32 idx_key;       /* bf_rule_idx key */
	__u16 np, ip, na, ia;
	__u16 ports[BF_RULE_PORT_LIST];
};

static __always_inline __u32 rule_class(__u8 proto)
{
	return proto == IPPROTO_UDP ? 0 : proto == IPPROTO_TCP ? 1 : proto == IPPROTO_ICMP ? 2 : 3;
}

#define OUTSIDE(v, lo, hi) ((v) < (lo) || (v) > (hi))

static __always_inline int rule_fields_match(const struct bf_rule *r, const struct rule_pkt *k)
{
	__u32 u = r->used;

	if ((u & BF_RF_SRC) && (k->saddr & r->src_mask) != r->src_addr)
		return 0;
	if ((u & BF_RF_DST) && (k->daddr & r->dst_mask) != r->dst_addr)
		return 0;
	if ((u & BF_RF_PROTO) && k->proto != r->proto)
		return 0;
	if ((u & BF_RF_SPORT) && OUTSIDE(k->sport, r->sport_lo, r->sport_hi))
		return 0;
	if ((u & BF_RF_DPORT) && OUTSIDE(k->dport, r->dport_lo, r->dport_hi))
		return 0;
	if ((u & BF_RF_IP_LEN) && OUTSIDE(k->ip_len, r->ip_len_lo, r->ip_len_hi))
		return 0;
	if ((u & BF_RF_PAYLOAD_LEN) && OUTSIDE(k->plen, r->plen_lo, r->plen_hi))
		return 0;
	if ((u & BF_RF_TTL) && OUTSIDE(k->ttl, r->ttl_lo, r->ttl_hi))
		return 0;
	if ((u & BF_RF_TOS) && OUTSIDE(k->tos, r->tos_lo, r->tos_hi))
		return 0;
	if ((u & BF_RF_IHL) && OUTSIDE(k->ihl, r->ihl_lo, r->ihl_hi))
		return 0;
	if ((u & BF_RF_IP_ID) && OUTSIDE(k->ip_id, r->ip_id_lo, r->ip_id_hi))
		return 0;
	if ((u & BF_RF_FRAG) && OUTSIDE(k->frag, r->frag_lo, r->frag_hi))
		return 0;
	if ((u & BF_RF_IP_FLAGS) && (k->ipfl & r->ipfl_mask) != r->ipfl_val)
		return 0;
	if ((u & BF_RF_TCP_FLAGS) && (k->tcpfl & r->tcpfl_mask) != r->tcpfl_val)
		return 0;
	if ((u & BF_RF_TCP_SEQ) && OUTSIDE(k->seq, r->seq_lo, r->seq_hi))
		return 0;
	if ((u & BF_RF_TCP_ACK) && OUTSIDE(k->ack, r->ack_lo, r->ack_hi))
		return 0;
	if ((u & BF_RF_TCP_WIN) && OUTSIDE(k->win, r->win_lo, r->win_hi))
		return 0;
	if ((u & BF_RF_ICMP_TYPE) && OUTSIDE(k->icmp_type, r->icmp_type_lo, r->icmp_type_hi))
		return 0;
	if ((u & BF_RF_ICMP_CODE) && OUTSIDE(k->icmp_code, r->icmp_code_lo, r->icmp_code_hi))
		return 0;
	return 1;
}

/* pl_len bytes at pl_off of the payload, masked. Bytes that are not there
 * (past the datagram, or past the frame) do not match. */
static __always_inline int rule_payload_match(const struct bf_rule *r, const struct rule_pkt *k)
{
	void *data = (void *)(long)k->ctx->data;
	void *data_end = (void *)(long)k->ctx->data_end;
	__u32 len = r->pl_len, off = r->pl_off;
	__u8 *b;

	if (off + len > k->plen)
		return 0;
	off += k->pl_start;
	/* Offsets are at most 18 + 60 + 60 + 1400 here; the bound is for the
	 * verifier, which must see a limited variable offset. */
	if (off > 2047)
		return 0;
	b = data + off;
	for (int i = 0; i < BF_RULE_PAYLOAD_MAX; i++) {
		if (i >= len)
			break;
		if ((void *)(b + i + 1) > data_end)
			return 0;
		if ((b[i] & r->pl_mask[i]) != r->pl_val[i])
			return 0;
	}
	return 1;
}

/* A threshold rule matches while its traffic (every packet that matched its
 * other fields, all sources, all CPUs) is above pps or bps. The rate is a
 * sliding-window estimate: this window's count plus the previous window's,
 * weighted by the share of it still inside a window ending now. Windows are
 * 2^30 ns (the thresholds are converted by user space); updates are atomic,
 * the window roll is won by one CPU (a few packets may be lost across it). */
static __always_inline int rule_rate_over(const struct bf_rule *r, struct rule_pkt *k)
{
	__u32 slot = r->slot;
	struct bf_rule_rate *st = bpf_map_lookup_elem(&bf_rule_rates, &slot);
	__u64 w, f, cp, cb, old;

	if (!st)
		return 0;
	if (!k->now)
		k->now = bpf_ktime_get_ns();
	w = k->now >> 30;
	old = st->win;
	if (old != w && __sync_val_compare_and_swap(&st->win, old, w) == old) {
		cp = __sync_lock_test_and_set(&st->cur_pkts, 0);
		cb = __sync_lock_test_and_set(&st->cur_bytes, 0);
		st->prev_pkts = w == old + 1 ? cp : 0;
		st->prev_bytes = w == old + 1 ? cb : 0;
	}
	cp = __sync_fetch_and_add(&st->cur_pkts, 1) + 1;
	cb = __sync_fetch_and_add(&st->cur_bytes, k->ip_len) + k->ip_len;
	/* Part of the previous window still inside the sliding one, in 1/1024. */
	f = 1024 - ((k->now >> 20) & 1023);
	if ((r->used & BF_RF_PPS) && cp * 1024 + st->prev_pkts * f > r->pps_w * 1024)
		return 1;
	if ((r->used & BF_RF_BPS) && cb * 1024 + st->prev_bytes * f > r->bps_w * 1024)
		return 1;
	return 0;
}

static __always_inline void rule_count(__u32 slot, __u32 bytes)
{
	struct bf_counter *c = bpf_map_lookup_elem(&bf_rule_stats, &slot);

	if (c) {
		c->packets++;
		c->bytes += bytes;
	}
}

/* The rule at position pos of the list. 1 stops the walk. */
static __always_inline long rule_at(struct rule_pkt *k, __u32 pos)
{
	__u32 idx = k->base + pos;
	const struct bf_rule *r = bpf_map_lookup_elem(&bf_rules, &idx);

	if (!r)
		return 1;
	if (!rule_fields_match(r, k))
		return 0;
	if ((r->used & BF_RF_PAYLOAD) && !rule_payload_match(r, k))
		return 0;
	/* Last: the rate counts only packets that match everything else. */
	if ((r->used & (BF_RF_PPS | BF_RF_BPS)) && !rule_rate_over(r, k))
		return 0;
	rule_count(r->slot, k->bytes);
	if (r->flags & BF_RULE_F_DRY_RUN) {
		if (r->action == BF_RULE_DROP)
			k->dry_hits = 1;
		return 0; /* a dry-run rule changes nothing: on to the next */
	}
	k->action = r->action;
	return 1;
}

/* bpf_loop callback: rule i of the list. 1 stops the loop. */
static long rule_step(__u32 i, void *data)
{
	return rule_at(data, i);
}

/* bpf_loop callback of the port index: the next rule by position of the port's list and
 * `any`, merged. 1 stops the walk. */
static long rule_idx_step(__u32 i, void *data)
{
	struct rule_pkt *k = data;
	__u32 key = k->idx_key & 0x7fffffff, p = 0xffff, a = 0xffff, ip = k->ip, ia = k->ia;
	const struct bf_rule_idx *x;

	if (ip < k->np && ip < BF_RULE_PORT_LIST)
		p = k->ports[ip];
	if (ia < k->na && ia < BF_RULES_MAX) {
		x = bpf_map_lookup_elem(&bf_rule_idx, &key);
		if (!x)
			return 1;
		a = x->any[ia];
	}
	if (p == 0xffff && a == 0xffff)
		return 1;
	if (p < a) {
		k->ip++;
		return rule_at(k, p);
	}
	k->ia++;
	return rule_at(k, a);
}

/* Extracts what the rules compare. The headers were checked by the parser;
 * the bounds are checked again for the verifier. 0, or -1 if truncated. */
static __always_inline int rule_pkt_fill(struct xdp_md *ctx, const struct pkt *p,
					 struct rule_pkt *k)
{
	void *data_end = (void *)(long)ctx->data_end;
	struct iphdr *ip = p->ip;
	__u8 *l4 = p->l4;
	__u32 hlen, l4len = 0;
	__u16 fo;

	if ((void *)(ip + 1) > data_end)
		return -1;
	hlen = ip->ihl * 4;
	fo = bpf_ntohs(ip->frag_off);
	k->saddr = p->saddr;
	k->daddr = p->daddr;
	k->proto = p->proto;
	k->ihl = ip->ihl;
	k->tos = ip->tos;
	k->ttl = ip->ttl;
	k->ip_id = bpf_ntohs(ip->id);
	k->frag = fo & BF_IP_OFFMASK;
	k->ipfl = fo >> 13;
	k->ip_len = p->ip_len;
	k->sport = bpf_ntohs(p->sport);
	k->dport = bpf_ntohs(p->dport);
	if (p->proto == IPPROTO_TCP) {
		struct tcphdr *tcp = p->l4;

		if ((void *)(tcp + 1) > data_end)
			return -1;
		l4len = tcp->doff * 4;
		k->seq = bpf_ntohl(tcp->seq);
		k->ack = bpf_ntohl(tcp->ack_seq);
		k->win = bpf_ntohs(tcp->window);
		k->tcpfl = l4[13];
	} else if (p->proto == IPPROTO_UDP || p->proto == IPPROTO_ICMP) {
		if ((void *)(l4 + 8) > data_end)
			return -1;
		l4len = 8;
		if (p->proto == IPPROTO_ICMP) {
			k->icmp_type = l4[0];
			k->icmp_code = l4[1];
		}
	}
	k->pl_start = p->l2_len + hlen + l4len;
	k->plen = p->ip_len - hlen - l4len;
	return 0;
}

/* One bpf_loop call site each, with its one callback: the verifier inlines a bpf_loop
 * only then (with both calls in one function, clang merges them into one call whose
 * callback is either: not inlined, 3x slower a rule). Static subprograms, verified
 * with the caller's state, so the context pointer kept in *k stays typed. */
static __attribute__((noinline)) int rules_walk(struct rule_pkt *k, __u32 n)
{
	bpf_loop(n, rule_step, k, 0);
	return 0;
}

static __attribute__((noinline)) int rules_walk_index(struct rule_pkt *k)
{
	bpf_loop((__u32)k->na + k->np, rule_idx_step, k, 0);
	return 0;
}

/* Runs the list described by *k. A global function: the verifier checks it
 * (and its callback) once, and the stage's many callers do not multiply with
 * what it learns. Returns the BF_RULE_* of the first match (0: none), with
 * 0x100 added when a dry-run drop rule matched; k->now is updated. */
__attribute__((noinline)) int bf_rules_run(struct xdp_md *ctx, struct rule_pkt *k, __u32 n)
{
	struct rule_pkt lk;

	if (!k || n > BF_RULES_MAX)
		return 0;
	/* A private copy: a pointer to the context can only be kept on the stack. */
	__builtin_memcpy(&lk, k, sizeof(lk));
	lk.ctx = ctx;
	lk.action = 0;
	lk.dry_hits = 0;
	if (lk.na || lk.np)
		rules_walk_index(&lk);
	else if (!lk.idx_key)
		rules_walk(&lk, n);
	k->now = lk.now;
	return lk.action | (lk.dry_hits ? 0x100 : 0);
}

/* Stage 5. Returns XDP_DROP (reason `rule_drop`) when the first matching
 * rule drops, or BF_GO_ON: no rule matched, or a pass rule matched (which
 * ends the rules and goes on to the connections). Protected sources are
 * policed like any other: a protected address can be forged. */
static __always_inline int rules_eval(struct xdp_md *ctx, const struct bf_config *cfg,
				      const struct pkt *p, struct clock *clk, __u32 bytes,
				      __u32 *reason)
{
	__u32 half = cfg->rules_active & 1, cls = rule_class(p->proto), n;
	struct rule_pkt k = {};
	int res;

	n = cfg->rules_n[half][cls];
	if (!n)
		return BF_GO_ON;
	if (n > BF_RULES_MAX)
		n = BF_RULES_MAX;
	if (rule_pkt_fill(ctx, p, &k)) {
		*reason = BF_R_MALFORMED;
		return XDP_DROP;
	}
	k.base = (half * BF_RULE_CLASSES + cls) * BF_RULES_MAX;
	k.bytes = bytes;
	k.now = clk->ns;
	if (cls < 2) { /* UDP, TCP: the port index, when user space built it */
		__u32 ik = half * BF_RULE_CLASSES + cls;
		const struct bf_rule_idx *x = bpf_map_lookup_elem(&bf_rule_idx, &ik);

		if (x && x->on) {
			struct bf_rule_port_key pk = { .half = half, .cls = cls, .port = k.dport };
			const struct bf_rule_port_list *pl = bpf_map_lookup_elem(&bf_rule_ports, &pk);

			k.idx_key = ik | 0x80000000; /* nonzero: the index is on */
			k.na = x->n_any;
			if (pl) {
				k.np = pl->n;
				__builtin_memcpy(k.ports, pl->pos, sizeof(k.ports));
			}
		}
	}
	res = bf_rules_run(ctx, &k, n);
	clk->ns = k.now;
	if (res & 0x100)
		stats_count(BF_R_RULE_DRY_RUN, bytes);
	if ((res & 0xff) != BF_RULE_DROP)
		return BF_GO_ON;
	*reason = BF_R_RULE_DROP;
	return XDP_DROP;
}

#endif /* BF_RULES_H */
