/* bifrostctl.c - the operator's CLI for the fleet: lists, punches, edges and
 * the live event channel, all through Redis (docs/REDIS.md shows the same
 * with redis-cli). Writes go out as origin "ops". */
#include <errno.h>
#include <event2/event.h>
#include <getopt.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "a2s.h"
#include "log.h"
#include "schema.h"
#include "sync.h"
#include "text.h"

#define EXIT_USAGE 2

struct ctl {
	char host[128];
	int port;
	int json;
	uint64_t ttl_ms;
	const char *reason;
	long count;
	int timeout_s;
	int a2s;
	const char *limits; /* conn add --limits "preset rust block 60s" */
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: bifrostctl [--redis HOST:PORT] [--json] COMMAND ...\n"
		"Steers the Bifrost fleet through Redis (default 127.0.0.1:6379, or $BIFROST_REDIS).\n"
		"\n"
		"  wl add CIDR [--ttl DURATION] [--reason TEXT]   whitelist for every POP\n"
		"  wl del CIDR\n"
		"  wl list                                        every origin's live entries\n"
		"  bl add CIDR [--ttl DURATION] [--reason TEXT]   blacklist for every POP\n"
		"  bl del CIDR\n"
		"  bl list\n"
		"  punch list                                     live port punches of every POP\n"
		"  conn add PROTO BIND MACHINE[:PORT] [--a2s] [--limits TEXT]\n"
		"                                                 publish a service, e.g.\n"
		"                                                 conn add udp 203.0.113.10:27015 198.18.3.2\n"
		"                                                 --a2s: answer A2S_INFO from the fleet cache\n"
		"                                                 --limits: per-source limits, e.g.\n"
		"                                                 \"preset source\" or \"pps 2000 block 30s\"\n"
		"  conn del PROTO BIND\n"
		"  conn list\n"
		"  rule add ID FIELD VALUE...                     firewall rule, priority = ID (lower first),\n"
		"                                                 e.g. rule add 10 action drop proto udp dport 53\n"
		"  rule del ID\n"
		"  rule list                                      the rules, and any that do not validate\n"
		"  rule stats                                     packets/bytes each rule matched, per edge\n"
		"  protect add|del CIDR                           prefixes no ban or drop rule may block\n"
		"  protect list\n"
		"  edges                                          POPs: alive, last seen, version, XDP mode\n"
		"  a2s list                                       the A2S cache: name, map, players, TTL\n"
		"  a2s show BIND                                  one server's cached replies, parsed\n"
		"  watch [--count N] [--timeout SECONDS]          decoded event channel, live\n"
		"  stats                                          per-edge rates, drops, sync: one shot\n"
		"  stats watch [--count N] [--timeout SECONDS]    decoded stats frames of every edge, live\n"
		"  top                                            stats live, 80 columns (q or Ctrl-C quits)\n"
		"\n"
		"DURATION: 30s, 5m, 2h, 1d (no --ttl: permanent). --json prints one JSON object per\n"
		"line. Exit status: 0 done, 1 Redis unreachable or refused, 2 bad usage.\n");
}

static redisContext *connect_sync(const struct ctl *c)
{
	struct timeval tv = { .tv_sec = 2 };
	redisContext *rc = redisConnectWithTimeout(c->host, c->port, tv);

	if (!rc || rc->err) {
		fprintf(stderr, "bifrostctl: cannot reach Redis at %s:%d: %s\n", c->host, c->port,
			rc ? rc->errstr : "out of memory");
		redisFree(rc);
		return NULL;
	}
	redisSetTimeout(rc, tv);
	return rc;
}

/* ---- writes: through the sync client, so seq and MULTI/EXEC are right ---- */

static int wrote, failed;

static void noop_record(void *ctx, const char *o, const struct bf_log_rec *r)
{
}

static void stop_cb(evutil_socket_t fd, short w, void *arg)
{
	event_base_loopbreak(arg);
}

static void poll_cb(evutil_socket_t fd, short w, void *arg)
{
	struct sync_client *sc = ((void **)arg)[0];
	struct event_base *base = ((void **)arg)[1];
	struct sync_stats st;

	sync_client_stats(sc, &st);
	if (st.written >= 1) {
		wrote = 1;
		event_base_loopbreak(base);
	} else if (st.write_errors) {
		failed = 1;
		event_base_loopbreak(base);
	}
}

static int do_write(const struct ctl *c, enum bf_kind k, enum bf_op op, const char *text)
{
	struct event_base *base = event_base_new();
	struct bf_endpoint ep = { .port = (uint16_t)c->port };
	struct sync_config cfg = { .endpoint = &ep, .origin = "ops", .connect_timeout_ms = 2000 };
	struct sync_handlers h = { .on_record = noop_record };
	struct timeval limit = { .tv_sec = 5 }, tick = { .tv_usec = 10000 };
	struct sync_client *sc;
	struct bf_entry e;
	struct event *t1, *t2;
	void *arg[2];
	int64_t exp = c->ttl_ms ? sync_now_ms() + (int64_t)c->ttl_ms : BF_EXP_INF;

	snprintf(ep.host, sizeof(ep.host), "%s", c->host);

	if (bf_entry_parse(k, text, strlen(text), &e)) {
		fprintf(stderr, "bifrostctl: '%s' is not a CIDR (a.b.c.d/len, host bits clear)\n", text);
		event_base_free(base);
		return EXIT_USAGE;
	}
	bf_log_init("bifrostctl", BF_LOG_ERROR);
	sc = sync_client_new(base, &cfg, &h);
	if (!sc) {
		event_base_free(base);
		return 1;
	}
	sync_client_write(sc, op, &e, exp, c->reason ? c->reason : "manual");
	arg[0] = sc;
	arg[1] = base;
	t1 = evtimer_new(base, stop_cb, base);
	t2 = event_new(base, -1, EV_PERSIST, poll_cb, arg);
	evtimer_add(t1, &limit);
	event_add(t2, &tick);
	event_base_dispatch(base);
	event_free(t1);
	event_free(t2);
	sync_client_free(sc);
	event_base_free(base);
	if (!wrote) {
		fprintf(stderr, "bifrostctl: %s: Redis at %s:%d %s\n", failed ? "refused" : "timed out",
			c->host, c->port, failed ? "refused the write" : "did not answer within 5 s");
		return 1;
	}
	if (c->json)
		printf("{\"ok\":true,\"kind\":\"%s\",\"op\":\"%s\",\"entry\":\"%s\"}\n", bf_kind_name(k),
		       op == BF_OP_ADD ? "add" : "del", text);
	else
		printf("%s %s %s\n", op == BF_OP_ADD ? "added to" : "removed from",
		       k == BF_KIND_WL ? "whitelist:" : "blacklist:", text);
	return 0;
}

/* ---- reads: plain synchronous hiredis ---- */

/* Origins that may hold entries: every edge that joined, and ops. */
static int origins(redisContext *rc, char ***out, size_t *n)
{
	redisReply *r = redisCommand(rc, "SMEMBERS %sedges", BF_PREFIX_DEFAULT);
	size_t cnt = 0;

	*out = NULL;
	*n = 0;
	if (!r || r->type != REDIS_REPLY_ARRAY) {
		freeReplyObject(r);
		return -EIO;
	}
	*out = calloc(r->elements + 1, sizeof(char *));
	if (!*out) {
		freeReplyObject(r);
		return -ENOMEM;
	}
	(*out)[cnt++] = strdup("ops");
	for (size_t i = 0; i < r->elements; i++)
		if (r->element[i]->type == REDIS_REPLY_STRING && bf_origin_valid(r->element[i]->str) &&
		    strcmp(r->element[i]->str, "ops"))
			(*out)[cnt++] = strdup(r->element[i]->str);
	*n = cnt;
	freeReplyObject(r);
	return 0;
}

static void free_origins(char **o, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(o[i]);
	free(o);
}

