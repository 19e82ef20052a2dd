/* lists.c - bifrostctl wl, bl and punch: lists written as origin "ops" (functions.c), every
 * origin's read. */
#include <errno.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
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
	for (size_t i = 0; i < n; i++)
		show_origin(c, rc, k, o[i], now, &shown);
	ctl_text(c, "(%zu live entries)\n", shown);
	ctl_origins_free(o, n);
	redisFree(rc);
	return 0;
}
