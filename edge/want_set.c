/* want_set.c - a desired set of map keys and values, sorted, and a hash map
 * made to hold exactly it (the exact diffs of connections and lists). */
#include <bpf/bpf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "maps.h"
#include "want_set.h"

static int cmp_key(const void *a, const void *b, void *ksz)
{
	return memcmp(a, b, *(size_t *)ksz);
}

int set_add(struct want_set *s, size_t cap, const void *k, const void *v)
{
	if (s->n == cap)
		return -E2BIG;
	memcpy(s->keys + s->n * s->ksz, k, s->ksz);
	memcpy(s->vals + s->n * s->vsz, v, s->vsz);
	s->n++;
	return 0;
}

/* Sorted keys with a per-key value; duplicates have been merged by caller. */
void set_sort(struct want_set *s)
{
	/* Sort key+value pairs together: build an index permutation. */
	char *tmp = malloc(s->n * (s->ksz + s->vsz));

	if (!tmp || s->n < 2) {
		free(tmp);
		return;
	}
	for (size_t i = 0; i < s->n; i++) {
		memcpy(tmp + i * (s->ksz + s->vsz), s->keys + i * s->ksz, s->ksz);
		memcpy(tmp + i * (s->ksz + s->vsz) + s->ksz, s->vals + i * s->vsz, s->vsz);
	}
	qsort_r(tmp, s->n, s->ksz + s->vsz, cmp_key, &s->ksz);
	for (size_t i = 0; i < s->n; i++) {
		memcpy(s->keys + i * s->ksz, tmp + i * (s->ksz + s->vsz), s->ksz);
		memcpy(s->vals + i * s->vsz, tmp + i * (s->ksz + s->vsz) + s->ksz, s->vsz);
	}
	free(tmp);
}

void *set_find(const struct want_set *s, const void *k)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = memcmp(s->keys + mid * s->ksz, k, s->ksz);

		if (!c)
			return s->vals + mid * s->vsz;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Folds runs of equal keys of a sorted set into one with merge(acc, next). */
void set_merge(struct want_set *s, void (*merge)(void *acc, const void *next))
{
	size_t w = 0;

	for (size_t i = 0; i < s->n; i++) {
		if (w && !memcmp(s->keys + (w - 1) * s->ksz, s->keys + i * s->ksz, s->ksz)) {
			merge(s->vals + (w - 1) * s->vsz, s->vals + i * s->vsz);
			continue;
		}
		memmove(s->keys + w * s->ksz, s->keys + i * s->ksz, s->ksz);
		memmove(s->vals + w * s->vsz, s->vals + i * s->vsz, s->vsz);
		w++;
	}
	s->n = w;
}

/* phase 0: add/update what is wanted; phase 1: delete what is not. */
int map_converge(int fd, const struct want_set *want, int phase, const char *what)
{
	void *keys, *vals;
	size_t n;
	int rc;

	if (phase == 0) {
		char cur[64];

		if (want->vsz > sizeof(cur))
			return -EINVAL;
		for (size_t i = 0; i < want->n; i++) {
			const char *k = want->keys + i * want->ksz;
			const char *v = want->vals + i * want->vsz;

			if (!bpf_map_lookup_elem(fd, k, cur) && !memcmp(cur, v, want->vsz))
				continue;
			if (bpf_map_update_elem(fd, k, v, BPF_ANY)) {
				pr_err("updating %s failed: %s", what, strerror(errno));
				return -errno;
			}
		}
		return 0;
	}
	rc = edge_map_dump(fd, want->ksz, want->vsz, &keys, &vals, &n);
	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++) {
		const char *k = (char *)keys + i * want->ksz;

		if (!set_find(want, k) && bpf_map_delete_elem(fd, k) && errno != ENOENT)
			pr_warn("deleting from %s failed: %s", what, strerror(errno));
	}
	free(keys);
	free(vals);
	return 0;
}

