/* log.c - stderr logger: "2026-11-22T12:00:00.123Z INFO pop1: message". */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"

static char log_component[64] = "bifrost";
static enum bf_log_level log_level = BF_LOG_INFO;

void bf_log_init(const char *component, enum bf_log_level level)
{
	if (component)
		snprintf(log_component, sizeof(log_component), "%s", component);
	log_level = level;
}

void bf_log(enum bf_log_level level, const char *fmt, ...)
{
	static const char *names[] = { "ERROR", "WARN", "INFO", "DEBUG" };
	char msg[1024], ts[32];
	struct timespec now;
	struct tm tm;
	va_list ap;
	size_t n;

	if (level > log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* One event, one line: fold any newline a caller let through. */
	for (char *c = msg; *c; c++)
		if (*c == '\n' || *c == '\r')
			*c = ' ';
	n = strlen(msg);
	while (n && msg[n - 1] == ' ')
		msg[--n] = '\0';
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(stderr, "%s.%03ldZ %s %s: %s\n", ts, now.tv_nsec / 1000000, names[level],
		log_component, msg);
}

void bf_log_state_hit(struct bf_log_state *s, enum bf_log_level level, const char *fmt, ...)
{
	char msg[900];
	va_list ap;

	s->count++;
	if (s->active)
		return;
	s->ticked = s->count - 1;
	s->active = 1;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	bf_log(level, "%s", msg);
}

void bf_log_state_tick(struct bf_log_state *s, const char *what)
{
	if (s->active && s->count == s->ticked) {
		bf_log(BF_LOG_INFO, "%s: over after %llu", what, s->count);
		s->active = 0;
		s->count = 0;
	}
	s->ticked = s->count;
}
