/* redis_fixture.h - a unit test's own redis-server and the event loop its sync clients run on. */
#ifndef BF_TEST_REDIS_FIXTURE_H
#define BF_TEST_REDIS_FIXTURE_H

#include <event2/event.h>
#include <hiredis/hiredis.h>

/* Set by the test before redis_start: the loopback port, and the loop run_until drives. */
extern int port;
extern struct event_base *base;

/* Starts redis-server on 127.0.0.1:port (no persistence) and waits until it answers; exits
 * the test when it does not. */
void redis_start(void);
void redis_kill(void);
/* A blocking connection to it (asserted). */
redisContext *plain(void);
/* Runs the loop until *value >= want or timeout_ms passes; whether it got there. */
int run_until(const int *value, int want, int timeout_ms);
/* Runs the loop for ms. */
void settle(int ms);

#endif
