/* main.c - bifrost-a2s-refresher: options, then one round per interval until stopped. */
/* Each round loads the A2S connections, takes their locks, queries the servers won and
 * stores the replies (docs/REDIS.md "A2S cache", docs/OPERATIONS.md). */
#include <errno.h>
#include <getopt.h>
#include <hiredis/hiredis.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "../common.h"
#include "log.h"
#include "notify.h"
#include "refresher.h"

#define EXIT_USAGE 2
#define REDIS_TIMEOUT_MS 2000

static void print_stats(const struct stats *st, const struct opts *o, bool final)
{
	if (o->json) {
		printf("{\"id\":\"%s\",\"rounds\":%llu,\"servers\":%llu,\"locked\":%llu,"
		       "\"refreshed\":%llu,\"failed\":%llu,\"timeouts\":%llu,\"garbage\":%llu,"
		       "\"unreachable\":%llu,\"partial\":%llu,\"stored\":%llu,\"redis_errors\":%llu,"
		       "\"bad_conns\":%llu}\n",
		       o->id, st->rounds, st->servers, st->locked, st->refreshed, st->failed,
		       st->timeouts, st->garbage, st->unreachable, st->partial, st->stored,
		       st->redis_errors, st->bad_conns);
		fflush(stdout);
		return;
	}
	bf_log(final ? BF_LOG_INFO : BF_LOG_DEBUG,
	       "%llu rounds: %llu server queries due, %llu locked by another refresher, %llu "
	       "refreshed, %llu failed (%llu timeout, %llu garbage, %llu unreachable), %llu partial, "
	       "%llu keys stored, %llu redis errors, %llu invalid connection hashes",
	       st->rounds, st->servers, st->locked, st->refreshed, st->failed, st->timeouts,
	       st->garbage, st->unreachable, st->partial, st->stored, st->redis_errors,
	       st->bad_conns);
}

/* One interval's work. 0 when every server due was refreshed or locked elsewhere, 1 when
 * one failed, -EIO when Redis failed (the context is then unusable). */
static int round_once(redisContext *rc, const struct opts *o, struct target *ts,
		      struct stats *st)
{
	size_t n = 0;
	unsigned long long failed = st->failed;
	int err;

	st->rounds++;
	err = load_targets(rc, o, ts, &n, st);
	if (!err) {
		st->servers += n;
		err = take_locks(rc, o, ts, n, st);
	}
	if (!err) {
		run_queries(ts, n, o);
		tally(ts, n, o, st);
		err = store(rc, o, ts, n, st);
	}
	free_round(ts, n);
	if (err)
		return err;
	return st->failed > failed || st->redis_errors ? 1 : 0;
}

/* ---- main ---- */

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: " PROG " [--redis HOST[:PORT]] [--auth-file FILE] [--prefix PREFIX]\n"
		"        [--id ID] [--interval DURATION] [--timeout DURATION] [--ttl DURATION]\n"
		"        [--target machine|bind] [--player] [--rules] [--once] [--json] [-v]\n"
		"Queries every A2S-enabled connection (bifrost:conn:udp:* with a2s 1) with the\n"
		"challenge handshake and stores the raw reply at bifrost:a2s:<bind ip>:<port>\n"
		"(SET PX ttl), announcing the key on channel bifrost:a2s. Several refreshers may\n"
		"run: one wins each server per interval (bifrost:a2s:lock:<ip>:<port>).\n"
		"\n"
		"  --redis HOST[:PORT] fleet Redis: a name, a.b.c.d or [IPv6], port 6379 unless\n"
		"                      given (default 127.0.0.1:6379 or $BIFROST_REDIS); or\n"
		"                      sentinel:MASTER@HOST[:PORT],... (Redis Sentinel)\n"
		"  --auth-file FILE    the login: 'user NAME' and 'password SECRET' lines, mode\n"
		"                      0600; without it $BIFROST_REDIS_USER and $REDISCLI_AUTH\n"
		"                      (a password is never read from a flag)\n"
		"  --prefix PREFIX     of every key and of the channel, as the edges use (default\n"
		"                      bifrost:; at most 32 bytes of printable ASCII, no spaces\n"
		"                      or * ? [ ] \\)\n"
		"  --id ID             lock owner (default <hostname>-<pid>)\n"
		"  --interval D        refresh interval (default 5s; 100ms..1h)\n"
		"  --timeout D         wait for each answer (default 1s; at most the interval)\n"
		"  --ttl D             lifetime of a stored reply (default 3 intervals)\n"
		"  --target machine    query the machine address and port (default)\n"
		"  --target bind       query the bind (anycast) address, for a refresher on the\n"
		"                      game machine where the server binds it on loopback\n"
		"  --player, --rules   also store A2S_PLAYER / A2S_RULES replies\n"
		"                      (bifrost:a2s:player:..., bifrost:a2s:rules:...)\n"
		"  --once              one round, then exit\n"
		"  --json              a JSON stats line on stdout after every round\n"
		"  -v                  a stats line per round on stderr\n"
		"\n"
		"Failures (timeout, garbage, unreachable) are counted and never stored; each server\n"
		"logs one line when its state changes. Exit status: 0 done (--once: every server\n"
		"due was refreshed or locked by another refresher), 1 Redis unreachable or a query\n"
		"failed (--once), 2 bad usage or an unusable credentials file.\n");
}

