/* common.c - what every bifrostctl command shares: Redis, keys, SCAN, config writes, output. */
#include <errno.h>
#include <hiredis/hiredis.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "sync.h"
#include "text.h"

bool ctl_prefix_valid(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > BF_PREFIX_MAX || s[n - 1] != ':')
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || strchr("_:.-", *s)))
			return false;
	return true;
}

int ctl_prefix_check(const struct ctl *c, const struct bf_cidr *p, unsigned min, const char *key)
{
	char s[BF_CIDR_STRLEN];

	if (p->plen >= min || c->force)
		return 0;
	fprintf(stderr, CTL_PROG ": %s is wider than /%u: every edge with the default "
			"'min_prefix %s %u' refuses it (counted, logged, nothing applied). Pass "
			"--force to write it anyway (only edges configured with a lower min_prefix "
			"%s apply it)\n",
		bf_cidr_str(p, s), min, key, min, key);
	return -EINVAL;
}

int ctl_exit_status(int err)
{
	if (!err)
		return CTL_EXIT_OK;
	return err == -EINVAL || err == -EAFNOSUPPORT ? CTL_EXIT_USAGE : CTL_EXIT_FAIL;
}

int ctl_cidr_error(const char *text, int err)
{
	fprintf(stderr, CTL_PROG ": '%s' is not %s\n", text,
		err == -EAFNOSUPPORT ? "usable: the data plane filters IPv4 only"
				     : "a CIDR (a.b.c.d/len, host bits clear)");
	return err;
}

redisContext *ctl_connect(const struct ctl *c)
{
	char err[BF_ENDPOINT_STRLEN + 256];
	redisContext *rc = bf_redis_connect(&c->ep, CTL_TIMEOUT_MS, err, sizeof(err));

	if (!rc)
		fprintf(stderr, CTL_PROG ": %s\n", err);
	return rc;
}

int ctl_key(const struct ctl *c, char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(buf, len, "%s", c->prefix), m;

	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	va_start(ap, fmt);
	m = vsnprintf(buf + n, len - (size_t)n, fmt, ap);
	va_end(ap);
	if (m < 0 || (size_t)m >= len - (size_t)n)
		return -ENAMETOOLONG;
	return n + m;
}

int ctl_origins(const struct ctl *c, redisContext *rc, char ***out, size_t *n)
{
	char key[BF_KEY_MAX];
	redisReply *r;
	size_t cnt = 0;

	*out = NULL;
	*n = 0;
	bf_key_edges(key, sizeof(key), c->prefix);
	r = redisCommand(rc, "SMEMBERS %s", key);
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
		if (r->element[i]->type == REDIS_REPLY_STRING &&
		    bf_origin_valid(r->element[i]->str) && strcmp(r->element[i]->str, "ops"))
			(*out)[cnt++] = strdup(r->element[i]->str);
	*n = cnt;
	freeReplyObject(r);
	return 0;
}

void ctl_origins_free(char **o, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(o[i]);
	free(o);
}

int ctl_connect_origins(const struct ctl *c, redisContext **rc, char ***o, size_t *n)
{
	*rc = ctl_connect(c);
	if (!*rc)
		return -ENOTCONN;
	if (ctl_origins(c, *rc, o, n)) {
		redisFree(*rc);
		*rc = NULL;
		return -EIO;
	}
	return 0;
}

redisContext *ctl_psubscribe(const struct ctl *c, const char *match, int read_timeout_ms)
{
	struct timeval tv = { .tv_sec = read_timeout_ms / 1000,
			      .tv_usec = (read_timeout_ms % 1000) * 1000 };
	redisContext *rc = ctl_connect(c);
	char pattern[BF_KEY_MAX];
	redisReply *r;

	if (!rc)
		return NULL;
	ctl_key(c, pattern, sizeof(pattern), "%s", match);
	r = redisCommand(rc, "PSUBSCRIBE %s", pattern);
	if (!r || r->type == REDIS_REPLY_ERROR) { /* NOPERM: this user may not watch it */
		fprintf(stderr, CTL_PROG ": Redis at %s refused PSUBSCRIBE %s: %s\n", c->where,
			pattern, r ? r->str : rc->errstr);
		freeReplyObject(r);
		redisFree(rc);
		return NULL;
	}
	freeReplyObject(r);
	redisSetTimeout(rc, tv);
	return rc;
}

bool ctl_is_pmessage(const redisReply *r)
{
	return r && r->type == REDIS_REPLY_ARRAY && r->elements == 4 &&
	       r->element[3]->type == REDIS_REPLY_STRING;
}

