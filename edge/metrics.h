/* metrics.h - the Prometheus /metrics endpoint (libevent evhttp, on the edge's
 * event loop) and its text rendering, a pure function of a snapshot. */
#ifndef EDGE_METRICS_H
#define EDGE_METRICS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "a2s_feed.h"
#include "a2s_workers.h"
#include "guard.h"
#include "stats.h"
#include "sync.h"


struct event_base;
struct edge_metrics;

/* Everything one scrape shows. */
struct edge_metrics_snap {
	const char *version, *id;
	struct edge_stats_sample sample; /* owned: freed after rendering */
	bool fleet;                      /* Redis configured: sync metrics are live */
	struct sync_stats sync;
	bool sync_connected;
	uint64_t stats_frames, stats_dropped, stats_refused;
	uint64_t wl_entries, bl_entries;
	/* peers' punches refused: unknown machine, address not served, machine's
	 * budget spent, table full, over the origin's cap */
	uint64_t punch_refused[5];
	uint64_t publish_capped;
	struct edge_guard_row guard[EDGE_GUARD_ROWS]; /* refused from the bus, by kind and why */
	size_t n_guard;
	bool a2s;                          /* AF_XDP workers running */
	struct edge_a2s_counters a2s_counters;
	const struct edge_a2s_seen *a2s_seen; /* not owned */
	size_t n_a2s_seen;
	int64_t now_ms;
};

/* Prometheus text exposition format 0.0.4, with HELP and TYPE lines. 0 or
 * -EIO when the stream failed. */
int edge_metrics_render(const struct edge_metrics_snap *s, FILE *out);

/* A label value as the format wants it: backslash, double quote and newline
 * escaped (Prometheus's rules, not JSON's: \u escapes would be shown raw).
 * Always NUL-terminates; returns buf. */
const char *edge_metrics_label_esc(const char *s, char *buf, size_t cap);

/* Called on every scrape to fill the snapshot (0, or -errno: 500). */
typedef int (*edge_metrics_fill_cb)(void *ctx, struct edge_metrics_snap *s);

/* Listens on addr:port (network order addr, host order port). NULL with the
 * reason logged when the address cannot be bound. */
struct edge_metrics *edge_metrics_new(struct event_base *base, uint32_t addr, uint16_t port,
				      edge_metrics_fill_cb fill, void *ctx);
void edge_metrics_free(struct edge_metrics *m);

#endif
