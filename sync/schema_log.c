/* schema_log.c - expiry values and change-log records (stream entries). */
#include <errno.h>
#include <string.h>

#include "schema_int.h"

/* ---- expiry ---- */

int sch_exp_check(int64_t exp_ms, int64_t now_ms)
{
	if (exp_ms <= now_ms)
		return -ESTALE;
	if (exp_ms - now_ms > BF_EXP_HORIZON_MS)
		return -ERANGE;
	return 0;
}

int bf_exp_parse(const char *s, size_t n, int64_t now_ms, int64_t *exp_ms)
{
	char buf[24];
	uint64_t v;
	int rc;

	if (sch_cstr(buf, sizeof(buf), s, n))
		return -EINVAL;
	if (!strcmp(buf, "+inf") || !strcmp(buf, "inf")) {
		*exp_ms = BF_EXP_INF;
		return 0;
	}
	if (bf_parse_u64(buf, (uint64_t)INT64_MAX - 1, &v))
		return -EINVAL;
	rc = sch_exp_check((int64_t)v, now_ms);
	if (!rc)
		*exp_ms = (int64_t)v;
	return rc;
}

int bf_exp_format(int64_t exp_ms, char *buf, size_t len)
{
	if (exp_ms == BF_EXP_INF)
		return sch_fmt(buf, len, "+inf");
	return sch_fmt(buf, len, "%lld", (long long)exp_ms);
}

/* ---- change-log records ---- */

static const char *const op_names[] = { [BF_OP_ADD] = "add", [BF_OP_DEL] = "del" };

const char *sch_op_name(enum bf_op op)
{
	return op_names[op == BF_OP_ADD ? BF_OP_ADD : BF_OP_DEL];
}

int sch_op_parse(const char *s, size_t n, enum bf_op *op)
{
	for (size_t i = 0; i < sizeof(op_names) / sizeof(op_names[0]); i++)
		if (n == strlen(op_names[i]) && !memcmp(s, op_names[i], n)) {
			*op = (enum bf_op)i;
			return 0;
		}
	return -EINVAL;
}

int bf_log_rec_parse(enum bf_kind k, const struct bf_field *f, size_t n, int64_t now_ms,
		     struct bf_log_rec *out, const char **what)
{
	enum { F_OP, F_ENTRY, F_EXP, F_SEQ, F_WHY, F_N };
	static const char *const names[F_N] = { "op", "entry", "exp", "seq", "why" };
	const struct bf_field *slot[F_N], *op, *entry, *exp, *seq, *why;
	char buf[24];
	size_t bad;
	int rc;

	memset(out, 0, sizeof(*out));
	/* Unknown fields are skipped: newer writers may add fields. */
	if (sch_fields_sort(f, n, names, sizeof(names[0]), F_N, false, slot, &bad)) {
		*what = "a field appears twice";
		return -EINVAL;
	}
	op = slot[F_OP];
	entry = slot[F_ENTRY];
	exp = slot[F_EXP];
	seq = slot[F_SEQ];
	why = slot[F_WHY];
	if (!op || !entry || !seq) {
		*what = "missing op, entry or seq";
		return -EINVAL;
	}
	if (sch_op_parse(op->val, op->val_len, &out->op)) {
		*what = "op is neither add nor del";
		return -EINVAL;
	}
	if (bf_entry_parse(k, entry->val, entry->val_len, &out->entry)) {
		*what = "malformed entry";
		return -EINVAL;
	}
	if (sch_cstr(buf, sizeof(buf), seq->val, seq->val_len) ||
	    bf_parse_u64(buf, UINT64_MAX, &out->seq) || out->seq == 0) {
		*what = "seq is not a positive integer";
		return -EINVAL;
	}
	out->exp_ms = BF_EXP_INF;
	if (out->op == BF_OP_ADD) {
		if (!exp) {
			*what = "add without exp";
			return -EINVAL;
		}
		rc = bf_exp_parse(exp->val, exp->val_len, now_ms, &out->exp_ms);
		if (rc) {
			*what = rc == -ESTALE ? "exp already passed" :
				rc == -ERANGE ? "exp absurdly far" : "exp is not +inf or ms";
			return rc;
		}
	}
	if (why) {
		if (why->val_len > BF_WHY_MAX) {
			*what = "why longer than 64 bytes";
			return -EINVAL;
		}
		if (!sch_no_controls(why->val, why->val_len)) {
			*what = "why has control characters";
			return -EINVAL;
		}
		memcpy(out->why, why->val, why->val_len);
		out->why[why->val_len] = '\0';
	}
	return 0;
}
