/* guard.c - the fleet bus's guard rails at this edge (guard.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "guard.h"
#include "text.h"

static const char *const kind_names[GK_MAX] = {
	[GK_WL] = "wl",     [GK_BL] = "bl",     [GK_PUNCH] = "punch",     [GK_VALID] = "valid",
	[GK_CONN] = "conn",
	[GK_RULE] = "rule", [GK_PROTECT] = "protect", [GK_A2S] = "a2s", [GK_EDGES] = "edges",
	[GK_CONF] = "conf",
};
static const char *const why_names[GW_MAX] = {
	[GW_PREFIX] = "prefix",     [GW_CAP] = "cap",         [GW_MATCH_ALL] = "match_all",
	[GW_TOO_MANY] = "too_many", [GW_TOO_BIG] = "too_big",
};
#define W(x) (1u << (x))
/* Which refusals each kind can see: the rows of bifrost_bus_refused_total. */
static const unsigned possible[GK_MAX] = {
	[GK_WL] = W(GW_PREFIX) | W(GW_CAP) | W(GW_TOO_MANY) | W(GW_TOO_BIG),
	[GK_BL] = W(GW_PREFIX) | W(GW_CAP) | W(GW_TOO_MANY) | W(GW_TOO_BIG),
	[GK_PUNCH] = W(GW_CAP) | W(GW_TOO_MANY) | W(GW_TOO_BIG),
	[GK_VALID] = W(GW_CAP) | W(GW_TOO_MANY) | W(GW_TOO_BIG),
	[GK_CONN] = W(GW_TOO_MANY) | W(GW_TOO_BIG),
	[GK_RULE] = W(GW_MATCH_ALL) | W(GW_TOO_MANY) | W(GW_TOO_BIG),
	[GK_PROTECT] = W(GW_PREFIX) | W(GW_TOO_MANY) | W(GW_TOO_BIG),
	[GK_A2S] = W(GW_TOO_MANY) | W(GW_TOO_BIG),
	[GK_EDGES] = W(GW_TOO_MANY) | W(GW_TOO_BIG),
	[GK_CONF] = W(GW_TOO_BIG),
};

/* ---- limits and their config lines ---- */

void edge_guard_limits_init(struct edge_guard_limits *l)
{
	memset(l, 0, sizeof(*l));
	for (int k = 0; k < BF_KIND_MAX; k++) {
		l->min_prefix[k] = bf_kinds[k].min_prefix;
		l->caps.per_origin[k] = bf_kinds[k].max_per_origin;
	}
	l->min_prefix[GK_PROTECT] = BF_PROTECT_MIN_PREFIX;
	l->caps.conns = 65536;
	l->caps.rules = BF_RULES_MAX;
	l->caps.protect = 65536;
}

/* "N" within 1..max into *out. */
static int count_arg(const char *key, const char *v, uint64_t max, uint32_t *out, char *err,
		     size_t errlen)
{
	uint64_t n;

	if (bf_parse_u64(v, max, &n) || !n) {
		bf_seterr(err, errlen, "bad %s '%s' (a count from 1 to %llu)", key, v,
			  (unsigned long long)max);
		return -EINVAL;
	}
	*out = (uint32_t)n;
	return 0;
}

