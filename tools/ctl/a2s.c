/* a2s.c - bifrostctl a2s list|show: the fleet's A2S cache, each server's replies parsed. */
#include <errno.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <string.h>

#include "a2s.h"
#include "ctl.h"
#include "text.h"

/* The three cached replies of one server: INFO, PLAYER, RULES. */
#define A2S_REPLIES 3

/* GETs one cached reply; its length (0 = absent), or -EIO. *ttl_ms from PTTL. */
static long a2s_get(const struct ctl *c, redisContext *rc, enum bf_a2s_key k, uint32_t ip,
		    uint16_t port, redisReply **out, long long *ttl_ms)
{
	char key[BF_KEY_MAX];
	redisReply *r, *t;

	bf_key_a2s(key, sizeof(key), c->prefix, k, ip, port);
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

/* What was cached for one server, fetched and parsed. */
struct a2s_entry {
	redisReply *r[A2S_REPLIES];
	long long ttl[A2S_REPLIES];
	long n[A2S_REPLIES];
	size_t count[A2S_REPLIES];
	const char *what[A2S_REPLIES]; /* why a reply did not parse, NULL if it did */
	struct a2s_info info;
};

static int entry_read(const struct ctl *c, redisContext *rc, uint32_t ip, uint16_t port,
		      struct a2s_entry *e)
{
	memset(e, 0, sizeof(*e));
	for (int k = 0; k < A2S_REPLIES; k++) {
		e->n[k] = a2s_get(c, rc, (enum bf_a2s_key)k, ip, port, &e->r[k], &e->ttl[k]);
		if (e->n[k] < 0)
			return -EIO;
	}
	if (!e->r[0])
		return 0;
	if (a2s_info_parse((const uint8_t *)e->r[0]->str, e->r[0]->len, &e->info, &e->what[0]))
		memset(&e->info, 0, sizeof(e->info));
	if (e->r[1])
		a2s_player_parse((const uint8_t *)e->r[1]->str, e->r[1]->len, NULL, 0, &e->count[1],
				 &e->what[1]);
	if (e->r[2])
		a2s_rules_parse((const uint8_t *)e->r[2]->str, e->r[2]->len, NULL, 0, &e->count[2],
				&e->what[2]);
	return 0;
}

static void entry_free(struct a2s_entry *e)
{
	for (int k = 0; k < A2S_REPLIES; k++)
		freeReplyObject(e->r[k]);
}

static void entry_json(const char *bind, const struct a2s_entry *e)
{
	printf("{\"bind\":\"%s\",\"cached\":true,\"bytes\":%ld,\"ttl_ms\":%lld", bind, e->n[0],
	       e->ttl[0]);
	if (e->what[0]) {
		printf(",\"error\":");
		bf_json_fput(stdout, e->what[0]);
	} else {
		printf(",\"name\":");
		bf_json_fput(stdout, e->info.name);
		printf(",\"map\":");
		bf_json_fput(stdout, e->info.map);
		printf(",\"game\":");
		bf_json_fput(stdout, e->info.game);
		printf(",\"appid\":%u,\"players\":%u,\"max_players\":%u,\"bots\":%u", e->info.appid,
		       e->info.players, e->info.max_players, e->info.bots);
	}
	for (int k = 1; k < A2S_REPLIES; k++) {
		const char *name = k == 1 ? "player" : "rule";

		if (!e->r[k])
			printf(",\"%s_count\":null", name);
		else if (e->what[k])
			printf(",\"%s_count\":null,\"%s_error\":\"%s\"", name, name, e->what[k]);
		else
			printf(",\"%s_count\":%zu,\"%s_bytes\":%ld", name, e->count[k], name,
			       e->n[k]);
	}
	printf("}\n");
}

static void entry_text(const char *bind, const struct a2s_entry *e)
{
	printf("%-22s %5.1fs %5ld ", bind, (double)e->ttl[0] / 1000, e->n[0]);
	if (e->what[0]) {
		printf("UNPARSABLE (%s)\n", e->what[0]);
		return;
	}
	printf("%3u/%-3u ", e->info.players, e->info.max_players);
	for (int k = 1; k < A2S_REPLIES; k++) {
		if (!e->r[k])
			printf("%6s ", "-");
		else if (e->what[k])
			printf("%6s ", "BAD");
		else
			printf("%6zu ", e->count[k]);
	}
	bf_json_fput(stdout, e->info.map);
	putchar(' ');
	bf_json_fput(stdout, e->info.name);
	putchar('\n');
}

/* Prints one server's cache entry. 0, -ENOENT when nothing is cached, -EIO. */
static int show_one(const struct ctl *c, redisContext *rc, uint32_t ip, uint16_t port)
{
	struct a2s_entry e;
	char b[BF_ADDR_STRLEN], bind[32];
	int ret = entry_read(c, rc, ip, port, &e);

	snprintf(bind, sizeof(bind), "%s:%u", bf_ipv4_str(ip, b), port);
	if (ret)
		;
	else if (!e.r[0]) {
		if (c->json)
			printf("{\"bind\":\"%s\",\"cached\":false}\n", bind);
		else
			printf("%s: nothing cached\n", bind);
		ret = -ENOENT;
	} else if (c->json) {
		entry_json(bind, &e);
	} else {
		entry_text(bind, &e);
	}
	entry_free(&e);
	return ret;
}

static void header(const struct ctl *c)
{
	ctl_text(c, "%-22s %6s %5s %-7s %6s %6s %s\n", "BIND", "TTL", "BYTES", "PLAYERS", "P_LIST",
		 "RULES", "MAP NAME");
}

int ctl_a2s_show(const struct ctl *c, int argc, char **argv)
{
	redisContext *rc;
	uint32_t ip;
	uint16_t port;
	int ret;

	if (bf_parse_endpoint(argv[2], false, &ip, &port)) {
		fprintf(stderr, CTL_PROG ": a2s show: want the bind address a.b.c.d:port\n");
		return -EINVAL;
	}
	rc = ctl_connect(c);
	if (!rc)
		return -EIO;
	header(c);
	ret = show_one(c, rc, ip, port);
	if (ret == -EIO)
		fprintf(stderr, CTL_PROG ": lost Redis: %s\n", rc->errstr);
	redisFree(rc);
	return ret;
}

static int a2s_one(const struct ctl *c, redisContext *rc, const redisReply *k, void *shown)
{
	enum bf_a2s_key kind;
	uint32_t ip;
	uint16_t port;

	if (bf_key_a2s_parse(k->str, k->len, c->prefix, &kind, &ip, &port) || kind != BF_A2S_INFO)
		return 0;
	if (show_one(c, rc, ip, port) == -EIO)
		return -EIO;
	(*(size_t *)shown)++;
	return 0;
}

int ctl_a2s_list(const struct ctl *c, int argc, char **argv)
{
	redisContext *rc = ctl_connect(c);
	size_t shown = 0;
	int err;

	if (!rc)
		return -EIO;
	header(c);
	err = ctl_scan(c, rc, "a2s:*", a2s_one, &shown);
	ctl_text(c, "(%zu servers cached)\n", shown);
	redisFree(rc);
	return err ? -EIO : 0;
}
