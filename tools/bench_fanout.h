/* bench_fanout.h - bf-bench fanout: one writer's records into N followers (bench_fanout.c). */
#ifndef BF_BENCH_FANOUT_H
#define BF_BENCH_FANOUT_H

/* argv[0] is "fanout". Prints one JSON object; returns an exit status (1 when a
 * follower missed a record; the JSON then says which and how many). */
int bench_fanout_main(int argc, char **argv);

#endif
