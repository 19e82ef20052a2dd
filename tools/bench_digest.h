/* bench_digest.h - bf-bench digest: the convergence digest's cost (bench_digest.c). */
#ifndef BF_BENCH_DIGEST_H
#define BF_BENCH_DIGEST_H

/* argv[0] is "digest". Prints one JSON object; returns an exit status. */
int bench_digest_main(int argc, char **argv);

#endif
