/* rules.c - bifrostctl rule and protect: firewall rules, their counters, protected prefixes. */
#include <errno.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "text.h"

/* One command on one key, then the config version: says what changed. */
static int conf_change(const struct ctl *c, const struct ctl_argv *cmd, const char *what)
{
	if (ctl_conf_change(c, cmd, 1, what))
		return -EIO;
	if (c->json)
		printf("{\"ok\":true,\"change\":\"%s\"}\n", what);
	else
		printf("%s (edges apply it within a second)\n", what);
	return 0;
}

static int rule_id(const char *id, uint32_t *rid)
{
	if (bf_rule_id_parse(id, strlen(id), rid)) {
		fprintf(stderr, CTL_PROG ": rule id '%s' is not 1-%d\n", id, BF_RULE_ID_MAX);
		return -EINVAL;
	}
	return 0;
}

/* rule add ID FIELD VALUE...: every word after the id is the rule. */
int ctl_rule_add(const struct ctl *c, int argc, char **argv)
{
	char text[BF_RULE_TEXT_MAX + 1] = "", canon[BF_RULE_TEXT_MAX + 1], err[160],
				     key[BF_KEY_MAX];
	char what[64];
	struct ctl_argv cmd = { 4, { "HSET", key, argv[2], canon } };
	struct bf_rule_def d;
	uint32_t rid;
	size_t o = 0;

	if (rule_id(argv[2], &rid))
		return -EINVAL;
	for (int i = 3; i < argc; i++) {
		int w = snprintf(text + o, sizeof(text) - o, "%s%s", i > 3 ? " " : "", argv[i]);

		if (w < 0 || (size_t)w >= sizeof(text) - o) {
			fprintf(stderr, CTL_PROG ": rule longer than %d bytes\n", BF_RULE_TEXT_MAX);
			return -EINVAL;
		}
		o += (size_t)w;
	}
	if (bf_rule_parse(rid, text, strlen(text), &d, err, sizeof(err))) {
		fprintf(stderr, CTL_PROG ": rule %u refused: %s\n", rid, err);
		return -EINVAL;
	}
	if (bf_rule_unmarked_drop_all(&d)) {
		fprintf(stderr, CTL_PROG ": rule %u refused: it matches every packet and drops it, "
				"and every edge refuses such a rule. Give it a match field (src, "
				"proto, dport, ...), or add 'all yes' if the fleet must really drop "
				"everything\n",
			rid);
		return -EINVAL;
	}
	bf_rule_format(&d, canon, sizeof(canon));
	bf_key_rules(key, sizeof(key), c->prefix);
	snprintf(what, sizeof(what), "rule %u set", rid);
	return conf_change(c, &cmd, what);
}

int ctl_rule_del(const struct ctl *c, int argc, char **argv)
{
	char key[BF_KEY_MAX], what[64];
	struct ctl_argv cmd = { 3, { "HDEL", key, argv[2] } };
	uint32_t rid;

	if (rule_id(argv[2], &rid))
		return -EINVAL;
	bf_key_rules(key, sizeof(key), c->prefix);
	snprintf(what, sizeof(what), "rule %u removed", rid);
	return conf_change(c, &cmd, what);
}

static int cmp_rule_id(const void *a, const void *b)
{
	const redisReply *x = *(redisReply *const *)a, *y = *(redisReply *const *)b;
	unsigned long long i = strtoull(x->str, NULL, 10), j = strtoull(y->str, NULL, 10);

	return i < j ? -1 : i > j;
}

/* One rule as stored: canonical when it validates, else why not. */
static void rule_show(const struct ctl *c, const redisReply *id, const redisReply *text)
{
	char err[160] = "", canon[BF_RULE_TEXT_MAX + 1] = "", sid[24], buf[BF_RULE_TEXT_MAX * 6];
	struct bf_rule_def d;
	uint32_t rid = 0;
	int bad;

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
			printf(",\"text\":\"%s\"}\n",
			       bf_json_esc(text->str, text->len, buf, sizeof(buf)));
		} else {
			printf(",\"rule\":");
			bf_json_fput(stdout, canon);
			printf("}\n");
		}
	} else if (bad) {
		printf("%-8s INVALID (%s): edges keep their previous rules until it is fixed\n",
		       sid, err);
	} else {
		printf("%-8s %s\n", sid, canon);
	}
}

