/* bench_fanout.c - bf-bench fanout: how long one writer's records take to reach N
 * followers, each a real sync client (sync.h, read_peers: the reader every edge runs), all
 * in this process on a few event loops (one a thread), against one Redis or spread over its
 * read replicas (sync_config.replica). The writer is a sync client too (read_peers off, its
 * own origin): one blacklist entry every interval, its monotonic time kept in a table by
 * record, and each follower's on_record takes (now - that time). Beside it, the same run's
 * PING round trip to each Redis.
 *
 * The followers follow the writer (and ops) only: they log in as a user (FAN_USER, made for
 * the run) that may not SADD, so none joins <prefix>edges and none follows the others (every
 * edge of a real fleet follows every other; here that would make each XREAD name 4 * N
 * logs, a cost of its own). The one error line each follower logs for that refusal is counted, not shown:
 * the library's log goes to a temporary file, replayed without those lines at the end. */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <getopt.h>
#include <hiredis/hiredis.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bench_fanout.h"
#include "bench_fanout_int.h"
#include "bench_fleet.h"
#include "bus_script.h"
#include "common.h"
#include "endpoint.h"
#include "schema.h"
#include "sync.h"

FILE *fanout_say_f; /* our stderr; the library's goes to a file while the run lasts */

void fanout_say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(fanout_say_f, "bf-bench fanout: ");
	vfprintf(fanout_say_f, fmt, ap);
	fprintf(fanout_say_f, "\n");
	va_end(ap);
	fflush(fanout_say_f);
}


/* ---- Redis, blocking, for setup and INFO ---- */

static redisReply *admin_vcmd(redisContext *r, const char *fmt, va_list ap)
{
	redisReply *rep = redisvCommand(r, fmt, ap);

	if (!rep || rep->type == REDIS_REPLY_ERROR) {
		fanout_say("redis: %s", rep ? rep->str : r->errstr);
		freeReplyObject(rep);
		return NULL;
	}
	return rep;
}

static redisReply *admin_cmd(redisContext *r, const char *fmt, ...)
{
	va_list ap;
	redisReply *rep;

	va_start(ap, fmt);
	rep = admin_vcmd(r, fmt, ap);
	va_end(ap);
	return rep;
}

static bool admin_ok(redisContext *r, const char *fmt, ...)
{
	va_list ap;
	redisReply *rep;

	va_start(ap, fmt);
	rep = admin_vcmd(r, fmt, ap);
	va_end(ap);
	freeReplyObject(rep);
	return rep != NULL;
}

/* used_cpu_sys + used_cpu_user of a Redis, s. */
static double redis_cpu_s(redisContext *r)
{
	redisReply *rep = admin_cmd(r, "INFO cpu");
	const char *p;
	double s = 0;

	if (!rep)
		return NAN;
	if ((p = strstr(rep->str, "used_cpu_sys:")))
		s += atof(p + strlen("used_cpu_sys:"));
	if ((p = strstr(rep->str, "used_cpu_user:")))
		s += atof(p + strlen("used_cpu_user:"));
	freeReplyObject(rep);
	return s;
}

static long long config_num(redisContext *r, const char *name)
{
	redisReply *rep = admin_cmd(r, "CONFIG GET %s", name);
	long long v = -1;

	if (rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 &&
	    rep->element[1]->type == REDIS_REPLY_STRING)
		v = atoll(rep->element[1]->str);
	freeReplyObject(rep);
	return v;
}


/* ---- followers: one loop a thread ---- */

