/* apply.c - the apply layer (apply.h): every source's desired state kept
 * here, written to the maps as exact diffs. */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "a2s_workers.h" /* A2S_INFO.. bits of the readiness */
#include "apply.h"
#include "clock.h"
#include "log.h"

/* A connection's A2S readiness, kept here because applying connections
 * writes every value afresh: it is written again after. */
struct a2s_ready {
	uint32_t ip;
	uint16_t port;
	unsigned ready;
};

struct edge_apply {
	struct edge_maps *maps;
	char id[64];
	const struct edge_config *file;   /* the config file in force (not owned) */
	uint32_t *locals;                 /* this host's addresses, as last applied */
	size_t n_locals;
	struct bf_conn *fleet_conns;      /* from Redis; NULL until the fleet has a config */
	size_t n_fleet_conns;
	struct bf_conn *held;             /* found in the pinned maps at start: kept until */
	size_t n_held;                    /* the fleet's config is read (edge_apply_hold_conns) */
	struct bf_conn *merged;           /* the file's connections, then the held ones */
	size_t n_merged;
	struct bf_rule_def *fleet_rules;  /* from Redis; in force once fleet_rules_set */
	size_t n_fleet_rules;
	bool fleet_rules_set;
	struct a2s_ready *ready;
	size_t n_ready;
};

struct edge_apply *edge_apply_new(struct edge_maps *maps, const char *edge_id)
{
	struct edge_apply *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->maps = maps;
	snprintf(a->id, sizeof(a->id), "%s", edge_id);
	return a;
}

void edge_apply_free(struct edge_apply *a)
{
	if (!a)
		return;
	free(a->locals);
	free(a->fleet_conns);
	free(a->held);
	free(a->merged);
	free(a->fleet_rules);
	free(a->ready);
	free(a);
}

static bool same_conn_key(const struct bf_conn *x, const struct bf_conn *y)
{
	return x->proto == y->proto && x->bind_ip == y->bind_ip && x->bind_port == y->bind_port;
}

/* The file's connections, then each held one the file does not name. */
static int merge_held(struct edge_apply *a)
{
	size_t nf = a->file ? a->file->n_conns : 0, n = 0;
	struct bf_conn *m = malloc((nf + a->n_held + 1) * sizeof(*m));

	if (!m)
		return -ENOMEM;
	for (size_t i = 0; i < nf; i++)
		m[n++] = a->file->conns[i];
	for (size_t i = 0; i < a->n_held; i++) {
		bool named = false;

		for (size_t j = 0; j < nf && !named; j++)
			named = same_conn_key(&a->held[i], &a->file->conns[j]);
		if (!named)
			m[n++] = a->held[i];
	}
	free(a->merged);
	a->merged = m;
	a->n_merged = n;
	return 0;
}

static void drop_held(struct edge_apply *a)
{
	free(a->held);
	free(a->merged);
	a->held = a->merged = NULL;
	a->n_held = a->n_merged = 0;
}

void edge_apply_hold_conns(struct edge_apply *a, struct bf_conn *conns, size_t n)
{
	drop_held(a);
	a->held = conns; /* merged with the file's by edge_apply_file, which comes next */
	a->n_held = n;
}

const struct bf_conn *edge_apply_conns(const struct edge_apply *a, size_t *n)
{
	if (a->fleet_conns) {
		*n = a->n_fleet_conns;
		return a->fleet_conns;
	}
	if (a->held) {
		*n = a->n_merged;
		return a->merged;
	}
	*n = a->file ? a->file->n_conns : 0;
	return a->file ? a->file->conns : NULL;
}

/* ---- A2S readiness ---- */

static uint16_t a2s_flags(unsigned ready)
{
	return (uint16_t)((ready & (1u << A2S_INFO) ? BF_CONN_F_A2S_INFO : 0) |
			  (ready & (1u << A2S_PLAYER) ? BF_CONN_F_A2S_PLAYER : 0) |
			  (ready & (1u << A2S_RULES) ? BF_CONN_F_A2S_RULES : 0));
}

void edge_apply_a2s_ready(struct edge_apply *a, uint32_t ip, uint16_t port, unsigned ready)
{
	struct a2s_ready *r = NULL;

	for (size_t i = 0; i < a->n_ready; i++)
		if (a->ready[i].ip == ip && a->ready[i].port == port)
			r = &a->ready[i];
	if (!r && ready) {
		struct a2s_ready *n = realloc(a->ready, (a->n_ready + 1) * sizeof(*n));

		if (!n)
			return;
		a->ready = n;
		r = &a->ready[a->n_ready++];
		*r = (struct a2s_ready){ .ip = ip, .port = port };
	}
	if (r) {
		r->ready = ready;
		if (!ready)
			*r = a->ready[--a->n_ready];
	}
	edge_maps_conn_flags(a->maps, IPPROTO_UDP, ip, port, BF_CONN_F_A2S_ANY, a2s_flags(ready));
}

