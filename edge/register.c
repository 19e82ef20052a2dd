/* register.c - the fleet register (register.h): a uthash table (Debian
 * uthash-dev: header-only, no runtime dependency) of entries, each with the
 * expiry every origin gave it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <uthash.h>

#include "register.h"

#define SELF ((uint16_t)0xffff)
#define ORIGINS_MAX 4096

struct owner {
	uint16_t origin;  /* index into r->origins, SELF for our own */
	uint32_t gen;     /* resync generation that last confirmed it */
	int64_t exp_ms;   /* BF_EXP_INF = permanent */
};

/* What identifies an entry: a CIDR, or a punch's flow (not its machine: a
 * punch is one flow whatever machine a writer names). Binary and zero
 * padded, so it hashes as bytes. */
struct reg_key {
	uint32_t kind;
	uint32_t a, b;     /* cidr: addr, plen; punch: remote ip, bind ip */
	uint16_t pa, pb;   /* punch: remote port, bind port */
	uint32_t proto;
};

struct entry {
	struct reg_key key;
	struct bf_entry e;
	struct owner *owners;
	unsigned n;
	UT_hash_handle hh;
};

struct edge_register {
	struct entry *map;
	char (*origins)[BF_ORIGIN_MAX + 1];
	unsigned (*held)[BF_KIND_MAX]; /* entries each origin holds here, by kind (its caps) */
	unsigned n_origins;
	uint32_t gen[BF_KIND_MAX];
	uint64_t entries;
	struct edge_guard *guard;
	reg_effect_cb cb;
	void *ctx;
};

static uint16_t origin_idx(struct edge_register *r, const char *o)
{
	void *n, *c;

	for (unsigned i = 0; i < r->n_origins; i++)
		if (!strcmp(r->origins[i], o))
			return (uint16_t)i;
	if (r->n_origins >= ORIGINS_MAX)
		return ORIGINS_MAX - 1; /* absurd fleet: lump the rest together */
	n = realloc(r->origins, (r->n_origins + 1) * sizeof(*r->origins));
	if (n)
		r->origins = n;
	c = realloc(r->held, (r->n_origins + 1) * sizeof(*r->held));
	if (c)
		r->held = c;
	if (!n || !c)
		return ORIGINS_MAX - 1;
	snprintf(r->origins[r->n_origins], sizeof(r->origins[0]), "%s", o);
	memset(r->held[r->n_origins], 0, sizeof(r->held[0]));
	return (uint16_t)r->n_origins++;
}

static void key_of(const struct bf_entry *e, struct reg_key *k)
{
	memset(k, 0, sizeof(*k));
	k->kind = e->kind;
	if (!bf_kinds[e->kind].cidr) { /* a punch: its flow */
		k->a = e->punch.remote_ip;
		k->b = e->punch.bind_ip;
		k->pa = e->punch.remote_port;
		k->pb = e->punch.bind_port;
		k->proto = e->punch.proto;
	} else {
		k->a = e->cidr.addr;
		k->b = e->cidr.plen;
	}
}

static struct entry *entry_get(struct edge_register *r, const struct bf_entry *e, bool create)
{
	struct reg_key key;
	struct entry *x;

	key_of(e, &key);
	HASH_FIND(hh, r->map, &key, sizeof(key), x);
	if (x || !create)
		return x;
	x = calloc(1, sizeof(*x));
	if (!x)
		return NULL;
	x->key = key;
	x->e = *e;
	HASH_ADD(hh, r->map, key, sizeof(key), x);
	r->entries++;
	return x;
}

static void entry_drop_if_empty(struct edge_register *r, struct entry *x)
{
	if (x->n)
		return;
	HASH_DEL(r->map, x);
	free(x->owners);
	free(x);
	r->entries--;
}

