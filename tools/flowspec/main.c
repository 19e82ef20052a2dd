/* main.c - bifrost-flowspec: follows the fleet's rules from Redis and keeps the POP's BGP
 * speaker announcing, as Flowspec routes, those marked `flowspec yes` that pass every rail
 * (docs/ARCHITECTURE.md "Flowspec export", docs/OPERATIONS.md "bifrost-flowspec"). */
#include <errno.h>
#include <event2/event.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <getopt.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common.h"
#include "clock.h"
#include "fsd.h"
#include "log.h"
#include "notify.h"

#define EXIT_USAGE 2
#define REDIS_TIMEOUT_MS 2000
#define RELOAD_MS 1000       /* whitelists and the canary change without conf:version */
#define ALIVE_TTL_MS 5000

struct fs_app {
	struct fs_conf c;
	struct event_base *base;
	struct evhttp *http;
	struct fs_speaker sp;
	redisContext *rc;
	char version[64], redis_said[256];
	uint64_t next_connect_ms, redis_backoff_ms, next_reload_ms, next_alive_ms, next_wd_ms,
		wd_ms, last_new_ms;
	bool loaded, check_only;
	bool stale;    /* the last read of the inputs failed */
	bool restored; /* this POP's lines of the last run were read back */
	struct fs_input in;
	/* this tick's and the last tick's lines, and what the speaker holds */
	struct bf_fs_rule_state *cur, *prev;
	size_t n_cur, n_prev;
	struct bf_fs_rule_state *rib; /* id and match of each route in the speaker's RIB */
	struct bf_fs_rule_state *shown; /* the lines as written and scraped (shown_lines) */
	size_t n_rib;
	char written[64]; /* digest of the lines last written */
	const char *conf_path;
	/* counters (/metrics) */
	unsigned long long refused_total[BF_FSW_MAX], announced_total, withdrawn_total,
		redis_errors, bad_rules, wl_paused;
	struct bf_log_state wl_log;
};

/* ---- Redis: one blocking context with a deadline on every command, back-off on loss ---- */

static void redis_lost(struct fs_app *a, const char *why)
{
	uint64_t now = mono_ms();

	a->redis_errors++;
	if (strcmp(why, a->redis_said))
		pr_err("redis %s: %s; keeping the routes out until their TTL, retrying with "
		       "back-off", a->c.where, why);
	snprintf(a->redis_said, sizeof(a->redis_said), "%s", why);
	redisFree(a->rc);
	a->rc = NULL;
	a->redis_backoff_ms = a->redis_backoff_ms ? a->redis_backoff_ms * 2 : 500;
	if (a->redis_backoff_ms > 10000)
		a->redis_backoff_ms = 10000;
	a->next_connect_ms = now + a->redis_backoff_ms;
}

static bool redis_up(struct fs_app *a)
{
	char err[256];

	if (a->rc)
		return true;
	if (mono_ms() < a->next_connect_ms)
		return false;
	a->rc = bf_redis_connect(&a->c.redis, REDIS_TIMEOUT_MS, err, sizeof(err));
	if (!a->rc) {
		a->rc = NULL;
		redis_lost(a, err);
		return false;
	}
	if (a->redis_said[0])
		pr_info("redis %s reachable again", a->c.where);
	a->redis_said[0] = '\0';
	a->redis_backoff_ms = 0;
	a->version[0] = '\0';
	a->next_reload_ms = 0;
	return true;
}

/* ---- the lines: logged once per change, written when they change ---- */

static const struct bf_fs_line *find_line(const struct bf_fs_rule_state *s, size_t n,
					  uint32_t id)
{
	for (size_t i = 0; i < n; i++)
		if (s[i].id == id)
			return &s[i].line;
	return NULL;
}

