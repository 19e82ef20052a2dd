/* schema_msgpack.c - msgpack frames: structure check, the one map walker, the encoders' helpers. */
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

void sch_pack_begin(msgpack_sbuffer *sb, msgpack_packer *pk, uint32_t n, const char *type,
		    const char *origin)
{
	msgpack_sbuffer_init(sb);
	msgpack_packer_init(pk, sb, msgpack_sbuffer_write);
	msgpack_pack_map(pk, n);
	sch_pack_str(pk, "t");
	sch_pack_str(pk, type);
	sch_pack_str(pk, "o");
	sch_pack_str(pk, origin);
}

int sch_pack_end(msgpack_sbuffer *sb, uint8_t *buf, size_t len)
{
	int rc = -ENOSPC;

	if (sb->size <= len) {
		memcpy(buf, sb->data, sb->size);
		rc = (int)sb->size;
	}
	msgpack_sbuffer_destroy(sb);
	return rc;
}

void sch_pack_str(msgpack_packer *pk, const char *s)
{
	size_t n = strlen(s);

	msgpack_pack_str(pk, n);
	msgpack_pack_str_body(pk, s, n);
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

static int obj_str(const msgpack_object *o, char *dst, size_t cap)
{
	if (o->type != MSGPACK_OBJECT_STR)
		return -EINVAL;
	return sch_cstr(dst, cap, o->via.str.ptr, o->via.str.size);
}

/* One value as its key's entry says. 0 or -EINVAL. */
static int take(struct bf_msgpack_key *k, const msgpack_object *v, const char **what)
{
	switch (k->type) {
	case BF_MP_STR:
		return obj_str(v, k->dst, k->size);
	case BF_MP_UINT_NIL:
		if (v->type == MSGPACK_OBJECT_NIL) {
			k->nil = true;
			return 0;
		}
		/* fall through */
	case BF_MP_UINT:
		if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER || v->via.u64 < k->min ||
		    v->via.u64 > k->max)
			return -EINVAL;
		*(uint64_t *)k->dst = v->via.u64;
		return 0;
	case BF_MP_UINTS:
		return sch_obj_u64s(v, k->dst, (uint32_t)k->size);
	case BF_MP_FN:
		return k->fn(v, k->dst, what);
	}
	return -EINVAL;
}

static int walk(const msgpack_object *map, struct bf_msgpack_key *keys, size_t n,
		const char **what)
{
	/* Left in place on success too, as the decoders always did: callers
	 * read *what only on error. */
	*what = "bad field";
	for (uint32_t i = 0; i < map->via.map.size; i++) {
		const msgpack_object_kv *kv = &map->via.map.ptr[i];
		struct bf_msgpack_key *k = NULL;
		char name[4];

		if (obj_str(&kv->key, name, sizeof(name)))
			continue; /* unknown long keys are ignored */
		for (size_t j = 0; j < n && !k; j++)
			if (!strcmp(name, keys[j].name))
				k = &keys[j];
		if (!k)
			continue;
		/* One value a key: first-wins and last-wins readers would
		 * disagree on a frame that names a key twice. */
		if (k->seen) {
			*what = "a key appears twice";
			return -EINVAL;
		}
		k->seen = true;
		if (take(k, &kv->val, what)) {
			if (k->type != BF_MP_FN)
				*what = k->bad ? k->bad : "bad field";
			return -EINVAL;
		}
	}
	return 0;
}

int bf_msgpack_walk(const uint8_t *buf, size_t len, size_t max_len, unsigned depth,
		    const char *too_big, struct bf_msgpack_key *keys, size_t n,
		    const char **what)
{
	msgpack_unpacked u;
	size_t off = 0;
	int rc;

	if (len > max_len) {
		*what = too_big;
		return -EINVAL;
	}
	if (bf_msgpack_check(buf, len, depth)) {
		*what = "not one well-formed msgpack object";
		return -EINVAL;
	}
	msgpack_unpacked_init(&u);
	if (msgpack_unpack_next(&u, (const char *)buf, len, &off) != MSGPACK_UNPACK_SUCCESS ||
	    off != len || u.data.type != MSGPACK_OBJECT_MAP) {
		msgpack_unpacked_destroy(&u);
		*what = "not a msgpack map";
		return -EINVAL;
	}
	rc = walk(&u.data, keys, n, what);
	msgpack_unpacked_destroy(&u);
	return rc;
}
