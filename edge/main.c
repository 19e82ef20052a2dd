/* main.c - bifrost-edge: flags, start-up order, and the event loop that
 * drives every module (events, the one-second tick, sweeps, signals). */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <getopt.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "a2s_feed.h"
#include "a2s_workers.h"
#include "apply.h"
#include "bifrost.h"
#include "clock.h"
#include "config.h"
#include "dump.h"
#include "events.h"
#include "fleet.h"
#include "heartbeat.h"
#include "loader.h"
#include "log.h"
#include "maps.h"
#include "metrics.h"
#include "notify.h"
#include "stats.h"
#include "sync.h"

#ifndef BIFROST_VERSION
#define BIFROST_VERSION "dev"
#endif

#define EXIT_USAGE 2

struct edge {
	struct edge_config cfg;
	const char *config_path;
	struct edge_dp dp;
	struct edge_maps maps;
	struct edge_apply *apply;    /* every source -> the maps */
	struct edge_events events;   /* XDP's ring buffer */
	struct edge_fleet *fleet;    /* Redis, with `redis` */
	struct edge_heartbeat *hb;
	struct edge_a2s *a2s;        /* AF_XDP A2S workers, with `a2s_workers yes` */
	struct edge_a2s_feed *a2s_feed;
	struct event_base *base;
	struct edge_stats_sample prev; /* last second's counters, for the rates */
	struct edge_metrics *metrics;
	struct edge_sweep_stats expired; /* swept since the last "expired" line */
	uint64_t expired_since_ns;        /* when that sum began; 0: nothing swept yet */
};

/* The "expired" log line sums a minute of sweeps: one line a minute while entries
 * expire (a busy POP's punches expire every second), none while nothing does. */
#define EXPIRED_LOG_NS (60ULL * 1000000000ULL)

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
		"      --redis HOST:PORT  Redis endpoint of the fleet (overrides 'redis'); the\n"
		"                         login is read from the file the config's\n"
		"                         'redis_auth_file' names, else from $BIFROST_REDIS_USER\n"
		"                         and $REDISCLI_AUTH, never from a flag\n"
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

/* XDP blocked a source over a connection's limit. Shared only when the
 * connection asks for it, and never from an edge that only pretends. */
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

static void on_valid(void *ctx, const struct bf_rl_key *k, uint64_t expires_ns)
{
	struct edge *e = ctx;

	edge_fleet_valid(e->fleet, k, expires_ns);
}

static void on_events(evutil_socket_t fd, short what, void *arg)
{
	struct edge *e = arg;

	edge_events_poll(&e->events);
}

static void on_sweep(evutil_socket_t fd, short what, void *arg)
{
	struct edge *e = arg;
	struct edge_sweep_stats st, *sum = &e->expired;
	uint64_t now = bf_mono_ns();

	edge_maps_sweep(&e->maps, now, &st);
	/* A machine whose route moved to another interface is accepted there
	 * (or refused) within a sweep interval. */
	edge_machines_refresh(&e->maps.mach);
	edge_apply_refresh_locals(e->apply);
	{
		char line[256];
		uint64_t any = st.blocklist + st.punches + st.valid;
		int n;

		for (int l = 0; l < BF_LISTS; l++)
			any += st.list[l];
		if (any && !e->expired_since_ns)
			e->expired_since_ns = now;
		sum->blocklist += st.blocklist;
		sum->punches += st.punches;
		sum->valid += st.valid;
		for (int l = 0; l < BF_LISTS; l++)
			sum->list[l] += st.list[l];
		if (!e->expired_since_ns || now - e->expired_since_ns < EXPIRED_LOG_NS)
			return;
		n = snprintf(line, sizeof(line), "blocklist %llu, punches %llu, validated clients %llu",
			     (unsigned long long)sum->blocklist, (unsigned long long)sum->punches,
			     (unsigned long long)sum->valid);
		for (int l = 0; l < BF_LISTS; l++)
			n += snprintf(line + n, sizeof(line) - (size_t)n, ", %s %llu", edge_lists[l].name,
				      (unsigned long long)sum->list[l]);
		pr_info("expired in the last %llu s: %s",
			(unsigned long long)((now - e->expired_since_ns) / 1000000000ULL), line);
		memset(sum, 0, sizeof(*sum));
		e->expired_since_ns = 0;
	}
}

