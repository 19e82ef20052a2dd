/* maps_int.h - what the map writers (maps*.c, lists.c, sweep.c) share and
 * nobody else needs. */
#ifndef EDGE_MAPS_INT_H
#define EDGE_MAPS_INT_H

#include "maps.h"

#define DUMP_BATCH 4096 /* entries per bpf_map_lookup_batch */

/* Writes m->conf (with the lists' prefix masks) to bf_config. 0 or -errno. */
int maps_write_conf(struct edge_maps *m);
/* Removes one list entry and keeps the prefix-length counts. 0 or -errno. */
int maps_list_remove_key(struct edge_maps *m, enum bf_list l, const struct bf_cidr_key *k);
/* Maps the batch writer's array when the object has one (edge_maps_init). */
void maps_list_batch_open(struct edge_maps *m);

#endif
