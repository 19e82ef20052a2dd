/* model.h - a reference model of the edge's XDP verdict, written from the packet
 * path of README.md and docs/ARCHITECTURE.md, not from bpf/: given a world (the
 * maps' contents as the generator made them, the routes of the harness) and a
 * frame's bytes, what the program must answer — verdict, reason and the bytes
 * it sends. test_edge_model.c runs random and mutated frames through both. */
#ifndef BF_MODEL_H
#define BF_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define M_MAX 32

struct m_cidr {
	uint32_t addr, mask; /* host order */
};

struct m_conn {
	uint8_t proto;
	uint32_t bind;        /* host order */
	uint16_t port;        /* 0 for ICMP */
	uint32_t machine;
	uint16_t machine_port; /* 0: the bind port */
	bool a2s;
};

struct m_rule {
	bool drop;
	int proto;                 /* -1 any */
	struct m_cidr src;         /* mask 0: any */
	int dport_lo, dport_hi;    /* -1: any */
	int ttl_lo, ttl_hi;
	int plen_lo, plen_hi;
	bool syn_not_ack;          /* tcp_flags syn,!ack */
};

struct m_punch {
	uint8_t proto;
	uint32_t bind, remote;
	uint16_t bind_port, remote_port;
	uint32_t machine;
};

struct m_world {
	uint32_t edge_addr, backend_addr;
	uint32_t locals[8];
	int n_locals;
	struct m_conn conns[M_MAX];
	int n_conns;
	struct m_cidr wl[M_MAX], bl[M_MAX], pr[M_MAX];
	int n_wl, n_bl, n_pr;
	struct m_rule rules[M_MAX]; /* in priority order */
	int n_rules;
	bool icmp_echo;
	struct m_punch punches[4096]; /* learned on the way (the model's own) */
	int n_punches;
	/* The harness's interfaces. */
	int if_t0, if_t2, if_t4;
	uint8_t mac_t0[6], mac_t2[6], mac_t4[6], gw_t0[6], gw_t2[6];
};

struct m_result {
	int action;       /* XDP_* */
	int reason;       /* BF_R_* */
	uint8_t out[4096];
	size_t out_len;
	bool echo;        /* out not modelled byte for byte: an echo reply, checked by property */
	size_t l3;        /* where the frame's IPv4 header starts */
};

/* The IPv4 header checksum of ip (ihl bytes) made right. */
void model_ipv4_csum(uint8_t *ip, size_t ihl);

/* The verdict for frame (len bytes) arriving on ingress. Learns punches into w. */
void model_run(struct m_world *w, const uint8_t *frame, size_t len, int ingress,
	       struct m_result *r);

/* The world as edge config lines (harness_config's input), without the interfaces. */
int model_config(const struct m_world *w, char *buf, size_t cap);

#endif
