/* schema_limits.c - a connection's per-source limits: presets, rates, fields, text. */
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "schema_int.h"

/* Kilimanjaro's UDP defaults per game; the TCP (RCON, web) and ICMP figures
 * are Bifrost's own. All block for 30 s. None shares its bans with the
 * fleet: a flood forging a player's address at one POP must not cut that
 * player off at the POP his real traffic uses (docs/ARCHITECTURE.md). */
static const struct {
	const char *name;
	uint32_t udp, tcp, icmp;
} presets[] = {
	{ "source", 2000, 200, 10 },
	{ "rust", 5000, 200, 10 },
	{ "gmod", 10000, 200, 10 },
};

void bf_limits_init(struct bf_limits *l)
{
	memset(l, 0, sizeof(*l));
	l->block_ms = BF_LIMIT_BLOCK_DEFAULT_MS;
	l->burst_ms = BF_LIMIT_BURST_DEFAULT_MS;
	l->share_bans = false;
}

bool bf_limits_any(const struct bf_limits *l)
{
	return l->pps || l->bps;
}

int bf_limits_preset(const char *name, int proto, struct bf_limits *out)
{
	for (size_t i = 0; i < sizeof(presets) / sizeof(presets[0]); i++) {
		if (strcmp(name, presets[i].name))
			continue;
		bf_limits_init(out);
		out->pps = proto == IPPROTO_UDP ? presets[i].udp :
			   proto == IPPROTO_TCP ? presets[i].tcp : presets[i].icmp;
		snprintf(out->preset, sizeof(out->preset), "%s", name);
		return 0;
	}
	return -EINVAL;
}

int bf_parse_rate(const char *s, uint64_t max, uint64_t *out)
{
	static const struct {
		char c;
		uint64_t mult;
	} sfx[] = { { 'k', 1000 }, { 'm', 1000000 }, { 'g', 1000000000 } };
	char num[24];
	size_t n = s ? strlen(s) : 0;
	uint64_t mult = 1, v;

	if (!n || n >= sizeof(num))
		return -EINVAL;
	memcpy(num, s, n + 1);
	/* One suffix at most, after at least one digit ("m" alone, "5km" are refused). */
	for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++)
		if (tolower((unsigned char)num[n - 1]) == sfx[i].c) {
			if (n == 1)
				return -EINVAL;
			mult = sfx[i].mult;
			num[--n] = '\0';
			break;
		}
	if (bf_parse_u64(num, max / mult, &v))
		return -EINVAL;
	*out = v * mult;
	return 0;
}

enum { LF_PPS, LF_BPS, LF_BLOCK, LF_BURST, LF_SHARE, LF_PRESET, LF_N };

static const struct {
	const char *name, *bad, *twice;
} limit_fields[LF_N] = {
	[LF_PPS] = { "pps", "pps: not a packet rate (0 to 100m per second, k or m suffix)",
		     "pps: given twice" },
	[LF_BPS] = { "bps", "bps: not a byte rate (0 to 100g bytes per second, k, m or g suffix)",
		     "bps: given twice" },
	[LF_BLOCK] = { "block", "block: not a duration up to 7d (30s, 5m; 0 = drop the excess only)",
		       "block: given twice" },
	[LF_BURST] = { "burst", "burst: not a duration from 1ms to 10s (100ms, 1s)",
		       "burst: given twice" },
	[LF_SHARE] = { "share_bans", "share_bans: not yes or no", "share_bans: given twice" },
	[LF_PRESET] = { "preset", "preset: unknown (source, rust or gmod)", "preset: given twice" },
};

static const char *limit_apply(struct bf_limits *l, int which, const char *v)
{
	uint64_t x;

	switch (which) {
	case LF_PPS:
		if (bf_parse_rate(v, BF_LIMIT_PPS_MAX, &x))
			return limit_fields[which].bad;
		l->pps = (uint32_t)x;
		return NULL;
	case LF_BPS:
		if (bf_parse_rate(v, BF_LIMIT_BPS_MAX, &x))
			return limit_fields[which].bad;
		l->bps = x;
		return NULL;
	case LF_BLOCK:
		if (bf_parse_duration_ms(v, &x) || x > BF_LIMIT_BLOCK_MAX_MS)
			return limit_fields[which].bad;
		l->block_ms = (uint32_t)x;
		return NULL;
	case LF_BURST:
		if (bf_parse_duration_ms(v, &x) || !x || x > BF_LIMIT_BURST_MAX_MS)
			return limit_fields[which].bad;
		l->burst_ms = (uint32_t)x;
		return NULL;
	case LF_SHARE:
		return sch_yesno(v, &l->share_bans) ? limit_fields[which].bad : NULL;
	default:
		return limit_fields[which].bad;
	}
}

bool bf_field_is_limit(const struct bf_field *f)
{
	return sch_field_find(f, limit_fields, sizeof(limit_fields[0]), LF_N) >= 0;
}

int bf_limits_parse_fields(const struct bf_field *f, size_t n, int proto, struct bf_limits *l,
			   const char **what)
{
	const struct bf_field *slot[LF_N];
	char buf[32];
	size_t bad;

	if (sch_fields_sort(f, n, limit_fields, sizeof(limit_fields[0]), LF_N, false, slot, &bad)) {
		*what = limit_fields[bad].twice;
		return -EINVAL;
	}
	/* The preset is the base; the other fields change it, in any order. */
	if (slot[LF_PRESET]) {
		if (sch_cstr(buf, sizeof(buf), slot[LF_PRESET]->val, slot[LF_PRESET]->val_len) ||
		    bf_limits_preset(buf, proto, l)) {
			*what = limit_fields[LF_PRESET].bad;
			return -EINVAL;
		}
	}
	for (int k = 0; k < LF_PRESET; k++) {
		const char *bad;

		if (!slot[k])
			continue;
		if (sch_cstr(buf, sizeof(buf), slot[k]->val, slot[k]->val_len)) {
			*what = limit_fields[k].bad;
			return -EINVAL;
		}
		bad = limit_apply(l, k, buf);
		if (bad) {
			*what = bad;
			return -EINVAL;
		}
	}
	return 0;
}

static int fmt_ms(char *buf, size_t len, uint64_t ms)
{
	return ms && ms % 1000 == 0 ? sch_fmt(buf, len, "%llus", (unsigned long long)(ms / 1000)) :
				      sch_fmt(buf, len, "%llums", (unsigned long long)ms);
}

int bf_limits_format(const struct bf_limits *l, char *buf, size_t len)
{
	char block[24], burst[24];
	int n;

	buf[0] = '\0';
	if (!bf_limits_any(l))
		return 0;
	fmt_ms(block, sizeof(block), l->block_ms);
	fmt_ms(burst, sizeof(burst), l->burst_ms);
	n = sch_fmt(buf, len, "%s%s%spps %u bps %llu block %s burst %s share_bans %s",
		l->preset[0] ? "preset " : "", l->preset, l->preset[0] ? " " : "", l->pps,
		(unsigned long long)l->bps, block, burst, l->share_bans ? "yes" : "no");
	return n < 0 ? -ENOSPC : n;
}
