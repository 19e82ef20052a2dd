/* test_acl.c - the fleet's ACL layout (sync/schema_acl.c): each role's ACL SETUSER line,
 * read back through a small model of Redis 7's rules (a command is permitted when the
 * root or one selector permits the command, every key and every channel; keys and
 * PUBLISH/SUBSCRIBE channels match as globs, PSUBSCRIBE patterns literally). The real
 * server runs the same lines in tests/tools/test_acl.sh. */
#include <errno.h>
#include <fnmatch.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "schema.h"

#define HASH "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"
#define MAXTOK 128
#define MAXSEL 8

/* The commands of @read and @dangerous this model knows (a subset of Redis's). */
static const char *const read_cmds[] = { "get", "hget", "hgetall", "zrange", "zscan", "xrange",
					 "xrevrange", "xread", "smembers", "scan", "keys",
					 "pttl", "sort_ro", NULL };
static const char *const dangerous_cmds[] = { "keys", "sort_ro", "flushall", "config|set",
					      "client|kill", "client|unblock", NULL };

struct perm {
	const char *tok[MAXTOK];
	int n;
};

struct user {
	char line[BF_ACL_LINE_MAX];
	char *words;
	struct perm sel[MAXSEL]; /* [0] the root, then each selector */
	int n_sel;
};

static bool in(const char *const *set, const char *c)
{
	for (; *set; set++)
		if (!strcmp(*set, c))
			return true;
	return false;
}

