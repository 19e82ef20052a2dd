/* main.c - bifrost-edge: flags, start-up order, the libevent loop. */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <errno.h>
#include <net/if.h>
#include <event2/event.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "a2s.h"
#include "bifrost.h"
#include "config.h"
#include "events.h"
#include "fleet.h"
#include "loader.h"
#include "log.h"
#include "maps.h"
#include "metrics.h"
#include "stats.h"
#include "sync.h"

#ifndef BIFROST_VERSION
#define BIFROST_VERSION "dev"
#endif

#define EXIT_USAGE 2

static const char *reason_names[BF_R_MAX] = { BF_R_NAMES };

struct edge {
	struct edge_config cfg;
	const char *config_path;
	struct edge_dp dp;
	struct edge_maps maps;
	struct edge_events events;
	struct edge_fleet *fleet;
	struct event_base *base;
	uint32_t *locals; /* this host's addresses, as last applied */
	size_t n_locals;
	struct bf_conn *fleet_conns; /* from Redis; NULL until the fleet has a config */
	size_t n_fleet_conns;
	struct bf_rule_def *fleet_rules; /* from Redis; in force once fleet_rules_set */
	size_t n_fleet_rules;
	bool fleet_rules_set;
	struct edge_stats_sample prev; /* last second's counters, for the rates */
	struct edge_metrics *metrics;
	struct edge_a2s *a2s; /* AF_XDP A2S workers, with `a2s_workers yes` */
	struct edge_a2s_seen *a2s_seen; /* what the cache holds: age and TTL, for /metrics */
	size_t n_a2s_seen;
};

/* Redis's connections once the fleet has a config; the file's before. */
/* ---- A2S: the cache from Redis, the workers, the flags XDP reads ---- */

static uint16_t a2s_flags(unsigned ready)
{
	return (uint16_t)((ready & (1u << A2S_INFO) ? BF_CONN_F_A2S_INFO : 0) |
			  (ready & (1u << A2S_PLAYER) ? BF_CONN_F_A2S_PLAYER : 0) |
			  (ready & (1u << A2S_RULES) ? BF_CONN_F_A2S_RULES : 0));
}

/* XDP redirects a kind of query only while its reply is cached here. */
static void a2s_sync_flags(struct edge *e, uint32_t ip, uint16_t port)
{
	unsigned ready = e->a2s ? edge_a2s_ready(e->a2s, ip, port) : 0;

	edge_maps_conn_flags(&e->maps, IPPROTO_UDP, ip, port, BF_CONN_F_A2S_ANY, a2s_flags(ready));
}

/* A cached reply from Redis (val NULL: gone). The workers validate it; the
 * log says when a connection's cache becomes ready or goes. */
/* Where a cached reply stands: when its bytes last changed (the refresher
 * stored a new answer) and the TTL Redis gave it when last read. */
static void a2s_seen_note(struct edge *e, uint32_t ip, uint16_t port, enum bf_a2s_key k,
			  const uint8_t *val, size_t len, int64_t ttl_ms)
{
	uint64_t sum = 1469598103934665603ULL; /* FNV-1a: tells a changed reply apart */
	struct edge_a2s_seen *s = NULL;
	int64_t now = sync_now_ms();

	for (size_t i = 0; val && i < len; i++)
		sum = (sum ^ val[i]) * 1099511628211ULL;
	for (size_t i = 0; i < e->n_a2s_seen; i++)
		if (e->a2s_seen[i].ip == ip && e->a2s_seen[i].port == port && e->a2s_seen[i].kind == (int)k)
			s = &e->a2s_seen[i];
	if (!val) {
		if (s)
			*s = e->a2s_seen[--e->n_a2s_seen];
		return;
	}
	if (!s) {
		struct edge_a2s_seen *n = realloc(e->a2s_seen, (e->n_a2s_seen + 1) * sizeof(*n));

		if (!n)
			return;
		e->a2s_seen = n;
		s = &n[e->n_a2s_seen++];
		*s = (struct edge_a2s_seen){ .ip = ip, .port = port, .kind = (int)k, .changed_ms = now };
	} else if (s->sum != sum) {
		s->changed_ms = now;
	}
	s->sum = sum;
	s->ttl_ms = ttl_ms;
	s->read_ms = now;
}

static void on_a2s_reply(void *ctx, uint32_t ip, uint16_t port, enum bf_a2s_key k,
			 const uint8_t *val, size_t len, int64_t ttl_ms)
{
	static const enum a2s_kind kinds[] = { [BF_A2S_INFO] = A2S_INFO,
					       [BF_A2S_PLAYER] = A2S_PLAYER,
					       [BF_A2S_RULES] = A2S_RULES };
	struct edge *e = ctx;
	char a[BF_ADDR_STRLEN];
	unsigned before, after;

	if (!e->a2s || k > BF_A2S_RULES)
		return;
	before = edge_a2s_ready(e->a2s, ip, port);
	if (val && edge_a2s_put(e->a2s, ip, port, kinds[k], val, len)) {
		val = NULL; /* refused: a reply that does not parse is not served */
		len = 0;
	}
	if (!val && (before & (1u << kinds[k]))) {
		/* XDP stops sending this kind before the cache forgets it, so a
		 * query redirected meanwhile still finds its reply. */
		edge_maps_conn_flags(&e->maps, IPPROTO_UDP, ip, port, BF_CONN_F_A2S_ANY,
				     a2s_flags(before & ~(1u << kinds[k])));
		edge_a2s_drop(e->a2s, ip, port, kinds[k]);
	}
	a2s_seen_note(e, ip, port, k, val, len, ttl_ms);
	after = edge_a2s_ready(e->a2s, ip, port);
	a2s_sync_flags(e, ip, port);
	if (before == after)
		return;
	if (after)
		pr_info("A2S cache ready for udp %s:%u (%s%s%s)", bf_ipv4_str(ip, a), port,
			after & (1u << A2S_INFO) ? "info" : "",
			after & (1u << A2S_PLAYER) ? " player" : "",
			after & (1u << A2S_RULES) ? " rules" : "");
	else
		pr_info("A2S cache gone for udp %s:%u: queries go to the game server", bf_ipv4_str(ip, a),
			port);
}

