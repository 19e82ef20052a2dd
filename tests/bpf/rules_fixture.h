/* rules_fixture.h - the fixture the edge's rule and limit tables share
 * (test_edge_rules, test_edge_limits): connections with and without limits,
 * an ICMP connection, a whitelist and a protected /29. */
#ifndef BF_RULES_FIXTURE_H
#define BF_RULES_FIXTURE_H

#include <stdint.h>

#include "edge_harness.h"

#define ANY "203.0.113.10"     /* udp+tcp 27015 and icmp, no limits */
#define LIM "203.0.113.20"     /* udp 27015 pps, 27016 bps, 27017 police only */
#define BIND_ONLY "203.0.113.30" /* udp 27015, no icmp connection */
#define ICMP_LIM "203.0.113.40"  /* icmp connection with a pps limit */
#define MACH "198.18.3.2"
#define CLIENT "198.51.100.77"
#define WL_CLIENT "198.51.100.5"
#define PROT_CLIENT "198.51.100.200" /* inside the protected /29 */

#define BASE                                                                      \
	"id test\niface t0\naddr " H_EDGE_ADDR "\n"                               \
	"conn udp " ANY ":27015 " MACH "\n"                                       \
	"conn tcp " ANY ":27015 " MACH "\n"                                       \
	"conn icmp " ANY " " MACH "\n"                                            \
	"conn udp " LIM ":27015 " MACH " pps 10 burst 1s block 500ms share_bans yes\n" \
	"conn udp " LIM ":27016 " MACH " bps 2000 burst 1s block 30s share_bans no\n" \
	"conn udp " LIM ":27017 " MACH " pps 50 block 0\n"                        \
	"conn udp " BIND_ONLY ":27015 " MACH "\n"                                 \
	"conn icmp " ICMP_LIM " " MACH " pps 2 burst 1s block 30s\n"              \
	"whitelist 198.51.100.0/28\n"                                             \
	"protect 198.51.100.200/29\n"

/* The base config with `rules` lines (NULL: none) applied. */
void config(const char *rules);
int group_setup(void **state);
int group_teardown(void **state);
/* A rule's counters (packets, bytes) and whether it is live. */
struct bf_counter rule_counter(uint32_t id);
int rule_live(uint32_t id);

#endif
