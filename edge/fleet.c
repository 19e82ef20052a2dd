/* fleet.c - the fleet bus as the edge sees it (fleet.h): sync callbacks to
 * the register and the apply layer, own entries out. */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "a2s_feed.h"
#include "apply.h"
#include "clock.h"
#include "fleet.h"
#include "guard.h"
#include "log.h"
#include "register.h"

#ifndef BIFROST_VERSION
#define BIFROST_VERSION "dev"
#endif

struct edge_fleet {
	struct event_base *base;
	struct sync_client *sync;
	struct edge_guard guard;  /* what the bus may make this edge hold */
	struct edge_register *reg;
	struct edge_apply *apply;
	struct edge_a2s_feed *a2s;
	char id[64];
	char conf_version[64];
	unsigned conf_refused;   /* hashes, rules, prefixes of the last config refused */
	struct bf_log_state refusing; /* peers' punches refused by the maps */
	struct bf_log_state refusing_valid; /* peers' validated clients refused by the maps */
	/* own entries published: at most publish_max_pps a second (1 s burst) */
	double pub_tokens;
	uint64_t pub_last_ns;
	uint32_t publish_max_pps;
	uint64_t publish_capped;
	struct bf_log_state capping;
	int lock_fd;             /* flock on <state file>.lock: one daemon per state file */
};

/* ---- Redis -> register -> apply ---- */

/* The register changed an entry: the maps follow. */
static void on_effect(void *ctx, const struct reg_effect *fx)
{
	struct edge_fleet *f = ctx;
	char e[BF_ENTRY_MAX + 1];
	int rc = edge_apply_fleet_entry(f->apply, fx);

	if (!rc)
		return;
	bf_entry_format(&fx->e, e, sizeof(e));
	if (fx->e.kind == BF_KIND_VALID) {
		bf_log_state_hit(&f->refusing_valid, BF_LOG_WARN,
				 "fleet: refusing peers' validated clients, first '%s': %s", e,
				 rc == -ENOSPC ? "the table of validated clients (bf_valid) is full" :
						 strerror(-rc));
		return;
	}
	if (fx->e.kind != BF_KIND_PUNCH)
		return;
	bf_log_state_hit(&f->refusing, BF_LOG_WARN,
			 "fleet: refusing peers' punches, first '%s': %s (counted in "
			 "bifrost_punches_refused_total)",
			 e,
			 rc == -ENOENT ? "not one of this POP's machines" :
			 rc == -EPERM  ? "the machine does not serve that address" :
			 rc == -EDQUOT ? "the machine's punch budget is spent" :
			 rc == -ENOSPC ? "the punch table is full" :
					 strerror(-rc));
}

static void on_record(void *ctx, const char *origin, const struct bf_log_rec *rec)
{
	reg_record(((struct edge_fleet *)ctx)->reg, origin, rec);
}

static void on_resync_begin(void *ctx, enum bf_kind k, const char *origin)
{
	reg_resync_begin(((struct edge_fleet *)ctx)->reg, k);
}

static void on_resync_end(void *ctx, enum bf_kind k, const char *origin)
{
	struct edge_fleet *f = ctx;

	reg_resync_end(f->reg, k, origin);
	edge_apply_flush(f->apply);
}

/* The list entries a batch of records queued go to the maps now. */
static void on_batch_end(void *ctx)
{
	edge_apply_flush(((struct edge_fleet *)ctx)->apply);
}

static void reassert(void *ctx, const struct bf_entry *e, int64_t exp_ms)
{
	sync_client_write(ctx, BF_OP_ADD, e, exp_ms, "reassert");
}

static void on_connected(void *ctx)
{
	struct edge_fleet *f = ctx;
	/* Redis may have come back empty: say again what is ours. */
	unsigned n = reg_own_each(f->reg, bf_wall_ms(), reassert, f->sync);

	sync_client_announce(f->sync, BF_EVT_EDGE_UP, BIFROST_VERSION);
	pr_info("fleet: connected; re-asserted %u own entries", n);
}

/* The fleet config through the guard (rules that would drop every packet unmarked, too
 * wide protected prefixes), then to the apply layer and the A2S feed. */
