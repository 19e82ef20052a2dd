/* gs.bpf.c - the game-server machine's side of the tunnel, without a kernel
 * IPIP device: XDP ingress decapsulates IPIP from the POPs (checked, see
 * bifrost_gs_ingress) and remembers client -> POP; TC egress wraps the anycast
 * address's replies back to the POP the client came through (the default POP
 * for clients never seen). */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "bifrost.h"
#include "lib/parse.h"
#include "lib/csum.h"

#define NS_PER_SEC 1000000000ULL

/* 0 -> gs_config: this machine's settings. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct gs_config);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} gs_config SEC(".maps");

/* POP address -> 1: IPIP from these may be decapsulated (bifrost_gs_ingress). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __be32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} gs_pops SEC(".maps");

/* anycast address -> 1: decapsulated packets must go to one; packets from
 * these are wrapped on egress. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __be32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} gs_anycast SEC(".maps");

/* client ip -> POP it came through, last seen. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1 << 18);
	__type(key, __be32);
	__type(value, struct gs_client_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} gs_clients SEC(".maps");

/* reason -> per-CPU packets/bytes; slots past GS_R_MAX are spare. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, GS_R_SLOTS);
	__type(key, __u32);
	__type(value, struct bf_counter);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} gs_stats SEC(".maps");

static __always_inline void gs_count(__u32 reason, __u64 bytes)
{
	struct bf_counter *c = bpf_map_lookup_elem(&gs_stats, &reason);

	if (c) {
		c->packets++;
		c->bytes += bytes;
	}
}

/* True when the route from this machine back to pop leaves by the interface
 * the packet came in on (strict reverse path). POP addresses are public, so
 * their IPIP is easy to forge; only this ties it to the link the POPs really
 * use. The FIB lookup runs only for IPIP from a POP's address to machine_ip:
 * other traffic never pays for it.
 * An input lookup (as if forwarding from the ingress interface), not
 * BPF_FIB_LOOKUP_OUTPUT: an output lookup takes ifindex as the output device
 * and only considers routes through it, so a default route on the Internet
 * side would vouch for a POP that is routed over a private link.
 * The kernel refuses lookups on an interface with IPv4 forwarding off
 * (FWD_DISABLED): that fails closed. */
static __always_inline int from_pop_link(struct xdp_md *ctx, __be32 machine, __be32 pop)
{
	struct bpf_fib_lookup fib = {};
	long rc;

	fib.family = AF_INET;
	fib.ipv4_src = machine;
	fib.ipv4_dst = pop;
	fib.ifindex = ctx->ingress_ifindex;
	rc = bpf_fib_lookup(ctx, &fib, sizeof(fib), 0);
	/* NO_NEIGH fills ifindex too: the POP's gateway just is not resolved yet. */
	if (rc != BPF_FIB_LKUP_RET_SUCCESS && rc != BPF_FIB_LKUP_RET_NO_NEIGH)
		return 0;
	return fib.ifindex == ctx->ingress_ifindex;
}

/* IPIP is decapsulated (and its client recorded) only when the outer source
 * is a POP, the outer destination this machine's address, the route to that
 * POP leaves by the ingress interface, and the inner datagram parses and goes
 * to an anycast address served here: every field can be forged, and a forged
 * packet must neither reach the game server past the POPs' filters nor move a
 * client to another POP. Every other IPIP is dropped and counted. */
SEC("xdp")
int bifrost_gs_ingress(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u64 bytes = data_end - data;
	struct gs_client_val *cv, nv = {};
	struct pkt outer = {}, inner = {};
	struct gs_config *cfg;
	struct ethhdr *eth;
	__u32 zero = 0;
	__u64 now;
	int delta, rc;

	rc = parse_packet(data, data_end, &outer);
	if ((rc != BF_PARSE_OK && rc != BF_PARSE_FRAGMENT) || outer.proto != IPPROTO_IPIP) {
		gs_count(GS_R_PASS, bytes);
		return XDP_PASS;
	}
	if (!bpf_map_lookup_elem(&gs_pops, &outer.saddr)) {
		gs_count(GS_R_IPIP_FOREIGN, bytes);
		return XDP_DROP;
	}
	cfg = bpf_map_lookup_elem(&gs_config, &zero);
	if (!cfg || outer.daddr != cfg->machine_ip ||
	    !from_pop_link(ctx, cfg->machine_ip, outer.saddr)) {
		gs_count(GS_R_SPOOFED, bytes);
		return XDP_DROP;
	}
	/* A fragment cannot be decapsulated without reassembly, and no kernel
	 * tunnel here would take it either: it is dropped where it is counted. */
	if (rc == BF_PARSE_FRAGMENT || parse_inner(&outer, data_end, &inner) != BF_PARSE_OK) {
		gs_count(GS_R_BAD_INNER, bytes);
		return XDP_DROP;
	}
	if (!bpf_map_lookup_elem(&gs_anycast, &inner.daddr)) {
		gs_count(GS_R_SPOOFED, bytes);
		return XDP_DROP;
	}

	/* Remember the POP; rewrite the entry at most once a second. */
	now = bpf_ktime_get_ns();
	cv = bpf_map_lookup_elem(&gs_clients, &inner.saddr);
	if (!cv || cv->pop_ip != outer.saddr || now - cv->seen_ns > NS_PER_SEC) {
		nv.pop_ip = outer.saddr;
		nv.seen_ns = now;
		bpf_map_update_elem(&gs_clients, &inner.saddr, &nv, BPF_ANY);
	}

	/* [eth][vlan?][outer][inner] -> [eth][inner]: keep the MACs, drop the rest. */
	delta = (int)((void *)inner.ip - data) - (int)sizeof(struct ethhdr);
	{
		struct ethhdr copy;

		eth = data;
		if ((void *)(eth + 1) > data_end)
			return XDP_ABORTED;
		__builtin_memcpy(&copy, eth, sizeof(copy));
		copy.h_proto = bpf_htons(ETH_P_IP);
		if (bpf_xdp_adjust_head(ctx, delta))
			return XDP_DROP;
		data = (void *)(long)ctx->data;
		data_end = (void *)(long)ctx->data_end;
		eth = data;
		if ((void *)(eth + 1) > data_end)
			return XDP_ABORTED;
		__builtin_memcpy(eth, &copy, sizeof(copy));
	}
	gs_count(GS_R_DECAP, bytes);
	return XDP_PASS;
}

