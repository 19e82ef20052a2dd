/* flowspec.c - bifrostctl flowspec list: what each POP's bifrost-flowspec announces, waits
 * on or refused (<prefix>flowspec:<id>, docs/REDIS.md "Flowspec"). */
#include <errno.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "ctl.h"
#include "flowspec.h"

struct shown {
	size_t pops, lines;
	long long now_ms;
};

/* "in 59m", "12s ago", "-" */
static const char *when(unsigned long long at, long long now, char *buf, size_t len)
{
	long long d, a;

	if (at > (unsigned long long)now + 100ULL * 365 * 86400000) { /* not a time */
		snprintf(buf, len, "?");
		return buf;
	}
	d = (long long)at - now;
	a = d < 0 ? -d : d;

	if (!at)
		snprintf(buf, len, "-");
	else if (a < 120000)
		snprintf(buf, len, d < 0 ? "%llds ago" : "in %llds", a / 1000);
	else if (a < 7200000)
		snprintf(buf, len, d < 0 ? "%lldm ago" : "in %lldm", a / 60000);
	else
		snprintf(buf, len, d < 0 ? "%lldh ago" : "in %lldh", a / 3600000);
	return buf;
}

static int by_id(const void *a, const void *b)
{
	uint32_t x = ((const struct bf_fs_rule_state *)a)->id, y = ((const struct bf_fs_rule_state *)b)->id;

	return x < y ? -1 : x > y;
}

static int pop_one(const struct ctl *c, redisContext *rc, const redisReply *key, void *ctx)
{
	struct shown *sh = ctx;
	const char *id = key->str + strlen(c->prefix) + strlen("flowspec:");
	char akey[BF_KEY_MAX], safe_id[2 * BF_ORIGIN_MAX + 8];
	redisReply *r, *alive;
	struct bf_fs_rule_state *rows;
	size_t n = 0;
	bool up;

	if (key->len <= strlen(c->prefix) + strlen("flowspec:") || !bf_origin_valid(id))
		return 0; /* not a key bifrost-flowspec writes */
	ctl_safe(c, id, strlen(id), safe_id, sizeof(safe_id));
	bf_key_flowspec_alive(akey, sizeof(akey), c->prefix, id);
	alive = redisCommand(rc, "PTTL %s", akey);
	up = alive && alive->type == REDIS_REPLY_INTEGER && alive->integer > 0;
	freeReplyObject(alive);
	r = redisCommand(rc, "HGETALL %b", key->str, key->len);
	if (!r || r->type != REDIS_REPLY_ARRAY) {
		freeReplyObject(r);
		return 0;
	}
	sh->pops++;
	ctl_text(c, "%s (exporter %s)\n", safe_id,
		 up ? "running" : "not running: nothing of this POP is announced");
	rows = calloc(r->elements / 2 + 1, sizeof(*rows));
	for (size_t i = 0; rows && i + 1 < r->elements; i += 2) {
		const redisReply *f = r->element[i], *v = r->element[i + 1];

		if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING ||
		    bf_rule_id_parse(f->str, f->len, &rows[n].id) ||
		    bf_fs_line_parse(v->str, v->len, &rows[n].line))
			continue; /* not what bifrost-flowspec writes */
		n++;
	}
	if (rows)
		qsort(rows, n, sizeof(*rows), by_id);
	for (size_t i = 0; i < n; i++) {
		struct bf_fs_line *l = &rows[i].line;
		char text[2 * BF_FS_MATCH_MAX + 8], why[64], a[24];

		/* a stopped exporter's routes are withdrawn, whatever its last lines say */
		if (!up && l->state == BF_FSS_ANNOUNCED)
			l->state = BF_FSS_STOPPED;
		ctl_safe(c, l->text, strlen(l->text), text, sizeof(text));
		ctl_safe(c, l->why, strlen(l->why), why, sizeof(why));
		sh->lines++;
		if (c->json)
			printf("{\"pop\":\"%s\",\"exporter\":%s,\"rule\":%u,\"state\":\"%s\","
			       "\"why\":\"%s\",\"since_ms\":%llu,\"until_ms\":%llu,\"text\":\"%s\"}\n",
			       safe_id, up ? "true" : "false", rows[i].id, bf_fs_state_name(l->state),
			       strcmp(l->why, "-") ? why : "", (unsigned long long)l->since_ms,
			       (unsigned long long)l->until_ms, text);
		else
			printf("  %-8u %-10s %-12s %-10s %s\n", rows[i].id, bf_fs_state_name(l->state),
			       why, when(l->until_ms, sh->now_ms, a, sizeof(a)), text);
	}
	free(rows);
	freeReplyObject(r);
	return 0;
}

int ctl_flowspec_list(const struct ctl *c, int argc, char **argv)
{
	redisContext *rc = ctl_connect(c);
	struct shown sh = { .now_ms = bf_wall_ms() };
	int err;

	if (!rc)
		return -EIO;
	ctl_text(c, "  %-8s %-10s %-12s %-10s %s\n", "RULE", "STATE", "WHY", "EXPIRES",
		 "ROUTE (or what to change)");
	err = ctl_scan(c, rc, "flowspec:*", pop_one, &sh);
	ctl_text(c, "(%zu POPs, %zu rules offered for Flowspec)\n", sh.pops, sh.lines);
	redisFree(rc);
	return err ? -EIO : 0;
}