static void on_conf(void *ctx, const struct sync_fleet_conf *fc)
{
	struct edge_fleet *f = ctx;
	struct sync_fleet_conf g = *fc;
	struct bf_rule_def *rules = malloc((fc->n_rules ? fc->n_rules : 1) * sizeof(*rules));
	struct bf_cidr *pr = malloc((fc->n_protect ? fc->n_protect : 1) * sizeof(*pr));
	unsigned refused;

	if (!rules || !pr) {
		pr_err("fleet config version %s: out of memory; not applied", fc->version);
		free(rules);
		free(pr);
		return;
	}
	g.rules = rules;
	g.n_rules = edge_guard_rules(&f->guard, fc->rules, fc->n_rules, f->id, rules);
	g.protect = pr;
	g.n_protect = edge_guard_protect(&f->guard, fc->protect, fc->n_protect, pr);
	refused = fc->bad_conns + fc->bad_rules + fc->bad_protect +
		  (unsigned)(fc->n_rules - g.n_rules + fc->n_protect - g.n_protect) +
		  fc->conns_refused + fc->protect_refused;
	pr_info("fleet config version %s: %zu connections, %zu rules, %zu protected prefixes%s",
		fc->version, g.n_conns, g.n_rules, g.n_protect,
		refused ? " (some refused, see above)" : "");
	snprintf(f->conf_version, sizeof(f->conf_version), "%s", fc->version);
	f->conf_refused = refused;
	edge_apply_fleet_conf(f->apply, &g);
	if (!fc->conns_refused)
		edge_a2s_feed_conns(f->a2s, fc->conns, fc->n_conns);
	free(rules);
	free(pr);
}

static void on_refused(void *ctx, const struct sync_refusal *r)
{
	edge_guard_sync(&((struct edge_fleet *)ctx)->guard, r);
}

static void on_event(void *ctx, const struct bf_evt *ev)
{
	if (ev->type == BF_EVT_EDGE_UP)
		pr_info("fleet: edge %s is up (version %s)", ev->origin, ev->version);
	else if (ev->type == BF_EVT_EDGE_DOWN)
		pr_info("fleet: edge %s is leaving (version %s); its entries stay until they expire",
			ev->origin, ev->version);
}

static void on_a2s_key(void *ctx, enum bf_a2s_key kind, uint32_t ip, uint16_t port)
{
	edge_a2s_feed_announced(((struct edge_fleet *)ctx)->a2s, kind, ip, port);
}

static void on_state_save(void *ctx, FILE *out)
{
	reg_state_save(((struct edge_fleet *)ctx)->reg, out);
}

static void on_state_line(void *ctx, const char *line)
{
	reg_state_line(((struct edge_fleet *)ctx)->reg, line, bf_wall_ms());
}

void edge_fleet_tick(struct edge_fleet *f)
{
	reg_expire(f->reg, bf_wall_ms());
	edge_guard_tick(&f->guard);
	bf_log_state_tick(&f->refusing, "fleet: refusing peers' punches");
	bf_log_state_tick(&f->refusing_valid, "fleet: refusing peers' validated clients");
	bf_log_state_tick(&f->capping, "fleet: publishing cap");
	sync_client_poll_conf(f->sync, on_conf, f);
}

/* ---- own entries -> Redis ---- */

/* Whether one more own entry may be published now: a token bucket of
 * publish_max_pps a second with a one-second burst. What one edge writes
 * to the fleet is bounded whatever happens at its POP. */
