/* schema_evt.c - event frames: encode and decode the msgpack on bifrost:evt:<origin>. */
#include <errno.h>
#include <string.h>

#include "schema_int.h"

static const char *evt_names[] = { NULL, "entry", "up", "down" };

int bf_evt_encode(const struct bf_evt *e, uint8_t *buf, size_t len)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	char entry[BF_ENTRY_MAX + 1];

	if (e->type < BF_EVT_ENTRY || e->type > BF_EVT_EDGE_DOWN || !bf_origin_valid(e->origin))
		return -EINVAL;
	if (e->type == BF_EVT_ENTRY && bf_entry_format(&e->rec.entry, entry, sizeof(entry)) < 0)
		return -EINVAL;
	sch_pack_begin(&sb, &pk, e->type == BF_EVT_ENTRY ? 8 : 3, evt_names[e->type], e->origin);
	if (e->type == BF_EVT_ENTRY) {
		sch_pack_str(&pk, "k");
		sch_pack_str(&pk, bf_kind_name(e->rec.entry.kind));
		sch_pack_str(&pk, "op");
		sch_pack_str(&pk, sch_op_name(e->rec.op));
		sch_pack_str(&pk, "e");
		sch_pack_str(&pk, entry);
		sch_pack_str(&pk, "x"); /* expiry ms; nil = permanent */
		if (e->rec.exp_ms == BF_EXP_INF)
			msgpack_pack_nil(&pk);
		else
			msgpack_pack_int64(&pk, e->rec.exp_ms);
		sch_pack_str(&pk, "s");
		msgpack_pack_uint64(&pk, e->rec.seq);
		sch_pack_str(&pk, "w");
		sch_pack_str(&pk, e->rec.why);
	} else {
		sch_pack_str(&pk, "v");
		sch_pack_str(&pk, e->version);
	}
	return sch_pack_end(&sb, buf, len);
}

int bf_evt_decode(const uint8_t *buf, size_t len, int64_t now_ms, struct bf_evt *out,
		  const char **what)
{
	char t[8] = "", kind[8] = "", op[4] = "", entry[BF_ENTRY_MAX + 1] = "";
	uint64_t x = 0;
	int k;
	enum { K_T, K_O, K_K, K_OP, K_E, K_W, K_V, K_X, K_S };
	struct bf_msgpack_key keys[] = {
		[K_T] = { .name = "t", .type = BF_MP_STR, .dst = t, .size = sizeof(t) },
		[K_O] = { .name = "o", .type = BF_MP_STR, .dst = out->origin,
			  .size = sizeof(out->origin) },
		[K_K] = { .name = "k", .type = BF_MP_STR, .dst = kind, .size = sizeof(kind) },
		[K_OP] = { .name = "op", .type = BF_MP_STR, .dst = op, .size = sizeof(op) },
		[K_E] = { .name = "e", .type = BF_MP_STR, .dst = entry, .size = sizeof(entry) },
		[K_W] = { .name = "w", .type = BF_MP_STR, .dst = out->rec.why,
			  .size = sizeof(out->rec.why) },
		[K_V] = { .name = "v", .type = BF_MP_STR, .dst = out->version,
			  .size = sizeof(out->version) },
		/* expiry ms, nil = permanent */
		[K_X] = { .name = "x", .type = BF_MP_UINT_NIL, .dst = &x, .max = INT64_MAX - 1 },
		[K_S] = { .name = "s", .type = BF_MP_UINT, .dst = &out->rec.seq, .min = 1,
			  .max = UINT64_MAX },
	};

	memset(out, 0, sizeof(*out));
	if (bf_msgpack_walk(buf, len, BF_EVT_MAX_BYTES, 2, "frame larger than 1 KiB", keys,
			    sizeof(keys) / sizeof(keys[0]), what))
		return -EINVAL;
	if (!bf_origin_valid(out->origin)) {
		*what = "bad or missing origin";
		return -EINVAL;
	}
	if (!sch_no_controls(out->rec.why, strlen(out->rec.why)) ||
	    !sch_no_controls(out->version, strlen(out->version))) {
		*what = "control characters in why or version";
		return -EINVAL;
	}
	if (!strcmp(t, "up") || !strcmp(t, "down")) {
		out->type = t[0] == 'u' ? BF_EVT_EDGE_UP : BF_EVT_EDGE_DOWN;
		return 0;
	}
	if (strcmp(t, "entry")) {
		*what = "unknown event type";
		return -EINVAL;
	}
	out->type = BF_EVT_ENTRY;
	k = bf_kind_parse(kind);
	if (k < 0 || !keys[K_S].seen || sch_op_parse(op, strlen(op), &out->rec.op)) {
		*what = "entry event without kind, op or seq";
		return -EINVAL;
	}
	if (bf_entry_parse((enum bf_kind)k, entry, strlen(entry), &out->rec.entry)) {
		*what = "malformed entry";
		return -EINVAL;
	}
	out->rec.exp_ms = BF_EXP_INF;
	if (out->rec.op == BF_OP_ADD) {
		if (!keys[K_X].seen) {
			*what = "add without expiry";
			return -EINVAL;
		}
		if (!keys[K_X].nil) {
			if (sch_exp_check((int64_t)x, now_ms)) {
				*what = "expiry in the past or absurdly far";
				return -EINVAL;
			}
			out->rec.exp_ms = (int64_t)x;
		}
	}
	return 0;
}
