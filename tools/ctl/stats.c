/* stats.c - bifrostctl stats, stats watch and top: every edge's stats hash as a row, or live. */
#include <errno.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "sync.h"
#include "text.h"

struct stat_row {
	char id[BF_ORIGIN_MAX + 1];
	bool have;	     /* a stats hash exists (the edge published within 15 s) */
	long long last_seen; /* heartbeat, ms; 0 = none */
	uint64_t ts_ms, rx_pps, rx_bps, fwd_pps, fwd_bps, drop_pps, conn_in_pps, conn_in_bps,
	    conn_out_pps, conn_out_bps, bl_entries, sync_up, sync_pending, stats_dropped;
	uint64_t pps[BF_R_MAX], packets[BF_R_MAX];
};

#define ROW_FIELD(name)                                                                            \
	{                                                                                          \
#name, offsetof(struct stat_row, name)                                             \
	}
static const struct {
	const char *name;
	size_t off;
} row_fields[] = {
	ROW_FIELD(ts_ms),	 ROW_FIELD(rx_pps),	   ROW_FIELD(rx_bps),
	ROW_FIELD(fwd_pps),	 ROW_FIELD(fwd_bps),	   ROW_FIELD(drop_pps),
	ROW_FIELD(conn_in_pps),	 ROW_FIELD(conn_in_bps),   ROW_FIELD(conn_out_pps),
	ROW_FIELD(conn_out_bps), ROW_FIELD(bl_entries),	   ROW_FIELD(sync_up),
	ROW_FIELD(sync_pending), ROW_FIELD(stats_dropped),
};
#define ROW_FIELDS (sizeof(row_fields) / sizeof(row_fields[0]))

static uint64_t *row_field(struct stat_row *row, size_t f)
{
	return (uint64_t *)((char *)row + row_fields[f].off);
}

