/* fleet.c - peers' entries -> maps through a per-origin max-expiry register;
 * our own entries -> Redis; heartbeat. The register is a uthash table (Debian
 * uthash-dev: header-only, no runtime dependency). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <bpf/bpf.h>
#include <errno.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <uthash.h>

#include "a2s.h"
#include "fleet.h"
#include "log.h"
#include "sync.h"

#ifndef BIFROST_VERSION
#define BIFROST_VERSION "dev"
#endif

#define SELF ((uint16_t)0xffff)
#define HEARTBEAT_MS 1000
#define HEARTBEAT_TTL_MS 15000

struct owner {
	uint16_t origin;  /* index into f->origins, SELF for our own */
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

struct reg {
	struct reg_key key;
	struct bf_entry e;
	struct owner *owners;
	unsigned n;
	UT_hash_handle hh;
};

struct edge_fleet {
	struct event_base *base;
	struct edge_maps *maps;
	struct sync_client *sync;
	struct reg *reg;
	char (*origins)[BF_ORIGIN_MAX + 1];
	unsigned *origin_punches;  /* peers' punches held per origin (the per-origin cap) */
	unsigned n_origins;
	uint32_t punch_max_origin;
	/* peers' punches refused: over an origin's cap, or by the maps (unknown
	 * machine, address not served, machine's budget, table full) */
	uint64_t punch_refused_origin;
	struct bf_log_state punch_refusing;
	/* own entries published: at most publish_max_pps a second (1 s burst) */
	double pub_tokens;
	uint64_t pub_last_ns;
	uint32_t publish_max_pps;
	uint64_t publish_capped;
	struct bf_log_state publish_capping;
	uint32_t gen[BF_KIND_MAX];
	struct event *timer;
	char id[64], ifaces[160], xdp_mode[16];
	char prefix[BF_PREFIX_MAX + 1];
	int64_t started_ms;
	edge_conf_cb on_conf;
	void *conf_ctx;
	unsigned conf_refused;   /* hashes, rules, prefixes of the last config refused */
	bool had_rules;          /* bifrost:rulestats:<id> holds something */
	char conf_version[64];
	uint64_t stats_history_ms;
	unsigned stats_inflight;  /* commands of the last frame not yet answered */
	bool stats_ok;            /* every answered command of that frame succeeded */
	bool stats_dropping;      /* logged that frames are dropped; not yet resumed */
	uint64_t stats_frames, stats_dropped, stats_dropped_at;
	struct edge_fleet_a2s_ops a2s;   /* the A2S cache's owner (edge/a2s.c via main.c) */
	struct a2s_conn *a2s_conns;      /* connections with a2s on, from the fleet config */
	size_t n_a2s_conns;
	char a2s_key[2 * 2 * A2S_KEY_LEN + 2]; /* "cur prev" as last applied */
	unsigned a2s_inflight;           /* cache reads sent and not yet answered */
};

#define ORIGINS_MAX 4096

static uint16_t origin_idx(struct edge_fleet *f, const char *o)
{
	void *n, *c;

	for (unsigned i = 0; i < f->n_origins; i++)
		if (!strcmp(f->origins[i], o))
			return (uint16_t)i;
	if (f->n_origins >= ORIGINS_MAX)
		return ORIGINS_MAX - 1; /* absurd fleet: lump the rest together */
	n = realloc(f->origins, (f->n_origins + 1) * sizeof(*f->origins));
	if (n)
		f->origins = n;
	c = realloc(f->origin_punches, (f->n_origins + 1) * sizeof(*f->origin_punches));
	if (c)
		f->origin_punches = c;
	if (!n || !c)
		return ORIGINS_MAX - 1;
	snprintf(f->origins[f->n_origins], sizeof(f->origins[0]), "%s", o);
	f->origin_punches[f->n_origins] = 0;
	return (uint16_t)f->n_origins++;
}