static void on_record(void *ctx, const char *origin, const struct bf_log_rec *r)
{
	struct follower *f = ctx;
	struct fan *fan = f->fan;
	uint64_t now = mono_ns(), t;
	uint32_t i;

	if (strcmp(origin, WRITER) || r->op != BF_OP_ADD || r->entry.kind != BF_KIND_BL ||
	    r->entry.cidr.family != BF_INET || r->entry.cidr.plen != 32)
		return;
	if (ntohl(r->entry.cidr.addr) == PRIME) {
		f->primed |= r->seq > 0;
		return;
	}
	i = ntohl(r->entry.cidr.addr) - BULK_BASE;
	if (i > fan->k)
		return;
	if (!isnan(f->lat_us[i])) {
		f->dup++;
		return;
	}
	if (i == 0) {
		f->warm = true;
		f->lat_us[0] = 0;
		return;
	}
	/* Taken before the write was queued, so it is there (acquire: the writer's
	 * thread stored it). */
	t = atomic_load_explicit(&fan->t_write[i], memory_order_acquire);
	if (!t) {
		f->early++;
		return;
	}
	f->lat_us[i] = (double)(now - t) / 1e3;
	f->got++;
}

static bool links_up(const struct sync_stats *st)
{
	for (int l = 0; l < SYNC_LINKS; l++)
		if (!st->link_state[l] || strcmp(st->link_state[l], "up"))
			return false;
	return true;
}

static void follower_start(struct shard *s, unsigned i)
{
	struct fan *fan = s->fan;
	struct follower *f = &fan->f[i];
	struct sync_config cfg = {
		.endpoint = &fan->fep,
		.prefix = fan->prefix,
		.origin = f->origin,
		.read_peers = true,
		/* It writes nothing: no need for the 65536-write queue an edge keeps. */
		.max_pending = 256,
		.replica = fan->n_rep ? &fan->rep[i % fan->n_rep] : NULL,
	};
	struct sync_handlers h = { .on_record = on_record, .ctx = f };

	f->c = sync_client_new(s->base, &cfg, &h);
	if (!f->c)
		s->failed++;
}

static void shard_tick(evutil_socket_t fd, short what, void *arg)
{
	struct shard *s = arg;
	struct fan *fan = s->fan;
	unsigned ready = 0, primed = 0, complete = 0, on_rep = 0;
	bool stop = atomic_load(&fan->stop);
	bool count0 = !stop && atomic_load(&fan->count) && !atomic_load(&s->counted);

	for (unsigned j = 0; !stop && j < START_BATCH && s->made < s->hi; j++)
		follower_start(s, s->made++);
	for (unsigned i = s->lo; i < s->made; i++) {
		struct follower *f = &fan->f[i];
		struct sync_stats st;

		if (!f->c)
			continue;
		sync_client_stats(f->c, &st);
		f->links_up = links_up(&st);
		/* Following ops and the writer, and past its first digest round: every
		 * follower runs that one a second after it subscribed, all together, at
		 * the start only (later ones are 10-11 s apart and spread). */
		if (f->links_up && st.peers >= 2 && f->warm && st.digests >= 1) {
			ready++;
			primed += f->primed;
		}
		if (f->got == fan->k)
			complete++;
		f->on_replica = st.replica_reading;
		on_rep += st.replica_reading;
		if (count0) {
			f->resyncs = st.resyncs;
			f->gaps = st.gaps;
			f->digest_mismatches = st.digest_mismatches;
			f->disconnects = st.disconnects;
			f->replica_fallbacks = st.replica_fallbacks;
		}
		if (stop) {
			snprintf(f->why, sizeof(f->why), "%s", st.replica_why ? st.replica_why : "");
			f->resyncs = st.resyncs - f->resyncs;
			f->gaps = st.gaps - f->gaps;
			f->digest_mismatches = st.digest_mismatches - f->digest_mismatches;
			f->disconnects = st.disconnects - f->disconnects;
			f->replica_fallbacks = st.replica_fallbacks - f->replica_fallbacks;
		}
	}
	if (count0)
		atomic_store(&s->counted, 1);
	atomic_store(&s->ready, ready);
	atomic_store(&s->primed, primed);
	atomic_store(&s->made_n, s->made - s->lo);
	atomic_store(&s->failed_n, s->failed);
	atomic_store(&s->complete, complete);
	atomic_store(&s->on_replica, on_rep);
	if (stop)
		event_base_loopbreak(s->base);
}