int edge_guard_config_line(struct edge_guard_limits *l, char **tok, int ntok, char *err,
			   size_t errlen)
{
	const char *k = tok[0];
	uint64_t v;
	int kind;

	if (!strcmp(k, "min_prefix")) {
		kind = ntok == 3 ? bf_kind_parse(tok[1]) : -1;
		if (ntok == 3 && !strcmp(tok[1], "protect"))
			kind = GK_PROTECT;
		if (kind < 0 || kind == GK_PUNCH || kind == GK_VALID || bf_parse_u64(tok[2], 32, &v)) {
			bf_seterr(err, errlen,
				  "'min_prefix' takes wl, bl or protect and a prefix "
				  "length 0-32, e.g. min_prefix wl 16");
			return -EINVAL;
		}
		l->min_prefix[kind] = (uint8_t)v;
		return 0;
	}
	if (!strcmp(k, "max_per_origin")) {
		kind = ntok == 3 ? bf_kind_parse(tok[1]) : -1;
		if (kind < 0) {
			bf_seterr(err, errlen,
				  "'max_per_origin' takes wl, bl, punch or valid and a count, "
				  "e.g. max_per_origin bl 100000");
			return -EINVAL;
		}
		return count_arg(k, tok[2], 10000000, &l->caps.per_origin[kind], err, errlen);
	}
	if (strcmp(k, "punch_max_per_origin") && strcmp(k, "max_conns") && strcmp(k, "max_rules") &&
	    strcmp(k, "max_protect"))
		return -ENOENT;
	if (ntok != 2) {
		bf_seterr(err, errlen, "'%s' takes 1 value", k);
		return -EINVAL;
	}
	if (!strcmp(k, "punch_max_per_origin"))
		return count_arg(k, tok[1], 10000000, &l->caps.per_origin[BF_KIND_PUNCH], err,
				 errlen);
	if (!strcmp(k, "max_conns")) /* bf_conns holds 65536 */
		return count_arg(k, tok[1], 65536, &l->caps.conns, err, errlen);
	if (!strcmp(k, "max_rules")) /* rules scoped to other edges share the hash */
		return count_arg(k, tok[1], 4 * BF_RULES_MAX, &l->caps.rules, err, errlen);
	return count_arg(k, tok[1], 65536, &l->caps.protect, err, errlen);
}

/* ---- refusals ---- */

void edge_guard_init(struct edge_guard *g, const struct edge_guard_limits *lim)
{
	memset(g, 0, sizeof(*g));
	if (lim)
		g->lim = *lim;
	else
		edge_guard_limits_init(&g->lim);
}

/* The config line that sets the cap a too_many refusal of kind k ran into. */
static const char *cap_key(enum edge_guard_kind k, char *buf, size_t len)
{
	switch (k) {
	case GK_WL:
	case GK_BL:
	case GK_PUNCH:
	case GK_VALID:
		snprintf(buf, len, "max_per_origin %s", kind_names[k]);
		return buf;
	case GK_CONN:
		return "max_conns";
	case GK_RULE:
		return "max_rules";
	case GK_PROTECT:
		return "max_protect";
	default:
		return "a fixed cap";
	}
}

/* Counts one refusal and logs it when it starts a state (bf_log_state_hit). */
#define REFUSE(g, k, w, ...)                                                                       \
	do {                                                                                       \
		(g)->refused[k][w]++;                                                              \
		bf_log_state_hit(&(g)->log[k][w], BF_LOG_WARN, __VA_ARGS__);                       \
	} while (0)

bool edge_guard_entry(struct edge_guard *g, const char *origin, const struct bf_entry *e)
{
	unsigned min = g->lim.min_prefix[e->kind];
	const char *t = bf_kinds[e->kind].name;
	char s[BF_CIDR_STRLEN];

	if (!bf_kinds[e->kind].cidr || e->cidr.plen >= min)
		return true;
	REFUSE(g, e->kind, GW_PREFIX,
	       "guard: refusing %s entries wider than /%u from the bus (min_prefix %s %u), "
	       "first %s of origin %s; the rest is applied. Have that origin remove it (ops: "
	       "bifrostctl %s del %s), or lower min_prefix %s in this edge's config if it is meant",
	       bf_kinds[e->kind].title, min, t, min, bf_cidr_str(&e->cidr, s), origin, t, s, t);
	return false;
}

uint32_t edge_guard_cap(const struct edge_guard *g, enum bf_kind k)
{
	return g->lim.caps.per_origin[k] ? g->lim.caps.per_origin[k] : bf_kinds[k].max_per_origin;
}

void edge_guard_over_cap(struct edge_guard *g, const char *origin, const struct bf_entry *e)
{
	const char *t = bf_kinds[e->kind].name;
	char s[BF_ENTRY_MAX + 1];

	bf_entry_format(e, s, sizeof(s));
	REFUSE(g, e->kind, GW_CAP,
	       "guard: origin %s holds %u %s entries here, its cap (max_per_origin %s): its "
	       "new ones are refused, first '%s'. Raise max_per_origin %s in this edge's config, "
	       "or have that origin hold fewer",
	       origin, edge_guard_cap(g, e->kind), t, t, s, t);
}

