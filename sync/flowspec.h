/* flowspec.h - a firewall rule as a BGP Flowspec route (RFC 8955), and the rails every
 * route passes before it may leave the POP (docs/ARCHITECTURE.md "Flowspec export").
 * Pure: bifrost-flowspec (tools/flowspec/) feeds it the fleet's rules and its policy. */
#ifndef BF_FLOWSPEC_H
#define BF_FLOWSPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "schema_rule.h"

#define BF_FS_MATCH_MAX 512    /* the match words of one route */
#define BF_FS_DETAIL_MAX 160   /* why a rule was refused, one line */
#define BF_FS_BGP_PORT 179

/* Why a rule is not exported. Each is a label of bifrost_flowspec_refused_total. */
enum bf_fs_why {
	BF_FSW_OK = 0,
	BF_FSW_ACTION,      /* not action drop: Flowspec here only discards */
	BF_FSW_NO_PROTO,    /* no proto: it would match TCP/179 (BGP) */
	BF_FSW_NO_DST,      /* no dst: a route must name what it protects */
	BF_FSW_DST_OUTSIDE, /* dst not inside a prefix this POP announces (RFC 8955 sec. 6) */
	BF_FSW_DST_WIDE,    /* dst shorter than min_prefix_len */
	BF_FSW_PROTECTED,   /* src or dst overlaps a protected prefix */
	BF_FSW_WHITELISTED, /* src or dst overlaps a whitelisted prefix */
	BF_FSW_BGP_PEER,    /* src or dst holds a BGP session address */
	BF_FSW_PORT_179,    /* a port range holds 179 */
	BF_FSW_LENGTH,      /* a packet length beyond the MTU, or no length at all */
	BF_FSW_PAYLOAD,     /* a payload match, and the rule did not say strip-payload */
	BF_FSW_FIELD,       /* a field Flowspec cannot express */
	BF_FSW_CAP,         /* max_rules routes are out already */
	BF_FSW_MAX
};

const char *bf_fs_why_name(enum bf_fs_why w);

/* What this POP may export: every pointer may be NULL when its count is 0. */
struct bf_fs_policy {
	const struct bf_cidr *announce;  /* the prefixes this POP announces */
	size_t n_announce;
	const uint32_t *bgp_addrs;       /* the BGP sessions' addresses, both ends (network order) */
	size_t n_bgp;
	const struct bf_cidr *protect;   /* protected prefixes: the config's and bifrost:protect */
	size_t n_protect;
	const struct bf_cidr *whitelist; /* live whitelist entries of every origin */
	size_t n_whitelist;
	uint8_t min_plen;                /* shortest destination prefix (default 24) */
	uint16_t mtu;                    /* longest packet length a route may name (default 1500) */
};

/* The rule r as the match words of one Flowspec route, as gobgp's CLI takes them after
 * `match` ("destination 192.0.2.10/32 protocol ==udp destination-port ==27015 source-port
 * !=179"), single spaces, no word with another character than [A-Za-z0-9./=<>&!-]: the
 * words go to argv as they are. Every rail is checked first: BF_FSW_OK with `match`
 * filled, else the reason with `detail` saying what to change (one line). The caller
 * decides which rules to offer (flowspec yes, enabled, not a dry run, applying to it),
 * the cap and the rate. */
enum bf_fs_why bf_fs_translate(const struct bf_rule_def *r, const struct bf_fs_policy *p,
			       char *match, size_t match_len, char *detail, size_t detail_len);

/* Whether two IPv4 CIDRs share an address. */
bool bf_cidr_overlap(const struct bf_cidr *a, const struct bf_cidr *b);

/* One line of the <prefix>flowspec:<id> hash, "<state> <since ms> <until ms> <why> <text>"
 * (docs/REDIS.md "Flowspec"): text is the route's match words, or for a refusal what to
 * change. */
enum bf_fs_state {
	BF_FSS_ANNOUNCED = 0, /* in the speaker's RIB, sent to the upstreams */
	BF_FSS_PENDING,       /* waits: the one-a-second rate, the canary or the speaker */
	BF_FSS_REFUSED,       /* a rail refused it: why */
	BF_FSS_EXPIRED,       /* its TTL ran out; withdrawn until the rule changes */
	BF_FSS_DRY_RUN,       /* would be announced (dry-run mode) */
	BF_FSS_STOPPED,       /* was announced when the exporter stopped */
	BF_FSS_MAX
};
struct bf_fs_line {
	enum bf_fs_state state;
	uint64_t since_ms, until_ms;
	char why[24];
	char text[BF_FS_MATCH_MAX];
};
const char *bf_fs_state_name(enum bf_fs_state s);
/* 0, or -EINVAL for a line that is not one (the reader skips it). */
int bf_fs_line_parse(const char *s, size_t n, struct bf_fs_line *out);
/* The length, or -ENOSPC. */
int bf_fs_line_format(const struct bf_fs_line *l, char *buf, size_t len);

/* ---- the plan: what each offered rule's state is this tick (flowspec_plan.c) ---- */

#define BF_FS_RULES_MAX 1024   /* flowspec rules one exporter follows */

struct bf_fs_limits {
	size_t max_rules;        /* routes announced or waiting, at most (default 10) */
	uint64_t interval_ms;    /* between two new routes (default 1 s) */
	uint64_t ttl_ms;         /* a rule's TTL when it names none (default 1 h) */
	uint64_t max_ttl_ms;     /* the longest TTL a rule may ask for (default 24 h) */
	bool dry_run;            /* DRY_RUN instead of ANNOUNCED */
	bool follow_canary;      /* a canary POP is set and it is another */
	bool hold_new;           /* the inputs are stale (Redis failed): nothing new goes out */
	uint64_t canary_hold_ms; /* how long the canary must have announced a route first */
};

/* One offered rule's line (id and line), in and out. */
struct bf_fs_rule_state {
	uint32_t id;
	struct bf_fs_line line;
};

/* The states of the offered rules (flowspec yes or strip-payload, enabled, not a dry run,
 * applying to this POP; n <= BF_FS_RULES_MAX, any order) from the rails, the TTLs, the cap,
 * the rate and the canary. prev: last tick's states (or those read back at start), by id;
 * canary: the canary POP's lines (follow_canary). Routes already out (ANNOUNCED, STOPPED
 * or DRY_RUN with the same match and TTL) keep their place and their expiry; new ones take
 * the free places in id order (lower first), one per interval_ms (*last_new_ms, 0 at
 * start, is when the last one went out). out[i] is rules[i]'s state. */
void bf_fs_plan(const struct bf_rule_def *rules, size_t n, const struct bf_fs_policy *p,
		const struct bf_fs_limits *lim, const struct bf_fs_rule_state *prev, size_t n_prev,
		const struct bf_fs_rule_state *canary, size_t n_canary, uint64_t now_ms,
		uint64_t *last_new_ms, struct bf_fs_rule_state *out);

#endif
