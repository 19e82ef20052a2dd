/* a2s_cache.c - the A2S cache the workers answer from: a server's replies
 * per kind, checked with the sync/a2s.c parser before they go in, under a
 * writer-preferring rwlock; the fleet's challenge keys; the counters. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "a2s_int.h"
#include "log.h"

static int reply_check(enum a2s_kind kind, const uint8_t *r, size_t len, const char **what)
{
	struct a2s_info info;
	size_t n;

	switch (kind) {
	case A2S_INFO:
		return a2s_info_parse(r, len, &info, what);
	case A2S_PLAYER:
		return a2s_player_parse(r, len, NULL, 0, &n, what);
	case A2S_RULES:
		return a2s_rules_parse(r, len, NULL, 0, &n, what);
	default:
		return -EINVAL;
	}
}

int edge_a2s_put(struct edge_a2s *a, uint32_t bind_ip, uint16_t bind_port, enum a2s_kind kind,
		 const uint8_t *reply, size_t len)
{
	uint64_t key = cache_key(bind_ip, bind_port);
	struct a2s_entry *e, *fresh = NULL;
	struct a2s_blob *b, *old;
	const char *what = "?";
	int rc;

	if (!kind_cacheable(kind))
		return -EINVAL;
	if (a2s_split_count(len) < 0)
		return -EMSGSIZE;
	rc = reply_check(kind, reply, len, &what);
	if (rc) {
		pr_warn("a2s: refused a %s reply of %zu bytes for port %u: bad %s",
			a2s_kind_name(kind), len, bind_port, what);
		return rc;
	}
	b = malloc(sizeof(*b) + len);
	fresh = calloc(1, sizeof(*fresh));
	if (!b || !fresh) {
		free(b);
		free(fresh);
		return -ENOMEM;
	}
	b->len = len;
	memcpy(b->bytes, reply, len);

	pthread_rwlock_wrlock(&a->lock);
	HASH_FIND(hh, a->cache, &key, sizeof(key), e);
	if (!e) {
		e = fresh;
		fresh = NULL;
		e->key = key;
		HASH_ADD(hh, a->cache, key, sizeof(e->key), e);
	}
	old = e->reply[kind - A2S_INFO];
	e->reply[kind - A2S_INFO] = b;
	pthread_rwlock_unlock(&a->lock);
	/* No worker can hold `old` now: they only use a reply under the read lock. */
	free(old);
	free(fresh);
	return 0;
}

void edge_a2s_drop(struct edge_a2s *a, uint32_t bind_ip, uint16_t bind_port, enum a2s_kind kind)
{
	uint64_t key = cache_key(bind_ip, bind_port);
	struct a2s_blob *old = NULL;
	struct a2s_entry *e, *gone = NULL;

	if (!kind_cacheable(kind))
		return;
	pthread_rwlock_wrlock(&a->lock);
	HASH_FIND(hh, a->cache, &key, sizeof(key), e);
	if (e) {
		old = e->reply[kind - A2S_INFO];
		e->reply[kind - A2S_INFO] = NULL;
		if (!e->reply[0] && !e->reply[1] && !e->reply[2]) {
			HASH_DEL(a->cache, e);
			gone = e;
		}
	}
	pthread_rwlock_unlock(&a->lock);
	free(old);
	free(gone);
}

unsigned edge_a2s_ready(const struct edge_a2s *a, uint32_t bind_ip, uint16_t bind_port)
{
	struct edge_a2s *m = (struct edge_a2s *)a; /* the lock, not the cache, changes */
	uint64_t key = cache_key(bind_ip, bind_port);
	struct a2s_entry *e;
	unsigned mask = 0;

	pthread_rwlock_rdlock(&m->lock);
	HASH_FIND(hh, m->cache, &key, sizeof(key), e);
	for (int k = A2S_INFO; e && k <= A2S_RULES; k++)
		if (e->reply[k - A2S_INFO])
			mask |= 1u << k;
	pthread_rwlock_unlock(&m->lock);
	return mask;
}

void edge_a2s_set_keys(struct edge_a2s *a, const struct a2s_keys *k)
{
	pthread_rwlock_wrlock(&a->lock);
	a->keys = *k;
	pthread_rwlock_unlock(&a->lock);
}

void edge_a2s_counters(const struct edge_a2s *a, struct edge_a2s_counters *out)
{
	memset(out, 0, sizeof(*out));
	for (int i = 0; a && i < a->n_w; i++) {
		const struct edge_a2s_worker_counters *c = &a->w[i].c;

		out->served += __atomic_load_n(&c->served, __ATOMIC_RELAXED);
		out->challenged += __atomic_load_n(&c->challenged, __ATOMIC_RELAXED);
		out->bad += __atomic_load_n(&c->bad, __ATOMIC_RELAXED);
		out->dropped += __atomic_load_n(&c->dropped, __ATOMIC_RELAXED);
		out->tx_parts += __atomic_load_n(&c->tx_parts, __ATOMIC_RELAXED);
		out->workers++;
		out->zerocopy += a->w[i].zerocopy;
	}
}

