/* text.c - escaping untrusted strings for JSON output and terminals. */
#include <stdio.h>

#include "text.h"

const char *bf_json_esc(const char *s, size_t n, char *buf, size_t cap)
{
	size_t o = 0;

	if (!cap)
		return buf;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		char esc[8];
		size_t len;

		if (ch == '"' || ch == '\\') {
			esc[0] = '\\';
			esc[1] = (char)ch;
			len = 2;
		} else if (ch < 0x20 || ch >= 0x7f) {
			len = (size_t)snprintf(esc, sizeof(esc), "\\u%04x", ch);
		} else {
			esc[0] = (char)ch;
			len = 1;
		}
		if (o + len >= cap)
			break;
		for (size_t j = 0; j < len; j++)
			buf[o++] = esc[j];
	}
	buf[o] = '\0';
	return buf;
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