static void on_a2s_keys(void *ctx, const struct a2s_keys *k)
{
	struct edge *e = ctx;

	if (e->a2s)
		edge_a2s_set_keys(e->a2s, k);
}

static int apply_conns(struct edge *e)
{
	int rc;

	if (e->fleet_conns)
		rc = edge_maps_apply_conns(&e->maps, e->fleet_conns, e->n_fleet_conns, e->locals,
					   e->n_locals);
	else
		rc = edge_maps_apply_conns(&e->maps, e->cfg.conns, e->cfg.n_conns, e->locals,
					   e->n_locals);
	/* Applying writes each connection's value afresh: readiness again. */
	for (size_t i = 0; !rc && e->fleet_conns && i < e->n_fleet_conns; i++)
		if (e->fleet_conns[i].a2s)
			a2s_sync_flags(e, e->fleet_conns[i].bind_ip, e->fleet_conns[i].bind_port);
	return rc;
}

/* Flags given on the command line, re-applied after every config reload. */
struct flag_overrides {
	const char *id, *addr, *redis, *xdp_mode, *metrics;
	const char *ifaces[EDGE_MAX_IFACES];
	int n_ifaces;
	int dry_run;
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: bifrost-edge [OPTIONS]\n"
		"Runs the Bifrost edge of this POP: attaches the XDP program to the interfaces,\n"
		"applies connections and lists, and keeps timed entries swept. Stopping the\n"
		"daemon leaves the data plane running; --detach removes it.\n"
		"\n"
		"  -c, --config FILE      config file (see docs/OPERATIONS.md)\n"
		"      --id ID            edge id (overrides the config's 'id')\n"
		"  -i, --iface IFNAME     interface to guard; repeat for more (replaces 'iface')\n"
		"      --addr A.B.C.D     this POP's own address (overrides 'addr')\n"
		"      --redis HOST:PORT  Redis endpoint of the fleet (overrides 'redis')\n"
		"      --xdp-mode MODE    auto (native, else generic), native or generic\n"
		"      --dry-run          count drops as would_drop and pass them\n"
		"      --metrics ADDR:PORT  serve Prometheus /metrics there (overrides 'metrics')\n"
		"      --check            validate the configuration and exit\n"
		"      --detach           remove the program and pinned maps, then exit\n"
		"      --stats            print the verdict counters of the running edge\n"
		"      --dump MAP         print a map: conns, whitelist, blacklist, blocklist,\n"
		"                         punches, protected, rules (with their counters),\n"
		"                         machines (where their IPIP is accepted, punch budgets)\n"
		"      --json             JSON output for --stats, --dump, --check\n"
		"  -v, --verbose          debug logging\n"
		"  -V, --version          print the version\n"
		"  -h, --help             this text\n"
		"\n"
		"Exit status: 0 success, 1 runtime failure, 2 bad flag or configuration.\n");
}

static int apply_overrides(struct edge_config *cfg, const struct flag_overrides *o, char *err,
			   size_t errlen)
{
	char line[160];

	/* Flags go through the config parser: one set of rules, one set of errors. */
	const struct {
		const char *key, *val;
	} kv[] = { { "id", o->id }, { "addr", o->addr }, { "redis", o->redis },
		   { "xdp_mode", o->xdp_mode }, { "metrics", o->metrics } };

	for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++) {
		if (!kv[i].val)
			continue;
		snprintf(line, sizeof(line), "%s %s", kv[i].key, kv[i].val);
		if (edge_config_parse(cfg, line, "command line", err, errlen))
			return -EINVAL;
	}
	if (o->n_ifaces) {
		cfg->n_ifaces = 0;
		for (int i = 0; i < o->n_ifaces; i++) {
			snprintf(line, sizeof(line), "iface %s", o->ifaces[i]);
			if (edge_config_parse(cfg, line, "command line", err, errlen))
				return -EINVAL;
		}
	}
	if (o->dry_run)
		cfg->dry_run = true;
	return 0;
}

