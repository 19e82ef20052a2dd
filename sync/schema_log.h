/* schema_log.h - change-log records (stream entries) and the expiry they and the lists carry. */
#ifndef BF_SCHEMA_LOG_H
#define BF_SCHEMA_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "schema_entry.h"
#include "schema_field.h"

#define BF_WHY_MAX 64
#define BF_EXP_INF INT64_MAX /* permanent */
/* Expiries beyond this horizon are refused as garbage (not "+inf"). */
#define BF_EXP_HORIZON_MS (10LL * 366 * 86400 * 1000)

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

/* Validates one stream entry's fields (any order; unknown fields ignored;
 * duplicates refused). On error returns -EINVAL/-ESTALE/-ERANGE and sets
 * *what to a short static description for the log. */
int bf_log_rec_parse(enum bf_kind k, const struct bf_field *f, size_t n, int64_t now_ms,
		     struct bf_log_rec *out, const char **what);

#endif
