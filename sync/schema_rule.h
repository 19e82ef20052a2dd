/* schema_rule.h - firewall rules: the values of bifrost:rules (HASH: rule id -> rule text). */
#ifndef BF_SCHEMA_RULE_H
#define BF_SCHEMA_RULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "bifrost.h" /* BF_RF_*, BF_RULE_*: the rule fields XDP compares */
#include "schema_field.h"

#define BF_RULE_ID_MAX 1000000
#define BF_RULE_TEXT_MAX 1024  /* longest rule text accepted */
#define BF_RULE_EDGES_MAX 255  /* longest `edges` value */
#define BF_RULE_RATE_MAX 100000000000ULL /* pps/bps thresholds */
#define BF_RULE_FS_TTL_MIN_MS 1000ULL            /* flowspec_ttl: 1 s .. 7 days */
#define BF_RULE_FS_TTL_MAX_MS (7ULL * 86400 * 1000)

/* `flowspec`: whether bifrost-flowspec exports the rule to the upstreams. */
enum bf_rule_fs { BF_FS_NO = 0, BF_FS_YES, BF_FS_STRIP_PAYLOAD };

struct bf_range {
	uint32_t lo, hi;       /* inclusive, host order */
};

/* A rule as operators write it. Only the fields in `used` (BF_RF_*) are
 * compared; the id is the priority (lower first) and the identity its
 * counters follow. */
struct bf_rule_def {
	uint32_t id;
	bool enabled;          /* a disabled rule is kept, not evaluated */
	bool dry_run;          /* count matches, change nothing */
	bool all;              /* `all yes`: matches every packet on purpose (bf_rule_first_match) */
	uint8_t action;        /* BF_RULE_PASS or BF_RULE_DROP */
	char edges[BF_RULE_EDGES_MAX + 1]; /* "*" or "id,id,...": where it applies */
	uint32_t used;         /* BF_RF_* */
	struct bf_cidr src, dst;
	uint8_t proto;
	struct bf_range ihl, tos, ip_id, frag, ttl, ip_len;
	uint8_t ipfl_mask, ipfl_val;
	struct bf_range sport, dport;
	uint8_t tcpfl_mask, tcpfl_val;
	struct bf_range tcp_seq, tcp_ack, tcp_win;
	struct bf_range icmp_type, icmp_code;
	struct bf_range payload_len;
	uint64_t pps, bps;     /* thresholds: the rule matches while its traffic is above them */
	uint16_t pl_off;
	uint8_t pl_len;
	uint8_t pl_val[BF_RULE_PAYLOAD_MAX], pl_mask[BF_RULE_PAYLOAD_MAX];
	/* Flowspec export (docs/ARCHITECTURE.md "Flowspec"): edges ignore both. */
	uint8_t flowspec;      /* enum bf_rule_fs */
	uint64_t flowspec_ttl_ms; /* 0: the exporter's default TTL */
};

/* Rule id: decimal 1..BF_RULE_ID_MAX, no sign, no leading zero. */
int bf_rule_id_parse(const char *s, size_t n, uint32_t *id);

/* A rule from name/value fields (the same names as the text form). Every
 * field is checked and the rule is built only if all are right: on error
 * returns -EINVAL, *out is not usable, and err says what is wrong starting
 * with the field's name ("dport: ..."). Unknown fields are refused (an edge
 * that skipped a field it does not know would apply a broader rule). */
int bf_rule_parse_fields(uint32_t id, const struct bf_field *f, size_t n,
			 struct bf_rule_def *out, char *err, size_t errlen);
/* The text form: "action drop proto udp dport 27015 payload_len 0-3", name
 * value pairs separated by spaces. Input need not be NUL-terminated. */
int bf_rule_parse(uint32_t id, const char *text, size_t n, struct bf_rule_def *out, char *err,
		  size_t errlen);
/* Canonical text (fields in a fixed order, defaults left out); parses back
 * to the same rule. Returns the length or -ENOSPC. */
int bf_rule_format(const struct bf_rule_def *r, char *buf, size_t len);
/* Whether the rule applies to the edge `id` (its `edges` is * or names it). */
bool bf_rule_applies(const struct bf_rule_def *r, const char *edge_id);

/* The name of r's first match field that selects packets, or NULL when r matches every
 * packet: no match field, or only no-ops (a /0 CIDR, a range over the field's whole
 * domain, a payload under a mask of zeros, a pps/bps threshold, which selects no packet). */
const char *bf_rule_first_match(const struct bf_rule_def *r);
/* A rule in force (enabled, not a dry run) that would drop every packet and does not say
 * `all yes`: edges refuse it from the bus, bifrostctl refuses to write it. */
bool bf_rule_unmarked_drop_all(const struct bf_rule_def *r);

#endif