/* Once a second: the rates since the last sample, published; the fleet's
 * config and register; the heartbeat; the A2S cache. */
static void on_second(evutil_socket_t fd, short what, void *arg)
{
	struct edge *e = arg;
	struct edge_stats_sample cur;
	struct bf_stats_frame fr;

	if (e->fleet) {
		struct edge_fleet_health h;

		edge_fleet_tick(e->fleet);
		edge_fleet_health(e->fleet, &h);
		edge_heartbeat_tick(e->hb, h.conf_version, h.conf_refused, h.guard);
		edge_a2s_feed_tick(e->a2s_feed);
	}
	if (edge_stats_read(&e->dp.fd, &cur)) {
		pr_debug("stats: reading the counters failed");
		return;
	}
	memset(&fr, 0, sizeof(fr));
	edge_stats_rates(&e->prev, &cur, &fr);
	fr.wl_entries = edge_maps_list_entries(&e->maps, BF_LIST_WL);
	fr.bl_entries = edge_maps_list_entries(&e->maps, BF_LIST_BL);
	if (e->hb && e->prev.mono_ns)
		edge_heartbeat_stats(e->hb, &fr);
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
	s->wl_entries = edge_maps_list_entries(&e->maps, BF_LIST_WL);
	s->bl_entries = edge_maps_list_entries(&e->maps, BF_LIST_BL);
	if (e->fleet) {
		struct edge_fleet_health h;

		edge_fleet_health(e->fleet, &h);
		s->fleet = true;
		s->sync = h.sync;
		s->sync_connected = h.connected;
		s->punch_refused[4] = h.punch_refused_origin;
		s->n_guard = edge_guard_rows(h.guard, s->guard, EDGE_GUARD_ROWS);
		s->publish_capped = h.publish_capped;
		edge_heartbeat_counts(e->hb, &s->stats_frames, &s->stats_dropped,
				      &s->stats_refused);
	}
	s->punch_refused[0] = e->maps.mach.refused_unknown;
	s->punch_refused[1] = e->maps.mach.refused_served;
	s->punch_refused[2] = e->maps.mach.refused_quota;
	s->punch_refused[3] = e->maps.mach.refused_full;
	if (e->a2s) {
		s->a2s = true;
		edge_a2s_counters(e->a2s, &s->a2s_counters);
		s->a2s_seen = edge_a2s_feed_seen(e->a2s_feed, &s->n_a2s_seen);
		s->now_ms = bf_wall_ms();
	}
	return 0;
}

static struct flag_overrides g_overrides;

static void on_hup(evutil_socket_t sig, short what, void *arg)
{
	struct edge *e = arg;
	struct edge_config next;

	pr_info("SIGHUP: reloading %s", e->config_path ? e->config_path : "(flags only)");
	bf_notify("RELOADING=1");
	if (load_config(&next, e->config_path, &g_overrides)) {
		pr_err("reload refused; the running configuration stays in force");
		edge_config_free(&next);
		bf_notify("READY=1\nSTATUS=reload refused; the running configuration stays");
		return;
	}
	if (next.n_ifaces != e->cfg.n_ifaces ||
	    memcmp(next.ifaces, e->cfg.ifaces, sizeof(next.ifaces)))
		pr_warn("interface changes need a restart; keeping %s", e->cfg.ifaces[0]);
	if (strcmp(next.redis, e->cfg.redis) ||
	    strcmp(next.redis_auth_file, e->cfg.redis_auth_file))
		pr_warn("redis and redis_auth_file changes need a restart; the fleet keeps %s",
			e->cfg.redis[0] ? e->cfg.redis : "running without Redis");
	if (strcmp(next.redis_replica.host, e->cfg.redis_replica.host) ||
	    next.redis_replica.port != e->cfg.redis_replica.port ||
	    next.replica_max_lag_ms != e->cfg.replica_max_lag_ms)
		pr_warn("redis_replica and replica_max_lag changes need a restart; reads keep %s",
			e->cfg.redis_replica.host[0] ? "the replica they have" : "the primary");
	if (memcmp(next.map_entries, e->cfg.map_entries, sizeof(next.map_entries)))
		pr_warn("map_entries changes need 'bifrost-edge --detach' and a restart (the maps "
			"are pinned at their size); the maps keep theirs");
	if (next.log_max_records != e->cfg.log_max_records)
		pr_warn("log_max_records changes need a restart; the logs keep %u records",
			e->cfg.log_max_records);
	memcpy(next.ifaces, e->cfg.ifaces, sizeof(next.ifaces));
	next.n_ifaces = e->cfg.n_ifaces;
	memcpy(next.map_entries, e->cfg.map_entries, sizeof(next.map_entries));
	next.log_max_records = e->cfg.log_max_records;
	edge_config_free(&e->cfg);
	e->cfg = next;
	edge_apply_file(e->apply, &e->cfg);
	bf_notify("READY=1\nSTATUS=running, configuration reloaded");
}

