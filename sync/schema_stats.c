/* schema_stats.c - stats frames: reasons, sums, hash fields and the msgpack codec. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "schema_int.h"

static const char *reason_names[BF_R_MAX] = { BF_R_NAMES };

const char *bf_reason_name(unsigned reason)
{
	return reason < BF_R_MAX ? reason_names[reason] : NULL;
}

/* Every reason's verdict; a reason added to bpf/bifrost.h without one here fails
 * tests/unit/test_schema.c (0 is no verdict). */
static const enum bf_verdict verdicts[BF_R_MAX] = {
	[BF_R_MALFORMED] = BF_V_DROP,	    [BF_R_FRAGMENT] = BF_V_DROP,
	[BF_R_NON_IPV4] = BF_V_PASS,	    [BF_R_RETURN_PATH] = BF_V_PASS,
	[BF_R_RETURN_INVALID] = BF_V_DROP,  [BF_R_WHITELIST] = BF_V_PASS,
	[BF_R_BLOCKLIST] = BF_V_DROP,	    [BF_R_BLACKLIST] = BF_V_DROP,
	[BF_R_FORWARD] = BF_V_FORWARD,	    [BF_R_PUNCH_HIT] = BF_V_FORWARD,
	[BF_R_LOCAL] = BF_V_PASS,	    [BF_R_DEFAULT_DROP] = BF_V_DROP,
	[BF_R_NO_ROUTE] = BF_V_DROP,	    [BF_R_NO_NEIGH] = BF_V_DROP,
	[BF_R_TOO_BIG] = BF_V_DROP,	    [BF_R_WOULD_DROP] = BF_V_SIDE,
	[BF_R_PUNCH_NEW] = BF_V_SIDE,	    [BF_R_RATELIMIT] = BF_V_DROP,
	[BF_R_RULE_DROP] = BF_V_DROP,	    [BF_R_PROTECTED] = BF_V_SIDE,
	[BF_R_ICMP_ECHO] = BF_V_PASS,	    [BF_R_ECHO_LIMIT] = BF_V_DROP,
	[BF_R_RULE_DRY_RUN] = BF_V_SIDE,    [BF_R_A2S_REDIRECT] = BF_V_PASS,
	[BF_R_RETURN_SPOOFED] = BF_V_DROP,  [BF_R_IPIP_REFUSED] = BF_V_DROP,
	[BF_R_BAD_CSUM] = BF_V_DROP,	    [BF_R_AMPLIFIER] = BF_V_DROP,
	[BF_R_PUNCH_REFUSED] = BF_V_SIDE,   [BF_R_OTHER_HOST] = BF_V_PASS,
	[BF_R_HANDSHAKE] = BF_V_FORWARD,    [BF_R_UNVALIDATED] = BF_V_DROP,
	[BF_R_HANDSHAKE_LIMIT] = BF_V_DROP, [BF_R_VALIDATED] = BF_V_SIDE,
	[BF_R_VALID_REFUSED] = BF_V_SIDE,
};

enum bf_verdict bf_reason_verdict(unsigned r)
{
	return r < BF_R_MAX && verdicts[r] ? verdicts[r] : BF_V_PASS;
}

const char *bf_verdict_name(enum bf_verdict v)
{
	switch (v) {
	case BF_V_DROP: return "drop";
	case BF_V_FORWARD: return "forward";
	case BF_V_SIDE: return "side";
	default: return "pass";
	}
}

bool bf_reason_is_drop(unsigned r)
{
	return bf_reason_verdict(r) == BF_V_DROP;
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
		enum bf_verdict v = bf_reason_verdict(r);

		/* Side counts: the packet's verdict is counted under another reason. */
		if (v == BF_V_SIDE)
			continue;
		row_add(&s->rx, &f->r[r]);
		if (v == BF_V_FORWARD)
			row_add(&s->fwd, &f->r[r]);
		if (v == BF_V_DROP)
			row_add(&s->drop, &f->r[r]);
	}
}

/* Frame: {"t":"stats","o":id,"ts":ms,"iv":ms,
 *         "r":[[pps,bps,packets,bytes] per reason],
 *         "c":[in_pps,in_bps,out_pps,out_bps],
 *         "s":[sync_up,pending,peers,resyncs,bad_records,bad_frames,stats_dropped,
 *              wl_entries,bl_entries]} */
#define STATS_C_FIELDS 4
#define STATS_S_FIELDS 9
#define STATS_COUNTERS (STATS_C_FIELDS + STATS_S_FIELDS)

