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
#define BF_USER_MAX 64
#define BF_PASS_MAX 512
#define BF_AUTH_FILE_MAX 4096 /* bytes a credentials file may hold */
#define BF_AUTH_SRC_MAX 240

#define BF_SENTINEL_PORT 26379
#define BF_SENTINELS_MAX 8
#define BF_MASTER_MAX 64

struct bf_hostport {
	char host[BF_HOST_MAX + 1];
	uint16_t port;
};

struct bf_endpoint {
	char host[BF_HOST_MAX + 1]; /* a name, an IPv4 literal or an IPv6 literal (no brackets) */
	uint16_t port;
	/* Redis Sentinel: the primary is whatever the sentinels say the master named `master`
	 * is (bf_endpoint_primary); host and port are then empty. "" = a plain endpoint. */
	char master[BF_MASTER_MAX + 1];
	int n_sentinels;
	struct bf_hostport sentinels[BF_SENTINELS_MAX];
	/* Credentials (never from argv or a config file): see bf_endpoint_credentials. */
	char user[BF_USER_MAX + 1]; /* "" = the default user */
	char pass[BF_PASS_MAX + 1];
	bool has_pass;
	char auth_src[BF_AUTH_SRC_MAX]; /* where they came from, for messages ("" = none) */
};

/* "host", "host:port", "a.b.c.d:port", "[v6]:port" or a bare IPv6 literal;
 * port 1-65535, default 6379. Names are resolved when connecting, not here.
 * Or Redis Sentinel: "sentinel:MASTER@HOST[:PORT],HOST[:PORT],..." (1-8
 * sentinels, port default 26379; MASTER as in the sentinels' `sentinel
 * monitor` line: 1-64 of A-Z a-z 0-9 - _ .). 0, or -EINVAL with a message in
 * err. */
int bf_endpoint_parse(const char *s, struct bf_endpoint *ep, char *err, size_t errlen);

/* "host:port" ("[v6]:port") for logs and messages; "MASTER via sentinels" for a
 * Sentinel endpoint. */
const char *bf_endpoint_str(const struct bf_endpoint *ep, char *buf, size_t len);

static inline bool bf_endpoint_is_sentinel(const struct bf_endpoint *ep)
{
	return ep->master[0] != '\0';
}

/* The Redis to connect to now: for a plain endpoint a copy of ep; for a Sentinel one, ep
 * with host and port of the primary the first sentinel that answers names (asked with
 * SENTINEL get-master-addr-by-name, each within timeout_ms; sentinels are asked in
 * turn starting at *next, which is moved past the one that answered, so a caller that
 * finds the answer stale asks the next one). The credentials are ep's. 0, or
 * -EHOSTUNREACH (no sentinel answered) / -ENOENT (none knows MASTER) with err set. The
 * caller confirms with ROLE that it reached the primary. */
int bf_endpoint_primary(const struct bf_endpoint *ep, int timeout_ms, int *next,
			struct bf_endpoint *out, char *err, size_t errlen);
/* 1 when a ROLE reply says master, 0 otherwise (a replica, a sentinel, garbage). */
struct redisReply;
int bf_role_is_master(const struct redisReply *r);

/* A key prefix: 1-32 of A-Z a-z 0-9 _ - . : ending in ':' ("bifrost:"). The
 * fleet's keys live under it; an ACL can confine a user to it. */
bool bf_prefix_valid(const char *p);

/* Takes the credentials, in this order: from auth_file when one is named (a
 * credentials file, below; the environment is then not looked at), else from
 * the environment: BIFROST_REDIS_USER the ACL user, REDISCLI_AUTH the password
 * (the variable redis-cli reads too). 0 (also when there are none), or -errno
 * with a message in err that names the fix. */
int bf_endpoint_credentials(struct bf_endpoint *ep, const char *auth_file, char *err,
			    size_t errlen);

/* A credentials file (docs/OPERATIONS.md, "Redis credentials"):
 *
 *	# comments and blank lines are ignored
 *	user pop1
 *	password correct horse battery staple
 *
 * KEY, spaces or tabs, then the value: the rest of the line (spaces and '#'
 * inside it are kept; it may not end in a space or tab, nor hold a control
 * character). `password` is required, `user` optional (without it the login
 * is AUTH password: the default user, or requirepass), each at most once; a
 * user name is 1-64 of A-Z a-z 0-9 - _ . @. Messages name the line, never
 * quote the file's text. text[0..n) is parsed into ep's credentials only
 * when all of it is valid: 0 or -EINVAL. */
int bf_auth_parse(const char *text, size_t n, const char *name, struct bf_endpoint *ep,
		  char *err, size_t errlen);

/* A user name: 1-64 of A-Z a-z 0-9 - _ . @ (nothing redis-cli or an ACL file would read
 * as a quote, a space or a rule). */
bool bf_user_valid(const char *s);

struct stat;
/* Whether a credentials file, as fstat saw it, is safe to read for a
 * process whose effective uid is euid: a regular file of at most
 * BF_AUTH_FILE_MAX bytes, owned by euid or root, with no group or other
 * permission bit. 0, -EPERM (mode, owner), -EINVAL (not a regular file) or
 * -EFBIG, with the fix in err ("chmod 600 PATH"). */
int bf_auth_file_safe(const struct stat *st, unsigned euid, const char *path, char *err,
		      size_t errlen);

/* Opens path (not blocking on a FIFO), checks it with bf_auth_file_safe
 * before reading a byte, reads and parses it. 0 or -errno with err set. */
int bf_auth_file_read(const char *path, struct bf_endpoint *ep, char *err, size_t errlen);

struct redisContext;
struct redisAsyncContext;

/* TCP keepalive (2 s idle, 1 s apart, 3 probes) and TCP_USER_TIMEOUT (5 s)
 * on a Redis connection's socket: a dead peer is noticed within seconds. */
void bf_redis_socket_opts(int fd);

/* A blocking connection for a command-line tool: connect within timeout_ms (for a
 * Sentinel endpoint: to the primary the sentinels name, confirmed with ROLE),
 * log in (without credentials: PING, so a Redis that wants a login says so
 * now), set the same timeout on every command. NULL with the reason in err
 * ("cannot reach Redis at ...: ...", "Redis at ... refused the login as USER
 * (credentials from FILE): WRONGPASS ...", "Redis at ... wants a login: ..."). */
struct redisContext *bf_redis_connect(const struct bf_endpoint *ep, int timeout_ms, char *err,
				      size_t errlen);

/* An asynchronous connection (not yet connected: the caller attaches it to
 * its event loop and sets its callbacks). The first command is queued: the
 * login when there are credentials, else a PING; its reply goes to
 * hello_cb(ac, reply, priv) like any hiredis callback. A TCP connect alone
 * proves nothing when a local tunnel end (stunnel) accepts for a far end that
 * may refuse us: only that reply shows Redis is there. NULL with err set. */
typedef void (*bf_redis_reply_cb)(struct redisAsyncContext *ac, void *reply, void *priv);
struct redisAsyncContext *bf_redis_connect_async(const struct bf_endpoint *ep,
						 bf_redis_reply_cb hello_cb, void *priv, char *err,
						 size_t errlen);

#endif
