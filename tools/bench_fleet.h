/* bench_fleet.h - bf-bench's fleet subcommands (propagation, apply, resync), and the two
 * helpers the other Redis benches (bench_fanout.c) share with them. */
#ifndef BF_BENCH_FLEET_H
#define BF_BENCH_FLEET_H

#include <stddef.h>

struct redisContext;

/* cmd is "propagation", "apply" or "resync"; argv[0] is the subcommand.
 * Prints one JSON object; returns an exit status. */
int bench_fleet_main(const char *cmd, int argc, char **argv);

/* q-quantile (nearest rank) of v[0..n), sorted in place; NAN when n is 0. */
double bench_quantile(double *v, size_t n, double q);

/* Redis's own round trip from here: n sequential PINGs (after 100 that warm the path up),
 * µs each into us[0..n). 0, or -1 with the reason on stderr. */
int bench_ping(struct redisContext *r, double *us, size_t n);
/* CPU seconds (user + system) this process has used. */
double bench_cpu_s(void);

#endif
