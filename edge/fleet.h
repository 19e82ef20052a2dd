/* fleet.h - the edge's part of the fleet bus: peers' and the operator's
 * records go through the register into the apply layer; the fleet config
 * goes to the apply layer and the A2S feed; this POP's own punches and
 * shared bans go out to Redis (within a publishing cap). Data flows one
 * way: Redis -> fleet -> register -> apply -> maps. Built on
 * libbifrost-sync. */
#ifndef EDGE_FLEET_H
#define EDGE_FLEET_H

#include "bifrost.h"
#include "config.h"
#include "sync.h"

struct event_base;
struct edge_apply;
struct edge_a2s_feed;
struct edge_fleet;

/* Starts following the fleet's Redis (cfg->redis_ep, cfg->redis_prefix) as
 * origin cfg->id; every change is applied through `apply`. NULL on a bad
 * config (logged). */
struct edge_fleet *edge_fleet_new(struct event_base *base, const struct edge_config *cfg,
				  struct edge_apply *apply);
void edge_fleet_free(struct edge_fleet *f);

/* The sync client, for the modules that publish through it (heartbeat, A2S feed). */
struct sync_client *edge_fleet_sync(struct edge_fleet *f);

/* Where the fleet config's A2S connections and the refreshers'
 * announcements go (NULL: nowhere). */
void edge_fleet_set_a2s_feed(struct edge_fleet *f, struct edge_a2s_feed *feed);

/* Each second: the fleet config when its version changed, and the
 * register's expired claims. */
void edge_fleet_tick(struct edge_fleet *f);

/* A punch reported by XDP (new or refreshed): published as this origin's. */
void edge_fleet_punch(struct edge_fleet *f, const struct bf_punch_key *k,
		      const struct bf_punch_val *v);

/* A client XDP validated (or saw still playing) at a connection, until the
 * CLOCK_MONOTONIC `expires_ns`: published as this origin's validated client. */
void edge_fleet_valid(struct edge_fleet *f, const struct bf_rl_key *k, uint64_t expires_ns);

/* A source XDP blocked for going over a limit of a connection that shares
 * its bans, until the CLOCK_MONOTONIC `expires_ns`: published as a
 * blacklist entry of this origin (why "ratelimit"). */
void edge_fleet_ban(struct edge_fleet *f, uint32_t addr, uint64_t expires_ns);

struct edge_fleet_health {
	struct sync_stats sync;
	bool connected;
	const struct edge_guard *guard; /* what this edge refused from the bus (guard.h) */
	uint64_t punch_refused_origin; /* peers' punches over an origin's cap */
	uint64_t publish_capped;       /* own entries not published: over publish_max_pps */
	const char *conf_version;      /* the fleet config last applied ("" none) */
	unsigned conf_refused;         /* its hashes, rules, prefixes refused */
};
void edge_fleet_health(const struct edge_fleet *f, struct edge_fleet_health *h);

#endif