static void log_changes(struct fs_app *a)
{
	for (size_t i = 0; i < a->n_cur; i++) {
		const struct bf_fs_line *l = &a->cur[i].line, *w =
			find_line(a->prev, a->n_prev, a->cur[i].id);
		char until[32] = "";

		if (w && w->state == l->state && !strcmp(w->why, l->why) &&
		    !strcmp(w->text, l->text))
			continue;
		if (l->state == BF_FSS_REFUSED) {
			for (int k = 0; k < BF_FSW_MAX; k++)
				if (!strcmp(l->why, bf_fs_why_name((enum bf_fs_why)k)))
					a->refused_total[k]++;
			pr_warn("rule %u: refused (%s): %s", a->cur[i].id, l->why, l->text);
			continue;
		}
		if (l->state == BF_FSS_ANNOUNCED || l->state == BF_FSS_DRY_RUN)
			snprintf(until, sizeof(until), " (TTL %llu s left)",
				 (unsigned long long)(l->until_ms > (uint64_t)bf_wall_ms() ?
						      (l->until_ms - (uint64_t)bf_wall_ms()) / 1000 : 0));
		else if (strcmp(l->why, "-"))
			snprintf(until, sizeof(until), " (%s)", l->why);
		pr_info("rule %u: %s%s: %s", a->cur[i].id, bf_fs_state_name(l->state), until,
			l->text);
	}
	for (size_t i = 0; i < a->n_prev; i++)
		if (!find_line(a->cur, a->n_cur, a->prev[i].id))
			pr_info("rule %u: no longer offered (deleted, disabled, a dry run, flowspec no "
				"or not for this POP)", a->prev[i].id);
}

/* Lines as written: a route the plan wants out but the speaker does not hold yet shows
 * as pending (speaker). */
static size_t shown_lines(struct fs_app *a)
{
	struct bf_fs_rule_state *out = a->shown;

	for (size_t i = 0; i < a->n_cur; i++) {
		out[i] = a->cur[i];
		const struct bf_fs_line *held = find_line(a->rib, a->n_rib, a->cur[i].id);

		if (out[i].line.state == BF_FSS_ANNOUNCED &&
		    (!held || held->state != BF_FSS_ANNOUNCED)) {
			out[i].line.state = BF_FSS_PENDING;
			snprintf(out[i].line.why, sizeof(out[i].line.why), "speaker");
		}
	}
	return a->n_cur;
}

static void digest(const struct bf_fs_rule_state *s, size_t n, char *out, size_t len)
{
	uint64_t h = 1469598103934665603ULL;
	char line[BF_FS_MATCH_MAX + 96];

	for (size_t i = 0; i < n; i++) {
		int k = bf_fs_line_format(&s[i].line, line, sizeof(line));

		h = (h ^ s[i].id) * 1099511628211ULL;
		for (int j = 0; j < k; j++)
			h = (h ^ (uint8_t)line[j]) * 1099511628211ULL;
	}
	snprintf(out, len, "%zu-%016llx", n, (unsigned long long)h);
}

/* The lines into Redis when they changed (force: whatever they are). 0 or -EIO. */
static int write_state(struct fs_app *a, bool force)
{
	size_t n = shown_lines(a);
	char d[64];

	digest(a->shown, n, d, sizeof(d));
	if (!a->rc || (!force && !strcmp(d, a->written)))
		return 0;
	if (fs_store_write(a->rc, &a->c, a->shown, n)) {
		redis_lost(a, fs_store_error());
		return -EIO;
	}
	snprintf(a->written, sizeof(a->written), "%s", d);
	return 0;
}

/* ---- the speaker's RIB follows the plan ---- */

static void rib_remove(struct fs_app *a, size_t i)
{
	a->rib[i] = a->rib[--a->n_rib];
}

/* rib entries: line.state ANNOUNCED = the speaker took it; PENDING = the add failed or
 * timed out, so the speaker may or may not hold it (withdrawn like the others, added
 * again while wanted). */
static bool rib_text_elsewhere(const struct fs_app *a, size_t i)
{
	for (size_t j = 0; j < a->n_rib; j++)
		if (j != i && !strcmp(a->rib[j].line.text, a->rib[i].line.text))
			return true;
	return false;
}