static void *shard_main(void *arg)
{
	struct shard *s = arg;
	struct timeval tv = { .tv_usec = TICK_MS * 1000 };

	event_add(s->tick, &tv);
	event_base_dispatch(s->base);
	for (unsigned i = s->lo; i < s->made; i++)
		sync_client_free(s->fan->f[i].c);
	return NULL;
}

static unsigned sum(struct fan *fan, size_t off)
{
	unsigned n = 0;

	for (unsigned t = 0; t < fan->threads; t++)
		n += atomic_load((atomic_uint *)((char *)&fan->sh[t] + off));
	return n;
}
#define SUM(fan, field) sum(fan, offsetof(struct shard, field))

/* ---- the writer and the run's phases (this thread) ---- */

/* Record i (0..k), or PRIME when i is past k. */
static int write_record(struct fan *fan, unsigned i)
{
	struct bf_entry e = { .kind = BF_KIND_BL };

	e.cidr.family = BF_INET;
	e.cidr.plen = 32;
	e.cidr.addr = htonl(i <= fan->k ? BULK_BASE + i : PRIME);
	if (i <= fan->k)
		atomic_store_explicit(&fan->t_write[i], mono_ns(), memory_order_release);
	return sync_client_write(fan->w, BF_OP_ADD, &e, sync_now_ms() + 3600 * 1000, "fanout");
}

static void pace(evutil_socket_t fd, short what, void *arg)
{
	struct fan *fan = arg;

	if (fan->next > fan->k)
		return;
	if (write_record(fan, fan->next))
		fan->write_errors++;
	if (fan->next++ == fan->k) {
		fan->t_write1 = mono_s();
		event_del(fan->pace);
		fan->phase = P_DRAIN;
		fan->deadline = fan->t_write1 + fan->drain_s;
	}
}

static void finish(struct fan *fan, const char *fail)
{
	fan->fail = fail;
	fan->t_end = mono_s();
	fan->cpu1 = bench_cpu_s();
	for (unsigned s = 0; s <= fan->n_rep; s++)
		fan->rcpu1[s] = redis_cpu_s(fan->admin[s]);
	fan->phase = P_DONE;
	event_base_loopbreak(fan->base);
}

static void begin_writes(struct fan *fan)
{
	struct timeval tv = { .tv_sec = fan->interval_ms / 1000,
			      .tv_usec = (fan->interval_ms % 1000) * 1000 };

	fan->rep_at_start = SUM(fan, on_replica);
	fan->cpu0 = bench_cpu_s();
	for (unsigned s = 0; s <= fan->n_rep; s++)
		fan->rcpu0[s] = redis_cpu_s(fan->admin[s]);
	fan->phase = P_WRITE;
	fan->next = 1;
	fan->t_write0 = mono_s();
	event_add(fan->pace, &tv);
}

