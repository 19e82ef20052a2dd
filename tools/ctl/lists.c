/* lists.c - bifrostctl wl, bl and punch: lists written as origin "ops", every origin's read. */
#include <errno.h>
#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "log.h"
#include "sync.h"

#define WRITE_LIMIT_S 5

/* The write under way: the event loop ends once Redis took it or refused it. */
struct write_wait {
	struct sync_client *sc;
	struct event_base *base;
	bool wrote, failed;
};

static void noop_record(void *ctx, const char *o, const struct bf_log_rec *r) {}

static void stop_cb(evutil_socket_t fd, short w, void *arg) { event_base_loopbreak(arg); }

static void poll_cb(evutil_socket_t fd, short w, void *arg)
{
	struct write_wait *ww = arg;
	struct sync_stats st;

	sync_client_stats(ww->sc, &st);
	if (st.written >= 1) {
		ww->wrote = true;
		event_base_loopbreak(ww->base);
	} else if (st.write_errors) {
		ww->failed = true;
		event_base_loopbreak(ww->base);
	}
}

/* Through the sync client, so the seq, the change log, the event and MULTI/EXEC are
 * exactly what an edge writes. 0, or -EIO once stderr said why. */
static int sync_write(const struct ctl *c, enum bf_op op, const struct bf_entry *e)
{
	struct sync_config cfg;
	struct sync_handlers h = { .on_record = noop_record };
	struct timeval limit = { .tv_sec = WRITE_LIMIT_S }, tick = { .tv_usec = 10000 };
	struct write_wait ww = { .base = event_base_new() };
	struct event *t1, *t2;
	int64_t exp = c->ttl_ms ? sync_now_ms() + (int64_t)c->ttl_ms : BF_EXP_INF;

	ctl_sync_config(c, &cfg);
	bf_log_init(CTL_PROG, BF_LOG_ERROR);
	ww.sc = sync_client_new(ww.base, &cfg, &h);
	if (!ww.sc) {
		event_base_free(ww.base);
		return -EIO;
	}
	sync_client_write(ww.sc, op, e, exp, c->reason ? c->reason : "manual");
	t1 = evtimer_new(ww.base, stop_cb, ww.base);
	t2 = event_new(ww.base, -1, EV_PERSIST, poll_cb, &ww);
	evtimer_add(t1, &limit);
	event_add(t2, &tick);
	event_base_dispatch(ww.base);
	event_free(t1);
	event_free(t2);
	sync_client_free(ww.sc);
	event_base_free(ww.base);
	if (!ww.wrote) {
		fprintf(stderr, CTL_PROG ": %s: Redis at %s %s\n",
			ww.failed ? "refused" : "timed out", c->where,
			ww.failed ? "refused the write" : "did not answer within 5 s");
		return -EIO;
	}
	return 0;
}

/* A password is checked here first: the sync client does not log in yet, and a wrong
 * one would otherwise only show as a refused write. */
static int login_check(const struct ctl *c)
{
	redisContext *rc;

	if (!c->ep.has_pass)
		return 0;
	rc = ctl_connect(c);
	if (!rc)
		return -EIO;
	redisFree(rc);
	return 0;
}

int ctl_list_write(const struct ctl *c, int argc, char **argv)
{
	enum bf_kind k = argv[0][0] == 'w' ? BF_KIND_WL : BF_KIND_BL;
	enum bf_op op = !strcmp(argv[1], "add") ? BF_OP_ADD : BF_OP_DEL;
	const char *text = argv[2];
	struct bf_entry e;
	int err;

	err = bf_entry_parse(k, text, strlen(text), &e);
	if (err) {
		return ctl_cidr_error(text, err);
	}
	if (op == BF_OP_ADD &&
	    ctl_prefix_check(c, &e.cidr, bf_kinds[k].min_prefix, bf_kinds[k].name))
		return -EINVAL;
	err = login_check(c);
	if (!err)
		err = sync_write(c, op, &e);
	if (err)
		return err;
	if (c->json)
		printf("{\"ok\":true,\"kind\":\"%s\",\"op\":\"%s\",\"entry\":\"%s\"}\n",
		       bf_kind_name(k), op == BF_OP_ADD ? "add" : "del", text);
	else
		printf("%s %s %s\n", op == BF_OP_ADD ? "added to" : "removed from",
		       k == BF_KIND_WL ? "whitelist:" : "blacklist:", text);
	return 0;
}

/* One origin's live entries of kind k; adds how many were shown to *shown. */
static void show_origin(const struct ctl *c, redisContext *rc, enum bf_kind k, const char *origin,
			int64_t now, size_t *shown)
{
	char key[BF_KEY_MAX];
	redisReply *r;

	bf_key_list(key, sizeof(key), c->prefix, k, origin);
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
			       origin, (int)m->len, m->str);
		else if (c->json)
			printf("{\"origin\":\"%s\",\"entry\":\"%.*s\",\"expires_ms\":%lld}\n",
			       origin, (int)m->len, m->str, (long long)exp);
		else
			printf("%-8s %-60.*s %s\n", origin, (int)m->len, m->str, left);
		(*shown)++;
	}
	freeReplyObject(r);
}

int ctl_list_show(const struct ctl *c, int argc, char **argv)
{
	enum bf_kind k = bf_kind_parse(argv[0]);
	redisContext *rc;
	int64_t now = sync_now_ms();
	char **o, key[BF_KEY_MAX];
	size_t n, shown = 0;
	int err = ctl_connect_origins(c, &rc, &o, &n);

	if (err == -EIO) {
		bf_key_edges(key, sizeof(key), c->prefix);
		fprintf(stderr, CTL_PROG ": reading %s failed\n", key);
	}
	if (err)
		return -EIO;
	ctl_text(c, "%-8s %-60s %s\n", "ORIGIN", "ENTRY", "EXPIRES");
	for (size_t i = 0; i < n; i++)
		show_origin(c, rc, k, o[i], now, &shown);
	ctl_text(c, "(%zu live entries)\n", shown);
	ctl_origins_free(o, n);
	redisFree(rc);
	return 0;
}