static int do_list(const struct ctl *c, enum bf_kind k)
{
	redisContext *rc = connect_sync(c);
	int64_t now = sync_now_ms();
	char **o;
	size_t n, shown = 0;

	if (!rc)
		return 1;
	if (origins(rc, &o, &n)) {
		fprintf(stderr, "bifrostctl: reading %sedges failed\n", BF_PREFIX_DEFAULT);
		redisFree(rc);
		return 1;
	}
	if (!c->json)
		printf("%-8s %-60s %s\n", "ORIGIN", "ENTRY", "EXPIRES");
	for (size_t i = 0; i < n; i++) {
		char key[BF_KEY_MAX];
		redisReply *r;

		bf_key_list(key, sizeof(key), BF_PREFIX_DEFAULT, k, o[i]);
		r = redisCommand(rc, "ZRANGEBYSCORE %s (%lld +inf WITHSCORES", key, (long long)now);
		for (size_t j = 0; r && r->type == REDIS_REPLY_ARRAY && j + 1 < r->elements; j += 2) {
			const redisReply *m = r->element[j], *s = r->element[j + 1];
			struct bf_entry e;
			int64_t exp;
			char left[32];

			if (m->type != REDIS_REPLY_STRING || bf_entry_parse(k, m->str, m->len, &e) ||
			    bf_exp_parse(s->str, s->len, now, &exp))
				continue; /* garbage is not shown as if it were an entry */
			if (exp == BF_EXP_INF)
				snprintf(left, sizeof(left), "never");
			else
				snprintf(left, sizeof(left), "in %llds", (long long)((exp - now) / 1000));
			if (c->json && exp == BF_EXP_INF)
				printf("{\"origin\":\"%s\",\"entry\":\"%.*s\",\"expires_ms\":null}\n",
				       o[i], (int)m->len, m->str);
			else if (c->json)
				printf("{\"origin\":\"%s\",\"entry\":\"%.*s\",\"expires_ms\":%lld}\n",
				       o[i], (int)m->len, m->str, (long long)exp);
			else
				printf("%-8s %-60.*s %s\n", o[i], (int)m->len, m->str, left);
			shown++;
		}
		freeReplyObject(r);
	}
	if (!c->json)
		printf("(%zu live entries)\n", shown);
	free_origins(o, n);
	redisFree(rc);
	return 0;
}

static int do_edges(const struct ctl *c)
{
	redisContext *rc = connect_sync(c);
	int64_t now = sync_now_ms();
	char **o;
	size_t n;

	if (!rc)
		return 1;
	if (origins(rc, &o, &n)) {
		redisFree(rc);
		return 1;
	}
	if (!c->json)
		printf("%-12s %-6s %-10s %-12s %-8s %-16s %s\n", "EDGE", "ALIVE", "LAST_SEEN", "VERSION",
		       "XDP", "IFACE", "PENDING");
	for (size_t i = 1; i < n; i++) { /* o[0] is ops */
		redisReply *r = redisCommand(rc, "HMGET %sedge:%s last_seen version xdp_mode iface pending",
					     BF_PREFIX_DEFAULT, o[i]);
		const char *v[5] = { "", "", "", "", "" };
		char safe[5][192];
		long long seen = 0;
		char age[24] = "never";
		int alive;

		for (size_t j = 0; r && r->type == REDIS_REPLY_ARRAY && j < r->elements && j < 5; j++)
			if (r->element[j]->type == REDIS_REPLY_STRING)
				v[j] = r->element[j]->str;
		seen = atoll(v[0]);
		alive = seen && now - seen < 15000;
		if (seen)
			snprintf(age, sizeof(age), "%.1fs ago", (double)(now - seen) / 1000);
		/* The heartbeat is whatever is in Redis: escaped for JSON,
		 * made printable for a terminal. */
		for (int j = 1; j < 5; j++)
			v[j] = c->json ? bf_json_esc(v[j], strlen(v[j]), safe[j], sizeof(safe[j]))
				       : bf_printable(v[j], strlen(v[j]), safe[j], sizeof(safe[j]));
		if (c->json)
			printf("{\"edge\":\"%s\",\"alive\":%s,\"last_seen_ms\":%lld,\"version\":\"%s\","
			       "\"xdp_mode\":\"%s\",\"iface\":\"%s\"}\n",
			       o[i], alive ? "true" : "false", seen, v[1], v[2], v[3]);
		else
			printf("%-12s %-6s %-10s %-12s %-8s %-16s %s\n", o[i], alive ? "yes" : "NO", age,
			       v[1], v[2], v[3], v[4]);
		freeReplyObject(r);
	}
	free_origins(o, n);
	redisFree(rc);
	return 0;
}

/* ---- stats and top: the bifrost:stats:<id> hashes, one row per edge ---- */

struct stat_row {
	char id[BF_ORIGIN_MAX + 1];
	bool have;             /* a stats hash exists (the edge published within 15 s) */
	long long last_seen;   /* heartbeat, ms; 0 = none */
	uint64_t ts_ms, rx_pps, rx_bps, fwd_pps, fwd_bps, drop_pps, conn_in_pps, conn_in_bps,
		conn_out_pps, conn_out_bps, bl_entries, sync_up, sync_pending, stats_dropped;
	uint64_t pps[BF_R_MAX], packets[BF_R_MAX];
};

#define ROW_FIELD(name) { #name, offsetof(struct stat_row, name) }
static const struct {
	const char *name;
	size_t off;
} row_fields[] = {
	ROW_FIELD(ts_ms),	 ROW_FIELD(rx_pps),	  ROW_FIELD(rx_bps),
	ROW_FIELD(fwd_pps),	 ROW_FIELD(fwd_bps),	  ROW_FIELD(drop_pps),
	ROW_FIELD(conn_in_pps),	 ROW_FIELD(conn_in_bps),  ROW_FIELD(conn_out_pps),
	ROW_FIELD(conn_out_bps), ROW_FIELD(bl_entries),	  ROW_FIELD(sync_up),
	ROW_FIELD(sync_pending), ROW_FIELD(stats_dropped),
};

/* A counter from Redis: digits only, else 0 (never trusted as text). */
static uint64_t num(const redisReply *r)
{
	uint64_t v;

	if (!r || r->type != REDIS_REPLY_STRING || bf_parse_u64(r->str, UINT64_MAX, &v))
		return 0;
	return v;
}

static void row_set(struct stat_row *row, const char *name, const redisReply *val)
{
	for (size_t i = 0; i < sizeof(row_fields) / sizeof(row_fields[0]); i++)
		if (!strcmp(name, row_fields[i].name)) {
			*(uint64_t *)((char *)row + row_fields[i].off) = num(val);
			return;
		}
	for (unsigned r = 0; r < BF_R_MAX; r++) {
		size_t n = strlen(bf_reason_name(r));

		if (strncmp(name, bf_reason_name(r), n))
			continue;
		if (!strcmp(name + n, "_pps"))
			row->pps[r] = num(val);
		else if (!strcmp(name + n, "_packets"))
			row->packets[r] = num(val);
	}
}

/* Every edge of bifrost:edges with its stats hash and heartbeat age. */
static int read_rows(redisContext *rc, struct stat_row **out, size_t *n)
{
	struct stat_row *rows;
	char **o;
	size_t no;

	*out = NULL;
	*n = 0;
	if (origins(rc, &o, &no))
		return -EIO;
	rows = calloc(no, sizeof(*rows));
	if (!rows) {
		free_origins(o, no);
		return -ENOMEM;
	}
	for (size_t i = 1; i < no; i++) { /* o[0] is ops */
		struct stat_row *row = &rows[*n];
		redisReply *h, *hb;

		snprintf(row->id, sizeof(row->id), "%s", o[i]);
		h = redisCommand(rc, "HGETALL %sstats:%s", BF_PREFIX_DEFAULT, o[i]);
		hb = redisCommand(rc, "HGET %sedge:%s last_seen", BF_PREFIX_DEFAULT, o[i]);
		if (!h || !hb) {
			freeReplyObject(h);
			freeReplyObject(hb);
			free(rows);
			free_origins(o, no);
			return -EIO;
		}
		row->last_seen = (long long)num(hb);
		for (size_t j = 0; h->type == REDIS_REPLY_ARRAY && j + 1 < h->elements; j += 2)
			if (h->element[j]->type == REDIS_REPLY_STRING) {
				row_set(row, h->element[j]->str, h->element[j + 1]);
				row->have = true;
			}
		freeReplyObject(h);
		freeReplyObject(hb);
		(*n)++;
	}
	free_origins(o, no);
	*out = rows;
	return 0;
}