static int load_config(struct edge_config *cfg, const char *path,
		       const struct flag_overrides *o)
{
	char err[512];

	edge_config_init(cfg);
	if (path && edge_config_load(cfg, path, err, sizeof(err))) {
		pr_err("%s", err);
		return -EINVAL;
	}
	if (apply_overrides(cfg, o, err, sizeof(err)) || edge_config_validate(cfg, err, sizeof(err))) {
		pr_err("%s", err);
		return -EINVAL;
	}
	return 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Re-reads this host's addresses; 1 when they changed since last time. */
static int refresh_locals(struct edge *e)
{
	uint32_t *now;
	size_t n;

	if (edge_local_addrs(&now, &n))
		return 0;
	qsort(now, n, sizeof(*now), cmp_u32);
	if (e->locals && n == e->n_locals && !memcmp(now, e->locals, n * sizeof(*now))) {
		free(now);
		return 0;
	}
	free(e->locals);
	e->locals = now;
	e->n_locals = n;
	return 1;
}

/* Redis's rules once the fleet has a valid set; the file's before. */
static int apply_rules(struct edge *e)
{
	if (e->fleet_rules_set)
		return edge_maps_apply_rules(&e->maps, e->fleet_rules, e->n_fleet_rules, e->cfg.id);
	return edge_maps_apply_rules(&e->maps, e->cfg.rules, e->cfg.n_rules, e->cfg.id);
}

static int apply_config(struct edge *e)
{
	int rc;

	refresh_locals(e);
	rc = edge_maps_write_config(&e->maps, &e->cfg);
	if (!rc)
		rc = apply_conns(e);
	/* Protected prefixes before the blacklist, which must not cover them. */
	if (!rc)
		rc = edge_maps_list_reconcile(&e->maps, EDGE_PR, e->cfg.pr, e->cfg.n_pr,
					      BF_SRC_CONFIG);
	if (!rc)
		rc = edge_maps_list_reconcile(&e->maps, EDGE_WL, e->cfg.wl, e->cfg.n_wl,
					      BF_SRC_CONFIG);
	if (!rc)
		rc = edge_maps_list_reconcile(&e->maps, EDGE_BL, e->cfg.bl, e->cfg.n_bl,
					      BF_SRC_CONFIG);
	if (!rc)
		rc = apply_rules(e);
	if (!rc)
		pr_info("configuration applied: %zu connections, %zu whitelist, %zu blacklist and "
			"%zu protected entries, %zu rules in the file, dry_run %s",
			e->cfg.n_conns, e->cfg.n_wl, e->cfg.n_bl, e->cfg.n_pr, e->cfg.n_rules,
			e->cfg.dry_run ? "on" : "off");
	return rc;
}

/* Where the return path is accepted from, once at start: the trust
 * boundary an operator should check (docs/OPERATIONS.md, "Backend"). */
static void say_backend(const struct edge_config *cfg)
{
	const char *bk[EDGE_MAX_IFACES];
	int nb = edge_config_backends(cfg, bk);
	uint32_t ba = edge_config_backend_addr(cfg);
	char list[EDGE_MAX_IFACES * (IF_NAMESIZE + 1)] = "", a[BF_ADDR_STRLEN];

	for (int i = 0; i < nb; i++) {
		strcat(list, i ? "," : "");
		strcat(list, bk[i]);
	}
	pr_info("return path: IPIP from the game machines accepted on %s, to %s, from a machine "
		"whose route leaves by that interface",
		list, bf_ipv4_str(ba, a));
	if (nb == 1 && cfg->n_ifaces == 1 && ba == cfg->addr)
		pr_warn("%s carries both the Internet's traffic and the machines' IPIP, and the "
			"machines send to the public address %s: forged IPIP can then be stopped "
			"only upstream. Use a backend address the Internet cannot reach "
			"(backend_addr) or a separate backend interface (docs/OPERATIONS.md, "
			"\"Backend\")",
			cfg->ifaces[0], a);
}

/* ---- event loop callbacks ---- */

/* A new fleet config: connections always (a diff: removed ones leave the
 * maps); rules only as a whole set, so one that does not validate keeps the
 * previous set in force; protected prefixes are the fleet's owner's share of
 * that list (the file's stay). */
static void on_fleet_conf(void *ctx, const struct sync_fleet_conf *fc)
{
	struct edge *e = ctx;
	struct bf_conn *conns = malloc((fc->n_conns ? fc->n_conns : 1) * sizeof(*conns));
	struct edge_list_entry *pr = calloc(fc->n_protect ? fc->n_protect : 1, sizeof(*pr));

	if (conns && !fc->n_conns && !e->fleet_conns && e->cfg.n_conns) {
		/* A fleet config without a single connection, the first one this
		 * edge sees: an operator who added a rule or a protected prefix
		 * before any connection, not one who means to close every port. */
		pr_warn("fleet config %s has no connections; keeping the %zu of the config file "
			"until Redis has some (bifrostctl conn add)",
			fc->version, e->cfg.n_conns);
		free(conns);
		conns = NULL;
	}
	if (conns) {
		memcpy(conns, fc->conns, fc->n_conns * sizeof(*conns));
		free(e->fleet_conns);
		e->fleet_conns = conns;
		e->n_fleet_conns = fc->n_conns;
		apply_conns(e);
	}
	if (pr) {
		for (size_t i = 0; i < fc->n_protect; i++)
			pr[i].cidr = fc->protect[i];
		/* Protection first: a ban applied after it can no longer cover it. */
		edge_maps_list_reconcile(&e->maps, EDGE_PR, pr, fc->n_protect, BF_SRC_FLEET);
		free(pr);
	}
	if (fc->bad_rules) {
		pr_warn("fleet config %s: %u rule(s) refused (see above); the rules in force stay "
			"as they are until the set validates",
			fc->version, fc->bad_rules);
		return;
	}
	{
		struct bf_rule_def *rules = malloc((fc->n_rules ? fc->n_rules : 1) * sizeof(*rules));

		if (!rules)
			return;
		memcpy(rules, fc->rules, fc->n_rules * sizeof(*rules));
		if (edge_maps_apply_rules(&e->maps, rules, fc->n_rules, e->cfg.id)) {
			pr_warn("fleet config %s: the rule set was refused; the rules in force stay",
				fc->version);
			free(rules);
			return;
		}
		free(e->fleet_rules);
		e->fleet_rules = rules;
		e->n_fleet_rules = fc->n_rules;
		e->fleet_rules_set = true;
	}
}

/* XDP blocked a source over a connection's limit. Shared unless the
 * connection says not to, or the edge only pretends (dry run). */
static void on_ban(void *ctx, const struct bf_ban *b)
{
	struct edge *e = ctx;

	if ((b->flags & BF_BAN_F_SHARE) && !(b->flags & BF_BAN_F_DRY_RUN))
		edge_fleet_ban(e->fleet, b->src, b->expires_ns);
}

static void on_punch(void *ctx, const struct bf_punch_key *k, const struct bf_punch_val *v)
{
	struct edge *e = ctx;

	edge_fleet_punch(e->fleet, k, v);
}

static void on_events(evutil_socket_t fd, short what, void *arg)
{
	struct edge *e = arg;

	(void)fd;
	(void)what;
	edge_events_poll(&e->events);
}

static void on_sweep(evutil_socket_t fd, short what, void *arg)
{
	struct edge *e = arg;
	struct edge_sweep_stats st;

	(void)fd;
	(void)what;
	edge_maps_sweep(&e->maps, edge_mono_ns(), &st);
	/* A machine whose route moved to another interface is accepted there
	 * (or refused) within a sweep interval. */
	edge_machines_refresh(&e->maps.mach);
	/* An address added to the host (a new management IP) is reachable
	 * within a sweep interval. */
	if (refresh_locals(e)) {
		pr_info("this host's addresses changed: %zu now", e->n_locals);
		apply_conns(e);
	}
	if (st.whitelist || st.blacklist || st.blocklist || st.punches || st.protected)
		pr_info("expired: whitelist %llu, blacklist %llu, blocklist %llu, punches %llu, "
			"protected %llu",
			(unsigned long long)st.whitelist, (unsigned long long)st.blacklist,
			(unsigned long long)st.blocklist, (unsigned long long)st.punches,
			(unsigned long long)st.protected);
}

static uint64_t list_entries(const struct edge_maps *m, enum edge_list l)
{
	uint64_t n = 0;

	for (int p = 0; p <= 32; p++)
		n += m->plen_count[l][p];
	return n;
}

/* Once a second: rates since the last sample, published to the fleet. */
static void on_stats(evutil_socket_t fd, short what, void *arg)
{
	struct edge *e = arg;
	struct edge_stats_sample cur;
	struct bf_stats_frame fr;

	(void)fd;
	(void)what;
	if (edge_stats_read(&e->dp.fd, &cur)) {
		pr_debug("stats: reading the counters failed");
		return;
	}
	memset(&fr, 0, sizeof(fr));
	edge_stats_rates(&e->prev, &cur, &fr);
	fr.wl_entries = list_entries(&e->maps, EDGE_WL);
	fr.bl_entries = list_entries(&e->maps, EDGE_BL);
	if (e->fleet && e->prev.mono_ns)
		edge_fleet_publish_stats(e->fleet, &fr);
	edge_stats_sample_free(&e->prev);
	e->prev = cur;
}

static int metrics_fill(void *ctx, struct edge_metrics_snap *s)
{
	struct edge *e = ctx;
	int rc = edge_stats_read(&e->dp.fd, &s->sample);

	if (rc)
		return rc;
	s->version = BIFROST_VERSION;
	s->id = e->cfg.id;
	s->wl_entries = list_entries(&e->maps, EDGE_WL);
	s->bl_entries = list_entries(&e->maps, EDGE_BL);
	if (e->fleet) {
		struct edge_fleet_health h;

		edge_fleet_health(e->fleet, &h);
		s->fleet = true;
		s->sync = h.sync;
		s->sync_connected = h.connected;
		s->stats_frames = h.stats_frames;
		s->stats_dropped = h.stats_dropped;
		s->punch_refused[4] = h.punch_refused_origin;
		s->publish_capped = h.publish_capped;
	}
	s->punch_refused[0] = e->maps.mach.refused_unknown;
	s->punch_refused[1] = e->maps.mach.refused_served;
	s->punch_refused[2] = e->maps.mach.refused_quota;
	s->punch_refused[3] = e->maps.mach.refused_full;
	if (e->a2s) {
		s->a2s = true;
		edge_a2s_counters(e->a2s, &s->a2s_counters);
		s->a2s_seen = e->a2s_seen;
		s->n_a2s_seen = e->n_a2s_seen;
		s->now_ms = sync_now_ms();
	}
	return 0;
}

static struct flag_overrides g_overrides;

static void on_hup(evutil_socket_t sig, short what, void *arg)
{
	struct edge *e = arg;
	struct edge_config next;

	(void)sig;
	(void)what;
	pr_info("SIGHUP: reloading %s", e->config_path ? e->config_path : "(flags only)");
	if (load_config(&next, e->config_path, &g_overrides)) {
		pr_err("reload refused; the running configuration stays in force");
		edge_config_free(&next);
		return;
	}
	if (next.n_ifaces != e->cfg.n_ifaces ||
	    memcmp(next.ifaces, e->cfg.ifaces, sizeof(next.ifaces)))
		pr_warn("interface changes need a restart; keeping %s", e->cfg.ifaces[0]);
	memcpy(next.ifaces, e->cfg.ifaces, sizeof(next.ifaces));
	next.n_ifaces = e->cfg.n_ifaces;
	edge_config_free(&e->cfg);
	e->cfg = next;
	apply_config(e);
}

static void on_stop(evutil_socket_t sig, short what, void *arg)
{
	struct edge *e = arg;

	(void)what;
	pr_info("signal %d: exiting; the XDP program stays attached and keeps forwarding "
		"(bifrost-edge --detach removes it)",
		(int)sig);
	event_base_loopbreak(e->base);
}

static int run(struct edge *e)
{
	struct event *ev_rb, *ev_sweep, *ev_hup, *ev_int, *ev_term, *ev_stats;
	struct timeval one_s = { .tv_sec = 1 };
	struct timeval sweep = { .tv_sec = (long)(e->cfg.sweep_interval_ms / 1000),
				 .tv_usec = (long)(e->cfg.sweep_interval_ms % 1000) * 1000 };
	int rc;

	rc = edge_dp_load(&e->dp, &e->cfg);
	if (rc)
		return rc;
	rc = edge_maps_init(&e->maps, &e->dp.fd);
	if (rc) {
		pr_err("reading the pinned maps failed: %s", strerror(-rc));
		goto out_dp;
	}
	rc = apply_config(e);
	if (rc)
		goto out_dp;
	say_backend(&e->cfg);
	e->base = event_base_new();
	if (!e->base) {
		rc = -ENOMEM;
		goto out_dp;
	}
	rc = edge_events_open(&e->events, e->dp.fd.events);
	if (rc)
		goto out_base;
	if (e->cfg.redis[0]) {
		e->fleet = edge_fleet_new(e->base, &e->cfg, &e->maps, e->dp.ifs[0].mode);
		if (!e->fleet) {
			rc = -EINVAL;
			goto out_events;
		}
		e->events.on_punch = on_punch;
		e->events.on_ban = on_ban;
		e->events.ctx = e;
		edge_fleet_on_conf(e->fleet, on_fleet_conf, e);
	} else {
		pr_warn("no 'redis' configured: this edge runs alone (no fleet sync)");
	}
	if (e->cfg.metrics[0]) {
		e->metrics = edge_metrics_new(e->base, e->cfg.metrics_addr, e->cfg.metrics_port,
					      metrics_fill, e);
		if (!e->metrics) {
			rc = -EADDRNOTAVAIL;
			goto out_events;
		}
	}
	/* The A2S workers only answer what their cache holds and XDP only sends them
	 * connections flagged ready, so starting them changes nothing until both are
	 * filled. Without them XDP forwards every query: a failure here is no reason
	 * to stop forwarding. */
	if (e->cfg.a2s_workers) {
		char err[256];

		e->a2s = edge_a2s_start(&e->dp, e->dp.fd.xsks, err, sizeof(err));
		if (!e->a2s)
			pr_err("a2s_workers: %s; A2S queries go to the game servers", err);
	}
	if (e->fleet && e->a2s) {
		struct edge_fleet_a2s_ops ops = { .reply = on_a2s_reply, .keys = on_a2s_keys,
						  .ctx = e };

		edge_fleet_on_a2s(e->fleet, &ops);
	}
	ev_rb = event_new(e->base, edge_events_fd(&e->events), EV_READ | EV_PERSIST, on_events, e);
	ev_stats = event_new(e->base, -1, EV_PERSIST, on_stats, e);
	ev_sweep = event_new(e->base, -1, EV_PERSIST, on_sweep, e);
	ev_hup = evsignal_new(e->base, SIGHUP, on_hup, e);
	ev_int = evsignal_new(e->base, SIGINT, on_stop, e);
	ev_term = evsignal_new(e->base, SIGTERM, on_stop, e);
	event_add(ev_rb, NULL);
	event_add(ev_sweep, &sweep);
	event_add(ev_stats, &one_s);
	on_stats(-1, 0, e); /* the first sample: rates start one second from now */
	event_add(ev_hup, NULL);
	event_add(ev_int, NULL);
	event_add(ev_term, NULL);
	/* Events that arrived before the loop started. */
	edge_events_poll(&e->events);
	pr_info("edge %s running on %d interface(s), POP address %s, version %s", e->cfg.id,
		e->dp.n_ifs, inet_ntoa((struct in_addr){ .s_addr = e->cfg.addr }),
		BIFROST_VERSION);

	event_base_dispatch(e->base);

	event_free(ev_rb);
	event_free(ev_sweep);
	event_free(ev_hup);
	event_free(ev_int);
	event_free(ev_term);
	event_free(ev_stats);
	edge_a2s_stop(e->a2s);
	e->a2s = NULL;
out_events:
	edge_metrics_free(e->metrics);
	e->metrics = NULL;
	edge_stats_sample_free(&e->prev);
	edge_fleet_free(e->fleet);
	e->fleet = NULL;
	edge_events_close(&e->events);
out_base:
	event_base_free(e->base);
out_dp:
	edge_dp_close(&e->dp);
	return rc;
}

/* ---- read-only modes ---- */

static int do_stats(const char *ifname, int json)
{
	struct bf_counter c[BF_R_MAX];
	struct edge_dp dp;
	int rc = edge_dp_open_pinned(&dp, ifname);

	if (rc)
		return rc;
	rc = edge_maps_read_stats(&dp.fd, c);
	edge_dp_close(&dp);
	if (rc)
		return rc;
	if (json) {
		printf("{");
		for (int r = 0; r < BF_R_MAX; r++)
			printf("%s\"%s\":{\"packets\":%llu,\"bytes\":%llu}", r ? "," : "",
			       reason_names[r], (unsigned long long)c[r].packets,
			       (unsigned long long)c[r].bytes);
		printf("}\n");
		return 0;
	}
	printf("%-16s %14s %16s\n", "REASON", "PACKETS", "BYTES");
	for (int r = 0; r < BF_R_MAX; r++)
		printf("%-16s %14llu %16llu\n", reason_names[r], (unsigned long long)c[r].packets,
		       (unsigned long long)c[r].bytes);
	return 0;
}

static double secs_left(uint64_t expires_ns, uint64_t now)
{
	if (!expires_ns)
		return -1;
	return expires_ns > now ? (double)(expires_ns - now) / 1e9 : 0;
}

static int dump_list(int fd, int json)
{
	struct bf_cidr_key *k;
	struct bf_list_val *v;
	uint64_t now = edge_mono_ns();
	size_t n;
	int rc = edge_map_dump(fd, sizeof(*k), sizeof(*v), (void **)&k, (void **)&v, &n);

	if (rc)
		return rc;
	if (!json)
		printf("%-20s %10s %s\n", "CIDR", "EXPIRES_S", "SOURCES");
	for (size_t i = 0; i < n; i++) {
		struct bf_cidr c = { .addr = k[i].addr, .plen = (uint8_t)k[i].plen };
		char s[BF_CIDR_STRLEN];
		double left = secs_left(v[i].expires_ns, now);

		if (json)
			printf("{\"cidr\":\"%s\",\"expires_in_s\":%.3f,\"src\":%u}\n",
			       bf_cidr_str(&c, s), left, v[i].src);
		else
			printf("%-20s %10.1f %s%s%s\n", bf_cidr_str(&c, s), left,
			       v[i].src & BF_SRC_CONFIG ? "config " : "",
			       v[i].src & BF_SRC_FLEET ? "fleet " : "",
			       v[i].src & BF_SRC_LOCAL ? "local" : "");
	}
	free(k);
	free(v);
	return 0;
}

static int dump_blocklist(int fd, int json)
{
	uint32_t *k;
	struct bf_list_val *v;
	uint64_t now = edge_mono_ns();
	size_t n;
	int rc = edge_map_dump(fd, sizeof(*k), sizeof(*v), (void **)&k, (void **)&v, &n);

	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++) {
		char a[BF_ADDR_STRLEN];

		if (json)
			printf("{\"addr\":\"%s\",\"expires_in_s\":%.3f}\n", bf_ipv4_str(k[i], a),
			       secs_left(v[i].expires_ns, now));
		else
			printf("%-16s %10.1f\n", bf_ipv4_str(k[i], a), secs_left(v[i].expires_ns, now));
	}
	free(k);
	free(v);
	return 0;
}

