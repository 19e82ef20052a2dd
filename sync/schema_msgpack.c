/* schema_msgpack.c - msgpack frames' structure check and the helpers their codecs share. */
#include <errno.h>
#include <string.h>

#include "schema_int.h"

static int need(const uint8_t *p, const uint8_t *end, uint64_t n)
{
	return (uint64_t)(end - p) >= n ? 0 : -EINVAL;
}

static uint64_t be(const uint8_t *p, int n)
{
	uint64_t v = 0;

	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

static int mp_skip(const uint8_t **pp, const uint8_t *end, unsigned depth)
{
	const uint8_t *p = *pp;
	uint64_t count = 0, skip = 0;
	int pairs = 0;
	uint8_t b;

	if (need(p, end, 1))
		return -EINVAL;
	b = *p++;
	if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
		skip = 0;
	} else if ((b & 0xf0) == 0x80) {
		count = b & 0x0f;
		pairs = 1;
	} else if ((b & 0xf0) == 0x90) {
		count = b & 0x0f;
	} else if ((b & 0xe0) == 0xa0) {
		skip = b & 0x1f;
	} else {
		switch (b) {
		case 0xc4: case 0xd9: /* bin8, str8 */
			if (need(p, end, 1)) return -EINVAL;
			skip = p[0]; p += 1; break;
		case 0xc5: case 0xda:
			if (need(p, end, 2)) return -EINVAL;
			skip = be(p, 2); p += 2; break;
		case 0xc6: case 0xdb:
			if (need(p, end, 4)) return -EINVAL;
			skip = be(p, 4); p += 4; break;
		case 0xc7: if (need(p, end, 1)) return -EINVAL; skip = p[0] + 1ULL; p += 1; break;
		case 0xc8: if (need(p, end, 2)) return -EINVAL; skip = be(p, 2) + 1; p += 2; break;
		case 0xc9: if (need(p, end, 4)) return -EINVAL; skip = be(p, 4) + 1; p += 4; break;
		case 0xca: case 0xce: case 0xd2: skip = 4; break;
		case 0xcb: case 0xcf: case 0xd3: skip = 8; break;
		case 0xcc: case 0xd0: skip = 1; break;
		case 0xcd: case 0xd1: skip = 2; break;
		case 0xd4: skip = 2; break;
		case 0xd5: skip = 3; break;
		case 0xd6: skip = 5; break;
		case 0xd7: skip = 9; break;
		case 0xd8: skip = 17; break;
		case 0xdc: if (need(p, end, 2)) return -EINVAL; count = be(p, 2); p += 2; break;
		case 0xdd: if (need(p, end, 4)) return -EINVAL; count = be(p, 4); p += 4; break;
		case 0xde: if (need(p, end, 2)) return -EINVAL; count = be(p, 2); p += 2; pairs = 1; break;
		case 0xdf: if (need(p, end, 4)) return -EINVAL; count = be(p, 4); p += 4; pairs = 1; break;
		default: /* 0xc1: never used */
			return -EINVAL;
		}
	}
	if (need(p, end, skip))
		return -EINVAL;
	p += skip;
	if (count) {
		uint64_t items = pairs ? count * 2 : count;

		/* Every item takes at least one byte: a count the buffer cannot
		 * hold is a lie, refused before anyone allocates for it. */
		if (!depth || need(p, end, items))
			return -EINVAL;
		for (uint64_t i = 0; i < items; i++)
			if (mp_skip(&p, end, depth - 1))
				return -EINVAL;
	}
	*pp = p;
	return 0;
}

int bf_msgpack_check(const uint8_t *buf, size_t len, unsigned max_depth)
{
	const uint8_t *p = buf, *end = buf + len;

	if (!len || mp_skip(&p, end, max_depth))
		return -EINVAL;
	return p == end ? 0 : -EINVAL; /* trailing bytes */
}

void sch_pack_str(msgpack_packer *pk, const char *s)
{
	size_t n = strlen(s);

	msgpack_pack_str(pk, n);
	msgpack_pack_str_body(pk, s, n);
}

int sch_obj_str(const msgpack_object *o, char *dst, size_t cap)
{
	if (o->type != MSGPACK_OBJECT_STR)
		return -EINVAL;
	return sch_cstr(dst, cap, o->via.str.ptr, o->via.str.size);
}

int sch_unpack_map(const uint8_t *buf, size_t len, size_t max, unsigned depth,
		   const char *too_big, msgpack_unpacked *u, const char **what)
{
	size_t off = 0;

	if (len > max) {
		*what = too_big;
		return -EINVAL;
	}
	if (bf_msgpack_check(buf, len, depth)) {
		*what = "not one well-formed msgpack object";
		return -EINVAL;
	}
	msgpack_unpacked_init(u);
	if (msgpack_unpack_next(u, (const char *)buf, len, &off) != MSGPACK_UNPACK_SUCCESS ||
	    off != len || u->data.type != MSGPACK_OBJECT_MAP) {
		msgpack_unpacked_destroy(u);
		*what = "not a msgpack map";
		return -EINVAL;
	}
	return 0;
}

int sch_obj_u64s(const msgpack_object *o, uint64_t *out, uint32_t n)
{
	if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != n)
		return -EINVAL;
	for (uint32_t i = 0; i < n; i++) {
		if (o->via.array.ptr[i].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
			return -EINVAL;
		if (out)
			out[i] = o->via.array.ptr[i].via.u64;
	}
	return 0;
}
