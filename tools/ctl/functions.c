/* functions.c - bifrostctl's writes to the lists through the bus's Redis Functions
 * (sync/bifrost.lua: FCALL bifrost_add / bifrost_del / bifrost_prune), `prune`, and
 * `functions load|status`. */
#include <errno.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <string.h>

#include "bus_script.h"
#include "ctl.h"

/* FUNCTION LOAD REPLACE of this build's library. 0, or -EIO once stderr said why. */
static int load(const struct ctl *c, redisContext *rc)
{
	redisReply *r = redisCommand(rc, "FUNCTION LOAD REPLACE %s", bf_bus_library());
	int rc2 = 0;

	if (!r || r->type == REDIS_REPLY_ERROR) {
		fprintf(stderr,
			CTL_PROG ": Redis at %s would not load the %s functions (%s); an operator "
				 "whose ACL user may run FUNCTION LOAD must run: bifrostctl functions "
				 "load\n",
			c->where, BF_BUS_LIBRARY, r ? r->str : rc->errstr);
		rc2 = -EIO;
	}
	freeReplyObject(r);
	return rc2;
}

/* FCALL argv (argv[0] is "FCALL"), loading the library once if Redis has none (a new or
 * emptied Redis). The integer answer, or -EIO once stderr said why ("refused WHAT: ..."). */
static int fcall(const struct ctl *c, redisContext *rc, const char *what, int argc,
		 const char **argv, long long *out)
{
	redisReply *r = NULL;
	int err = 0;

	for (int attempt = 0; attempt < 2; attempt++) {
		r = redisCommandArgv(rc, argc, argv, NULL);
		if (attempt == 0 && r && r->type == REDIS_REPLY_ERROR &&
		    strstr(r->str, "Function not found")) {
			freeReplyObject(r);
			r = NULL;
			err = load(c, rc);
			if (err)
				break;
			continue;
		}
		break;
	}
	if (!err && (!r || r->type != REDIS_REPLY_INTEGER)) {
		fprintf(stderr, CTL_PROG ": Redis at %s refused %s: %s\n", c->where, what,
			!r ? rc->errstr : r->type == REDIS_REPLY_ERROR ? r->str : "unexpected answer");
		err = -EIO;
	}
	if (!err)
		*out = r->integer;
	freeReplyObject(r);
	return err;
}

int ctl_fcall_write(const struct ctl *c, enum bf_op op, const struct bf_entry *e)
{
	char key[BF_KEY_MAX], entry[BF_ENTRY_MAX + 1], ttl[24];
	const char *why = c->reason ? c->reason : "manual";
	const char *argv[7];
	redisContext *rc = ctl_connect(c);
	long long seq;
	int argc = 0, err;

	if (!rc)
		return -EIO;
	bf_key_list(key, sizeof(key), c->prefix, e->kind, "ops");
	bf_entry_format(e, entry, sizeof(entry));
	snprintf(ttl, sizeof(ttl), "%llu", (unsigned long long)c->ttl_ms);
	argv[argc++] = "FCALL";
	argv[argc++] = op == BF_OP_ADD ? "bifrost_add" : "bifrost_del";
	argv[argc++] = "1";
	argv[argc++] = key;
	argv[argc++] = entry;
	if (op == BF_OP_ADD)
		argv[argc++] = ttl;
	argv[argc++] = why;
	err = fcall(c, rc, "the write", argc, argv, &seq);
	if (!err)
		ctl_replicated(c, rc, "the write");
	redisFree(rc);
	return err;
}

/* bifrostctl prune: the ops lists' expired entries out of Redis (the edges prune their
 * own lists each second; the ops lists are pruned at each ops write, and by this). */
int ctl_prune(const struct ctl *c, int argc, char **argv)
{
	static const enum bf_kind kinds[] = { BF_KIND_WL, BF_KIND_BL };
	redisContext *rc = ctl_connect(c);
	long long n[2] = { 0, 0 };
	int err = 0;

	if (!rc)
		return -EIO;
	for (unsigned i = 0; i < 2 && !err; i++) {
		char key[BF_KEY_MAX];
		long long got;

		bf_key_list(key, sizeof(key), c->prefix, kinds[i], "ops");
		/* 10000 at a time until a call finds fewer: bounded work per call. */
		do {
			err = fcall(c, rc, "the prune", 5,
				    (const char *[]){ "FCALL", "bifrost_prune", "1", key, "10000" }, &got);
			n[i] += err ? 0 : got;
		} while (!err && got == 10000);
	}
	redisFree(rc);
	if (err)
		return err;
	if (c->json)
		printf("{\"wl\":%lld,\"bl\":%lld}\n", n[0], n[1]);
	else
		printf("removed %lld expired ops entries from Redis (wl %lld, bl %lld)\n", n[0] + n[1],
		       n[0], n[1]);
	return 0;
}

int ctl_functions(const struct ctl *c, int argc, char **argv)
{
	redisContext *rc = ctl_connect(c);
	redisReply *r;
	bool loaded, current = false;
	int err = 0;

	if (!rc)
		return -EIO;
	if (!strcmp(argv[1], "load")) {
		err = load(c, rc);
		if (!err)
			printf(c->json ? "{\"ok\":true,\"library\":\"%s\"}\n"
				       : "the %s functions are loaded (bifrost_add, bifrost_del, "
					 "bifrost_prune, bifrost_batch)\n",
			       BF_BUS_LIBRARY);
		redisFree(rc);
		return err;
	}
	r = redisCommand(rc, "FUNCTION LIST LIBRARYNAME %s WITHCODE", BF_BUS_LIBRARY);
	if (!r || r->type != REDIS_REPLY_ARRAY) {
		fprintf(stderr, CTL_PROG ": Redis at %s would not list functions: %s\n", c->where,
			r && r->type == REDIS_REPLY_ERROR ? r->str : rc->errstr);
		freeReplyObject(r);
		redisFree(rc);
		return -EIO;
	}
	loaded = r->elements > 0;
	/* [[library_name, bifrost, engine, LUA, functions, [...], library_code, CODE]] */
	for (size_t i = 0; loaded && i + 1 < r->element[0]->elements; i += 2) {
		const redisReply *k = r->element[0]->element[i], *v = r->element[0]->element[i + 1];

		if (k->type == REDIS_REPLY_STRING && !strcmp(k->str, "library_code") &&
		    v->type == REDIS_REPLY_STRING)
			current = !strcmp(v->str, bf_bus_library());
	}
	if (c->json)
		printf("{\"library\":\"%s\",\"loaded\":%s,\"current\":%s}\n", BF_BUS_LIBRARY,
		       loaded ? "true" : "false", current ? "true" : "false");
	else
		printf("%s\n", !loaded ? "not loaded: bifrostctl functions load"
			       : current ? "loaded, the same as this bifrostctl's"
					 : "loaded, but not this bifrostctl's: bifrostctl functions load");
	freeReplyObject(r);
	redisFree(rc);
	return 0;
}