int ctl_scan(const struct ctl *c, redisContext *rc, const char *match, ctl_scan_cb each, void *ctx)
{
	char cursor[32] = "0", pattern[BF_KEY_MAX];
	int err = 0;

	if (ctl_key(c, pattern, sizeof(pattern), "%s", match) < 0)
		return -ENAMETOOLONG;
	do {
		redisReply *r = redisCommand(rc, "SCAN %s MATCH %s COUNT 1000", cursor, pattern);

		if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
		    r->element[0]->type != REDIS_REPLY_STRING ||
		    r->element[0]->len >= sizeof(cursor) ||
		    r->element[1]->type != REDIS_REPLY_ARRAY) {
			freeReplyObject(r);
			return -EIO;
		}
		snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
		for (size_t i = 0; i < r->element[1]->elements && err >= 0; i++)
			if (r->element[1]->element[i]->type == REDIS_REPLY_STRING)
				err = each(c, rc, r->element[1]->element[i], ctx);
		freeReplyObject(r);
	} while (err >= 0 && strcmp(cursor, "0"));
	return err < 0 ? err : 0;
}

int ctl_multi(const struct ctl *c, redisContext *rc)
{
	redisReply *r = redisCommand(rc, "MULTI");
	const char *why = !r ? rc->errstr : r->type == REDIS_REPLY_ERROR ? r->str : NULL;
	int err = r && r->type == REDIS_REPLY_STATUS ? 0 : -ENOTSUP;

	if (err)
		fprintf(stderr, CTL_PROG ": Redis at %s refused MULTI: %s\n", c->where,
			why ? why : "unexpected reply");
	freeReplyObject(r);
	return err;
}

/* On a Sentinel endpoint (a primary with replicas), after a write: WAIT for one replica
 * (at most CTL_WAIT_MS). Replication is asynchronous, and the operator's writes, unlike
 * the edges', are asserted by nobody again after a failover: say so when no replica
 * confirmed. The write itself stands either way. */
#define CTL_WAIT_MS 1000
void ctl_replicated(const struct ctl *c, redisContext *rc, const char *what)
{
	redisReply *r;

	if (!bf_endpoint_is_sentinel(&c->ep))
		return;
	r = redisCommand(rc, "WAIT 1 %d", CTL_WAIT_MS);
	if (!r || r->type != REDIS_REPLY_INTEGER || r->integer < 1)
		fprintf(stderr,
			CTL_PROG ": %s is on the primary, but no replica confirmed it within %d ms "
				 "(%s): if the primary is lost before one has it, so is the write; "
				 "check the replicas (redis-cli INFO replication) and repeat it after "
				 "a failover\n",
			what, CTL_WAIT_MS,
			!r ? rc->errstr : r->type == REDIS_REPLY_ERROR ? r->str : "0 replicas");
	freeReplyObject(r);
}

int ctl_conf_change(const struct ctl *c, const struct ctl_argv *cmds, size_t n, const char *what)
{
	char ver[BF_KEY_MAX];
	const char *incr[2] = { "INCR", ver };
	redisContext *rc = ctl_connect(c);
	redisReply *r;
	bool ok;

	if (!rc)
		return -EIO;
	bf_key_conf_version(ver, sizeof(ver), c->prefix);
	if (ctl_multi(c, rc)) {
		redisFree(rc);
		fprintf(stderr, CTL_PROG ": Redis refused %s\n", what);
		return -EIO;
	}
	/* A command Redis refuses as it is queued (NOPERM) makes EXEC answer only EXECABORT:
	 * its own reply says why. */
	for (size_t i = 0; i <= n; i++) {
		/* hiredis takes char ** but does not write through it */
		r = i < n ? redisCommandArgv(rc, cmds[i].argc, (const char **)cmds[i].argv, NULL)
			  : redisCommandArgv(rc, 2, incr, NULL);
		if (r && r->type == REDIS_REPLY_ERROR)
			fprintf(stderr, CTL_PROG ": %s %s: %s\n", i < n ? cmds[i].argv[0] : incr[0],
				i < n ? cmds[i].argv[1] : incr[1], r->str);
		freeReplyObject(r);
	}
	r = redisCommand(rc, "EXEC");
	ok = r && r->type == REDIS_REPLY_ARRAY;
	/* EXEC answers each command: one may have failed (WRONGTYPE: the key holds
	 * something else) while the transaction as a whole ran. */
	for (size_t i = 0; ok && i < r->elements; i++)
		if (r->element[i]->type == REDIS_REPLY_ERROR) {
			fprintf(stderr, CTL_PROG ": %s\n", r->element[i]->str);
			ok = false;
		}
	freeReplyObject(r);
	if (ok)
		ctl_replicated(c, rc, what);
	redisFree(rc);
	if (!ok) {
		fprintf(stderr, CTL_PROG ": Redis refused %s\n", what);
		return -EIO;
	}
	return 0;
}

void ctl_text(const struct ctl *c, const char *fmt, ...)
{
	va_list ap;

	if (c->json)
		return;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
}

const char *ctl_safe(const struct ctl *c, const char *s, size_t n, char *buf, size_t cap)
{
	return c->json ? bf_json_esc(s, n, buf, cap) : bf_printable(s, n, buf, cap);
}
