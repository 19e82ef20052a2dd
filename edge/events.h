/* events.h - the ring buffer from XDP: new port punches, neighbour misses. */
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
	void *ctx;
};

int edge_events_open(struct edge_events *ev, int ringbuf_fd);
/* The fd to poll; readable when events wait. */
int edge_events_fd(const struct edge_events *ev);
/* Handles what is waiting; returns the number of events or -errno. */
int edge_events_poll(struct edge_events *ev);
void edge_events_close(struct edge_events *ev);

/* "udp 198.51.100.34:5000 203.0.113.10:40000 via 198.18.3.2": the flow from
 * remote to bind address, and the machine behind it (DESIGN §3 member). */
void edge_punch_str(const struct bf_punch_key *k, uint32_t machine, char *buf, size_t len);

#endif