#define OPS_PER_TICK 25 /* ~2 s of gobgp calls: the rest next tick (the watchdog) */

static void reconcile(struct fs_app *a)
{
	int ops = 0;

	if (a->c.lim.dry_run || !a->sp.ready)
		return;
	/* withdrawals first: a changed rule's old route goes before its new one */
	for (size_t i = 0; i < a->n_rib && ops < OPS_PER_TICK;) {
		const struct bf_fs_line *l = find_line(a->cur, a->n_cur, a->rib[i].id);

		if (l && l->state == BF_FSS_ANNOUNCED && !strcmp(l->text, a->rib[i].line.text)) {
			i++;
			continue;
		}
		/* two rules with the same route share it: withdrawn with the last of them */
		if (!rib_text_elsewhere(a, i)) {
			ops++;
			if (fs_speaker_route(&a->sp, false, a->rib[i].line.text))
				return;
			pr_info("rule %u: withdrawn: %s", a->rib[i].id, a->rib[i].line.text);
			a->withdrawn_total++;
		}
		rib_remove(a, i);
	}
	for (size_t i = 0; i < a->n_cur && ops < OPS_PER_TICK; i++) {
		const struct bf_fs_line *l = &a->cur[i].line;
		struct bf_fs_rule_state *held = NULL;

		if (l->state != BF_FSS_ANNOUNCED)
			continue;
		for (size_t j = 0; j < a->n_rib; j++)
			if (a->rib[j].id == a->cur[i].id)
				held = &a->rib[j];
		if (held && held->line.state == BF_FSS_ANNOUNCED)
			continue;
		if (!held) {
			held = &a->rib[a->n_rib++];
			*held = a->cur[i];
		}
		held->line.state = BF_FSS_PENDING; /* until the speaker says it took it */
		ops++;
		if (fs_speaker_route(&a->sp, true, l->text))
			return;
		held->line.state = BF_FSS_ANNOUNCED;
		a->announced_total++;
	}
}

static void plan(struct fs_app *a)
{
	struct bf_fs_policy p = { 0 };
	struct bf_fs_limits lim;
	struct bf_cidr *protect;
	struct bf_fs_rule_state *t;
	size_t np;

	protect = malloc((a->c.n_protect + a->in.n_protect + 1) * sizeof(*protect));
	if (!protect)
		return;
	memcpy(protect, a->c.protect, a->c.n_protect * sizeof(*protect));
	memcpy(protect + a->c.n_protect, a->in.protect, a->in.n_protect * sizeof(*protect));
	np = a->c.n_protect + a->in.n_protect;
	p = (struct bf_fs_policy){ .announce = a->c.announce, .n_announce = a->c.n_announce,
				   .bgp_addrs = a->c.bgp, .n_bgp = a->c.n_bgp,
				   .protect = protect, .n_protect = np,
				   .whitelist = a->in.wl, .n_whitelist = a->in.n_wl,
				   .min_plen = a->c.min_plen, .mtu = a->c.mtu };
	t = a->prev;
	a->prev = a->cur;
	a->n_prev = a->n_cur;
	a->cur = t;
	lim = a->c.lim;
	lim.hold_new = a->stale; /* the last read failed: nothing new on a stale view */
	bf_fs_plan(a->in.rules, a->in.n_rules, &p, &lim, a->prev, a->n_prev, a->in.canary,
		   a->in.n_canary, (uint64_t)bf_wall_ms(), &a->last_new_ms, a->cur);
	a->n_cur = a->in.n_rules;
	free(protect);
	log_changes(a);
}

/* ---- the tick ---- */

