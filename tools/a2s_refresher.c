/* a2s_refresher.c - bifrost-a2s-refresher: queries every A2S-enabled game server on an
 * interval with the real challenge handshake and stores the replies in Redis for the
 * edges (docs/REDIS.md "A2S cache", docs/OPERATIONS.md). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "a2s.h"
#include "addr.h"
#include "log.h"
#include "schema.h"

#define PROG "bifrost-a2s-refresher"
#define EXIT_USAGE 2
#define MAX_TARGETS 4096   /* A2S connections handled; more are logged and left out */
#define MAX_INFLIGHT 256   /* queries (sockets) open at once */
#define MAX_FIELDS 32      /* fields read from one connection hash */
#define MAX_ROUNDS 3       /* challenges followed per kind before giving up */
#define STATE_SLOTS 8192   /* per-server last state, for one log line per change */
#define REDIS_TIMEOUT_MS 2000

enum { K_INFO, K_PLAYER, K_RULES, K_MAX };

static const uint8_t reply_type[K_MAX] = { A2S_R_INFO, A2S_R_PLAYER, A2S_R_RULES };
static const char *kind_label[K_MAX] = { "info", "player", "rules" };
static const enum bf_a2s_key key_kind[K_MAX] = { BF_A2S_INFO, BF_A2S_PLAYER, BF_A2S_RULES };

struct opts {
	char host[BF_ADDR_STRLEN];
	int port;
	char id[BF_ORIGIN_MAX + 1];
	uint64_t interval_ms, timeout_ms, ttl_ms;
	bool target_bind, player, rules, once, json;
	int verbose;
};

/* One A2S connection and this round's query of it. */
struct target {
	struct bf_conn c;
	uint32_t ip;   /* where the query goes (machine or bind address) */
	uint16_t port;
	bool won;      /* the lock is ours this round */
	/* the query */
	int fd, kind, nkinds, rounds;
	bool with;
	uint32_t ch;
	uint64_t deadline;
	struct a2s_asm as;
	uint8_t *as_buf;
	uint8_t *reply[K_MAX];
	size_t reply_len[K_MAX];
	const char *fail;   /* "timeout", "garbage", "unreachable"; NULL = fine so far */
	const char *detail; /* static text */
	int fail_kind;
};

struct stats {
	unsigned long long rounds, servers, locked, refreshed, failed, timeouts, garbage,
		unreachable, partial, stored, redis_errors, bad_conns;
};

/* ---- per-server state, so a failing server logs once, not every interval ---- */

struct state_slot {
	uint32_t ip;
	uint16_t port;
	bool used;
	const char *fail, *detail;
};

static struct state_slot states[STATE_SLOTS];

static struct state_slot *state_of(uint32_t ip, uint16_t port)
{
	uint32_t h = ((ip * 2654435761u) ^ (port * 40503u)) & (STATE_SLOTS - 1);

	for (unsigned n = 0; n < STATE_SLOTS; n++, h = (h + 1) & (STATE_SLOTS - 1)) {
		struct state_slot *s = &states[h];

		if (!s->used) {
			*s = (struct state_slot){ .ip = ip, .port = port, .used = true };
			return s;
		}
		if (s->ip == ip && s->port == port)
			return s;
	}
	return NULL; /* full: MAX_TARGETS < STATE_SLOTS, so only after many config changes */
}

static void note_outcome(const struct target *t, const struct opts *o)
{
	struct state_slot *s = state_of(t->c.bind_ip, t->c.bind_port);
	char b[BF_ADDR_STRLEN], q[BF_ADDR_STRLEN];

	if (s && s->fail == t->fail && s->detail == t->detail)
		return;
	if (t->fail)
		pr_warn("a2s %s:%u (query %s:%u): %s %s%s%s", bf_ipv4_str(t->c.bind_ip, b),
			t->c.bind_port, bf_ipv4_str(t->ip, q), t->port, kind_label[t->fail_kind],
			t->fail, t->detail ? ": " : "", t->detail ? t->detail : "");
	else if (s && s->fail)
		pr_info("a2s %s:%u (query %s:%u): answering again", bf_ipv4_str(t->c.bind_ip, b),
			t->c.bind_port, bf_ipv4_str(t->ip, q), t->port);
	if (s) {
		s->fail = t->fail;
		s->detail = t->detail;
	}
}