/* A key prefix the connections can be found by with SCAN MATCH <prefix>conn:udp:*: no
 * pattern characters, and nothing a log line or redis-cli would show mangled (printable
 * ASCII without spaces). */
static bool prefix_ok(const char *s)
{
	if (strlen(s) > BF_PREFIX_MAX)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s <= ' ' || (unsigned char)*s >= 0x7f || strchr("*?[]\\", *s))
			return false;
	return true;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "redis", required_argument, NULL, 'r' },   { "id", required_argument, NULL, 'i' },
		{ "interval", required_argument, NULL, 'n' }, { "timeout", required_argument, NULL, 'w' },
		{ "ttl", required_argument, NULL, 'T' },     { "target", required_argument, NULL, 't' },
		{ "player", no_argument, NULL, 'p' },	      { "rules", no_argument, NULL, 'R' },
		{ "once", no_argument, NULL, '1' },	      { "json", no_argument, NULL, 'j' },
		{ "prefix", required_argument, NULL, 'P' },  { "help", no_argument, NULL, 'h' },
		{ "auth-file", required_argument, NULL, 'A' }, { NULL, 0, NULL, 0 },
	};
	const char *redis = getenv("BIFROST_REDIS"), *auth_file = NULL;
	char hostname[64] = "refresher", err[512];
	bool ttl_given = false, redis_flag = false;
	int opt;

	*o = (struct opts){ .interval_ms = 5000, .timeout_ms = 1000 };
	snprintf(o->prefix, sizeof(o->prefix), "%s", BF_PREFIX_DEFAULT);
	while ((opt = getopt_long(argc, argv, "hv", lo, NULL)) != -1) {
		switch (opt) {
		case 'r':
			redis = optarg;
			redis_flag = true;
			break;
		case 'A':
			auth_file = optarg;
			break;
		case 'P':
			if (!prefix_ok(optarg)) {
				fprintf(stderr, PROG ": --prefix: at most %d bytes of printable ASCII, "
					"no spaces or * ? [ ] \\\n", BF_PREFIX_MAX);
				return -EINVAL;
			}
			snprintf(o->prefix, sizeof(o->prefix), "%s", optarg);
			break;
		case 'i':
			if (!bf_origin_valid(optarg)) {
				fprintf(stderr, PROG ": --id: 1-63 of A-Z a-z 0-9 - _ .\n");
				return -EINVAL;
			}
			snprintf(o->id, sizeof(o->id), "%s", optarg);
			break;
		case 'n':
		case 'w':
		case 'T': {
			uint64_t *v = opt == 'n' ? &o->interval_ms : opt == 'w' ? &o->timeout_ms : &o->ttl_ms;

			if (bf_parse_duration_ms(optarg, v) || !*v || *v > 3600000ULL * 24) {
				fprintf(stderr, PROG ": bad duration '%s' (500ms, 5s, 1m)\n", optarg);
				return -EINVAL;
			}
			ttl_given |= opt == 'T';
			break;
		}
		case 't':
			if (strcmp(optarg, "machine") && strcmp(optarg, "bind")) {
				fprintf(stderr, PROG ": --target: machine or bind\n");
				return -EINVAL;
			}
			o->target_bind = optarg[0] == 'b';
			break;
		case 'p':
			o->player = true;
			break;
		case 'R':
			o->rules = true;
			break;
		case '1':
			o->once = true;
			break;
		case 'j':
			o->json = true;
			break;
		case 'v':
			o->verbose++;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, PROG ": unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	if (o->interval_ms < 100 || o->interval_ms > 3600000) {
		fprintf(stderr, PROG ": --interval: 100ms to 1h\n");
		return -EINVAL;
	}
	if (o->timeout_ms > o->interval_ms) {
		fprintf(stderr, PROG ": --timeout is longer than --interval\n");
		return -EINVAL;
	}
	if (!ttl_given)
		o->ttl_ms = 3 * o->interval_ms;
	if (o->ttl_ms < o->interval_ms) {
		fprintf(stderr, PROG ": --ttl is shorter than --interval: the cache would lapse\n");
		return -EINVAL;
	}
	if (bf_endpoint_parse(redis ? redis : "127.0.0.1", &o->redis, err, sizeof(err))) {
		fprintf(stderr, PROG ": %s: %s\n", redis_flag ? "--redis" : "$BIFROST_REDIS", err);
		return -EINVAL;
	}
	if (bf_endpoint_credentials(&o->redis, auth_file, err, sizeof(err))) {
		fprintf(stderr, PROG ": %s\n", err);
		return -EINVAL;
	}
	bf_endpoint_str(&o->redis, o->where, sizeof(o->where));
	if (!o->id[0]) {
		gethostname(hostname, sizeof(hostname) - 1);
		for (char *c = hostname; *c; c++) /* keep the origin alphabet */
			if (!bf_origin_valid((char[]){ *c, 0 }))
				*c = '-';
		snprintf(o->id, sizeof(o->id), "%.40s-%d", hostname, (int)getpid());
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct stats st = { 0 };
	struct target *ts;
	struct opts o;
	redisContext *rc = NULL;
	bool redis_down = false, stop = false;
	char err[256], said[256] = ""; /* said: the last connect failure logged */
	sigset_t sigs;
	int sfd, ret = 0;
	uint64_t wd_ms = bf_watchdog_usec() / 2000, next_wd = 0;

	if (parse_opts(argc, argv, &o))
		return EXIT_USAGE;
	bf_log_init(PROG, o.verbose ? BF_LOG_DEBUG : BF_LOG_INFO);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sfd = sigprocmask(SIG_BLOCK, &sigs, NULL) ? -1 :
						    signalfd(-1, &sigs, SFD_NONBLOCK | SFD_CLOEXEC);
	ts = calloc(MAX_TARGETS, sizeof(*ts));
	if (sfd < 0 || !ts) {
		pr_err("%s", sfd < 0 ? "signalfd failed" : "out of memory");
		return 1;
	}
	if (!o.once)
		pr_info("refreshing every %llu ms (timeout %llu ms, ttl %llu ms, target %s%s%s) as "
			"'%s', redis %s",
			(unsigned long long)o.interval_ms, (unsigned long long)o.timeout_ms,
			(unsigned long long)o.ttl_ms, o.target_bind ? "bind" : "machine",
			o.player ? ", player" : "", o.rules ? ", rules" : "", o.id, o.where);
	if (!o.once)
		bf_notify("READY=1\nSTATUS=refreshing");
	while (!stop) {
		uint64_t start = mono_ms(), end;
		int rv;

		if (!rc)
			rc = bf_redis_connect(&o.redis, REDIS_TIMEOUT_MS, err, sizeof(err));
		if (!rc) {
			/* Once per outage, and again only if the reason changes (say, reachable
			 * but the login refused): not a line every interval. */
			if (strcmp(err, said))
				pr_err("%s; retrying every interval", err);
			snprintf(said, sizeof(said), "%s", err);
			redis_down = true;
			ret = 1;
		} else {
			if (redis_down)
				pr_info("redis %s reachable again", o.where);
			redis_down = false;
			said[0] = '\0';
			rv = round_once(rc, &o, ts, &st);
			if (rv < 0) {
				pr_err("redis %s failed during the round: %s", o.where,
				       rc->err ? rc->errstr : "unexpected reply");
				redisFree(rc);
				rc = NULL;
				redis_down = true;
			}
			ret = rv ? 1 : 0;
			if (o.json || o.verbose)
				print_stats(&st, &o, false);
		}
		if (o.once)
			break;
		/* Sleep out the interval, waking for SIGTERM/SIGINT and for systemd's
		 * watchdog (pinged between rounds: a round stuck past WatchdogSec= gets
		 * the refresher restarted). */
		for (end = start + o.interval_ms; !stop;) {
			struct pollfd p = { .fd = sfd, .events = POLLIN };
			struct signalfd_siginfo si;
			uint64_t now = mono_ms(), until = end;

			if (wd_ms && now >= next_wd) {
				bf_notify("WATCHDOG=1");
				next_wd = now + wd_ms;
			}
			if (now >= end)
				break;
			if (wd_ms && next_wd < until)
				until = next_wd;
			if (poll(&p, 1, (int)(until - now)) > 0 &&
			    read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
				stop = true;
		}
	}
	if (!o.once)
		bf_notify("STOPPING=1");
	if (!o.json)
		print_stats(&st, &o, true);
	redisFree(rc);
	free(ts);
	close(sfd);
	return o.once ? ret : 0; /* a daemon told to stop has done its job */
}
