/* replica.c - reads from a read replica near us (sync_config.replica): the
 * stream reads, the event channels and the plain reads (A2S cache, fleet
 * config) go to it while it keeps up with the primary, and back to the
 * primary the moment it does not. Every REPLICA_CHECK_MS both are asked
 * INFO replication: the primary's offset is sampled (replica_lag.c), and the
 * replica must be a replica, with its link to its primary up, and hold what
 * the primary held replica_max_lag_ms ago. Writes never go to it. */
#include <event2/event.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_int.h"
#include "clock.h"
#include "log.h"
#include "text.h"

#define REPLICA_CHECK_MS 500
#define REPLICA_GOOD_CHECKS 3 /* in a row before reads move (back) to the replica */
#define REPLICA_LINKS_MS 3000 /* the reads and events links up on it within this */
#define REPLICA_HOLD_MS 30000 /* off it this long after it refused our reads */

static void rep_move(struct sync_client *c, bool to_replica)
{
	c->replica_reading = to_replica;
	if (to_replica)
		c->rep_moved_ms = bf_mono_ms();
	sync_link_move(&c->rd, to_replica);
	sync_link_move(&c->sub, to_replica);
}

/* One verdict: reads leave at the first bad one and come back after
 * REPLICA_GOOD_CHECKS good ones; each change is one log line. */
static void rep_verdict(struct sync_client *c, enum bf_replica_verdict v, int64_t lag_ms,
			const char *detail)
{
	char where[BF_ENDPOINT_STRLEN];
	bool changed = !c->rep_checked || v != c->rep_verdict;

	bf_endpoint_str(&c->rep_ep, where, sizeof(where));
	c->rep_checked = true;
	c->rep_verdict = v;
	c->rep_lag_ms = lag_ms;
	if (v == BF_REPLICA_OK) {
		if (++c->rep_good >= REPLICA_GOOD_CHECKS && !c->replica_reading &&
		    bf_mono_ms() >= c->rep_hold_ms) {
			pr_info("read replica %s: keeping up (lag %lld ms, bound %d): reading from it",
				where, (long long)(lag_ms > 0 ? lag_ms : 0), c->cfg.replica_max_lag_ms);
			rep_move(c, true);
		}
		return;
	}
	c->rep_good = 0;
	if (c->replica_reading) {
		c->rep_fallbacks++;
		if (v == BF_REPLICA_LAGGING)
			pr_warn("read replica %s: lagging %lld ms behind the primary (bound %d ms); "
				"reading from the primary until it keeps up again", where,
				(long long)lag_ms, c->cfg.replica_max_lag_ms);
		else
			pr_warn("read replica %s: %s%s%s; reading from the primary until it keeps "
				"up again", where, bf_replica_verdict_name(v), *detail ? ": " : "",
				detail);
		rep_move(c, false);
	} else if (changed) {
		pr_info("read replica %s: %s%s%s; reads stay on the primary", where,
			bf_replica_verdict_name(v), *detail ? ": " : "", detail);
	}
}

static void primary_info(redisAsyncContext *ac, void *reply, void *priv)
{
	struct sync_client *c = sync_link_owner(ac);
	const redisReply *r = reply;
	int64_t asked = *(const int64_t *)priv;
	struct bf_repl_info ri;

	free(priv);
	if (!c || !r)
		return;
	/* Refused (an ACL without +info|replication: ACLs are not replicated, each
	 * node has its own): the replica's lag cannot be judged. */
	if (r->type == REDIS_REPLY_ERROR) {
		bf_printable(r->str, r->len, c->prim_refused, sizeof(c->prim_refused));
		return;
	}
	c->prim_refused[0] = '\0';
	if (r->type != REDIS_REPLY_STRING || bf_repl_info_parse(r->str, r->len, &ri) ||
	    ri.is_replica)
		return;
	c->prim = ri;
	c->prim_known = true;
	/* when it was asked: an offset at least as new as then */
	bf_lag_primary(&c->lag, asked, ri.offset);
}

static void replica_info(redisAsyncContext *ac, void *reply, void *priv)
{
	struct sync_client *c = sync_link_owner(ac);
	const redisReply *r = reply;
	struct bf_repl_info ri;
	int64_t now = bf_mono_ms();

	char err[96];
	int64_t lag;

	if (!c || !r)
		return; /* the link went down: rep_down judges */
	if (r->type != REDIS_REPLY_STRING || bf_repl_info_parse(r->str, r->len, &ri)) {
		/* NOPERM (its ACL file lacks +info|replication), or not Redis */
		if (r->type == REDIS_REPLY_ERROR)
			bf_printable(r->str, r->len, err, sizeof(err));
		rep_verdict(c, BF_REPLICA_DOWN, -1,
			    r->type == REDIS_REPLY_ERROR ? err : "INFO replication unreadable");
		return;
	}
	if (c->prim_refused[0]) {
		rep_verdict(c, BF_REPLICA_UNKNOWN, -1, c->prim_refused);
		return;
	}
	lag = ri.is_replica ? bf_lag_ms(&c->lag, now, ri.offset) : -1;
	rep_verdict(c, bf_replica_judge(&ri, c->prim_known ? &c->prim : NULL, lag,
					c->cfg.replica_max_lag_ms),
		    lag, "");
}