/* ---- Redis ---- */

static redisContext *redis_open(const struct opts *o)
{
	struct timeval tv = { .tv_sec = REDIS_TIMEOUT_MS / 1000 };
	redisContext *rc = redisConnectWithTimeout(o->host, o->port, tv);
	const char *auth = getenv("REDISCLI_AUTH"); /* the variable redis-cli reads too */

	if (!rc || rc->err) {
		pr_debug("redis %s:%d: %s", o->host, o->port, rc ? rc->errstr : "out of memory");
		redisFree(rc);
		return NULL;
	}
	redisSetTimeout(rc, tv);
	if (auth && *auth) {
		redisReply *r = redisCommand(rc, "AUTH %s", auth);
		bool ok = r && r->type == REDIS_REPLY_STATUS;

		freeReplyObject(r);
		if (!ok) {
			pr_err("redis %s:%d: AUTH refused", o->host, o->port);
			redisFree(rc);
			return NULL;
		}
	}
	return rc;
}

/* Adds the A2S connection of one hash to ts. */
static void take_conn(const redisReply *k, const redisReply *h, const struct opts *o,
		      struct target *ts, size_t *n, struct stats *st)
{
	struct bf_field f[MAX_FIELDS];
	struct target *t = &ts[*n];
	const char *what = "not a hash";
	size_t nf = 0;

	memset(t, 0, sizeof(*t));
	if (!h || h->type != REDIS_REPLY_ARRAY || h->elements > 2 * MAX_FIELDS ||
	    bf_conn_parse_key(k->str, k->len, BF_PREFIX_DEFAULT, &t->c)) {
		st->bad_conns++;
		return;
	}
	for (size_t i = 0; i + 1 < h->elements; i += 2)
		if (h->element[i]->type == REDIS_REPLY_STRING &&
		    h->element[i + 1]->type == REDIS_REPLY_STRING)
			f[nf++] = (struct bf_field){ h->element[i]->str, h->element[i]->len,
						     h->element[i + 1]->str, h->element[i + 1]->len };
	if (bf_conn_parse_fields(f, nf, &t->c, &what)) {
		/* The edges log invalid hashes; here it is only counted. */
		pr_debug("%.*s: %s", (int)k->len, k->str, what);
		st->bad_conns++;
		return;
	}
	if (!t->c.a2s)
		return;
	if (o->target_bind) {
		t->ip = t->c.bind_ip;
		t->port = t->c.bind_port;
	} else {
		t->ip = t->c.machine_ip;
		t->port = t->c.machine_port ? t->c.machine_port : t->c.bind_port;
	}
	(*n)++;
}

/* Reads every A2S-enabled UDP connection. 0 or -EIO (Redis failed). */
static int load_targets(redisContext *rc, const struct opts *o, struct target *ts, size_t *n,
			struct stats *st)
{
	static bool warned;
	char cursor[32] = "0";

	*n = 0;
	do {
		redisReply *r = redisCommand(rc, "SCAN %s MATCH %sconn:udp:* COUNT 1000", cursor,
					     BF_PREFIX_DEFAULT);
		const redisReply *keys;

		if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
		    r->element[0]->type != REDIS_REPLY_STRING || r->element[0]->len >= sizeof(cursor) ||
		    r->element[1]->type != REDIS_REPLY_ARRAY) {
			freeReplyObject(r);
			return -EIO;
		}
		snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
		keys = r->element[1];
		for (size_t i = 0; i < keys->elements; i++)
			if (keys->element[i]->type == REDIS_REPLY_STRING)
				redisAppendCommand(rc, "HGETALL %b", keys->element[i]->str,
						   keys->element[i]->len);
		for (size_t i = 0; i < keys->elements; i++) {
			redisReply *h = NULL;

			if (keys->element[i]->type != REDIS_REPLY_STRING)
				continue;
			if (redisGetReply(rc, (void **)&h) != REDIS_OK) {
				freeReplyObject(r);
				return -EIO;
			}
			if (*n < MAX_TARGETS)
				take_conn(keys->element[i], h, o, ts, n, st);
			else if (!warned) {
				warned = true;
				pr_warn("more than %d A2S connections: the rest are not refreshed",
					MAX_TARGETS);
			}
			freeReplyObject(h);
		}
		freeReplyObject(r);
	} while (strcmp(cursor, "0"));
	return 0;
}

