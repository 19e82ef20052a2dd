/* edge.bpf.c - the POP's XDP program: the order of the stages
 * (docs/ARCHITECTURE.md). Each stage lives in bpf/lib/; this file only
 * decides what runs when. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "bifrost.h"
#include "lib/parse.h"
#include "lib/csum.h"
#include "lib/edge_maps.h"
#include "lib/stats.h"
#include "lib/cidr.h"
#include "lib/encap.h"
#include "lib/protect.h"
#include "lib/ratelimit.h"
#include "lib/icmp.h"
#include "lib/rules.h"
#include "lib/connstats.h"
#include "lib/a2s.h"
#include "lib/validate.h"
#include "lib/list_batch.h"
#include "lib/ports.h"

#define BF_NS_PER_SEC 1000000000ULL

static __always_inline int source_whitelisted(const struct bf_config *cfg, __be32 a,
					      struct clock *clk)
{
	return cidr_match(&bf_whitelist, cfg->plen_mask[BF_LIST_WL], a, clk);
}

/* Moves one live punch of the quota from machine `from` to `to` (a flow
 * whose punch named another machine). */
static __always_inline void punch_quota_move(__be32 from, const struct bf_machine *to)
{
	struct bf_machine *old = bpf_map_lookup_elem(&bf_machines, &from);
	__u64 *q;

	if (old && (q = bpf_map_lookup_elem(&bf_punch_quota, &old->slot)))
		__sync_fetch_and_add(q, -1);
	if ((q = bpf_map_lookup_elem(&bf_punch_quota, &to->slot)))
		__sync_fetch_and_add(q, 1);
}

/* Records (or refreshes) the punch for a flow the game machine `m` opens
 * from a port that is no connection, and reports it to user space at most
 * once per punch_report_ns. The expiry is written at most once a second per
 * punch. A new punch needs room in the machine's budget and in the ring
 * buffer: every punch in the map has been reported, so user space (and the
 * fleet) know each one. What is refused is counted (`punch_refused`); the
 * game server's packet itself goes out either way. */
static __always_inline void punch_learn(const struct bf_config *cfg, const struct bf_machine *m,
					__be32 machine, const struct pkt *in, struct clock *clk)
{
	__u64 now = clock_now(clk);
	struct bf_punch_key key = {
		.bind_ip = in->saddr,
		.remote_ip = in->daddr,
		.bind_port = in->sport,
		.remote_port = in->dport,
		.proto = in->proto,
	};
	struct bf_punch_val *v = bpf_map_lookup_elem(&bf_punches, &key);
	struct bf_punch_val nv;
	struct bf_event *ev;
	__u64 *live;

	if (v) {
		if (v->machine_ip != machine) {
			punch_quota_move(v->machine_ip, m);
			v->machine_ip = machine;
		}
		if (now + cfg->punch_ttl_ns > v->expires_ns + BF_NS_PER_SEC)
			v->expires_ns = now + cfg->punch_ttl_ns;
		if (now - v->reported_ns < cfg->punch_report_ns)
			return;
		v->reported_ns = now;
		nv = *v;
		ev = bpf_ringbuf_reserve(&bf_events, sizeof(*ev), 0);
		if (!ev)
			return;
	} else {
		live = bpf_map_lookup_elem(&bf_punch_quota, &m->slot);
		if (!live || (__s64)*live >= (__s64)m->punch_max) {
			stats_count(BF_R_PUNCH_REFUSED, 0);
			return;
		}
		ev = bpf_ringbuf_reserve(&bf_events, sizeof(*ev), 0);
		if (!ev) {
			stats_count(BF_R_PUNCH_REFUSED, 0);
			return;
		}
		__builtin_memset(&nv, 0, sizeof(nv));
		nv.machine_ip = machine;
		nv.expires_ns = now + cfg->punch_ttl_ns;
		nv.reported_ns = now;
		/* NOEXIST: two CPUs racing on one new flow count it once. */
		if (bpf_map_update_elem(&bf_punches, &key, &nv, BPF_NOEXIST)) {
			bpf_ringbuf_discard(ev, 0);
			stats_count(BF_R_PUNCH_REFUSED, 0);
			return;
		}
		__sync_fetch_and_add(live, 1);
		port_open_punch(key.bind_ip, key.bind_port, key.proto);
		stats_count(BF_R_PUNCH_NEW, 0);
	}
	__builtin_memset(ev, 0, sizeof(*ev));
	ev->type = BF_EV_PUNCH;
	ev->punch.key = key;
	ev->punch.val = nv;
	bpf_ringbuf_submit(ev, 0);
}

