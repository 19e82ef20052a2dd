/* a2s_feed.c - the A2S cache from the fleet (a2s_feed.h). */
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "a2s_feed.h"
#include "a2s_workers.h"
#include "apply.h"
#include "clock.h"
#include "log.h"
#include "sync.h"

#define A2S_KEY_ROTATE_MS (3600 * 1000)

struct a2s_conn {
	uint32_t ip;
	uint16_t port;
};

struct edge_a2s_feed {
	struct sync_client *sc;
	struct edge_a2s *workers;
	struct edge_apply *apply;
	struct a2s_conn *conns;      /* connections with a2s on, from the fleet config */
	size_t n_conns;
	char key[2 * 2 * A2S_KEY_LEN + 2]; /* "cur prev" as last applied */
	unsigned inflight;           /* cache reads sent and not yet answered */
	struct edge_a2s_seen *seen;  /* what the cache holds: age and TTL */
	size_t n_seen;
};

static const enum a2s_kind kinds[] = { [BF_A2S_INFO] = A2S_INFO,
				       [BF_A2S_PLAYER] = A2S_PLAYER,
				       [BF_A2S_RULES] = A2S_RULES };

/* Where a cached reply stands: when its bytes last changed (the refresher
 * stored a new answer) and the TTL Redis gave it when last read. */
static void seen_note(struct edge_a2s_feed *f, uint32_t ip, uint16_t port, enum bf_a2s_key k,
		      const uint8_t *val, size_t len, int64_t ttl_ms)
{
	uint64_t sum = 1469598103934665603ULL; /* FNV-1a: tells a changed reply apart */
	struct edge_a2s_seen *s = NULL;
	int64_t now = bf_wall_ms();

	for (size_t i = 0; val && i < len; i++)
		sum = (sum ^ val[i]) * 1099511628211ULL;
	for (size_t i = 0; i < f->n_seen; i++)
		if (f->seen[i].ip == ip && f->seen[i].port == port && f->seen[i].kind == (int)k)
			s = &f->seen[i];
	if (!val) {
		if (s)
			*s = f->seen[--f->n_seen];
		return;
	}
	if (!s) {
		struct edge_a2s_seen *n = realloc(f->seen, (f->n_seen + 1) * sizeof(*n));

		if (!n)
			return;
		f->seen = n;
		s = &n[f->n_seen++];
		*s = (struct edge_a2s_seen){ .ip = ip, .port = port, .kind = (int)k, .changed_ms = now };
	} else if (s->sum != sum) {
		s->changed_ms = now;
	}
	s->sum = sum;
	s->ttl_ms = ttl_ms;
	s->read_ms = now;
}

/* A cached reply from Redis (val NULL: gone). The workers validate it; the
 * log says when a connection's cache becomes ready or goes. */
