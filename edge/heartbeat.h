/* heartbeat.h - this edge's state on the bus each second: the heartbeat
 * hash, the rule counters, and the stats frame. Publishing never queues:
 * a frame is dropped and counted when Redis is away or the previous second
 * is still unanswered (logged once when dropping starts and once when it
 * ends), so a slow Redis costs frames, never memory or latency. */
#ifndef EDGE_HEARTBEAT_H
#define EDGE_HEARTBEAT_H

#include <stdint.h>

#include "config.h"
#include "loader.h"
#include "schema.h"

#define EDGE_HEARTBEAT_TTL_MS 15000 /* a dead edge's heartbeat and stats vanish after it */

struct sync_client;
struct edge_heartbeat;

struct edge_heartbeat *edge_heartbeat_new(struct sync_client *sc, const struct edge_config *cfg,
					  const struct edge_map_fds *fd, const char *xdp_mode);
void edge_heartbeat_free(struct edge_heartbeat *h);

/* The heartbeat hash and the rule counters; conf_* is the fleet config
 * last applied, guard what was refused from the bus (NULL: nothing). */
void edge_heartbeat_tick(struct edge_heartbeat *h, const char *conf_version,
			 unsigned conf_refused, const struct edge_guard *guard);
/* This second's stats frame; its origin and sync fields are filled here. */
void edge_heartbeat_stats(struct edge_heartbeat *h, struct bf_stats_frame *fr);

/* Stats frames Redis took, frames dropped unsent (Redis away or slow), frames of which a
 * command was refused (NOPERM, OOM) or lost with the connection. */
void edge_heartbeat_counts(const struct edge_heartbeat *h, uint64_t *frames, uint64_t *dropped,
			   uint64_t *refused);

#endif