static void fleet_row(const struct stat_row *rows, size_t n, struct stat_row *t)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->id, sizeof(t->id), "FLEET");
	for (size_t i = 0; i < n; i++) {
		if (!rows[i].have)
			continue;
		t->have = true;
		for (size_t f = 0; f < sizeof(row_fields) / sizeof(row_fields[0]); f++)
			*(uint64_t *)((char *)t + row_fields[f].off) +=
				*(const uint64_t *)((const char *)&rows[i] + row_fields[f].off);
		for (unsigned r = 0; r < BF_R_MAX; r++) {
			t->pps[r] += rows[i].pps[r];
			t->packets[r] += rows[i].packets[r];
		}
	}
}

/* 1234 -> "1.2k": fits 6 columns up to 999.9T. */
static const char *human(uint64_t v, char buf[8])
{
	static const char unit[] = " kMGTP";
	double d = (double)v;
	int u = 0;

	if (v < 10000) {
		snprintf(buf, 8, "%llu", (unsigned long long)v);
		return buf;
	}
	while (d >= 1000 && u < 5) {
		d /= 1000;
		u++;
	}
	snprintf(buf, 8, d < 100 ? "%.1f%c" : "%.0f%c", d, unit[u]);
	return buf;
}

/* The drop reason with the highest rate ("-" when nothing drops). */
static const char *top_drop(const struct stat_row *r, char *buf, size_t cap)
{
	unsigned best = BF_R_MAX;
	char h[8];

	for (unsigned i = 0; i < BF_R_MAX; i++)
		if (bf_reason_is_drop(i) && r->pps[i] && (best == BF_R_MAX || r->pps[i] > r->pps[best]))
			best = i;
	if (best == BF_R_MAX)
		return "-";
	snprintf(buf, cap, "%.6s %s", bf_reason_name(best), human(r->pps[best], h));
	return buf;
}

/* 80 columns: the table, then the fleet's drops by reason. */
static void print_table(FILE *f, const struct stat_row *rows, size_t n, int64_t now, const char *eol)
{
	struct stat_row t;
	char h[8][8], td[24], id[BF_ORIGIN_MAX + 1], sync[8], hb[8];

	fprintf(f, "%-8s %6s %6s %6s %6s %6s %6s %-13s %5s %4s %3s%s", "EDGE", "RXpps", "RXbps",
		"FWDpps", "OUTpps", "OUTbps", "DROPps", "TOP DROP/s", "BANS", "SYNC", "HB", eol);
	fleet_row(rows, n, &t);
	for (size_t i = 0; i <= n; i++) {
		const struct stat_row *r = i < n ? &rows[i] : &t;
		long long age = r->last_seen ? (now - r->last_seen) / 1000 : -1;

		if (i == n)
			fprintf(f, "%s", eol);
		bf_printable(r->id, strlen(r->id), id, sizeof(id));
		if (i == n)
			snprintf(hb, sizeof(hb), "%s", "");
		else if (age < 0)
			snprintf(hb, sizeof(hb), "-");
		else if (age > 99)
			snprintf(hb, sizeof(hb), ">99");
		else
			snprintf(hb, sizeof(hb), "%llds", age);
		if (i == n)
			snprintf(sync, sizeof(sync), "%s", "");
		else if (!r->have)
			snprintf(sync, sizeof(sync), "?");
		else if (!r->sync_up)
			snprintf(sync, sizeof(sync), "DOWN");
		else
			snprintf(sync, sizeof(sync), "%llu", (unsigned long long)(r->sync_pending > 999 ? 999 : r->sync_pending));
		if (!r->have) {
			fprintf(f, "%-8.8s %-46s %4s %3s%s", id, "  (no stats: not publishing)", sync, hb, eol);
			continue;
		}
		fprintf(f, "%-8.8s %6s %6s %6s %6s %6s %6s %-13.13s %5s %4s %3s%s", id,
			human(r->rx_pps, h[0]), human(r->rx_bps, h[1]), human(r->fwd_pps, h[2]),
			human(r->conn_out_pps, h[3]), human(r->conn_out_bps, h[4]),
			human(r->drop_pps, h[5]), top_drop(r, td, sizeof(td)), human(r->bl_entries, h[6]),
			sync, hb, eol);
	}
	{
		int col = fprintf(f, "drops/s:");
		bool any = false;

		for (unsigned r = 0; r < BF_R_MAX; r++) {
			char item[40];
			int w;

			if (!bf_reason_is_drop(r) || !t.pps[r])
				continue;
			w = snprintf(item, sizeof(item), " %s %s", bf_reason_name(r), human(t.pps[r], h[7]));
			if (col + w > 79) {
				fprintf(f, "%s        ", eol);
				col = 8;
			}
			col += fprintf(f, "%s", item);
			any = true;
		}
		fprintf(f, "%s%s", any ? "" : " none", eol);
		/* A2S queries XDP handed to the edges' AF_XDP workers (answered
		 * there with the cached reply or a challenge). */
		fprintf(f, "punches/s: %s   A2S to workers/s: %s   stats frames dropped: %s%s",
			human(t.pps[BF_R_PUNCH_NEW], h[0]), human(t.pps[BF_R_A2S_REDIRECT], h[2]),
			human(t.stats_dropped, h[1]), eol);
	}
}

static void print_json(const struct stat_row *rows, size_t n, int64_t now)
{
	struct stat_row t;

	fleet_row(rows, n, &t);
	printf("{\"ts_ms\":%lld,\"edges\":[", (long long)now);
	for (size_t i = 0; i <= n; i++) {
		const struct stat_row *r = i < n ? &rows[i] : &t;

		if (i == n)
			printf("],\"fleet\":");
		else if (i)
			printf(",");
		printf("{");
		if (i < n) {
			printf("\"edge\":");
			bf_json_fput(stdout, r->id);
			printf(",\"stats\":%s,\"heartbeat_age_ms\":", r->have ? "true" : "false");
			if (r->last_seen)
				printf("%lld,", (long long)(now - r->last_seen));
			else
				printf("null,");
		}
		for (size_t f = 0; f < sizeof(row_fields) / sizeof(row_fields[0]); f++)
			printf("%s\"%s\":%llu", f ? "," : "", row_fields[f].name,
			       (unsigned long long)*(const uint64_t *)((const char *)r + row_fields[f].off));
		printf(",\"reasons\":{");
		for (unsigned x = 0; x < BF_R_MAX; x++)
			printf("%s\"%s\":{\"pps\":%llu,\"packets\":%llu}", x ? "," : "", bf_reason_name(x),
			       (unsigned long long)r->pps[x], (unsigned long long)r->packets[x]);
		printf("}}");
	}
	printf("}\n");
}

static int do_stats(const struct ctl *c)
{
	redisContext *rc = connect_sync(c);
	struct stat_row *rows;
	size_t n;

	if (!rc)
		return 1;
	if (read_rows(rc, &rows, &n)) {
		fprintf(stderr, "bifrostctl: reading the stats from Redis failed\n");
		redisFree(rc);
		return 1;
	}
	if (c->json)
		print_json(rows, n, sync_now_ms());
	else
		print_table(stdout, rows, n, sync_now_ms(), "\n");
	free(rows);
	redisFree(rc);
	return 0;
}

