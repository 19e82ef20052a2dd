/* instance.c - one live edge per id: <prefix>lock:<id> holds this
 * instance's token with a 15 s expiry, renewed every second; an instance that
 * finds another's token there refuses to publish (writes, heartbeat, stats)
 * and says so until the other is gone. Tools (no peers followed) write as
 * "ops", which any number of operators share, and take no lock. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "client_int.h"
#include "clock.h"
#include "log.h"

#define LOCK_TTL_MS 15000

void instance_token_new(struct sync_client *c)
{
	uint8_t r[16];

	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
		/* Unique enough for telling two instances apart. */
		uint64_t x = (uint64_t)bf_mono_ns() ^ ((uint64_t)getpid() << 32);

		memcpy(r, &x, sizeof(x));
		memcpy(r + 8, &c, sizeof(void *) < 8 ? sizeof(void *) : 8);
	}
	for (size_t i = 0; i < sizeof(r); i++)
		snprintf(c->token + 2 * i, 3, "%02x", r[i]);
}

static void conflict(struct sync_client *c, const redisReply *other)
{
	if (c->writable)
		writer_stop(c);
	c->st.id_conflict = true;
	bf_log_state_hit(&c->id_conflict, BF_LOG_ERROR,
			 "another edge is running with the id %s (instance %.*s holds %slock:%s): "
			 "this one publishes nothing until it is gone; stop one of them or give "
			 "each its own id",
			 c->origin, (int)(other->len > 32 ? 32 : other->len), other->str, c->prefix,
			 c->origin);
}

/* SET lock token NX GET PX: nil = it was free and is ours now; our token =
 * ours already (the expiry is renewed next); another token = another live
 * instance. */
static void lock_done(redisAsyncContext *ac, void *reply, void *priv)
{
	struct sync_client *c = sync_link_owner(ac);
	const redisReply *r = reply;
	char key[BF_KEY_MAX];

	if (!c || !r)
		return;
	if (r->type == REDIS_REPLY_STRING && (r->len != strlen(c->token) ||
					      memcmp(r->str, c->token, r->len))) {
		conflict(c, r);
		return;
	}
	if (r->type == REDIS_REPLY_STRING) {
		bf_key_lock(key, sizeof(key), c->prefix, c->origin);
		sync_link_cmd(&c->cmd, NULL, NULL, "PEXPIRE %s %d", key, LOCK_TTL_MS);
	} else if (r->type != REDIS_REPLY_NIL) {
		/* Refused (an ACL without the lock key, an old Redis without SET
		 * GET): say so once and go on without the check. */
		if (!c->lock_warned)
			pr_warn("cannot hold %slock:%s (%s): two edges with this id would not be "
				"noticed", c->prefix, c->origin,
				r->type == REDIS_REPLY_ERROR ? r->str : "unexpected answer");
		c->lock_warned = true;
	}
	c->st.id_conflict = false;
	if (!c->writable && sync_link_up(&c->cmd))
		writer_start(c);
}

static void lock_try(struct sync_client *c)
{
	char key[BF_KEY_MAX];

	bf_key_lock(key, sizeof(key), c->prefix, c->origin);
	sync_link_cmd(&c->cmd, lock_done, NULL, "SET %s %s NX GET PX %d", key, c->token,
		      LOCK_TTL_MS);
}

void instance_up(struct sync_client *c)
{
	if (!c->cfg.read_peers)
		writer_start(c);
	else
		lock_try(c);
}

void instance_tick(struct sync_client *c)
{
	bf_log_state_tick(&c->id_conflict, "edge id conflict");
	if (c->cfg.read_peers && sync_link_up(&c->cmd))
		lock_try(c);
}
