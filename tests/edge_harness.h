/* edge_harness.h - running the edge XDP program over test packets: a
 * private network namespace with a routed veth, the program loaded without
 * pins, one packet at a time through bpf_prog_test_run_opts with the
 * counters it moved. Needs root. */
#ifndef BF_EDGE_HARNESS_H
#define BF_EDGE_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#include "bifrost.h"
#include "../edge/maps.h"
#include "pktgen.h"

#define H_EDGE_ADDR "192.0.2.11"
#define H_GW_MAC { 0x02, 0, 0, 0, 0, 0x02 }

struct edge_bpf;

struct harness {
	struct edge_bpf *skel;
	struct edge_maps maps;
	int ifindex;            /* t0: routes leave by it (XDP_TX) */
	uint8_t mac[6];         /* t0's address */
};

extern struct harness H;

/* unshare(CLONE_NEWNET); veth t0/t1 with 198.18.0.1/24, default route via
 * 198.18.0.2 (static neighbour), forwarding on; loads the program. 0 or -1. */
int harness_setup(void);
void harness_teardown(void);

/* Parses `text` as an edge config and applies all of it (config, conns,
 * protected, lists, rules) as bifrost-edge does. Fails the test on error. */
void harness_config(const char *text);

struct result {
	int action;
	uint8_t out[4096];
	uint32_t out_len;
	struct bf_counter delta[BF_R_MAX];
};

/* One packet through the program, on t0. */
void harness_run(const uint8_t *pkt, size_t len, struct result *r);

/* The verdict, and `reason` the one verdict counter that moved. The side
 * counters (punch_new, protected, rule_dry_run, and would_drop unless it is
 * `reason`) are left to the caller. */
void harness_expect(const char *name, const struct result *r, int action, int reason);

/* A frame from src:sport to dst:dport, addressed to t0 (DF set, TOS 0x28,
 * ID 0x1234, a 20-byte payload). */
struct pkt_spec harness_udp(const char *src, uint16_t sport, const char *dst, uint16_t dport);

extern const char *const harness_reason_names[BF_R_MAX];

#endif
