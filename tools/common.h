/* common.h - the helpers bf-netprobe, the refresher, bf-bench and the tests share (clock, sh,
 * sort, an interface's MAC). */
#ifndef BF_TOOLS_COMMON_H
#define BF_TOOLS_COMMON_H

#include <stdarg.h>
#include <stdint.h>

/* CLOCK_MONOTONIC: for deadlines and durations, never for timestamps. */
uint64_t mono_ns(void);
uint64_t mono_ms(void);
double mono_s(void);

/* Runs a printf-formatted command with /bin/sh. 0, or -EIO when it could not run or
 * exited non-zero; then, when who is not NULL, "<who>: command failed: <cmd>" on stderr. */
int sh_run(const char *who, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int sh_vrun(const char *who, const char *fmt, va_list ap);

/* The hardware address of interface ifname (in the current network namespace). 0 or
 * -errno. */
int if_hwaddr(const char *ifname, uint8_t mac[6]);

/* qsort order of doubles, ascending. */
int cmp_double(const void *a, const void *b);

#endif
