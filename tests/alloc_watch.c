/* alloc_watch.c - records the largest allocation of the process, so tests can see none was huge. */
#include <stddef.h>

#include "alloc_watch.h"

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);

size_t biggest_alloc;

void *malloc(size_t n)
{
	if (n > biggest_alloc)
		biggest_alloc = n;
	return __libc_malloc(n);
}

void *calloc(size_t a, size_t b)
{
	if (a * b > biggest_alloc)
		biggest_alloc = a * b;
	return __libc_calloc(a, b);
}

void *realloc(void *p, size_t n)
{
	if (n > biggest_alloc)
		biggest_alloc = n;
	return __libc_realloc(p, n);
}
