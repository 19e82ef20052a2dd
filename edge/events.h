/* events.h - the ring buffer from XDP: new port punches, neighbour misses,
 * rate-limit bans, validated clients. */
#ifndef EDGE_EVENTS_H
#define EDGE_EVENTS_H

#include <stdint.h>

#include "bifrost.h"

struct ring_buffer;

struct edge_events {
	struct ring_buffer *rb;
	int nl_fd;             /* rtnetlink socket for neighbour kicks */
	/* Called for each punch event (the fleet sync publishes them). */
	void (*on_punch)(void *ctx, const struct bf_punch_key *k, const struct bf_punch_val *v);
	/* Called once per block XDP puts on a source over a connection's limit
	 * (already in force in bf_blocklist). Publish it only when b->flags has
	 * BF_BAN_F_SHARE and not BF_BAN_F_DRY_RUN. `b` lives for the call. */
	void (*on_ban)(void *ctx, const struct bf_ban *b);
	/* Called for each client validated here, or still playing here (lib/validate.h),
	 * with its idle deadline (CLOCK_MONOTONIC). */
	void (*on_valid)(void *ctx, const struct bf_rl_key *k, uint64_t expires_ns);
	void *ctx;
	uint64_t bans;         /* ban events seen */
};

int edge_events_open(struct edge_events *ev, int ringbuf_fd);
/* The fd to poll; readable when events wait. */
int edge_events_fd(const struct edge_events *ev);
/* Handles what is waiting; returns the number of events or -errno. */
int edge_events_poll(struct edge_events *ev);
void edge_events_close(struct edge_events *ev);

/* "udp 198.51.100.34:5000 203.0.113.10:40000 via 198.18.3.2": the flow from
 * remote to bind address, and the machine behind it (docs/REDIS.md: a punch member). */
void edge_punch_str(const struct bf_punch_key *k, uint32_t machine, char *buf, size_t len);

/* "udp 198.51.100.34 203.0.113.10:27015": a client validated at a connection. */
void edge_valid_str(const struct bf_rl_key *k, char *buf, size_t len);

/* "198.51.100.7 over pps of udp 203.0.113.10:27015, blocked 30s". */
void edge_ban_str(const struct bf_ban *b, char *buf, size_t len);

#endif
