/* connstats.h - per-connection in/out counters (bf_conn_stats), kept apart
 * from edge.bpf.c so the stages carry one call each. */
#ifndef BF_CONNSTATS_H
#define BF_CONNSTATS_H

#include "edge_maps.h"
#include "parse.h"
#include "stats.h"

/* (proto, bind ip, bind port) -> per-CPU in/out packets and bytes. LRU: a
 * connection that is gone makes room by itself; an evicted live counter
 * restarts from 0, which user space reads as a counter reset. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct bf_conn_key);
	__type(value, struct bf_conn_counter);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} bf_conn_stats SEC(".maps");

static __always_inline struct bf_conn_counter *connstats_slot(__be32 bind_ip, __be16 bind_port,
							      __u8 proto)
{
	struct bf_conn_key k = {
		.bind_ip = bind_ip,
		.bind_port = proto == IPPROTO_ICMP ? 0 : bind_port,
		.proto = proto,
	};
	struct bf_conn_counter *c, zero = {};

	if (bf_stats_off)
		return NULL;
	c = bpf_map_lookup_elem(&bf_conn_stats, &k);
	if (c)
		return c;
	/* First packet of the connection on this POP: from a program, the
	 * update writes this CPU's slot and zeroes the others. */
	bpf_map_update_elem(&bf_conn_stats, &k, &zero, BPF_NOEXIST);
	return bpf_map_lookup_elem(&bf_conn_stats, &k);
}

/* Player -> game server. Takes the verdict of the encapsulation and counts
 * only what really left (XDP_TX or redirect); p->dport is still the bind port
 * (forward_conn rewrites the header, not the parsed copy). */
static __always_inline int connstats_in(const struct pkt *p, int action)
{
	struct bf_conn_counter *c;

	if (action != XDP_TX && action != XDP_REDIRECT)
		return action;
	c = connstats_slot(p->daddr, p->dport, p->proto);
	if (c) {
		c->in_packets++;
		c->in_bytes += p->ip_len;
	}
	return action;
}

/* Game server -> player: a reply of a connection (bf_conn_rev matched);
 * `in` is the inner packet, bind_port the connection's public port. */
static __always_inline void connstats_out(const struct pkt *in, __be16 bind_port)
{
	struct bf_conn_counter *c = connstats_slot(in->saddr, bind_port, in->proto);

	if (c) {
		c->out_packets++;
		c->out_bytes += in->ip_len;
	}
}

#endif /* BF_CONNSTATS_H */