/* The counters of "c" then "s", in frame order, under their hash field names:
 * one list for the encoder, the decoder and the hash. */
static const struct {
	const char *name;
	size_t off;
} counters[STATS_COUNTERS] = {
#define CTR(m) { #m, offsetof(struct bf_stats_frame, m) }
	CTR(conn_in_pps),      CTR(conn_in_bps),     CTR(conn_out_pps),  CTR(conn_out_bps),
	CTR(sync_up),          CTR(sync_pending),    CTR(sync_peers),    CTR(sync_resyncs),
	CTR(sync_bad_records), CTR(sync_bad_frames), CTR(stats_dropped), CTR(wl_entries),
	CTR(bl_entries),
#undef CTR
};

static uint64_t counter(const struct bf_stats_frame *f, size_t i)
{
	return *(const uint64_t *)((const char *)f + counters[i].off);
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
	static const char *const sum_names[] = { "rx", "fwd", "drop" };
	struct bf_stats_sums s;
	const struct bf_stats_row *sums[] = { &s.rx, &s.fwd, &s.drop };
	size_t n = 0;

	bf_stats_sum(f, &s);
	n = put_field(out, n, cap, "ts_ms", "", (uint64_t)f->ts_ms);
	n = put_field(out, n, cap, "interval_ms", "", f->interval_ms);
	for (size_t i = 0; i < sizeof(sums) / sizeof(sums[0]); i++) {
		n = put_field(out, n, cap, sum_names[i], "_pps", sums[i]->pps);
		n = put_field(out, n, cap, sum_names[i], "_bps", sums[i]->bps);
		n = put_field(out, n, cap, sum_names[i], "_packets", sums[i]->packets);
	}
	for (size_t i = 0; i < STATS_COUNTERS; i++)
		n = put_field(out, n, cap, counters[i].name, "", counter(f, i));
	for (unsigned r = 0; r < BF_R_MAX; r++) {
		n = put_field(out, n, cap, reason_names[r], "_pps", f->r[r].pps);
		n = put_field(out, n, cap, reason_names[r], "_packets", f->r[r].packets);
	}
	return n;
}

/* An array of the counters [from, to). */
static void pack_counters(msgpack_packer *pk, const struct bf_stats_frame *f, size_t from,
			  size_t to)
{
	msgpack_pack_array(pk, (uint32_t)(to - from));
	for (size_t i = from; i < to; i++)
		msgpack_pack_uint64(pk, counter(f, i));
}

int bf_stats_encode(const struct bf_stats_frame *f, uint8_t *buf, size_t len)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;

	if (!bf_origin_valid(f->origin) || f->ts_ms < 0)
		return -EINVAL;
	sch_pack_begin(&sb, &pk, 7, "stats", f->origin);
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
	pack_counters(&pk, f, 0, STATS_C_FIELDS);
	sch_pack_str(&pk, "s");
	pack_counters(&pk, f, STATS_C_FIELDS, STATS_COUNTERS);
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
	uint64_t ctr[STATS_COUNTERS] = { 0 }, ts = 0, iv = 0;
	char t[8] = "";
	enum { K_T, K_O, K_TS, K_IV, K_R, K_C, K_S };
	struct bf_msgpack_key keys[] = {
		[K_T] = { .name = "t", .type = BF_MP_STR, .dst = t, .size = sizeof(t) },
		[K_O] = { .name = "o", .type = BF_MP_STR, .dst = out->origin,
			  .size = sizeof(out->origin) },
		[K_TS] = { .name = "ts", .type = BF_MP_UINT, .dst = &ts, .max = INT64_MAX },
		[K_IV] = { .name = "iv", .type = BF_MP_UINT, .dst = &iv, .max = 3600000 },
		[K_R] = { .name = "r", .type = BF_MP_FN, .dst = out, .fn = take_rows },
		[K_C] = { .name = "c", .type = BF_MP_UINTS, .dst = ctr, .size = STATS_C_FIELDS,
			  .bad = "connection rates are not 4 counters" },
		[K_S] = { .name = "s", .type = BF_MP_UINTS, .dst = ctr + STATS_C_FIELDS,
			  .size = STATS_S_FIELDS,
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
	for (size_t i = 0; i < STATS_COUNTERS; i++)
		*(uint64_t *)((char *)out + counters[i].off) = ctr[i];
	return 0;
}
