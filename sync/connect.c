/* connect.c - the only place a Bifrost binary connects to Redis: blocking
 * for tools, asynchronous for the sync links, logging in first. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "addr.h"
#include "endpoint.h"
#include "text.h"

/* A dead peer (a host gone without FIN or RST, a partition) is noticed
 * within seconds on every connection, idle or not: keepalive probes after
 * 2 s of silence, 1 s apart, 3 unanswered close it; data unacknowledged for
 * 5 s closes it too. Failures here only cost that early warning. */
void bf_redis_socket_opts(int fd)
{
	int on = 1, idle = 2, intvl = 1, cnt = 3;
	unsigned int user_timeout_ms = 5000;

	if (fd < 0)
		return;
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
	setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout_ms, sizeof(user_timeout_ms));
}

/* AUTH [user] pass as an argument vector: binary safe, never formatted. */
static int auth_argv(const struct bf_endpoint *ep, const char *argv[3], size_t lens[3])
{
	int argc = 0;

	argv[argc] = "AUTH";
	lens[argc++] = 4;
	if (ep->user[0]) {
		argv[argc] = ep->user;
		lens[argc++] = strlen(ep->user);
	}
	argv[argc] = ep->pass;
	lens[argc++] = strlen(ep->pass);
	return argc;
}

/* " as USER (credentials from SRC)" for a refused login. */
static const char *login_str(const struct bf_endpoint *ep, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s (credentials from %s)", ep->user[0] ? " as " : "", ep->user,
		 ep->auth_src[0] ? ep->auth_src : "the caller");
	return buf;
}

/* ---- Redis Sentinel ---- */

int bf_role_is_master(const redisReply *r)
{
	return r && r->type == REDIS_REPLY_ARRAY && r->elements >= 1 &&
	       (r->element[0]->type == REDIS_REPLY_STRING ||
		r->element[0]->type == REDIS_REPLY_STATUS) &&
	       r->element[0]->len == 6 && !memcmp(r->element[0]->str, "master", 6);
}

/* What one sentinel says the primary of `master` is: 0 with out's host and port set,
 * -ENOENT (it does not know the name), -EPROTO (an answer that is no address), or
 * -EHOSTUNREACH (no answer in time). */
static int ask_sentinel(const struct bf_hostport *s, const char *master, int timeout_ms,
			struct bf_endpoint *out, char *why, size_t whylen)
{
	struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 };
	redisContext *rc = redisConnectWithTimeout(s->host, s->port, tv);
	redisReply *r;
	uint64_t port;
	int rc_ = -EPROTO;

	if (!rc || rc->err) {
		snprintf(why, whylen, "%s", rc ? rc->errstr : "out of memory");
		redisFree(rc);
		return -EHOSTUNREACH;
	}
	redisSetTimeout(rc, tv);
	bf_redis_socket_opts(rc->fd);
	r = redisCommand(rc, "SENTINEL get-master-addr-by-name %s", master);
	if (!r) {
		snprintf(why, whylen, "%s", rc->errstr);
		rc_ = -EHOSTUNREACH;
	} else if (r->type == REDIS_REPLY_NIL) {
		snprintf(why, whylen, "it monitors no master named %s", master);
		rc_ = -ENOENT;
	} else if (r->type == REDIS_REPLY_ERROR) {
		snprintf(why, whylen, "%.120s", r->str);
		rc_ = -EPROTO;
	} else if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
		   r->element[0]->type == REDIS_REPLY_STRING &&
		   r->element[1]->type == REDIS_REPLY_STRING &&
		   r->element[0]->len > 0 && r->element[0]->len <= BF_HOST_MAX &&
		   !bf_parse_u64(r->element[1]->str, 65535, &port) && port) {
		memcpy(out->host, r->element[0]->str, r->element[0]->len);
		out->host[r->element[0]->len] = '\0';
		out->port = (uint16_t)port;
		rc_ = 0;
	} else {
		snprintf(why, whylen, "an answer that is no address");
	}
	freeReplyObject(r);
	redisFree(rc);
	return rc_;
}

int bf_endpoint_primary(const struct bf_endpoint *ep, int timeout_ms, int *next,
			struct bf_endpoint *out, char *err, size_t errlen)
{
	char why[160] = "", where[BF_ENDPOINT_STRLEN];
	int first = next ? *next : 0, rc = -EHOSTUNREACH;

	*out = *ep;
	if (!bf_endpoint_is_sentinel(ep))
		return 0;
	for (int i = 0; i < ep->n_sentinels; i++) {
		int k = (first + i) % ep->n_sentinels;
		int r = ask_sentinel(&ep->sentinels[k], ep->master, timeout_ms, out, why, sizeof(why));

		if (!r) {
			if (next)
				*next = (k + 1) % ep->n_sentinels;
			return 0;
		}
		if (r == -ENOENT || rc == -EHOSTUNREACH)
			rc = r;
		snprintf(where, sizeof(where), "%s:%u", ep->sentinels[k].host, ep->sentinels[k].port);
	}
	out->host[0] = '\0';
	if (rc == -ENOENT)
		bf_seterr(err, errlen, "no sentinel knows a master named %s (last, %s: %s)",
			  ep->master, where, why);
	else
		bf_seterr(err, errlen, "no sentinel of %s answered (last, %s: %s)", ep->master, where,
			  why);
	return rc;
}