static void ctl(evutil_socket_t fd, short what, void *arg)
{
	struct fan *fan = arg;
	double now = mono_s();
	struct sync_stats st;

	switch (fan->phase) {
	case P_CONNECT:
		if (sync_client_connected(fan->w)) {
			if (write_record(fan, 0)) {
				finish(fan, "the writer could not queue its first record");
				return;
			}
			fan->phase = P_WARM;
		} else if (now > fan->deadline) {
			finish(fan, "the writer did not connect within 10 s");
		}
		break;
	case P_WARM:
		sync_client_stats(fan->w, &st);
		if (st.written >= 1) {
			/* The followers start only now: each finds record 0 in its resync, so
			 * seeing it means it follows the writer's log. */
			for (unsigned t = 0; t < fan->threads; t++)
				if (pthread_create(&fan->sh[t].th, NULL, shard_main, &fan->sh[t])) {
					finish(fan, "cannot start a thread");
					return;
				} else {
					fan->started++;
				}
			fan->phase = P_READY;
			fan->t_start = now;
			fan->deadline = now + fan->ready_s;
		} else if (now > fan->deadline) {
			finish(fan, "the writer's first record was not acknowledged within 10 s");
		}
		break;
	case P_READY: {
		unsigned ready = SUM(fan, ready);

		if (ready == fan->n && !fan->t_ready_at)
			fan->t_ready_at = now;
		/* With replicas: until every follower reads from its replica, or SETTLE_S
		 * (reads that stay on the primary are counted and said). */
		if (fan->t_ready_at && (!fan->n_rep || SUM(fan, on_replica) == fan->n ||
					now > fan->t_ready_at + SETTLE_S)) {
			if (write_record(fan, fan->k + 1)) {
				finish(fan, "the writer could not queue the priming record");
				return;
			}
			fan->phase = P_PRIME;
			atomic_store(&fan->count, true);
			/* a blocked read that lacks the log ends within its BLOCK time (1 s) */
			if (fan->deadline < now + 5)
				fan->deadline = now + 5;
		} else if (now > fan->deadline) {
			snprintf(fan->fail_buf, sizeof(fan->fail_buf),
				 "only %u of %u followers were connected (3 links up), following "
				 "the writer and past their first digest %d s after they started (%u "
				 "started, %u refused by sync_client_new)",
				 ready, fan->n, fan->ready_s, SUM(fan, made_n), SUM(fan, failed_n));
			finish(fan, fan->fail_buf);
		}
		break;
	}
	case P_PRIME: {
		unsigned primed = SUM(fan, primed);

		if (primed == fan->n && SUM(fan, counted) == fan->threads) {
			fan->t_primed_at = now;
			begin_writes(fan);
		} else if (now > fan->deadline) {
			snprintf(fan->fail_buf, sizeof(fan->fail_buf),
				 "only %u of %u followers had the writer's log in their blocking read "
				 "(the priming record) %.0f s after they started",
				 primed, fan->n, now - fan->t_start);
			finish(fan, fan->fail_buf);
		}
		break;
	}
	case P_WRITE:
		break;
	case P_DRAIN:
		if (SUM(fan, complete) == fan->n)
			finish(fan, NULL);
		else if (now > fan->deadline)
			finish(fan, NULL); /* counted as missing below */
		break;
	case P_DONE:
		break;
	}
}

/* ---- setup ---- */

static int parse_ep(const char *s, struct bf_endpoint *ep)
{
	char err[BF_ENDPOINT_STRLEN + 256];

	if (bf_endpoint_parse(s, ep, err, sizeof(err)) || bf_endpoint_is_sentinel(ep)) {
		fanout_say("%s: %s", s, bf_endpoint_is_sentinel(ep) ? "a plain host:port, please" : err);
		return -1;
	}
	return 0;
}

static redisContext *admin_open(const struct bf_endpoint *ep)
{
	char err[BF_ENDPOINT_STRLEN + 512];
	redisContext *r = bf_redis_connect(ep, REDIS_TIMEOUT_MS, err, sizeof(err));

	if (!r)
		fanout_say("%s", err);
	return r;
}

/* Enough descriptors for every follower's links; false with the reason in why. */
static bool fd_room(unsigned need, char *why, size_t len)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return false;
	if (rl.rlim_cur >= need)
		return true;
	if (rl.rlim_max < need) {
		struct rlimit up = { need, need };

		if (!setrlimit(RLIMIT_NOFILE, &up))
			return true;
		snprintf(why, len, "RLIMIT_NOFILE: %u descriptors needed, the hard limit is %llu "
				   "and cannot be raised (%s)",
			 need, (unsigned long long)rl.rlim_max, strerror(errno));
		return false;
	}
	rl.rlim_cur = need;
	if (setrlimit(RLIMIT_NOFILE, &rl)) {
		snprintf(why, len, "RLIMIT_NOFILE: cannot raise to %u: %s", need, strerror(errno));
		return false;
	}
	return true;
}