static void load(struct fs_app *a)
{
	struct fs_input in;
	char v[64];
	uint64_t now = mono_ms();
	int err;

	if (!redis_up(a)) {
		a->stale = true;
		return;
	}
	if (!a->restored) {
		/* The lines the last exporter of this POP left: expiries carry over a restart
		 * (read before anything is decided, also when Redis was away at start). */
		if (fs_store_read_own(a->rc, &a->c, a->cur, BF_FS_RULES_MAX, &a->n_cur)) {
			a->n_cur = 0;
			a->stale = true;
			redis_lost(a, fs_store_error());
			return;
		}
		a->restored = true;
		if (a->n_cur)
			pr_info("read back %zu rule states of the last run", a->n_cur);
	}
	if (fs_store_version(a->rc, &a->c, v, sizeof(v))) {
		a->stale = true;
		redis_lost(a, fs_store_error());
		return;
	}
	if (a->loaded && !a->stale && !strcmp(v, a->version) && now < a->next_reload_ms)
		return;
	err = fs_store_load(a->rc, &a->c, &in);
	if (err) {
		a->stale = true;
		redis_lost(a, fs_store_error());
		return;
	}
	if (in.wl_overflow) {
		/* cannot tell what would drop a whitelisted source: nothing new goes out */
		a->wl_paused++;
		a->stale = true;
		bf_log_state_hit(&a->wl_log, BF_LOG_ERROR,
				 "whitelists hold more than %d live entries: not checked, no new "
				 "Flowspec route until they shrink", FS_WL_MAX);
		fs_input_free(&in);
		a->next_reload_ms = now + RELOAD_MS;
		return;
	}
	bf_log_state_tick(&a->wl_log, "whitelists too large to check");
	fs_input_free(&a->in);
	a->in = in;
	a->bad_rules = in.bad_rules;
	snprintf(a->version, sizeof(a->version), "%s", v);
	a->loaded = true;
	a->stale = false;
	a->next_reload_ms = now + RELOAD_MS;
}

static void tick(evutil_socket_t fd, short what, void *arg)
{
	struct fs_app *a = arg;
	uint64_t now = mono_ms();

	if (a->wd_ms && now >= a->next_wd_ms) {
		bf_notify("WATCHDOG=1");
		a->next_wd_ms = now + a->wd_ms;
	}
	if (!a->c.lim.dry_run && fs_speaker_poll(&a->sp, now))
		a->n_rib = 0; /* a fresh speaker holds nothing */
	load(a);
	if (!a->loaded)
		return;
	plan(a);
	reconcile(a);
	if (a->rc)
		write_state(a, false);
	if (a->rc && now >= a->next_alive_ms) {
		if (fs_store_alive(a->rc, &a->c, ALIVE_TTL_MS))
			redis_lost(a, fs_store_error());
		a->next_alive_ms = now + 1000;
	}
}

/* ---- /metrics ---- */

