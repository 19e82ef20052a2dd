/* edge_tables.h - the fixture the edge's BPF tables share (test_edge_bpf,
 * test_edge_trust): two machines behind two backend interfaces, an uplink,
 * a whitelist and blacklists, on the harness's namespace. */
#ifndef BF_EDGE_TABLES_H
#define BF_EDGE_TABLES_H

#include <stddef.h>
#include <stdint.h>

#include "edge_harness.h"
#include "../../tools/pktgen.h"

#define EDGE_ADDR "192.0.2.11"
#define ANY_A "203.0.113.10"   /* udp+tcp -> machine A (via t0: XDP_TX) */
#define ANY_B "203.0.113.20"   /* udp -> machine B (via t2: redirect) */
#define ANY_BIG "203.0.113.30" /* udp -> machine behind a 600-byte MTU route */
#define ANY_NN "203.0.113.40"  /* udp -> machine whose next hop is unresolved */
#define MACH_A "198.18.3.2"
#define MACH_B "198.18.5.2"
#define MACH_BIG "198.18.7.2"
#define MACH_NN "198.18.8.2"
#define CLIENT "198.51.100.77"
#define WL_CLIENT "198.51.100.5" /* whitelisted, inside a blacklisted /29 */
#define REMOTE "198.51.100.34"

#define CONF_BACKENDS "backend_iface t0\nbackend_iface t2\n"

extern const uint8_t GW_MAC[6], BK_MAC[6];
/* The outer source of what the edge sends its machines (its backend address). */
extern const char *outer_src;

struct bf_cidr cidr(const char *s);
/* The fixture's config with `more` lines (replacing CONF_BACKENDS when they name backends). */
void config_text(const char *more, int dry_run);
void config_maps(int dry_run);
/* Group setup: the harness, the config, an expired blacklist entry and a blocked source. */
int tables_setup(void **state);
int tables_teardown(void **state);

/* An encapsulated frame: new Ethernet header, outer IPv4 fields and checksum,
 * the inner datagram equal to `inner` byte for byte. */
void check_encap(const char *name, const struct result *r, const uint8_t *dmac,
		 const uint8_t *smac, const char *machine, const uint8_t *inner, size_t inner_len,
		 int df);
/* The same judgement without failing: 0, or -1 with what differs in why. */
int encap_diff(const struct result *r, const uint8_t *dmac, const uint8_t *smac,
	       const char *machine, const uint8_t *inner, size_t inner_len, int df, char *why,
	       size_t len);
/* The outer header of IPIP from a machine to this POP, arriving from the gateway. */
struct pkt_spec from_machine(const char *machine);

#endif
