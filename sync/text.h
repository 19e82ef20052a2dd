/* text.h - untrusted strings (from Redis, from the wire) made safe to print:
 * as a JSON string body, or on a terminal. Pure functions. */
#ifndef BF_TEXT_H
#define BF_TEXT_H

#include <stddef.h>

/* The JSON string body of s[0..n): '"', '\\' and control bytes escaped,
 * bytes >= 0x7f as \u00XX (the input is bytes, not known UTF-8). Always
 * NUL-terminates buf; a body that does not fit is cut at a whole escape.
 * Returns buf. */
const char *bf_json_esc(const char *s, size_t n, char *buf, size_t cap);

/* s[0..n) with every byte outside printable ASCII replaced by '?', so a
 * value cannot move the cursor or recolour a terminal. Returns buf. */
const char *bf_printable(const char *s, size_t n, char *buf, size_t cap);

#endif
