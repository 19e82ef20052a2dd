/* a2s_int.h - what the A2S cache (a2s_cache.c) and the AF_XDP workers
 * (a2s_workers.c) share: the cache's entries, the workers' state, sizes.
 * Not included anywhere else. */
#ifndef EDGE_A2S_INT_H
#define EDGE_A2S_INT_H

#include <net/if.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <uthash.h>
#include <xdp/xsk.h>

#include "a2s_workers.h" /* which includes sync/a2s.h */

/* ---- sizes ---- */

#define XSK_FRAME_SIZE 2048u  /* a frame holds the largest one-packet reply (1400 + 46) */
#define XSK_FRAMES 4096u      /* per socket: 8 MiB of UMEM */
#define XSK_RING 1024u        /* fill, completion, RX and TX rings */
#define XSK_BATCH 64u
#define XSK_POLL_MS 100       /* how long a worker may take to see the stop flag */
#define XSK_HDRS 28u          /* IPv4 (no options) + UDP of a reply */

/* One reply, immutable once in the cache. */
struct a2s_blob {
	size_t len;
	uint8_t bytes[];
};

/* A server's cached replies, one per kind (index kind - A2S_INFO). */
struct a2s_entry {
	uint64_t key; /* bind_ip << 16 | bind_port */
	struct a2s_blob *reply[3];
	UT_hash_handle hh;
};

struct edge_a2s_worker_counters {
	uint64_t served, challenged, bad, dropped, tx_parts;
};

struct xsk_worker {
	struct edge_a2s *a;
	char ifname[IF_NAMESIZE];
	uint32_t queue, slot; /* slot: the bf_xsks key */
	bool zerocopy, in_map, started;
	void *area;
	struct xsk_umem *umem;
	struct xsk_socket *xsk;
	struct xsk_ring_prod fill, tx;
	struct xsk_ring_cons comp, rx;
	uint64_t free_frames[XSK_FRAMES]; /* frame addresses owned by the worker */
	uint32_t n_free;
	uint32_t tx_pending; /* descriptors reserved on TX, submitted after the batch */
	uint32_t tx_inflight; /* submitted, not yet completed: the kernel still has to send them */
	uint32_t split_id;
	pthread_t thread;
	struct edge_a2s_worker_counters c; /* written by the worker, read relaxed by others */
};

/* The cache is guarded by a writer-preferring rwlock rather than RCU-style pointer swaps:
 * writes are rare (a refresh per server every few seconds), a worker holds the read side
 * for one RX batch (copying at most 64 KiB per request), and a lock needs no grace-period
 * bookkeeping to free an old reply safely. Writer preference keeps busy workers from
 * starving an update. */
struct edge_a2s {
	int xsks_fd;
	int stop; /* atomic */
	pthread_rwlock_t lock;
	struct a2s_entry *cache; /* uthash, under lock */
	struct a2s_keys keys;    /* under lock */
	struct xsk_worker *w;
	int n_w;
};

static inline uint64_t cache_key(uint32_t ip, uint16_t port)
{
	return (uint64_t)ip << 16 | port;
}

static inline bool kind_cacheable(enum a2s_kind k)
{
	return k == A2S_INFO || k == A2S_PLAYER || k == A2S_RULES;
}

static inline void count(uint64_t *c, uint64_t n)
{
	__atomic_fetch_add(c, n, __ATOMIC_RELAXED);
}

#endif
