/* schema_acl.c - the fleet's Redis ACL layout as ACL SETUSER lines (schema_acl.h).
 *
 * Redis 7 permits a command when the user's root permissions, or any one of its
 * selectors "(...)", permit all of it: the command, each key, each channel. Channel
 * permissions are globs for PUBLISH and SUBSCRIBE, but a PSUBSCRIBE pattern must equal a
 * permitted pattern literally. So an edge's "&<p>evt:*", which its PSUBSCRIBE needs, sits
 * in a selector that runs only (P)SUBSCRIBE: in the root it would also let it PUBLISH on
 * every other origin's channel. Likewise SADD/SREM on <p>edges and the A2S key's HSET
 * live in selectors of their own, so no other command reaches those keys. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "endpoint.h"
#include "schema_acl.h"
#include "schema_int.h"

static const char *const role_names[BF_ACL_ROLE_MAX] = { "edge", "ops", "refresher",
								   "inspector", "flowspec" };

/* What each role runs: every command grep finds in its code (sync/ and edge/ for the
 * edge, tools/ctl/ for ops, tools/refresher/ for the refresher), nothing of @admin or
 * @dangerous but CLIENT UNBLOCK, with which the edge's reader ends its own blocked XREAD,
 * ROLE, with which every connection to a Sentinel endpoint checks that it reached the
 * primary, and the edge's INFO replication (that section only), with which it judges a read
 * replica's lag (docs/REDIS.md says why). A command a role starts to use is added here. */
static const char *const edge_rules[] = {
	"-@all", "+ping", "+role", "+client|id", "+client|unblock", "+multi", "+exec", "+discard",
	"+info|replication",
	/* reads: logs, ZSETs, conn hashes, conf:version, rules, protect, A2S cache and key;
	 * the bounded reads (sync/bounded.c) are read-only scripts that measure first */
	"+get", "+getrange", "+hget", "+hgetall", "+hlen", "+hkeys", "+hstrlen", "+pttl",
	"+smembers", "+scard", "+scan", "+zscan", "+xread", "+xrevrange", "+zcard", "+eval_ro",
	/* writes, confined to its own keys below: entries, logs, heartbeat, stats, lock; the
	 * bus's batch writer (sync/bifrost.lua) runs as EVALSHA of a script it loads, reads
	 * the server's clock, trims its logs by length and prunes its expired members */
	"+set", "+del", "+pexpire", "+hset", "+zadd", "+zrem", "+zrangebyscore", "+xadd", "+xtrim",
	"+publish", "+eval",
	"+evalsha", "+script|load", "+time", "+unsubscribe", "+punsubscribe", NULL
};
static const char *const ops_rules[] = {
	"-@all", "+@read", "-@dangerous", "+ping", "+role", "+multi", "+exec", "+discard", "+zadd",
	"+zrem", "+xadd", "+xtrim", "+publish", "+hset", "+hdel", "+del", "+expire", "+pexpire",
	"+incr", "+sadd",
	"+srem", "+fcall", "+fcall_ro", "+function|load", "+function|list", "+time", "+wait",
	"+unsubscribe", "+punsubscribe", NULL
};
static const char *const refresher_rules[] = {
	"-@all", "+ping", "+role", "+scan", "+hgetall", "+get", "+set", "+publish", NULL
};
/* bifrost-flowspec (tools/flowspec/): reads the rules, protected prefixes and whitelists,
 * writes its own state in one MULTI. */
static const char *const flowspec_rules[] = {
	"-@all", "+ping", "+role", "+get", "+hlen", "+hgetall", "+scard", "+smembers", "+scan",
	"+zrangebyscore", "+multi", "+exec", "+discard", "+del", "+hset", "+set", NULL
};
static const char *const inspector_rules[] = {
	"-@all", "+@read", "-@dangerous", "+ping", "+role", "+subscribe", "+psubscribe",
	"+unsubscribe", "+punsubscribe", NULL
};

const char *bf_acl_role_name(enum bf_acl_role r)
{
	return (unsigned)r < BF_ACL_ROLE_MAX ? role_names[r] : "?";
}

int bf_acl_role_parse(const char *s)
{
	for (int r = 0; r < BF_ACL_ROLE_MAX; r++)
		if (!strcmp(s, role_names[r]))
			return r;
	return -EINVAL;
}

/* The line being written: the first error sticks. */
struct line {
	char *buf;
	size_t len, at;
	int err;
};

