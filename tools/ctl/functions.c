/* functions.c - bifrostctl's writes to the lists through the bus's Redis Functions
 * (sync/bifrost.lua: FCALL bifrost_add / bifrost_del), and `functions load|status`. */
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

int ctl_fcall_write(const struct ctl *c, enum bf_op op, const struct bf_entry *e)
{
	char key[BF_KEY_MAX], entry[BF_ENTRY_MAX + 1], ttl[24];
	const char *why = c->reason ? c->reason : "manual";
	const char *argv[7];
	redisContext *rc = ctl_connect(c);
	redisReply *r = NULL;
	int argc = 0, err = 0;

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
	for (int attempt = 0; attempt < 2; attempt++) {
		r = redisCommandArgv(rc, argc, argv, NULL);
		/* Not loaded yet (a new or emptied Redis): load it once and go on. */
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
		fprintf(stderr, CTL_PROG ": Redis at %s refused the write: %s\n", c->where,
			!r ? rc->errstr : r->type == REDIS_REPLY_ERROR ? r->str : "unexpected answer");
		err = -EIO;
	}
	freeReplyObject(r);
	redisFree(rc);
	return err;
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
					 "bifrost_batch)\n",
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