/* SET ... NX PX for every target, pipelined: t->won for those this refresher got. The lock
 * lives 9/10 of an interval, so its owner's next round finds it gone and wins again,
 * while a refresher running out of phase finds it held. 0 or -EIO. */
static int take_locks(redisContext *rc, const struct opts *o, struct target *ts, size_t n,
		      struct stats *st)
{
	uint64_t px = o->interval_ms * 9 / 10;

	for (size_t i = 0; i < n; i++) {
		char key[BF_KEY_MAX];

		bf_key_a2s(key, sizeof(key), BF_PREFIX_DEFAULT, BF_A2S_LOCK, ts[i].c.bind_ip,
			   ts[i].c.bind_port);
		redisAppendCommand(rc, "SET %s %s NX PX %llu", key, o->id,
				   (unsigned long long)(px ? px : 1));
	}
	for (size_t i = 0; i < n; i++) {
		redisReply *r = NULL;

		if (redisGetReply(rc, (void **)&r) != REDIS_OK)
			return -EIO;
		ts[i].won = r && r->type == REDIS_REPLY_STATUS;
		if (r && r->type == REDIS_REPLY_ERROR) {
			pr_warn("redis refused the lock: %s", r->str);
			st->redis_errors++;
		}
		st->locked += !ts[i].won;
		freeReplyObject(r);
	}
	return 0;
}

/* Stores each refreshed reply (SET key bytes PX ttl) and announces its key on the channel,
 * pipelined. 0 or -EIO. */
static int store(redisContext *rc, const struct opts *o, struct target *ts, size_t n,
		 struct stats *st)
{
	char chan[BF_KEY_MAX];
	size_t sent = 0;

	bf_key_a2s_channel(chan, sizeof(chan), BF_PREFIX_DEFAULT);
	for (size_t i = 0; i < n; i++) {
		for (int k = 0; k < K_MAX; k++) {
			char key[BF_KEY_MAX];

			if (!ts[i].reply[k])
				continue;
			bf_key_a2s(key, sizeof(key), BF_PREFIX_DEFAULT, key_kind[k], ts[i].c.bind_ip,
				   ts[i].c.bind_port);
			redisAppendCommand(rc, "SET %s %b PX %llu", key, ts[i].reply[k],
					   ts[i].reply_len[k], (unsigned long long)o->ttl_ms);
			redisAppendCommand(rc, "PUBLISH %s %s", chan, key);
			sent++;
		}
	}
	for (size_t i = 0; i < sent; i++) {
		redisReply *set = NULL, *pub = NULL;
		int ok = redisGetReply(rc, (void **)&set) == REDIS_OK &&
			 redisGetReply(rc, (void **)&pub) == REDIS_OK;

		if (!ok) {
			freeReplyObject(set);
			return -EIO;
		}
		if (set && set->type == REDIS_REPLY_STATUS)
			st->stored++;
		else {
			st->redis_errors++;
			pr_warn("redis refused a cache write: %s",
				set && set->type == REDIS_REPLY_ERROR ? set->str : "unexpected reply");
		}
		freeReplyObject(set);
		freeReplyObject(pub);
	}
	return 0;
}