/* Hands the entry's effective state to the apply layer. */
static void effect(struct edge_register *r, const struct entry *x)
{
	struct reg_effect fx = { .e = x->e, .exp_ms = 0 };

	for (unsigned i = 0; i < x->n; i++) {
		if (x->owners[i].origin == SELF) {
			fx.mine = true;
			continue;
		}
		fx.peers = true;
		if (x->owners[i].exp_ms > fx.exp_ms)
			fx.exp_ms = x->owners[i].exp_ms;
	}
	r->cb(r->ctx, &fx);
}

/* How many entries of x's kind a peer origin holds here, for an owner added or
 * dropped (NULL for our own). */
static unsigned *held_count(struct edge_register *r, const struct entry *x, uint16_t origin)
{
	if (origin == SELF || origin >= r->n_origins)
		return NULL;
	return &r->held[origin][x->e.kind];
}

/* An origin's claim on x; created when asked, unless that origin already
 * holds its cap of x's kind here (NULL, counted by the guard). */
static struct owner *owner_get(struct edge_register *r, struct entry *x, uint16_t origin,
			       bool create)
{
	unsigned *cnt = held_count(r, x, origin);
	struct owner *n;

	for (unsigned i = 0; i < x->n; i++)
		if (x->owners[i].origin == origin)
			return &x->owners[i];
	if (!create)
		return NULL;
	if (cnt && *cnt >= edge_guard_cap(r->guard, x->e.kind)) {
		edge_guard_over_cap(r->guard, r->origins[origin], &x->e);
		return NULL;
	}
	n = realloc(x->owners, (x->n + 1) * sizeof(*n));
	if (!n)
		return NULL;
	x->owners = n;
	n = &x->owners[x->n++];
	memset(n, 0, sizeof(*n));
	n->origin = origin;
	if (cnt)
		(*cnt)++;
	return n;
}

static void owner_drop(struct edge_register *r, struct entry *x, unsigned i)
{
	unsigned *cnt = held_count(r, x, x->owners[i].origin);

	if (cnt && *cnt)
		(*cnt)--;
	x->owners[i] = x->owners[--x->n];
}

static void owner_del(struct edge_register *r, struct entry *x, uint16_t origin)
{
	for (unsigned i = 0; i < x->n; i++)
		if (x->owners[i].origin == origin) {
			owner_drop(r, x, i);
			return;
		}
}

struct edge_register *reg_new(struct edge_guard *g, reg_effect_cb cb, void *ctx)
{
	struct edge_register *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->guard = g;
	r->cb = cb;
	r->ctx = ctx;
	return r;
}

void reg_free(struct edge_register *r)
{
	struct entry *x, *tmp;

	if (!r)
		return;
	HASH_ITER(hh, r->map, x, tmp)
	{
		HASH_DEL(r->map, x);
		free(x->owners);
		free(x);
	}
	free(r->origins);
	free(r->held);
	free(r);
}

int reg_record(struct edge_register *r, const char *origin, const struct bf_log_rec *rec)
{
	uint16_t o;
	struct entry *x;
	struct owner *w;
	int rc = 0;

	if (rec->op == BF_OP_ADD && !edge_guard_entry(r->guard, origin, &rec->entry))
		return -EPERM;
	o = origin_idx(r, origin);
	x = entry_get(r, &rec->entry, rec->op == BF_OP_ADD);
	if (!x)
		return 0;
	if (rec->op == BF_OP_DEL) {
		owner_del(r, x, o);
	} else if ((w = owner_get(r, x, o, true))) {
		/* A max register: replays and reordering never shorten an entry.
		 * A resync (seq 0) reads the ZSET, which is that origin's truth. */
		if (rec->seq == 0 || rec->exp_ms > w->exp_ms)
			w->exp_ms = rec->exp_ms;
		w->gen = r->gen[rec->entry.kind];
		if (!bf_kinds[rec->entry.kind].cidr)
			x->e.punch.machine_ip = rec->entry.punch.machine_ip;
	} else {
		rc = -EDQUOT;
	}
	effect(r, x);
	entry_drop_if_empty(r, x);
	return rc;
}

void reg_resync_begin(struct edge_register *r, enum bf_kind k)
{
	r->gen[k]++;
}

