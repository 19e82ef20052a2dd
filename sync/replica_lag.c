/* replica_lag.c - INFO replication and the lag decision (replica_lag.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "replica_lag.h"

/* A non-negative decimal of at most 18 digits (INFO's offsets). */
static int parse_offset(const char *s, size_t n, long long *out)
{
	long long v = 0;

	if (!n || n > 18)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

/* 40 hex digits (a replication id). */
static int parse_replid(const char *s, size_t n, char out[41])
{
	if (n != 40 || strspn(s, "0123456789abcdef") < 40)
		return -EINVAL;
	memcpy(out, s, 40);
	out[40] = '\0';
	return 0;
}

static bool field(const char *line, size_t n, const char *name, const char **val, size_t *vlen)
{
	size_t k = strlen(name);

	if (n <= k || memcmp(line, name, k) || line[k] != ':')
		return false;
	*val = line + k + 1;
	*vlen = n - k - 1;
	return true;
}

int bf_repl_info_parse(const char *text, size_t len, struct bf_repl_info *ri)
{
	long long master_off = -1, slave_off = -1;
	bool role = false;
	size_t i = 0;

	memset(ri, 0, sizeof(*ri));
	ri->offset = -1;
	while (i < len) {
		const char *line = text + i, *v;
		const char *nl = memchr(line, '\n', len - i);
		size_t n = nl ? (size_t)(nl - line) : len - i, vn;

		i += n + (nl ? 1 : 0);
		if (n && line[n - 1] == '\r')
			n--;
		if (field(line, n, "role", &v, &vn)) {
			role = true;
			ri->is_replica = vn == 5 && !memcmp(v, "slave", 5);
		} else if (field(line, n, "master_link_status", &v, &vn)) {
			ri->link_up = vn == 2 && !memcmp(v, "up", 2);
		} else if (field(line, n, "master_repl_offset", &v, &vn)) {
			if (parse_offset(v, vn, &master_off))
				return -EINVAL;
		} else if (field(line, n, "slave_repl_offset", &v, &vn)) {
			if (parse_offset(v, vn, &slave_off))
				return -EINVAL;
		} else if (field(line, n, "master_replid", &v, &vn)) {
			if (parse_replid(v, vn, ri->replid))
				return -EINVAL;
		} else if (field(line, n, "master_replid2", &v, &vn)) {
			if (parse_replid(v, vn, ri->replid2))
				return -EINVAL;
		}
	}
	if (!role)
		return -EINVAL;
	ri->offset = ri->is_replica ? slave_off : master_off;
	if (!ri->is_replica)
		ri->link_up = false;
	return 0;
}

void bf_lag_reset(struct bf_lag *l)
{
	memset(l, 0, sizeof(*l));
}

void bf_lag_primary(struct bf_lag *l, int64_t t_ms, long long off)
{
	if (off < 0)
		return;
	if (l->n && off < l->off[(l->head + BF_LAG_SAMPLES - 1) % BF_LAG_SAMPLES])
		bf_lag_reset(l);
	l->t[l->head] = t_ms;
	l->off[l->head] = off;
	l->head = (l->head + 1) % BF_LAG_SAMPLES;
	if (l->n < BF_LAG_SAMPLES)
		l->n++;
}

int64_t bf_lag_ms(const struct bf_lag *l, int64_t now_ms, long long off)
{
	if (!l->n || off < 0)
		return -1;
	/* Oldest first: the first sample past `off` is the oldest data the
	 * replica lacks (offsets only grow within the ring). */
	for (unsigned k = 0; k < l->n; k++) {
		unsigned i = (l->head + BF_LAG_SAMPLES - l->n + k) % BF_LAG_SAMPLES;

		if (l->off[i] > off)
			return now_ms > l->t[i] ? now_ms - l->t[i] : 0;
	}
	return 0;
}

enum bf_replica_verdict bf_replica_judge(const struct bf_repl_info *ri,
					 const struct bf_repl_info *primary, int64_t lag_ms,
					 int64_t max_lag_ms)
{
	if (!ri || (ri->is_replica && ri->offset < 0))
		return BF_REPLICA_DOWN;
	if (!ri->is_replica)
		return BF_REPLICA_NOT_REPLICA;
	if (!ri->link_up)
		return BF_REPLICA_LINK_DOWN;
	if (primary && primary->replid[0] && ri->replid[0] && strcmp(ri->replid, primary->replid) &&
	    strcmp(ri->replid, primary->replid2))
		return BF_REPLICA_OTHER;
	if (lag_ms > max_lag_ms)
		return BF_REPLICA_LAGGING;
	return BF_REPLICA_OK;
}

const char *bf_replica_verdict_name(enum bf_replica_verdict v)
{
	static const char *const names[BF_REPLICA_VERDICTS] = {
		"ok", "down", "not a replica", "link down", "lagging", "another primary's",
		"lag unknown"
	};

	return v < BF_REPLICA_VERDICTS ? names[v] : "?";
}
