/* fleet.h - the edge's part of the fleet: publishes this POP's punches (and,
 * later, its bans), applies every peer's and the operator's entries to the
 * maps, keeps the heartbeat. Built on libbifrost-sync. */
#ifndef EDGE_FLEET_H
#define EDGE_FLEET_H

#include "bifrost.h"
#include "config.h"
#include "maps.h"
#include "sync.h"

struct event_base;
struct edge_fleet;

struct edge_fleet *edge_fleet_new(struct event_base *base, const struct edge_config *cfg,
				  struct edge_maps *maps, const char *xdp_mode);
void edge_fleet_free(struct edge_fleet *f);

struct sync_fleet_conf;
struct a2s_keys;

/* Who keeps the A2S cache (edge/a2s.c, wired by main.c). reply() gets a
 * cached reply as Redis holds it (not yet validated) with the TTL it has
 * left, or val NULL when it is gone (TTL ended, connection no longer A2S); keys() the fleet's
 * challenge keys whenever they change. */
struct edge_fleet_a2s_ops {
	void (*reply)(void *ctx, uint32_t ip, uint16_t port, enum bf_a2s_key kind,
		      const uint8_t *val, size_t len, int64_t ttl_ms);
	void (*keys)(void *ctx, const struct a2s_keys *k);
	void *ctx;
};
void edge_fleet_on_a2s(struct edge_fleet *f, const struct edge_fleet_a2s_ops *ops);

/* Called when the fleet's config (bifrost:conf:version) changed, with the
 * connections, rules and protected prefixes that validated. */
typedef void (*edge_conf_cb)(void *ctx, const struct sync_fleet_conf *fc);
void edge_fleet_on_conf(struct edge_fleet *f, edge_conf_cb cb, void *ctx);

/* A punch reported by XDP (new or refreshed). */
void edge_fleet_punch(struct edge_fleet *f, const struct bf_punch_key *k,
		      const struct bf_punch_val *v);

/* A source XDP blocked for going over a connection's limit, until the
 * CLOCK_MONOTONIC `expires_ns`: published as a blacklist entry of this
 * edge's origin (why "ratelimit"), so every POP drops it within
 * milliseconds. */
void edge_fleet_ban(struct edge_fleet *f, uint32_t addr, uint64_t expires_ns);

/* Publishes this second's stats frame: the bifrost:stats:<id> HASH, the same
 * frame msgpack-encoded on the channel of that name, and the history stream.
 * The frame's origin and sync fields are filled here. Never queues: when
 * Redis is away or the previous frame is still unanswered the frame is
 * dropped and counted (logged once when dropping starts and once when it
 * ends). */
void edge_fleet_publish_stats(struct edge_fleet *f, struct bf_stats_frame *fr);

struct edge_fleet_health {
	struct sync_stats sync;
	bool connected;
	uint64_t stats_frames, stats_dropped;
	uint64_t punch_refused_origin; /* peers' punches over an origin's cap */
	uint64_t publish_capped;       /* own entries not published: over publish_max_pps */
};
void edge_fleet_health(const struct edge_fleet *f, struct edge_fleet_health *h);

#endif
