/* fsd.h - what bifrost-flowspec's files share (docs/ARCHITECTURE.md "Flowspec export",
 * docs/OPERATIONS.md "bifrost-flowspec"). main.c: options, config, the loop, /metrics;
 * speaker.c: the BGP speaker (gobgpd) and its routes; store.c: Redis. */
#ifndef BF_FS_DAEMON_H
#define BF_FS_DAEMON_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "endpoint.h"
#include "flowspec.h"
#include "schema.h"

#define PROG "bifrost-flowspec"
#define FS_ANNOUNCE_MAX 64   /* announce lines */
#define FS_BGP_MAX 64        /* peer + local lines */
#define FS_PROTECT_MAX 1024  /* protected prefixes: the config's and bifrost:protect */
#define FS_WL_MAX 65536      /* whitelist entries checked; more pauses new exports */

enum fs_speaker_mode { FS_SPEAKER_SPAWN = 0, FS_SPEAKER_EXTERNAL };

struct fs_conf {
	char id[BF_ORIGIN_MAX + 1];
	struct bf_endpoint redis;
	char where[BF_ENDPOINT_STRLEN];
	char prefix[BF_PREFIX_MAX + 1];
	struct bf_cidr announce[FS_ANNOUNCE_MAX];
	size_t n_announce;
	uint32_t bgp[FS_BGP_MAX];        /* peer and local addresses */
	size_t n_bgp, n_peers;
	struct bf_cidr protect[FS_PROTECT_MAX];
	size_t n_protect;
	uint8_t min_plen;
	uint16_t mtu;
	struct bf_fs_limits lim;
	char canary[BF_ORIGIN_MAX + 1];  /* "" = none */
	uint64_t poll_ms;
	enum fs_speaker_mode speaker;
	char gobgpd[PATH_MAX], gobgp[PATH_MAX], gobgpd_conf[PATH_MAX];
	char api_host[64];
	uint16_t api_port;
	uint32_t metrics_addr;           /* network order */
	uint16_t metrics_port;           /* 0 = no /metrics */
};

/* Parses the config file (and --dry-run). 0, or -EINVAL with "<file>:<line>: what" said. */
int fs_conf_load(const char *path, struct fs_conf *c, char *err, size_t errlen);

/* ---- speaker.c ---- */
struct fs_speaker {
	const struct fs_conf *c;
	pid_t pid;             /* the gobgpd we run (spawn mode), 0 when none */
	bool ready;            /* answers on its API */
	bool cleared;          /* external: its Flowspec RIB was emptied once */
	bool fresh;            /* a gobgpd we started (or an external one not yet cleared):
				* its RIB is empty once it answers */
	uint64_t next_try_ms, backoff_ms;
	unsigned long long restarts, errors;
	int fails;             /* failed probes in a row */
	char said[160];        /* the last failure logged */
};
/* Starts (or re-starts, after back-off) gobgpd and probes its API. Returns true when a
 * speaker whose Flowspec RIB is empty became ready: one we just started, or an external
 * one answering for the first time, whose Flowspec routes it then withdrew (they are ours
 * to manage). False when an API that stopped answering answers again: its RIB is as it
 * was. */
bool fs_speaker_poll(struct fs_speaker *s, uint64_t now_ms);
/* Adds (or withdraws) one route with `gobgp global rib -a ipv4-flowspec add|del match
 * <words> then discard`. 0, or -EIO (counted, logged). */
int fs_speaker_route(struct fs_speaker *s, bool add, const char *match);
/* Stops the gobgpd we run: SIGTERM (its sessions close: the upstreams withdraw every
 * route), SIGKILL after 5 s. */
void fs_speaker_stop(struct fs_speaker *s);

/* ---- store.c ---- */
struct redisContext;
struct fs_input {
	struct bf_rule_def *rules;       /* offered: flowspec != no, applying to this POP */
	size_t n_rules, bad_rules, inactive;
	struct bf_cidr *protect;         /* bifrost:protect */
	size_t n_protect;
	struct bf_cidr *wl;              /* live whitelist entries, every origin */
	size_t n_wl;
	bool wl_overflow;
	struct bf_fs_rule_state *canary; /* the canary's lines */
	size_t n_canary;
};
/* Reads everything a plan needs. 0, or -EIO (the context is then unusable). */
int fs_store_load(struct redisContext *rc, const struct fs_conf *c, struct fs_input *in);
/* conf:version, or "" when none; -EIO. */
int fs_store_version(struct redisContext *rc, const struct fs_conf *c, char *buf, size_t len);
/* This POP's lines as the last exporter left them. n is set; 0 or -EIO. */
int fs_store_read_own(struct redisContext *rc, const struct fs_conf *c,
		      struct bf_fs_rule_state *out, size_t cap, size_t *n);
/* Replaces this POP's lines (one MULTI). */
int fs_store_write(struct redisContext *rc, const struct fs_conf *c,
		   const struct bf_fs_rule_state *s, size_t n);
/* Sets the liveness key for ttl_ms, or deletes it (0). */
int fs_store_alive(struct redisContext *rc, const struct fs_conf *c, uint64_t ttl_ms);
void fs_input_free(struct fs_input *in);
/* What the last failed command was and what Redis said ("HLEN: NOPERM ..."). */
const char *fs_store_error(void);

#endif
