/* endpoint.h - where the fleet's Redis is and how to log in to it: parsed
 * once, and the only place any Bifrost binary connects from (the edge's
 * sync links, bifrostctl, the refresher, the benches). */
#ifndef BF_ENDPOINT_H
#define BF_ENDPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BF_HOST_MAX 253      /* a DNS name */
#define BF_ENDPOINT_STRLEN (BF_HOST_MAX + 10)
#define BF_REDIS_PORT 6379
#define BF_USER_MAX 128
#define BF_PASS_MAX 512

struct bf_endpoint {
	char host[BF_HOST_MAX + 1]; /* a name, an IPv4 literal or an IPv6 literal (no brackets) */
	uint16_t port;
	/* Credentials (never from argv or a config file): see bf_endpoint_credentials. */
	char user[BF_USER_MAX + 1]; /* "" = the default user */
	char pass[BF_PASS_MAX + 1];
	bool has_pass;
};

/* "host", "host:port", "a.b.c.d:port", "[v6]:port" or a bare IPv6 literal;
 * port 1-65535, default 6379. Names are resolved when connecting, not here.
 * 0, or -EINVAL with a message in err. */
int bf_endpoint_parse(const char *s, struct bf_endpoint *ep, char *err, size_t errlen);

/* "host:port" ("[v6]:port") for logs and messages. */
const char *bf_endpoint_str(const struct bf_endpoint *ep, char *buf, size_t len);

/* A key prefix: 1-32 of A-Z a-z 0-9 _ - . : ending in ':' ("bifrost:"). The
 * fleet's keys live under it; an ACL can confine a user to it. */
bool bf_prefix_valid(const char *p);

/* Takes the credentials from the environment: REDISCLI_AUTH holds the
 * password (the variable redis-cli reads too). 0 (also when there are
 * none). */
int bf_endpoint_credentials(struct bf_endpoint *ep, char *err, size_t errlen);

struct redisContext;
struct redisAsyncContext;

/* TCP keepalive (2 s idle, 1 s apart, 3 probes) and TCP_USER_TIMEOUT (5 s)
 * on a Redis connection's socket: a dead peer is noticed within seconds. */
void bf_redis_socket_opts(int fd);

/* A blocking connection for a command-line tool: connect within timeout_ms,
 * log in, set the same timeout on every command. NULL with the reason in
 * err ("cannot reach Redis at ...: ...", "Redis at ... refused the login:
 * ..."). */
struct redisContext *bf_redis_connect(const struct bf_endpoint *ep, int timeout_ms, char *err,
				      size_t errlen);

/* An asynchronous connection (not yet connected: the caller attaches it to
 * its event loop and sets its callbacks). The login, when there are
 * credentials, is queued as the first command; its reply goes to
 * auth_cb(ac, reply, priv) like any hiredis callback. NULL with err set. */
typedef void (*bf_redis_reply_cb)(struct redisAsyncContext *ac, void *reply, void *priv);
struct redisAsyncContext *bf_redis_connect_async(const struct bf_endpoint *ep,
						 bf_redis_reply_cb auth_cb, void *priv, char *err,
						 size_t errlen);

#endif
