/* a2s_feed.h - the A2S cache from the fleet: the challenge key (created and
 * rotated by one atomic script at Redis), each A2S connection's cached
 * replies read when a refresher announces them and every second, handed to
 * the AF_XDP workers, and each connection's readiness to the apply layer. */
#ifndef EDGE_A2S_FEED_H
#define EDGE_A2S_FEED_H

#include <stddef.h>
#include <stdint.h>

#include "schema.h"

struct edge_a2s;
struct edge_apply;
struct sync_client;
struct edge_a2s_feed;

/* One cached A2S reply as the edge last read it from Redis (/metrics). */
struct edge_a2s_seen {
	uint32_t ip;        /* network order */
	uint16_t port;
	int kind;           /* enum bf_a2s_key: info, player, rules */
	uint64_t sum;       /* of its bytes */
	int64_t changed_ms; /* wall clock when its bytes last changed */
	int64_t read_ms;    /* wall clock of the last read */
	int64_t ttl_ms;     /* TTL left in Redis at that read */
};

/* workers may be NULL (a2s_workers no): then nothing is followed. */
struct edge_a2s_feed *edge_a2s_feed_new(struct sync_client *sc, struct edge_a2s *workers,
					struct edge_apply *apply);
void edge_a2s_feed_free(struct edge_a2s_feed *f);

/* The fleet's connections: those with a2s on are followed; the cache of any
 * other is dropped. */
void edge_a2s_feed_conns(struct edge_a2s_feed *f, const struct bf_conn *conns, size_t n);
/* A refresher stored a key: read it now rather than at the next second. */
void edge_a2s_feed_announced(struct edge_a2s_feed *f, enum bf_a2s_key kind, uint32_t ip,
			     uint16_t port);
/* Each second: the key, and every cached reply again (one whose TTL ran out
 * is dropped within a second). */
void edge_a2s_feed_tick(struct edge_a2s_feed *f);

const struct edge_a2s_seen *edge_a2s_feed_seen(const struct edge_a2s_feed *f, size_t *n);

#endif