static void put(struct line *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct line *l, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (l->err)
		return;
	va_start(ap, fmt);
	n = vsnprintf(l->buf + l->at, l->len - l->at, fmt, ap);
	va_end(ap);
	if (n < 0)
		l->err = -EINVAL;
	else if ((size_t)n >= l->len - l->at)
		l->err = -ENAMETOOLONG;
	else
		l->at += (size_t)n;
}

static void put_rules(struct line *l, const char *const *rules)
{
	for (; *rules; rules++)
		put(l, " %s", *rules);
}

/* " <perm><key>", key as a schema builder just wrote it; n is what the builder returned
 * (an error sticks). One buffer a line: K(...) below builds into it. */
static void put_key(struct line *l, const char *perm, int n, const char *key)
{
	if (n < 0 && !l->err)
		l->err = n;
	if (n >= 0)
		put(l, " %s%s", perm, key);
}
#define K(builder, ...) builder(key, sizeof(key), __VA_ARGS__), key

/* Read permission on every key under prefix but the A2S challenge key: Redis has no
 * negative key pattern, so these globs cover the complement of that one name, char by
 * char: each proper beginning of it, each beginning followed by any other character,
 * and the whole name followed by more. */
static void put_read_all_but_secret(struct line *l, const char *prefix)
{
	char k[BF_KEY_MAX];
	const char *rest;
	size_t n;
	int rc = bf_key_a2s_secret(k, sizeof(k), prefix);

	if (rc < 0) {
		l->err = l->err ? l->err : rc;
		return;
	}
	rest = k + strlen(prefix);
	n = strlen(rest);
	if (strpbrk(rest, "*?[]\\^-")) { /* never: the name is fixed, but keep the globs exact */
		l->err = -EINVAL;
		return;
	}
	for (size_t i = 0; i < n; i++)
		put(l, " %%R~%s%.*s %%R~%s%.*s[^%c]*", prefix, (int)i, rest, prefix, (int)i, rest,
		    rest[i]);
	put(l, " %%R~%s%s?*", prefix, rest);
}

/* The channels an operator or inspector watches: bifrostctl watch, stats watch, the
 * refreshers' announcements. */
static void put_watch_channels(struct line *l, const char *prefix)
{
	char key[BF_KEY_MAX];

	put(l, " &%sevt:* &%sstats:*", prefix, prefix);
	put_key(l, "&", K(bf_key_a2s_channel, prefix));
}

static void edge_line(struct line *l, const char *p, const char *id)
{
	static int (*const own[])(char *, size_t, const char *, const char *) = {
		bf_key_stats_log, bf_key_edge, bf_key_stats, bf_key_rulestats, bf_key_lock
	};
	char key[BF_KEY_MAX];

	put_rules(l, edge_rules);
	put(l, " %%R~%s*", p); /* reads everything it follows, the A2S key included */
	for (int k = 0; k < BF_KIND_MAX; k++)
		put_key(l, "~", K(bf_key_list, p, (enum bf_kind)k, id));
	for (int k = 0; k < BF_KIND_MAX; k++)
		put_key(l, "~", K(bf_key_log, p, (enum bf_kind)k, id));
	for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++)
		put_key(l, "~", K(own[i], p, id));
	put_key(l, "&", K(bf_key_evt, p, id));
	put_key(l, "&", K(bf_key_stats, p, id));
	put_key(l, "&", K(bf_key_ping, p, id)); /* its events link's echo */
	/* <p>edges: only SADD/SREM; <p>a2s:key: the rotation script and its HSET */
	put(l, " (+sadd +srem");
	put_key(l, "~", K(bf_key_edges, p));
	put(l, ") (+eval +hset");
	put_key(l, "~", K(bf_key_a2s_secret, p));
	/* subscriptions: PSUBSCRIBE patterns match literally */
	put(l, ") (+subscribe +psubscribe resetchannels &%sevt:*", p);
	put_key(l, "&", K(bf_key_a2s_channel, p));
	put_key(l, "&", K(bf_key_ping, p, id));
	for (int k = 0; k < BF_KIND_MAX; k++)
		put(l, " &__keyspace@0__:%s%s:*", p, bf_kind_name((enum bf_kind)k));
	for (int k = 0; k < BF_KIND_MAX; k++)
		put(l, " &__keyspace@0__:%slog:%s:*", p, bf_kind_name((enum bf_kind)k));
	put(l, ")");
}