/* The return path of machine m (ipip_in checked where it came from). */
static __always_inline int return_path(struct xdp_md *ctx, const struct bf_config *cfg,
				       const struct pkt *outer, const struct bf_machine *m,
				       struct clock *clk, __u32 *reason)
{
	void *data_end = (void *)(long)ctx->data_end;
	struct bf_served_key sk;
	struct bf_rev_key rk;
	struct bf_rev_val *rev;
	struct pkt in = {};
	int rc;

	rc = parse_inner(outer, data_end, &in);
	if (rc == BF_PARSE_FRAGMENT) {
		*reason = BF_R_FRAGMENT;
		return XDP_DROP;
	}
	if (rc != BF_PARSE_OK) {
		*reason = BF_R_MALFORMED;
		return XDP_DROP;
	}
	sk.machine_ip = outer->saddr;
	sk.bind_ip = in.saddr;
	if (!bpf_map_lookup_elem(&bf_served, &sk)) {
		*reason = BF_R_RETURN_INVALID;
		return XDP_DROP;
	}
	/* Nothing leaves the edge with a wrong IPv4 header checksum: the outer
	 * header (what arrived) and the inner one (what is sent on). */
	if (!bf_bench_unchecked &&
	    (!ipv4_csum_ok(ctx, outer->ip, outer->l2_len) ||
	     !ipv4_csum_ok(ctx, in.ip, (__u32)((void *)in.ip - (void *)(long)ctx->data)))) {
		*reason = BF_R_BAD_CSUM;
		return XDP_DROP;
	}

	if (in.proto == IPPROTO_UDP || in.proto == IPPROTO_TCP) {
		__builtin_memset(&rk, 0, sizeof(rk));
		rk.machine_ip = outer->saddr;
		rk.bind_ip = in.saddr;
		rk.port = in.sport;
		rk.proto = in.proto;
		rev = bpf_map_lookup_elem(&bf_conn_rev, &rk);
		if (rev) {
			connstats_out(&in, rev->bind_port);
			if (rev->flags & BF_CONN_F_VALID_ANY)
				valid_reply(ctx, cfg, &in, rev->bind_port, rev->flags, clk);
			/* A connection's reply: undo the machine-port mapping. */
			if (rev->bind_port != in.sport &&
			    l4_set_port(&in, data_end, 0, rev->bind_port))
				return XDP_ABORTED;
		} else if (!source_whitelisted(cfg, in.daddr, clk)) {
			punch_learn(cfg, m, outer->saddr, &in, clk);
		}
	}
	*reason = BF_R_RETURN_PATH;
	return decap_ipip(ctx, outer, &in, reason);
}

/* 1 when the frame was addressed to the interface it came in on (or to a group
 * address), or the interface's MAC is not known. A promiscuous NIC (tcpdump) or a
 * switch flooding an unknown destination hands XDP frames meant for other hosts:
 * the edge must not send those on (another POP on the segment does). Checked only
 * where the edge would send a frame on, never on a drop path. */
static __always_inline int frame_for_us(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	__u32 ifx = ctx->ingress_ifindex;
	struct bf_iface *i;

	if ((void *)(eth + 1) > data_end || (eth->h_dest[0] & 1))
		return 1;
	i = bpf_map_lookup_elem(&bf_ifaces, &ifx);
	if (!i)
		return 1;
	return *(__u32 *)eth->h_dest == *(__u32 *)i->mac &&
	       *(__u16 *)(eth->h_dest + 4) == *(__u16 *)(i->mac + 4);
}

/* Stage 2: IPIP. Only a game machine's return path is accepted: from a
 * machine (bf_machines), on the backend interface the route to it leaves
 * by, to this POP's backend address. Every field of an IPIP packet can be
 * forged by anyone on the Internet, so anything else is dropped: IPIP from
 * other sources as `ipip_refused`, and IPIP claiming to come from a machine
 * but arriving where a machine's traffic cannot as `return_spoofed`
 * (docs/ARCHITECTURE.md, "Trust boundary"). */
static __always_inline int ipip_in(struct xdp_md *ctx, const struct bf_config *cfg,
				   const struct pkt *outer, struct clock *clk, __u32 *reason)
{
	struct bf_machine *m = bpf_map_lookup_elem(&bf_machines, &outer->saddr);

	if (!m) {
		*reason = BF_R_IPIP_REFUSED;
		return XDP_DROP;
	}
	if (!bf_bench_unchecked &&
	    (m->ifindex != ctx->ingress_ifindex || outer->daddr != cfg->backend_addr)) {
		*reason = BF_R_RETURN_SPOOFED;
		return XDP_DROP;
	}
	if (!frame_for_us(ctx)) {
		*reason = BF_R_OTHER_HOST;
		return XDP_PASS;
	}
	return return_path(ctx, cfg, outer, m, clk, reason);
}