void reg_resync_end(struct edge_register *r, enum bf_kind k, const char *origin)
{
	uint16_t o = origin_idx(r, origin);
	struct entry *x, *tmp;

	/* What the ZSET no longer holds is gone at that origin. */
	HASH_ITER(hh, r->map, x, tmp)
	{
		struct owner *w;

		if (x->e.kind != k || !(w = owner_get(r, x, o, false)) || w->gen == r->gen[k])
			continue;
		owner_del(r, x, o);
		effect(r, x);
		entry_drop_if_empty(r, x);
	}
}

void reg_own(struct edge_register *r, const struct bf_entry *e, int64_t exp_ms)
{
	struct entry *x = entry_get(r, e, true);
	struct owner *w;

	if (x && (w = owner_get(r, x, SELF, true)))
		w->exp_ms = exp_ms;
}

int64_t reg_own_exp(struct edge_register *r, const struct bf_entry *e)
{
	struct entry *x = entry_get(r, e, false);
	struct owner *w;

	return x && (w = owner_get(r, x, SELF, false)) ? w->exp_ms : 0;
}

unsigned reg_own_each(struct edge_register *r, int64_t now_ms,
		      void (*fn)(void *ctx, const struct bf_entry *e, int64_t exp_ms), void *ctx)
{
	struct entry *x, *tmp;
	unsigned n = 0;

	HASH_ITER(hh, r->map, x, tmp)
	{
		struct owner *w = owner_get(r, x, SELF, false);

		if (w && (w->exp_ms == BF_EXP_INF || w->exp_ms > now_ms)) {
			fn(ctx, &x->e, w->exp_ms);
			n++;
		}
	}
	return n;
}

void reg_expire(struct edge_register *r, int64_t now_ms)
{
	struct entry *x, *tmp;

	HASH_ITER(hh, r->map, x, tmp)
	{
		for (unsigned i = 0; i < x->n;)
			if (x->owners[i].exp_ms != BF_EXP_INF && x->owners[i].exp_ms <= now_ms)
				owner_drop(r, x, i);
			else
				i++;
		entry_drop_if_empty(r, x);
	}
}

void reg_state_save(struct edge_register *r, FILE *out)
{
	struct entry *x, *tmp;

	HASH_ITER(hh, r->map, x, tmp)
	{
		char e[BF_ENTRY_MAX + 1], exp[24];

		bf_entry_format(&x->e, e, sizeof(e));
		for (unsigned i = 0; i < x->n; i++) {
			if (!bf_kinds[x->e.kind].cidr && x->owners[i].origin != SELF)
				continue;
			bf_exp_format(x->owners[i].exp_ms, exp, sizeof(exp));
			fprintf(out, "owner %s %s %s %s\n",
				x->owners[i].origin == SELF ? "@self" : r->origins[x->owners[i].origin],
				exp, bf_kind_name(x->e.kind), e);
		}
	}
}

void reg_state_line(struct edge_register *r, const char *line, int64_t now_ms)
{
	char origin[BF_ORIGIN_MAX + 2], x[24], kind[8];
	struct bf_entry e;
	struct entry *en;
	struct owner *w;
	int64_t exp;
	int n = 0, k;

	if (sscanf(line, "owner %64s %23s %7s %n", origin, x, kind, &n) != 3 || !n ||
	    (k = bf_kind_parse(kind)) < 0 ||
	    bf_entry_parse((enum bf_kind)k, line + n, strlen(line + n), &e) ||
	    bf_exp_parse(x, strlen(x), now_ms, &exp) ||
	    (strcmp(origin, "@self") &&
	     (!bf_origin_valid(origin) || !edge_guard_entry(r->guard, origin, &e))))
		return;
	en = entry_get(r, &e, true);
	if (en && (w = owner_get(r, en, strcmp(origin, "@self") ? origin_idx(r, origin) : SELF, true)))
		w->exp_ms = exp;
}

void reg_stats(const struct edge_register *r, struct reg_stats *st)
{
	st->entries = r->entries;
}
