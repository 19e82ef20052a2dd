/* schema_stats.c - stats frames: reasons, sums, hash fields and the msgpack codec. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "schema_int.h"

static const char *reason_names[BF_R_MAX] = { BF_R_NAMES };

const char *bf_reason_name(unsigned reason)
{
	return reason < BF_R_MAX ? reason_names[reason] : NULL;
}

bool bf_reason_is_drop(unsigned r)
{
	switch (r) {
	case BF_R_MALFORMED: case BF_R_FRAGMENT: case BF_R_RETURN_INVALID: case BF_R_BLOCKLIST:
	case BF_R_BLACKLIST: case BF_R_DEFAULT_DROP: case BF_R_NO_ROUTE: case BF_R_NO_NEIGH:
	case BF_R_TOO_BIG: case BF_R_RATELIMIT: case BF_R_RULE_DROP: case BF_R_ECHO_LIMIT:
		return true;
	default:
		return false;
	}
}

static void row_add(struct bf_stats_row *a, const struct bf_stats_row *b)
{
	a->pps += b->pps;
	a->bps += b->bps;
	a->packets += b->packets;
	a->bytes += b->bytes;
}

void bf_stats_sum(const struct bf_stats_frame *f, struct bf_stats_sums *s)
{
	memset(s, 0, sizeof(*s));
	for (unsigned r = 0; r < BF_R_MAX; r++) {
		/* Side counts: the packet's verdict is counted under another reason. */
		if (r == BF_R_WOULD_DROP || r == BF_R_PUNCH_NEW || r == BF_R_PROTECTED ||
		    r == BF_R_RULE_DRY_RUN)
			continue;
		row_add(&s->rx, &f->r[r]);
		if (r == BF_R_FORWARD || r == BF_R_PUNCH_HIT)
			row_add(&s->fwd, &f->r[r]);
		if (bf_reason_is_drop(r))
			row_add(&s->drop, &f->r[r]);
	}
}

static size_t put_field(struct bf_stats_field *out, size_t n, size_t cap, const char *name,
			const char *suffix, uint64_t v)
{
	if (n >= cap)
		return n;
	snprintf(out[n].name, sizeof(out[n].name), "%s%s", name, suffix);
	snprintf(out[n].val, sizeof(out[n].val), "%llu", (unsigned long long)v);
	return n + 1;
}

size_t bf_stats_hash_fields(const struct bf_stats_frame *f, struct bf_stats_field *out,
			    size_t cap)
{
	struct bf_stats_sums s;
	size_t n = 0;

	bf_stats_sum(f, &s);
	n = put_field(out, n, cap, "ts_ms", "", (uint64_t)f->ts_ms);
	n = put_field(out, n, cap, "interval_ms", "", f->interval_ms);
	n = put_field(out, n, cap, "rx_pps", "", s.rx.pps);
	n = put_field(out, n, cap, "rx_bps", "", s.rx.bps);
	n = put_field(out, n, cap, "rx_packets", "", s.rx.packets);
	n = put_field(out, n, cap, "fwd_pps", "", s.fwd.pps);
	n = put_field(out, n, cap, "fwd_bps", "", s.fwd.bps);
	n = put_field(out, n, cap, "fwd_packets", "", s.fwd.packets);
	n = put_field(out, n, cap, "drop_pps", "", s.drop.pps);
	n = put_field(out, n, cap, "drop_bps", "", s.drop.bps);
	n = put_field(out, n, cap, "drop_packets", "", s.drop.packets);
	n = put_field(out, n, cap, "conn_in_pps", "", f->conn_in_pps);
	n = put_field(out, n, cap, "conn_in_bps", "", f->conn_in_bps);
	n = put_field(out, n, cap, "conn_out_pps", "", f->conn_out_pps);
	n = put_field(out, n, cap, "conn_out_bps", "", f->conn_out_bps);
	n = put_field(out, n, cap, "sync_up", "", f->sync_up);
	n = put_field(out, n, cap, "sync_pending", "", f->sync_pending);
	n = put_field(out, n, cap, "sync_peers", "", f->sync_peers);
	n = put_field(out, n, cap, "sync_resyncs", "", f->sync_resyncs);
	n = put_field(out, n, cap, "sync_bad_records", "", f->sync_bad_records);
	n = put_field(out, n, cap, "sync_bad_frames", "", f->sync_bad_frames);
	n = put_field(out, n, cap, "stats_dropped", "", f->stats_dropped);
	n = put_field(out, n, cap, "wl_entries", "", f->wl_entries);
	n = put_field(out, n, cap, "bl_entries", "", f->bl_entries);
	for (unsigned r = 0; r < BF_R_MAX; r++) {
		n = put_field(out, n, cap, reason_names[r], "_pps", f->r[r].pps);
		n = put_field(out, n, cap, reason_names[r], "_packets", f->r[r].packets);
	}
	return n;
}

/* Frame: {"t":"stats","o":id,"ts":ms,"iv":ms,
 *         "r":[[pps,bps,packets,bytes] per reason],
 *         "c":[in_pps,in_bps,out_pps,out_bps],
 *         "s":[sync_up,pending,peers,resyncs,bad_records,bad_frames,stats_dropped,
 *              wl_entries,bl_entries]} */
#define STATS_S_FIELDS 9