static redisContext *connect_one(const struct bf_endpoint *ep, int timeout_ms, char *err,
				 size_t errlen);

/* A Sentinel endpoint: the primary each sentinel names, in turn, until one is confirmed by
 * ROLE (a sentinel that has not seen a failover yet names the old primary, now a replica). */
redisContext *bf_redis_connect(const struct bf_endpoint *ep, int timeout_ms, char *err,
			       size_t errlen)
{
	struct bf_endpoint prim;
	int next = 0;

	if (!bf_endpoint_is_sentinel(ep))
		return connect_one(ep, timeout_ms, err, errlen);
	for (int i = 0; i < ep->n_sentinels; i++) {
		redisContext *rc;
		redisReply *r;
		char where[BF_ENDPOINT_STRLEN];

		if (bf_endpoint_primary(ep, timeout_ms, &next, &prim, err, errlen))
			return NULL;
		rc = connect_one(&prim, timeout_ms, err, errlen);
		if (!rc)
			continue;
		r = redisCommand(rc, "ROLE");
		if (bf_role_is_master(r)) {
			freeReplyObject(r);
			return rc;
		}
		bf_seterr(err, errlen, "Redis at %s, named primary of %s, is not the primary (ROLE %s)",
			  bf_endpoint_str(&prim, where, sizeof(where)), ep->master,
			  r && r->type == REDIS_REPLY_ARRAY && r->elements && r->element[0]->str ?
				  r->element[0]->str : "gave no answer");
		freeReplyObject(r);
		redisFree(rc);
	}
	return NULL;
}

static redisContext *connect_one(const struct bf_endpoint *ep, int timeout_ms, char *err,
				 size_t errlen)
{
	struct timeval tv = { .tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000 };
	char where[BF_ENDPOINT_STRLEN], as[BF_USER_MAX + BF_AUTH_SRC_MAX + 40];
	redisContext *rc = redisConnectWithTimeout(ep->host, ep->port, tv);
	redisReply *r;

	bf_endpoint_str(ep, where, sizeof(where));
	if (!rc || rc->err) {
		bf_seterr(err, errlen, "cannot reach Redis at %s: %s", where,
		       rc ? rc->errstr : "out of memory");
		redisFree(rc);
		return NULL;
	}
	redisSetTimeout(rc, tv);
	bf_redis_socket_opts(rc->fd);
	if (ep->has_pass) {
		const char *argv[3];
		size_t lens[3];
		int argc = auth_argv(ep, argv, lens);

		r = redisCommandArgv(rc, argc, argv, lens);
		if (!r || r->type == REDIS_REPLY_ERROR) {
			bf_seterr(err, errlen, "Redis at %s refused the login%s: %s", where,
				  login_str(ep, as, sizeof(as)), r ? r->str : rc->errstr);
			freeReplyObject(r);
			redisFree(rc);
			return NULL;
		}
		freeReplyObject(r);
		return rc;
	}
	/* No credentials: a Redis that wants a login says so here, once, rather than
	 * in the first command's reply. */
	r = redisCommand(rc, "PING");
	if (r && !(r->type == REDIS_REPLY_ERROR && !strncmp(r->str, "NOAUTH", 6))) {
		freeReplyObject(r);
		return rc;
	}
	if (r)
		bf_seterr(err, errlen, "Redis at %s wants a login: give a credentials file, or set "
			  "REDISCLI_AUTH (and BIFROST_REDIS_USER for an ACL user)", where);
	else
		bf_seterr(err, errlen, "no answer from Redis at %s: %s", where, rc->errstr);
	freeReplyObject(r);
	redisFree(rc);
	return NULL;
}

/* ep is a plain endpoint, or a Sentinel one whose primary bf_endpoint_primary has filled
 * in (the link confirms it with ROLE). */
redisAsyncContext *bf_redis_connect_async(const struct bf_endpoint *ep, bf_redis_reply_cb hello_cb,
					  void *priv, char *err, size_t errlen)
{
	char where[BF_ENDPOINT_STRLEN];
	redisAsyncContext *ac = redisAsyncConnect(ep->host, ep->port);

	if (!ac || ac->err) {
		bf_seterr(err, errlen, "cannot reach Redis at %s: %s",
		       bf_endpoint_str(ep, where, sizeof(where)), ac ? ac->errstr : "out of memory");
		if (ac)
			redisAsyncFree(ac);
		return NULL;
	}
	bf_redis_socket_opts(ac->c.fd);
	if (ep->has_pass) {
		const char *argv[3];
		size_t lens[3];
		int argc = auth_argv(ep, argv, lens);

		redisAsyncCommandArgv(ac, hello_cb, priv, argc, argv, lens);
	} else {
		redisAsyncCommand(ac, hello_cb, priv, "PING");
	}
	return ac;
}