SEC("tc")
int bifrost_gs_egress(struct __sk_buff *skb)
{
	__u32 zero = 0, bytes = skb->len;
	struct gs_config *cfg = bpf_map_lookup_elem(&gs_config, &zero);
	struct gs_client_val *cv;
	struct bpf_fib_lookup fib = {};
	struct iphdr outer = {};
	struct pkt p = {};
	void *data, *data_end;
	__be32 pop = 0;
	__u16 frag_off;
	__u32 inner_len;

	if (!cfg)
		return TC_ACT_OK;
	if (bpf_skb_pull_data(skb, sizeof(struct ethhdr) + sizeof(struct iphdr)))
		return TC_ACT_OK;
	data = (void *)(long)skb->data;
	data_end = (void *)(long)skb->data_end;
	{
		struct cursor c = { .pos = data, .end = data_end };
		struct iphdr *ip;

		if (parse_eth(&c, &p.l2_len) != ETH_P_IP || p.l2_len != sizeof(struct ethhdr))
			return TC_ACT_OK;
		ip = c.pos;
		if ((void *)(ip + 1) > data_end)
			return TC_ACT_OK;
		p.saddr = ip->saddr;
		p.daddr = ip->daddr;
		inner_len = bpf_ntohs(ip->tot_len);
		frag_off = ip->frag_off & bpf_htons(BF_IP_DF);
		outer.tos = ip->tos;
	}
	if (!bpf_map_lookup_elem(&gs_anycast, &p.saddr))
		return TC_ACT_OK;

	cv = bpf_map_lookup_elem(&gs_clients, &p.daddr);
	if (cv && (cfg->idle_ns == 0 || bpf_ktime_get_ns() - cv->seen_ns < cfg->idle_ns))
		pop = cv->pop_ip;
	else
		pop = cfg->default_pop;
	if (!pop) {
		gs_count(GS_R_NO_POP, bytes);
		return TC_ACT_SHOT;
	}

	if (bpf_skb_adjust_room(skb, sizeof(struct iphdr), BPF_ADJ_ROOM_MAC,
				BPF_F_ADJ_ROOM_ENCAP_L3_IPV4)) {
		gs_count(GS_R_ENCAP_FAIL, bytes);
		return TC_ACT_SHOT;
	}
	outer.version = 4;
	outer.ihl = 5;
	outer.tot_len = bpf_htons(inner_len + sizeof(outer));
	outer.frag_off = frag_off;
	outer.id = frag_off ? 0 : (__u16)bpf_get_prandom_u32();
	outer.ttl = cfg->outer_ttl;
	outer.protocol = IPPROTO_IPIP;
	outer.saddr = cfg->machine_ip;
	outer.daddr = pop;
	ipv4_csum_20(&outer);
	if (bpf_skb_store_bytes(skb, sizeof(struct ethhdr), &outer, sizeof(outer), 0)) {
		gs_count(GS_R_ENCAP_FAIL, bytes);
		return TC_ACT_SHOT;
	}

	/* The kernel routed the packet towards the client; the POP may sit
	 * behind another gateway. Output lookup on this device: on failure the
	 * packet keeps the gateway the kernel chose. */
	fib.family = AF_INET;
	fib.ipv4_src = cfg->machine_ip;
	fib.ipv4_dst = pop;
	fib.tot_len = inner_len + sizeof(outer);
	fib.ifindex = skb->ifindex;
	if (bpf_fib_lookup(skb, &fib, sizeof(fib), BPF_FIB_LOOKUP_OUTPUT) ==
	    BPF_FIB_LKUP_RET_SUCCESS) {
		bpf_skb_store_bytes(skb, 0, fib.dmac, ETH_ALEN, 0);
		bpf_skb_store_bytes(skb, ETH_ALEN, fib.smac, ETH_ALEN, 0);
	}
	gs_count(GS_R_ENCAP, bytes);
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
