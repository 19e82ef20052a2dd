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
	int rc = -ENOSPC;

	if (e->type < BF_EVT_ENTRY || e->type > BF_EVT_EDGE_DOWN || !bf_origin_valid(e->origin))
		return -EINVAL;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	if (e->type == BF_EVT_ENTRY) {
		if (bf_entry_format(&e->rec.entry, entry, sizeof(entry)) < 0) {
			msgpack_sbuffer_destroy(&sb);
			return -EINVAL;
		}
		msgpack_pack_map(&pk, 8);
		sch_pack_str(&pk, "t");
		sch_pack_str(&pk, "entry");
		sch_pack_str(&pk, "o");
		sch_pack_str(&pk, e->origin);
		sch_pack_str(&pk, "k");
		sch_pack_str(&pk, bf_kind_name(e->rec.entry.kind));
		sch_pack_str(&pk, "op");
		sch_pack_str(&pk, e->rec.op == BF_OP_ADD ? "add" : "del");
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
		msgpack_pack_map(&pk, 3);
		sch_pack_str(&pk, "t");
		sch_pack_str(&pk, evt_names[e->type]);
		sch_pack_str(&pk, "o");
		sch_pack_str(&pk, e->origin);
		sch_pack_str(&pk, "v");
		sch_pack_str(&pk, e->version);
	}
	if (sb.size <= len) {
		memcpy(buf, sb.data, sb.size);
		rc = (int)sb.size;
	}
	msgpack_sbuffer_destroy(&sb);
	return rc;
}

int bf_evt_decode(const uint8_t *buf, size_t len, int64_t now_ms, struct bf_evt *out,
		  const char **what)
{
	char t[8] = "", kind[8] = "", op[4] = "", entry[BF_ENTRY_MAX + 1] = "";
	bool have_x = false, have_s = false, inf = false;
	msgpack_unpacked u;
	int64_t x = 0;
	int rc = -EINVAL, k;

	memset(out, 0, sizeof(*out));
	if (sch_unpack_map(buf, len, BF_EVT_MAX_BYTES, 2, "frame larger than 1 KiB", &u, what))
		return -EINVAL;
	*what = "bad field";
	for (uint32_t i = 0; i < u.data.via.map.size; i++) {
		const msgpack_object *key = &u.data.via.map.ptr[i].key;
		const msgpack_object *val = &u.data.via.map.ptr[i].val;
		char name[4];

		if (sch_obj_str(key, name, sizeof(name)))
			continue; /* unknown long keys are ignored */
		if (!strcmp(name, "t") && sch_obj_str(val, t, sizeof(t)))
			goto out;
		if (!strcmp(name, "o") && sch_obj_str(val, out->origin, sizeof(out->origin)))
			goto out;
		if (!strcmp(name, "k") && sch_obj_str(val, kind, sizeof(kind)))
			goto out;
		if (!strcmp(name, "op") && sch_obj_str(val, op, sizeof(op)))
			goto out;
		if (!strcmp(name, "e") && sch_obj_str(val, entry, sizeof(entry)))
			goto out;
		if (!strcmp(name, "w") && sch_obj_str(val, out->rec.why, sizeof(out->rec.why)))
			goto out;
		if (!strcmp(name, "v") && sch_obj_str(val, out->version, sizeof(out->version)))
			goto out;
		if (!strcmp(name, "x")) {
			have_x = true;
			if (val->type == MSGPACK_OBJECT_NIL)
				inf = true;
			else if (val->type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
				 val->via.u64 < (uint64_t)INT64_MAX)
				x = (int64_t)val->via.u64;
			else
				goto out;
		}
		if (!strcmp(name, "s")) {
			if (val->type != MSGPACK_OBJECT_POSITIVE_INTEGER || !val->via.u64)
				goto out;
			out->rec.seq = val->via.u64;
			have_s = true;
		}
	}
	if (!bf_origin_valid(out->origin)) {
		*what = "bad or missing origin";
		goto out;
	}
	if (!sch_no_controls(out->rec.why, strlen(out->rec.why)) ||
	    !sch_no_controls(out->version, strlen(out->version))) {
		*what = "control characters in why or version";
		goto out;
	}
	if (!strcmp(t, "up") || !strcmp(t, "down")) {
		out->type = t[0] == 'u' ? BF_EVT_EDGE_UP : BF_EVT_EDGE_DOWN;
		rc = 0;
		goto out;
	}
	if (strcmp(t, "entry")) {
		*what = "unknown event type";
		goto out;
	}
	out->type = BF_EVT_ENTRY;
	k = bf_kind_parse(kind);
	if (k < 0 || !have_s || (strcmp(op, "add") && strcmp(op, "del"))) {
		*what = "entry event without kind, op or seq";
		goto out;
	}
	out->rec.op = op[0] == 'a' ? BF_OP_ADD : BF_OP_DEL;
	if (bf_entry_parse((enum bf_kind)k, entry, strlen(entry), &out->rec.entry)) {
		*what = "malformed entry";
		goto out;
	}
	out->rec.exp_ms = BF_EXP_INF;
	if (out->rec.op == BF_OP_ADD) {
		if (!have_x) {
			*what = "add without expiry";
			goto out;
		}
		if (!inf) {
			if (x <= now_ms || x - now_ms > BF_EXP_HORIZON_MS) {
				*what = "expiry in the past or absurdly far";
				goto out;
			}
			out->rec.exp_ms = x;
		}
	}
	rc = 0;
out:
	msgpack_unpacked_destroy(&u);
	return rc;
}
