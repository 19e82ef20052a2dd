/* guard.h - what this edge refuses from the fleet bus, whatever Redis's ACLs let a writer do. */
/* Anyone who reaches Redis could otherwise write fleet-wide damage that every
 * edge applies: `wl 0.0.0.0/0` (every filter skipped), `bl 0.0.0.0/0`
 * (everyone dropped), a drop rule that matches every packet, sets and values
 * of any size. The guard refuses, at every edge: wl, bl and protected
 * prefixes shorter than min_prefix; a rule that would drop every packet
 * unless it says `all yes`; more entries per (origin, kind) than
 * max_per_origin. It also counts what sync/ refused before reading it (a set
 * over max_conns, max_rules, max_protect, a ZSET over max_per_origin, a value
 * longer than its format allows). Each refusal is counted by (kind, why) for
 * /metrics and the heartbeat and logged once per state change with what the
 * operator should do; the rest is applied. The config file's own entries are
 * the operator's and are not judged (docs/ARCHITECTURE.md, "Trust
 * boundary"). Pure: no Redis, no maps. */
#ifndef EDGE_GUARD_H
#define EDGE_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "log.h"
#include "schema.h"
#include "sync.h"

/* The `kind` label: the bus's entry kinds first, then the fleet config's keys. */
enum edge_guard_kind {
	GK_WL = BF_KIND_WL,
	GK_BL = BF_KIND_BL,
	GK_PUNCH = BF_KIND_PUNCH,
	GK_VALID = BF_KIND_VALID,
	GK_CONN,
	GK_RULE,
	GK_PROTECT,
	GK_A2S,
	GK_EDGES,
	GK_CONF,
	GK_MAX
};
/* The `why` label. */
enum edge_guard_why {
	GW_PREFIX,    /* a CIDR shorter than min_prefix */
	GW_CAP,	      /* an origin already holds max_per_origin entries of that kind here */
	GW_MATCH_ALL, /* a rule that drops every packet, not marked `all yes` */
	GW_TOO_MANY,  /* a key with more members than its cap: not read */
	GW_TOO_BIG,   /* a member or value longer than its format allows: not read */
	GW_MAX
};

/* The edge config's limits (docs/OPERATIONS.md): read at start. */
struct edge_guard_limits {
	uint8_t min_prefix[GK_MAX]; /* wl, bl, protect; 0: any */
	struct sync_caps caps;	    /* per_origin[kind], conns, rules, protect (0: default) */
};
/* The defaults: bf_kinds[]'s, BF_PROTECT_MIN_PREFIX, sync's caps. */
void edge_guard_limits_init(struct edge_guard_limits *l);
/* A config line of the guard's (min_prefix, max_per_origin, punch_max_per_origin,
 * max_conns, max_rules, max_protect): 0, -EINVAL with err set, or -ENOENT when the line
 * is not one of them. */
int edge_guard_config_line(struct edge_guard_limits *l, char **tok, int ntok, char *err,
			   size_t errlen);

struct edge_guard {
	struct edge_guard_limits lim;
	uint64_t refused[GK_MAX][GW_MAX];
	struct bf_log_state log[GK_MAX][GW_MAX];
};

void edge_guard_init(struct edge_guard *g, const struct edge_guard_limits *lim);

/* A fleet entry from `origin` about to be registered: false (counted, logged) when it is a
 * CIDR shorter than its kind's min_prefix. */
bool edge_guard_entry(struct edge_guard *g, const char *origin, const struct bf_entry *e);
/* How many entries of kind k one origin may make this edge hold. */
uint32_t edge_guard_cap(const struct edge_guard *g, enum bf_kind k);
/* origin holds its cap of e's kind already: e is refused (counted, logged). */
void edge_guard_over_cap(struct edge_guard *g, const char *origin, const struct bf_entry *e);
/* The fleet's rules without those that would drop every packet unmarked (only rules
 * applying to edge_id are judged): copied to out (room for n), refused ones counted and
 * logged. Returns how many were copied. */
size_t edge_guard_rules(struct edge_guard *g, const struct bf_rule_def *in, size_t n,
			const char *edge_id, struct bf_rule_def *out);
/* The fleet's protected prefixes without those shorter than min_prefix protect. */
size_t edge_guard_protect(struct edge_guard *g, const struct bf_cidr *in, size_t n,
			  struct bf_cidr *out);
/* What sync/ refused before reading it (sync_handlers.on_refused). */
void edge_guard_sync(struct edge_guard *g, const struct sync_refusal *r);
/* Once a second: a refusal that stopped is logged as over. */
void edge_guard_tick(struct edge_guard *g);

/* For /metrics: every (kind, why) that can happen, in a fixed order. */
#define EDGE_GUARD_ROWS 27
struct edge_guard_row {
	const char *kind, *why;
	uint64_t n;
};
size_t edge_guard_rows(const struct edge_guard *g, struct edge_guard_row *out, size_t cap);
/* For the heartbeat: the total, and "kind/why=N ..." of the non-zero rows ("" none). */
uint64_t edge_guard_summary(const struct edge_guard *g, char *buf, size_t len);

#endif
