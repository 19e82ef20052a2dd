/* ports.h - the open ports of each bind address (bf_port_open, bpf/lib/ports.h):
 * which bind address has which slot, and the bits user space writes. */
#ifndef EDGE_PORTS_H
#define EDGE_PORTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bifrost.h"

struct edge_port_slot {
	uint32_t ip, slot;
};

struct edge_ports {
	int fd_open, fd_punches, fd_conns, fd_rules;
	uint64_t *open;                      /* bf_port_open, mmapped; NULL: none (older pins) */
	uint32_t slot_ip[BF_PORT_SLOTS];     /* slot -> bind address (network order), 0 free */
	uint8_t cooling[BF_PORT_SLOTS];      /* freed by the last apply: free from the next one */
	struct edge_port_slot ix[BF_PORT_SLOTS]; /* slot_ip by address, sorted */
	size_t n_ix;
	bool full_logged;
	uint64_t rebuilds;
	int64_t rebuilt_ms;                  /* monotonic, last rebuild */
};

/* How often the sweeper writes the open ports afresh (expired punches close). */
#define EDGE_PORTS_REBUILD_MS 30000

struct edge_map_fds;
struct bf_conn_key;
struct bf_config;

/* Maps bf_port_open and takes the slots the running edge's bf_dests carry. 0, or
 * -errno; without the map (pins of an older version) the ports stay off (0). */
int edge_ports_init(struct edge_ports *p, const struct edge_map_fds *fd);

/* The slot of each bind address of `ips` (sorted dests, `vals` their bf_dest) put in
 * its flags: an address keeps its slot, a new one takes a free slot (0 when none is
 * left: its ports all go the whole way, logged once). Slots of addresses no longer
 * there are free from the next call. */
void edge_ports_assign(struct edge_ports *p, const uint32_t *ips, struct bf_dest *vals,
		       size_t n);

/* Writes every slot's bits afresh: the connections `conns` (NULL: those in
 * bf_conns), the rules of the halves in `halves` (bit h: half h of conf), the
 * punches in bf_punches; then ORs in the punches again (one XDP learned while
 * the words were written keeps its bit). 0 or -errno. */
int edge_ports_rebuild(struct edge_ports *p, const struct bf_config *conf, unsigned halves,
		       const struct bf_conn_key *conns, size_t n_conns);

/* A punch user space put (a peer's) opens its port. bind_ip network order, port host order. */
void edge_ports_open(struct edge_ports *p, uint32_t bind_ip, uint16_t port, uint8_t proto);

#endif