/* Decoded frames of the bifrost:stats:* channels, one JSON object a line. */
static int do_stats_watch(const struct ctl *c)
{
	redisContext *rc = connect_sync(c);
	struct timeval tv = { .tv_sec = c->timeout_s ? c->timeout_s : 86400 };
	long seen = 0;
	redisReply *r;

	if (!rc)
		return 1;
	redisSetTimeout(rc, tv);
	r = redisCommand(rc, "PSUBSCRIBE %sstats:*", BF_PREFIX_DEFAULT);
	freeReplyObject(r);
	while ((!c->count || seen < c->count) && redisGetReply(rc, (void **)&r) == REDIS_OK) {
		struct bf_stats_frame f;
		const char *what = NULL;

		if (r->type == REDIS_REPLY_ARRAY && r->elements == 4 &&
		    r->element[3]->type == REDIS_REPLY_STRING) {
			if (bf_stats_decode((const uint8_t *)r->element[3]->str, r->element[3]->len, &f,
					    &what)) {
				char ch[96];

				fprintf(stderr, "bifrostctl: bad stats frame on %s: %s\n",
					bf_printable(r->element[2]->str, r->element[2]->len, ch, sizeof(ch)),
					what);
			} else {
				printf("{\"edge\":");
				bf_json_fput(stdout, f.origin);
				printf(",\"ts_ms\":%lld,\"interval_ms\":%u,\"conn_in_pps\":%llu,"
				       "\"conn_in_bps\":%llu,\"conn_out_pps\":%llu,\"conn_out_bps\":%llu,"
				       "\"sync_up\":%llu,\"sync_pending\":%llu,\"stats_dropped\":%llu,"
				       "\"reasons\":{",
				       (long long)f.ts_ms, f.interval_ms, (unsigned long long)f.conn_in_pps,
				       (unsigned long long)f.conn_in_bps, (unsigned long long)f.conn_out_pps,
				       (unsigned long long)f.conn_out_bps, (unsigned long long)f.sync_up,
				       (unsigned long long)f.sync_pending,
				       (unsigned long long)f.stats_dropped);
				for (unsigned x = 0; x < BF_R_MAX; x++)
					printf("%s\"%s\":{\"pps\":%llu,\"bps\":%llu,\"packets\":%llu,"
					       "\"bytes\":%llu}",
					       x ? "," : "", bf_reason_name(x), (unsigned long long)f.r[x].pps,
					       (unsigned long long)f.r[x].bps,
					       (unsigned long long)f.r[x].packets,
					       (unsigned long long)f.r[x].bytes);
				printf("}}\n");
				fflush(stdout);
				seen++;
			}
		}
		freeReplyObject(r);
	}
	redisFree(rc);
	return c->count && seen < c->count ? 1 : 0;
}

static volatile sig_atomic_t top_stop;
static struct termios top_saved;
static bool top_raw;

static void top_on_signal(int sig)
{
	top_stop = 1;
}

/* Whatever way top ends, the terminal is given back as it was. */
static void top_restore(void)
{
	if (!top_raw)
		return;
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &top_saved);
	fputs("\033[?25h\n", stdout);
	fflush(stdout);
	top_raw = false;
}

static int do_top(const struct ctl *c)
{
	struct sigaction sa = { .sa_handler = top_on_signal };
	redisContext *rc = NULL;
	struct termios raw;

	if (!isatty(STDOUT_FILENO)) {
		/* A pipe gets one frame: the same table as `bifrostctl stats`. */
		return do_stats(c);
	}
	if (isatty(STDIN_FILENO) && !tcgetattr(STDIN_FILENO, &top_saved)) {
		raw = top_saved;
		raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
		raw.c_cc[VMIN] = 0;
		raw.c_cc[VTIME] = 0;
		if (!tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw)) {
			top_raw = true;
			atexit(top_restore);
		}
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	fputs("\033[?25l", stdout); /* cursor hidden while the screen refreshes */
	while (!top_stop) {
		struct stat_row *rows = NULL;
		size_t n = 0;
		char when[16];
		time_t t = time(NULL);
		struct timeval tv = { .tv_sec = 1 };
		fd_set rd;

		strftime(when, sizeof(when), "%H:%M:%S", localtime(&t));
		if (!rc || rc->err) {
			redisFree(rc);
			rc = connect_sync(c);
		}
		fputs("\033[H\033[2J", stdout);
		printf("bifrost top  %s:%d  %s   q: quit\r\n", c->host, c->port, when);
		if (rc && !read_rows(rc, &rows, &n))
			print_table(stdout, rows, n, sync_now_ms(), "\r\n");
		else
			printf("Redis unreachable; retrying every second\r\n");
		free(rows);
		fflush(stdout);
		FD_ZERO(&rd);
		FD_SET(STDIN_FILENO, &rd);
		if (select(STDIN_FILENO + 1, &rd, NULL, NULL, &tv) > 0) {
			char ch;

			if (read(STDIN_FILENO, &ch, 1) != 1 || ch == 'q' || ch == 'Q')
				break;
		}
	}
	redisFree(rc);
	top_restore();
	if (!top_raw)
		fputs("\033[?25h", stdout);
	return 0;
}

/* ---- connections: HASH per connection, then INCR conf:version ---- */

/* "preset rust block 60s" -> validated limits, written back as canonical
 * text (every value) into out; errors name the field. */
static int parse_limits(const char *text, struct bf_conn *cn, char *out, size_t len)
{
	struct bf_field f[8];
	char buf[160], *save = NULL, *name, *val;
	const char *what = "";
	size_t n = 0;

	if (strlen(text) >= sizeof(buf)) {
		fprintf(stderr, "bifrostctl: --limits: too long\n");
		return -EINVAL;
	}
	snprintf(buf, sizeof(buf), "%s", text);
	for (name = strtok_r(buf, " ", &save); name; name = strtok_r(NULL, " ", &save)) {
		val = strtok_r(NULL, " ", &save);
		if (!val || n == 8) {
			fprintf(stderr, "bifrostctl: --limits: want NAME VALUE pairs (pps, bps, block, "
					"burst, preset, share_bans)\n");
			return -EINVAL;
		}
		f[n++] = (struct bf_field){ name, strlen(name), val, strlen(val) };
	}
	for (size_t i = 0; i < n; i++)
		if (!bf_field_is_limit(&f[i])) {
			fprintf(stderr, "bifrostctl: --limits: unknown field '%s' (pps, bps, block, "
					"burst, preset, share_bans)\n",
				f[i].name);
			return -EINVAL;
		}
	if (bf_limits_parse_fields(f, n, cn->proto, &cn->limits, &what)) {
		fprintf(stderr, "bifrostctl: --limits: %s\n", what);
		return -EINVAL;
	}
	if (bf_limits_format(&cn->limits, out, len) < 0)
		return -EINVAL;
	return 0;
}

/* Writes `cmd` (HSET/HDEL/SADD/SREM on one key) and bumps the config
 * version in one MULTI/EXEC: edges pick the change up within a second. */
static int conf_write(const struct ctl *c, const char *what, int argc, const char **argv)
{
	char ver[BF_KEY_MAX];
	size_t lens[8];
	redisContext *rc = connect_sync(c);
	redisReply *r;
	int ok;

	if (!rc)
		return 1;
	for (int i = 0; i < argc; i++)
		lens[i] = strlen(argv[i]);
	bf_key_conf_version(ver, sizeof(ver), BF_PREFIX_DEFAULT);
	freeReplyObject(redisCommand(rc, "MULTI"));
	freeReplyObject(redisCommandArgv(rc, argc, argv, lens));
	freeReplyObject(redisCommand(rc, "INCR %s", ver));
	r = redisCommand(rc, "EXEC");
	ok = r && r->type == REDIS_REPLY_ARRAY;
	/* EXEC answers each command: one may have failed (WRONGTYPE: the key
	 * holds something else) while the transaction as a whole ran. */
	for (size_t i = 0; ok && i < r->elements; i++)
		if (r->element[i]->type == REDIS_REPLY_ERROR) {
			fprintf(stderr, "bifrostctl: %s\n", r->element[i]->str);
			ok = 0;
		}
	freeReplyObject(r);
	redisFree(rc);
	if (!ok) {
		fprintf(stderr, "bifrostctl: Redis refused %s\n", what);
		return 1;
	}
	if (c->json)
		printf("{\"ok\":true,\"change\":\"%s\"}\n", what);
	else
		printf("%s (edges apply it within a second)\n", what);
	return 0;
}

