/* loader.h - loading, pinning, attaching and detaching the edge XDP program. */
#ifndef EDGE_LOADER_H
#define EDGE_LOADER_H

#include <limits.h>
#include <net/if.h>

#include "config.h"

#define EDGE_PIN_ROOT "/sys/fs/bpf/bifrost"

struct edge_bpf;

struct edge_iface {
	char name[IF_NAMESIZE];
	int ifindex;
	struct edge_bpf *skel;
	const char *mode; /* "native" or "generic" */
};

/* File descriptors of the POP's maps, shared by every interface; in the
 * order of map_names in loader.c (new maps go at the end). */
struct edge_map_fds {
	int config, stats, conns, conn_rev, served, machines, dests;
	int whitelist, blacklist, blocklist, punches, events;
	int protected, ratelimit, rules, rule_stats, rule_rates;
	int conn_stats; /* appended: the order is map_names[] in loader.c */
	int punch_quota;
	int ifaces;     /* appended: absent from pins of an older version */
	int rule_idx, rule_ports; /* appended: the rules' port index (absent: linear) */
	int valid, hs_src, hs_conn; /* appended: handshake validation (lib/validate.h) */
	int xsks;       /* never pinned: -1 when opened from pins (--stats, --dump) */
	int list_batch; /* never pinned: the list writer's own array (-1 from pins) */
	int port_open;  /* appended: closed ports (absent from older pins: -1) */
	int list_batch_prog; /* not a map: the list writer (bifrost_list_batch), or -1 */
};

struct edge_dp {
	struct edge_iface ifs[EDGE_MAX_IFACES];
	int n_ifs;
	char pin_dir[PATH_MAX];
	struct edge_map_fds fd;
	int owns_fds; /* fds were opened from pins (not owned by a skeleton) */
};

struct bpf_object;

/* Fills fd with the maps of a loaded edge object (-1 for any not found). */
void edge_map_fds_from_object(struct bpf_object *obj, struct edge_map_fds *fd);

/* Pin directory of a POP whose first interface is `ifname`. */
void edge_pin_dir(const char *ifname, char *buf, size_t len);

/* Loads the program for every interface of cfg, re-using the maps pinned by
 * an earlier run, and attaches it, atomically replacing an earlier Bifrost
 * program. 0 or -errno with the reason logged. */
int edge_dp_load(struct edge_dp *dp, const struct edge_config *cfg);

/* Releases user-space handles; the program stays attached. */
void edge_dp_close(struct edge_dp *dp);

/* Opens the maps pinned for `ifname` without loading anything (for
 * --stats and --dump). */
int edge_dp_open_pinned(struct edge_dp *dp, const char *ifname);

/* Detaches Bifrost from every interface of cfg and removes the pins. */
int edge_dp_detach(const struct edge_config *cfg);

/* Checks privileges and bpffs before anything is loaded. */
int edge_preflight(const struct edge_config *cfg);

#endif
