/* apply.h - the one layer that writes the edge's maps from every source of
 * truth: the config file, the fleet's config, the fleet's entries (through
 * the register) and the A2S cache's readiness. Sources call down into it;
 * it calls only the map writers (maps.h, machines.h), never back up. */
#ifndef EDGE_APPLY_H
#define EDGE_APPLY_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "maps.h"
#include "register.h"
#include "sync.h"

struct edge_apply;

/* The maps and this edge's id (rules are scoped by edge id). */
struct edge_apply *edge_apply_new(struct edge_maps *maps, const char *edge_id);
void edge_apply_free(struct edge_apply *a);

/* The config file, at start and on every SIGHUP: settings, then its
 * connections (unless the fleet's are in force), protected prefixes, lists
 * and rules (unless the fleet's are), each as an exact diff of what the file
 * owned. 0 or -errno. The config must outlive the next call. */
int edge_apply_file(struct edge_apply *a, const struct edge_config *cfg);

/* Connections found in the pinned maps at start (a restart over a running data
 * plane), taken over (freed by the apply layer): until the fleet's first config
 * is read they stay in force beside the file's (the file wins on the same
 * protocol, address and port), so a restart, even one while Redis is away, does
 * not close the game servers the fleet published. Call before edge_apply_file. */
void edge_apply_hold_conns(struct edge_apply *a, struct bf_conn *conns, size_t n);

/* The fleet's config snapshot (bifrost:conf:version changed): connections
 * always (a first one without any keeps the file's), protected prefixes as
 * the fleet's share of that list, rules only as a whole valid set; a set
 * refused unread (conns_refused, protect_refused) keeps what is in force. */
void edge_apply_fleet_conf(struct edge_apply *a, const struct sync_fleet_conf *fc);

/* A fleet entry's effective state from the register: list entries owned by
 * `fleet`, punches through the machines' budgets. 0, or why it was refused
 * (-EPERM a protected address or a machine not serving it, -ENOENT no such
 * machine, -EDQUOT its budget, -ENOSPC the table). */
int edge_apply_fleet_entry(struct edge_apply *a, const struct reg_effect *fx);

/* List entries are queued by edge_apply_fleet_entry: written to the maps now
 * (after each batch of fleet records). */
void edge_apply_flush(struct edge_apply *a);

/* Which A2S replies of a connection the workers hold (A2S_INFO... bits of
 * edge/a2s_workers.h): XDP redirects those kinds only while they are. */
void edge_apply_a2s_ready(struct edge_apply *a, uint32_t ip, uint16_t port, unsigned ready);

/* This host's addresses: re-read each sweep; a change is applied (a new
 * management address is reachable within a sweep). 1 when they changed. */
int edge_apply_refresh_locals(struct edge_apply *a);

/* The connections in force: the fleet's once it has a config, else the file's
 * (and the held ones). */
const struct bf_conn *edge_apply_conns(const struct edge_apply *a, size_t *n);

#endif