static void reg_key(const struct bf_entry *e, struct reg_key *k)
{
	memset(k, 0, sizeof(*k));
	k->kind = e->kind;
	if (e->kind == BF_KIND_PUNCH) {
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

static struct reg *reg_get(struct edge_fleet *f, const struct bf_entry *e, bool create)
{
	struct reg_key key;
	struct reg *r;

	reg_key(e, &key);
	HASH_FIND(hh, f->reg, &key, sizeof(key), r);
	if (r || !create)
		return r;
	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->key = key;
	r->e = *e;
	HASH_ADD(hh, f->reg, key, sizeof(key), r);
	return r;
}

static uint64_t mono_deadline(int64_t exp_ms)
{
	int64_t left = exp_ms - sync_now_ms();

	return edge_mono_ns() + (uint64_t)(left > 0 ? left : 0) * 1000000ULL;
}

/* Writes the effective state of r (latest expiry over its peer owners) to
 * the maps; our own entries are already there (XDP made them). */
static void reg_apply(struct edge_fleet *f, struct reg *r)
{
	int64_t best = 0;
	bool any = false;

	for (unsigned i = 0; i < r->n; i++) {
		if (r->owners[i].origin == SELF)
			continue;
		any = true;
		if (r->owners[i].exp_ms > best)
			best = r->owners[i].exp_ms;
	}
	if (r->e.kind == BF_KIND_PUNCH) {
		struct bf_punch_key k = { .bind_ip = r->e.punch.bind_ip,
					  .remote_ip = r->e.punch.remote_ip,
					  .bind_port = htons(r->e.punch.bind_port),
					  .remote_port = htons(r->e.punch.remote_port),
					  .proto = r->e.punch.proto };
		int rc;

		if (!any) {
			bool mine = false;

			for (unsigned i = 0; i < r->n; i++)
				mine |= r->owners[i].origin == SELF;
			if (!mine)
				edge_punch_del(&f->maps->mach, &k);
			return;
		}
		/* A peer's punch must name one of our machines, serving the
		 * punch's address, with room in its budget: whoever can write to
		 * Redis must not open holes towards other hosts. */
		rc = edge_punch_put(&f->maps->mach, &k, r->e.punch.machine_ip,
				    mono_deadline(best == BF_EXP_INF ? sync_now_ms() + 86400000LL : best));
		if (rc) {
			char e[BF_ENTRY_MAX + 1];

			bf_entry_format(&r->e, e, sizeof(e));
			bf_log_state_hit(&f->punch_refusing, BF_LOG_WARN,
					 "fleet: refusing peers' punches, first '%s': %s (counted in "
					 "bifrost_punches_refused_total)",
					 e,
					 rc == -ENOENT ? "not one of this POP's machines" :
					 rc == -EPERM  ? "the machine does not serve that address" :
					 rc == -EDQUOT ? "the machine's punch budget is spent" :
					 rc == -ENOSPC ? "the punch table is full" :
							 strerror(-rc));
		}
		return;
	}
	{
		enum edge_list l = r->e.kind == BF_KIND_WL ? EDGE_WL : EDGE_BL;

		if (!any)
			edge_maps_list_del(f->maps, l, &r->e.cidr, BF_SRC_FLEET);
		else
			edge_maps_list_put(f->maps, l, &r->e.cidr,
					   best == BF_EXP_INF ? 0 : mono_deadline(best), BF_SRC_FLEET);
	}
}

static void reg_drop_if_empty(struct edge_fleet *f, struct reg *r)
{
	if (r->n)
		return;
	HASH_DEL(f->reg, r);
	free(r->owners);
	free(r);
}

/* The per-origin count of peers' punches (the cap on what one origin can
 * make this POP hold), for a punch owner being added (+1) or dropped (-1). */
static unsigned *origin_punch_count(struct edge_fleet *f, const struct reg *r, uint16_t origin)
{
	if (r->e.kind != BF_KIND_PUNCH || origin == SELF || origin >= f->n_origins)
		return NULL;
	return &f->origin_punches[origin];
}

/* An origin's claim on r; created when asked, unless that origin already
 * holds punch_max_origin punches here (NULL, counted). */
static struct owner *owner_get(struct edge_fleet *f, struct reg *r, uint16_t origin, bool create)
{
	unsigned *cnt = origin_punch_count(f, r, origin);
	struct owner *n;

	for (unsigned i = 0; i < r->n; i++)
		if (r->owners[i].origin == origin)
			return &r->owners[i];
	if (!create)
		return NULL;
	if (cnt && *cnt >= f->punch_max_origin) {
		f->punch_refused_origin++;
		bf_log_state_hit(&f->punch_refusing, BF_LOG_WARN,
				 "fleet: origin %s holds %u punches here, its cap "
				 "(punch_max_per_origin): its new punches are refused",
				 f->origins[origin], *cnt);
		return NULL;
	}
	n = realloc(r->owners, (r->n + 1) * sizeof(*n));
	if (!n)
		return NULL;
	r->owners = n;
	n = &r->owners[r->n++];
	memset(n, 0, sizeof(*n));
	n->origin = origin;
	if (cnt)
		(*cnt)++;
	return n;
}

static void owner_drop(struct edge_fleet *f, struct reg *r, unsigned i)
{
	unsigned *cnt = origin_punch_count(f, r, r->owners[i].origin);

	if (cnt && *cnt)
		(*cnt)--;
	r->owners[i] = r->owners[--r->n];
}

static void owner_del(struct edge_fleet *f, struct reg *r, uint16_t origin)
{
	for (unsigned i = 0; i < r->n; i++)
		if (r->owners[i].origin == origin) {
			owner_drop(f, r, i);
			return;
		}
}

/* ---- sync callbacks ---- */

static void on_record(void *ctx, const char *origin, const struct bf_log_rec *rec)
{
	struct edge_fleet *f = ctx;
	uint16_t o = origin_idx(f, origin);
	struct reg *r = reg_get(f, &rec->entry, rec->op == BF_OP_ADD);
	struct owner *w;

	if (!r)
		return;
	if (rec->op == BF_OP_DEL) {
		owner_del(f, r, o);
	} else if ((w = owner_get(f, r, o, true))) {
		/* A max register: replays and reordering never shorten an entry.
		 * A resync (seq 0) reads the ZSET, which is that origin's truth. */
		if (rec->seq == 0 || rec->exp_ms > w->exp_ms)
			w->exp_ms = rec->exp_ms;
		w->gen = f->gen[rec->entry.kind];
		if (rec->entry.kind == BF_KIND_PUNCH)
			r->e.punch.machine_ip = rec->entry.punch.machine_ip;
	}
	reg_apply(f, r);
	reg_drop_if_empty(f, r);
}

static void on_resync_begin(void *ctx, enum bf_kind k, const char *origin)
{
	struct edge_fleet *f = ctx;

	f->gen[k]++;
}

static void on_resync_end(void *ctx, enum bf_kind k, const char *origin)
{
	struct edge_fleet *f = ctx;
	uint16_t o = origin_idx(f, origin);
	struct reg *r, *tmp;

	/* What the ZSET no longer holds is gone at that origin. */
	HASH_ITER(hh, f->reg, r, tmp)
	{
		struct owner *w;

		if (r->e.kind != k || !(w = owner_get(f, r, o, false)) || w->gen == f->gen[k])
			continue;
		owner_del(f, r, o);
		reg_apply(f, r);
		reg_drop_if_empty(f, r);
	}
}

static void on_connected(void *ctx)
{
	struct edge_fleet *f = ctx;
	int64_t now = sync_now_ms();
	struct reg *r, *tmp;
	unsigned n = 0;

	/* Redis may have come back empty: say again what is ours. */
	HASH_ITER(hh, f->reg, r, tmp)
	{
		struct owner *w = owner_get(f, r, SELF, false);

		if (w && (w->exp_ms == BF_EXP_INF || w->exp_ms > now)) {
			sync_client_write(f->sync, BF_OP_ADD, &r->e, w->exp_ms, "reassert");
			n++;
		}
	}
	sync_client_announce(f->sync, BF_EVT_EDGE_UP, BIFROST_VERSION);
	pr_info("fleet: connected; re-asserted %u own entries", n);
}

static void a2s_conns_set(struct edge_fleet *f, const struct sync_fleet_conf *fc);

static void on_conf(void *ctx, const struct sync_fleet_conf *fc)
{
	struct edge_fleet *f = ctx;

	pr_info("fleet config version %s: %zu connections, %zu rules, %zu protected prefixes%s",
		fc->version, fc->n_conns, fc->n_rules, fc->n_protect,
		fc->bad_conns + fc->bad_rules + fc->bad_protect ? " (some refused, see above)" : "");
	snprintf(f->conf_version, sizeof(f->conf_version), "%s", fc->version);
	f->conf_refused = fc->bad_conns + fc->bad_rules + fc->bad_protect;
	if (f->on_conf)
		f->on_conf(f->conf_ctx, fc);
	a2s_conns_set(f, fc);
}

static void on_event(void *ctx, const struct bf_evt *ev)
{
	if (ev->type == BF_EVT_EDGE_UP)
		pr_info("fleet: edge %s is up (version %s)", ev->origin, ev->version);
	else if (ev->type == BF_EVT_EDGE_DOWN)
		pr_info("fleet: edge %s is leaving (version %s); its entries stay until they expire",
			ev->origin, ev->version);
}

void edge_fleet_on_conf(struct edge_fleet *f, edge_conf_cb cb, void *ctx)
{
	f->on_conf = cb;
	f->conf_ctx = ctx;
}

/* ---- the register in the state file, beside the cursors ---- */

/* "owner <origin|@self> <exp ms|+inf> <kind> <entry text>" */
/* Peers' punches are left out: they are the bulk (every flow of every game
 * server), nobody deletes them (they expire, and their owners re-report
 * the live ones every punch_report), and their map entries outlive a
 * restart anyway. Saving them made every edge stall its loop each second
 * for a write the size of the fleet's flows. Lists are saved whole: a del
 * after a restart must know which other origins still hold the entry. */
static void on_state_save(void *ctx, FILE *out)
{
	struct edge_fleet *f = ctx;
	struct reg *r, *tmp;

	HASH_ITER(hh, f->reg, r, tmp)
	{
		char e[BF_ENTRY_MAX + 1], x[24];

		bf_entry_format(&r->e, e, sizeof(e));
		for (unsigned i = 0; i < r->n; i++) {
			if (r->e.kind == BF_KIND_PUNCH && r->owners[i].origin != SELF)
				continue;
			bf_exp_format(r->owners[i].exp_ms, x, sizeof(x));
			fprintf(out, "owner %s %s %s %s\n",
				r->owners[i].origin == SELF ? "@self" : f->origins[r->owners[i].origin], x,
				bf_kind_name(r->e.kind), e);
		}
	}
}

static void on_state_line(void *ctx, const char *line)
{
	struct edge_fleet *f = ctx;
	char origin[BF_ORIGIN_MAX + 2], x[24], kind[8];
	struct bf_entry e;
	struct owner *w;
	struct reg *r;
	int64_t exp;
	int n = 0, k;

	if (sscanf(line, "owner %64s %23s %7s %n", origin, x, kind, &n) != 3 || !n ||
	    (k = bf_kind_parse(kind)) < 0 ||
	    bf_entry_parse((enum bf_kind)k, line + n, strlen(line + n), &e) ||
	    bf_exp_parse(x, strlen(x), sync_now_ms(), &exp) ||
	    (strcmp(origin, "@self") && !bf_origin_valid(origin)))
		return; /* expired or damaged: the next resync or record restores it */
	r = reg_get(f, &e, true);
	if (r && (w = owner_get(f, r, strcmp(origin, "@self") ? origin_idx(f, origin) : SELF, true)))
		w->exp_ms = exp;
}

/* ---- per-rule counters for bifrostctl rule stats ---- */

#define RULESTATS_MAX 1024 /* BF_RULES_MAX: every live rule fits */

static void rulestats_done(void *ctx, bool ok)
{
	/* Fire and forget: the next second rewrites the hash anyway. */
}

/* bifrost:rulestats:<id>: rule id -> "packets bytes", rewritten whole each
 * second (a removed rule's line goes with it), gone 15 s after the edge. */
static void publish_rule_stats(struct edge_fleet *f)
{
	static const char *argv[2 + 2 * RULESTATS_MAX];
	static size_t lens[2 + 2 * RULESTATS_MAX];
	static char ids[RULESTATS_MAX][12], vals[RULESTATS_MAX][48];
	struct edge_rule_stat *st;
	char key[BF_KEY_MAX];
	size_t n;
	int argc = 2;

	if (!sync_client_connected(f->sync) || edge_maps_rule_stats(&f->maps->fd, &st, &n))
		return;
	snprintf(key, sizeof(key), "%srulestats:%s", f->prefix, f->id);
	if (!n && !f->had_rules) {
		free(st);
		return;
	}
	argv[0] = "HSET";
	argv[1] = key;
	for (size_t i = 0; i < n && i < RULESTATS_MAX; i++) {
		snprintf(ids[i], sizeof(ids[i]), "%u", st[i].id);
		snprintf(vals[i], sizeof(vals[i]), "%llu %llu", (unsigned long long)st[i].packets,
			 (unsigned long long)st[i].bytes);
		argv[argc++] = ids[i];
		argv[argc++] = vals[i];
	}
	for (int i = 0; i < argc; i++)
		lens[i] = strlen(argv[i]);
	sync_client_cmd(f->sync, "MULTI");
	sync_client_cmd(f->sync, "DEL %s", key);
	if (argc > 2) {
		sync_client_cmd_argv(f->sync, argc, argv, lens, rulestats_done, NULL);
		sync_client_cmd(f->sync, "PEXPIRE %s %d", key, HEARTBEAT_TTL_MS);
	}
	sync_client_cmd(f->sync, "EXEC");
	f->had_rules = n > 0;
	free(st);
}

/* ---- the A2S cache: replies and the fleet's challenge key from Redis ---- */

struct a2s_conn {
	uint32_t ip;
	uint16_t port;
};

#define A2S_KEY_ROTATE_MS (3600 * 1000)

/* Creates the fleet's challenge key if there is none and rotates it (the
 * current key becomes the previous one) once it is an hour old. Every edge
 * runs it each second with a fresh random key; being one script it is
 * atomic, so exactly one edge's key wins each rotation. */
static const char a2s_key_script[] =
	"local cur = redis.call('HGET', KEYS[1], 'cur') "
	"local since = tonumber(redis.call('HGET', KEYS[1], 'since') or '0') "
	"if not cur then redis.call('HSET', KEYS[1], 'cur', ARGV[1], 'since', ARGV[2]) return 1 end "
	"if tonumber(ARGV[2]) - since >= tonumber(ARGV[3]) then "
	"redis.call('HSET', KEYS[1], 'prev', cur, 'cur', ARGV[1], 'since', ARGV[2]) return 2 end "
	"return 0";

static void a2s_key_read(void *ctx, const struct bf_field *fl, size_t n)
{
	struct edge_fleet *f = ctx;
	char cur[2 * A2S_KEY_LEN + 1] = "", prev[2 * A2S_KEY_LEN + 1] = "", both[sizeof(f->a2s_key)];
	struct a2s_keys k = { 0 };

	for (size_t i = 0; i < n; i++) {
		char *dst = fl[i].name_len == 3 && !memcmp(fl[i].name, "cur", 3)    ? cur
			    : fl[i].name_len == 4 && !memcmp(fl[i].name, "prev", 4) ? prev
										    : NULL;

		if (dst && fl[i].val_len == 2 * A2S_KEY_LEN) {
			memcpy(dst, fl[i].val, fl[i].val_len);
			dst[fl[i].val_len] = '\0';
		}
	}
	if (a2s_key_parse(cur, k.cur)) {
		if (n)
			pr_warn("fleet: the A2S challenge key in Redis is not 32 hex digits; keeping ours");
		return;
	}
	k.has_prev = !a2s_key_parse(prev, k.prev);
	snprintf(both, sizeof(both), "%s %s", cur, prev);
	if (!strcmp(both, f->a2s_key))
		return;
	snprintf(f->a2s_key, sizeof(f->a2s_key), "%s", both);
	pr_info("fleet: A2S challenge key %s", k.has_prev ? "rotated" : "in force");
	if (f->a2s.keys)
		f->a2s.keys(f->a2s.ctx, &k);
}

static void a2s_key_tick(struct edge_fleet *f)
{
	uint8_t raw[A2S_KEY_LEN];
	char hex[2 * A2S_KEY_LEN + 1], now[24], every[24], key[BF_KEY_MAX];

	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
		return;
	for (int i = 0; i < A2S_KEY_LEN; i++)
		snprintf(hex + 2 * i, 3, "%02x", raw[i]);
	snprintf(now, sizeof(now), "%lld", (long long)sync_now_ms());
	snprintf(every, sizeof(every), "%d", A2S_KEY_ROTATE_MS);
	snprintf(key, sizeof(key), "%sa2s:key", f->prefix);
	sync_client_cmd(f->sync, "EVAL %s 1 %s %s %s %s", a2s_key_script, key, hex, now, every);
	sync_client_hgetall(f->sync, key, a2s_key_read, f);
}

static bool a2s_followed(const struct edge_fleet *f, uint32_t ip, uint16_t port)
{
	for (size_t i = 0; i < f->n_a2s_conns; i++)
		if (f->a2s_conns[i].ip == ip && f->a2s_conns[i].port == port)
			return true;
	return false;
}

static void a2s_fetched(void *ctx, const char *key, const uint8_t *val, size_t len, int64_t pttl)
{
	struct edge_fleet *f = ctx;
	enum bf_a2s_key kind;
	uint32_t ip;
	uint16_t port;

	if (f->a2s_inflight)
		f->a2s_inflight--;
	if (pttl == SYNC_FETCH_LOST)
		return; /* lost the connection: keep what we have until we know */
	if (bf_key_a2s_parse(key, strlen(key), f->prefix, &kind, &ip, &port) ||
	    !a2s_followed(f, ip, port) || !f->a2s.reply)
		return;
	/* A reply without a TTL is not the refresher's: it would never go stale. */
	f->a2s.reply(f->a2s.ctx, ip, port, kind, pttl > 0 ? val : NULL, pttl > 0 ? len : 0,
		     pttl > 0 ? pttl : 0);
}

static void a2s_fetch(struct edge_fleet *f, uint32_t ip, uint16_t port, enum bf_a2s_key kind)
{
	char key[BF_KEY_MAX];

	if (bf_key_a2s(key, sizeof(key), f->prefix, kind, ip, port) > 0 &&
	    !sync_client_fetch(f->sync, key, A2S_REPLY_MAX, a2s_fetched, f))
		f->a2s_inflight++;
}

/* A refresher just stored a key: read it now rather than at the next tick. */
static void on_a2s_key(void *ctx, enum bf_a2s_key kind, uint32_t ip, uint16_t port)
{
	struct edge_fleet *f = ctx;

	if (a2s_followed(f, ip, port))
		a2s_fetch(f, ip, port, kind);
}

/* Each second: every cached reply again, so one whose TTL ran out (the
 * refreshers stopped, the server is down) is dropped within a second. */
static void a2s_tick(struct edge_fleet *f)
{
	if (!f->a2s.reply || !sync_client_connected(f->sync))
		return;
	/* A slow Redis has not answered the last second's reads: do not pile
	 * more onto the connection (the cache stands meanwhile). */
	if (f->a2s_inflight)
		return;
	if (f->n_a2s_conns)
		a2s_key_tick(f);
	for (size_t i = 0; i < f->n_a2s_conns; i++)
		for (int k = BF_A2S_INFO; k <= BF_A2S_RULES; k++)
			a2s_fetch(f, f->a2s_conns[i].ip, f->a2s_conns[i].port, (enum bf_a2s_key)k);
}

/* The fleet config named these A2S connections; the cache of any other is
 * dropped. */
static void a2s_conns_set(struct edge_fleet *f, const struct sync_fleet_conf *fc)
{
	struct a2s_conn *n = calloc(fc->n_conns + 1, sizeof(*n));
	size_t cnt = 0;

	if (!n)
		return;
	for (size_t i = 0; i < fc->n_conns; i++)
		if (fc->conns[i].a2s)
			n[cnt++] = (struct a2s_conn){ fc->conns[i].bind_ip, fc->conns[i].bind_port };
	for (size_t i = 0; i < f->n_a2s_conns && f->a2s.reply; i++) {
		bool kept = false;

		for (size_t j = 0; j < cnt; j++)
			kept |= n[j].ip == f->a2s_conns[i].ip && n[j].port == f->a2s_conns[i].port;
		for (int k = BF_A2S_INFO; !kept && k <= BF_A2S_RULES; k++)
			f->a2s.reply(f->a2s.ctx, f->a2s_conns[i].ip, f->a2s_conns[i].port,
				     (enum bf_a2s_key)k, NULL, 0, 0);
	}
	free(f->a2s_conns);
	f->a2s_conns = n;
	f->n_a2s_conns = cnt;
	a2s_tick(f);
}

void edge_fleet_on_a2s(struct edge_fleet *f, const struct edge_fleet_a2s_ops *ops)
{
	f->a2s = *ops;
}

/* ---- heartbeat and register sweep ---- */

static void tick(evutil_socket_t fd, short what, void *arg)
{
	struct edge_fleet *f = arg;
	int64_t now = sync_now_ms();
	struct sync_stats st;
	struct reg *r, *tmp;
	char key[BF_KEY_MAX];

	HASH_ITER(hh, f->reg, r, tmp)
	{
		for (unsigned i = 0; i < r->n;)
			if (r->owners[i].exp_ms != BF_EXP_INF && r->owners[i].exp_ms <= now)
				owner_drop(f, r, i);
			else
				i++;
		reg_drop_if_empty(f, r);
	}
	bf_log_state_tick(&f->punch_refusing, "fleet: refusing peers' punches");
	bf_log_state_tick(&f->publish_capping, "fleet: publishing cap");
	sync_client_poll_conf(f->sync, on_conf, f);
	publish_rule_stats(f);
	a2s_tick(f);
	sync_client_stats(f->sync, &st);
	bf_key_edge(key, sizeof(key), f->prefix, f->id);
	if (!sync_client_cmd(f->sync,
			     "HSET %s version %s iface %s xdp_mode %s started %lld last_seen %lld "
			     "pending %u peers %u records %llu bad_records %llu resyncs %llu bad_frames %llu "
			     "conf_version %s conf_refused %u",
			     key, BIFROST_VERSION, f->ifaces, f->xdp_mode, (long long)f->started_ms,
			     (long long)now, st.pending, st.peers, (unsigned long long)st.records,
			     (unsigned long long)st.bad_records, (unsigned long long)st.resyncs,
			     (unsigned long long)st.bad_frames,
			     f->conf_version[0] ? f->conf_version : "-", f->conf_refused))
		sync_client_cmd(f->sync, "PEXPIRE %s %d", key, HEARTBEAT_TTL_MS);
}

/* ---- stats frames ---- */

static void stats_done(void *ctx, bool ok)
{
	struct edge_fleet *f = ctx;

	if (!ok)
		f->stats_ok = false;
	if (f->stats_inflight && !--f->stats_inflight && f->stats_ok)
		f->stats_frames++;
}

static void stats_drop(struct edge_fleet *f, const char *why)
{
	f->stats_dropped++;
	if (f->stats_dropping)
		return;
	f->stats_dropping = true;
	f->stats_dropped_at = f->stats_dropped - 1;
	pr_warn("stats: %s; dropping stats frames until Redis answers (counted in "
		"bifrost_stats_frames_dropped_total)",
		why);
}

static int stats_send(struct edge_fleet *f, int argc, const char **argv, const size_t *lens)
{
	int rc = sync_client_cmd_argv(f->sync, argc, argv, lens, stats_done, f);

	if (!rc)
		f->stats_inflight++;
	return rc;
}

void edge_fleet_publish_stats(struct edge_fleet *f, struct bf_stats_frame *fr)
{
	struct bf_stats_field fl[BF_STATS_HASH_FIELDS];
	const char *argv[2 + 2 * BF_STATS_HASH_FIELDS];
	size_t lens[2 + 2 * BF_STATS_HASH_FIELDS];
	char key[BF_KEY_MAX], log[BF_KEY_MAX], minid[24], ttl[16];
	uint8_t frame[BF_STATS_MAX_BYTES];
	struct bf_stats_sums sums;
	struct sync_stats st;
	size_t n;
	int flen, argc = 0;

	sync_client_stats(f->sync, &st);
	snprintf(fr->origin, sizeof(fr->origin), "%s", f->id);
	fr->sync_up = sync_client_connected(f->sync);
	fr->sync_pending = st.pending;
	fr->sync_peers = st.peers;
	fr->sync_resyncs = st.resyncs;
	fr->sync_bad_records = st.bad_records;
	fr->sync_bad_frames = st.bad_frames;
	fr->stats_dropped = f->stats_dropped;
	if (!fr->sync_up) {
		stats_drop(f, "Redis is away");
		return;
	}
	if (f->stats_inflight) {
		stats_drop(f, "Redis has not answered the previous second's stats");
		return;
	}
	flen = bf_stats_encode(fr, frame, sizeof(frame));
	if (bf_key_stats(key, sizeof(key), f->prefix, f->id) < 0 ||
	    bf_key_stats_log(log, sizeof(log), f->prefix, f->id) < 0 || flen < 0) {
		stats_drop(f, "a stats frame could not be encoded");
		return;
	}
	f->stats_ok = true;

	/* HSET key field value ... : the readable latest second */
	n = bf_stats_hash_fields(fr, fl, BF_STATS_HASH_FIELDS);
	argv[argc++] = "HSET";
	argv[argc++] = key;
	for (size_t i = 0; i < n; i++) {
		argv[argc++] = fl[i].name;
		argv[argc++] = fl[i].val;
	}
	for (int i = 0; i < argc; i++)
		lens[i] = strlen(argv[i]);
	if (stats_send(f, argc, argv, lens)) {
		stats_drop(f, "the stats command could not be sent");
		return;
	}
	/* A dead edge's stats vanish with its heartbeat. */
	snprintf(ttl, sizeof(ttl), "%d", HEARTBEAT_TTL_MS);
	stats_send(f, 3, (const char *[]){ "PEXPIRE", key, ttl },
		   (const size_t[]){ 7, strlen(key), strlen(ttl) });
	stats_send(f, 3, (const char *[]){ "PUBLISH", key, (const char *)frame },
		   (const size_t[]){ 7, strlen(key), (size_t)flen });
	if (f->stats_history_ms) {
		char rx[24], fwd[24], drop[24], cin[24], cout[24];

		bf_stats_sum(fr, &sums);
		snprintf(minid, sizeof(minid), "%lld",
			 (long long)(sync_now_ms() - (int64_t)f->stats_history_ms));
		snprintf(rx, sizeof(rx), "%llu", (unsigned long long)sums.rx.pps);
		snprintf(fwd, sizeof(fwd), "%llu", (unsigned long long)sums.fwd.pps);
		snprintf(drop, sizeof(drop), "%llu", (unsigned long long)sums.drop.pps);
		snprintf(cin, sizeof(cin), "%llu", (unsigned long long)fr->conn_in_pps);
		snprintf(cout, sizeof(cout), "%llu", (unsigned long long)fr->conn_out_pps);
		{
			/* Headline rates readable with XRANGE; the whole frame in `f`. */
			const char *xa[] = { "XADD",	 log,	  "MINID",	  "~",	    minid,
					     "*",	 "rx_pps", rx,		  "fwd_pps", fwd,
					     "drop_pps", drop,	  "conn_in_pps", cin,	    "conn_out_pps",
					     cout,	 "f",	  (const char *)frame };
			size_t xl[sizeof(xa) / sizeof(xa[0])];

			for (size_t i = 0; i < sizeof(xa) / sizeof(xa[0]); i++)
				xl[i] = strlen(xa[i]);
			xl[sizeof(xa) / sizeof(xa[0]) - 1] = (size_t)flen;
			stats_send(f, (int)(sizeof(xa) / sizeof(xa[0])), xa, xl);
		}
	}
	if (f->stats_dropping) {
		f->stats_dropping = false;
		pr_info("stats: publishing again after %llu dropped frames",
			(unsigned long long)(f->stats_dropped - f->stats_dropped_at));
	}
}

void edge_fleet_health(const struct edge_fleet *f, struct edge_fleet_health *h)
{
	memset(h, 0, sizeof(*h));
	sync_client_stats(f->sync, &h->sync);
	h->connected = sync_client_connected(f->sync);
	h->stats_frames = f->stats_frames;
	h->stats_dropped = f->stats_dropped;
	h->punch_refused_origin = f->punch_refused_origin;
	h->publish_capped = f->publish_capped;
}

/* ---- api ---- */

/* Whether one more own entry may be published now: a token bucket of
 * publish_max_pps a second with a one-second burst. What one edge writes
 * to the fleet is bounded whatever happens at its POP. */
static bool publish_allowed(struct edge_fleet *f)
{
	uint64_t now = edge_mono_ns();
	double cap = (double)f->publish_max_pps;

	if (f->pub_last_ns) {
		f->pub_tokens += (double)(now - f->pub_last_ns) / 1e9 * cap;
		if (f->pub_tokens > cap)
			f->pub_tokens = cap;
	} else {
		f->pub_tokens = cap;
	}
	f->pub_last_ns = now;
	if (f->pub_tokens >= 1) {
		f->pub_tokens -= 1;
		return true;
	}
	f->publish_capped++;
	bf_log_state_hit(&f->publish_capping, BF_LOG_WARN,
			 "fleet: more than %u own entries a second; the rest are not published "
			 "(publish_max_pps; counted in bifrost_publish_capped_total; punches are "
			 "re-reported while they live)",
			 f->publish_max_pps);
	return false;
}

/* An entry of our own: registered as ours (so a reconnect re-asserts it)
 * and published, within the publishing cap. */
static void own_add(struct edge_fleet *f, const struct bf_entry *e, int64_t exp_ms, const char *why)
{
	struct reg *r;
	struct owner *w;

	if (!publish_allowed(f))
		return;
	r = reg_get(f, e, true);
	if (r && (w = owner_get(f, r, SELF, true)))
		w->exp_ms = exp_ms;
	sync_client_write(f->sync, BF_OP_ADD, e, exp_ms, why);
	sync_client_state_changed(f->sync);
}

/* A CLOCK_MONOTONIC deadline as the bus's absolute Unix ms. */
static int64_t wall_deadline(uint64_t mono_ns)
{
	uint64_t now = edge_mono_ns();

	return sync_now_ms() + (int64_t)((mono_ns > now ? mono_ns - now : 0) / 1000000);
}

void edge_fleet_punch(struct edge_fleet *f, const struct bf_punch_key *k,
		      const struct bf_punch_val *v)
{
	struct bf_entry e = { .kind = BF_KIND_PUNCH };

	if (k->proto != IPPROTO_UDP && k->proto != IPPROTO_TCP)
		return;
	e.punch = (struct bf_punch){ .proto = k->proto, .remote_ip = k->remote_ip,
				     .remote_port = ntohs(k->remote_port), .bind_ip = k->bind_ip,
				     .bind_port = ntohs(k->bind_port),
				     .machine_ip = v->machine_ip };
	own_add(f, &e, wall_deadline(v->expires_ns), "punch");
}

void edge_fleet_ban(struct edge_fleet *f, uint32_t addr, uint64_t expires_ns)
{
	struct bf_entry e = { .kind = BF_KIND_BL, .cidr = { .addr = addr, .plen = 32 } };
	struct reg *r = reg_get(f, &e, false);
	int64_t exp = wall_deadline(expires_ns);
	struct owner *w;

	/* Already published with (nearly) this expiry: nothing new to say. */
	if (r && (w = owner_get(f, r, SELF, false)) && w->exp_ms != BF_EXP_INF &&
	    w->exp_ms + 1000 >= exp)
		return;
	own_add(f, &e, exp, "ratelimit");
}

struct edge_fleet *edge_fleet_new(struct event_base *base, const struct edge_config *cfg,
				  struct edge_maps *maps, const char *xdp_mode)
{
	struct edge_fleet *f = calloc(1, sizeof(*f));
	struct sync_config sc = { .endpoint = &cfg->redis_ep, .prefix = cfg->redis_prefix,
				  .read_peers = true };
	struct sync_handlers h = { .on_record = on_record, .on_resync_begin = on_resync_begin,
				   .on_resync_end = on_resync_end, .on_connected = on_connected,
				   .on_state_save = on_state_save, .on_state_line = on_state_line,
				   .on_event = on_event, .on_a2s_key = on_a2s_key };
	struct timeval tv = { .tv_sec = HEARTBEAT_MS / 1000, .tv_usec = (HEARTBEAT_MS % 1000) * 1000 };
	char cursors[256];

	if (!f)
		return NULL;
	f->base = base;
	f->maps = maps;
	f->started_ms = sync_now_ms();
	f->stats_history_ms = cfg->stats_history_ms;
	f->punch_max_origin = cfg->punch_max_origin;
	f->publish_max_pps = cfg->publish_max_pps ? cfg->publish_max_pps : 1;
	snprintf(f->id, sizeof(f->id), "%s", cfg->id);
	snprintf(f->xdp_mode, sizeof(f->xdp_mode), "%s", xdp_mode ? xdp_mode : "?");
	for (int i = 0; i < cfg->n_ifaces; i++) {
		size_t n = strlen(f->ifaces);

		snprintf(f->ifaces + n, sizeof(f->ifaces) - n, "%s%s", i ? "," : "", cfg->ifaces[i]);
	}
	snprintf(f->prefix, sizeof(f->prefix), "%s", cfg->redis_prefix);
	sc.origin = cfg->id;
	/* Cursors and the register live in one state file: after a restart the
	 * edge resumes the logs exactly where its register stood. */
	snprintf(cursors, sizeof(cursors), "/run/bifrost-edge-%s.state", cfg->id);
	sc.cursor_path = cursors;
	h.ctx = f;
	f->sync = sync_client_new(base, &sc, &h);
	f->timer = event_new(base, -1, EV_PERSIST, tick, f);
	if (!f->sync || !f->timer) {
		edge_fleet_free(f);
		return NULL;
	}
	event_add(f->timer, &tv);
	pr_info("fleet: following Redis at %s as origin %s", cfg->redis, cfg->id);
	return f;
}

void edge_fleet_free(struct edge_fleet *f)
{
	struct reg *r, *tmp;

	if (!f)
		return;
	if (f->sync && sync_client_connected(f->sync) &&
	    !sync_client_announce(f->sync, BF_EVT_EDGE_DOWN, BIFROST_VERSION))
		event_base_loop(f->base, EVLOOP_NONBLOCK); /* let hiredis write it out */
	if (f->timer)
		event_free(f->timer);
	sync_client_free(f->sync);
	HASH_ITER(hh, f->reg, r, tmp)
	{
		HASH_DEL(f->reg, r);
		free(r->owners);
		free(r);
	}
	free(f->origins);
	free(f->origin_punches);
	free(f->a2s_conns);
	free(f);
}
