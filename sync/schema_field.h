/* schema_field.h - a name/value pair read from Redis (hash field, stream entry field). */
#ifndef BF_SCHEMA_FIELD_H
#define BF_SCHEMA_FIELD_H

#include <stddef.h>

/* Counted, not NUL-terminated: values come straight from hiredis replies. */
struct bf_field {
	const char *name;
	size_t name_len;
	const char *val;
	size_t val_len;
};

#endif