static void metrics(struct evhttp_request *req, void *arg)
{
	struct fs_app *a = arg;
	struct evbuffer *b = evbuffer_new();
	size_t st[BF_FSS_MAX] = { 0 };
	size_t n = shown_lines(a);

	if (!b) {
		evhttp_send_error(req, 500, "out of memory");
		return;
	}
	for (size_t i = 0; i < n; i++)
		st[a->shown[i].line.state]++;
	evbuffer_add_printf(b, "# HELP bifrost_flowspec_rules Rules offered for Flowspec, by state.\n"
			       "# TYPE bifrost_flowspec_rules gauge\n");
	for (int s = 0; s < BF_FSS_MAX; s++)
		evbuffer_add_printf(b, "bifrost_flowspec_rules{id=\"%s\",state=\"%s\"} %zu\n",
				    a->c.id, bf_fs_state_name((enum bf_fs_state)s), st[s]);
	evbuffer_add_printf(b, "# HELP bifrost_flowspec_refused_total Rules refused, by rail.\n"
			       "# TYPE bifrost_flowspec_refused_total counter\n");
	for (int w = 1; w < BF_FSW_MAX; w++)
		evbuffer_add_printf(b, "bifrost_flowspec_refused_total{id=\"%s\",why=\"%s\"} %llu\n",
				    a->c.id, bf_fs_why_name((enum bf_fs_why)w), a->refused_total[w]);
	evbuffer_add_printf(
		b,
		"# HELP bifrost_flowspec_announced_total Routes given to the speaker.\n"
		"# TYPE bifrost_flowspec_announced_total counter\n"
		"bifrost_flowspec_announced_total{id=\"%s\"} %llu\n"
		"# HELP bifrost_flowspec_withdrawn_total Routes taken back from the speaker.\n"
		"# TYPE bifrost_flowspec_withdrawn_total counter\n"
		"bifrost_flowspec_withdrawn_total{id=\"%s\"} %llu\n"
		"# HELP bifrost_flowspec_speaker_up Whether the speaker's API answers.\n"
		"# TYPE bifrost_flowspec_speaker_up gauge\n"
		"bifrost_flowspec_speaker_up{id=\"%s\"} %d\n"
		"# HELP bifrost_flowspec_speaker_restarts_total gobgpd exits seen.\n"
		"# TYPE bifrost_flowspec_speaker_restarts_total counter\n"
		"bifrost_flowspec_speaker_restarts_total{id=\"%s\"} %llu\n"
		"# HELP bifrost_flowspec_speaker_errors_total Route changes the speaker refused.\n"
		"# TYPE bifrost_flowspec_speaker_errors_total counter\n"
		"bifrost_flowspec_speaker_errors_total{id=\"%s\"} %llu\n"
		"# HELP bifrost_flowspec_redis_up Whether Redis answers.\n"
		"# TYPE bifrost_flowspec_redis_up gauge\n"
		"bifrost_flowspec_redis_up{id=\"%s\"} %d\n"
		"# HELP bifrost_flowspec_redis_errors_total Redis failures.\n"
		"# TYPE bifrost_flowspec_redis_errors_total counter\n"
		"bifrost_flowspec_redis_errors_total{id=\"%s\"} %llu\n"
		"# HELP bifrost_flowspec_bad_rules Rules in the hash that do not parse.\n"
		"# TYPE bifrost_flowspec_bad_rules gauge\n"
		"bifrost_flowspec_bad_rules{id=\"%s\"} %llu\n",
		a->c.id, a->announced_total, a->c.id, a->withdrawn_total, a->c.id, a->sp.ready,
		a->c.id, a->sp.restarts, a->c.id, a->sp.errors, a->c.id, a->rc != NULL, a->c.id,
		a->redis_errors, a->c.id, a->bad_rules);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "text/plain; version=0.0.4");
	evhttp_send_reply(req, 200, "OK", b);
	evbuffer_free(b);
}

/* ---- start, stop ---- */

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct fs_app *a = arg;

	pr_info("signal %d: withdrawing every route and stopping", (int)sig);
	event_base_loopbreak(a->base);
}

static void on_hup(evutil_socket_t sig, short what, void *arg)
{
	struct fs_app *a = arg;

	/* The rules come from Redis and are followed live; the config file is read at
	 * start only. A HUP must not stop the exporter (its routes would go with it). */
	pr_info("SIGHUP: the rules are followed live; %s is read at start only (restart to "
		"change it)", a->conf_path);
}