static int do_rule_add(const struct ctl *c, const char *id, int argc, char **argv)
{
	char text[BF_RULE_TEXT_MAX + 1] = "", canon[BF_RULE_TEXT_MAX + 1], err[160], key[BF_KEY_MAX];
	char what[64];
	struct bf_rule_def d;
	const char *cmd[4];
	uint32_t rid;
	size_t o = 0;

	if (bf_rule_id_parse(id, strlen(id), &rid)) {
		fprintf(stderr, "bifrostctl: rule id '%s' is not 1-%d\n", id, BF_RULE_ID_MAX);
		return EXIT_USAGE;
	}
	for (int i = 0; i < argc; i++) {
		int w = snprintf(text + o, sizeof(text) - o, "%s%s", i ? " " : "", argv[i]);

		if (w < 0 || (size_t)w >= sizeof(text) - o) {
			fprintf(stderr, "bifrostctl: rule longer than %d bytes\n", BF_RULE_TEXT_MAX);
			return EXIT_USAGE;
		}
		o += (size_t)w;
	}
	if (bf_rule_parse(rid, text, strlen(text), &d, err, sizeof(err))) {
		fprintf(stderr, "bifrostctl: rule %u refused: %s\n", rid, err);
		return EXIT_USAGE;
	}
	bf_rule_format(&d, canon, sizeof(canon));
	bf_key_rules(key, sizeof(key), BF_PREFIX_DEFAULT);
	snprintf(what, sizeof(what), "rule %u set", rid);
	cmd[0] = "HSET";
	cmd[1] = key;
	cmd[2] = id;
	cmd[3] = canon;
	return conf_write(c, what, 4, cmd);
}

static int do_rule_del(const struct ctl *c, const char *id)
{
	char key[BF_KEY_MAX], what[64];
	const char *cmd[3];
	uint32_t rid;

	if (bf_rule_id_parse(id, strlen(id), &rid)) {
		fprintf(stderr, "bifrostctl: rule id '%s' is not 1-%d\n", id, BF_RULE_ID_MAX);
		return EXIT_USAGE;
	}
	bf_key_rules(key, sizeof(key), BF_PREFIX_DEFAULT);
	snprintf(what, sizeof(what), "rule %u removed", rid);
	cmd[0] = "HDEL";
	cmd[1] = key;
	cmd[2] = id;
	return conf_write(c, what, 3, cmd);
}

static int cmp_rule_id(const void *a, const void *b)
{
	const redisReply *x = *(redisReply *const *)a, *y = *(redisReply *const *)b;
	unsigned long long i = strtoull(x->str, NULL, 10), j = strtoull(y->str, NULL, 10);

	return i < j ? -1 : i > j;
}

static int do_rule_list(const struct ctl *c)
{
	char key[BF_KEY_MAX];
	redisContext *rc = connect_sync(c);
	redisReply *r, **ids;
	size_t n = 0;

	if (!rc)
		return 1;
	bf_key_rules(key, sizeof(key), BF_PREFIX_DEFAULT);
	r = redisCommand(rc, "HGETALL %s", key);
	if (!r || r->type != REDIS_REPLY_ARRAY) {
		fprintf(stderr, "bifrostctl: cannot read %s\n", key);
		freeReplyObject(r);
		redisFree(rc);
		return 1;
	}
	/* Sorted by id (the priority): pairs are sorted through their names. */
	ids = calloc(r->elements / 2 + 1, sizeof(*ids));
	for (size_t i = 0; ids && i + 1 < r->elements; i += 2)
		if (r->element[i]->type == REDIS_REPLY_STRING &&
		    r->element[i + 1]->type == REDIS_REPLY_STRING)
			ids[n++] = r->element[i];
	if (ids)
		qsort(ids, n, sizeof(*ids), cmp_rule_id);
	for (size_t i = 0; i < n; i++) {
		const redisReply *id = ids[i], *text = id + 0;
		char err[160] = "", canon[BF_RULE_TEXT_MAX + 1] = "", sid[24], buf[BF_RULE_TEXT_MAX * 6];
		struct bf_rule_def d;
		uint32_t rid = 0;
		int bad;

		for (size_t j = 0; j + 1 < r->elements; j += 2)
			if (r->element[j] == id)
				text = r->element[j + 1];
		bad = bf_rule_id_parse(id->str, id->len, &rid) ? (snprintf(err, sizeof(err), "bad id"), 1)
		      : text->len > BF_RULE_TEXT_MAX
			      ? (snprintf(err, sizeof(err), "longer than %d bytes", BF_RULE_TEXT_MAX), 1)
			      : bf_rule_parse(rid, text->str, text->len, &d, err, sizeof(err)) != 0;
		if (!bad)
			bf_rule_format(&d, canon, sizeof(canon));
		bf_printable(id->str, id->len, sid, sizeof(sid));
		if (c->json) {
			printf("{\"id\":");
			bf_json_fput(stdout, sid);
			if (bad) {
				printf(",\"error\":");
				bf_json_fput(stdout, err);
				printf(",\"text\":\"%s\"}\n", bf_json_esc(text->str, text->len, buf, sizeof(buf)));
			} else {
				printf(",\"rule\":");
				bf_json_fput(stdout, canon);
				printf("}\n");
			}
		} else if (bad) {
			printf("%-8s INVALID (%s): edges keep their previous rules until it is fixed\n", sid,
			       err);
		} else {
			printf("%-8s %s\n", sid, canon);
		}
	}
	if (!c->json)
		printf("(%zu rules)\n", n);
	free(ids);
	freeReplyObject(r);
	redisFree(rc);
	return 0;
}

/* Each edge writes bifrost:rulestats:<id> (rule id -> "packets bytes")
 * every second; the fleet's figure is the sum. */
static int do_rule_stats(const struct ctl *c)
{
	redisContext *rc = connect_sync(c);
	char **o;
	size_t n;

	if (!rc)
		return 1;
	if (origins(rc, &o, &n)) {
		redisFree(rc);
		return 1;
	}
	if (!c->json)
		printf("%-12s %-8s %14s %16s\n", "EDGE", "RULE", "PACKETS", "BYTES");
	for (size_t i = 1; i < n; i++) {
		redisReply *r = redisCommand(rc, "HGETALL %srulestats:%s", BF_PREFIX_DEFAULT, o[i]);

		for (size_t j = 0; r && r->type == REDIS_REPLY_ARRAY && j + 1 < r->elements; j += 2) {
			const redisReply *id = r->element[j], *v = r->element[j + 1];
			unsigned long long pk, by;
			uint32_t rid;

			if (id->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING ||
			    bf_rule_id_parse(id->str, id->len, &rid) ||
			    sscanf(v->str, "%llu %llu", &pk, &by) != 2)
				continue; /* not what an edge writes */
			if (c->json)
				printf("{\"edge\":\"%s\",\"rule\":%u,\"packets\":%llu,\"bytes\":%llu}\n", o[i],
				       rid, pk, by);
			else
				printf("%-12s %-8u %14llu %16llu\n", o[i], rid, pk, by);
		}
		freeReplyObject(r);
	}
	free_origins(o, n);
	redisFree(rc);
	return 0;
}

static int do_protect(const struct ctl *c, const char *op, const char *cidr)
{
	char key[BF_KEY_MAX], what[64], s[BF_CIDR_STRLEN];
	struct bf_cidr pc;
	const char *cmd[3];

	bf_key_protect(key, sizeof(key), BF_PREFIX_DEFAULT);
	if (!cidr) {
		redisContext *rc = connect_sync(c);
		redisReply *r;

		if (!rc)
			return 1;
		r = redisCommand(rc, "SMEMBERS %s", key);
		for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
			char buf[BF_KEY_MAX];
			const redisReply *m = r->element[i];
			int bad = m->type != REDIS_REPLY_STRING || m->len >= sizeof(buf);

			if (!bad) {
				memcpy(buf, m->str, m->len);
				buf[m->len] = '\0';
				bad = bf_parse_cidr(buf, false, &pc);
			}
			bf_printable(m->str, m->type == REDIS_REPLY_STRING ? m->len : 0, buf, sizeof(buf));
			if (c->json)
				printf("{\"prefix\":\"%s\",\"valid\":%s}\n",
				       bad ? "" : bf_cidr_str(&pc, s), bad ? "false" : "true");
			else
				printf("%s%s\n", buf, bad ? ": INVALID (edges skip it)" : "");
		}
		freeReplyObject(r);
		redisFree(rc);
		return 0;
	}
	if (bf_parse_cidr(cidr, false, &pc)) {
		fprintf(stderr, "bifrostctl: '%s' is not a CIDR (a.b.c.d/len, host bits clear)\n", cidr);
		return EXIT_USAGE;
	}
	snprintf(what, sizeof(what), "%s protected %s", bf_cidr_str(&pc, s),
		 op[0] == 'a' ? "added" : "removed");
	cmd[0] = op[0] == 'a' ? "SADD" : "SREM";
	cmd[1] = key;
	cmd[2] = s;
	return conf_write(c, what, 3, cmd);
}

