/* connect.c - the only place a Bifrost binary connects to Redis: blocking
 * for tools, asynchronous for the sync links, logging in first. */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

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

redisContext *bf_redis_connect(const struct bf_endpoint *ep, int timeout_ms, char *err,
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