/* systemd's watchdog (WatchdogSec=): pinged from the event loop, so a loop
 * that stops turning stops the pings and systemd restarts the edge. */
static void on_watchdog(evutil_socket_t fd, short what, void *arg)
{
	bf_notify("WATCHDOG=1");
}

static void on_stop(evutil_socket_t sig, short what, void *arg)
{
	struct edge *e = arg;

	pr_info("signal %d: exiting; the XDP program stays attached and keeps forwarding "
		"(bifrost-edge --detach removes it)",
		(int)sig);
	bf_notify("STOPPING=1");
	event_base_loopbreak(e->base);
}

/* The fleet and what rides on it: heartbeat, A2S feed, events published. */
static int start_fleet(struct edge *e)
{
	if (!e->cfg.redis[0]) {
		pr_warn("no 'redis' configured: this edge runs alone (no fleet sync)");
		return 0;
	}
	e->fleet = edge_fleet_new(e->base, &e->cfg, e->apply);
	if (!e->fleet)
		return -EINVAL;
	e->hb = edge_heartbeat_new(edge_fleet_sync(e->fleet), &e->cfg, &e->dp.fd, e->dp.ifs[0].mode);
	e->a2s_feed = edge_a2s_feed_new(edge_fleet_sync(e->fleet), e->a2s, e->apply);
	if (!e->hb || !e->a2s_feed)
		return -ENOMEM;
	edge_fleet_set_a2s_feed(e->fleet, e->a2s_feed);
	e->events.on_punch = on_punch;
	e->events.on_ban = on_ban;
	e->events.on_valid = on_valid;
	e->events.ctx = e;
	return 0;
}

/* A restart over a running data plane: the connections it serves stay until
 * the fleet's config is read, even if Redis is away now (apply.h). */
static void hold_pinned_conns(struct edge *e)
{
	struct bf_conn *held;
	size_t n;
	int rc = edge_maps_read_conns(&e->maps, &held, &n);

	if (rc) {
		pr_warn("reading the running connections failed (%s): until Redis answers, only "
			"the config file's are served",
			strerror(-rc));
		return;
	}
	if (!n) {
		free(held);
		return;
	}
	pr_info("kept the %zu connection(s) the running data plane serves until the fleet's "
		"config is read from Redis",
		n);
	edge_apply_hold_conns(e->apply, held, n);
}