/* ---- connections, rules, lists ---- */

/* The connections in force, plus this host's addresses; then readiness
 * again (applying writes each connection's value afresh). */
static int apply_conns(struct edge_apply *a)
{
	size_t n;
	const struct bf_conn *c = edge_apply_conns(a, &n);
	int rc = edge_maps_apply_conns(a->maps, c, n, a->locals, a->n_locals);

	for (size_t i = 0; !rc && i < a->n_ready; i++)
		edge_maps_conn_flags(a->maps, IPPROTO_UDP, a->ready[i].ip, a->ready[i].port,
				     BF_CONN_F_A2S_ANY, a2s_flags(a->ready[i].ready));
	return rc;
}

static int cmp_u32(const void *x, const void *y)
{
	uint32_t p = *(const uint32_t *)x, q = *(const uint32_t *)y;

	return p < q ? -1 : p > q;
}

/* Re-reads this host's addresses; 1 when they changed since last time. */
static int read_locals(struct edge_apply *a)
{
	uint32_t *now;
	size_t n;

	if (edge_local_addrs(&now, &n))
		return 0;
	qsort(now, n, sizeof(*now), cmp_u32);
	if (a->locals && n == a->n_locals && !memcmp(now, a->locals, n * sizeof(*now))) {
		free(now);
		return 0;
	}
	free(a->locals);
	a->locals = now;
	a->n_locals = n;
	return 1;
}

int edge_apply_refresh_locals(struct edge_apply *a)
{
	if (!read_locals(a))
		return 0;
	pr_info("this host's addresses changed: %zu now", a->n_locals);
	apply_conns(a);
	return 1;
}

/* Redis's rules once the fleet has a valid set; the file's before. */
static int apply_rules(struct edge_apply *a)
{
	if (a->fleet_rules_set)
		return edge_maps_apply_rules(a->maps, a->fleet_rules, a->n_fleet_rules, a->id);
	return edge_maps_apply_rules(a->maps, a->file->rules, a->file->n_rules, a->id);
}

int edge_apply_file(struct edge_apply *a, const struct edge_config *cfg)
{
	int rc;

	a->file = cfg;
	read_locals(a);
	if (a->held && !a->fleet_conns && merge_held(a))
		return -ENOMEM;
	rc = edge_maps_write_config(a->maps, cfg);
	if (!rc)
		rc = apply_conns(a);
	/* Protected prefixes before the blacklist, which must not cover them. */
	if (!rc)
		rc = edge_maps_list_reconcile(a->maps, BF_LIST_PR, cfg->pr, cfg->n_pr, BF_SRC_CONFIG);
	if (!rc)
		rc = edge_maps_list_reconcile(a->maps, BF_LIST_WL, cfg->wl, cfg->n_wl, BF_SRC_CONFIG);
	if (!rc)
		rc = edge_maps_list_reconcile(a->maps, BF_LIST_BL, cfg->bl, cfg->n_bl, BF_SRC_CONFIG);
	if (!rc)
		rc = apply_rules(a);
	if (!rc)
		pr_info("configuration applied: %zu connections, %zu whitelist, %zu blacklist and "
			"%zu protected entries, %zu rules in the file, dry_run %s",
			cfg->n_conns, cfg->n_wl, cfg->n_bl, cfg->n_pr, cfg->n_rules,
			cfg->dry_run ? "on" : "off");
	return rc;
}

