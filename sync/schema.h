/* schema.h - the Redis schema of DESIGN §3 as pure functions: key names,
 * entry (member) formats, change-log records and event frames. Nothing here
 * talks to Redis; everything read from Redis is validated here first. */
#ifndef BF_SCHEMA_H
#define BF_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "bifrost.h" /* BF_RF_*, BF_RULE_*: the rule fields XDP compares */

#define BF_PREFIX_DEFAULT "bifrost:"
#define BF_PREFIX_MAX 32
#define BF_ORIGIN_MAX 63
#define BF_KEY_MAX 192
#define BF_ENTRY_MAX 96  /* longest member text: a punch */
#define BF_WHY_MAX 64
#define BF_EXP_INF INT64_MAX /* permanent */
/* Expiries beyond this horizon are refused as garbage (not "+inf"). */
#define BF_EXP_HORIZON_MS (10LL * 366 * 86400 * 1000)

enum bf_kind { BF_KIND_WL = 0, BF_KIND_BL, BF_KIND_PUNCH, BF_KIND_MAX };

const char *bf_kind_name(enum bf_kind k);   /* "wl", "bl", "punch" */
int bf_kind_parse(const char *s);           /* or -EINVAL */

/* Origin: an edge id or "ops". Same alphabet as edge ids. */
bool bf_origin_valid(const char *s);

/* ---- key names; each returns the length, or -ENAMETOOLONG/-EINVAL ---- */
int bf_key_list(char *buf, size_t len, const char *prefix, enum bf_kind k, const char *origin);
int bf_key_log(char *buf, size_t len, const char *prefix, enum bf_kind k, const char *origin);
int bf_key_edge(char *buf, size_t len, const char *prefix, const char *id);
int bf_key_edges(char *buf, size_t len, const char *prefix);
int bf_key_evt(char *buf, size_t len, const char *prefix, const char *origin);
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
/* The kind, address and port a cache key names (port 1-65535). 0 or -EINVAL. */
int bf_key_a2s_parse(const char *key, size_t n, const char *prefix, enum bf_a2s_key *k,
		     uint32_t *ip, uint16_t *port);

/* ---- entries (ZSET members, the `entry` field of log records) ---- */

struct bf_punch {
	uint8_t proto;          /* IPPROTO_UDP or IPPROTO_TCP */
	uint16_t remote_port;   /* host order */
	uint16_t bind_port;
	uint32_t remote_ip;     /* network order */
	uint32_t bind_ip;
	uint32_t machine_ip;
};

struct bf_entry {
	enum bf_kind kind;
	union {
		struct bf_cidr cidr;   /* wl, bl */
		struct bf_punch punch; /* punch */
	};
};

/* wl/bl: a CIDR (host bits must be clear) or a bare address (= /32).
 * punch: "udp 198.51.100.34:5000 203.0.113.10:40000 via 198.18.3.2"
 * (remote, bind address, machine). Input need not be NUL-terminated. */
int bf_entry_parse(enum bf_kind k, const char *s, size_t n, struct bf_entry *out);
/* Canonical text; returns its length or -ENOSPC. */
int bf_entry_format(const struct bf_entry *e, char *buf, size_t len);

struct bf_field; /* a name/value pair from Redis (below, with the log records) */

/* ---- per-source limits of a connection ---- */

#define BF_LIMIT_PPS_MAX 100000000ULL      /* 1e8 packets/s */
#define BF_LIMIT_BPS_MAX 100000000000ULL   /* 1e11 bytes/s */
#define BF_LIMIT_BLOCK_MAX_MS (7ULL * 86400000) /* a week */
#define BF_LIMIT_BURST_MAX_MS 10000ULL
#define BF_LIMIT_BLOCK_DEFAULT_MS 30000    /* Kilimanjaro's default */
#define BF_LIMIT_BURST_DEFAULT_MS 100
#define BF_PRESET_MAX 15

/* What a connection allows one source (lib/ratelimit.h has the exact
 * semantics). All zero: no limits. */
struct bf_limits {
	uint32_t pps;          /* packets/s, 0 = none */
	uint64_t bps;          /* bytes/s (IPv4 total length), 0 = none */
	uint32_t block_ms;     /* a source over a limit is blocked this long; 0 = drop the excess only */
	uint32_t burst_ms;     /* how far ahead of its rate a source may run */
	bool share_bans;       /* user space may publish this connection's bans to the fleet */
	char preset[BF_PRESET_MAX + 1]; /* the preset it started from, "" if none */
};

/* Limits nobody asked for: none, with the defaults for block, burst and
 * sharing in place should a limit be set. */