static void shutdown_all(struct fs_app *a)
{
	bf_notify("STOPPING=1");
	/* Route by route, whether or not the speaker answered lately; a gobgpd of ours that
	 * does not answer is stopped below, which withdraws the rest with its sessions. */
	for (size_t i = 0; i < a->n_rib;) {
		if (rib_text_elsewhere(a, i) || !fs_speaker_route(&a->sp, false, a->rib[i].line.text)) {
			pr_info("rule %u: withdrawn (stopping): %s", a->rib[i].id, a->rib[i].line.text);
			a->withdrawn_total++;
			rib_remove(a, i);
			continue;
		}
		if (a->c.speaker == FS_SPEAKER_SPAWN)
			break;
		pr_err("rule %u: could not withdraw %s from the external speaker: it stays "
		       "announced until someone removes it", a->rib[i].id, a->rib[i].line.text);
		i++;
	}
	fs_speaker_stop(&a->sp);
	for (size_t i = 0; i < a->n_cur; i++)
		if (a->cur[i].line.state == BF_FSS_ANNOUNCED)
			a->cur[i].line.state = BF_FSS_STOPPED;
	a->n_rib = 0;
	if (a->loaded && redis_up(a) && (write_state(a, true) || fs_store_alive(a->rc, &a->c, 0)))
		pr_warn("could not record the stop in Redis");
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: " PROG " --config FILE [--dry-run] [--check] [-v]\n"
		"Follows the fleet's firewall rules (bifrost:rules) and announces those marked\n"
		"`flowspec yes` that apply to this POP as BGP Flowspec routes (discard) through\n"
		"gobgpd, run as its child: when this process dies, gobgpd dies with it and the\n"
		"upstreams withdraw every route. Before anything is sent each route passes the\n"
		"rails: a protocol named, port 179 never matched, the destination inside the\n"
		"POP's announced prefixes and no wider than min_prefix_len, no BGP session,\n"
		"protected or whitelisted address matched, lengths within the MTU, at most\n"
		"max_rules routes, one new route per `rate`, a TTL on each.\n"
		"\n"
		"  --config FILE  settings (default /etc/bifrost/flowspec.conf; see\n"
		"                 docs/OPERATIONS.md, bifrost-flowspec)\n"
		"  --dry-run      start no speaker; log and record what would be announced\n"
		"  --check        read the config, print what it says, exit (0: usable)\n"
		"  -v             debug lines\n"
		"\n"
		"The state of every offered rule is in Redis (bifrost:flowspec:<id>) and in\n"
		"`bifrostctl flowspec list`; counters on /metrics (config `metrics`). Redis\n"
		"credentials: redis_auth_file in the config, else $BIFROST_REDIS_USER and\n"
		"$REDISCLI_AUTH. SIGTERM withdraws every route, stops gobgpd and exits.\n"
		"Exit status: 0 stopped by a signal, 1 could not start, 2 bad usage or config.\n");
}

