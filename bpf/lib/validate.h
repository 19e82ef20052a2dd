/* validate.h - handshake validation, per connection (`validate srcds|raknet`): only
 * clients the game server has completed a handshake with play; any other source may
 * send the game's handshake and query packets only, within a budget per source and
 * per connection. A client is validated when the server's handshake-completing reply
 * to it passes here on the return path (which only a game machine can use: ipip_in),
 * never by anything arriving from the Internet. docs/ARCHITECTURE.md, "Handshake
 * validation", says how to add a module. */
#ifndef BF_LIB_VALIDATE_H
#define BF_LIB_VALIDATE_H

#include <linux/bpf.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "../bifrost.h"
#include "cidr.h"
#include "connstats.h"
#include "edge_maps.h"
#include "parse.h"
#include "ratelimit.h"
#include "stats.h"

/* Sizes of the handshake and query payloads let through. A Source connect packet carries
 * the player's name, password and Steam ticket; everything else is small. A challenge
 * request is "q", a 4-byte number and "0000000000" (a shorter one would get a larger
 * answer than it is). A RakNet Open Connection Request 1 is padded up to the path MTU by
 * design, RakNet's smallest being 400 (28 of it the IPv4 and UDP headers). */
#define BF_SRCDS_QUERY_MAX 64
#define BF_SRCDS_CHALLENGE_MIN 16
#define BF_SRCDS_CONNECT_MAX 1400
#define BF_RAKNET_OCR1_MIN 372
#define BF_RAKNET_OCR2_MAX 64

/* RakNet's offline message magic 00 ff ff 00 fe fe fe fe fd fd fd fd 12 34 56 78, as
 * two little-endian words. */
#define BF_RAKNET_MAGIC0 0xfefefefe00ffff00ULL
#define BF_RAKNET_MAGIC1 0x78563412fdfdfdfdULL

static __always_inline int raknet_magic_at(const __u8 *m, void *data_end)
{
	if ((void *)(m + 16) > data_end)
		return 0;
	return *(const __u64 *)m == BF_RAKNET_MAGIC0 && *(const __u64 *)(m + 8) == BF_RAKNET_MAGIC1;
}

/* Source engine, client -> server: connectionless packets (ff ff ff ff, then an
 * opcode). 'q' asks for a challenge, 'k' connects; 'T' 'U' 'V' 'W' are A2S queries and
 * 'i' A2A_PING. Everything else (the game's netchannel) needs a validated client. */
static __always_inline int srcds_kind(const __u8 *pl, __u32 len, void *data_end)
{
	if (len < 5 || (void *)(pl + 5) > data_end || *(const __u32 *)pl != 0xffffffffU)
		return 0;
	switch (pl[4]) {
	case 'q':
		return len >= BF_SRCDS_CHALLENGE_MIN && len <= BF_SRCDS_QUERY_MAX ? BF_VS_HANDSHAKE : 0;
	case 'k':
		return len <= BF_SRCDS_CONNECT_MAX ? BF_VS_HANDSHAKE : 0;
	case 'T':
	case 'U':
	case 'V':
	case 'W':
	case 'i':
		return len <= BF_SRCDS_QUERY_MAX ? BF_VS_QUERY : 0;
	}
	return 0;
}

/* RakNet, client -> server: unconnected pings (0x01, 0x02: id, 8-byte time, magic,
 * 8-byte GUID) and Open Connection Requests 1 (0x05: magic, protocol, padding) and 2
 * (0x07: magic, server address, MTU, GUID), each with the offline magic where RakNet
 * puts it. Connected traffic (frame sets 0x80-0x8d, ACK/NAK) needs a validated client. */
static __always_inline int raknet_kind(const __u8 *pl, __u32 len, void *data_end)
{
	if (len < 1 || (void *)(pl + 1) > data_end)
		return 0;
	switch (pl[0]) {
	case 0x01:
	case 0x02:
		return len == 33 && raknet_magic_at(pl + 9, data_end) ? BF_VS_QUERY : 0;
	case 0x05:
		return len >= BF_RAKNET_OCR1_MIN && raknet_magic_at(pl + 1, data_end) ? BF_VS_HANDSHAKE :
										       0;
	case 0x07:
		return len >= 34 && len <= BF_RAKNET_OCR2_MAX && raknet_magic_at(pl + 1, data_end) ?
			       BF_VS_HANDSHAKE : 0;
	}
	return 0;
}

/* The UDP payload of p (parse_ipv4/parse_inner checked 8 <= udp->len <= the IPv4
 * payload). 0 when p is no UDP. */
