/* alloc_watch.h - the allocations this test process made, msgpack-c's included: how many, and
 * the largest. */
#ifndef BF_ALLOC_WATCH_H
#define BF_ALLOC_WATCH_H

#include <stddef.h>

/* Raised by every malloc, calloc and realloc (alloc_watch.c replaces them);
 * a test sets it to 0, feeds hostile input, then checks it stayed small. */
extern size_t biggest_alloc;

/* Counts every malloc, calloc and realloc: a test sets it to 0 and checks a
 * parser made none. */
extern size_t alloc_count;

#endif