static int do_conn_write(const struct ctl *c, const char *proto, const char *bind,
			 const char *machine)
{
	char key[BF_KEY_MAX], ver[BF_KEY_MAX], err[128], mport[8] = "", lim[160] = "";
	struct bf_conn cn;
	redisContext *rc;
	redisReply *r;
	int ok;

	/* A del names no machine: parse with a placeholder one. */
	if (bf_conn_parse(proto, bind, machine ? machine : "192.0.2.1", &cn, err, sizeof(err))) {
		fprintf(stderr, "bifrostctl: %s\n", err);
		return EXIT_USAGE;
	}
	if (c->a2s && (!machine || cn.proto != IPPROTO_UDP)) {
		fprintf(stderr, "bifrostctl: --a2s goes with conn add udp\n");
		return EXIT_USAGE;
	}
	if (c->limits && (!machine || parse_limits(c->limits, &cn, lim, sizeof(lim))))
		return EXIT_USAGE;
	rc = connect_sync(c);
	if (!rc)
		return 1;
	bf_key_conn(key, sizeof(key), BF_PREFIX_DEFAULT, cn.proto, cn.bind_ip, cn.bind_port);
	bf_key_conf_version(ver, sizeof(ver), BF_PREFIX_DEFAULT);
	freeReplyObject(redisCommand(rc, "MULTI"));
	if (machine) {
		char m[BF_ADDR_STRLEN];

		if (cn.machine_port)
			snprintf(mport, sizeof(mport), "%u", cn.machine_port);
		freeReplyObject(redisCommand(rc, "DEL %s", key));
		if (mport[0])
			freeReplyObject(redisCommand(rc, "HSET %s machine %s port %s", key,
						     bf_ipv4_str(cn.machine_ip, m), mport));
		else
			freeReplyObject(redisCommand(rc, "HSET %s machine %s", key,
						     bf_ipv4_str(cn.machine_ip, m)));
		if (c->a2s)
			freeReplyObject(redisCommand(rc, "HSET %s a2s 1", key));
		if (lim[0]) {
			/* The canonical text is name/value pairs: one HSET field each. */
			const char *argv[2 + 2 * 8];
			size_t lens[2 + 2 * 8];
			char *save = NULL, *t;
			int argc = 2;

			argv[0] = "HSET";
			argv[1] = key;
			for (t = strtok_r(lim, " ", &save); t && argc < 2 + 2 * 8;
			     t = strtok_r(NULL, " ", &save))
				argv[argc++] = t;
			for (int i = 0; i < argc; i++)
				lens[i] = strlen(argv[i]);
			freeReplyObject(redisCommandArgv(rc, argc, argv, lens));
		}
	} else {
		freeReplyObject(redisCommand(rc, "DEL %s", key));
	}
	freeReplyObject(redisCommand(rc, "INCR %s", ver));
	r = redisCommand(rc, "EXEC");
	ok = r && r->type == REDIS_REPLY_ARRAY;
	freeReplyObject(r);
	redisFree(rc);
	if (!ok) {
		fprintf(stderr, "bifrostctl: Redis refused the change of %s\n", key);
		return 1;
	}
	if (c->json)
		printf("{\"ok\":true,\"key\":\"%s\",\"op\":\"%s\"}\n", key, machine ? "add" : "del");
	else
		printf("%s %s (edges apply it within a second)\n", machine ? "set" : "removed", key);
	return 0;
}

/* Calls each(rc, key, ctx) for every key matching `match` (SCAN, so Redis
 * is never blocked by KEYS); stops early when each returns < 0, returning
 * that. */
static int scan_keys(redisContext *rc, const char *match,
		     int (*each)(redisContext *rc, const redisReply *key, void *ctx), void *ctx)
{
	char cursor[32] = "0";
	int rc2 = 0;

	do {
		redisReply *r = redisCommand(rc, "SCAN %s MATCH %s COUNT 1000", cursor, match);

		if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
		    r->element[0]->type != REDIS_REPLY_STRING ||
		    r->element[0]->len >= sizeof(cursor) ||
		    r->element[1]->type != REDIS_REPLY_ARRAY) {
			freeReplyObject(r);
			return -EIO;
		}
		snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
		for (size_t i = 0; i < r->element[1]->elements && rc2 >= 0; i++)
			if (r->element[1]->element[i]->type == REDIS_REPLY_STRING)
				rc2 = each(rc, r->element[1]->element[i], ctx);
		freeReplyObject(r);
	} while (rc2 >= 0 && strcmp(cursor, "0"));
	return rc2 < 0 ? rc2 : 0;
}

struct list_ctx {
	const struct ctl *c;
	size_t shown;
};

static int conn_one(redisContext *rc, const redisReply *k, void *ctx)
{
	struct list_ctx *lc = ctx;
	const struct ctl *c = lc->c;
	redisReply *h = redisCommand(rc, "HGETALL %b", k->str, k->len);
	struct bf_field f[16];
	struct bf_conn cn;
	const char *what = "not a hash";
	char b[BF_ADDR_STRLEN], m[BF_ADDR_STRLEN], kbuf[BF_KEY_MAX * 6], lim[160] = "";
	size_t nf = 0;
	int bad = bf_conn_parse_key(k->str, k->len, BF_PREFIX_DEFAULT, &cn);

	for (size_t j = 0; !bad && h && h->type == REDIS_REPLY_ARRAY && j + 1 < h->elements && nf < 16;
	     j += 2)
		f[nf++] = (struct bf_field){ h->element[j]->str, h->element[j]->len,
					     h->element[j + 1]->str, h->element[j + 1]->len };
	if (!bad)
		bad = bf_conn_parse_fields(f, nf, &cn, &what);
	if (!bad)
		bf_limits_format(&cn.limits, lim, sizeof(lim));
	if (bad && c->json)
		printf("{\"key\":\"%s\",\"error\":\"%s\"}\n",
		       bf_json_esc(k->str, k->len, kbuf, sizeof(kbuf)), what);
	else if (bad)
		printf("%s: INVALID (%s): edges ignore it\n",
		       bf_printable(k->str, k->len, kbuf, sizeof(kbuf)), what);
	else if (c->json)
		printf("{\"proto\":\"%s\",\"bind\":\"%s:%u\",\"machine\":\"%s\",\"port\":%u,"
		       "\"a2s\":%s,\"limits\":\"%s\"}\n",
		       bf_proto_name(cn.proto), bf_ipv4_str(cn.bind_ip, b), cn.bind_port,
		       bf_ipv4_str(cn.machine_ip, m), cn.machine_port ? cn.machine_port : cn.bind_port,
		       cn.a2s ? "true" : "false", lim);
	else {
		char bind[32], mach[32];

		snprintf(bind, sizeof(bind), "%s:%u", bf_ipv4_str(cn.bind_ip, b), cn.bind_port);
		snprintf(mach, sizeof(mach), "%s:%u", bf_ipv4_str(cn.machine_ip, m),
			 cn.machine_port ? cn.machine_port : cn.bind_port);
		printf("%-5s %-22s %-22s %-4s %s\n", bf_proto_name(cn.proto), bind, mach,
		       cn.a2s ? "yes" : "-", lim[0] ? lim : "-");
	}
	lc->shown++;
	freeReplyObject(h);
	return 0;
}

static int do_conn_list(const struct ctl *c)
{
	redisContext *rc = connect_sync(c);
	struct list_ctx lc = { .c = c };
	char match[BF_KEY_MAX];

	if (!rc)
		return 1;
	if (!c->json)
		printf("%-5s %-22s %-22s %-4s %s\n", "PROTO", "BIND", "MACHINE", "A2S", "LIMITS");
	snprintf(match, sizeof(match), "%sconn:*", BF_PREFIX_DEFAULT);
	scan_keys(rc, match, conn_one, &lc);
	if (!c->json)
		printf("(%zu connections)\n", lc.shown);
	redisFree(rc);
	return 0;
}

