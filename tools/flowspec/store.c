/* store.c - bifrost-flowspec's Redis: the rules, protected prefixes, whitelists and the
 * canary's lines it reads; its own lines it writes (docs/REDIS.md "Flowspec"). */
#include <errno.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "fsd.h"
#include "log.h"

#define RULES_HASH_MAX 100000 /* fields of bifrost:rules looked at (the edges' cap is lower) */

static char last_err[256];

const char *fs_store_error(void)
{
	return last_err[0] ? last_err : "no reply";
}

/* A reply of the wanted type, else NULL with the reply freed and what went wrong in
 * last_err (the context failed when rc->err). */
static redisReply *cmd(redisContext *rc, int type, const char *fmt, ...)
{
	redisReply *r;
	va_list ap;
	int n = (int)strcspn(fmt, " ");

	va_start(ap, fmt);
	r = redisvCommand(rc, fmt, ap);
	va_end(ap);
	if (!r) {
		snprintf(last_err, sizeof(last_err), "%.*s: %s", n, fmt,
			 rc->err ? rc->errstr : "no reply");
		return NULL;
	}
	if (r->type != type && !(type == REDIS_REPLY_STRING && r->type == REDIS_REPLY_NIL)) {
		snprintf(last_err, sizeof(last_err), "%.*s: %s", n, fmt,
			 r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply type");
		freeReplyObject(r);
		return NULL;
	}
	return r;
}

void fs_input_free(struct fs_input *in)
{
	free(in->rules);
	free(in->protect);
	free(in->wl);
	free(in->canary);
	memset(in, 0, sizeof(*in));
}

int fs_store_version(redisContext *rc, const struct fs_conf *c, char *buf, size_t len)
{
	char key[BF_KEY_MAX];
	redisReply *r;

	bf_key_conf_version(key, sizeof(key), c->prefix);
	r = cmd(rc, REDIS_REPLY_STRING, "GET %s", key);
	if (!r)
		return -EIO;
	snprintf(buf, len, "%.*s", r->type == REDIS_REPLY_STRING ? (int)r->len : 0,
		 r->type == REDIS_REPLY_STRING ? r->str : "");
	freeReplyObject(r);
	return 0;
}

static int load_rules(redisContext *rc, const struct fs_conf *c, struct fs_input *in)
{
	char key[BF_KEY_MAX], err[256];
	redisReply *r;

	bf_key_rules(key, sizeof(key), c->prefix);
	r = cmd(rc, REDIS_REPLY_INTEGER, "HLEN %s", key);
	if (!r)
		return -EIO;
	if (r->integer > RULES_HASH_MAX) {
		snprintf(last_err, sizeof(last_err), "%s holds %lld rules, more than %d: not read",
			 key, r->integer, RULES_HASH_MAX);
		freeReplyObject(r);
		return -EIO;
	}
	freeReplyObject(r);
	r = cmd(rc, REDIS_REPLY_ARRAY, "HGETALL %s", key);
	if (!r)
		return -EIO;
	in->rules = calloc(BF_FS_RULES_MAX, sizeof(*in->rules));
	if (!in->rules) {
		freeReplyObject(r);
		return -ENOMEM;
	}
	for (size_t i = 0; i + 1 < r->elements; i += 2) {
		const redisReply *f = r->element[i], *v = r->element[i + 1];
		struct bf_rule_def d;
		uint32_t id;

		if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING ||
		    bf_rule_id_parse(f->str, f->len, &id) ||
		    bf_rule_parse(id, v->str, v->len, &d, err, sizeof(err))) {
			in->bad_rules++;
			continue;
		}
		if (d.flowspec == BF_FS_NO || !bf_rule_applies(&d, c->id))
			continue;
		if (!d.enabled || d.dry_run) {
			in->inactive++;
			continue;
		}
		if (in->n_rules == BF_FS_RULES_MAX) {
			pr_warn("more than %d rules with flowspec: rule %u and later are not looked at",
				BF_FS_RULES_MAX, id);
			continue;
		}
		in->rules[in->n_rules++] = d;
	}
	freeReplyObject(r);
	return 0;
}