static bool publish_allowed(struct edge_fleet *f)
{
	uint64_t now = bf_mono_ns();
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
	bf_log_state_hit(&f->capping, BF_LOG_WARN,
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
	if (!publish_allowed(f))
		return;
	reg_own(f->reg, e, exp_ms);
	sync_client_write(f->sync, BF_OP_ADD, e, exp_ms, why);
	sync_client_state_changed(f->sync);
}

/* A CLOCK_MONOTONIC deadline as the bus's absolute Unix ms. */
static int64_t wall_deadline(uint64_t mono_ns)
{
	uint64_t now = bf_mono_ns();

	return bf_wall_ms() + (int64_t)((mono_ns > now ? mono_ns - now : 0) / 1000000);
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

void edge_fleet_valid(struct edge_fleet *f, const struct bf_rl_key *k, uint64_t expires_ns)
{
	struct bf_entry e = { .kind = BF_KIND_VALID };

	if (k->proto != IPPROTO_UDP)
		return;
	e.punch = (struct bf_punch){ .proto = k->proto, .remote_ip = k->src,
				     .bind_ip = k->bind_ip, .bind_port = ntohs(k->bind_port) };
	own_add(f, &e, wall_deadline(expires_ns), "handshake");
}

void edge_fleet_ban(struct edge_fleet *f, uint32_t addr, uint64_t expires_ns)
{
	struct bf_entry e = { .kind = BF_KIND_BL, .cidr = { .addr = addr, .plen = 32 } };
	int64_t exp = wall_deadline(expires_ns), own = reg_own_exp(f->reg, &e);

	/* Already published with (nearly) this expiry: nothing new to say. */
	if (own && own != BF_EXP_INF && own + 1000 >= exp)
		return;
	own_add(f, &e, exp, "ratelimit");
}

/* ---- life ---- */

struct sync_client *edge_fleet_sync(struct edge_fleet *f)
{
	return f->sync;
}

void edge_fleet_set_a2s_feed(struct edge_fleet *f, struct edge_a2s_feed *feed)
{
	f->a2s = feed;
}

void edge_fleet_health(const struct edge_fleet *f, struct edge_fleet_health *h)
{
	memset(h, 0, sizeof(*h));
	sync_client_stats(f->sync, &h->sync);
	h->connected = sync_client_connected(f->sync);
	h->guard = &f->guard;
	h->punch_refused_origin = f->guard.refused[GK_PUNCH][GW_CAP];
	h->publish_capped = f->publish_capped;
	h->conf_version = f->conf_version;
	h->conf_refused = f->conf_refused;
}

struct edge_fleet *edge_fleet_new(struct event_base *base, const struct edge_config *cfg,
				  struct edge_apply *apply)
{
	struct edge_fleet *f = calloc(1, sizeof(*f));
	struct sync_config sc = { .endpoint = &cfg->redis_ep, .prefix = cfg->redis_prefix,
				  .origin = cfg->id, .read_peers = true, .caps = cfg->guard.caps,
				  .log_maxlen = cfg->log_max_records,
				  .replica = cfg->redis_replica.host[0] ? &cfg->redis_replica : NULL,
				  .replica_max_lag_ms = (int)cfg->replica_max_lag_ms };
	struct sync_handlers h = { .on_record = on_record, .on_resync_begin = on_resync_begin,
				   .on_resync_end = on_resync_end, .on_batch_end = on_batch_end,
				   .on_connected = on_connected,
				   .on_state_save = on_state_save, .on_state_line = on_state_line,
				   .on_event = on_event, .on_a2s_key = on_a2s_key,
				   .on_refused = on_refused };
	char state[256], lock[264], where[BF_ENDPOINT_STRLEN];

	if (!f)
		return NULL;
	f->lock_fd = -1;
	f->base = base;
	f->apply = apply;
	f->publish_max_pps = cfg->publish_max_pps ? cfg->publish_max_pps : 1;
	snprintf(f->id, sizeof(f->id), "%s", cfg->id);
	edge_guard_init(&f->guard, &cfg->guard);
	f->reg = reg_new(&f->guard, on_effect, f);
	/* Cursors and the register live in one state file: after a restart the
	 * edge resumes the logs exactly where its register stood. */
	if (cfg->state_file[0])
		snprintf(state, sizeof(state), "%s", cfg->state_file);
	else
		snprintf(state, sizeof(state), "/run/bifrost-edge-%s.state", cfg->id);
	sc.cursor_path = state;
	/* One daemon per state file on this host: a second one would share the
	 * first's instance token, and with it its lock on the id in Redis. */
	snprintf(lock, sizeof(lock), "%s.lock", state);
	f->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (f->lock_fd < 0 || flock(f->lock_fd, LOCK_EX | LOCK_NB)) {
		pr_err("fleet: %s: %s; another bifrost-edge with the id %s runs on this host "
		       "(or set a state_file of its own)", lock,
		       f->lock_fd < 0 ? strerror(errno) : "locked", cfg->id);
		edge_fleet_free(f);
		return NULL;
	}
	h.ctx = f;
	f->sync = f->reg ? sync_client_new(base, &sc, &h) : NULL;
	if (!f->sync) {
		edge_fleet_free(f);
		return NULL;
	}
	pr_info("fleet: following Redis at %s as origin %s (keys under %s)",
		bf_endpoint_str(&cfg->redis_ep, where, sizeof(where)), cfg->id, cfg->redis_prefix);
	if (sc.replica) {
		pr_info("fleet: reading from the replica at %s while it is within %llu ms of "
			"the primary", bf_endpoint_str(sc.replica, where, sizeof(where)),
			(unsigned long long)cfg->replica_max_lag_ms);
	}
	return f;
}

void edge_fleet_free(struct edge_fleet *f)
{
	if (!f)
		return;
	if (f->lock_fd >= 0)
		close(f->lock_fd); /* releases the flock */
	if (f->sync && sync_client_connected(f->sync) &&
	    !sync_client_announce(f->sync, BF_EVT_EDGE_DOWN, BIFROST_VERSION))
		event_base_loop(f->base, EVLOOP_NONBLOCK); /* let hiredis write it out */
	sync_client_free(f->sync);
	reg_free(f->reg);
	free(f);
}