static __always_inline int udp_payload(const struct pkt *p, void *data_end, const __u8 **pl,
				       __u32 *len)
{
	struct udphdr *udp = p->l4;

	if (p->proto != IPPROTO_UDP || (void *)(udp + 1) > data_end)
		return 0;
	*pl = (const __u8 *)(udp + 1);
	*len = bpf_ntohs(udp->len) - sizeof(*udp);
	return 1;
}

/* 1 when the game server's packet completes a client's handshake: Source's
 * connection-accepted 'B', RakNet's Open Connection Reply 2 (0x08, magic, GUID,
 * client address, MTU, security flag). */
static __always_inline int hs_completes(__u16 mode, const __u8 *pl, __u32 len, void *data_end)
{
	if (mode & BF_CONN_F_VALID_SRCDS)
		return len >= 5 && (void *)(pl + 5) <= data_end &&
		       *(const __u32 *)pl == 0xffffffffU && pl[4] == 'B';
	if (mode & BF_CONN_F_VALID_RAKNET)
		return len >= 35 && (void *)(pl + 1) <= data_end && pl[0] == 0x08 &&
		       raknet_magic_at(pl + 1, data_end);
	return 0;
}

/* 1 when the event went out (the ring had room). */
static __always_inline int valid_report(const struct bf_rl_key *k, __u64 expires_ns)
{
	struct bf_event *ev = bpf_ringbuf_reserve(&bf_events, sizeof(*ev), 0);

	if (!ev)
		return 0;
	__builtin_memset(ev, 0, sizeof(*ev));
	ev->type = BF_EV_VALID;
	ev->valid.key = *k;
	ev->valid.expires_ns = expires_ns;
	bpf_ringbuf_submit(ev, 0);
	return 1;
}

/* A validated client's traffic (or a new handshake of one): its idle lifetime starts
 * again (written at most once a second), and it is re-reported at most once per
 * valid_report_ns, so the fleet keeps it while it plays here, whoever validated it. A
 * report the full ring refused is tried again at the next packet. */
static __always_inline void valid_touch(const struct bf_config *cfg, const struct bf_rl_key *k,
					struct bf_valid_val *v, __u64 now)
{
	if (now + cfg->valid_idle_ns > v->expires_ns + 1000000000ULL)
		v->expires_ns = now + cfg->valid_idle_ns;
	if (v->reported_ns && now - v->reported_ns < cfg->valid_report_ns)
		return;
	if (valid_report(k, v->expires_ns))
		v->reported_ns = now;
}

/* The return path: `in` is a reply of a connection whose module is `mode`
 * (bf_conn_rev), from bind address in->saddr, public port bind_port. A reply that
 * completes the handshake validates its destination. A new validation needs room in
 * the table (else `valid_refused`; the reply still goes out); when the ring has none
 * for its report, it is reported at the client's next packet. */
static __always_inline void valid_reply(struct xdp_md *ctx, const struct bf_config *cfg,
					const struct pkt *in, __be16 bind_port, __u16 mode,
					struct clock *clk)
{
	void *data_end = (void *)(long)ctx->data_end;
	struct bf_rl_key k = {
		.src = in->daddr,
		.bind_ip = in->saddr,
		.bind_port = bind_port,
		.proto = in->proto,
	};
	struct bf_valid_val *v, nv = {};
	struct bf_conn_counter *c;
	const __u8 *pl;
	__u32 len;
	__u64 now;

	if (!udp_payload(in, data_end, &pl, &len) || !hs_completes(mode, pl, len, data_end))
		return;
	now = clock_now(clk);
	v = bpf_map_lookup_elem(&bf_valid, &k);
	if (v) {
		v->src |= BF_SRC_LOCAL;
		valid_touch(cfg, &k, v, now);
	} else {
		nv.expires_ns = now + cfg->valid_idle_ns;
		nv.src = BF_SRC_LOCAL;
		/* NOEXIST: two CPUs racing on one reply insert it once. */
		if (bpf_map_update_elem(&bf_valid, &k, &nv, BPF_NOEXIST))
			/* fails only when the table is full, or another CPU won */
			if (!bpf_map_lookup_elem(&bf_valid, &k)) {
				stats_count(BF_R_VALID_REFUSED, 0);
				return;
			}
		v = bpf_map_lookup_elem(&bf_valid, &k);
		if (v)
			valid_touch(cfg, &k, v, now); /* unreported: reports it */
	}
	stats_count(BF_R_VALIDATED, 0);
	c = connstats_slot(in->saddr, bind_port, in->proto);
	if (c)
		c->validated++;
}

