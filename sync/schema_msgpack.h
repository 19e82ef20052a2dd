/* schema_msgpack.h - msgpack frames: the structure check and the one map walker decoders share. */
#ifndef BF_SCHEMA_MSGPACK_H
#define BF_SCHEMA_MSGPACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct msgpack_object; /* msgpack.h, needed only by the callbacks' files */

/* Structural check of a msgpack buffer: exactly one object, depth and counts
 * bounded by the bytes present. 0 or -EINVAL. Exposed for tests. */
int bf_msgpack_check(const uint8_t *buf, size_t len, unsigned max_depth);

/* How the walk takes a key's value. */
enum bf_msgpack_type {
	BF_MP_STR,      /* a string shorter than size, no NUL, into the char[size] at dst */
	BF_MP_UINT,     /* a non-negative integer in [min, max] into the uint64_t at dst */
	BF_MP_UINT_NIL, /* the same, or nil: then .nil is set and dst is left alone */
	BF_MP_UINTS,    /* exactly size non-negative integers into the uint64_t[size] at dst */
	BF_MP_FN,       /* fn(value, dst, what): 0, or -EINVAL with *what set */
};

/* One key a frame's map may hold. */
struct bf_msgpack_key {
	const char *name;       /* 1-3 bytes: a longer key is never one of ours */
	enum bf_msgpack_type type;
	void *dst;
	size_t size;
	uint64_t min, max;      /* BF_MP_UINT, BF_MP_UINT_NIL */
	const char *bad;        /* *what when the value is refused; NULL: "bad field" */
	int (*fn)(const struct msgpack_object *val, void *dst, const char **what);
	bool seen, nil;         /* set by the walk; start them false */
};

/* The one way a frame is read: at most max_len bytes (else *what is
 * too_big), checked by bf_msgpack_check to `depth` before msgpack-c sees it
 * (so a count or length the bytes cannot hold costs no allocation), one
 * map. Each value is taken as keys[] says, in the map's order; a key that
 * is no string or that no entry names is skipped (newer senders add keys);
 * one of ours given twice is refused.
 * Everything is copied out: nothing of msgpack-c's outlives the call.
 * 0, or -EINVAL with *what set. */
int bf_msgpack_walk(const uint8_t *buf, size_t len, size_t max_len, unsigned depth,
		    const char *too_big, struct bf_msgpack_key *keys, size_t n,
		    const char **what);

#endif
