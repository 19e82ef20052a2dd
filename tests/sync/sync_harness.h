/* sync_harness.h - the sync client's tests against real redis-servers they
 * start (on loopback, or inside a network namespace of their own): the
 * servers, a peer that records what it is told, an event loop run until a
 * condition holds, and stderr captured to count log lines. */
#ifndef BF_TEST_SYNC_HARNESS_H
#define BF_TEST_SYNC_HARNESS_H

#include <stdbool.h>
#include <sys/types.h>

#include "sync.h"

struct event_base;
struct redisContext;

extern struct event_base *base;

struct redis_srv {
	pid_t pid;
	int port;
	char host[64];   /* where the tests reach it */
	char netns[32];  /* "" = this namespace */
	char log[64];
};

/* Starts redis-server (no persistence) on host:port, inside netns when not
 * NULL, with extra "--name value" arguments (NULL-terminated), and waits
 * until it answers. Exits the test program when it cannot. */
void redis_srv_start(struct redis_srv *s, const char *netns, const char *host, int port,
		     const char *const *extra);
void redis_srv_kill(struct redis_srv *s);
/* A blocking connection as the default user; the test fails without one. */
struct redisContext *redis_plain(const struct redis_srv *s);
/* One command on a fresh connection; its reply is freed. */
void redis_do(const struct redis_srv *s, const char *fmt, ...);
long long redis_int(const struct redis_srv *s, const char *fmt, ...);

/* ---- a peer: the entries it holds, by origin, as an edge would ---- */

#define PEER_MAX 512
struct peer_entry {
	char origin[BF_ORIGIN_MAX + 1];
	enum bf_kind kind;
	char text[BF_ENTRY_MAX + 1];
	bool stale; /* not re-announced by the running resync */
};

struct peer {
	struct sync_client *c;
	int records, resync_begin, resync_end, connected;
	char last[BF_ENTRY_MAX + 1];
	struct peer_entry e[PEER_MAX];
	int n;
};

/* cfg: endpoint, origin and anything else the test sets; handlers are the
 * peer's. The test fails when the client is not made. */
void peer_open(struct peer *p, struct sync_config *cfg);
void peer_close(struct peer *p);
/* A cmocka teardown: closes the peers a failed test left open. */
int peers_close_all(void **state);
bool peer_has(const struct peer *p, const char *origin, const char *text);

/* Runs the loop until *value >= want or timeout_ms passes. */
bool run_until(const int *value, int want, int timeout_ms);
/* Runs the loop until fn(arg) or timeout_ms passes. */
bool run_until_fn(bool (*fn)(void *), void *arg, int timeout_ms);
void settle(int ms);

struct bf_entry bl(const char *cidr);
int64_t in_an_hour(void);

/* stderr into a file while a fault is injected; how many of its lines hold
 * `needle`. */
void log_capture_start(const char *path);
void log_capture_stop(void);
int log_count(const char *path, const char *needle);

/* system(3) of a formatted command; the test fails unless it exits 0. */
void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
