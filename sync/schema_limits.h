/* schema_limits.h - what a connection allows one source: per-source limits, presets, rates. */
#ifndef BF_SCHEMA_LIMITS_H
#define BF_SCHEMA_LIMITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "schema_field.h"

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

#endif
