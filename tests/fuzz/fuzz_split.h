/* fuzz_split.h - the fuzz targets' one helper: an input cut at each NUL into strings, read
 * as name/value fields (a Redis hash or a stream record, as the parsers get them from
 * hiredis). Each string is copied into a buffer of exactly its length, with no NUL after
 * it, so that AddressSanitizer catches a parser reading past a counted value. */
#ifndef BF_FUZZ_SPLIT_H
#define BF_FUZZ_SPLIT_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "schema_field.h"

#define FUZZ_MAX_FIELDS 40

struct fuzz_fields {
	struct bf_field f[FUZZ_MAX_FIELDS];
	char *mem[2 * FUZZ_MAX_FIELDS];
	size_t n, n_mem;
};

static inline char *fuzz_copy(struct fuzz_fields *ff, const uint8_t *p, size_t len)
{
	char *s = malloc(len ? len : 1);

	if (s) {
		memcpy(s, p, len);
		ff->mem[ff->n_mem++] = s;
	}
	return s;
}

/* Fills ff with up to FUZZ_MAX_FIELDS pairs; an odd last string is left out. */
static inline void fuzz_fields_cut(const uint8_t *data, size_t size, struct fuzz_fields *ff)
{
	const uint8_t *s[2 * FUZZ_MAX_FIELDS];
	size_t len[2 * FUZZ_MAX_FIELDS], k = 0, at = 0;

	memset(ff, 0, sizeof(*ff));
	while (at <= size && k < 2 * FUZZ_MAX_FIELDS) {
		const uint8_t *nul = memchr(data + at, 0, size - at);
		size_t l = nul ? (size_t)(nul - (data + at)) : size - at;

		s[k] = data + at;
		len[k++] = l;
		at += l + 1;
	}
	for (size_t i = 0; i + 1 < k; i += 2) {
		char *name = fuzz_copy(ff, s[i], len[i]), *val = fuzz_copy(ff, s[i + 1], len[i + 1]);

		if (!name || !val)
			break;
		ff->f[ff->n++] = (struct bf_field){ name, len[i], val, len[i + 1] };
	}
}

static inline void fuzz_fields_free(struct fuzz_fields *ff)
{
	for (size_t i = 0; i < ff->n_mem; i++)
		free(ff->mem[i]);
}

/* A copy of data with a NUL after it (for parsers of C strings). */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (s) {
		memcpy(s, data, size);
		s[size] = '\0';
	}
	return s;
}

#endif
