/* bench_a2s_servers.h - what bench_a2s.c calls of bench_a2s_servers.c. */
#ifndef BF_BENCH_A2S_SERVERS_H
#define BF_BENCH_A2S_SERVERS_H

#include <pthread.h>
#include <stdint.h>

#include "../edge/a2s_workers.h"
#include "../edge/maps.h"
#include "a2s.h"
#include "bench.skel.h"
#include "edge.skel.h"

#define SRV_IP "203.0.113.10" /* the A2S-enabled bind address */
#define SRV_PORT 27015
#define CLI_IP "198.51.100.77"
#define CLI_PORT 50000
#define BATCH 64            /* recvmmsg/sendmmsg batch, as the AF_XDP worker's RX batch */

struct a2s_bench {
	struct edge_bpf *edge;
	struct bench_bpf *b;
	struct edge_map_fds fd;
	struct edge_dp dp;
	struct a2s_keys keys;
	uint8_t info[A2S_PACKET_MAX];
	int info_len;
	int cli;      /* the client's socket, in the client namespace */
	int ifindex;  /* ba0, the server end */
	int srv_cpu, cli_cpu;
	struct edge_a2s *a2s; /* the workers, for the whole run */
};

/* The baseline server's thread. */
struct mmsg_srv {
	int fd, cpu;
	volatile int stop;
	const struct a2s_keys *keys;
	const uint8_t *info;
	size_t info_len;
	uint64_t served, challenged;
	pthread_t thread;
};

/* A non-blocking UDP socket bound to from:from_port (any port when 0) and connected to
 * to:to_port, with room for a full window of datagrams. fd or -errno. */
int udp_socket(uint32_t from, uint16_t from_port, uint32_t to, uint16_t to_port);

/* A realistic INFO reply into buf: its length or -errno. */
int build_info(uint8_t *buf, size_t cap);

/* Everything the rounds need, for the rest of the process: private mount and network
 * namespaces with the veth pair, x->cli connected to the server, the edge program with
 * x->info cached for SRV_IP:SRV_PORT and its AF_XDP workers running; this thread on the
 * client's core. x->info, x->keys and the cores set by the caller. 0 or -errno (said why). */
int servers_setup(struct a2s_bench *x);
/* Stops the workers and unloads the edge program. */
void servers_stop(struct a2s_bench *x);

/* The AF_XDP server for one round: the edge program attached in native mode, its NAPI
 * thread on the server's core. 0 or -errno (said why). */
int xdp_server_on(struct a2s_bench *x);
void xdp_server_off(struct a2s_bench *x);
/* Replies the workers have sent so far. */
uint64_t xdp_served(struct a2s_bench *x);

/* The recvmmsg/sendmmsg server for one round, on the server's core. 0 or -errno. */
int mmsg_server_start(struct a2s_bench *x, struct mmsg_srv *m);
void mmsg_server_stop(struct mmsg_srv *m);

#endif
