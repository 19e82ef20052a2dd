/* register.c - the fleet register (register.h): an open-addressing table
 * of entries, each with the expiry every origin gave it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "clock.h"
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
 * padded, so it compares as bytes. */
struct reg_key {
	uint32_t kind;
	uint32_t a, b;     /* cidr: addr, plen; punch: remote ip, bind ip */
	uint16_t pa, pb;   /* punch: remote port, bind port */
	uint32_t proto;
};

/* Owners: most entries have one (a resync of a million entries from one
 * origin), held in the entry itself; more go to the heap. */
struct entry {
	struct reg_key key;
	struct bf_entry e;
	struct owner *owners; /* &one, or the heap when cap > 1 */
	unsigned n, cap;
	struct owner one;
};

/* The table: slots of (hash, entry), linear probing, at most 3/4 full
 * counting tombstones (a deleted slot keeps probes going; a walk may delete
 * as it goes). The hash is keyed with a random seed: entries come from
 * Redis, and a writer must not be able to choose keys that collide. */
struct reg_slot {
	uint64_t hv;
	struct entry *x; /* NULL: empty; TOMB: deleted */
};

#define TOMB ((struct entry *)1)
#define LIVE(sl) ((sl)->x > TOMB)

struct reg_table {
	struct reg_slot *slot;
	size_t cap, used, tombs; /* cap: a power of 2 */
	uint64_t seed;
};

struct edge_register {
	struct reg_table t;
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

static uint64_t key_hash(const struct reg_table *t, const struct reg_key *k)
{
	uint64_t h = t->seed ^ ((uint64_t)k->a << 32 | k->b);

	h = (h ^ (h >> 31)) * 0x9e3779b97f4a7c15ULL;
	h ^= (uint64_t)k->kind << 48 | (uint64_t)k->proto << 32 | (uint32_t)k->pa << 16 | k->pb;
	h = (h ^ (h >> 29)) * 0xbf58476d1ce4e5b9ULL;
	return h ^ (h >> 32);
}

/* The slot holding key k, or the empty slot that ends its probe. */
static struct reg_slot *table_find(const struct reg_table *t, const struct reg_key *k,
				   uint64_t hv)
{
	size_t mask = t->cap - 1, i = hv & mask;

	for (;; i = (i + 1) & mask) {
		struct reg_slot *sl = &t->slot[i];

		if (!sl->x || (LIVE(sl) && sl->hv == hv && !memcmp(&sl->x->key, k, sizeof(*k))))
			return sl;
	}
}

/* Room for one more (at most 3/4 of the slots used or deleted): 0, 1 when
 * the table was rebuilt (its slots moved), or -ENOMEM. */
static int table_reserve(struct reg_table *t)
{
	struct reg_slot *old = t->slot;
	size_t ocap = t->cap, cap = ocap ? ocap : 64;

	if ((t->used + t->tombs + 1) * 4 <= ocap * 3)
		return 0;
	while ((t->used + 1) * 2 > cap) /* a rehash leaves it at most half full */
		cap *= 2;
	t->slot = calloc(cap, sizeof(*t->slot));
	if (!t->slot) {
		t->slot = old;
		return -ENOMEM;
	}
	t->cap = cap;
	t->tombs = 0;
	for (size_t i = 0; i < ocap; i++)
		if (LIVE(&old[i])) {
			size_t j = old[i].hv & (cap - 1);

			while (t->slot[j].x)
				j = (j + 1) & (cap - 1);
			t->slot[j] = old[i];
		}
	free(old);
	return 1;
}

static struct entry *entry_get(struct edge_register *r, const struct bf_entry *e, bool create)
{
	struct reg_table *t = &r->t;
	struct reg_slot *sl = NULL;
	struct reg_key key;
	struct entry *x;
	uint64_t hv;
	int rc;

	key_of(e, &key);
	hv = key_hash(t, &key);
	if (t->cap && (sl = table_find(t, &key, hv))->x)
		return sl->x;
	if (!create || (rc = table_reserve(t)) < 0)
		return NULL;
	x = calloc(1, sizeof(*x));
	if (!x)
		return NULL;
	x->key = key;
	x->e = *e;
	x->owners = &x->one;
	x->cap = 1;
	/* The empty slot found above, unless the table was rebuilt (tombstones
	 * are not reused: a rebuild clears them when they pile up). */
	if (rc || !sl)
		sl = table_find(t, &key, hv);
	sl->hv = hv;
	sl->x = x;
	t->used++;
	r->entries++;
	return x;
}

static void entry_free(struct entry *x)
{
	if (x->owners != &x->one)
		free(x->owners);
	free(x);
}

static void entry_drop_if_empty(struct edge_register *r, struct entry *x)
{
	struct reg_slot *sl;

	if (x->n)
		return;
	sl = table_find(&r->t, &x->key, key_hash(&r->t, &x->key));
	sl->x = TOMB;
	r->t.used--;
	r->t.tombs++;
	entry_free(x);
	r->entries--;
}

/* Every live entry, in table order; the loop's body may drop the entry it is given. */
#define REG_EACH(r, x)                                                        \
	for (size_t _i = 0; _i < (r)->t.cap; _i++)                            \
		if (((x) = (r)->t.slot[_i].x) > TOMB)

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
	if (x->n == x->cap) {
		n = malloc(2 * x->cap * sizeof(*n));
		if (!n)
			return NULL;
		memcpy(n, x->owners, x->n * sizeof(*n));
		if (x->owners != &x->one)
			free(x->owners);
		x->owners = n;
		x->cap *= 2;
	}
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
	if (getrandom(&r->t.seed, sizeof(r->t.seed), 0) != sizeof(r->t.seed))
		r->t.seed = (uint64_t)(uintptr_t)r ^ (uint64_t)bf_mono_ns();
	return r;
}

void reg_free(struct edge_register *r)
{
	struct entry *x;

	if (!r)
		return;
	REG_EACH(r, x)
		entry_free(x);
	free(r->t.slot);
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
	struct entry *x;

	/* What the ZSET no longer holds is gone at that origin. */
	REG_EACH(r, x)
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
	struct entry *x;
	unsigned n = 0;

	REG_EACH(r, x)
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
	struct entry *x;

	REG_EACH(r, x)
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
	struct entry *x;

	REG_EACH(r, x)
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
