/* log.h - one line per event on stderr: time, level, component, message. */
#ifndef BF_LOG_H
#define BF_LOG_H

enum bf_log_level { BF_LOG_ERROR = 0, BF_LOG_WARN, BF_LOG_INFO, BF_LOG_DEBUG };

/* Component name printed on every line (the edge id, or the tool's name). */
void bf_log_init(const char *component, enum bf_log_level level);
void bf_log(enum bf_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* A condition that may happen thousands of times a second (a refused
 * entry, a failing command) is logged once when it starts and once when it
 * ends, with the count in between; never once per occurrence. */
struct bf_log_state {
	unsigned long long count; /* occurrences since it started */
	unsigned long long ticked; /* count at the last tick */
	int active;
};
/* One occurrence: logs the message (with `level`) only if the condition
 * was not already active. */
void bf_log_state_hit(struct bf_log_state *s, enum bf_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Called on a periodic tick: when the condition was active and nothing
 * happened since the previous tick, it is over: logs "<what>: over after N"
 * once. */
void bf_log_state_tick(struct bf_log_state *s, const char *what);

#define pr_err(...) bf_log(BF_LOG_ERROR, __VA_ARGS__)
#define pr_warn(...) bf_log(BF_LOG_WARN, __VA_ARGS__)
#define pr_info(...) bf_log(BF_LOG_INFO, __VA_ARGS__)
#define pr_debug(...) bf_log(BF_LOG_DEBUG, __VA_ARGS__)

#endif