static int load_protect(redisContext *rc, const struct fs_conf *c, struct fs_input *in)
{
	char key[BF_KEY_MAX];
	redisReply *r;

	bf_key_protect(key, sizeof(key), c->prefix);
	r = cmd(rc, REDIS_REPLY_INTEGER, "SCARD %s", key);
	if (!r)
		return -EIO; /* fail closed: NOPERM, WRONGTYPE: nothing new is decided */
	if (r->integer > FS_PROTECT_MAX) {
		snprintf(last_err, sizeof(last_err), "%s holds %lld prefixes, more than %d: not read",
			 key, r->integer, FS_PROTECT_MAX);
		freeReplyObject(r);
		return -EIO;
	}
	freeReplyObject(r);
	r = cmd(rc, REDIS_REPLY_ARRAY, "SMEMBERS %s", key);
	if (!r)
		return -EIO; /* fail closed: NOPERM, WRONGTYPE: nothing new is decided */
	in->protect = calloc(r->elements + 1, sizeof(*in->protect));
	if (!in->protect) {
		freeReplyObject(r);
		return -ENOMEM;
	}
	for (size_t i = 0; i < r->elements; i++) {
		char buf[BF_CIDR_STRLEN];
		const redisReply *e = r->element[i];

		if (e->type != REDIS_REPLY_STRING || e->len >= sizeof(buf))
			continue;
		memcpy(buf, e->str, e->len);
		buf[e->len] = '\0';
		if (!bf_parse_cidr4(buf, false, &in->protect[in->n_protect]))
			in->n_protect++;
	}
	freeReplyObject(r);
	return 0;
}

/* Every live whitelist entry of every origin: SCAN <p>wl:*, then ZRANGEBYSCORE now +inf. */
static int load_wl(redisContext *rc, const struct fs_conf *c, struct fs_input *in)
{
	char cursor[32] = "0", match[BF_KEY_MAX], now[24];
	size_t cap = 256;

	snprintf(match, sizeof(match), "%s%s:*", c->prefix, bf_kind_name(BF_KIND_WL));
	snprintf(now, sizeof(now), "(%lld", (long long)bf_wall_ms());
	in->wl = malloc(cap * sizeof(*in->wl));
	if (!in->wl)
		return -ENOMEM;
	do {
		redisReply *s = cmd(rc, REDIS_REPLY_ARRAY, "SCAN %s MATCH %s COUNT 100 TYPE zset",
				    cursor, match);

		if (!s || s->elements != 2 || s->element[0]->type != REDIS_REPLY_STRING ||
		    s->element[1]->type != REDIS_REPLY_ARRAY) {
			if (s)
				freeReplyObject(s);
			return -EIO;
		}
		snprintf(cursor, sizeof(cursor), "%s", s->element[0]->str);
		for (size_t k = 0; k < s->element[1]->elements; k++) {
			const redisReply *key = s->element[1]->element[k];
			redisReply *z;

			if (key->type != REDIS_REPLY_STRING)
				continue;
			z = cmd(rc, REDIS_REPLY_ARRAY, "ZRANGEBYSCORE %b %s +inf LIMIT 0 %d", key->str,
				key->len, now, FS_WL_MAX + 1);
			if (!z) {
				freeReplyObject(s);
				return -EIO; /* fail closed: NOPERM, WRONGTYPE: nothing new is decided */
			}
			for (size_t i = 0; i < z->elements && !in->wl_overflow; i++) {
				char buf[BF_CIDR_STRLEN];
				const redisReply *e = z->element[i];
				struct bf_cidr cd;

				if (e->type != REDIS_REPLY_STRING || e->len >= sizeof(buf))
					continue;
				memcpy(buf, e->str, e->len);
				buf[e->len] = '\0';
				if (bf_parse_cidr4(buf, false, &cd))
					continue;
				if (in->n_wl == FS_WL_MAX) {
					in->wl_overflow = true;
					break;
				}
				if (in->n_wl == cap) {
					struct bf_cidr *m = realloc(in->wl, 2 * cap * sizeof(*m));

					if (!m) {
						freeReplyObject(z);
						freeReplyObject(s);
						return -ENOMEM;
					}
					in->wl = m;
					cap *= 2;
				}
				in->wl[in->n_wl++] = cd;
			}
			freeReplyObject(z);
		}
		freeReplyObject(s);
	} while (strcmp(cursor, "0") && !in->wl_overflow);
	return 0;
}

/* The lines of <p>flowspec:<id>, at most cap; lines that are not one are skipped. */
static int read_lines(redisContext *rc, const struct fs_conf *c, const char *id,
		      struct bf_fs_rule_state *out, size_t cap, size_t *n)
{
	char key[BF_KEY_MAX];
	redisReply *r;

	*n = 0;
	bf_key_flowspec(key, sizeof(key), c->prefix, id);
	r = cmd(rc, REDIS_REPLY_ARRAY, "HGETALL %s", key);
	if (!r)
		return -EIO; /* fail closed: NOPERM, WRONGTYPE: nothing new is decided */
	for (size_t i = 0; i + 1 < r->elements && *n < cap; i += 2) {
		const redisReply *f = r->element[i], *v = r->element[i + 1];
		uint32_t rid;

		if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING ||
		    bf_rule_id_parse(f->str, f->len, &rid) ||
		    bf_fs_line_parse(v->str, v->len, &out[*n].line))
			continue;
		out[(*n)++].id = rid;
	}
	freeReplyObject(r);
	return 0;
}

