/* bench_a2s.h - bf-bench's A2S subcommands (a2s, a2s-load). */
#ifndef BF_BENCH_A2S_H
#define BF_BENCH_A2S_H

/* cmd is "a2s" or "a2s-load"; argv[0] is the subcommand. Prints one JSON object;
 * returns an exit status. */
int bench_a2s_main(const char *cmd, int argc, char **argv);

#endif
