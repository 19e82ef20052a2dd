/* schema_keys.h - Redis key and channel names: kinds, origins, and every key the fleet uses. */
#ifndef BF_SCHEMA_KEYS_H
#define BF_SCHEMA_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BF_PREFIX_DEFAULT "bifrost:"
#define BF_PREFIX_MAX 32
#define BF_ORIGIN_MAX 63
#define BF_KEY_MAX 192

enum bf_kind { BF_KIND_WL = 0, BF_KIND_BL, BF_KIND_PUNCH, BF_KIND_VALID, BF_KIND_MAX };

/* The kinds of entry on the bus as data: every layer (the keys and log
 * records here, the edge's apply layer, bifrostctl) iterates this table. A
 * new kind is a row, its entry format (schema_entry.c) and, at the edge, its
 * map. */
struct bf_kind_desc {
	enum bf_kind kind;
	const char *name;       /* "wl": in keys, log records, state files, bifrostctl commands */
	const char *title;      /* "whitelist": for people */
	bool cidr;              /* entries are CIDRs (else flows: port punches, validated clients) */
	int list;               /* the edge's CIDR list it fills (enum bf_list), -1: none */
	bool ctl;               /* bifrostctl NAME add|del|list writes and lists it */
	/* What an edge takes of this kind from the bus by default (its config's min_prefix and
	 * max_per_origin override them; docs/OPERATIONS.md): a CIDR shorter than min_prefix is
	 * refused (0: any), and one origin may make it hold at most max_per_origin entries. */
	uint8_t min_prefix;
	uint32_t max_per_origin;
};
extern const struct bf_kind_desc bf_kinds[BF_KIND_MAX];

const char *bf_kind_name(enum bf_kind k);   /* "wl", "bl", "punch", "valid" */
int bf_kind_parse(const char *s);           /* or -EINVAL */

/* Origin: an edge id or "ops". Same alphabet as edge ids. */
bool bf_origin_valid(const char *s);

/* A stream entry ID as Redis writes them: "<ms>-<seq>", each 1-20 digits (a cursor from a
 * state file that is not one would make every XREAD fail). */
#define BF_STREAM_ID_MAX 48
bool bf_stream_id_valid(const char *id);

/* A cursor line of an edge's state file: "cursor <kind> <origin> <stream id> <log seq>".
 * 0, or -EINVAL for a damaged line (the caller skips it). */
struct bf_cursor_line {
	enum bf_kind kind;
	char origin[BF_ORIGIN_MAX + 1];
	char id[BF_STREAM_ID_MAX];
	uint64_t seq;
};
int bf_cursor_line_parse(const char *line, struct bf_cursor_line *out);

/* ---- key names; each returns the length, or -ENAMETOOLONG/-EINVAL ---- */
int bf_key_list(char *buf, size_t len, const char *prefix, enum bf_kind k, const char *origin);
int bf_key_log(char *buf, size_t len, const char *prefix, enum bf_kind k, const char *origin);
/* The kind and origin a list key (<prefix><kind>:<origin>) or a log key
 * (<prefix>log:<kind>:<origin>) names; key need not be NUL-terminated.
 * 0 or -EINVAL. */
int bf_key_kind_parse(const char *key, size_t n, const char *prefix, bool *is_log,
		      enum bf_kind *k, char origin[BF_ORIGIN_MAX + 1]);
int bf_key_edge(char *buf, size_t len, const char *prefix, const char *id);
int bf_key_edges(char *buf, size_t len, const char *prefix);
int bf_key_evt(char *buf, size_t len, const char *prefix, const char *origin);
/* <prefix>ping:<id>: the channel an edge publishes to itself, to know its
 * event link still receives. */
int bf_key_ping(char *buf, size_t len, const char *prefix, const char *id);
/* <prefix>lock:<id>: the live instance of edge <id> (a token, PX 15 s). */
int bf_key_lock(char *buf, size_t len, const char *prefix, const char *id);
int bf_key_conn(char *buf, size_t len, const char *prefix, int proto, uint32_t ip, uint16_t port);
int bf_key_conf_version(char *buf, size_t len, const char *prefix);

/* ---- A2S cache: bifrost:a2s[:player|:rules|:lock]:<ip>:<port>, channel bifrost:a2s ---- */

enum bf_a2s_key { BF_A2S_INFO = 0, BF_A2S_PLAYER, BF_A2S_RULES, BF_A2S_LOCK, BF_A2S_KEY_MAX };

/* The key of a cached reply (or of the refreshers' lock) for the bind address clients
 * query: "bifrost:a2s:203.0.113.10:27015", "bifrost:a2s:rules:203.0.113.10:27015". */
int bf_key_a2s(char *buf, size_t len, const char *prefix, enum bf_a2s_key k, uint32_t ip,
	       uint16_t port);
/* The channel a refresher announces a stored key on (the message is the key). */
int bf_key_a2s_channel(char *buf, size_t len, const char *prefix);
/* A glob matching every key of kind k and no other: "bifrost:a2s:[0-9]*" for INFO (its
 * IPv4 address starts with a digit, so never bifrost:a2s:key), "bifrost:a2s:lock:*". */
int bf_key_a2s_glob(char *buf, size_t len, const char *prefix, enum bf_a2s_key k);
/* bifrost:a2s:key (HASH): the fleet's challenge key, readable only by edges. */
int bf_key_a2s_secret(char *buf, size_t len, const char *prefix);
/* The kind, address and port a cache key names (port 1-65535). 0 or -EINVAL. */
int bf_key_a2s_parse(const char *key, size_t n, const char *prefix, enum bf_a2s_key *k,
		     uint32_t *ip, uint16_t *port);

/* ---- firewall rules and protected prefixes ---- */

/* bifrost:rules (HASH: rule id -> rule text; schema_rule.h) */
int bf_key_rules(char *buf, size_t len, const char *prefix);
/* bifrost:protect (SET of CIDRs): prefixes no ban, blacklist entry or drop
 * rule may ever block. */
int bf_key_protect(char *buf, size_t len, const char *prefix);
/* The shortest protected prefix an edge takes from the bus by default (min_prefix protect):
 * a wider one would spare whole continents from every ban. */
#define BF_PROTECT_MIN_PREFIX 8

/* ---- stats: bifrost:stats:<id> (HASH and channel), bifrost:log:stats:<id> (STREAM) ---- */
int bf_key_stats(char *buf, size_t len, const char *prefix, const char *id);
int bf_key_stats_log(char *buf, size_t len, const char *prefix, const char *id);
/* bifrost:rulestats:<id> (HASH): packets and bytes each rule matched at that edge */
int bf_key_rulestats(char *buf, size_t len, const char *prefix, const char *id);
/* <prefix>flowspec:<id>: what POP id's bifrost-flowspec exports, rule id -> state line;
 * <prefix>flowspec-alive:<id>: its liveness (STRING, PX). */
int bf_key_flowspec(char *buf, size_t len, const char *prefix, const char *id);
int bf_key_flowspec_alive(char *buf, size_t len, const char *prefix, const char *id);

#endif