static int dump_punches(int fd, int json)
{
	struct bf_punch_key *k;
	struct bf_punch_val *v;
	uint64_t now = edge_mono_ns();
	size_t n;
	int rc = edge_map_dump(fd, sizeof(*k), sizeof(*v), (void **)&k, (void **)&v, &n);

	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++) {
		char s[96];

		if (v[i].expires_ns <= now)
			continue; /* expired, waiting for the sweeper */
		edge_punch_str(&k[i], v[i].machine_ip, s, sizeof(s));
		if (json)
			printf("{\"punch\":\"%s\",\"expires_in_s\":%.3f}\n", s,
			       secs_left(v[i].expires_ns, now));
		else
			printf("%-64s %8.1f\n", s, secs_left(v[i].expires_ns, now));
	}
	free(k);
	free(v);
	return 0;
}

static int dump_conns(int fd, int json)
{
	struct bf_conn_key *k;
	struct bf_conn_val *v;
	size_t n;
	int rc = edge_map_dump(fd, sizeof(*k), sizeof(*v), (void **)&k, (void **)&v, &n);

	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++) {
		char b[BF_ADDR_STRLEN], m[BF_ADDR_STRLEN];
		unsigned mp = ntohs(v[i].machine_port) ? ntohs(v[i].machine_port) : ntohs(k[i].bind_port);

		if (json)
			printf("{\"proto\":\"%s\",\"bind\":\"%s:%u\",\"machine\":\"%s:%u\","
			       "\"pps\":%u,\"bps\":%llu,\"block_ms\":%u,\"share_bans\":%s}\n",
			       bf_proto_name(k[i].proto), bf_ipv4_str(k[i].bind_ip, b),
			       ntohs(k[i].bind_port), bf_ipv4_str(v[i].machine_ip, m), mp, v[i].pps,
			       (unsigned long long)v[i].bps, v[i].block_ms,
			       v[i].flags & BF_CONN_F_SHARE_BANS ? "true" : "false");
		else if (v[i].pps || v[i].bps)
			printf("%-5s %s:%u -> %s:%u  pps %u bps %llu block %.3gs%s\n",
			       bf_proto_name(k[i].proto), bf_ipv4_str(k[i].bind_ip, b),
			       ntohs(k[i].bind_port), bf_ipv4_str(v[i].machine_ip, m), mp, v[i].pps,
			       (unsigned long long)v[i].bps, v[i].block_ms / 1e3,
			       v[i].flags & BF_CONN_F_SHARE_BANS ? " shared" : "");
		else
			printf("%-5s %s:%u -> %s:%u\n", bf_proto_name(k[i].proto),
			       bf_ipv4_str(k[i].bind_ip, b), ntohs(k[i].bind_port),
			       bf_ipv4_str(v[i].machine_ip, m), mp);
	}
	free(k);
	free(v);
	return 0;
}

