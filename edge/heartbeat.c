/* heartbeat.c - the heartbeat, rule counters and stats frames of this edge
 * (heartbeat.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "heartbeat.h"
#include "log.h"
#include "maps.h"
#include "sync.h"

#ifndef BIFROST_VERSION
#define BIFROST_VERSION "dev"
#endif

struct edge_heartbeat {
	struct sync_client *sc;
	const struct edge_map_fds *fd;
	char id[64], ifaces[160], xdp_mode[16];
	int64_t started_ms;
	uint64_t history_ms;
	bool had_rules;           /* <prefix>rulestats:<id> holds something */
	unsigned inflight;        /* commands of the last frame not yet answered */
	bool frame_ok;            /* every answered command of that frame succeeded */
	bool dropping;            /* logged that frames are dropped; not yet resumed */
	uint64_t frames, dropped, dropped_at;
	uint64_t refused;         /* frames Redis refused a command of (NOPERM, OOM) */
	struct bf_log_state refusing;
};

struct edge_heartbeat *edge_heartbeat_new(struct sync_client *sc, const struct edge_config *cfg,
					  const struct edge_map_fds *fd, const char *xdp_mode)
{
	struct edge_heartbeat *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->sc = sc;
	h->fd = fd;
	h->started_ms = bf_wall_ms();
	h->history_ms = cfg->stats_history_ms;
	snprintf(h->id, sizeof(h->id), "%s", cfg->id);
	snprintf(h->xdp_mode, sizeof(h->xdp_mode), "%s", xdp_mode ? xdp_mode : "?");
	for (int i = 0; i < cfg->n_ifaces; i++) {
		size_t n = strlen(h->ifaces);

		snprintf(h->ifaces + n, sizeof(h->ifaces) - n, "%s%s", i ? "," : "", cfg->ifaces[i]);
	}
	return h;
}

void edge_heartbeat_free(struct edge_heartbeat *h)
{
	free(h);
}

/* <prefix>rulestats:<id>, rewritten whole each second (a removed rule's
 * line goes with it), gone 15 s after the edge. */
static void rule_counts(struct edge_heartbeat *h)
{
	struct edge_rule_stat *st;
	struct sync_rule_count *rc;
	size_t n;

	if (!sync_client_connected(h->sc) || edge_maps_rule_stats(h->fd, &st, &n))
		return;
	if ((n || h->had_rules) && (rc = calloc(n + 1, sizeof(*rc)))) {
		for (size_t i = 0; i < n; i++)
			rc[i] = (struct sync_rule_count){ st[i].id, st[i].packets, st[i].bytes };
		if (!sync_publish_rulestats(h->sc, rc, n, EDGE_HEARTBEAT_TTL_MS))
			h->had_rules = n > 0;
		free(rc);
	}
	free(st);
}

void edge_heartbeat_tick(struct edge_heartbeat *h, const char *conf_version,
			 unsigned conf_refused, const struct edge_guard *guard)
{
	struct sync_heartbeat hb = { .version = BIFROST_VERSION, .ifaces = h->ifaces,
				     .xdp_mode = h->xdp_mode, .conf_version = conf_version,
				     .started_ms = h->started_ms, .conf_refused = conf_refused };
	char by[512] = "";

	if (guard)
		hb.bus_refused = edge_guard_summary(guard, by, sizeof(by));
	hb.bus_refused_by = by;
	rule_counts(h);
	sync_publish_heartbeat(h->sc, &hb, EDGE_HEARTBEAT_TTL_MS);
}

static void frame_done(void *ctx, bool ok)
{
	struct edge_heartbeat *h = ctx;

	if (!ok)
		h->frame_ok = false;
	if (!h->inflight || --h->inflight)
		return;
	if (h->frame_ok) {
		h->frames++;
		return;
	}
	/* Redis answered a command with an error (an ACL without this edge's stats keys,
	 * OOM), or the connection went while the frame was in flight: the heartbeat and the
	 * sync go on; one line when it starts, one when it ends. */
	h->refused++;
	bf_log_state_hit(&h->refusing, BF_LOG_WARN,
			 "stats: Redis did not take a stats frame (a command refused: an ACL "
			 "without this edge's stats keys? out of memory? or the connection "
			 "dropped); counting them in bifrost_stats_frames_refused_total until it "
			 "takes them");
}

static void frame_drop(struct edge_heartbeat *h, const char *why)
{
	h->dropped++;
	if (h->dropping)
		return;
	h->dropping = true;
	h->dropped_at = h->dropped - 1;
	pr_warn("stats: %s; dropping stats frames until Redis answers (counted in "
		"bifrost_stats_frames_dropped_total)",
		why);
}

void edge_heartbeat_stats(struct edge_heartbeat *h, struct bf_stats_frame *fr)
{
	struct sync_stats st;
	int sent;

	bf_log_state_tick(&h->refusing, "stats: Redis refusing stats commands");
	sync_client_stats(h->sc, &st);
	snprintf(fr->origin, sizeof(fr->origin), "%s", h->id);
	fr->sync_up = sync_client_connected(h->sc);
	fr->sync_pending = st.pending;
	fr->sync_peers = st.peers;
	fr->sync_resyncs = st.resyncs;
	fr->sync_bad_records = st.bad_records;
	fr->sync_bad_frames = st.bad_frames;
	fr->stats_dropped = h->dropped;
	if (!fr->sync_up) {
		frame_drop(h, "Redis is away");
		return;
	}
	if (h->inflight) {
		frame_drop(h, "Redis has not answered the previous second's stats");
		return;
	}
	h->frame_ok = true;
	sent = sync_publish_stats(h->sc, fr, (int64_t)h->history_ms, EDGE_HEARTBEAT_TTL_MS,
				  frame_done, h);
	if (sent < 0) {
		frame_drop(h, sent == -EINVAL ? "a stats frame could not be encoded"
					     : "the stats command could not be sent");
		return;
	}
	h->inflight += (unsigned)sent;
	if (h->dropping) {
		h->dropping = false;
		pr_info("stats: publishing again after %llu dropped frames",
			(unsigned long long)(h->dropped - h->dropped_at));
	}
}

void edge_heartbeat_counts(const struct edge_heartbeat *h, uint64_t *frames, uint64_t *dropped,
			   uint64_t *refused)
{
	*frames = h ? h->frames : 0;
	*dropped = h ? h->dropped : 0;
	*refused = h ? h->refused : 0;
}