/* Splits a line into the root's rules and each "(...)" selector's. */
static void load(struct user *u, enum bf_acl_role role, const char *id, const char *prefix)
{
	int cur = 0;
	char *save, *t;

	memset(u, 0, sizeof(*u));
	assert_true(bf_acl_setuser(u->line, sizeof(u->line), role, id, prefix, "u", HASH) > 0);
	u->words = strdup(u->line);
	u->n_sel = 1;
	for (t = strtok_r(u->words, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
		size_t n = strlen(t);
		bool close = n && t[n - 1] == ')';

		if (t[0] == '(') {
			assert_true(u->n_sel < MAXSEL);
			cur = u->n_sel++;
			t++;
		}
		if (close)
			t[strlen(t) - 1] = '\0';
		assert_true(u->sel[cur].n < MAXTOK);
		u->sel[cur].tok[u->sel[cur].n++] = t;
		if (close)
			cur = 0;
	}
}

static bool cmd_ok(const struct perm *p, const char *cmd)
{
	bool ok = false;

	for (int i = 0; i < p->n; i++) {
		const char *t = p->tok[i];

		if (!strcmp(t, "-@all"))
			ok = false;
		else if (!strcmp(t, "+@read") && in(read_cmds, cmd))
			ok = true;
		else if (!strcmp(t, "-@dangerous") && in(dangerous_cmds, cmd))
			ok = false;
		else if ((t[0] == '+' || t[0] == '-') && !strcmp(t + 1, cmd))
			ok = t[0] == '+';
	}
	return ok;
}

/* Redis writes "[^a]" where fnmatch wants "[!a]". */
static bool glob(const char *pat, const char *s)
{
	char p[256];

	snprintf(p, sizeof(p), "%s", pat);
	for (char *c = p; (c = strstr(c, "[^")); c++)
		c[1] = '!';
	return !fnmatch(p, s, 0);
}

static bool key_ok(const struct perm *p, const char *key, bool write)
{
	for (int i = 0; i < p->n; i++) {
		const char *t = p->tok[i];
		bool r = false, w = false;

		if (t[0] == '~') {
			r = w = true;
			t++;
		} else if (!strncmp(t, "%R~", 3) || !strncmp(t, "%W~", 3)) {
			r = t[1] == 'R';
			w = t[1] == 'W';
			t += 3;
		} else {
			continue;
		}
		if ((write ? w : r) && glob(t, key))
			return true;
	}
	return false;
}

static bool chan_ok(const struct perm *p, const char *chan, bool literal)
{
	for (int i = 0; i < p->n; i++)
		if (p->tok[i][0] == '&' &&
		    (literal ? !strcmp(p->tok[i] + 1, chan) : glob(p->tok[i] + 1, chan)))
			return true;
	return false;
}

/* May u run cmd on key (a write, or a read)? */
static bool may(const struct user *u, const char *cmd, const char *key, bool write)
{
	for (int i = 0; i < u->n_sel; i++)
		if (cmd_ok(&u->sel[i], cmd) && key_ok(&u->sel[i], key, write))
			return true;
	return false;
}

/* cmd is publish, subscribe (globs) or psubscribe (literal). */
static bool may_chan(const struct user *u, const char *cmd, const char *chan)
{
	for (int i = 0; i < u->n_sel; i++)
		if (cmd_ok(&u->sel[i], cmd) &&
		    chan_ok(&u->sel[i], chan, !strcmp(cmd, "psubscribe")))
			return true;
	return false;
}

#define W true
#define R false
#define YES(u, c, k, w) \
	if (!may(u, c, k, w)) fail_msg("%s %s %s: refused", c, k, w ? "(write)" : "")
#define NO(u, c, k, w) \
	if (may(u, c, k, w)) fail_msg("%s %s %s: permitted", c, k, w ? "(write)" : "")
#define CH_YES(u, c, ch) if (!may_chan(u, c, ch)) fail_msg("%s %s: refused", c, ch)
#define CH_NO(u, c, ch) if (may_chan(u, c, ch)) fail_msg("%s %s: permitted", c, ch)

/* No role gets a command that could wipe, reconfigure or stall Redis. */
static void no_dangerous(const struct user *u)
{
	static const char *const never[] = { "+@all", "+@admin", "+@dangerous", "+keys",
					     "+flushall", "+flushdb", "+config", "+config|set",
					     "+acl", "+debug", "+shutdown", "allkeys",
					     "allchannels", "allcommands", "nopass", NULL };
	static const char head[] = "ACL SETUSER u reset resetchannels on #" HASH " -@all";

	for (int i = 0; i < u->n_sel; i++)
		for (int j = 0; j < u->sel[i].n; j++)
			if (in(never, u->sel[i].tok[j]) || !strncmp(u->sel[i].tok[j], ">", 1))
				fail_msg("'%s' in the line", u->sel[i].tok[j]);
	assert_int_equal(strncmp(u->line, head, strlen(head)), 0);
}

static void test_acl__edge_writes_only_its_origin(void **state)
{
	struct user u;

	load(&u, BF_ACL_EDGE, "pop1", "bifrost:");
	no_dangerous(&u);
	/* its own origin */
	YES(&u, "zadd", "bifrost:wl:pop1", W);
	YES(&u, "zrem", "bifrost:bl:pop1", W);
	YES(&u, "zadd", "bifrost:punch:pop1", W);
	YES(&u, "xadd", "bifrost:log:wl:pop1", W);
	YES(&u, "xadd", "bifrost:log:punch:pop1", W);
	YES(&u, "xadd", "bifrost:log:stats:pop1", W);
	/* its prune and the logs' length bound (sync/bifrost.lua, the stats history) */
	YES(&u, "zrangebyscore", "bifrost:punch:pop1", R);
	YES(&u, "xtrim", "bifrost:log:punch:pop1", W);
	YES(&u, "xtrim", "bifrost:log:stats:pop1", W);
	NO(&u, "xtrim", "bifrost:log:bl:ops", W);
	YES(&u, "hset", "bifrost:edge:pop1", W);
	YES(&u, "pexpire", "bifrost:stats:pop1", W);
	YES(&u, "del", "bifrost:rulestats:pop1", W);
	YES(&u, "set", "bifrost:lock:pop1", W);
	YES(&u, "sadd", "bifrost:edges", W);
	YES(&u, "srem", "bifrost:edges", W);
	YES(&u, "eval", "bifrost:a2s:key", W);
	YES(&u, "hset", "bifrost:a2s:key", W);
	/* nobody else's */
	NO(&u, "zadd", "bifrost:wl:pop2", W);
	NO(&u, "zadd", "bifrost:bl:ops", W);
	NO(&u, "xadd", "bifrost:log:bl:pop2", W);
	NO(&u, "xadd", "bifrost:log:bl:pop10", W);
	NO(&u, "zadd", "bifrost:wl:pop1x", W);
	NO(&u, "hset", "bifrost:edge:pop2", W);
	NO(&u, "set", "bifrost:lock:pop2", W);
	NO(&u, "hset", "bifrost:conn:udp:203.0.113.10:27015", W);
	NO(&u, "hset", "bifrost:rules", W);
	NO(&u, "sadd", "bifrost:protect", W);
	NO(&u, "set", "bifrost:a2s:203.0.113.10:27015", W);
	NO(&u, "del", "bifrost:edges", W);     /* SADD/SREM only */
	NO(&u, "del", "bifrost:a2s:key", W);   /* the rotation only */
	NO(&u, "eval", "bifrost:wl:pop2", W);
	NO(&u, "zadd", "other:wl:pop1", W);
	/* what it follows */
	YES(&u, "xread", "bifrost:log:wl:pop2", R);
	YES(&u, "zscan", "bifrost:bl:ops", R);
	YES(&u, "hgetall", "bifrost:conn:udp:203.0.113.10:27015", R);
	YES(&u, "get", "bifrost:conf:version", R);
	YES(&u, "hgetall", "bifrost:a2s:key", R);
	YES(&u, "get", "bifrost:a2s:rules:203.0.113.10:27015", R);
	YES(&u, "smembers", "bifrost:protect", R);
	/* the bounded reads: a read-only script and what it runs inside */
	YES(&u, "eval_ro", "bifrost:bl:pop2", R);
	YES(&u, "scard", "bifrost:protect", R);
	YES(&u, "hlen", "bifrost:rules", R);
	YES(&u, "hkeys", "bifrost:conn:udp:203.0.113.10:27015", R);
	YES(&u, "hstrlen", "bifrost:conn:udp:203.0.113.10:27015", R);
	YES(&u, "getrange", "bifrost:a2s:203.0.113.10:27015", R);
	NO(&u, "eval_ro", "other:bl:pop2", R);
	YES(&u, "client|unblock", "bifrost:x", R); /* (no key; the command is there) */
	/* a read replica's lag: INFO's replication section, no other */
	YES(&u, "info|replication", "bifrost:x", R);
	NO(&u, "info", "bifrost:x", R);
	NO(&u, "info|keyspace", "bifrost:x", R);
	/* channels */
	CH_YES(&u, "publish", "bifrost:evt:pop1");
	CH_YES(&u, "publish", "bifrost:stats:pop1");
	CH_NO(&u, "publish", "bifrost:evt:pop2");
	CH_NO(&u, "publish", "bifrost:evt:ops");
	CH_NO(&u, "publish", "bifrost:stats:pop2");
	CH_NO(&u, "publish", "bifrost:a2s");
	CH_NO(&u, "publish", "__keyspace@0__:bifrost:wl:pop2");
	CH_YES(&u, "psubscribe", "bifrost:evt:*");
	CH_NO(&u, "psubscribe", "bifrost:evt:pop*");
	CH_NO(&u, "psubscribe", "*");
	CH_YES(&u, "subscribe", "bifrost:a2s");
	CH_YES(&u, "subscribe", "bifrost:evt:pop2");
	for (int k = 0; k < BF_KIND_MAX; k++) {
		char p[96];

		snprintf(p, sizeof(p), "__keyspace@0__:bifrost:%s:*",
			 bf_kind_name((enum bf_kind)k));
		CH_YES(&u, "psubscribe", p);
		snprintf(p, sizeof(p), "__keyspace@0__:bifrost:log:%s:*",
			 bf_kind_name((enum bf_kind)k));
		CH_YES(&u, "psubscribe", p);
	}
	free(u.words);
}

static void test_acl__ops_writes_ops_and_the_config(void **state)
{
	struct user u;

	load(&u, BF_ACL_OPS, NULL, "bifrost:");
	no_dangerous(&u);
	YES(&u, "zadd", "bifrost:bl:ops", W);
	YES(&u, "xadd", "bifrost:log:wl:ops", W);
	YES(&u, "xtrim", "bifrost:log:bl:ops", W);
	YES(&u, "hset", "bifrost:conn:udp:203.0.113.10:27015", W);
	YES(&u, "del", "bifrost:conn:tcp:203.0.113.10:27015", W);
	YES(&u, "incr", "bifrost:conf:version", W);
	YES(&u, "hdel", "bifrost:rules", W);
	YES(&u, "sadd", "bifrost:protect", W);
	YES(&u, "hset", "bifrost:a2s:key", W); /* forces a rotation ... */
	NO(&u, "hgetall", "bifrost:a2s:key", R); /* ... but never reads the key */
	NO(&u, "zadd", "bifrost:bl:pop1", W);
	NO(&u, "xadd", "bifrost:log:bl:pop1", W);
	NO(&u, "zadd", "bifrost:punch:ops", W);
	NO(&u, "hset", "bifrost:edge:pop1", W);
	NO(&u, "sadd", "bifrost:edges", W);
	NO(&u, "set", "bifrost:a2s:203.0.113.10:27015", W);
	YES(&u, "zrange", "bifrost:punch:pop1", R);
	YES(&u, "hgetall", "bifrost:stats:pop1", R);
	YES(&u, "get", "bifrost:a2s:203.0.113.10:27015", R);
	NO(&u, "keys", "bifrost:x", R);
	CH_YES(&u, "publish", "bifrost:evt:ops");
	CH_NO(&u, "publish", "bifrost:evt:pop1");
	CH_NO(&u, "publish", "bifrost:stats:pop1");
	CH_YES(&u, "psubscribe", "bifrost:evt:*");
	CH_YES(&u, "psubscribe", "bifrost:stats:*");
	CH_YES(&u, "subscribe", "bifrost:a2s");
	for (int i = 0; i < u.n_sel; i++)
		if (cmd_ok(&u.sel[i], "fcall") && cmd_ok(&u.sel[i], "function|load"))
			goto fcall;
	fail_msg("ops cannot FCALL and FUNCTION LOAD");
fcall:
	free(u.words);
}

static void test_acl__refresher_never_reads_the_a2s_key(void **state)
{
	struct user u;

	load(&u, BF_ACL_REFRESHER, NULL, "bifrost:");
	no_dangerous(&u);
	YES(&u, "set", "bifrost:a2s:203.0.113.10:27015", W);
	YES(&u, "set", "bifrost:a2s:player:203.0.113.10:27015", W);
	YES(&u, "set", "bifrost:a2s:rules:203.0.113.10:27015", W);
	YES(&u, "set", "bifrost:a2s:lock:203.0.113.10:27015", W);
	YES(&u, "hgetall", "bifrost:conn:udp:203.0.113.10:27015", R);
	YES(&u, "get", "bifrost:conf:version", R);
	NO(&u, "hgetall", "bifrost:a2s:key", R);
	NO(&u, "get", "bifrost:a2s:key", R);
	NO(&u, "set", "bifrost:a2s:key", W);
	NO(&u, "zscan", "bifrost:wl:pop1", R);
	NO(&u, "hset", "bifrost:conn:udp:203.0.113.10:27015", W);
	CH_YES(&u, "publish", "bifrost:a2s");
	CH_NO(&u, "publish", "bifrost:evt:pop1");
	free(u.words);
}

/* Everything under the prefix is readable but the A2S key: the complement globs. */
static void test_acl__inspector_reads_all_but_the_a2s_key(void **state)
{
	static const char *const readable[] = {
		"bifrost:", "bifrost:a", "bifrost:a2", "bifrost:a2s", "bifrost:a2s:",
		"bifrost:a2s:k", "bifrost:a2s:ke", "bifrost:a2s:keys", "bifrost:a2s:key:",
		"bifrost:a3s:key",
		"bifrost:b", "bifrost:wl:pop1", "bifrost:log:bl:ops", "bifrost:edges",
		"bifrost:edge:pop1", "bifrost:conf:version", "bifrost:conn:udp:203.0.113.10:27015",
		"bifrost:a2s:203.0.113.10:27015", "bifrost:a2s:lock:203.0.113.10:27015",
		"bifrost:lock:pop1", "bifrost:rules", NULL
	};
	struct user u;

	load(&u, BF_ACL_INSPECTOR, NULL, "bifrost:");
	no_dangerous(&u);
	for (const char *const *k = readable; *k; k++)
		YES(&u, "get", *k, R);
	NO(&u, "get", "bifrost:a2s:key", R);
	NO(&u, "hgetall", "bifrost:a2s:key", R);
	NO(&u, "get", "other:wl:pop1", R);
	NO(&u, "keys", "bifrost:wl:pop1", R);
	for (const char *const *k = readable; *k; k++) {
		NO(&u, "zadd", *k, W);
		NO(&u, "set", *k, W);
		NO(&u, "del", *k, W);
	}
	CH_NO(&u, "publish", "bifrost:evt:pop1");
	CH_YES(&u, "psubscribe", "bifrost:evt:*");
	CH_YES(&u, "psubscribe", "bifrost:stats:*");
	CH_YES(&u, "subscribe", "bifrost:a2s");
	free(u.words);
}

/* Another prefix moves every key and channel with it. */
static void test_acl__prefix(void **state)
{
	for (int r = 0; r < BF_ACL_ROLE_MAX; r++) {
		struct user u;

		load(&u, (enum bf_acl_role)r, "pop1", "lab:");
		assert_null(strstr(u.line, "bifrost:"));
		for (int i = 0; i < u.n_sel; i++)
			for (int j = 0; j < u.sel[i].n; j++) {
				const char *t = u.sel[i].tok[j];

				if (t[0] == '%')
					t += 2;
				if ((t[0] == '~' || t[0] == '&') && strncmp(t + 1, "lab:", 4) &&
				    strncmp(t + 1, "__keyspace@0__:lab:", 19))
					fail_msg("%s: '%s' is not under lab:",
						 bf_acl_role_name(r), t);
			}
		if (r == BF_ACL_EDGE) {
			YES(&u, "zadd", "lab:wl:pop1", W);
			NO(&u, "zadd", "bifrost:wl:pop1", W);
			CH_YES(&u, "psubscribe", "lab:evt:*");
		}
		if (r == BF_ACL_INSPECTOR) {
			NO(&u, "get", "lab:a2s:key", R);
			YES(&u, "get", "lab:a2s:1.2.3.4:5", R);
		}
		free(u.words);
	}
}

static void test_acl__refuses_bad_arguments(void **state)
{
	char buf[BF_ACL_LINE_MAX];

	assert_int_equal(bf_acl_role_parse("edge"), BF_ACL_EDGE);
	assert_int_equal(bf_acl_role_parse("inspector"), BF_ACL_INSPECTOR);
	assert_int_equal(bf_acl_role_parse("admin"), -EINVAL);
	assert_string_equal(bf_acl_role_name(BF_ACL_REFRESHER), "refresher");
	assert_int_equal(bf_acl_setuser(buf, sizeof(buf), BF_ACL_EDGE, NULL, "bifrost:", "u", HASH),
			 -EINVAL);
	assert_int_equal(bf_acl_setuser(buf, sizeof(buf), BF_ACL_EDGE, "ops", "bifrost:", "u",
					HASH), -EINVAL);
	assert_int_equal(bf_acl_setuser(buf, sizeof(buf), BF_ACL_EDGE, "pop*", "bifrost:", "u",
					HASH), -EINVAL);
	assert_int_equal(bf_acl_setuser(buf, sizeof(buf), BF_ACL_OPS, NULL, "bifrost", "u", HASH),
			 -EINVAL);
	assert_int_equal(bf_acl_setuser(buf, sizeof(buf), BF_ACL_OPS, NULL, "a*:", "u", HASH),
			 -EINVAL);
	assert_int_equal(bf_acl_setuser(buf, sizeof(buf), BF_ACL_OPS, NULL, "bifrost:", "two words",
					HASH), -EINVAL);
	assert_int_equal(bf_acl_setuser(buf, sizeof(buf), BF_ACL_OPS, NULL, "bifrost:", "u",
					"s3cret"), -EINVAL);
	assert_int_equal(bf_acl_setuser(buf, sizeof(buf), BF_ACL_OPS, NULL, "bifrost:", "u",
					"5E884898DA28047151D0E56F8DC6292773603D0D6AABBDD6"
					"2A11EF721D1542D8"), -EINVAL);
	assert_int_equal(bf_acl_setuser(buf, sizeof(buf), BF_ACL_ROLE_MAX, NULL, "bifrost:", "u",
					HASH), -EINVAL);
	assert_int_equal(bf_acl_setuser(buf, 200, BF_ACL_OPS, NULL, "bifrost:", "u", HASH),
			 -ENAMETOOLONG);
	assert_string_equal(buf, "");
	assert_true(bf_acl_setuser(buf, sizeof(buf), BF_ACL_EDGE, "pop-1.a_b", "bifrost:", "u",
				   HASH) > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_acl__edge_writes_only_its_origin),
		cmocka_unit_test(test_acl__ops_writes_ops_and_the_config),
		cmocka_unit_test(test_acl__refresher_never_reads_the_a2s_key),
		cmocka_unit_test(test_acl__inspector_reads_all_but_the_a2s_key),
		cmocka_unit_test(test_acl__prefix),
		cmocka_unit_test(test_acl__refuses_bad_arguments),
	};

	return cmocka_run_group_tests_name("acl", tests, NULL, NULL);
}
