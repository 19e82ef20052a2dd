/* schema_msgpack.h - the structure check every msgpack frame passes before msgpack-c reads it. */
#ifndef BF_SCHEMA_MSGPACK_H
#define BF_SCHEMA_MSGPACK_H

#include <stddef.h>
#include <stdint.h>

/* Structural check of a msgpack buffer: exactly one object, depth and counts
 * bounded by the bytes present. 0 or -EINVAL. Exposed for tests. */
int bf_msgpack_check(const uint8_t *buf, size_t len, unsigned max_depth);

#endif