/* Stage 6: a published connection. Rewrites the destination port when the
 * machine listens on another one, then encapsulates. */
static __always_inline int forward_conn(struct xdp_md *ctx, const struct bf_config *cfg,
					struct pkt *p, const struct bf_conn_val *conn,
					__u32 *reason)
{
	void *data_end = (void *)(long)ctx->data_end;

	if (conn->machine_port && conn->machine_port != p->dport &&
	    l4_set_port(p, data_end, 1, conn->machine_port))
		return XDP_ABORTED;
	return connstats_in(p, encap_ipip(ctx, p, cfg->backend_addr, conn->machine_ip,
					  cfg->outer_ttl, reason));
}

static __always_inline int lookup_conn(const struct pkt *p, struct bf_conn_val **out)
{
	struct bf_conn_key ck = {
		.bind_ip = p->daddr,
		.bind_port = p->proto == IPPROTO_ICMP ? 0 : p->dport,
		.proto = p->proto,
	};

	*out = bpf_map_lookup_elem(&bf_conns, &ck);
	return *out != NULL;
}

static __always_inline struct bf_punch_val *lookup_punch(const struct pkt *p, struct clock *clk)
{
	struct bf_punch_key pk = {
		.bind_ip = p->daddr,
		.remote_ip = p->saddr,
		.bind_port = p->dport,
		.remote_port = p->sport,
		.proto = p->proto,
	};
	struct bf_punch_val *v;

	if (p->proto != IPPROTO_UDP && p->proto != IPPROTO_TCP)
		return NULL;
	v = bpf_map_lookup_elem(&bf_punches, &pk);
	if (v && v->expires_ns > clock_now(clk))
		return v;
	return NULL;
}

/* Stage 4: blocklist (per source) and blacklist (CIDR). A protected source
 * is never banned: spared both. Returns XDP_DROP or BF_GO_ON. */
static __always_inline int source_blocked(const struct bf_config *cfg, const struct pkt *p,
					  struct clock *clk, __u32 bytes, __u32 *reason)
{
	if (list_live(bpf_map_lookup_elem(&bf_blocklist, &p->saddr), clk) &&
	    !spared(cfg, p->saddr, clk, bytes)) {
		*reason = BF_R_BLOCKLIST;
		return XDP_DROP;
	}
	if (cidr_match(&bf_blacklist, cfg->plen_mask[BF_LIST_BL], p->saddr, clk) &&
	    !spared(cfg, p->saddr, clk, bytes)) {
		*reason = BF_R_BLACKLIST;
		return XDP_DROP;
	}
	return BF_GO_ON;
}

