/* edge_harness.h - running the edge XDP program over test packets: a
 * private network namespace with a routed veth, the program loaded without
 * pins, one packet at a time through bpf_prog_test_run_opts with the
 * counters it moved. Needs root. */
#ifndef BF_EDGE_HARNESS_H
#define BF_EDGE_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#include "bifrost.h"
#include "../../edge/maps.h"
#include "../../tools/pktgen.h"

#define H_EDGE_ADDR "192.0.2.11"
#define H_GW_MAC { 0x02, 0, 0, 0, 0, 0x02 }

struct edge_bpf;

struct harness {
	struct edge_bpf *skel;
	struct edge_maps maps;
	int ifindex;            /* t0: the default route leaves by it (XDP_TX) */
	uint8_t mac[6];         /* t0's address */
	int if_t2;              /* t2: 198.18.5.0/24 leaves by it (bpf_redirect) */
	uint8_t mac_t2[6];
	int if_t4;              /* t4: no route to any machine (an uplink only) */
	uint8_t mac_t4[6];
};

extern struct harness H;

/* The gateways' MACs (static neighbours) of t0 and t2. */
#define H_GW_T2_MAC { 0x02, 0, 0, 0, 0x06, 0x02 }

/* unshare(CLONE_NEWNET); veths t0/t1 (198.18.0.1/24, default route via
 * 198.18.0.2; 198.18.7.0/24 behind a 600-byte MTU; 198.18.8.0/24 via an
 * unresolved 198.18.0.3), t2/t3 (198.18.6.1/24; 198.18.5.0/24 via
 * 198.18.6.2) and t4/t5 (198.18.10.1/24, nothing routed by it), static
 * neighbours, forwarding on; loads the program without pins. 0 or -1. */
int harness_setup(void);

/* Runs a shell command (printf format); fails the test on error. */
void harness_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
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

/* One packet through the program, on t0 / on the interface ifindex. */
void harness_run(const uint8_t *pkt, size_t len, struct result *r);
void harness_run_on(const uint8_t *pkt, size_t len, int ifindex, struct result *r);

/* The verdict, and `reason` the one verdict counter that moved. The side
 * counters (punch_new, protected, rule_dry_run, and would_drop unless it is
 * `reason`) are left to the caller. */
void harness_expect(const char *name, const struct result *r, int action, int reason);
/* The same judgement without failing: 0, or -1 with what differs in why. */
int harness_check(const struct result *r, int action, int reason, char *why, size_t len);

/* Writes (on) or removes each interface's MAC in bf_ifaces, as bifrost-edge does at
 * attach: with them in, frames for another MAC are not sent on (other_host). */
void harness_ifaces(int on);

/* A frame from src:sport to dst:dport, addressed to t0 (DF set, TOS 0x28,
 * ID 0x1234, a 20-byte payload). */
struct pkt_spec harness_udp(const char *src, uint16_t sport, const char *dst, uint16_t dport);

extern const char *const harness_reason_names[BF_R_MAX];

#endif
