/* lists.c - bifrostctl wl, bl, punch and valid: lists written as origin "ops"
 * (functions.c), every origin's read; validated clients counted per POP and connection. */
#include <errno.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "ctl.h"

int ctl_list_write(const struct ctl *c, int argc, char **argv)
{
	enum bf_kind k = argv[0][0] == 'w' ? BF_KIND_WL : BF_KIND_BL;
	enum bf_op op = !strcmp(argv[1], "add") ? BF_OP_ADD : BF_OP_DEL;
	const char *text = argv[2];
	struct bf_entry e;
	int err;

	err = bf_entry_parse(k, text, strlen(text), &e);
	if (err)
		return ctl_cidr_error(text, err);
	if (op == BF_OP_ADD &&
	    ctl_prefix_check(c, &e.cidr, bf_kinds[k].min_prefix, bf_kinds[k].name))
		return -EINVAL;
	err = ctl_fcall_write(c, op, &e);
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

/* Calls fn for each live, well-formed entry of kind k that origin holds (garbage is
 * skipped: never shown or counted as if it were an entry). */
static void each_live(const struct ctl *c, redisContext *rc, enum bf_kind k, const char *origin,
		      int64_t now,
		      void (*fn)(void *ctx, const redisReply *m, const struct bf_entry *e,
				 int64_t exp),
		      void *ctx)
{
	char key[BF_KEY_MAX];
	redisReply *r;

	bf_key_list(key, sizeof(key), c->prefix, k, origin);
	r = redisCommand(rc, "ZRANGEBYSCORE %s (%lld +inf WITHSCORES", key, (long long)now);
	for (size_t j = 0; r && r->type == REDIS_REPLY_ARRAY && j + 1 < r->elements; j += 2) {
		const redisReply *m = r->element[j], *s = r->element[j + 1];
		struct bf_entry e;
		int64_t exp;

		if (m->type != REDIS_REPLY_STRING || s->type != REDIS_REPLY_STRING ||
		    bf_entry_parse(k, m->str, m->len, &e) || bf_exp_parse(s->str, s->len, now, &exp))
			continue;
		fn(ctx, m, &e, exp);
	}
	freeReplyObject(r);
}

struct shown {
	const struct ctl *c;
	const char *origin;
	int64_t now;
	size_t n;
};

static void show_one(void *ctx, const redisReply *m, const struct bf_entry *e, int64_t exp)
{
	struct shown *sh = ctx;
	char left[32];

	if (exp == BF_EXP_INF)
		snprintf(left, sizeof(left), "never");
	else
		snprintf(left, sizeof(left), "in %llds", (long long)((exp - sh->now) / 1000));
	if (sh->c->json && exp == BF_EXP_INF)
		printf("{\"origin\":\"%s\",\"entry\":\"%.*s\",\"expires_ms\":null}\n", sh->origin,
		       (int)m->len, m->str);
	else if (sh->c->json)
		printf("{\"origin\":\"%s\",\"entry\":\"%.*s\",\"expires_ms\":%lld}\n", sh->origin,
		       (int)m->len, m->str, (long long)exp);
	else
		printf("%-8s %-60.*s %s\n", sh->origin, (int)m->len, m->str, left);
	sh->n++;
}

int ctl_list_show(const struct ctl *c, int argc, char **argv)
{
	enum bf_kind k = bf_kind_parse(argv[0]);
	redisContext *rc;
	int64_t now = bf_wall_ms();
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
	for (size_t i = 0; i < n; i++) {
		struct shown sh = { c, o[i], now, 0 };

		each_live(c, rc, k, o[i], now, show_one, &sh);
		shown += sh.n;
	}
	ctl_text(c, "(%zu live entries)\n", shown);
	ctl_origins_free(o, n);
	redisFree(rc);
	return 0;
}

/* ---- valid count ---- */

#define COUNT_CONNS_MAX 4096

struct conn_count {
	uint32_t bind_ip;
	uint16_t bind_port;
	uint64_t clients;
};

struct counting {
	struct conn_count *cc;
	size_t n, other; /* other: clients of connections past COUNT_CONNS_MAX */
};

static void count_one(void *ctx, const redisReply *m, const struct bf_entry *e, int64_t exp)
{
	struct counting *k = ctx;
	size_t i;

	for (i = 0; i < k->n; i++)
		if (k->cc[i].bind_ip == e->punch.bind_ip && k->cc[i].bind_port == e->punch.bind_port)
			break;
	if (i == k->n) {
		if (k->n == COUNT_CONNS_MAX) {
			k->other++;
			return;
		}
		k->cc[k->n++] = (struct conn_count){ e->punch.bind_ip, e->punch.bind_port, 0 };
	}
	k->cc[i].clients++;
}

int ctl_valid_count(const struct ctl *c, int argc, char **argv)
{
	redisContext *rc;
	int64_t now = bf_wall_ms();
	char **o, key[BF_KEY_MAX], b[BF_ADDR_STRLEN];
	size_t n, conns = 0;
	uint64_t total = 0;
	struct counting k = { calloc(COUNT_CONNS_MAX, sizeof(*k.cc)), 0, 0 };
	int err = k.cc ? ctl_connect_origins(c, &rc, &o, &n) : -ENOMEM;

	if (err == -EIO) {
		bf_key_edges(key, sizeof(key), c->prefix);
		fprintf(stderr, CTL_PROG ": reading %s failed\n", key);
	}
	if (err) {
		free(k.cc);
		return err == -ENOMEM ? err : -EIO;
	}
	ctl_text(c, "%-8s %-28s %s\n", "ORIGIN", "CONNECTION", "CLIENTS");
	for (size_t i = 0; i < n; i++) {
		k.n = k.other = 0;
		each_live(c, rc, BF_KIND_VALID, o[i], now, count_one, &k);
		for (size_t j = 0; j < k.n; j++) {
			char conn[40];

			snprintf(conn, sizeof(conn), "udp %s:%u", bf_ipv4_str(k.cc[j].bind_ip, b),
				 k.cc[j].bind_port);
			if (c->json)
				printf("{\"origin\":\"%s\",\"conn\":\"%s\",\"clients\":%llu}\n", o[i],
				       conn, (unsigned long long)k.cc[j].clients);
			else
				printf("%-8s %-28s %llu\n", o[i], conn,
				       (unsigned long long)k.cc[j].clients);
			total += k.cc[j].clients;
		}
		if (k.other && c->json)
			printf("{\"origin\":\"%s\",\"conn\":null,\"clients\":%llu}\n", o[i],
			       (unsigned long long)k.other);
		else if (k.other)
			printf("%-8s %-28s %llu\n", o[i], "(other connections)",
			       (unsigned long long)k.other);
		total += k.other;
		conns += k.n;
	}
	/* A client playing at several POPs is counted at each (each holds it). */
	ctl_text(c, "(%llu entries in %zu rows; a client playing at several POPs is in each)\n",
		 (unsigned long long)total, conns);
	ctl_origins_free(o, n);
	redisFree(rc);
	free(k.cc);
	return 0;
}