static __always_inline int process_packet(struct xdp_md *ctx, const struct bf_config *cfg,
					  __u32 *reason)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct bf_conn_val *conn;
	struct bf_punch_val *punch;
	struct bf_dest *dest;
	struct clock clk = {};
	__u32 bytes = (__u32)(data_end - data);
	struct pkt p = {};
	int rc, cls;

	/* 1. Parse. */
	rc = parse_packet(data, data_end, &p);
	if (rc == BF_PARSE_NOT_IPV4) {
		*reason = BF_R_NON_IPV4;
		return XDP_PASS;
	}
	if (rc == BF_PARSE_FRAGMENT) {
		*reason = BF_R_FRAGMENT;
		return XDP_DROP;
	}
	if (rc != BF_PARSE_OK) {
		*reason = BF_R_MALFORMED;
		return XDP_DROP;
	}

	/* 2. IPIP: the return path of a game machine, or dropped. */
	if (p.proto == IPPROTO_IPIP)
		return ipip_in(ctx, cfg, &p, &clk, reason);

	/* Only bind addresses of connections and the host's own addresses are
	 * served. Anything else would end in stage 9 whoever sent it, so it
	 * ends here, before a list is consulted: a flood at addresses we do not
	 * serve costs one look-up. (A whitelisted source gets no transit.) */
	dest = bpf_map_lookup_elem(&bf_dests, &p.daddr);
	if (!dest && p.daddr != cfg->edge_addr) {
		*reason = BF_R_DEFAULT_DROP;
		return XDP_DROP;
	}

	/* 3. Whitelist: skips every filter; delivered to the service (an echo
	 * request is answered, within the global echo limit only). */
	if (source_whitelisted(cfg, p.saddr, &clk)) {
		if (!frame_for_us(ctx)) {
			*reason = BF_R_OTHER_HOST;
			return XDP_PASS;
		}
		*reason = BF_R_WHITELIST;
		rc = icmp_echo(ctx, cfg, &p, dest, 0, &clk, bytes, reason);
		if (rc != BF_GO_ON)
			return rc;
		if (lookup_conn(&p, &conn))
			return forward_conn(ctx, cfg, &p, conn, reason);
		punch = lookup_punch(&p, &clk);
		if (punch)
			return encap_ipip(ctx, &p, cfg->backend_addr, punch->machine_ip,
					  cfg->outer_ttl, reason);
		if (dest && (dest->flags & BF_DEST_BIND) && dest->machine)
			return encap_ipip(ctx, &p, cfg->backend_addr, dest->machine, cfg->outer_ttl,
					  reason);
		return XDP_PASS;
	}

	/* 3b. A closed port of a bind address: dropped whatever the lists say. */
	if (dest && port_closed(cfg, dest, &p)) {
		*reason = BF_R_DEFAULT_DROP;
		return XDP_DROP;
	}

	/* 4. Blocklist (per source) and blacklist (CIDR). */
	rc = source_blocked(cfg, &p, &clk, bytes, reason);
	if (rc != BF_GO_ON)
		return rc;

	/* 5. Firewall rules. */
	rc = rules_eval(ctx, cfg, &p, &clk, bytes, reason);
	if (rc != BF_GO_ON)
		return rc;

	/* 6. Echo requests to bind addresses, then connections with their
	 * per-source limits; Source queries that would amplify are dropped and
	 * A2S requests the cache can answer go to the AF_XDP worker, after the
	 * limits, so a query flood is limited too. */
	if (p.proto == IPPROTO_ICMP && !frame_for_us(ctx)) {
		*reason = BF_R_OTHER_HOST;
		return XDP_PASS;
	}
	rc = icmp_echo(ctx, cfg, &p, dest, 1, &clk, bytes, reason);
	if (rc != BF_GO_ON)
		return rc;
	if (lookup_conn(&p, &conn)) {
		/* Not for us: neither policed (no block for another host's traffic)
		 * nor sent on. */
		if (!frame_for_us(ctx)) {
			*reason = BF_R_OTHER_HOST;
			return XDP_PASS;
		}
		rc = validate_stage(ctx, cfg, &p, conn, &clk, &cls, reason);
		if (rc != BF_GO_ON)
			return rc;
		rc = ratelimit(ctx, cfg, &p, conn, &clk, bytes, cls, reason);
		if (rc != BF_GO_ON)
			return rc;
		rc = a2s_stage(ctx, &p, conn, reason);
		if (rc != BF_GO_ON)
			return rc;
		*reason = BF_R_FORWARD;
		if (cls >= BF_VS_HANDSHAKE) {
			rc = validate_forward(cfg, &p, cls, &clk, reason);
			if (rc != BF_GO_ON)
				return rc;
		}
		return forward_conn(ctx, cfg, &p, conn, reason);
	}

	/* 7. Port punches. */
	punch = lookup_punch(&p, &clk);
	if (punch) {
		if (!frame_for_us(ctx)) {
			*reason = BF_R_OTHER_HOST;
			return XDP_PASS;
		}
		*reason = BF_R_PUNCH_HIT;
		return encap_ipip(ctx, &p, cfg->backend_addr, punch->machine_ip, cfg->outer_ttl,
				  reason);
	}

	/* 8. This POP's own addresses. */
	if (p.daddr == cfg->edge_addr || (dest && (dest->flags & BF_DEST_LOCAL))) {
		*reason = BF_R_LOCAL;
		return XDP_PASS;
	}

	/* 9. Nothing matched. */
	*reason = BF_R_DEFAULT_DROP;
	return XDP_DROP;
}

SEC("xdp")
int bifrost_edge(struct xdp_md *ctx)
{
	__u64 bytes = ctx->data_end - ctx->data;
	__u32 zero = 0, reason = BF_R_MALFORMED;
	struct bf_config *cfg;
	int action;

	cfg = bpf_map_lookup_elem(&bf_config, &zero);
	if (!cfg)
		return XDP_ABORTED;
	action = process_packet(ctx, cfg, &reason);
	return stats_verdict(cfg, action, reason, bytes);
}

char LICENSE[] SEC("license") = "GPL";