void bf_limits_init(struct bf_limits *l);
bool bf_limits_any(const struct bf_limits *l);

/* The presets by name ("source", "rust", "gmod"), for a connection of
 * protocol `proto`. -EINVAL for an unknown name. */
int bf_limits_preset(const char *name, int proto, struct bf_limits *out);
/* "source, rust, gmod": for messages and --help. */
const char *bf_limits_preset_names(void);

/* Applies limit fields (`pps`, `bps`, `block`, `burst`, `preset`,
 * `share_bans`) to *l: the preset first, whatever the order, then the
 * others on top. Other field names are skipped (the caller owns them). On
 * error returns -EINVAL and sets *what to a message that starts with the
 * field's name. */
int bf_limits_parse_fields(const struct bf_field *f, size_t n, int proto, struct bf_limits *l,
			   const char **what);
/* "[preset rust ]pps 5000 bps 0 block 30s burst 100ms share_bans yes": every
 * value, so it parses back to the same limits; "" when there are none.
 * Returns the length or -ENOSPC. */
int bf_limits_format(const struct bf_limits *l, char *buf, size_t len);
/* Whether a field is one of the limit fields above. */
bool bf_field_is_limit(const struct bf_field *f);

/* Packet or byte rate: digits with an optional k, m or g (x1000). */
int bf_parse_rate(const char *s, uint64_t max, uint64_t *out);

/* ---- connections: bifrost:conn:<proto>:<ip>:<port> (HASH) ---- */

struct bf_conn {
	uint8_t proto;         /* IPPROTO_* */
	uint16_t bind_port;    /* host order; 0 for ICMP */
	uint16_t machine_port; /* host order; 0 = same as bind_port */
	uint32_t bind_ip;      /* network order */
	uint32_t machine_ip;   /* network order */
	bool a2s;              /* A2S_INFO answered from the fleet cache (udp only) */
	struct bf_limits limits;
};

/* A connection as people write it: "udp" "203.0.113.10:27015"
 * "198.18.3.2[:27016]", or "icmp" "203.0.113.10" "198.18.3.2". On error
 * returns -EINVAL and says what is wrong in err. */
int bf_conn_parse(const char *proto, const char *bind, const char *machine, struct bf_conn *out,
		  char *err, size_t errlen);

/* The proto, bind address and port named by a connection key. */
int bf_conn_parse_key(const char *key, size_t n, const char *prefix, struct bf_conn *out);
/* The hash's fields: `machine` (a.b.c.d, required), `port` (1-65535,
 * optional), `a2s` (0 or 1, optional, udp only), the limit fields of
 * bf_limits_parse_fields; others are ignored. -EINVAL with *what set
 * (naming the field). */
int bf_conn_parse_fields(const struct bf_field *f, size_t n, struct bf_conn *c,
			 const char **what);

/* ---- firewall rules: bifrost:rules (HASH: rule id -> rule text) ---- */

#define BF_RULE_ID_MAX 1000000
#define BF_RULE_TEXT_MAX 1024  /* longest rule text accepted */
#define BF_RULE_EDGES_MAX 255  /* longest `edges` value */
#define BF_RULE_RATE_MAX 100000000000ULL /* pps/bps thresholds */

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
};

int bf_key_rules(char *buf, size_t len, const char *prefix);
/* bifrost:protect (SET of CIDRs): prefixes no ban, blacklist entry or drop
 * rule may ever block. */
int bf_key_protect(char *buf, size_t len, const char *prefix);

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

/* ---- expiry ---- */

/* Score or `exp` field: "+inf"/"inf" or integer milliseconds since the
 * epoch. Refuses values in the past (before now_ms) and beyond the horizon.
 * -EINVAL for garbage, -ESTALE for the past, -ERANGE for too far. */
int bf_exp_parse(const char *s, size_t n, int64_t now_ms, int64_t *exp_ms);
int bf_exp_format(int64_t exp_ms, char *buf, size_t len); /* "+inf" or digits */

/* ---- change-log records (stream entries) ---- */

enum bf_op { BF_OP_ADD = 0, BF_OP_DEL = 1 };

struct bf_log_rec {
	enum bf_op op;
	struct bf_entry entry;
	int64_t exp_ms;         /* BF_EXP_INF for permanent; ignored for del */
	uint64_t seq;           /* per (kind, origin), contiguous from 1 */
	char why[BF_WHY_MAX + 1];
};

struct bf_field {
	const char *name;
	size_t name_len;
	const char *val;
	size_t val_len;
};