static int run(struct edge *e)
{
	struct event *ev[7] = { 0 };
	struct timeval one_s = { .tv_sec = 1 };
	uint64_t wd_usec = bf_watchdog_usec();
	struct timeval wd = { .tv_sec = (long)(wd_usec / 2 / 1000000),
			      .tv_usec = (long)(wd_usec / 2 % 1000000) };
	char status[160];
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
	e->apply = edge_apply_new(&e->maps, e->cfg.id);
	if (e->apply && e->cfg.redis[0])
		hold_pinned_conns(e);
	rc = e->apply ? edge_apply_file(e->apply, &e->cfg) : -ENOMEM;
	if (rc)
		goto out_maps;
	say_backend(&e->cfg);
	e->base = event_base_new();
	if (!e->base) {
		rc = -ENOMEM;
		goto out_maps;
	}
	rc = edge_events_open(&e->events, e->dp.fd.events);
	if (rc)
		goto out_base;
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
	rc = start_fleet(e);
	if (rc)
		goto out_stop;
	if (e->cfg.metrics[0]) {
		e->metrics = edge_metrics_new(e->base, e->cfg.metrics_addr, e->cfg.metrics_port,
					      metrics_fill, e);
		if (!e->metrics) {
			rc = -EADDRNOTAVAIL;
			goto out_stop;
		}
	}
	ev[0] = event_new(e->base, edge_events_fd(&e->events), EV_READ | EV_PERSIST, on_events, e);
	ev[1] = event_new(e->base, -1, EV_PERSIST, on_second, e);
	ev[2] = event_new(e->base, -1, EV_PERSIST, on_sweep, e);
	ev[3] = evsignal_new(e->base, SIGHUP, on_hup, e);
	ev[4] = evsignal_new(e->base, SIGINT, on_stop, e);
	ev[5] = evsignal_new(e->base, SIGTERM, on_stop, e);
	ev[6] = event_new(e->base, -1, EV_PERSIST, on_watchdog, e);
	for (int i = 0; i < 7; i++)
		if (!ev[i]) {
			rc = -ENOMEM;
			goto out_events;
		}
	event_add(ev[0], NULL);
	event_add(ev[1], &one_s);
	event_add(ev[2], &sweep);
	for (int i = 3; i < 6; i++)
		event_add(ev[i], NULL);
	if (wd_usec)
		event_add(ev[6], &wd);
	on_second(-1, 0, e); /* the first sample: rates start one second from now */
	/* Events that arrived before the loop started. */
	edge_events_poll(&e->events);
	pr_info("edge %s running on %d interface(s), POP address %s, version %s", e->cfg.id,
		e->dp.n_ifs, inet_ntoa((struct in_addr){ .s_addr = e->cfg.addr }),
		BIFROST_VERSION);
	snprintf(status, sizeof(status), "STATUS=running on %d interface(s)%s", e->dp.n_ifs,
		 e->fleet ? ", following the fleet" : ", alone (no redis)");
	bf_notify("READY=1");
	bf_notify(status);
	if (wd_usec)
		pr_info("systemd watchdog: pinging every %llu ms",
			(unsigned long long)(wd_usec / 2000));

	event_base_dispatch(e->base);

out_events:
	for (int i = 0; i < 7; i++)
		if (ev[i])
			event_free(ev[i]);
out_stop:
	edge_metrics_free(e->metrics);
	edge_stats_sample_free(&e->prev);
	edge_heartbeat_free(e->hb);
	edge_fleet_free(e->fleet);
	edge_a2s_feed_free(e->a2s_feed);
	edge_a2s_stop(e->a2s);
	edge_events_close(&e->events);
out_base:
	event_base_free(e->base);
out_maps:
	edge_apply_free(e->apply);
	edge_machines_free(&e->maps.mach);
out_dp:
	edge_dp_close(&e->dp);
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
		rc = stats ? edge_dump_stats(ifname, json) : edge_dump(ifname, dump, json);
		edge_config_free(&cfg);
		return rc == -EINVAL ? EXIT_USAGE : rc ? 1 : 0;
	}

	if (load_config(&e.cfg, e.config_path, o))
		return EXIT_USAGE;
	{
		char err[512];

		/* From the file redis_auth_file names, else the environment; never from
		 * argv or the config file itself. --check checks the file too. */
		if (e.cfg.redis[0] &&
		    bf_endpoint_credentials(&e.cfg.redis_ep, e.cfg.redis_auth_file, err,
					    sizeof(err))) {
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
	return rc ? 1 : 0;
}
