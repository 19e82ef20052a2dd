/* maps.h - everything user space writes into or reads from the edge maps. */
#ifndef EDGE_MAPS_H
#define EDGE_MAPS_H

#include <stdint.h>

#include "bifrost.h"
#include "config.h"
#include "loader.h"

enum edge_list { EDGE_WL = 0, EDGE_BL = 1 };

/* Where the sweeper stopped in one map (a bpf_map_lookup_batch token). */
struct edge_sweep_walk {
	__u64 token;
	int started;
};

struct edge_maps {
	struct edge_map_fds fd;
	struct edge_sweep_walk walk[4]; /* whitelist, blacklist, blocklist, punches */
	int ncpu;
	uint32_t plen_count[2][33]; /* entries per prefix length, per list */
	struct bf_config conf;      /* last written bf_config */
};

/* Monotonic clock in ns: the clock of bpf_ktime_get_ns(). */
uint64_t edge_mono_ns(void);

/* Reads the list maps once to learn which prefix lengths are in use. */
int edge_maps_init(struct edge_maps *m, const struct edge_map_fds *fd);

/* Writes bf_config from cfg (address, flags, TTLs) and the prefix masks. */
int edge_maps_write_config(struct edge_maps *m, const struct edge_config *cfg);

/* Makes the connection maps (and the maps derived from them) hold exactly
 * `conns`, and bf_dests the bind addresses plus `locals` (this host's own
 * addresses): new entries are added before old ones are removed. */
int edge_maps_apply_conns(struct edge_maps *m, const struct bf_conn *conns, size_t n,
			  const uint32_t *locals, size_t nl);

/* The IPv4 addresses configured on this host (its network namespace). */
int edge_local_addrs(uint32_t **out, size_t *n);

/* Adds `src` as an owner of the entry with expiry `expires_ns` (0 =
 * permanent); the entry lives until the latest expiry of its owners. */
int edge_maps_list_add(struct edge_maps *m, enum edge_list l, const struct bf_cidr *c,
		       uint64_t expires_ns, uint32_t src);
/* Like edge_maps_list_add, but when `src` is the entry's only owner the
 * expiry is set exactly (it may shrink: another origin's del). */
int edge_maps_list_put(struct edge_maps *m, enum edge_list l, const struct bf_cidr *c,
		       uint64_t expires_ns, uint32_t src);
/* Removes `src` as an owner; the entry goes when it has none left. */
int edge_maps_list_del(struct edge_maps *m, enum edge_list l, const struct bf_cidr *c,
		       uint32_t src);

/* Makes the entries owned by `src` exactly `entries` (TTLs count from now
 * for entries new to the map; existing ones keep their deadline). */
int edge_maps_list_reconcile(struct edge_maps *m, enum edge_list l,
			     const struct edge_list_entry *entries, size_t n, uint32_t src);

struct edge_sweep_stats {
	uint64_t whitelist, blacklist, blocklist, punches;
};
/* Deletes expired entries of the timed maps, walking at most a bounded
 * number of entries of each per call (it resumes where it stopped). */
int edge_maps_sweep(struct edge_maps *m, uint64_t now_ns, struct edge_sweep_stats *st);

/* Sums the per-CPU counters. */
int edge_maps_read_stats(const struct edge_map_fds *fd, struct bf_counter out[BF_R_MAX]);

/* Every entry of a hash map, via batch look-ups. *keys and *vals are
 * malloc'd (free them); n is set to the count. */
int edge_map_dump(int fd, size_t ksz, size_t vsz, void **keys, void **vals, size_t *n);

#endif
