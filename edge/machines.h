/* machines.h - the game machines behind this POP as XDP sees them: which
 * backend interface the route to each leaves by (the return path's strict
 * reverse-path check), and each machine's budget of live punches. Every
 * punch user space writes or removes goes through here, so the budgets
 * stay exact. */
#ifndef EDGE_MACHINES_H
#define EDGE_MACHINES_H

#include <net/if.h>
#include <stddef.h>
#include <stdint.h>

#include "bifrost.h"
#include "config.h" /* EDGE_MAX_IFACES */

#define EDGE_PUNCH_MAX_DEFAULT 65536 /* live punches per machine */

struct edge_map_fds;

struct edge_machine {
	uint32_t ip;       /* network order */
	uint32_t ifindex;  /* backend interface the route to it leaves by; 0: none */
	uint32_t slot;     /* its counter in bf_punch_quota */
};

struct edge_machines {
	int fd_machines, fd_quota, fd_punches, fd_served;
	uint64_t *quota;           /* bf_punch_quota, mmap'd: BF_MACHINES_MAX counters */
	struct edge_machine *m;    /* the machines in bf_machines, sorted by ip */
	size_t n;
	int backend[EDGE_MAX_IFACES]; /* ifindexes of the backend interfaces */
	int n_backend;
	uint32_t punch_max;        /* per machine */
	struct edge_ports *ports;  /* a punch put here opens its port (ports.h); may be NULL */
	/* user space's punches refused: unknown machine, machine not serving
	 * the punch's address, machine's budget spent, table full */
	uint64_t refused_unknown, refused_served, refused_quota, refused_full;
};

/* Maps the quota counters and recovers what a running edge left in the
 * pinned maps: slots from bf_machines, live punches per slot counted from
 * bf_punches. 0 or -errno. */
int edge_machines_init(struct edge_machines *mm, const struct edge_map_fds *fd);
void edge_machines_free(struct edge_machines *mm);

/* The interfaces the machines' IPIP may arrive on, and the budget. */
void edge_machines_configure(struct edge_machines *mm, const int *backend, int n_backend,
			     uint32_t punch_max);

/* The bf_machines value each of `ips` (n distinct machines) should have
 * now: a slot (kept for a machine already known) and the route's backend
 * interface. vals[i] is for ips[i]. Call edge_machines_commit with the same
 * set once bf_machines holds it. */
int edge_machines_values(struct edge_machines *mm, const uint32_t *ips, size_t n,
			 struct bf_machine *vals);
/* The set is in bf_machines: machines no longer in it give their slot back. */
int edge_machines_commit(struct edge_machines *mm, const uint32_t *ips,
			 const struct bf_machine *vals, size_t n);

/* Resolves every machine's route again and rewrites the ones whose backend
 * interface changed (logged). Returns how many changed, or -errno. */
int edge_machines_refresh(struct edge_machines *mm);

/* The interface the kernel's route to `dst` leaves by (RTM_GETROUTE).
 * 0 or -errno. */
int edge_route_oif(uint32_t dst, int *oif);

/* A punch from elsewhere (a peer POP through Redis): machine must be known
 * and serve the punch's bind address, and have room in its budget.
 * 0, -ENOENT (unknown machine), -EPERM (not its address), -EDQUOT (budget
 * spent), -ENOSPC (table full), or another -errno; refusals are counted. */
int edge_punch_put(struct edge_machines *mm, const struct bf_punch_key *k, uint32_t machine,
		   uint64_t expires_ns);
/* Removes a punch (0, or -ENOENT when there is none). */
int edge_punch_del(struct edge_machines *mm, const struct bf_punch_key *k);
/* The sweeper removed a punch of `machine`: its budget gets the room back. */
void edge_punch_gone(struct edge_machines *mm, uint32_t machine);

/* Live punches of a machine as counted (0 for an unknown machine). */
uint64_t edge_machine_punches(const struct edge_machines *mm, uint32_t machine);

#endif