static void print_check(const struct fs_app *a)
{
	char b[BF_CIDR_STRLEN];

	printf("id %s\nredis %s%s%s\nprefix %s\n", a->c.id, a->c.where,
	       a->c.redis.user[0] ? " user " : "", a->c.redis.user, a->c.prefix);
	for (size_t i = 0; i < a->c.n_announce; i++)
		printf("announce %s\n", bf_cidr_str(&a->c.announce[i], b));
	for (size_t i = 0; i < a->c.n_bgp; i++)
		printf("bgp address %s\n", bf_ipv4_str(a->c.bgp[i], b));
	for (size_t i = 0; i < a->c.n_protect; i++)
		printf("protect %s\n", bf_cidr_str(&a->c.protect[i], b));
	printf("min_prefix_len %u\nmtu %u\nmax_rules %zu\nrate %llums\nttl %llums\nmax_ttl %llums\n"
	       "canary %s%s\ndry_run %s\nspeaker %s\n",
	       a->c.min_plen, a->c.mtu, a->c.lim.max_rules,
	       (unsigned long long)a->c.lim.interval_ms, (unsigned long long)a->c.lim.ttl_ms,
	       (unsigned long long)a->c.lim.max_ttl_ms, a->c.canary[0] ? a->c.canary : "-",
	       a->c.lim.follow_canary ? " (this POP follows it)" : "",
	       a->c.lim.dry_run ? "yes" : "no",
	       a->c.lim.dry_run ? "none (dry run)" :
	       a->c.speaker == FS_SPEAKER_SPAWN ? "gobgpd, our child" : "external gobgpd");
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "config", required_argument, NULL, 'c' }, { "dry-run", no_argument, NULL, 'd' },
		{ "check", no_argument, NULL, 'k' },        { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *conf = "/etc/bifrost/flowspec.conf";
	static struct fs_app a;
	struct event *tev, *s1, *s2, *s3;
	char err[512];
	int opt, verbose = 0;
	bool dry = false;

	while ((opt = getopt_long(argc, argv, "hv", lo, NULL)) != -1) {
		switch (opt) {
		case 'c':
			conf = optarg;
			break;
		case 'd':
			dry = true;
			break;
		case 'k':
			a.check_only = true;
			break;
		case 'v':
			verbose++;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, PROG ": unexpected argument '%s'\n", argv[optind]);
		return EXIT_USAGE;
	}
	a.c.lim.dry_run = dry;
	a.conf_path = conf;
	if (fs_conf_load(conf, &a.c, err, sizeof(err))) {
		fprintf(stderr, PROG ": %s\n", err);
		return EXIT_USAGE;
	}
	if (a.check_only) {
		print_check(&a);
		return 0;
	}
	bf_log_init(PROG, verbose ? BF_LOG_DEBUG : BF_LOG_INFO);
	signal(SIGPIPE, SIG_IGN);
	a.sp.c = &a.c;
	a.cur = calloc(BF_FS_RULES_MAX, sizeof(*a.cur));
	a.prev = calloc(BF_FS_RULES_MAX, sizeof(*a.prev));
	a.rib = calloc(BF_FS_RULES_MAX, sizeof(*a.rib));
	a.shown = calloc(BF_FS_RULES_MAX, sizeof(*a.shown));
	a.base = event_base_new();
	if (!a.cur || !a.prev || !a.rib || !a.shown || !a.base) {
		pr_err("out of memory");
		return 1;
	}
	if (a.c.metrics_port) {
		char ab[BF_ADDR_STRLEN];

		a.http = evhttp_new(a.base);
		bf_ipv4_str(a.c.metrics_addr, ab);
		if (!a.http || evhttp_bind_socket(a.http, ab, a.c.metrics_port)) {
			pr_err("metrics: cannot listen on %s:%u (in use, or not an address of this "
			       "host): change `metrics` in %s", ab, a.c.metrics_port, conf);
			return 1;
		}
		evhttp_set_timeout(a.http, 5);
		evhttp_set_cb(a.http, "/metrics", metrics, &a);
	}
	if (a.c.speaker == FS_SPEAKER_EXTERNAL && !a.c.lim.dry_run)
		pr_warn("speaker external: if this process dies, routes stay announced until their "
			"TTL unless the speaker's life is bound to it (docs/OPERATIONS.md)");
	pr_info("POP %s: announces %zu prefixes, %zu BGP addresses, max_rules %zu, redis %s%s",
		a.c.id, a.c.n_announce, a.c.n_bgp, a.c.lim.max_rules, a.c.where,
		a.c.lim.dry_run ? ", DRY RUN: nothing is announced" : "");
	a.wd_ms = bf_watchdog_usec() / 2000;
	tev = event_new(a.base, -1, EV_PERSIST, tick, &a);
	s1 = evsignal_new(a.base, SIGTERM, on_signal, &a);
	s2 = evsignal_new(a.base, SIGINT, on_signal, &a);
	s3 = evsignal_new(a.base, SIGHUP, on_hup, &a);
	if (!tev || !s1 || !s2 || !s3 || event_add(s1, NULL) || event_add(s2, NULL) ||
	    event_add(s3, NULL) ||
	    event_add(tev, &(struct timeval){ (time_t)(a.c.poll_ms / 1000),
					      (suseconds_t)(a.c.poll_ms % 1000) * 1000 })) {
		pr_err("event loop set-up failed");
		return 1;
	}
	bf_notify("READY=1\nSTATUS=following the fleet's rules");
	tick(-1, 0, &a);
	event_base_dispatch(a.base);
	shutdown_all(&a);
	event_free(tev);
	event_free(s1);
	event_free(s2);
	event_free(s3);
	if (a.http)
		evhttp_free(a.http);
	event_base_free(a.base);
	fs_input_free(&a.in);
	redisFree(a.rc);
	free(a.cur);
	free(a.prev);
	free(a.rib);
	free(a.shown);
	return 0;
}