/* ---- queries ---- */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void job_fail(struct target *t, const char *fail, const char *detail)
{
	t->fail = fail;
	t->detail = detail;
	t->fail_kind = t->kind;
	close(t->fd);
	t->fd = -1;
}

static void job_send(struct target *t, const struct opts *o)
{
	uint8_t req[64];
	int n = t->kind == K_INFO   ? a2s_build_info_req(req, sizeof(req), t->with, t->ch) :
		t->kind == K_PLAYER ? a2s_build_player_req(req, sizeof(req),
							   t->with ? t->ch : A2S_ASK_CHALLENGE) :
				      a2s_build_rules_req(req, sizeof(req),
							  t->with ? t->ch : A2S_ASK_CHALLENGE);

	t->deadline = now_ms() + o->timeout_ms;
	if (send(t->fd, req, (size_t)n, MSG_DONTWAIT) != n)
		job_fail(t, errno == ECONNREFUSED ? "unreachable" : "send failed", NULL);
}

static int job_start(struct target *t, const struct opts *o)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = t->ip,
				  .sin_port = htons(t->port) };

	t->nkinds = 1 + (o->player || o->rules);
	t->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (t->fd < 0)
		return -errno;
	/* Connected: only the server's datagrams arrive, and a closed port reports itself. */
	if (connect(t->fd, (struct sockaddr *)&sa, sizeof(sa))) {
		job_fail(t, "unreachable", NULL);
		return 0;
	}
	job_send(t, o);
	return 0;
}

/* The next kind to ask, after `kind`, or K_MAX. */
static int next_kind(int kind, const struct opts *o)
{
	if (kind == K_INFO && o->player)
		return K_PLAYER;
	if (kind != K_RULES && o->rules)
		return K_RULES;
	return K_MAX;
}

/* A whole answer of the current kind: a challenge to follow, or the reply to keep. */
static void job_answer(struct target *t, const struct opts *o, const uint8_t *b, size_t len)
{
	const char *what = NULL;
	size_t n;
	int rc;

	if (b[4] == A2S_R_CHALLENGE) {
		if (a2s_challenge_parse(b, len, &t->ch)) {
			job_fail(t, "garbage", "S2C_CHALLENGE not 9 bytes");
			return;
		}
		if (++t->rounds > MAX_ROUNDS) {
			job_fail(t, "garbage", "a new challenge every time");
			return;
		}
		t->with = true;
		job_send(t, o);
		return;
	}
	if (b[4] != reply_type[t->kind]) {
		job_fail(t, "garbage", "unexpected answer type");
		return;
	}
	rc = t->kind == K_INFO	 ? a2s_info_parse(b, len, NULL, &what) :
	     t->kind == K_PLAYER ? a2s_player_parse(b, len, NULL, 0, &n, &what) :
				   a2s_rules_parse(b, len, NULL, 0, &n, &what);
	if (rc) {
		job_fail(t, "garbage", what);
		return;
	}
	t->reply[t->kind] = malloc(len); /* len <= A2S_REPLY_MAX: one datagram or a checked assembly */
	if (!t->reply[t->kind]) {
		job_fail(t, "out of memory", NULL);
		return;
	}
	memcpy(t->reply[t->kind], b, len);
	t->reply_len[t->kind] = len;
	free(t->as_buf);
	t->as_buf = NULL;
	t->kind = next_kind(t->kind, o);
	t->rounds = 0;
	if (t->kind == K_MAX) {
		close(t->fd);
		t->fd = -1;
		return;
	}
	job_send(t, o); /* with the challenge INFO needed, if any: servers share it per client */
}

