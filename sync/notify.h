/* notify.h - systemd's service notification protocol (sd_notify(3)) without
 * libsystemd: one datagram of "KEY=VALUE\n..." to the unix socket named by
 * $NOTIFY_SOCKET (a path, or '@' for the abstract namespace). Used by the
 * daemons for Type=notify readiness, reloading/stopping and the watchdog.
 * Outside systemd ($NOTIFY_SOCKET unset) every call does nothing. */
#ifndef BF_NOTIFY_H
#define BF_NOTIFY_H

#include <stdint.h>

/* Sends `state` (e.g. "READY=1\nSTATUS=running"). 0 when sent or when there
 * is no $NOTIFY_SOCKET, -errno otherwise (a bad address: -EINVAL). */
int bf_notify(const char *state);

/* Like bf_notify, with the given environment values instead of getenv(), for
 * the tests: `sock` may be NULL. */
int bf_notify_to(const char *sock, const char *state);

/* The watchdog interval systemd expects pings within (WatchdogSec=), in µs:
 * $WATCHDOG_USEC when $WATCHDOG_PID is unset or names this process; 0 when
 * there is no watchdog or the values are not numbers. */
uint64_t bf_watchdog_usec(void);
uint64_t bf_watchdog_usec_of(const char *usec, const char *pid, long self);

#endif