static void ops_line(struct line *l, const char *p)
{
	char key[BF_KEY_MAX];

	put_rules(l, ops_rules);
	put_read_all_but_secret(l, p);
	/* the ops origin's lists and logs (the kinds bifrostctl writes), the fleet config */
	for (int k = 0; k < BF_KIND_MAX; k++)
		if (bf_kinds[k].ctl) {
			put_key(l, "~", K(bf_key_list, p, (enum bf_kind)k, "ops"));
			put_key(l, "~", K(bf_key_log, p, (enum bf_kind)k, "ops"));
		}
	put(l, " ~%sconn:*", p);
	put_key(l, "~", K(bf_key_conf_version, p));
	put_key(l, "~", K(bf_key_rules, p));
	put_key(l, "~", K(bf_key_protect, p));
	/* HSET <p>a2s:key since 0 forces a rotation; ops can never read the key */
	put_key(l, "%W~", K(bf_key_a2s_secret, p));
	put_key(l, "&", K(bf_key_evt, p, "ops"));
	put(l, " (+subscribe +psubscribe resetchannels");
	put_watch_channels(l, p);
	put(l, ")");
}

static void refresher_line(struct line *l, const char *p)
{
	char key[BF_KEY_MAX];

	put_rules(l, refresher_rules);
	put(l, " %%R~%sconn:*", p);
	put_key(l, "%R~", K(bf_key_conf_version, p));
	/* the cache and its locks: globs that never match <p>a2s:key */
	for (int k = 0; k < BF_A2S_KEY_MAX; k++)
		put_key(l, "~", K(bf_key_a2s_glob, p, (enum bf_a2s_key)k));
	put_key(l, "&", K(bf_key_a2s_channel, p));
}

static void flowspec_line(struct line *l, const char *p, const char *id)
{
	char key[BF_KEY_MAX];

	put_rules(l, flowspec_rules);
	put_key(l, "%R~", K(bf_key_conf_version, p));
	put_key(l, "%R~", K(bf_key_rules, p));
	put_key(l, "%R~", K(bf_key_protect, p));
	put(l, " %%R~%s%s:*", p, bf_kind_name(BF_KIND_WL)); /* every origin's whitelist */
	/* every POP's state and liveness: a canary's are read by the others */
	put(l, " %%R~%sflowspec:* %%R~%sflowspec-alive:*", p, p);
	put_key(l, "~", K(bf_key_flowspec, p, id));
	put_key(l, "~", K(bf_key_flowspec_alive, p, id));
}

static void inspector_line(struct line *l, const char *p)
{
	put_rules(l, inspector_rules);
	put_read_all_but_secret(l, p);
	put_watch_channels(l, p);
}

static bool sha256_hex_ok(const char *h)
{
	size_t n = 0;

	for (; h[n]; n++)
		if (!((h[n] >= '0' && h[n] <= '9') || (h[n] >= 'a' && h[n] <= 'f')))
			return false;
	return n == BF_SHA256_HEX;
}

int bf_acl_setuser(char *buf, size_t len, enum bf_acl_role role, const char *id,
		   const char *prefix, const char *user, const char *sha256_hex)
{
	struct line l = { .buf = buf, .len = len };

	if (!buf || !len || (unsigned)role >= BF_ACL_ROLE_MAX || !prefix ||
	    !bf_prefix_valid(prefix) || !user || !bf_user_valid(user) || !sha256_hex ||
	    !sha256_hex_ok(sha256_hex) ||
	    ((role == BF_ACL_EDGE || role == BF_ACL_FLOWSPEC) &&
	     (!id || !bf_origin_valid(id) || !strcmp(id, "ops"))))
		return -EINVAL;
	/* reset: no password, keys, channels, commands or selectors left from before;
	 * resetchannels again: reset grants every channel where acl-pubsub-default says so */
	put(&l, "ACL SETUSER %s reset resetchannels on #%s", user, sha256_hex);
	switch (role) {
	case BF_ACL_EDGE:
		edge_line(&l, prefix, id);
		break;
	case BF_ACL_OPS:
		ops_line(&l, prefix);
		break;
	case BF_ACL_REFRESHER:
		refresher_line(&l, prefix);
		break;
	case BF_ACL_FLOWSPEC:
		flowspec_line(&l, prefix, id);
		break;
	default:
		inspector_line(&l, prefix);
		break;
	}
	if (l.err) {
		buf[0] = '\0';
		return l.err;
	}
	return (int)l.at;
}