static int dump_rules(const struct edge_map_fds *fd, int json)
{
	struct edge_rule_stat *st;
	size_t n;
	int rc = edge_maps_rule_stats(fd, &st, &n);

	if (rc)
		return rc;
	if (!json)
		printf("%-8s %-6s %-8s %14s %16s\n", "ID", "ACTION", "DRY_RUN", "PACKETS", "BYTES");
	for (size_t i = 0; i < n; i++) {
		const char *act = st[i].action == BF_RULE_DROP ? "drop" : "pass";
		int dry = !!(st[i].flags & BF_RULE_F_DRY_RUN);

		if (json)
			printf("{\"id\":%u,\"action\":\"%s\",\"dry_run\":%s,\"packets\":%llu,"
			       "\"bytes\":%llu}\n",
			       st[i].id, act, dry ? "true" : "false",
			       (unsigned long long)st[i].packets, (unsigned long long)st[i].bytes);
		else
			printf("%-8u %-6s %-8s %14llu %16llu\n", st[i].id, act, dry ? "yes" : "no",
			       (unsigned long long)st[i].packets, (unsigned long long)st[i].bytes);
	}
	free(st);
	return 0;
}

/* The game machines: where their return path is accepted, their punch budget. */
static int dump_machines(const struct edge_map_fds *fd, int json)
{
	uint32_t *k;
	struct bf_machine *v;
	size_t n;
	int rc = edge_map_dump(fd->machines, sizeof(*k), sizeof(*v), (void **)&k, (void **)&v, &n);

	if (rc)
		return rc;
	if (!json)
		printf("%-16s %-16s %10s %10s\n", "MACHINE", "ACCEPTED_ON", "PUNCHES", "MAX");
	for (size_t i = 0; i < n; i++) {
		char a[BF_ADDR_STRLEN], ifn[IF_NAMESIZE] = "-";
		uint64_t live = 0;

		if (v[i].ifindex && !if_indextoname(v[i].ifindex, ifn))
			snprintf(ifn, sizeof(ifn), "#%u", v[i].ifindex);
		bpf_map_lookup_elem(fd->punch_quota, &v[i].slot, &live);
		if ((int64_t)live < 0)
			live = 0;
		if (json)
			printf("{\"machine\":\"%s\",\"accepted_on\":%s%s%s,\"punches\":%llu,"
			       "\"punch_max\":%u}\n",
			       bf_ipv4_str(k[i], a), v[i].ifindex ? "\"" : "",
			       v[i].ifindex ? ifn : "null", v[i].ifindex ? "\"" : "",
			       (unsigned long long)live, v[i].punch_max);
		else
			printf("%-16s %-16s %10llu %10u\n", bf_ipv4_str(k[i], a), ifn,
			       (unsigned long long)live, v[i].punch_max);
	}
	free(k);
	free(v);
	return 0;
}

