/* log.h - one line per event on stderr: time, level, component, message. */
#ifndef BF_LOG_H
#define BF_LOG_H

enum bf_log_level { BF_LOG_ERROR = 0, BF_LOG_WARN, BF_LOG_INFO, BF_LOG_DEBUG };

/* Component name printed on every line (the edge id, or the tool's name). */
void bf_log_init(const char *component, enum bf_log_level level);
void bf_log(enum bf_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define pr_err(...) bf_log(BF_LOG_ERROR, __VA_ARGS__)
#define pr_warn(...) bf_log(BF_LOG_WARN, __VA_ARGS__)
#define pr_info(...) bf_log(BF_LOG_INFO, __VA_ARGS__)
#define pr_debug(...) bf_log(BF_LOG_DEBUG, __VA_ARGS__)

#endif
