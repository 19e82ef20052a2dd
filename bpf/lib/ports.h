/* ports.h - closed ports (stage 3b): a packet for a port of a bind address that
 * nothing opens (no connection, no punch, no rule naming it) is dropped after
 * the whitelist and before any other list: it would be dropped whatever they
 * say, so a random-port flood costs two look-ups. docs/ARCHITECTURE.md,
 * "Closed ports". */
#ifndef BF_PORTS_H
#define BF_PORTS_H

#include <linux/bpf.h>
#include <linux/in.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include "../bifrost.h"
#include "edge_maps.h"
#include "parse.h"

/* 1 when p's port at its bind address (dest) is closed. Only for a bind address
 * with a slot, not this host's own addresses (everything there goes to the host). */
static __always_inline int port_closed(const struct bf_config *cfg, const struct bf_dest *dest,
				       const struct pkt *p)
{
	__u32 slot = dest->flags >> BF_DEST_SLOT_SHIFT, idx;
	__u16 port = bpf_ntohs(p->dport);
	__u64 *w;

	if (!slot || slot >= BF_PORT_SLOTS || (dest->flags & BF_DEST_LOCAL) ||
	    p->daddr == cfg->edge_addr || (p->proto != IPPROTO_UDP && p->proto != IPPROTO_TCP))
		return 0;
	idx = bf_port_word(slot, p->proto == IPPROTO_TCP, port);
	w = bpf_map_lookup_elem(&bf_port_open, &idx);
	return w && !(*w & (1ULL << (port & 63)));
}

/* A punch was learned for (bind, port, proto): its port is open from now on. Set
 * after the punch is in bf_punches (user space's rebuild relies on that order). */
static __always_inline void port_open_punch(__be32 bind, __be16 port_be, __u8 proto)
{
	struct bf_dest *d = bpf_map_lookup_elem(&bf_dests, &bind);
	__u16 port = bpf_ntohs(port_be);
	__u32 slot, idx;
	__u64 *w;

	if (!d || (proto != IPPROTO_UDP && proto != IPPROTO_TCP))
		return;
	slot = d->flags >> BF_DEST_SLOT_SHIFT;
	if (!slot || slot >= BF_PORT_SLOTS)
		return;
	idx = bf_port_word(slot, proto == IPPROTO_TCP, port);
	w = bpf_map_lookup_elem(&bf_port_open, &idx);
	if (w)
		__sync_fetch_and_or(w, 1ULL << (port & 63));
}

#endif /* BF_PORTS_H */