int ctl_rule_list(const struct ctl *c, int argc, char **argv)
{
	char key[BF_KEY_MAX];
	redisContext *rc = ctl_connect(c);
	redisReply *r, **ids;
	size_t n = 0;

	if (!rc)
		return -EIO;
	bf_key_rules(key, sizeof(key), c->prefix);
	r = redisCommand(rc, "HGETALL %s", key);
	if (!r || r->type != REDIS_REPLY_ARRAY) {
		fprintf(stderr, CTL_PROG ": cannot read %s\n", key);
		freeReplyObject(r);
		redisFree(rc);
		return -EIO;
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
		const redisReply *text = ids[i];

		for (size_t j = 0; j + 1 < r->elements; j += 2)
			if (r->element[j] == ids[i])
				text = r->element[j + 1];
		rule_show(c, ids[i], text);
	}
	ctl_text(c, "(%zu rules)\n", n);
	free(ids);
	freeReplyObject(r);
	redisFree(rc);
	return 0;
}

/* Each edge writes <prefix>rulestats:<id> (rule id -> "packets bytes") every second;
 * the fleet's figure is the sum. */
int ctl_rule_stats(const struct ctl *c, int argc, char **argv)
{
	redisContext *rc;
	char **o, key[BF_KEY_MAX];
	size_t n;

	if (ctl_connect_origins(c, &rc, &o, &n))
		return -EIO;
	ctl_text(c, "%-12s %-8s %14s %16s\n", "EDGE", "RULE", "PACKETS", "BYTES");
	for (size_t i = 1; i < n; i++) { /* o[0] is ops */
		redisReply *r = NULL;

		if (ctl_key(c, key, sizeof(key), "rulestats:%s", o[i]) >= 0)
			r = redisCommand(rc, "HGETALL %s", key);
		for (size_t j = 0; r && r->type == REDIS_REPLY_ARRAY && j + 1 < r->elements;
		     j += 2) {
			const redisReply *id = r->element[j], *v = r->element[j + 1];
			unsigned long long pk, by;
			uint32_t rid;

			if (id->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING ||
			    bf_rule_id_parse(id->str, id->len, &rid) ||
			    sscanf(v->str, "%llu %llu", &pk, &by) != 2)
				continue; /* not what an edge writes */
			if (c->json)
				printf("{\"edge\":\"%s\",\"rule\":%u,\"packets\":%llu,\"bytes\":%"
				       "llu}\n",
				       o[i], rid, pk, by);
			else
				printf("%-12s %-8u %14llu %16llu\n", o[i], rid, pk, by);
		}
		freeReplyObject(r);
	}
	ctl_origins_free(o, n);
	redisFree(rc);
	return 0;
}

int ctl_protect_write(const struct ctl *c, int argc, char **argv)
{
	char key[BF_KEY_MAX], what[64], s[BF_CIDR_STRLEN];
	bool add = !strcmp(argv[1], "add");
	struct ctl_argv cmd = { 3, { add ? "SADD" : "SREM", key, s } };
	struct bf_cidr pc;
	int err = bf_parse_cidr4(argv[2], false, &pc);

	if (err) {
		return ctl_cidr_error(argv[2], err);
	}
	if (add && ctl_prefix_check(c, &pc, BF_PROTECT_MIN_PREFIX, "protect"))
		return -EINVAL;
	bf_key_protect(key, sizeof(key), c->prefix);
	snprintf(what, sizeof(what), "%s protected %s", bf_cidr_str(&pc, s),
		 add ? "added" : "removed");
	return conf_change(c, &cmd, what);
}

int ctl_protect_list(const struct ctl *c, int argc, char **argv)
{
	char key[BF_KEY_MAX], s[BF_CIDR_STRLEN];
	redisContext *rc = ctl_connect(c);
	struct bf_cidr pc;
	redisReply *r;

	if (!rc)
		return -EIO;
	bf_key_protect(key, sizeof(key), c->prefix);
	r = redisCommand(rc, "SMEMBERS %s", key);
	for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
		char buf[BF_KEY_MAX];
		const redisReply *m = r->element[i];
		int bad = m->type != REDIS_REPLY_STRING || m->len >= sizeof(buf);

		if (!bad) {
			memcpy(buf, m->str, m->len);
			buf[m->len] = '\0';
			bad = bf_parse_cidr4(buf, false, &pc);
		}
		bf_printable(m->str, m->type == REDIS_REPLY_STRING ? m->len : 0, buf, sizeof(buf));
		if (c->json)
			printf("{\"prefix\":\"%s\",\"valid\":%s}\n", bad ? "" : bf_cidr_str(&pc, s),
			       bad ? "false" : "true");
		else
			printf("%s%s\n", buf, bad ? ": INVALID (edges skip it)" : "");
	}
	freeReplyObject(r);
	redisFree(rc);
	return 0;
}