/* Counts a packet of an unvalidated source dropped at its connection. */
static __always_inline void valid_count_drop(const struct pkt *p)
{
	struct bf_conn_counter *c = connstats_slot(p->daddr, p->dport, p->proto);

	if (c)
		c->unvalidated++;
}

/* Stage 6, before the limits, for a connection with a module: a validated client's
 * packet goes on (*cls BF_VS_VALID); an unvalidated source's handshake or query packet
 * goes on within its per-source budget (*cls its kind); anything else from it is
 * dropped (`unvalidated`, or `handshake_limit` over the budget). Returns XDP_DROP or
 * BF_GO_ON. */
static __always_inline int validate_stage(struct xdp_md *ctx, const struct bf_config *cfg,
					  const struct pkt *p, const struct bf_conn_val *conn,
					  struct clock *clk, int *cls, __u32 *reason)
{
	void *data_end = (void *)(long)ctx->data_end;
	__u16 mode = conn->flags & BF_CONN_F_VALID_ANY;
	struct bf_rl_key k = {
		.src = p->saddr,
		.bind_ip = p->daddr,
		.bind_port = p->dport,
		.proto = p->proto,
	};
	struct bf_valid_val *v;
	struct bf_rl_val *st, zero = {};
	const __u8 *pl;
	__u32 len;
	__u64 now;
	int kind = 0;

	*cls = BF_VS_OFF;
	if (!mode)
		return BF_GO_ON;
	now = clock_now(clk);
	v = bpf_map_lookup_elem(&bf_valid, &k);
	if (v && v->expires_ns > now) {
		valid_touch(cfg, &k, v, now);
		*cls = BF_VS_VALID;
		return BF_GO_ON;
	}
	/* The UDP length must be the whole IPv4 payload: bytes after it would ride along
	 * past the size checks. */
	if (udp_payload(p, data_end, &pl, &len) &&
	    len + sizeof(struct udphdr) + ((__u32)p->ip->ihl << 2) == p->ip_len)
		kind = mode & BF_CONN_F_VALID_SRCDS ? srcds_kind(pl, len, data_end) :
						      raknet_kind(pl, len, data_end);
	if (!kind) {
		valid_count_drop(p);
		*reason = BF_R_UNVALIDATED;
		return XDP_DROP;
	}
	st = bpf_map_lookup_elem(&bf_hs_src, &k);
	if (!st) {
		bpf_map_update_elem(&bf_hs_src, &k, &zero, BPF_NOEXIST);
		st = bpf_map_lookup_elem(&bf_hs_src, &k);
	}
	if (st && rl_charge(st, cfg->hs_pkt_ns, 0, cfg->hs_burst_ns, 0, now)) {
		valid_count_drop(p);
		*reason = BF_R_HANDSHAKE_LIMIT;
		return XDP_DROP;
	}
	*cls = kind;
	return BF_GO_ON;
}

/* Stage 6, last before an unvalidated source's handshake or query packet is
 * forwarded (the A2S cache has not answered it): this CPU's share of the connection's
 * budget of that class (`cls`: handshakes and queries each have their own, so a flood
 * of forged queries cannot spend what players need to connect). XDP_DROP
 * (`handshake_limit`) or BF_GO_ON with *reason `handshake`. */
static __always_inline int validate_forward(const struct bf_config *cfg, const struct pkt *p,
					    int cls, struct clock *clk, __u32 *reason)
{
	struct bf_conn_key ck = { .bind_ip = p->daddr, .bind_port = p->dport, .proto = p->proto };
	struct bf_hs_budget *b, zero = {};
	struct bf_conn_counter *c;
	__u64 *tat, now, t;

	if (cfg->hs_conn_cpu_pkt_ns) {
		b = bpf_map_lookup_elem(&bf_hs_conn, &ck);
		if (!b) {
			bpf_map_update_elem(&bf_hs_conn, &ck, &zero, BPF_NOEXIST);
			b = bpf_map_lookup_elem(&bf_hs_conn, &ck);
		}
		if (b) {
			tat = cls == BF_VS_HANDSHAKE ? &b->handshakes : &b->queries;
			now = clock_now(clk);
			t = *tat > now ? *tat : now;
			if (t - now > cfg->hs_conn_cpu_burst_ns) {
				valid_count_drop(p);
				*reason = BF_R_HANDSHAKE_LIMIT;
				return XDP_DROP;
			}
			*tat = t + cfg->hs_conn_cpu_pkt_ns;
		}
	}
	c = connstats_slot(p->daddr, p->dport, p->proto);
	if (c)
		c->hs_packets++;
	*reason = BF_R_HANDSHAKE;
	return BF_GO_ON;
}

#endif /* BF_LIB_VALIDATE_H */
