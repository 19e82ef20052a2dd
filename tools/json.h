/* json.h - JSON strings for text that comes from outside (game-server names, rules):
 * quotes, backslashes and control bytes escaped, bytes that are not UTF-8 shown as U+FFFD. */
#ifndef BF_TOOLS_JSON_H
#define BF_TOOLS_JSON_H

#include <stdint.h>
#include <stdio.h>

/* Length of the valid UTF-8 sequence at p (NUL-terminated), 0 if it is not one. */
static inline int json_utf8_len(const unsigned char *p)
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
	for (int i = 1; i < n; i++) { /* a NUL fails here, before anything past it is read */
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* Prints str (NULL = "") as a quoted JSON string on f. */
static inline void json_fstr(FILE *f, const char *str)
{
	const unsigned char *p = (const unsigned char *)(str ? str : "");

	fputc('"', f);
	while (*p) {
		int n;

		if (*p == '"' || *p == '\\') {
			fputc('\\', f);
			fputc(*p++, f);
		} else if (*p < 0x20 || *p == 0x7f) {
			fprintf(f, "\\u%04x", *p++);
		} else if (*p < 0x80) {
			fputc(*p++, f);
		} else if ((n = json_utf8_len(p))) {
			fwrite(p, 1, (size_t)n, f);
			p += n;
		} else {
			fputs("\\ufffd", f);
			p++;
		}
	}
	fputc('"', f);
}

static inline void json_str(const char *str)
{
	json_fstr(stdout, str);
}

#endif