/* Validates one stream entry's fields (any order; unknown fields ignored;
 * duplicates refused). On error returns -EINVAL/-ESTALE/-ERANGE and sets
 * *what to a short static description for the log. */
int bf_log_rec_parse(enum bf_kind k, const struct bf_field *f, size_t n, int64_t now_ms,
		     struct bf_log_rec *out, const char **what);

/* ---- event frames (msgpack, on bifrost:evt:<origin>) ---- */

enum bf_evt_type { BF_EVT_ENTRY = 1, BF_EVT_EDGE_UP, BF_EVT_EDGE_DOWN };

struct bf_evt {
	enum bf_evt_type type;
	char origin[BF_ORIGIN_MAX + 1];
	/* BF_EVT_ENTRY only: */
	struct bf_log_rec rec;
	/* edge up/down: */
	char version[32];
};

#define BF_EVT_MAX_BYTES 1024

/* Encodes with msgpack-c into buf; returns the length or -ENOSPC. */
int bf_evt_encode(const struct bf_evt *e, uint8_t *buf, size_t len);
/* Validates the frame's structure before msgpack-c sees it (every count and
 * length checked against the bytes that remain), then decodes and checks
 * types and ranges. -EINVAL with *what set on any fault. */
int bf_evt_decode(const uint8_t *buf, size_t len, int64_t now_ms, struct bf_evt *out,
		  const char **what);

/* ---- stats frames: bifrost:stats:<id> (HASH and channel, msgpack), history
 * in the stream bifrost:log:stats:<id> ---- */

#include "bifrost.h" /* BF_R_MAX, BF_R_NAMES: the reasons are the frame's rows */

#define BF_STATS_MAX_BYTES 4096  /* a frame is ~600 bytes; larger is refused unread */
#define BF_STATS_MAX_REASONS 64  /* a newer edge may send more rows than we know */

struct bf_stats_row {
	uint64_t pps, bps;        /* per second over the last interval; bps = bits/s */
	uint64_t packets, bytes;  /* totals since the counters were created */
};

struct bf_stats_frame {
	char origin[BF_ORIGIN_MAX + 1];
	int64_t ts_ms;            /* wall clock of the sample */
	uint32_t interval_ms;     /* what the rates were measured over */
	uint32_t n_reasons;       /* rows the sender had (we keep the first BF_R_MAX) */
	struct bf_stats_row r[BF_R_MAX]; /* indexed by enum bf_reason */
	uint64_t conn_in_pps, conn_in_bps, conn_out_pps, conn_out_bps;
	/* the sender's sync and table state */
	uint64_t sync_up, sync_pending, sync_peers, sync_resyncs, sync_bad_records,
		sync_bad_frames, stats_dropped, wl_entries, bl_entries;
};

/* Sums of a frame's rows: rx is every verdict (not would_drop, punch_new,
 * protected or rule_dry_run, which count beside one), fwd is player -> game
 * server (forward, punch_hit), drop every dropping reason (rate limits and
 * drop rules included). */
struct bf_stats_sums {
	struct bf_stats_row rx, fwd, drop;
};
void bf_stats_sum(const struct bf_stats_frame *f, struct bf_stats_sums *s);
bool bf_reason_is_drop(unsigned reason);
const char *bf_reason_name(unsigned reason); /* NULL past BF_R_MAX */

int bf_key_stats(char *buf, size_t len, const char *prefix, const char *id);
int bf_key_stats_log(char *buf, size_t len, const char *prefix, const char *id);

/* The HASH's fields as name/value strings (docs/REDIS.md lists them); returns
 * how many were written (at most cap). */
#define BF_STATS_FIELD_MAX 32
struct bf_stats_field {
	char name[BF_STATS_FIELD_MAX];
	char val[24];
};
#define BF_STATS_HASH_FIELDS (24 + 2 * BF_R_MAX)
size_t bf_stats_hash_fields(const struct bf_stats_frame *f, struct bf_stats_field *out,
			    size_t cap);

int bf_stats_encode(const struct bf_stats_frame *f, uint8_t *buf, size_t len);
/* Same discipline as bf_evt_decode: size and structure checked before
 * msgpack-c allocates. -EINVAL with *what set. */
int bf_stats_decode(const uint8_t *buf, size_t len, struct bf_stats_frame *out,
		    const char **what);

/* Structural check of a msgpack buffer: exactly one object, depth and counts
 * bounded by the bytes present. 0 or -EINVAL. Exposed for tests. */
int bf_msgpack_check(const uint8_t *buf, size_t len, unsigned max_depth);

#endif
