/* a2s_workers.h - the AF_XDP A2S workers: one socket and thread per (interface, RX queue)
 * answering the A2S queries XDP redirects to them, in place, from a cache the main
 * thread fills. */
#ifndef EDGE_A2S_WORKERS_H
#define EDGE_A2S_WORKERS_H

#include <stddef.h>
#include <stdint.h>

#include "../sync/a2s.h"
#include "loader.h"

struct edge_a2s;

/* Summed over the workers; monotonic. */
struct edge_a2s_counters {
	uint64_t served;     /* cached replies sent (a split reply counts once) */
	uint64_t challenged; /* S2C_CHALLENGE sent */
	uint64_t bad;        /* frames that are no IPv4/UDP A2S request (XDP should not send them) */
	uint64_t dropped;    /* requests not answered: kind not cached (any more), a 'W' shorter
			      * than the challenge, no TX room or frames for the parts */
	uint64_t tx_parts;   /* datagrams sent, split parts counted each */
	unsigned workers;    /* sockets running */
	unsigned zerocopy;   /* of which in zero-copy mode */
};

/* Opens an AF_XDP socket on every RX queue of every interface of dp (zero-copy when the
 * driver has it, else copy mode), puts each into xsks_map_fd (bf_xsks) at its interface's
 * slot + queue, and starts a worker thread per socket. Challenges use a random key until
 * edge_a2s_set_keys. NULL on failure with the reason in err (nothing left running). */
struct edge_a2s *edge_a2s_start(const struct edge_dp *dp, int xsks_map_fd, char *err,
				size_t errlen);

/* The cache, for the main thread (safe while the workers read it). Addresses are network
 * order, ports host order, kind A2S_INFO, A2S_PLAYER or A2S_RULES. put copies the reply
 * (the whole one-packet reply, FF FF FF FF and type byte included, reassembled if it came
 * split) after checking it with the sync/a2s.c parser: 0, -EINVAL (kind), -EBADMSG (with
 * the field logged), -EMSGSIZE, -ENOMEM. */
int edge_a2s_put(struct edge_a2s *a, uint32_t bind_ip, uint16_t bind_port, enum a2s_kind kind,
		 const uint8_t *reply, size_t len);
void edge_a2s_drop(struct edge_a2s *a, uint32_t bind_ip, uint16_t bind_port, enum a2s_kind kind);
/* Kinds cached for a server: bit 1u << A2S_INFO, 1u << A2S_PLAYER, 1u << A2S_RULES. */
unsigned edge_a2s_ready(const struct edge_a2s *a, uint32_t bind_ip, uint16_t bind_port);
/* The fleet's challenge keys (copied). */
void edge_a2s_set_keys(struct edge_a2s *a, const struct a2s_keys *k);
void edge_a2s_counters(const struct edge_a2s *a, struct edge_a2s_counters *out);

/* Stops and joins the workers, removes their bf_xsks entries, frees everything. NULL is
 * a no-op. */
void edge_a2s_stop(struct edge_a2s *a);

#endif