/* Reads what arrived for a query (a bounded number of datagrams). */
static void job_read(struct target *t, const struct opts *o)
{
	static uint8_t pkt[65536];

	for (int k = 0; k < 16 && t->fd >= 0; k++) {
		ssize_t r = recv(t->fd, pkt, sizeof(pkt), MSG_DONTWAIT);
		struct a2s_split_hdr h;
		const char *what = NULL;
		int type, rc;
		long need;

		if (r < 0) {
			if (errno == ECONNREFUSED)
				job_fail(t, "unreachable", "port unreachable");
			return;
		}
		type = a2s_reply_type(pkt, (size_t)r);
		if (type < 0) {
			job_fail(t, "garbage", "not an A2S answer");
			return;
		}
		if (type != A2S_PKT_SPLIT) {
			job_answer(t, o, pkt, (size_t)r);
			continue;
		}
		if (!t->as_buf) {
			/* The first part says how large the answer can be: checked, then allocated. */
			rc = a2s_split_hdr_parse(pkt, (size_t)r, &h, &what);
			need = rc ? rc : a2s_split_need(&h);
			if (need < 0) {
				job_fail(t, "garbage", need == -EMSGSIZE ? "split answer over 64 KiB" :
									     what);
				return;
			}
			t->as_buf = malloc((size_t)need);
			if (!t->as_buf) {
				job_fail(t, "out of memory", NULL);
				return;
			}
			a2s_asm_init(&t->as, t->as_buf, (size_t)need);
		}
		rc = a2s_asm_add(&t->as, pkt, (size_t)r, &what);
		if (rc == 1)
			job_answer(t, o, t->as.buf, t->as.len);
		else if (rc < 0 && rc != -EALREADY && rc != -ESTALE)
			job_fail(t, "garbage", what);
	}
}

/* Queries every target this refresher won, MAX_INFLIGHT at a time; each step waits at most
 * timeout_ms, so a round ends within (kinds x (MAX_ROUNDS + 1)) timeouts per batch. */
static void run_queries(struct target *ts, size_t n, const struct opts *o)
{
	static struct pollfd pfd[MAX_INFLIGHT];
	static struct target *who[MAX_INFLIGHT];
	size_t next = 0;
	int live = 0;

	for (;;) {
		uint64_t t, soonest = UINT64_MAX;
		int np = 0;

		while (live < MAX_INFLIGHT && next < n) {
			struct target *x = &ts[next++];

			if (!x->won)
				continue;
			if (job_start(x, o)) {
				x->fd = -1;
				x->fail = "socket failed";
				continue;
			}
			live++;
		}
		t = now_ms();
		live = 0;
		for (size_t i = 0; i < next; i++) {
			struct target *x = &ts[i];

			if (!x->won || x->fd < 0)
				continue;
			if (t >= x->deadline) {
				job_fail(x, "timeout", x->as_buf ? "parts missing" : "no answer");
				continue;
			}
			if (x->deadline < soonest)
				soonest = x->deadline;
			pfd[np] = (struct pollfd){ .fd = x->fd, .events = POLLIN };
			who[np++] = x;
			live++;
		}
		if (!np && next >= n)
			break;
		if (np && poll(pfd, (nfds_t)np, (int)(soonest - t)) > 0)
			for (int i = 0; i < np; i++)
				if (pfd[i].revents)
					job_read(who[i], o);
	}
}

static void free_round(struct target *ts, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		for (int k = 0; k < K_MAX; k++)
			free(ts[i].reply[k]);
		free(ts[i].as_buf);
		if (ts[i].fd >= 0 && ts[i].won)
			close(ts[i].fd);
	}
}

/* ---- one round ---- */

