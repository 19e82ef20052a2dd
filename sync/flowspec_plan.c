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

/* How far in the future a route read back may say it went out (clock steps between
 * POPs, a restart): beyond it the line is not trusted and the route starts afresh. */
#define SKEW_MS 60000

enum kind { K_REFUSED, K_EXPIRED, K_KEEP, K_WAITED, K_NEW };

void bf_fs_plan(const struct bf_rule_def *rules, size_t n, const struct bf_fs_policy *p,
		const struct bf_fs_limits *lim, const struct bf_fs_rule_state *prev, size_t n_prev,
		const struct bf_fs_rule_state *canary, size_t n_canary, uint64_t now_ms,
		uint64_t *last_new_ms, struct bf_fs_rule_state *out)
{
	enum bf_fs_state live = lim->dry_run ? BF_FSS_DRY_RUN : BF_FSS_ANNOUNCED;
	uint8_t kind[BF_FS_RULES_MAX];
	uint64_t keep_until[BF_FS_RULES_MAX];
	size_t used = 0, order[BF_FS_RULES_MAX], i, k;
	char detail[BF_FS_DETAIL_MAX];

	if (n > BF_FS_RULES_MAX)
		n = BF_FS_RULES_MAX;
	/* ids ascending: places go by priority */
	for (i = 0; i < n; i++) {
		for (k = i; k > 0 && rules[order[k - 1]].id > rules[i].id; k--)
			order[k] = order[k - 1];
		order[k] = i;
	}
	/* Pass 1: the rails, and what each rule was. */
	for (i = 0; i < n; i++) {
		const struct bf_rule_def *r = &rules[i];
		struct bf_fs_line *l = &out[i].line;
		const struct bf_fs_line *was = find(prev, n_prev, r->id);
		enum bf_fs_why why;
		uint64_t ttl = rule_ttl(r, lim);
		bool same_ttl = was && was->until_ms > was->since_ms &&
				was->until_ms - was->since_ms == ttl &&
				was->since_ms <= now_ms + SKEW_MS;

		memset(&out[i], 0, sizeof(out[i]));
		out[i].id = r->id;
		keep_until[i] = 0;
		why = bf_fs_translate(r, p, l->text, sizeof(l->text), detail, sizeof(detail));
		if (why) {
			/* a route refused for a while keeps its expiry: a prefix whitelisted for
			 * a moment does not renew it */
			set(l, BF_FSS_REFUSED, same_ttl ? was->since_ms : 0, same_ttl ? was->until_ms : 0,
			    bf_fs_why_name(why));
			snprintf(l->text, sizeof(l->text), "%s", detail);
			kind[i] = K_REFUSED;
			continue;
		}
		kind[i] = was && was->state == BF_FSS_PENDING ? K_WAITED : K_NEW;
		if (!same_ttl)
			continue;
		if (was->state == BF_FSS_REFUSED || was->state == BF_FSS_PENDING) {
			/* back from a refusal, or still waiting: the expiry it had keeps */
			if (now_ms >= was->until_ms) {
				set(l, BF_FSS_EXPIRED, was->since_ms, was->until_ms, "ttl");
				kind[i] = K_EXPIRED;
			} else {
				keep_until[i] = was->until_ms;
			}
			continue;
		}
		if (strcmp(was->text, l->text))
			continue; /* another route: a new one */
		if (was->state == BF_FSS_EXPIRED ||
		    ((was->state == BF_FSS_ANNOUNCED || was->state == BF_FSS_STOPPED ||
		      was->state == BF_FSS_DRY_RUN) && now_ms >= was->until_ms)) {
			set(l, BF_FSS_EXPIRED, was->since_ms, was->until_ms, "ttl");
			kind[i] = K_EXPIRED;
			continue;
		}
		/* out before (or before a restart): keeps its expiry; a dry run's line goes out
		 * for real only as a new route */
		if (was->state == BF_FSS_ANNOUNCED || was->state == BF_FSS_STOPPED ||
		    (was->state == BF_FSS_DRY_RUN && lim->dry_run)) {
			set(l, live, was->since_ms, was->until_ms, NULL);
			kind[i] = K_KEEP;
		}
	}
	/* Pass 2: the places, by priority: routes out first (they are never displaced),
	 * then routes that were waiting, then new ones; one new route an interval. */
	for (int round = K_KEEP; round <= K_NEW; round++)
		for (k = 0; k < n; k++) {
			const struct bf_rule_def *r;
			struct bf_fs_line *l;
			const struct bf_fs_line *c;
			uint64_t until;

			i = order[k];
			if (kind[i] != round)
				continue;
			r = &rules[i];
			l = &out[i].line;
			if (used >= lim->max_rules) {
				set(l, BF_FSS_REFUSED, 0, 0, bf_fs_why_name(BF_FSW_CAP));
				snprintf(l->text, sizeof(l->text),
					 "%zu routes are out or waiting (max_rules %zu): delete one or "
					 "raise max_rules", used, lim->max_rules);
				continue;
			}
			used++;
			if (round == K_KEEP)
				continue;
			if (lim->hold_new) {
				set(l, BF_FSS_PENDING, keep_until[i] ? keep_until[i] - rule_ttl(r, lim) : 0,
				    keep_until[i], "redis");
				continue;
			}
			if (lim->follow_canary) {
				c = find(canary, n_canary, r->id);
				if (!c || c->state != BF_FSS_ANNOUNCED || strcmp(c->text, l->text) ||
				    now_ms < c->since_ms + lim->canary_hold_ms ||
				    c->since_ms > now_ms + SKEW_MS) {
					set(l, BF_FSS_PENDING, keep_until[i] ? keep_until[i] - rule_ttl(r, lim) : 0,
				    keep_until[i], "canary");
					continue;
				}
			}
			if (*last_new_ms && now_ms < *last_new_ms + lim->interval_ms) {
				set(l, BF_FSS_PENDING, keep_until[i] ? keep_until[i] - rule_ttl(r, lim) : 0,
				    keep_until[i], "rate");
				continue;
			}
			*last_new_ms = now_ms;
			until = keep_until[i] ? keep_until[i] : now_ms + rule_ttl(r, lim);
			set(l, live, keep_until[i] ? until - rule_ttl(r, lim) : now_ms, until, NULL);
		}
}