/* ---- A2S cache: bifrost:a2s:<ip>:<port> (+ :player:, :rules:) ---- */

/* GETs one cached reply; its length (0 = absent), or -EIO. *ttl_ms from PTTL. */
static long a2s_get(redisContext *rc, enum bf_a2s_key k, uint32_t ip, uint16_t port,
		    redisReply **out, long long *ttl_ms)
{
	char key[BF_KEY_MAX];
	redisReply *r, *t;

	bf_key_a2s(key, sizeof(key), BF_PREFIX_DEFAULT, k, ip, port);
	redisAppendCommand(rc, "GET %s", key);
	redisAppendCommand(rc, "PTTL %s", key);
	if (redisGetReply(rc, (void **)&r) != REDIS_OK)
		return -EIO;
	if (redisGetReply(rc, (void **)&t) != REDIS_OK) {
		freeReplyObject(r);
		return -EIO;
	}
	*ttl_ms = t && t->type == REDIS_REPLY_INTEGER ? t->integer : -2;
	freeReplyObject(t);
	if (!r || r->type != REDIS_REPLY_STRING) {
		freeReplyObject(r);
		*out = NULL;
		return 0;
	}
	*out = r;
	return (long)r->len;
}

/* Prints one server's cache entry. 0, 1 when nothing is cached, -EIO. */
static int a2s_show_one(redisContext *rc, const struct ctl *c, uint32_t ip, uint16_t port)
{
	redisReply *r[3] = { NULL, NULL, NULL };
	long long ttl[3];
	long n[3];
	size_t count[3] = { 0, 0, 0 };
	const char *what[3] = { NULL, NULL, NULL };
	struct a2s_info info;
	char b[BF_ADDR_STRLEN], bind[32];
	int ret = 0;

	for (int k = 0; k < 3; k++) {
		n[k] = a2s_get(rc, (enum bf_a2s_key)k, ip, port, &r[k], &ttl[k]);
		if (n[k] < 0) {
			ret = -EIO;
			goto out;
		}
	}
	snprintf(bind, sizeof(bind), "%s:%u", bf_ipv4_str(ip, b), port);
	if (!r[0]) {
		if (c->json)
			printf("{\"bind\":\"%s\",\"cached\":false}\n", bind);
		else
			printf("%s: nothing cached\n", bind);
		ret = 1;
		goto out;
	}
	if (a2s_info_parse((const uint8_t *)r[0]->str, r[0]->len, &info, &what[0]))
		memset(&info, 0, sizeof(info));
	if (r[1])
		a2s_player_parse((const uint8_t *)r[1]->str, r[1]->len, NULL, 0, &count[1], &what[1]);
	if (r[2])
		a2s_rules_parse((const uint8_t *)r[2]->str, r[2]->len, NULL, 0, &count[2], &what[2]);
	if (c->json) {
		printf("{\"bind\":\"%s\",\"cached\":true,\"bytes\":%ld,\"ttl_ms\":%lld", bind, n[0],
		       ttl[0]);
		if (what[0]) {
			printf(",\"error\":");
			bf_json_fput(stdout, what[0]);
		} else {
			printf(",\"name\":");
			bf_json_fput(stdout, info.name);
			printf(",\"map\":");
			bf_json_fput(stdout, info.map);
			printf(",\"game\":");
			bf_json_fput(stdout, info.game);
			printf(",\"appid\":%u,\"players\":%u,\"max_players\":%u,\"bots\":%u",
			       info.appid, info.players, info.max_players, info.bots);
		}
		for (int k = 1; k < 3; k++) {
			const char *name = k == 1 ? "player" : "rule";

			if (!r[k])
				printf(",\"%s_count\":null", name);
			else if (what[k])
				printf(",\"%s_count\":null,\"%s_error\":\"%s\"", name, name, what[k]);
			else
				printf(",\"%s_count\":%zu,\"%s_bytes\":%ld", name, count[k], name, n[k]);
		}
		printf("}\n");
		goto out;
	}
	printf("%-22s %5.1fs %5ld ", bind, (double)ttl[0] / 1000, n[0]);
	if (what[0]) {
		printf("UNPARSABLE (%s)\n", what[0]);
		goto out;
	}
	printf("%3u/%-3u ", info.players, info.max_players);
	for (int k = 1; k < 3; k++) {
		if (!r[k])
			printf("%6s ", "-");
		else if (what[k])
			printf("%6s ", "BAD");
		else
			printf("%6zu ", count[k]);
	}
	bf_json_fput(stdout, info.map);
	putchar(' ');
	bf_json_fput(stdout, info.name);
	putchar('\n');
out:
	for (int k = 0; k < 3; k++)
		freeReplyObject(r[k]);
	return ret;
}

static void a2s_header(const struct ctl *c)
{
	if (!c->json)
		printf("%-22s %6s %5s %-7s %6s %6s %s\n", "BIND", "TTL", "BYTES", "PLAYERS", "P_LIST",
		       "RULES", "MAP NAME");
}

static int do_a2s_show(const struct ctl *c, const char *bind)
{
	redisContext *rc;
	uint32_t ip;
	uint16_t port;
	int ret;

	if (bf_parse_endpoint(bind, false, &ip, &port)) {
		fprintf(stderr, "bifrostctl: a2s show: want the bind address a.b.c.d:port\n");
		return EXIT_USAGE;
	}
	rc = connect_sync(c);
	if (!rc)
		return 1;
	a2s_header(c);
	ret = a2s_show_one(rc, c, ip, port);
	if (ret < 0)
		fprintf(stderr, "bifrostctl: lost Redis: %s\n", rc->errstr);
	redisFree(rc);
	return ret ? 1 : 0;
}

static int a2s_one(redisContext *rc, const redisReply *k, void *ctx)
{
	struct list_ctx *lc = ctx;
	enum bf_a2s_key kind;
	uint32_t ip;
	uint16_t port;

	if (bf_key_a2s_parse(k->str, k->len, BF_PREFIX_DEFAULT, &kind, &ip, &port) ||
	    kind != BF_A2S_INFO)
		return 0;
	if (a2s_show_one(rc, lc->c, ip, port) < 0)
		return -EIO;
	lc->shown++;
	return 0;
}

static int do_a2s_list(const struct ctl *c)
{
	redisContext *rc = connect_sync(c);
	struct list_ctx lc = { .c = c };
	char match[BF_KEY_MAX];
	int err;

	if (!rc)
		return 1;
	a2s_header(c);
	snprintf(match, sizeof(match), "%sa2s:*", BF_PREFIX_DEFAULT);
	err = scan_keys(rc, match, a2s_one, &lc);
	if (!c->json)
		printf("(%zu servers cached)\n", lc.shown);
	redisFree(rc);
	return err ? 1 : 0;
}

static volatile sig_atomic_t stop;

static void on_sig(int s)
{
	stop = 1;
}