static uint64_t row_value(const struct stat_row *row, size_t f)
{
	return *(const uint64_t *)((const char *)row + row_fields[f].off);
}

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
	for (size_t i = 0; i < ROW_FIELDS; i++)
		if (!strcmp(name, row_fields[i].name)) {
			*row_field(row, i) = num(val);
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

/* One edge's stats hash and heartbeat. 0 or -EIO. */
static int read_row(const struct ctl *c, redisContext *rc, const char *id, struct stat_row *row)
{
	char key[BF_KEY_MAX], hbkey[BF_KEY_MAX];
	redisReply *h = NULL, *hb = NULL;

	snprintf(row->id, sizeof(row->id), "%s", id);
	if (bf_key_stats(key, sizeof(key), c->prefix, id) >= 0 &&
	    bf_key_edge(hbkey, sizeof(hbkey), c->prefix, id) >= 0) {
		h = redisCommand(rc, "HGETALL %s", key);
		hb = redisCommand(rc, "HGET %s last_seen", hbkey);
	}
	if (!h || !hb) {
		freeReplyObject(h);
		freeReplyObject(hb);
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
	return 0;
}

/* Every edge of <prefix>edges with its stats hash and heartbeat age. */
static int read_rows(const struct ctl *c, redisContext *rc, struct stat_row **out, size_t *n)
{
	struct stat_row *rows;
	char **o;
	size_t no;

	*out = NULL;
	*n = 0;
	if (ctl_origins(c, rc, &o, &no))
		return -EIO;
	rows = calloc(no, sizeof(*rows));
	if (!rows) {
		ctl_origins_free(o, no);
		return -ENOMEM;
	}
	for (size_t i = 1; i < no; i++) { /* o[0] is ops */
		if (read_row(c, rc, o[i], &rows[*n])) {
			free(rows);
			ctl_origins_free(o, no);
			*n = 0;
			return -EIO;
		}
		(*n)++;
	}
	ctl_origins_free(o, no);
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
		for (size_t f = 0; f < ROW_FIELDS; f++)
			*row_field(t, f) += row_value(&rows[i], f);
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
		if (bf_reason_is_drop(i) && r->pps[i] &&
		    (best == BF_R_MAX || r->pps[i] > r->pps[best]))
			best = i;
	if (best == BF_R_MAX)
		return "-";
	snprintf(buf, cap, "%.6s %s", bf_reason_name(best), human(r->pps[best], h));
	return buf;
}

/* The HB and SYNC columns of a row (both empty on the fleet's). */
static void row_state(const struct stat_row *r, bool fleet, int64_t now, char hb[8], char sync[8])
{
	long long age = r->last_seen ? (now - r->last_seen) / 1000 : -1;

	if (fleet)
		snprintf(hb, 8, "%s", "");
	else if (age < 0)
		snprintf(hb, 8, "-");
	else if (age > 99)
		snprintf(hb, 8, ">99");
	else
		snprintf(hb, 8, "%llds", age);
	if (fleet)
		snprintf(sync, 8, "%s", "");
	else if (!r->have)
		snprintf(sync, 8, "?");
	else if (!r->sync_up)
		snprintf(sync, 8, "DOWN");
	else
		snprintf(sync, 8, "%llu",
			 (unsigned long long)(r->sync_pending > 999 ? 999 : r->sync_pending));
}

/* The fleet's drops by reason, wrapped at 80 columns, and the rates beside them. */
static void print_drops(FILE *f, const struct stat_row *t, const char *eol)
{
	int col = fprintf(f, "drops/s:");
	bool any = false;
	char h[3][8];

	for (unsigned r = 0; r < BF_R_MAX; r++) {
		char item[40];
		int w;

		if (!bf_reason_is_drop(r) || !t->pps[r])
			continue;
		w = snprintf(item, sizeof(item), " %s %s", bf_reason_name(r),
			     human(t->pps[r], h[0]));
		if (col + w > 79) {
			fprintf(f, "%s        ", eol);
			col = 8;
		}
		col += fprintf(f, "%s", item);
		any = true;
	}
	fprintf(f, "%s%s", any ? "" : " none", eol);
	/* A2S queries XDP handed to the edges' AF_XDP workers (answered there with the
	 * cached reply or a challenge). */
	fprintf(f, "punches/s: %s   A2S to workers/s: %s   stats frames dropped: %s%s",
		human(t->pps[BF_R_PUNCH_NEW], h[0]), human(t->pps[BF_R_A2S_REDIRECT], h[2]),
		human(t->stats_dropped, h[1]), eol);
}

/* 80 columns: the table, then the fleet's drops by reason. */
static void print_table(FILE *f, const struct stat_row *rows, size_t n, int64_t now,
			const char *eol)
{
	struct stat_row t;
	char h[7][8], td[24], id[BF_ORIGIN_MAX + 1], sync[8], hb[8];

	fprintf(f, "%-8s %6s %6s %6s %6s %6s %6s %-13s %5s %4s %3s%s", "EDGE", "RXpps", "RXbps",
		"FWDpps", "OUTpps", "OUTbps", "DROPps", "TOP DROP/s", "BANS", "SYNC", "HB", eol);
	fleet_row(rows, n, &t);
	for (size_t i = 0; i <= n; i++) {
		const struct stat_row *r = i < n ? &rows[i] : &t;

		if (i == n)
			fprintf(f, "%s", eol);
		bf_printable(r->id, strlen(r->id), id, sizeof(id));
		row_state(r, i == n, now, hb, sync);
		if (!r->have) {
			fprintf(f, "%-8.8s %-46s %4s %3s%s", id, "  (no stats: not publishing)",
				sync, hb, eol);
			continue;
		}
		fprintf(f, "%-8.8s %6s %6s %6s %6s %6s %6s %-13.13s %5s %4s %3s%s", id,
			human(r->rx_pps, h[0]), human(r->rx_bps, h[1]), human(r->fwd_pps, h[2]),
			human(r->conn_out_pps, h[3]), human(r->conn_out_bps, h[4]),
			human(r->drop_pps, h[5]), top_drop(r, td, sizeof(td)),
			human(r->bl_entries, h[6]), sync, hb, eol);
	}
	print_drops(f, &t, eol);
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
		for (size_t f = 0; f < ROW_FIELDS; f++)
			printf("%s\"%s\":%llu", f ? "," : "", row_fields[f].name,
			       (unsigned long long)row_value(r, f));
		printf(",\"reasons\":{");
		for (unsigned x = 0; x < BF_R_MAX; x++)
			printf("%s\"%s\":{\"pps\":%llu,\"packets\":%llu}", x ? "," : "",
			       bf_reason_name(x), (unsigned long long)r->pps[x],
			       (unsigned long long)r->packets[x]);
		printf("}}");
	}
	printf("}\n");
}

int ctl_stats(const struct ctl *c, int argc, char **argv)
{
	redisContext *rc = ctl_connect(c);
	struct stat_row *rows;
	size_t n;

	if (!rc)
		return -EIO;
	if (read_rows(c, rc, &rows, &n)) {
		fprintf(stderr, CTL_PROG ": reading the stats from Redis failed\n");
		redisFree(rc);
		return -EIO;
	}
	if (c->json)
		print_json(rows, n, sync_now_ms());
	else
		print_table(stdout, rows, n, sync_now_ms(), "\n");
	free(rows);
	redisFree(rc);
	return 0;
}

static void frame_show(const struct bf_stats_frame *f)
{
	printf("{\"edge\":");
	bf_json_fput(stdout, f->origin);
	printf(",\"ts_ms\":%lld,\"interval_ms\":%u,\"conn_in_pps\":%llu,\"conn_in_bps\":%llu,"
	       "\"conn_out_pps\":%llu,\"conn_out_bps\":%llu,\"sync_up\":%llu,\"sync_pending\":%llu,"
	       "\"stats_dropped\":%llu,\"reasons\":{",
	       (long long)f->ts_ms, f->interval_ms, (unsigned long long)f->conn_in_pps,
	       (unsigned long long)f->conn_in_bps, (unsigned long long)f->conn_out_pps,
	       (unsigned long long)f->conn_out_bps, (unsigned long long)f->sync_up,
	       (unsigned long long)f->sync_pending, (unsigned long long)f->stats_dropped);
	for (unsigned x = 0; x < BF_R_MAX; x++)
		printf("%s\"%s\":{\"pps\":%llu,\"bps\":%llu,\"packets\":%llu,\"bytes\":%llu}",
		       x ? "," : "", bf_reason_name(x), (unsigned long long)f->r[x].pps,
		       (unsigned long long)f->r[x].bps, (unsigned long long)f->r[x].packets,
		       (unsigned long long)f->r[x].bytes);
	printf("}}\n");
	fflush(stdout);
}

/* Decoded frames of the <prefix>stats:* channels, one JSON object a line. -ETIMEDOUT
 * when --count frames did not come. */
int ctl_stats_watch(const struct ctl *c, int argc, char **argv)
{
	redisContext *rc =
	    ctl_psubscribe(c, "stats:*", (c->timeout_s ? c->timeout_s : 86400) * 1000);
	long seen = 0;
	redisReply *r;

	if (!rc)
		return -EIO;
	while ((!c->count || seen < c->count) && redisGetReply(rc, (void **)&r) == REDIS_OK) {
		struct bf_stats_frame f;
		const char *what = NULL;

		if (ctl_is_pmessage(r)) {
			if (bf_stats_decode((const uint8_t *)r->element[3]->str, r->element[3]->len,
					    &f, &what)) {
				char ch[96];

				fprintf(stderr, CTL_PROG ": bad stats frame on %s: %s\n",
					bf_printable(r->element[2]->str, r->element[2]->len, ch,
						     sizeof(ch)),
					what);
			} else {
				frame_show(&f);
				seen++;
			}
		}
		freeReplyObject(r);
	}
	redisFree(rc);
	return c->count && seen < c->count ? -ETIMEDOUT : 0;
}

static volatile sig_atomic_t top_stop;
static struct termios top_saved;
static bool top_raw;

static void top_on_signal(int sig) { top_stop = 1; }

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

/* Keys one at a time, unechoed, when stdin is a terminal. */
static void top_raw_keys(void)
{
	struct termios raw;

	if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &top_saved))
		return;
	raw = top_saved;
	raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
	raw.c_cc[VMIN] = 0;
	raw.c_cc[VTIME] = 0;
	if (!tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw)) {
		top_raw = true;
		atexit(top_restore);
	}
}