static void tally(struct target *ts, size_t n, const struct opts *o, struct stats *st)
{
	for (size_t i = 0; i < n; i++) {
		struct target *t = &ts[i];

		if (!t->won)
			continue;
		if (t->reply[K_INFO])
			st->refreshed++;
		else
			st->failed++;
		if (t->fail && t->reply[K_INFO])
			st->partial++;
		if (t->fail) {
			st->timeouts += !strcmp(t->fail, "timeout");
			st->garbage += !strcmp(t->fail, "garbage");
			st->unreachable += !strcmp(t->fail, "unreachable");
		}
		note_outcome(t, o);
	}
}

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
		"Usage: " PROG " [--redis HOST:PORT] [--id ID] [--interval DURATION]\n"
		"        [--timeout DURATION] [--ttl DURATION] [--target machine|bind] [--player]\n"
		"        [--rules] [--once] [--json] [-v]\n"
		"Queries every A2S-enabled connection (bifrost:conn:udp:* with a2s 1) with the\n"
		"challenge handshake and stores the raw reply at bifrost:a2s:<bind ip>:<port>\n"
		"(SET PX ttl), announcing the key on channel bifrost:a2s. Several refreshers may\n"
		"run: one wins each server per interval (bifrost:a2s:lock:<ip>:<port>).\n"
		"\n"
		"  --redis HOST:PORT   fleet Redis (default 127.0.0.1:6379 or $BIFROST_REDIS);\n"
		"                      a password is read from $REDISCLI_AUTH, never from a flag\n"
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
		"failed (--once), 2 bad usage.\n");
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "redis", required_argument, NULL, 'r' },   { "id", required_argument, NULL, 'i' },
		{ "interval", required_argument, NULL, 'n' }, { "timeout", required_argument, NULL, 'w' },
		{ "ttl", required_argument, NULL, 'T' },     { "target", required_argument, NULL, 't' },
		{ "player", no_argument, NULL, 'p' },	      { "rules", no_argument, NULL, 'R' },
		{ "once", no_argument, NULL, '1' },	      { "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },	      { NULL, 0, NULL, 0 },
	};
	const char *redis = getenv("BIFROST_REDIS");
	char hostname[64] = "refresher";
	bool ttl_given = false;
	int opt;

	*o = (struct opts){ .port = 6379, .interval_ms = 5000, .timeout_ms = 1000 };
	snprintf(o->host, sizeof(o->host), "127.0.0.1");
	while ((opt = getopt_long(argc, argv, "hv", lo, NULL)) != -1) {
		switch (opt) {
		case 'r':
			redis = optarg;
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
	if (redis) {
		uint32_t addr;
		uint16_t port;

		if (bf_parse_endpoint(redis, false, &addr, &port)) {
			fprintf(stderr, PROG ": --redis: want a.b.c.d:port, got '%s'\n", redis);
			return -EINVAL;
		}
		bf_ipv4_str(addr, o->host);
		o->port = port;
	}
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
	sigset_t sigs;
	int sfd, ret = 0;

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
			"'%s', redis %s:%d",
			(unsigned long long)o.interval_ms, (unsigned long long)o.timeout_ms,
			(unsigned long long)o.ttl_ms, o.target_bind ? "bind" : "machine",
			o.player ? ", player" : "", o.rules ? ", rules" : "", o.id, o.host, o.port);
	while (!stop) {
		uint64_t start = now_ms(), end;
		int err;

		if (!rc)
			rc = redis_open(&o);
		if (!rc) {
			if (!redis_down)
				pr_err("redis %s:%d unreachable; retrying every interval", o.host, o.port);
			redis_down = true;
			ret = 1;
		} else {
			if (redis_down)
				pr_info("redis %s:%d reachable again", o.host, o.port);
			redis_down = false;
			err = round_once(rc, &o, ts, &st);
			if (err < 0) {
				pr_err("redis %s:%d failed during the round: %s", o.host, o.port,
				       rc->err ? rc->errstr : "unexpected reply");
				redisFree(rc);
				rc = NULL;
				redis_down = true;
			}
			ret = err ? 1 : 0;
			if (o.json || o.verbose)
				print_stats(&st, &o, false);
		}
		if (o.once)
			break;
		/* Sleep out the interval, waking for SIGTERM/SIGINT. */
		for (end = start + o.interval_ms; !stop && now_ms() < end;) {
			struct pollfd p = { .fd = sfd, .events = POLLIN };
			struct signalfd_siginfo si;

			if (poll(&p, 1, (int)(end - now_ms())) > 0 &&
			    read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
				stop = true;
		}
	}
	if (!o.json)
		print_stats(&st, &o, true);
	redisFree(rc);
	free(ts);
	close(sfd);
	return o.once ? ret : 0; /* a daemon told to stop has done its job */
}
