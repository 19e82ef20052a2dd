/* schema_int.h - helpers the schema_*.c files share; private to them, not part of schema.h. */
#ifndef BF_SCHEMA_INT_H
#define BF_SCHEMA_INT_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "schema.h"

/* snprintf that says why it failed: the length, -ENAMETOOLONG when cut, -EINVAL. */
int sch_fmt(char *buf, size_t len, const char *f, ...) __attribute__((format(printf, 3, 4)));
/* Copies a counted string into a NUL-terminated buffer, refusing embedded NULs. */
int sch_cstr(char *dst, size_t cap, const char *s, size_t n);
/* Free text (why, version) may be UTF-8 but never control bytes: it ends
 * up in logs and on operators' terminals. */
bool sch_no_controls(const char *s, size_t n);
bool sch_field_is(const struct bf_field *f, const char *name);
/* The index of f's name among `count` names, read from a table whose
 * entries lie `stride` bytes apart and each start with their name (a
 * const char *); -ENOENT when it is none of them. */
int sch_field_find(const struct bf_field *f, const void *names, size_t stride, size_t count);
/* Files each of the n fields under its name in such a table: slot[k] for
 * the k-th name (count slots), NULL when absent. 0; -EEXIST with *bad the
 * name's index when one is given twice; -ENOENT with *bad the field's
 * index for a field of no known name if refuse_unknown (else it is skipped). */
int sch_fields_sort(const struct bf_field *f, size_t n, const void *names, size_t stride,
		    size_t count, bool refuse_unknown, const struct bf_field **slot, size_t *bad);
/* yes/true/on/1 or no/false/off/0. */
int sch_yesno(const char *s, bool *out);
/* Copies a key named <prefix><part>... into buf and points *rest past the
 * part (schema_keys.c). 0, or -EINVAL when the key is not one of those or
 * does not fit. */
int sch_key_rest(char *buf, size_t cap, const char *key, size_t n, const char *prefix,
		 const char *part, char **rest);

/* ---- expiry and log records (schema_log.c) ---- */

/* An absolute expiry against now: 0, -ESTALE (not after now) or -ERANGE
 * (beyond BF_EXP_HORIZON_MS). */
int sch_exp_check(int64_t exp_ms, int64_t now_ms);
/* "add" or "del" (counted text): 0 or -EINVAL. */
int sch_op_parse(const char *s, size_t n, enum bf_op *op);
const char *sch_op_name(enum bf_op op); /* anything but BF_OP_ADD is "del" */

/* ---- msgpack (schema_msgpack.c) ---- */

/* Starts a frame in sb (msgpack-c's growing buffer): a map of n keys, the
 * first two "t" (its type) and "o" (its origin). */
void sch_pack_begin(msgpack_sbuffer *sb, msgpack_packer *pk, uint32_t n, const char *type,
		    const char *origin);
/* The packed frame copied into buf: its length, or -ENOSPC. Frees sb. */
int sch_pack_end(msgpack_sbuffer *sb, uint8_t *buf, size_t len);
void sch_pack_str(msgpack_packer *pk, const char *s);
/* An array of exactly n non-negative integers into out (NULL: checked only). */
int sch_obj_u64s(const msgpack_object *o, uint64_t *out, uint32_t n);

#endif
