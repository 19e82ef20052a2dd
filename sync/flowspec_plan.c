/* flowspec_plan.c - each offered rule's export state this tick (flowspec.h, bf_fs_plan). */
#include <stdio.h>
#include <string.h>

#include "flowspec.h"

static const struct bf_fs_line *find(const struct bf_fs_rule_state *s, size_t n, uint32_t id)
{
	for (size_t i = 0; i < n; i++)
		if (s[i].id == id)
			return &s[i].line;
	return NULL;
}

static uint64_t rule_ttl(const struct bf_rule_def *r, const struct bf_fs_limits *lim)
{
	uint64_t t = r->flowspec_ttl_ms ? r->flowspec_ttl_ms : lim->ttl_ms;

	return t > lim->max_ttl_ms ? lim->max_ttl_ms : t;
}

static void set(struct bf_fs_line *l, enum bf_fs_state st, uint64_t since, uint64_t until,
		const char *why)
{
	l->state = st;
	l->since_ms = since;
	l->until_ms = until;
	snprintf(l->why, sizeof(l->why), "%s", why ? why : "-");
}

void bf_fs_plan(const struct bf_rule_def *rules, size_t n, const struct bf_fs_policy *p,
		const struct bf_fs_limits *lim, const struct bf_fs_rule_state *prev, size_t n_prev,
		const struct bf_fs_rule_state *canary, size_t n_canary, uint64_t now_ms,
		uint64_t *last_new_ms, struct bf_fs_rule_state *out)
{
	enum bf_fs_state live = lim->dry_run ? BF_FSS_DRY_RUN : BF_FSS_ANNOUNCED;
	bool fresh[BF_FS_RULES_MAX];
	size_t used = 0, order[BF_FS_RULES_MAX], i, k;
	char detail[BF_FS_DETAIL_MAX];

	if (n > BF_FS_RULES_MAX)
		n = BF_FS_RULES_MAX;
	/* ids ascending: new routes take free places by priority */
	for (i = 0; i < n; i++) {
		for (k = i; k > 0 && rules[order[k - 1]].id > rules[i].id; k--)
			order[k] = order[k - 1];
		order[k] = i;
	}
	/* Pass 1: the rails, and the routes already out keep their place. */
	for (i = 0; i < n; i++) {
		const struct bf_rule_def *r = &rules[i];
		struct bf_fs_line *l = &out[i].line;
		const struct bf_fs_line *was = find(prev, n_prev, r->id);
		enum bf_fs_why why;
		uint64_t ttl = rule_ttl(r, lim);

		memset(&out[i], 0, sizeof(out[i]));
		out[i].id = r->id;
		fresh[i] = false;
		why = bf_fs_translate(r, p, l->text, sizeof(l->text), detail, sizeof(detail));
		if (why) {
			set(l, BF_FSS_REFUSED, 0, 0, bf_fs_why_name(why));
			snprintf(l->text, sizeof(l->text), "%s", detail);
			continue;
		}
		if (was && !strcmp(was->text, l->text) && was->until_ms - was->since_ms == ttl &&
		    (was->state == BF_FSS_ANNOUNCED || was->state == BF_FSS_STOPPED ||
		     was->state == BF_FSS_DRY_RUN || was->state == BF_FSS_EXPIRED)) {
			if (was->state == BF_FSS_EXPIRED || now_ms >= was->until_ms) {
				set(l, BF_FSS_EXPIRED, was->since_ms, was->until_ms, "ttl");
				continue;
			}
			set(l, live, was->since_ms, was->until_ms, NULL);
			used++;
			continue;
		}
		fresh[i] = true;
	}
	/* Pass 2: new routes by priority, into the free places, one an interval. */
	for (k = 0; k < n; k++) {
		const struct bf_rule_def *r;
		struct bf_fs_line *l;
		const struct bf_fs_line *c;

		i = order[k];
		if (!fresh[i])
			continue;
		r = &rules[i];
		l = &out[i].line;
		if (used >= lim->max_rules) {
			set(l, BF_FSS_REFUSED, 0, 0, bf_fs_why_name(BF_FSW_CAP));
			snprintf(l->text, sizeof(l->text),
				 "%zu routes are out or waiting (max_rules %zu): delete one or raise "
				 "max_rules", used, lim->max_rules);
			continue;
		}
		used++;
		if (lim->follow_canary) {
			c = find(canary, n_canary, r->id);
			if (!c || c->state != BF_FSS_ANNOUNCED || strcmp(c->text, l->text) ||
			    now_ms < c->since_ms + lim->canary_hold_ms) {
				set(l, BF_FSS_PENDING, 0, 0, "canary");
				continue;
			}
		}
		if (*last_new_ms && now_ms < *last_new_ms + lim->interval_ms) {
			set(l, BF_FSS_PENDING, 0, 0, "rate");
			continue;
		}
		*last_new_ms = now_ms;
		set(l, live, now_ms, now_ms + rule_ttl(r, lim), NULL);
	}
}
