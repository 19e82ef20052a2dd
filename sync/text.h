/* text.h - untrusted strings (from Redis, from game servers, from the wire)
 * made safe to print (as JSON, or on a terminal) or decoded. Pure functions. */
#ifndef BF_TEXT_H
#define BF_TEXT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Length of the valid UTF-8 sequence (2-4 bytes, no overlongs, no
 * surrogates) at p with `left` bytes available, 0 if there is none. */
int bf_utf8_len(const unsigned char *p, size_t left);

/* The JSON string body of s[0..n): '"' and '\\' escaped, control bytes as
 * \u00XX, valid UTF-8 kept, any other byte as \ufffd. Always NUL-terminates
 * buf; a body that does not fit is cut before a whole character or escape.
 * Returns buf. */
const char *bf_json_esc(const char *s, size_t n, char *buf, size_t cap);

/* Prints the NUL-terminated s (NULL = "") as a quoted JSON string. */
void bf_json_fput(FILE *f, const char *s);

/* printf into an error buffer (err NULL or len 0: nothing): the one way a
 * parser says what is wrong. */
void bf_seterr(char *err, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* s[0..n) with every byte outside printable ASCII replaced by '?', so a
 * value cannot move the cursor or recolour a terminal. Returns buf. */
const char *bf_printable(const char *s, size_t n, char *buf, size_t cap);

/* s[0..n): an even number of hex digits (either case) into at most cap
 * bytes of out. The byte count, -EINVAL (odd, empty or not hex) or -E2BIG;
 * out is written only on success. */
int bf_hex_decode(const char *s, size_t n, uint8_t *out, size_t cap);

#endif