static void reply(struct edge_a2s_feed *f, uint32_t ip, uint16_t port, enum bf_a2s_key k,
		  const uint8_t *val, size_t len, int64_t ttl_ms)
{
	char a[BF_ADDR_STRLEN];
	unsigned before, after;

	if (k > BF_A2S_RULES)
		return;
	before = edge_a2s_ready(f->workers, ip, port);
	if (val && edge_a2s_put(f->workers, ip, port, kinds[k], val, len)) {
		val = NULL; /* refused: a reply that does not parse is not served */
		len = 0;
	}
	if (!val && (before & (1u << kinds[k]))) {
		/* XDP stops sending this kind before the cache forgets it, so a
		 * query redirected meanwhile still finds its reply. */
		edge_apply_a2s_ready(f->apply, ip, port, before & ~(1u << kinds[k]));
		edge_a2s_drop(f->workers, ip, port, kinds[k]);
	}
	seen_note(f, ip, port, k, val, len, ttl_ms);
	after = edge_a2s_ready(f->workers, ip, port);
	edge_apply_a2s_ready(f->apply, ip, port, after);
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

static void key_read(void *ctx, const struct bf_field *fl, size_t n)
{
	struct edge_a2s_feed *f = ctx;
	char cur[2 * A2S_KEY_LEN + 1] = "", prev[2 * A2S_KEY_LEN + 1] = "", both[sizeof(f->key)];
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
	if (!strcmp(both, f->key))
		return;
	snprintf(f->key, sizeof(f->key), "%s", both);
	pr_info("fleet: A2S challenge key %s", k.has_prev ? "rotated" : "in force");
	edge_a2s_set_keys(f->workers, &k);
}

static void key_tick(struct edge_a2s_feed *f)
{
	uint8_t raw[A2S_KEY_LEN];
	char hex[2 * A2S_KEY_LEN + 1];

	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
		return;
	for (int i = 0; i < A2S_KEY_LEN; i++)
		snprintf(hex + 2 * i, 3, "%02x", raw[i]);
	sync_a2s_key_rotate(f->sc, hex, A2S_KEY_ROTATE_MS, key_read, f);
}

static bool followed(const struct edge_a2s_feed *f, uint32_t ip, uint16_t port)
{
	for (size_t i = 0; i < f->n_conns; i++)
		if (f->conns[i].ip == ip && f->conns[i].port == port)
			return true;
	return false;
}

static void fetched(void *ctx, const char *key, const uint8_t *val, size_t len, int64_t pttl)
{
	struct edge_a2s_feed *f = ctx;
	enum bf_a2s_key kind;
	uint32_t ip;
	uint16_t port;

	if (f->inflight)
		f->inflight--;
	if (pttl == SYNC_FETCH_LOST)
		return; /* lost the connection: keep what we have until we know */
	if (bf_key_a2s_parse(key, strlen(key), sync_client_prefix(f->sc), &kind, &ip, &port) ||
	    !followed(f, ip, port))
		return;
	/* A reply without a TTL is not the refresher's: it would never go stale. */
	reply(f, ip, port, kind, pttl > 0 ? val : NULL, pttl > 0 ? len : 0, pttl > 0 ? pttl : 0);
}

static void fetch(struct edge_a2s_feed *f, uint32_t ip, uint16_t port, enum bf_a2s_key kind)
{
	char key[BF_KEY_MAX];

	if (bf_key_a2s(key, sizeof(key), sync_client_prefix(f->sc), kind, ip, port) > 0 &&
	    !sync_client_fetch(f->sc, key, A2S_REPLY_MAX, fetched, f))
		f->inflight++;
}

void edge_a2s_feed_announced(struct edge_a2s_feed *f, enum bf_a2s_key kind, uint32_t ip,
			     uint16_t port)
{
	if (f && f->workers && followed(f, ip, port))
		fetch(f, ip, port, kind);
}

void edge_a2s_feed_tick(struct edge_a2s_feed *f)
{
	if (!f || !f->workers || !sync_client_connected(f->sc))
		return;
	/* A slow Redis has not answered the last second's reads: do not pile
	 * more onto the connection (the cache stands meanwhile). */
	if (f->inflight)
		return;
	if (f->n_conns)
		key_tick(f);
	for (size_t i = 0; i < f->n_conns; i++)
		for (int k = BF_A2S_INFO; k <= BF_A2S_RULES; k++)
			fetch(f, f->conns[i].ip, f->conns[i].port, (enum bf_a2s_key)k);
}

void edge_a2s_feed_conns(struct edge_a2s_feed *f, const struct bf_conn *conns, size_t n)
{
	struct a2s_conn *next;
	size_t cnt = 0;

	if (!f || !f->workers || !(next = calloc(n + 1, sizeof(*next))))
		return;
	for (size_t i = 0; i < n; i++)
		if (conns[i].a2s)
			next[cnt++] = (struct a2s_conn){ conns[i].bind_ip, conns[i].bind_port };
	for (size_t i = 0; i < f->n_conns; i++) {
		bool kept = false;

		for (size_t j = 0; j < cnt; j++)
			kept |= next[j].ip == f->conns[i].ip && next[j].port == f->conns[i].port;
		for (int k = BF_A2S_INFO; !kept && k <= BF_A2S_RULES; k++)
			reply(f, f->conns[i].ip, f->conns[i].port, (enum bf_a2s_key)k, NULL, 0, 0);
	}
	free(f->conns);
	f->conns = next;
	f->n_conns = cnt;
	edge_a2s_feed_tick(f);
}

const struct edge_a2s_seen *edge_a2s_feed_seen(const struct edge_a2s_feed *f, size_t *n)
{
	*n = f ? f->n_seen : 0;
	return f ? f->seen : NULL;
}

struct edge_a2s_feed *edge_a2s_feed_new(struct sync_client *sc, struct edge_a2s *workers,
					struct edge_apply *apply)
{
	struct edge_a2s_feed *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->sc = sc;
	f->workers = workers;
	f->apply = apply;
	return f;
}

void edge_a2s_feed_free(struct edge_a2s_feed *f)
{
	if (!f)
		return;
	free(f->conns);
	free(f->seen);
	free(f);
}