/* One screen; true when a key asks to quit (waiting a second for one). */
static bool top_frame(const struct ctl *c, redisContext **rc)
{
	struct stat_row *rows = NULL;
	size_t n = 0;
	char when[16];
	time_t t = time(NULL);
	struct timeval tv = { .tv_sec = 1 };
	fd_set rd;

	strftime(when, sizeof(when), "%H:%M:%S", localtime(&t));
	if (!*rc || (*rc)->err) {
		redisFree(*rc);
		*rc = ctl_connect(c);
	}
	fputs("\033[H\033[2J", stdout);
	printf("bifrost top  %s  %s   q: quit\r\n", c->where, when);
	if (*rc && !read_rows(c, *rc, &rows, &n))
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
			return true;
	}
	return false;
}

int ctl_top(const struct ctl *c, int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = top_on_signal };
	redisContext *rc = NULL;

	if (!isatty(STDOUT_FILENO)) {
		/* A pipe gets one frame: the same table as `bifrostctl stats`. */
		return ctl_stats(c, argc, argv);
	}
	top_raw_keys();
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	fputs("\033[?25l", stdout); /* cursor hidden while the screen refreshes */
	while (!top_stop && !top_frame(c, &rc))
		;
	redisFree(rc);
	top_restore();
	if (!top_raw)
		fputs("\033[?25h", stdout);
	return 0;
}
