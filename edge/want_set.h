/* want_set.h - a desired set of map entries (fixed-size keys and values),
 * sorted for look-ups, and the convergence of a BPF hash map to it. */
#ifndef EDGE_WANT_SET_H
#define EDGE_WANT_SET_H

#include <stddef.h>

struct want_set {
	char *keys, *vals;     /* n entries of ksz and vsz bytes */
	size_t n, ksz, vsz;
};

/* Appends one entry; -E2BIG when cap entries are there already. */
int set_add(struct want_set *s, size_t cap, const void *k, const void *v);
/* Sorts the entries by key (values follow their keys). */
void set_sort(struct want_set *s);
/* The value of key k in a sorted set, or NULL. */
void *set_find(const struct want_set *s, const void *k);
/* Folds runs of equal keys of a sorted set into one with merge(acc, next). */
void set_merge(struct want_set *s, void (*merge)(void *acc, const void *next));

/* Phase 0 adds or updates in map fd what the set holds (values compared
 * first: an unchanged entry is not written); phase 1 deletes what it does
 * not. `what` names the map in errors. 0 or -errno. */
int map_converge(int fd, const struct want_set *want, int phase, const char *what);

#endif
