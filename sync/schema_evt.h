/* schema_evt.h - event frames: msgpack on the channel bifrost:evt:<origin>. */
#ifndef BF_SCHEMA_EVT_H
#define BF_SCHEMA_EVT_H

#include <stddef.h>
#include <stdint.h>

#include "schema_keys.h"
#include "schema_log.h"

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

#endif