int bf_stats_encode(const struct bf_stats_frame *f, uint8_t *buf, size_t len)
{
	const uint64_t s[STATS_S_FIELDS] = { f->sync_up,	  f->sync_pending,     f->sync_peers,
					     f->sync_resyncs,	  f->sync_bad_records, f->sync_bad_frames,
					     f->stats_dropped,	  f->wl_entries,       f->bl_entries };
	const uint64_t c[4] = { f->conn_in_pps, f->conn_in_bps, f->conn_out_pps, f->conn_out_bps };
	msgpack_sbuffer sb;
	msgpack_packer pk;

	if (!bf_origin_valid(f->origin) || f->ts_ms < 0)
		return -EINVAL;
	sch_pack_begin(&sb, &pk);
	msgpack_pack_map(&pk, 7);
	sch_pack_str(&pk, "t");
	sch_pack_str(&pk, "stats");
	sch_pack_str(&pk, "o");
	sch_pack_str(&pk, f->origin);
	sch_pack_str(&pk, "ts");
	msgpack_pack_int64(&pk, f->ts_ms);
	sch_pack_str(&pk, "iv");
	msgpack_pack_uint32(&pk, f->interval_ms);
	sch_pack_str(&pk, "r");
	msgpack_pack_array(&pk, BF_R_MAX);
	for (unsigned r = 0; r < BF_R_MAX; r++) {
		msgpack_pack_array(&pk, 4);
		msgpack_pack_uint64(&pk, f->r[r].pps);
		msgpack_pack_uint64(&pk, f->r[r].bps);
		msgpack_pack_uint64(&pk, f->r[r].packets);
		msgpack_pack_uint64(&pk, f->r[r].bytes);
	}
	sch_pack_str(&pk, "c");
	msgpack_pack_array(&pk, 4);
	for (unsigned i = 0; i < 4; i++)
		msgpack_pack_uint64(&pk, c[i]);
	sch_pack_str(&pk, "s");
	msgpack_pack_array(&pk, STATS_S_FIELDS);
	for (unsigned i = 0; i < STATS_S_FIELDS; i++)
		msgpack_pack_uint64(&pk, s[i]);
	return sch_pack_end(&sb, buf, len);
}

/* "r": a row of 4 counters a reason; rows past the ones we know are counted, not kept. */
static int take_rows(const struct msgpack_object *v, void *dst, const char **what)
{
	struct bf_stats_frame *out = dst;

	if (v->type != MSGPACK_OBJECT_ARRAY || v->via.array.size > BF_STATS_MAX_REASONS) {
		*what = "reason rows missing or too many";
		return -EINVAL;
	}
	out->n_reasons = v->via.array.size;
	for (uint32_t r = 0; r < v->via.array.size; r++) {
		uint64_t row[4];

		if (sch_obj_u64s(&v->via.array.ptr[r], row, 4)) {
			*what = "a reason row is not 4 counters";
			return -EINVAL;
		}
		if (r < BF_R_MAX)
			out->r[r] = (struct bf_stats_row){ row[0], row[1], row[2], row[3] };
	}
	return 0;
}

int bf_stats_decode(const uint8_t *buf, size_t len, struct bf_stats_frame *out,
		    const char **what)
{
	uint64_t s[STATS_S_FIELDS] = { 0 }, c[4] = { 0 }, ts = 0, iv = 0;
	char t[8] = "";
	enum { K_T, K_O, K_TS, K_IV, K_R, K_C, K_S };
	struct bf_msgpack_key keys[] = {
		[K_T] = { .name = "t", .type = BF_MP_STR, .dst = t, .size = sizeof(t) },
		[K_O] = { .name = "o", .type = BF_MP_STR, .dst = out->origin,
			  .size = sizeof(out->origin) },
		[K_TS] = { .name = "ts", .type = BF_MP_UINT, .dst = &ts, .max = INT64_MAX },
		[K_IV] = { .name = "iv", .type = BF_MP_UINT, .dst = &iv, .max = 3600000 },
		[K_R] = { .name = "r", .type = BF_MP_FN, .dst = out, .fn = take_rows },
		[K_C] = { .name = "c", .type = BF_MP_UINTS, .dst = c, .size = 4,
			  .bad = "connection rates are not 4 counters" },
		[K_S] = { .name = "s", .type = BF_MP_UINTS, .dst = s, .size = STATS_S_FIELDS,
			  .bad = "sync state is not 9 counters" },
	};

	memset(out, 0, sizeof(*out));
	if (bf_msgpack_walk(buf, len, BF_STATS_MAX_BYTES, 3, "stats frame larger than 4 KiB", keys,
			    sizeof(keys) / sizeof(keys[0]), what))
		return -EINVAL;
	if (strcmp(t, "stats")) {
		*what = "not a stats frame";
		return -EINVAL;
	}
	if (!bf_origin_valid(out->origin)) {
		*what = "bad or missing origin";
		return -EINVAL;
	}
	if (!keys[K_TS].seen || !keys[K_R].seen) {
		*what = "stats frame without ts or reasons";
		return -EINVAL;
	}
	out->ts_ms = (int64_t)ts;
	out->interval_ms = (uint32_t)iv;
	out->conn_in_pps = c[0];
	out->conn_in_bps = c[1];
	out->conn_out_pps = c[2];
	out->conn_out_bps = c[3];
	out->sync_up = s[0];
	out->sync_pending = s[1];
	out->sync_peers = s[2];
	out->sync_resyncs = s[3];
	out->sync_bad_records = s[4];
	out->sync_bad_frames = s[5];
	out->stats_dropped = s[6];
	out->wl_entries = s[7];
	out->bl_entries = s[8];
	return 0;
}