static int do_watch(const struct ctl *c)
{
	redisContext *rc = connect_sync(c);
	struct timeval tv = { .tv_sec = 0, .tv_usec = 200000 };
	time_t end = c->timeout_s ? time(NULL) + c->timeout_s : 0;
	long seen = 0;
	redisReply *r;

	if (!rc)
		return 1;
	signal(SIGINT, on_sig);
	signal(SIGTERM, on_sig);
	r = redisCommand(rc, "PSUBSCRIBE %sevt:*", BF_PREFIX_DEFAULT);
	freeReplyObject(r);
	redisSetTimeout(rc, tv);
	while (!stop && (!c->count || seen < c->count) && (!end || time(NULL) < end)) {
		struct bf_evt ev;
		const char *what = "";
		char entry[BF_ENTRY_MAX + 1] = "", tbuf[BF_WHY_MAX * 6 + 1];

		r = NULL;
		if (redisGetReply(rc, (void **)&r) != REDIS_OK) {
			if (rc->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK)) {
				/* read timeout: hiredis marks the context broken; reconnect */
				redisFree(rc);
				rc = connect_sync(c);
				if (!rc)
					return 1;
				freeReplyObject(redisCommand(rc, "PSUBSCRIBE %sevt:*", BF_PREFIX_DEFAULT));
				redisSetTimeout(rc, tv);
				continue;
			}
			fprintf(stderr, "bifrostctl: lost Redis: %s\n", rc->errstr);
			redisFree(rc);
			return 1;
		}
		if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 4 ||
		    r->element[3]->type != REDIS_REPLY_STRING) {
			freeReplyObject(r);
			continue;
		}
		if (bf_evt_decode((const uint8_t *)r->element[3]->str, r->element[3]->len,
				  sync_now_ms(), &ev, &what)) {
			const redisReply *ch = r->element[2];
			char cbuf[BF_KEY_MAX * 6];

			if (c->json)
				printf("{\"channel\":\"%s\",\"error\":\"%s\"}\n",
				       bf_json_esc(ch->str, ch->type == REDIS_REPLY_STRING ? ch->len : 0,
						   cbuf, sizeof(cbuf)),
				       what);
			else
				printf("%-20s undecodable frame: %s\n",
				       bf_printable(ch->str, ch->type == REDIS_REPLY_STRING ? ch->len : 0,
						    cbuf, sizeof(cbuf)),
				       what);
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
				printf("%-8s %-5s %-3s %s (%s)\n", ev.origin, bf_kind_name(ev.rec.entry.kind),
				       ev.rec.op == BF_OP_ADD ? "add" : "del", entry, ev.rec.why);
		} else {
			if (c->json)
				printf("{\"origin\":\"%s\",\"event\":\"%s\",\"version\":\"%s\"}\n", ev.origin,
				       ev.type == BF_EVT_EDGE_UP ? "up" : "down",
				       bf_json_esc(ev.version, strlen(ev.version), tbuf, sizeof(tbuf)));
			else
				printf("%-8s edge %s (%s)\n", ev.origin,
				       ev.type == BF_EVT_EDGE_UP ? "up" : "down", ev.version);
		}
		fflush(stdout);
		seen++;
		freeReplyObject(r);
	}
	redisFree(rc);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "redis", required_argument, NULL, 'r' }, { "json", no_argument, NULL, 'j' },
		{ "ttl", required_argument, NULL, 't' },   { "reason", required_argument, NULL, 'w' },
		{ "count", required_argument, NULL, 'n' }, { "timeout", required_argument, NULL, 'T' },
		{ "a2s", no_argument, NULL, 'a' },	   { "help", no_argument, NULL, 'h' },
		{ "limits", required_argument, NULL, 'l' },
		{ NULL, 0, NULL, 0 }
	};
	struct ctl c = { .port = 6379 };
	const char *redis = getenv("BIFROST_REDIS"), *a[6] = { 0 };
	char **rule_argv = NULL;
	int opt, na = 0, rule_argc = 0;
	uint64_t v;

	snprintf(c.host, sizeof(c.host), "127.0.0.1");
	/* GNU getopt permutes: options may come anywhere ("bl add X --ttl 1h"). */
	while ((opt = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (opt) {
		case 'r':
			redis = optarg;
			break;
		case 'j':
			c.json = 1;
			break;
		case 't':
			if (bf_parse_duration_ms(optarg, &c.ttl_ms) || !c.ttl_ms) {
				fprintf(stderr, "bifrostctl: --ttl: bad duration '%s' (30s, 5m, 2h, 1d)\n",
					optarg);
				return EXIT_USAGE;
			}
			break;
		case 'w':
			if (strlen(optarg) > BF_WHY_MAX || strpbrk(optarg, " \t\n")) {
				fprintf(stderr, "bifrostctl: --reason: one word of at most 64 bytes\n");
				return EXIT_USAGE;
			}
			c.reason = optarg;
			break;
		case 'n':
			if (bf_parse_u64(optarg, 1000000, &v)) {
				fprintf(stderr, "bifrostctl: --count: a number\n");
				return EXIT_USAGE;
			}
			c.count = (long)v;
			break;
		case 'T':
			if (bf_parse_u64(optarg, 86400, &v)) {
				fprintf(stderr, "bifrostctl: --timeout: seconds\n");
				return EXIT_USAGE;
			}
			c.timeout_s = (int)v;
			break;
		case 'a':
			c.a2s = 1;
			break;
		case 'l':
			c.limits = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	/* "rule add ID FIELD VALUE...": everything after the id is the rule. */
	if (argc - optind >= 3 && !strcmp(argv[optind], "rule") && !strcmp(argv[optind + 1], "add")) {
		rule_argc = argc - optind - 3;
		rule_argv = argv + optind + 3;
		argc = optind + 3;
	}
	for (; optind < argc; optind++) {
		if (na == 5) {
			fprintf(stderr, "bifrostctl: too many arguments (see --help)\n");
			return EXIT_USAGE;
		}
		a[na++] = argv[optind];
	}
	if (redis) {
		uint32_t addr;
		uint16_t port;
		char ab[BF_ADDR_STRLEN];

		if (bf_parse_endpoint(redis, false, &addr, &port)) {
			fprintf(stderr, "bifrostctl: --redis: want a.b.c.d:port, got '%s'\n", redis);
			return EXIT_USAGE;
		}
		snprintf(c.host, sizeof(c.host), "%s", bf_ipv4_str(addr, ab));
		c.port = port;
	}
	if (!a[0]) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if ((!strcmp(a[0], "wl") || !strcmp(a[0], "bl")) && a[1]) {
		enum bf_kind k = a[0][0] == 'w' ? BF_KIND_WL : BF_KIND_BL;

		if (!strcmp(a[1], "add") && a[2] && !a[3])
			return do_write(&c, k, BF_OP_ADD, a[2]);
		if (!strcmp(a[1], "del") && a[2] && !a[3])
			return do_write(&c, k, BF_OP_DEL, a[2]);
		if (!strcmp(a[1], "list") && !a[2])
			return do_list(&c, k);
	} else if (!strcmp(a[0], "punch") && a[1] && !strcmp(a[1], "list") && !a[2]) {
		return do_list(&c, BF_KIND_PUNCH);
	} else if (!strcmp(a[0], "conn") && a[1]) {
		if (!strcmp(a[1], "add") && a[2] && a[3] && a[4])
			return do_conn_write(&c, a[2], a[3], a[4]);
		if (!strcmp(a[1], "del") && a[2] && a[3] && !a[4])
			return do_conn_write(&c, a[2], a[3], NULL);
		if (!strcmp(a[1], "list") && !a[2])
			return do_conn_list(&c);
	} else if (!strcmp(a[0], "rule") && a[1]) {
		if (!strcmp(a[1], "add") && a[2] && rule_argc > 0)
			return do_rule_add(&c, a[2], rule_argc, rule_argv);
		if (!strcmp(a[1], "del") && a[2] && !a[3])
			return do_rule_del(&c, a[2]);
		if (!strcmp(a[1], "list") && !a[2])
			return do_rule_list(&c);
		if (!strcmp(a[1], "stats") && !a[2])
			return do_rule_stats(&c);
	} else if (!strcmp(a[0], "protect") && a[1]) {
		if ((!strcmp(a[1], "add") || !strcmp(a[1], "del")) && a[2] && !a[3])
			return do_protect(&c, a[1], a[2]);
		if (!strcmp(a[1], "list") && !a[2])
			return do_protect(&c, "list", NULL);
	} else if (!strcmp(a[0], "edges") && !a[1]) {
		return do_edges(&c);
	} else if (!strcmp(a[0], "a2s") && a[1]) {
		if (!strcmp(a[1], "list") && !a[2])
			return do_a2s_list(&c);
		if (!strcmp(a[1], "show") && a[2] && !a[3])
			return do_a2s_show(&c, a[2]);
	} else if (!strcmp(a[0], "stats") && !a[1]) {
		return do_stats(&c);
	} else if (!strcmp(a[0], "stats") && !strcmp(a[1], "watch") && !a[2]) {
		return do_stats_watch(&c);
	} else if (!strcmp(a[0], "top") && !a[1]) {
		return do_top(&c);
	} else if (!strcmp(a[0], "watch") && !a[1]) {
		return do_watch(&c);
	}
	fprintf(stderr, "bifrostctl: unknown command '%s%s%s' (see --help)\n", a[0], a[1] ? " " : "",
		a[1] ? a[1] : "");
	return EXIT_USAGE;
}
