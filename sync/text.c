/* text.c - escaping untrusted strings for JSON output and terminals, hex
 * decoding, and the parsers' error messages. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "text.h"

int bf_utf8_len(const unsigned char *p, size_t left)
{
	uint32_t cp;
	int n;

	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2, cp = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		n = 3, cp = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4, cp = p[0] & 0x07;
	else
		return 0;
	if ((size_t)n > left)
		return 0;
	for (int i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* The escaped form of the character at s[i]: written to out, its input
 * length returned in *used. Returns the output length. */
static size_t json_char(const unsigned char *s, size_t left, char out[8], size_t *used)
{
	unsigned char ch = s[0];
	int n;

	*used = 1;
	if (ch == '"' || ch == '\\') {
		out[0] = '\\';
		out[1] = (char)ch;
		return 2;
	}
	if (ch < 0x20 || ch == 0x7f) {
		static const char hex[] = "0123456789abcdef";

		memcpy(out, "\\u00", 4);
		out[4] = hex[ch >> 4];
		out[5] = hex[ch & 15];
		return 6;
	}
	if (ch < 0x80) {
		out[0] = (char)ch;
		return 1;
	}
	n = bf_utf8_len(s, left);
	if (n) {
		memcpy(out, s, (size_t)n);
		*used = (size_t)n;
		return (size_t)n;
	}
	memcpy(out, "\\ufffd", 6);
	return 6;
}

const char *bf_json_esc(const char *s, size_t n, char *buf, size_t cap)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t o = 0;

	if (!cap)
		return buf;
	for (size_t i = 0; i < n;) {
		char esc[8];
		size_t used, len = json_char(p + i, n - i, esc, &used);

		if (o + len >= cap)
			break;
		memcpy(buf + o, esc, len);
		o += len;
		i += used;
	}
	buf[o] = '\0';
	return buf;
}

void bf_json_fput(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t n = strlen((const char *)p);

	fputc('"', f);
	for (size_t i = 0; i < n;) {
		char esc[8];
		size_t used, len = json_char(p + i, n - i, esc, &used);

		fwrite(esc, 1, len, f);
		i += used;
	}
	fputc('"', f);
}

const char *bf_printable(const char *s, size_t n, char *buf, size_t cap)
{
	size_t o = 0;

	if (!cap)
		return buf;
	for (size_t i = 0; i < n && o + 1 < cap; i++) {
		unsigned char ch = (unsigned char)s[i];

		buf[o++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
	}
	buf[o] = '\0';
	return buf;
}

void bf_seterr(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!err || !len)
		return;
	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int bf_hex_decode(const char *s, size_t n, uint8_t *out, size_t cap)
{
	if (!n || n % 2)
		return -EINVAL;
	if (n / 2 > cap || n / 2 > INT_MAX)
		return -E2BIG;
	for (size_t i = 0; i < n; i += 2)
		if (hex_digit(s[i]) < 0 || hex_digit(s[i + 1]) < 0)
			return -EINVAL;
	for (size_t i = 0; i < n; i += 2)
		out[i / 2] = (uint8_t)(hex_digit(s[i]) << 4 | hex_digit(s[i + 1]));
	return (int)(n / 2);
}
