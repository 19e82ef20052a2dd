/* schema_int.c - the small text and field helpers every schema_*.c shares. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "schema_int.h"

int sch_fmt(char *buf, size_t len, const char *f, ...)
{
	va_list ap;
	int n;

	va_start(ap, f);
	n = vsnprintf(buf, len, f, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	if ((size_t)n >= len)
		return -ENAMETOOLONG;
	return n;
}

bool sch_no_controls(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

int sch_cstr(char *dst, size_t cap, const char *s, size_t n)
{
	if (n >= cap)
		return -EINVAL;
	/* msgpack-c gives an empty string a NULL pointer, which memchr and
	 * memcpy must not see even for no bytes. */
	if (n) {
		if (memchr(s, '\0', n))
			return -EINVAL;
		memcpy(dst, s, n);
	}
	dst[n] = '\0';
	return 0;
}

bool sch_field_is(const struct bf_field *f, const char *name)
{
	return f->name_len == strlen(name) && !memcmp(f->name, name, f->name_len);
}

int sch_field_find(const struct bf_field *f, const void *names, size_t stride, size_t count)
{
	for (size_t k = 0; k < count; k++)
		if (sch_field_is(f, *(const char *const *)((const char *)names + k * stride)))
			return (int)k;
	return -ENOENT;
}

int sch_fields_sort(const struct bf_field *f, size_t n, const void *names, size_t stride,
		    size_t count, bool refuse_unknown, const struct bf_field **slot, size_t *bad)
{
	for (size_t i = 0; i < count; i++)
		slot[i] = NULL;
	for (size_t i = 0; i < n; i++) {
		int k = sch_field_find(&f[i], names, stride, count);

		if (k < 0 && !refuse_unknown)
			continue;
		if (k < 0) {
			*bad = i;
			return -ENOENT;
		}
		if (slot[k]) {
			*bad = (size_t)k;
			return -EEXIST;
		}
		slot[k] = &f[i];
	}
	return 0;
}

int sch_yesno(const char *s, bool *out)
{
	if (!strcmp(s, "yes") || !strcmp(s, "true") || !strcmp(s, "on") || !strcmp(s, "1"))
		*out = true;
	else if (!strcmp(s, "no") || !strcmp(s, "false") || !strcmp(s, "off") || !strcmp(s, "0"))
		*out = false;
	else
		return -EINVAL;
	return 0;
}
