/* clock.h - the two clocks Bifrost uses, read one way everywhere: wall
 * time in Unix ms (every expiry on the bus) and CLOCK_MONOTONIC (the clock
 * of bpf_ktime_get_ns, every deadline in the maps). */
#ifndef BF_CLOCK_H
#define BF_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t bf_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline uint64_t bf_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static inline int64_t bf_mono_ms(void)
{
	return (int64_t)(bf_mono_ns() / 1000000);
}

#endif
