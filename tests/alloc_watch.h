/* alloc_watch.h - the largest single allocation this test process made, msgpack-c's included. */
#ifndef BF_ALLOC_WATCH_H
#define BF_ALLOC_WATCH_H

#include <stddef.h>

/* Raised by every malloc, calloc and realloc (alloc_watch.c replaces them);
 * a test sets it to 0, feeds hostile input, then checks it stayed small. */
extern size_t biggest_alloc;

#endif
