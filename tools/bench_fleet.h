/* bench_fleet.h - bf-bench's fleet subcommands (propagation, apply, resync). */
#ifndef BF_BENCH_FLEET_H
#define BF_BENCH_FLEET_H

/* cmd is "propagation", "apply" or "resync"; argv[0] is the subcommand.
 * Prints one JSON object; returns an exit status. */
int bench_fleet_main(const char *cmd, int argc, char **argv);

#endif
