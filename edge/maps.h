/* maps.h - everything user space writes into or reads from the edge maps. */
#ifndef EDGE_MAPS_H
#define EDGE_MAPS_H

#include <stdint.h>

#include "bifrost.h"
#include "clock.h"
#include "config.h"
#include "loader.h"
#include "machines.h"
#include "ports.h"

/* The CIDR lists of sources (enum bf_list in bifrost.h) as data: every
 * layer iterates this table (lists.c). A new list is a row here, its
 * BF_LIST_* and its BPF map; nothing else. */
struct edge_list_desc {
	enum bf_list list;
	const char *name;        /* --dump name */
	const char *what;        /* in messages: "protected list" */
	size_t fd_off;           /* its map in struct edge_map_fds */
	bool refuses_protected;  /* an entry within a protected prefix is refused (a ban) */
};
extern const struct edge_list_desc edge_lists[BF_LISTS];
int edge_list_fd(const struct edge_map_fds *fd, enum bf_list l);

/* Where the sweeper stopped in one map (a bpf_map_lookup_batch token). */
struct edge_sweep_walk {
	__u64 token;
	int started;
};

struct edge_maps {
	struct edge_map_fds fd;
	struct edge_sweep_walk walk[BF_LISTS + 3]; /* the lists, the blocklist, punches, bf_valid */
	int ncpu;
	uint32_t plen_count[BF_LISTS][33]; /* entries per prefix length, per list */
	struct bf_config conf;      /* last written bf_config */
	uint64_t refused_protected; /* blacklist/blocklist adds refused: the source is protected */
	struct edge_machines mach;  /* game machines: reverse path, punch budgets */
	/* Fleet list writes queued for the batch writer (mmapped bf_list_batch; NULL:
	 * written one by one), and how many times it ran. */
	struct edge_ports ports;    /* open ports of the bind addresses (ports.h) */
	struct bf_list_batch_ent *batch;
	unsigned n_batch;
	uint64_t batch_runs;
};


/* Reads the list maps once to learn which prefix lengths are in use. */
int edge_maps_init(struct edge_maps *m, const struct edge_map_fds *fd);

/* Writes bf_config from cfg (addresses, flags, TTLs, echo limits) and the
 * prefix masks, and takes the backend interfaces and punch budget for the
 * machines (applied to bf_machines by the next edge_maps_apply_conns). The
 * rule set index is left as it is. */
int edge_maps_write_config(struct edge_maps *m, const struct edge_config *cfg);

/* Makes the connection maps (and the maps derived from them) hold exactly
 * `conns`, and bf_dests the bind addresses plus `locals` (this host's own
 * addresses): new entries are added before old ones are removed. */
int edge_maps_apply_conns(struct edge_maps *m, const struct bf_conn *conns, size_t n,
			  const uint32_t *locals, size_t nl);

/* Sets the bits `mask` of one connection's flags to `bits` (runtime state
 * such as A2S readiness; apply_conns rewrites them, so the owner sets them
 * again after it). -ENOENT when there is no such connection. */
int edge_maps_conn_flags(struct edge_maps *m, uint8_t proto, uint32_t bind_ip, uint16_t bind_port,
			 uint16_t mask, uint16_t bits);

/* The IPv4 addresses configured on this host (its network namespace). */
int edge_local_addrs(uint32_t **out, size_t *n);

/* Adds `src` as an owner of the entry with expiry `expires_ns` (0 =
 * permanent); the entry lives until the latest expiry of its owners. A
 * blacklist entry inside a protected prefix is refused: -EPERM, logged and
 * counted in refused_protected. */
int edge_maps_list_add(struct edge_maps *m, enum bf_list l, const struct bf_cidr *c,
		       uint64_t expires_ns, uint32_t src);
/* Like edge_maps_list_add, but when `src` is the entry's only owner the
 * expiry is set exactly (it may shrink: another origin's del). */
int edge_maps_list_put(struct edge_maps *m, enum bf_list l, const struct bf_cidr *c,
		       uint64_t expires_ns, uint32_t src);
/* Removes `src` as an owner; the entry goes when it has none left. */
/* Writes the fleet list entries edge_maps_list_put queued (it queues up to
 * BF_LIST_BATCH_MAX, then writes them itself; every other list call writes
 * them first). The owner calls it after each batch of fleet records. 0, or
 * the first error (logged, with the count). */
int edge_maps_list_flush(struct edge_maps *m);