/* Reads on the replica must work there, not only its INFO: its connection limit,
 * its own ACL file or its channels can refuse the reads and events links. */
static bool rep_links_fail(struct sync_client *c, int64_t now, char *why, size_t len)
{
	const struct sync_link *l = !sync_link_up(&c->rd) ? &c->rd :
				    !sync_link_up(&c->sub) ? &c->sub : NULL;

	if (!c->replica_reading || !l || now - c->rep_moved_ms < REPLICA_LINKS_MS)
		return false;
	snprintf(why, len, "our %s link is not up on it (%s%s%s)", l->name,
		 sync_link_state_name(l), l->fault_msg[0] ? ": " : "", l->fault_msg);
	return true;
}

void replica_reads_refused(struct sync_client *c, const char *err)
{
	char why[160];

	if (!c->replica_reading)
		return;
	snprintf(why, sizeof(why), "it refuses our reads (%.100s)", err);
	c->rep_hold_ms = bf_mono_ms() + REPLICA_HOLD_MS;
	rep_verdict(c, BF_REPLICA_DOWN, -1, why);
}

static void rep_check(evutil_socket_t fd, short what, void *arg)
{
	struct sync_client *c = arg;
	struct timeval tv = { .tv_usec = REPLICA_CHECK_MS * 1000 };
	char why[200];

	int64_t now = bf_mono_ms(), *asked;

	if (rep_links_fail(c, now, why, sizeof(why))) {
		c->rep_hold_ms = now + REPLICA_HOLD_MS;
		rep_verdict(c, BF_REPLICA_DOWN, -1, why);
	}
	if (sync_link_up(&c->cmd) && (asked = malloc(sizeof(*asked)))) {
		*asked = now;
		if (sync_link_cmd(&c->cmd, primary_info, asked, "INFO replication"))
			free(asked);
	}
	if (sync_link_up(&c->rep))
		sync_link_cmd(&c->rep, replica_info, NULL, "INFO replication");
	evtimer_add(c->rep_timer, &tv);
}

static void rep_up(struct sync_link *l)
{
}

static void rep_down(struct sync_link *l)
{
	struct sync_client *c = l->owner;

	confload_down(c, l);
	rep_verdict(c, BF_REPLICA_DOWN, -1, l->fault_msg);
}

void replica_cmd_down(struct sync_client *c)
{
	if (!c->cfg.replica)
		return;
	bf_lag_reset(&c->lag); /* the next primary's offsets are its own */
	c->prim_known = false;
}

int replica_init(struct sync_client *c)
{
	if (!c->cfg.replica)
		return 0;
	/* Where the replica is; who we are is the endpoint's business. */
	c->rep_ep = c->ep;
	memset(c->rep_ep.master, 0, sizeof(c->rep_ep.master));
	c->rep_ep.n_sentinels = 0;
	snprintf(c->rep_ep.host, sizeof(c->rep_ep.host), "%s", c->cfg.replica->host);
	c->rep_ep.port = c->cfg.replica->port;
	c->cfg.replica = &c->rep_ep;
	if (c->cfg.replica_max_lag_ms <= 0)
		c->cfg.replica_max_lag_ms = 2000;
	c->rep_lag_ms = -1;
	bf_lag_reset(&c->lag);
	if (sync_link_init(&c->rep, c->base, &c->rep_ep, "read replica",
			   c->cfg.connect_timeout_ms, c->cfg.backoff_min_ms, c->cfg.backoff_max_ms,
			   c->cfg.cmd_timeout_ms, &c->st, rep_up, rep_down, c))
		return -1;
	c->rep.idle_ping = true;
	c->rd.replica = c->sub.replica = &c->rep_ep;
	c->rep_timer = evtimer_new(c->base, rep_check, c);
	if (!c->rep_timer)
		return -1;
	sync_link_start(&c->rep);
	rep_check(-1, 0, c);
	return 0;
}

void replica_free(struct sync_client *c)
{
	sync_link_close(&c->rep);
	if (c->rep_timer)
		event_free(c->rep_timer);
	c->rep_timer = NULL;
}

void replica_stats(const struct sync_client *c, struct sync_stats *st)
{
	st->replica_set = c->cfg.replica != NULL;
	st->replica_link = c->cfg.replica ? sync_link_state_name(&c->rep) : "off";
	st->replica_reading = c->replica_reading;
	st->replica_lag_ms = c->cfg.replica ? c->rep_lag_ms : -1;
	st->replica_fallbacks = c->rep_fallbacks;
	if (!c->cfg.replica || c->replica_reading)
		st->replica_why = "";
	else if (!c->rep_checked || c->rep_verdict == BF_REPLICA_OK)
		st->replica_why = "checking";
	else
		st->replica_why = bf_replica_verdict_name(c->rep_verdict);
}