int fs_store_read_own(redisContext *rc, const struct fs_conf *c, struct bf_fs_rule_state *out,
		      size_t cap, size_t *n)
{
	return read_lines(rc, c, c->id, out, cap, n);
}

int fs_store_load(redisContext *rc, const struct fs_conf *c, struct fs_input *in)
{
	int err;

	memset(in, 0, sizeof(*in));
	err = load_rules(rc, c, in);
	if (!err)
		err = load_protect(rc, c, in);
	if (!err)
		err = load_wl(rc, c, in);
	if (!err && c->lim.follow_canary) {
		char key[BF_KEY_MAX];
		redisReply *r;

		/* A canary that is not running announces nothing, whatever its last lines
		 * say: nothing is released on their word. */
		bf_key_flowspec_alive(key, sizeof(key), c->prefix, c->canary);
		r = cmd(rc, REDIS_REPLY_STRING, "GET %s", key);
		if (!r)
			err = -EIO;
		in->canary = calloc(BF_FS_RULES_MAX, sizeof(*in->canary));
		if (!err && !in->canary)
			err = -ENOMEM;
		if (!err && r->type == REDIS_REPLY_STRING)
			err = read_lines(rc, c, c->canary, in->canary, BF_FS_RULES_MAX, &in->n_canary);
		if (r)
			freeReplyObject(r);
	}
	if (err)
		fs_input_free(in);
	return err == -ENOMEM ? -ENOMEM : err ? -EIO : 0;
}

int fs_store_write(redisContext *rc, const struct fs_conf *c, const struct bf_fs_rule_state *s,
		   size_t n)
{
	char key[BF_KEY_MAX], ids[BF_FS_RULES_MAX][12], (*lines)[BF_FS_MATCH_MAX + 96];
	const char **argv;
	size_t *lens, argc = 0;
	redisReply *r;
	int err = 0;

	bf_key_flowspec(key, sizeof(key), c->prefix, c->id);
	lines = malloc(BF_FS_RULES_MAX * sizeof(*lines));
	argv = malloc((2 * BF_FS_RULES_MAX + 2) * sizeof(*argv));
	lens = malloc((2 * BF_FS_RULES_MAX + 2) * sizeof(*lens));
	if (!lines || !argv || !lens) {
		free(lines);
		free(argv);
		free(lens);
		return -ENOMEM;
	}
	argv[argc] = "HSET";
	lens[argc++] = 4;
	argv[argc] = key;
	lens[argc++] = strlen(key);
	for (size_t i = 0; i < n && i < BF_FS_RULES_MAX; i++) {
		int len = bf_fs_line_format(&s[i].line, lines[i], sizeof(lines[i]));

		if (len < 0)
			continue;
		snprintf(ids[i], sizeof(ids[i]), "%u", s[i].id);
		argv[argc] = ids[i];
		lens[argc++] = strlen(ids[i]);
		argv[argc] = lines[i];
		lens[argc++] = (size_t)len;
	}
	redisAppendCommand(rc, "MULTI");
	redisAppendCommand(rc, "DEL %s", key);
	if (argc > 2)
		redisAppendCommandArgv(rc, (int)argc, argv, lens);
	redisAppendCommand(rc, "EXEC");
	for (int i = 0; i < (argc > 2 ? 4 : 3); i++) {
		if (redisGetReply(rc, (void **)&r) != REDIS_OK) {
			snprintf(last_err, sizeof(last_err), "writing %s: %s", key, rc->errstr);
			err = -EIO;
			break;
		}
		if (r->type == REDIS_REPLY_ERROR ||
		    (i == (argc > 2 ? 3 : 2) && r->type != REDIS_REPLY_ARRAY)) {
			snprintf(last_err, sizeof(last_err), "writing %s: %s", key,
				 r->type == REDIS_REPLY_ERROR ? r->str : "transaction aborted");
			err = -EIO;
		}
		freeReplyObject(r);
	}
	free(lines);
	free(argv);
	free(lens);
	return err;
}

int fs_store_alive(redisContext *rc, const struct fs_conf *c, uint64_t ttl_ms)
{
	char key[BF_KEY_MAX];
	redisReply *r;

	bf_key_flowspec_alive(key, sizeof(key), c->prefix, c->id);
	r = ttl_ms ? cmd(rc, REDIS_REPLY_STATUS, "SET %s %lld PX %llu", key, (long long)bf_wall_ms(),
			 (unsigned long long)ttl_ms) :
		     cmd(rc, REDIS_REPLY_INTEGER, "DEL %s", key);
	if (!r)
		return -EIO;
	freeReplyObject(r);
	return 0;
}