void edge_apply_fleet_conf(struct edge_apply *a, const struct sync_fleet_conf *fc)
{
	/* A set refused unread (over its cap) leaves what is in force as it is. */
	struct bf_conn *conns = fc->conns_refused ? NULL :
				malloc((fc->n_conns ? fc->n_conns : 1) * sizeof(*conns));
	struct edge_list_entry *pr = fc->protect_refused ? NULL :
				     calloc(fc->n_protect ? fc->n_protect : 1, sizeof(*pr));
	struct bf_rule_def *rules;

	if (conns && !fc->n_conns && !a->fleet_conns && a->file && a->file->n_conns) {
		/* A fleet config without a single connection, the first one this
		 * edge sees: an operator who added a rule or a protected prefix
		 * before any connection, not one who means to close every port. */
		pr_warn("fleet config %s has no connections; keeping the %zu of the config file "
			"until Redis has some (bifrostctl conn add)",
			fc->version, a->file->n_conns);
		free(conns);
		conns = NULL;
		if (a->held) {
			/* What was kept from the last run beyond the file: the fleet
			 * now has none of it. */
			drop_held(a);
			apply_conns(a);
		}
	}
	if (conns) {
		memcpy(conns, fc->conns, fc->n_conns * sizeof(*conns));
		free(a->fleet_conns);
		a->fleet_conns = conns;
		a->n_fleet_conns = fc->n_conns;
		if (a->held)
			pr_info("fleet config %s replaces the %zu connection(s) kept from the last run",
				fc->version, a->n_held);
		drop_held(a);
		apply_conns(a);
	}
	if (pr) {
		for (size_t i = 0; i < fc->n_protect; i++)
			pr[i].cidr = fc->protect[i];
		/* Protection first: a ban applied after it can no longer cover it. */
		edge_maps_list_reconcile(a->maps, BF_LIST_PR, pr, fc->n_protect, BF_SRC_FLEET);
		free(pr);
	}
	if (fc->bad_rules) {
		pr_warn("fleet config %s: %u rule(s) refused (see above); the rules in force stay "
			"as they are until the set validates",
			fc->version, fc->bad_rules);
		return;
	}
	rules = malloc((fc->n_rules ? fc->n_rules : 1) * sizeof(*rules));
	if (!rules)
		return;
	memcpy(rules, fc->rules, fc->n_rules * sizeof(*rules));
	if (edge_maps_apply_rules(a->maps, rules, fc->n_rules, a->id)) {
		pr_warn("fleet config %s: the rule set was refused; the rules in force stay",
			fc->version);
		free(rules);
		return;
	}
	free(a->fleet_rules);
	a->fleet_rules = rules;
	a->n_fleet_rules = fc->n_rules;
	a->fleet_rules_set = true;
}

/* ---- fleet entries ---- */

void edge_apply_flush(struct edge_apply *a)
{
	edge_maps_list_flush(a->maps);
}

/* A wall-clock expiry as a CLOCK_MONOTONIC deadline (0 = permanent). */
static uint64_t mono_deadline(int64_t exp_ms)
{
	int64_t left;

	if (exp_ms == BF_EXP_INF)
		return 0;
	left = exp_ms - bf_wall_ms();
	return bf_mono_ns() + (uint64_t)(left > 0 ? left : 0) * 1000000ULL;
}

int edge_apply_fleet_entry(struct edge_apply *a, const struct reg_effect *fx)
{
	if (fx->e.kind == BF_KIND_VALID) { /* a client a game handshake validated */
		struct bf_rl_key k;

		edge_valid_key(&fx->e, &k);
		if (!fx->peers)
			return fx->mine ? 0 : (edge_valid_del(a->maps, &k), 0);
		/* At most valid_idle from now, whatever the peer wrote (a permanent entry, a
		 * year): its owner renews it while the client plays. */
		{
			int64_t idle_ms = (int64_t)(a->maps->conf.valid_idle_ns / 1000000ULL);
			int64_t exp = fx->exp_ms, most = bf_wall_ms() + idle_ms;

			return edge_valid_put(a->maps, &k,
					      mono_deadline(exp == BF_EXP_INF || exp > most ? most : exp));
		}
	}
	if (!bf_kinds[fx->e.kind].cidr) { /* a port punch */
		const struct bf_punch *p = &fx->e.punch;
		struct bf_punch_key k = { .bind_ip = p->bind_ip, .remote_ip = p->remote_ip,
					  .bind_port = htons(p->bind_port),
					  .remote_port = htons(p->remote_port), .proto = p->proto };

		if (!fx->peers) {
			/* Our own punch is in the map already (XDP made it). */
			if (!fx->mine)
				edge_punch_del(&a->maps->mach, &k);
			return 0;
		}
		/* A permanent punch makes no sense: a day, renewed by its owner. */
		return edge_punch_put(&a->maps->mach, &k, p->machine_ip,
				      mono_deadline(fx->exp_ms == BF_EXP_INF ? bf_wall_ms() + 86400000LL
									      : fx->exp_ms));
	}
	{
		enum bf_list l = (enum bf_list)bf_kinds[fx->e.kind].list;

		if (!fx->peers) {
			edge_maps_list_del(a->maps, l, &fx->e.cidr, BF_SRC_FLEET);
			return 0;
		}
		return edge_maps_list_put(a->maps, l, &fx->e.cidr, mono_deadline(fx->exp_ms),
					  BF_SRC_FLEET);
	}
}