static void writer_record(void *ctx, const char *origin, const struct bf_log_rec *r)
{
}

static int run(struct fan *fan)
{
	struct timeval tick = { .tv_usec = CTL_MS * 1000 };
	struct sync_config wcfg = { .endpoint = &fan->ep, .prefix = fan->prefix,
				    .origin = WRITER, .read_peers = false };
	struct sync_handlers wh = { .on_record = writer_record };

	fan->base = event_base_new();
	fan->ctl = event_new(fan->base, -1, EV_PERSIST, ctl, fan);
	fan->pace = event_new(fan->base, -1, EV_PERSIST, pace, fan);
	if (!fan->base || !fan->ctl || !fan->pace)
		return -1;
	for (unsigned t = 0; t < fan->threads; t++) {
		struct shard *s = &fan->sh[t];

		s->fan = fan;
		s->lo = (unsigned)((unsigned long long)fan->n * t / fan->threads);
		s->hi = (unsigned)((unsigned long long)fan->n * (t + 1) / fan->threads);
		s->made = s->lo;
		s->base = event_base_new();
		if (!s->base || !(s->tick = event_new(s->base, -1, EV_PERSIST, shard_tick, s)))
			return -1;
	}
	fan->w = sync_client_new(fan->base, &wcfg, &wh);
	if (!fan->w)
		return -1;
	fan->phase = P_CONNECT;
	fan->deadline = mono_s() + 10;
	event_add(fan->ctl, &tick);
	event_base_dispatch(fan->base);
	/* Every follower's state is read once more, then the loops end and free them. */
	atomic_store(&fan->stop, true);
	for (unsigned t = 0; t < fan->started; t++)
		pthread_join(fan->sh[t].th, NULL);
	sync_client_free(fan->w);
	event_free(fan->ctl);
	event_free(fan->pace);
	event_base_free(fan->base);
	for (unsigned t = 0; t < fan->threads; t++) {
		event_free(fan->sh[t].tick);
		event_base_free(fan->sh[t].base);
	}
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
		"Usage: bf-bench fanout --redis HOST:PORT [--replica HOST:PORT]... [--followers N]\n"
		"                [--records K] [--interval-ms MS] [--threads T] [--ready-s S]\n"
		"                [--drain-s S] [--prefix P]\n"
		"  A private Redis (it adds and removes the ACL user " FAN_USER "): N followers\n"
		"  (sync clients, read_peers) of one writer's K records, one every MS; with\n"
		"  --replica, the followers are spread over the replicas (sync_config.replica).\n");
}