static int do_dump(const char *ifname, const char *what, int json)
{
	struct edge_dp dp;
	int rc;

	if (strcmp(what, "conns") && strcmp(what, "whitelist") && strcmp(what, "blacklist") &&
	    strcmp(what, "blocklist") && strcmp(what, "punches") && strcmp(what, "protected") &&
	    strcmp(what, "rules") && strcmp(what, "machines")) {
		pr_err("--dump: unknown map '%s' (conns, whitelist, blacklist, blocklist, punches, "
		       "protected, rules, machines)",
		       what);
		return -EINVAL;
	}
	rc = edge_dp_open_pinned(&dp, ifname);
	if (rc)
		return rc;
	if (!strcmp(what, "conns"))
		rc = dump_conns(dp.fd.conns, json);
	else if (!strcmp(what, "whitelist"))
		rc = dump_list(dp.fd.whitelist, json);
	else if (!strcmp(what, "blacklist"))
		rc = dump_list(dp.fd.blacklist, json);
	else if (!strcmp(what, "blocklist"))
		rc = dump_blocklist(dp.fd.blocklist, json);
	else if (!strcmp(what, "protected"))
		rc = dump_list(dp.fd.protected, json);
	else if (!strcmp(what, "rules"))
		rc = dump_rules(&dp.fd, json);
	else if (!strcmp(what, "machines"))
		rc = dump_machines(&dp.fd, json);
	else
		rc = dump_punches(dp.fd.punches, json);
	edge_dp_close(&dp);
	return rc;
}

