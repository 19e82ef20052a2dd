/* alloc_watch.c - counts the process's allocations and records the largest, so tests can see
 * none was made, or none was huge. */
#include <stddef.h>

#include "alloc_watch.h"

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);

size_t biggest_alloc;
size_t alloc_count;

void *malloc(size_t n)
{
	alloc_count++;
	if (n > biggest_alloc)
		biggest_alloc = n;
	return __libc_malloc(n);
}

void *calloc(size_t a, size_t b)
{
	alloc_count++;
	if (a * b > biggest_alloc)
		biggest_alloc = a * b;
	return __libc_calloc(a, b);
}

void *realloc(void *p, size_t n)
{
	alloc_count++;
	if (n > biggest_alloc)
		biggest_alloc = n;
	return __libc_realloc(p, n);
}