int bench_fanout_main(int argc, char **argv)
{
	enum { O_REDIS = 256, O_REPLICA, O_FOLLOWERS, O_RECORDS, O_INTERVAL, O_THREADS, O_READY,
	       O_DRAIN, O_PREFIX };
	static const struct option lo[] = {
		{ "redis", required_argument, NULL, O_REDIS },
		{ "replica", required_argument, NULL, O_REPLICA },
		{ "followers", required_argument, NULL, O_FOLLOWERS },
		{ "records", required_argument, NULL, O_RECORDS },
		{ "interval-ms", required_argument, NULL, O_INTERVAL },
		{ "threads", required_argument, NULL, O_THREADS },
		{ "ready-s", required_argument, NULL, O_READY },
		{ "drain-s", required_argument, NULL, O_DRAIN },
		{ "prefix", required_argument, NULL, O_PREFIX },
		{ NULL, 0, NULL, 0 },
	};
	static struct fan fan; /* large; one a process */
	char prefix[BF_PREFIX_MAX + 1], err[BF_ENDPOINT_STRLEN + 512], pass[33], why[256] = "";
	const char *rep_s[MAX_SERVERS - 1];
	bool have_redis = false;
	double *ping = NULL, *ping_rep = NULL;
	size_t n_ping_rep = 0;
	uint8_t rnd[16];
	FILE *tmp = NULL;
	int opt, rc = 1, saved = -1;
	unsigned joins = 0;

	fanout_say_f = stderr;
	fan.n = 200;
	fan.k = 300;
	fan.interval_ms = 5;
	fan.threads = 2;
	fan.ready_s = 30;
	fan.drain_s = 10;
	snprintf(prefix, sizeof(prefix), "bffan%d:", (int)getpid());
	fan.prefix = prefix;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (opt) {
		case O_REDIS:
			if (parse_ep(optarg, &fan.ep))
				return 2;
			have_redis = true;
			break;
		case O_REPLICA:
			if (fan.n_rep == MAX_SERVERS - 1 || parse_ep(optarg, &fan.rep[fan.n_rep]))
				return 2;
			rep_s[fan.n_rep++] = optarg;
			break;
		case O_FOLLOWERS:
			fan.n = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case O_RECORDS:
			fan.k = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case O_INTERVAL:
			fan.interval_ms = atoi(optarg);
			break;
		case O_THREADS:
			fan.threads = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case O_READY:
			fan.ready_s = atoi(optarg);
			break;
		case O_DRAIN:
			fan.drain_s = atoi(optarg);
			break;
		case O_PREFIX:
			if (!bf_prefix_valid(optarg)) {
				fanout_say("--prefix: 1-32 of A-Z a-z 0-9 _ - . : ending in ':'");
				return 2;
			}
			snprintf(prefix, sizeof(prefix), "%s", optarg);
			break;
		default:
			usage();
			return 2;
		}
	}
	if (!have_redis || !fan.n || fan.n > MAX_FOLLOWERS || !fan.k || fan.k > MAX_RECORDS ||
	    fan.interval_ms < 1 || fan.interval_ms > 10000 || !fan.threads ||
	    fan.threads > MAX_THREADS || fan.threads > fan.n || fan.ready_s < 1 ||
	    fan.drain_s < 1) {
		usage();
		return 2;
	}

	/* The admin: the environment's credentials (BIFROST_REDIS_USER, REDISCLI_AUTH) or
	 * none. The followers log in as FAN_USER with a password of this run. */
	if (bf_endpoint_credentials(&fan.ep, NULL, err, sizeof(err))) {
		fanout_say("%s", err);
		return 2;
	}
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return 1;
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(pass + 2 * i, 3, "%02x", rnd[i]);
	fan.fep = fan.ep;
	snprintf(fan.fep.user, sizeof(fan.fep.user), "%s", FAN_USER);
	snprintf(fan.fep.pass, sizeof(fan.fep.pass), "%s", pass);
	fan.fep.has_pass = true;
	snprintf(fan.fep.auth_src, sizeof(fan.fep.auth_src), "bf-bench fanout");
	for (unsigned r = 0; r < fan.n_rep; r++) {
		struct bf_endpoint a = fan.rep[r];

		/* the admin's credentials to set the user up there */
		memcpy(a.user, fan.ep.user, sizeof(a.user));
		memcpy(a.pass, fan.ep.pass, sizeof(a.pass));
		a.has_pass = fan.ep.has_pass;
		if (!(fan.admin[r + 1] = admin_open(&a)))
			goto out;
		memcpy(fan.rep[r].user, fan.fep.user, sizeof(fan.rep[r].user));
		memcpy(fan.rep[r].pass, fan.fep.pass, sizeof(fan.rep[r].pass));
		fan.rep[r].has_pass = true;
		snprintf(fan.rep[r].auth_src, sizeof(fan.rep[r].auth_src), "bf-bench fanout");
	}
	if (!(fan.admin[0] = admin_open(&fan.ep)))
		goto out;

	/* Redis's own round trip from here, before anything else runs: the baseline. */
	ping = calloc(PINGS, sizeof(double));
	ping_rep = calloc((size_t)PINGS * (fan.n_rep ? fan.n_rep : 1), sizeof(double));
	if (!ping || !ping_rep || bench_ping(fan.admin[0], ping, PINGS))
		goto out;
	for (unsigned r = 0; r < fan.n_rep; r++, n_ping_rep += PINGS)
		if (bench_ping(fan.admin[r + 1], ping_rep + n_ping_rep, PINGS))
			goto out;

	/* Room for every link: 3 a follower, 4 with a replica, and a few of our own. */
	if (!fd_room(fan.n * (fan.n_rep ? 4 : 3) + 64, why, sizeof(why))) {
		fan.fail = why;
		rc = fanout_report(&fan, ping, PINGS, ping_rep, n_ping_rep, 0);
		goto out;
	}
	for (unsigned s = 0; s <= fan.n_rep; s++) {
		long long mc = config_num(fan.admin[s], "maxclients");

		if (mc >= 0 && mc < (long long)fan.n * 3 + 16) {
			snprintf(why, sizeof(why),
				 "Redis %s takes at most %lld clients (maxclients), %u needed",
				 s ? rep_s[s - 1] : "primary", mc, fan.n * 3 + 16);
			fan.fail = why;
			rc = fanout_report(&fan, ping, PINGS, ping_rep, n_ping_rep, 0);
			goto out;
		}
	}
	/* The followers' user: anything but SADD (so none joins <prefix>edges), on every
	 * server (ACLs are not replicated). The writer is an edge in the set. */
	for (unsigned s = 0; s <= fan.n_rep; s++)
		if (!admin_ok(fan.admin[s], "ACL SETUSER %s reset on >%s ~* &* +@all -sadd", FAN_USER,
			      pass))
			goto cleanup;
	if (!admin_ok(fan.admin[0], "SADD %sedges %s", fan.prefix, WRITER))
		goto cleanup;

	fan.f = calloc(fan.n, sizeof(*fan.f));
	fan.t_write = calloc((size_t)fan.k + 1, sizeof(*fan.t_write));
	if (!fan.f || !fan.t_write)
		goto cleanup;
	for (unsigned i = 0; i < fan.n; i++) {
		fan.f[i].fan = &fan;
		snprintf(fan.f[i].origin, sizeof(fan.f[i].origin), "fan%u", i);
		if (!(fan.f[i].lat_us = malloc(((size_t)fan.k + 1) * sizeof(double))))
			goto cleanup;
		for (unsigned j = 0; j <= fan.k; j++)
			fan.f[i].lat_us[j] = NAN;
	}
	/* Built once here: every client's writer asks for it, from several threads. */
	if (!bf_bus_eval_script())
		goto cleanup;

	/* The library's log to a file while the followers run (see the top). */
	fflush(stderr);
	if (!(tmp = tmpfile()) || (saved = dup(2)) < 0 || !(fanout_say_f = fdopen(saved, "w")) ||
	    dup2(fileno(tmp), 2) < 0) {
		fanout_say_f = stderr;
		goto cleanup;
	}
	if (run(&fan)) {
		fanout_say("cannot set up the event loops");
		goto restore;
	}
	fflush(stderr);
	dup2(saved, 2);
	joins = fanout_replay_log(tmp, fan.prefix);
	rc = fanout_report(&fan, ping, PINGS, ping_rep, n_ping_rep, joins);
	goto cleanup;
restore:
	fflush(stderr);
	dup2(saved, 2);
	fanout_replay_log(tmp, fan.prefix);
cleanup:
	for (unsigned s = 0; s <= fan.n_rep; s++)
		if (fan.admin[s])
			admin_ok(fan.admin[s], "ACL DELUSER %s", FAN_USER);
out:
	for (unsigned s = 0; s <= fan.n_rep; s++)
		if (fan.admin[s])
			redisFree(fan.admin[s]);
	if (tmp)
		fclose(tmp);
	if (fan.f)
		for (unsigned i = 0; i < fan.n; i++)
			free(fan.f[i].lat_us);
	free(fan.f);
	free(fan.t_write);
	free(ping);
	free(ping_rep);
	return rc;
}