size_t edge_guard_rules(struct edge_guard *g, const struct bf_rule_def *in, size_t n,
			const char *edge_id, struct bf_rule_def *out)
{
	size_t m = 0;

	for (size_t i = 0; i < n; i++) {
		if (!bf_rule_applies(&in[i], edge_id) || !bf_rule_unmarked_drop_all(&in[i])) {
			out[m++] = in[i];
			continue;
		}
		REFUSE(g, GK_RULE, GW_MATCH_ALL,
		       "guard: refusing rule %u of the fleet: it matches every packet and "
		       "drops it; the other rules are applied. Give it a match field, or add "
		       "'all yes' to it if the whole fleet must really drop everything",
		       in[i].id);
	}
	return m;
}

size_t edge_guard_protect(struct edge_guard *g, const struct bf_cidr *in, size_t n,
			  struct bf_cidr *out)
{
	unsigned min = g->lim.min_prefix[GK_PROTECT];
	char s[BF_CIDR_STRLEN];
	size_t m = 0;

	for (size_t i = 0; i < n; i++) {
		if (in[i].plen >= min) {
			out[m++] = in[i];
			continue;
		}
		REFUSE(g, GK_PROTECT, GW_PREFIX,
		       "guard: refusing protected prefixes wider than /%u from the fleet "
		       "config (min_prefix protect %u), first %s: it would spare all of it from "
		       "every ban; the others are applied. Remove it (bifrostctl protect del "
		       "%s), or lower min_prefix protect in this edge's config if it is meant",
		       min, min, bf_cidr_str(&in[i], s), s);
	}
	return m;
}

void edge_guard_sync(struct edge_guard *g, const struct sync_refusal *r)
{
	int k, w = strcmp(r->why, "too_many") ? GW_TOO_BIG : GW_TOO_MANY;
	char cap[48], key[80];

	for (k = 0; k < GK_MAX && strcmp(kind_names[k], r->what); k++)
		;
	if (k == GK_MAX)
		k = GK_CONF; /* sync/ names no other kind; never uncounted */
	bf_printable(r->key, strlen(r->key), key, sizeof(key));
	if (w == GW_TOO_MANY)
		REFUSE(g, k, w,
		       "guard: refusing %s: %llu %s, more than %s (%llu); it is not read (what "
		       "this edge holds from it stays). Remove some, or raise the cap in this "
		       "edge's config",
		       key, (unsigned long long)r->size, r->detail[0] ? r->detail : "members",
		       cap_key((enum edge_guard_kind)k, cap, sizeof(cap)),
		       (unsigned long long)r->limit);
	else
		REFUSE(g, k, w,
		       "guard: refusing %s: %s of at least %llu bytes, more than %llu (the longest "
		       "a valid one can be); not read, the rest is applied. Fix or delete it",
		       key, r->detail[0] ? r->detail : "a value", (unsigned long long)r->size,
		       (unsigned long long)r->limit);
}

void edge_guard_tick(struct edge_guard *g)
{
	char what[64];

	for (int k = 0; k < GK_MAX; k++)
		for (int w = 0; w < GW_MAX; w++) {
			if (!g->log[k][w].active)
				continue;
			snprintf(what, sizeof(what), "guard: refusing %s (%s)", kind_names[k],
				 why_names[w]);
			bf_log_state_tick(&g->log[k][w], what);
		}
}

size_t edge_guard_rows(const struct edge_guard *g, struct edge_guard_row *out, size_t cap)
{
	size_t n = 0;

	for (int k = 0; k < GK_MAX; k++)
		for (int w = 0; w < GW_MAX; w++)
			if ((possible[k] & W(w)) && n < cap)
				out[n++] = (struct edge_guard_row){kind_names[k], why_names[w],
								   g->refused[k][w]};
	return n;
}

uint64_t edge_guard_summary(const struct edge_guard *g, char *buf, size_t len)
{
	uint64_t total = 0;
	size_t o = 0;
	bool full = !len;

	if (len)
		buf[0] = '\0';
	for (int k = 0; k < GK_MAX; k++)
		for (int w = 0; w < GW_MAX; w++) {
			int n;

			if (!g->refused[k][w])
				continue;
			total += g->refused[k][w];
			if (full)
				continue;
			n = snprintf(buf + o, len - o, "%s%s/%s=%llu", o ? " " : "", kind_names[k],
				     why_names[w], (unsigned long long)g->refused[k][w]);
			if (n > 0 && (size_t)n < len - o) {
				o += (size_t)n;
			} else { /* cut between items */
				buf[o] = '\0';
				full = true;
			}
		}
	return total;
}