int main(int argc, char **argv)
{
	enum { O_ID = 256, O_ADDR, O_REDIS, O_XDP_MODE, O_DRY_RUN, O_CHECK, O_DETACH, O_STATS,
	       O_DUMP, O_JSON, O_METRICS };
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "id", required_argument, NULL, O_ID },
		{ "iface", required_argument, NULL, 'i' },
		{ "addr", required_argument, NULL, O_ADDR },
		{ "redis", required_argument, NULL, O_REDIS },
		{ "xdp-mode", required_argument, NULL, O_XDP_MODE },
		{ "dry-run", no_argument, NULL, O_DRY_RUN },
		{ "check", no_argument, NULL, O_CHECK },
		{ "detach", no_argument, NULL, O_DETACH },
		{ "stats", no_argument, NULL, O_STATS },
		{ "dump", required_argument, NULL, O_DUMP },
		{ "json", no_argument, NULL, O_JSON },
		{ "metrics", required_argument, NULL, O_METRICS },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct flag_overrides *o = &g_overrides;
	int check = 0, detach = 0, stats = 0, json = 0, verbose = 0, opt, rc;
	const char *dump = NULL;
	struct edge e = { 0 };

	bf_log_init("bifrost-edge", BF_LOG_INFO);
	while ((opt = getopt_long(argc, argv, "c:i:vVh", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			e.config_path = optarg;
			break;
		case O_ID:
			o->id = optarg;
			break;
		case 'i':
			if (o->n_ifaces == EDGE_MAX_IFACES) {
				fprintf(stderr, "bifrost-edge: at most %d --iface\n", EDGE_MAX_IFACES);
				return EXIT_USAGE;
			}
			o->ifaces[o->n_ifaces++] = optarg;
			break;
		case O_ADDR:
			o->addr = optarg;
			break;
		case O_REDIS:
			o->redis = optarg;
			break;
		case O_XDP_MODE:
			o->xdp_mode = optarg;
			break;
		case O_DRY_RUN:
			o->dry_run = 1;
			break;
		case O_CHECK:
			check = 1;
			break;
		case O_DETACH:
			detach = 1;
			break;
		case O_STATS:
			stats = 1;
			break;
		case O_DUMP:
			dump = optarg;
			break;
		case O_JSON:
			json = 1;
			break;
		case O_METRICS:
			o->metrics = optarg;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'V':
			printf("bifrost-edge %s\n", BIFROST_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "bifrost-edge: unexpected argument '%s' (see --help)\n", argv[optind]);
		return EXIT_USAGE;
	}
	if (check + detach + stats + (dump != NULL) > 1) {
		fprintf(stderr, "bifrost-edge: --check, --detach, --stats and --dump exclude each "
				"other\n");
		return EXIT_USAGE;
	}
	bf_log_init("bifrost-edge", verbose ? BF_LOG_DEBUG : BF_LOG_INFO);

	if (stats || dump) {
		/* Only the interface is needed: from --iface or the config file. */
		struct edge_config cfg;
		char err[512];
		const char *ifname = o->n_ifaces ? o->ifaces[0] : NULL;

		edge_config_init(&cfg);
		if (!ifname && e.config_path) {
			if (edge_config_load(&cfg, e.config_path, err, sizeof(err))) {
				pr_err("%s", err);
				return EXIT_USAGE;
			}
			ifname = cfg.n_ifaces ? cfg.ifaces[0] : NULL;
		}
		if (!ifname) {
			pr_err("which edge? pass --iface IFNAME (its first interface) or --config FILE");
			return EXIT_USAGE;
		}
		rc = stats ? do_stats(ifname, json) : do_dump(ifname, dump, json);
		edge_config_free(&cfg);
		return rc == -EINVAL ? EXIT_USAGE : rc ? 1 : 0;
	}

	if (load_config(&e.cfg, e.config_path, o))
		return EXIT_USAGE;
	{
		char err[160];

		/* From the environment, never from argv or the config file. */
		if (e.cfg.redis[0] && bf_endpoint_credentials(&e.cfg.redis_ep, err, sizeof(err))) {
			pr_err("%s", err);
			return EXIT_USAGE;
		}
	}
	bf_log_init(e.cfg.id, verbose ? BF_LOG_DEBUG : BF_LOG_INFO);

	if (check) {
		if (json)
			printf("{\"id\":\"%s\",\"ifaces\":%d,\"conns\":%zu,\"whitelist\":%zu,"
			       "\"blacklist\":%zu}\n",
			       e.cfg.id, e.cfg.n_ifaces, e.cfg.n_conns, e.cfg.n_wl, e.cfg.n_bl);
		else
			printf("configuration OK: edge %s, %d interface(s), %zu connections, %zu "
			       "whitelist and %zu blacklist entries\n",
			       e.cfg.id, e.cfg.n_ifaces, e.cfg.n_conns, e.cfg.n_wl, e.cfg.n_bl);
		edge_config_free(&e.cfg);
		return 0;
	}
	if (detach) {
		rc = edge_preflight(NULL);
		if (!rc)
			rc = edge_dp_detach(&e.cfg);
		edge_config_free(&e.cfg);
		return rc ? 1 : 0;
	}

	rc = edge_preflight(&e.cfg);
	if (!rc)
		rc = run(&e);
	edge_config_free(&e.cfg);
	edge_machines_free(&e.maps.mach);
	free(e.locals);
	free(e.fleet_conns);
	free(e.fleet_rules);
	free(e.a2s_seen);
	return rc ? 1 : 0;
}
