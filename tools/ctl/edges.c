/* edges.c - bifrostctl edges and watch: the POPs' heartbeats, and their events decoded live. */
#include <errno.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "sync.h"
#include "text.h"

#define ALIVE_MS 15000 /* an edge heartbeats every few seconds: older than this is dead */
#define READ_MS 200    /* reads wait this long, so that --timeout and signals are seen */

#define HB_FIELDS 5    /* what HMGET asks for below */

/* One edge's heartbeat hash, as a row. */
static void edge_show(const struct ctl *c, redisContext *rc, const char *id, int64_t now)
{
	char key[BF_KEY_MAX], safe[HB_FIELDS][192], age[24] = "never";
	const char *v[HB_FIELDS] = { "", "", "", "", "" };
	redisReply *r = NULL;
	long long seen;
	int alive;

	if (bf_key_edge(key, sizeof(key), c->prefix, id) >= 0)
		r = redisCommand(rc, "HMGET %s last_seen version xdp_mode iface pending", key);
	for (size_t j = 0; r && r->type == REDIS_REPLY_ARRAY && j < r->elements && j < HB_FIELDS;
	     j++)
		if (r->element[j]->type == REDIS_REPLY_STRING)
			v[j] = r->element[j]->str;
	seen = atoll(v[0]);
	alive = seen && now - seen < ALIVE_MS;
	if (seen)
		snprintf(age, sizeof(age), "%.1fs ago", (double)(now - seen) / 1000);
	/* The heartbeat is whatever is in Redis: escaped for JSON, made printable for a
	 * terminal. */
	for (size_t j = 1; j < HB_FIELDS; j++)
		v[j] = ctl_safe(c, v[j], strlen(v[j]), safe[j], sizeof(safe[j]));
	if (c->json)
		printf("{\"edge\":\"%s\",\"alive\":%s,\"last_seen_ms\":%lld,\"version\":\"%s\","
		       "\"xdp_mode\":\"%s\",\"iface\":\"%s\"}\n",
		       id, alive ? "true" : "false", seen, v[1], v[2], v[3]);
	else
		printf("%-12s %-6s %-10s %-12s %-8s %-16s %s\n", id, alive ? "yes" : "NO", age,
		       v[1], v[2], v[3], v[4]);
	freeReplyObject(r);
}

int ctl_edges(const struct ctl *c, int argc, char **argv)
{
	int64_t now = sync_now_ms();
	redisContext *rc;
	char **o;
	size_t n;

	if (ctl_connect_origins(c, &rc, &o, &n))
		return -EIO;
	ctl_text(c, "%-12s %-6s %-10s %-12s %-8s %-16s %s\n", "EDGE", "ALIVE", "LAST_SEEN",
		 "VERSION", "XDP", "IFACE", "PENDING");
	for (size_t i = 1; i < n; i++) /* o[0] is ops */
		edge_show(c, rc, o[i], now);
	ctl_origins_free(o, n);
	redisFree(rc);
	return 0;
}

static volatile sig_atomic_t stop;

static void on_sig(int s) { stop = 1; }

/* One decoded frame (or why it is not one), a line. */
static void event_show(const struct ctl *c, const redisReply *r)
{
	struct bf_evt ev;
	const char *what = "";
	char entry[BF_ENTRY_MAX + 1] = "", tbuf[BF_WHY_MAX * 6 + 1];

	if (bf_evt_decode((const uint8_t *)r->element[3]->str, r->element[3]->len, sync_now_ms(),
			  &ev, &what)) {
		const redisReply *ch = r->element[2];
		char cbuf[BF_KEY_MAX * 6];

		ctl_safe(c, ch->str, ch->type == REDIS_REPLY_STRING ? ch->len : 0, cbuf,
			 sizeof(cbuf));
		if (c->json)
			printf("{\"channel\":\"%s\",\"error\":\"%s\"}\n", cbuf, what);
		else
			printf("%-20s undecodable frame: %s\n", cbuf, what);
	} else if (ev.type == BF_EVT_ENTRY) {
		bf_entry_format(&ev.rec.entry, entry, sizeof(entry));
		if (c->json)
			printf("{\"origin\":\"%s\",\"kind\":\"%s\",\"op\":\"%s\",\"entry\":\"%s\","
			       "\"seq\":%llu,\"why\":\"%s\"}\n",
			       ev.origin, bf_kind_name(ev.rec.entry.kind),
			       ev.rec.op == BF_OP_ADD ? "add" : "del", entry,
			       (unsigned long long)ev.rec.seq,
			       bf_json_esc(ev.rec.why, strlen(ev.rec.why), tbuf, sizeof(tbuf)));
		else
			printf("%-8s %-5s %-3s %s (%s)\n", ev.origin,
			       bf_kind_name(ev.rec.entry.kind),
			       ev.rec.op == BF_OP_ADD ? "add" : "del", entry, ev.rec.why);
	} else {
		if (c->json)
			printf("{\"origin\":\"%s\",\"event\":\"%s\",\"version\":\"%s\"}\n",
			       ev.origin, ev.type == BF_EVT_EDGE_UP ? "up" : "down",
			       bf_json_esc(ev.version, strlen(ev.version), tbuf, sizeof(tbuf)));
		else
			printf("%-8s edge %s (%s)\n", ev.origin,
			       ev.type == BF_EVT_EDGE_UP ? "up" : "down", ev.version);
	}
	fflush(stdout);
}

int ctl_watch(const struct ctl *c, int argc, char **argv)
{
	redisContext *rc = ctl_psubscribe(c, "evt:*", READ_MS);
	time_t end = c->timeout_s ? time(NULL) + c->timeout_s : 0;
	long seen = 0;
	redisReply *r;

	if (!rc)
		return -EIO;
	signal(SIGINT, on_sig);
	signal(SIGTERM, on_sig);
	while (!stop && (!c->count || seen < c->count) && (!end || time(NULL) < end)) {
		r = NULL;
		if (redisGetReply(rc, (void **)&r) != REDIS_OK) {
			if (rc->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK)) {
				/* read timeout: hiredis marks the context broken; reconnect */
				redisFree(rc);
				rc = ctl_psubscribe(c, "evt:*", READ_MS);
				if (!rc)
					return -EIO;
				continue;
			}
			fprintf(stderr, CTL_PROG ": lost Redis: %s\n", rc->errstr);
			redisFree(rc);
			return -EIO;
		}
		if (ctl_is_pmessage(r)) {
			event_show(c, r);
			seen++;
		}
		freeReplyObject(r);
	}
	redisFree(rc);
	return 0;
}