int edge_maps_list_del(struct edge_maps *m, enum bf_list l, const struct bf_cidr *c,
		       uint32_t src);

/* Makes the entries owned by `src` exactly `entries` (TTLs count from now
 * for entries new to the map; existing ones keep their deadline). Entries
 * refused because they are protected are skipped, not an error. */
int edge_maps_list_reconcile(struct edge_maps *m, enum bf_list l,
			     const struct edge_list_entry *entries, size_t n, uint32_t src);

/* Entries of a list (counted per prefix length as they are written). */
uint64_t edge_maps_list_entries(const struct edge_maps *m, enum bf_list l);

/* 1 when addr (network order) lies in a live protected prefix. */
int edge_maps_protected(struct edge_maps *m, uint32_t addr);


/* ---- firewall rules ---- */

/* Makes the edge's live rule set exactly the enabled rules of `rules` that
 * apply to `edge_id` (NULL: only rules for every edge), in id order. The set
 * is written into the half of bf_rules that XDP is not using and then made
 * live by one byte of bf_config, so no packet ever sees a mix; on return no
 * packet is still being checked against the old set. A rule keeps its
 * counters while its id stays in the set. All or nothing: -EINVAL (two rules
 * with one id), -E2BIG (more than BF_RULES_MAX), or a map error leave the
 * live set as it was. */
int edge_maps_apply_rules(struct edge_maps *m, const struct bf_rule_def *rules, size_t n,
			  const char *edge_id);

struct edge_rule_stat {
	uint32_t id;
	uint8_t action;        /* BF_RULE_PASS / BF_RULE_DROP */
	uint8_t flags;         /* BF_RULE_F_* (dry-run: the counts are would-drops) */
	uint64_t packets, bytes;
};

/* The live rules, in id order, with their counters summed over CPUs.
 * *out is malloc'd (free it). Works on pinned maps of a running edge. */
int edge_maps_rule_stats(const struct edge_map_fds *fd, struct edge_rule_stat **out, size_t *n);

/* XDP's form of a rule (exposed for tests and benchmarks). */
void edge_rule_to_bpf(const struct bf_rule_def *d, uint16_t slot, struct bf_rule *out);

/* The connection value XDP reads: machine and limits as GCRA intervals. */
void edge_conn_to_bpf(const struct bf_conn *c, struct bf_conn_val *out);
/* Its inverse: the connection a bf_conns entry was written from (the limits'
 * preset name is not kept in the map: "" comes back). */
void edge_conn_from_bpf(const struct bf_conn_key *k, const struct bf_conn_val *v,
			struct bf_conn *out);

/* Every connection bf_conns holds now (the data plane a previous run left
 * pinned), in *out (malloc'd, freed by the caller; NULL when none). 0 or -errno. */
int edge_maps_read_conns(struct edge_maps *m, struct bf_conn **out, size_t *n);

struct edge_sweep_stats {
	uint64_t list[BF_LISTS];   /* per enum bf_list */
	uint64_t blocklist, punches, valid;
};
/* Deletes expired entries of the timed maps, walking at most a bounded
 * number of entries of each per call (it resumes where it stopped). */
int edge_maps_sweep(struct edge_maps *m, uint64_t now_ns, struct edge_sweep_stats *st);

/* ---- validated clients (bf_valid; lib/validate.h) ---- */

/* A peer's validated client (a fleet entry of kind valid), until expires_ns: added, or a
 * peer's entry already there kept until the later of the two deadlines (one this POP
 * validated, or saw playing, is XDP's and left alone). 0, -ENOSPC (the table is full) or
 * -errno. */
int edge_valid_put(struct edge_maps *m, const struct bf_rl_key *k, uint64_t expires_ns);
/* No peer holds it any more: removed unless this POP validated it or saw it play (XDP
 * keeps those while the client plays; the sweeper removes them once idle). */
int edge_valid_del(struct edge_maps *m, const struct bf_rl_key *k);
/* The key of a valid entry (struct bf_entry of kind valid). */
void edge_valid_key(const struct bf_entry *e, struct bf_rl_key *k);

/* Sums the per-CPU counters. */
int edge_maps_read_stats(const struct edge_map_fds *fd, struct bf_counter out[BF_R_MAX]);

/* Every entry of a hash map, via batch look-ups. *keys and *vals are
 * malloc'd (free them); n is set to the count. */
int edge_map_dump(int fd, size_t ksz, size_t vsz, void **keys, void **vals, size_t *n);

#endif
