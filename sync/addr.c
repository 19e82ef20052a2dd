/* addr.c - strict parsers for addresses, CIDRs, endpoints, protocols, numbers. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"

uint32_t bf_plen_mask(unsigned plen)
{
	if (plen == 0)
		return 0;
	if (plen >= 32)
		return 0xffffffffu;
	return htonl(0xffffffffu << (32 - plen));
}

int bf_parse_ipv4(const char *s, uint32_t *addr)
{
	uint32_t a = 0;
	int octets = 0;

	if (!s || !*s)
		return -EINVAL;
	while (octets < 4) {
		unsigned v = 0, digits = 0;

		while (isdigit((unsigned char)*s)) {
			/* "01" is octal to inet_aton; refuse ambiguity. */
			if (digits == 1 && v == 0)
				return -EINVAL;
			v = v * 10 + (unsigned)(*s - '0');
			if (v > 255)
				return -EINVAL;
			s++;
			digits++;
		}
		if (!digits)
			return -EINVAL;
		a = (a << 8) | v;
		octets++;
		if (octets < 4) {
			if (*s != '.')
				return -EINVAL;
			s++;
		}
	}
	if (*s)
		return -EINVAL;
	*addr = htonl(a);
	return 0;
}

int bf_parse_addr(const char *s, struct bf_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (!s)
		return -EINVAL;
	if (!bf_parse_ipv4(s, &out->v4))
		return 0;
	/* Only the colon form: inet_pton(AF_INET6) takes no zone, no brackets. */
	if (strchr(s, ':') && inet_pton(AF_INET6, s, out->v6) == 1) {
		out->family = BF_INET6;
		return 0;
	}
	return -EINVAL;
}

/* Clears (or, not loose, refuses) the host bits of a 16-byte address. */
static int mask6(uint8_t a[16], unsigned plen, bool loose)
{
	for (unsigned i = 0; i < 16; i++) {
		unsigned keep = plen >= (i + 1) * 8 ? 8 : plen > i * 8 ? plen - i * 8 : 0;
		uint8_t m = keep ? (uint8_t)(0xff << (8 - keep)) : 0;

		if ((a[i] & ~m) && !loose)
			return -EINVAL;
		a[i] &= m;
	}
	return 0;
}

int bf_parse_cidr(const char *s, bool loose, struct bf_cidr *out)
{
	char buf[BF_CIDR_STRLEN + 1];
	const char *slash;
	struct bf_addr a;
	uint64_t plen;
	size_t n;

	memset(out, 0, sizeof(*out));
	if (!s)
		return -EINVAL;
	n = strlen(s);
	if (n == 0 || n > BF_CIDR_STRLEN - 1)
		return -EINVAL;
	memcpy(buf, s, n + 1);
	slash = strchr(buf, '/');
	if (slash)
		buf[slash - buf] = '\0';
	if (bf_parse_addr(buf, &a))
		return -EINVAL;
	plen = a.family == BF_INET6 ? 128 : 32;
	if (slash && bf_parse_u64(slash + 1, plen, &plen))
		return -EINVAL;
	out->family = a.family;
	out->plen = (uint8_t)plen;
	if (a.family == BF_INET6) {
		memcpy(out->addr6, a.v6, 16);
		return mask6(out->addr6, (unsigned)plen, loose);
	}
	if ((a.v4 & ~bf_plen_mask((unsigned)plen)) && !loose)
		return -EINVAL;
	out->addr = a.v4 & bf_plen_mask((unsigned)plen);
	return 0;
}

int bf_parse_cidr4(const char *s, bool loose, struct bf_cidr *out)
{
	if (bf_parse_cidr(s, loose, out))
		return -EINVAL;
	return out->family == BF_INET ? 0 : -EAFNOSUPPORT;
}

bool bf_cidr_contains(const struct bf_cidr *c, uint32_t addr)
{
	return c->family == BF_INET && (addr & bf_plen_mask(c->plen)) == c->addr;
}

int bf_parse_endpoint(const char *s, bool allow_zero, uint32_t *addr, uint16_t *port)
{
	char buf[BF_ADDR_STRLEN + 8];
	const char *colon;
	uint64_t p;
	size_t n;

	if (!s)
		return -EINVAL;
	n = strlen(s);
	if (n == 0 || n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, n + 1);
	colon = strrchr(buf, ':');
	if (!colon)
		return -EINVAL;
	buf[colon - buf] = '\0';
	if (bf_parse_u64(colon + 1, 65535, &p) || (p == 0 && !allow_zero))
		return -EINVAL;
	if (bf_parse_ipv4(buf, addr))
		return -EINVAL;
	*port = (uint16_t)p;
	return 0;
}

int bf_parse_proto(const char *s)
{
	if (!s)
		return -EINVAL;
	if (!strcmp(s, "udp"))
		return IPPROTO_UDP;
	if (!strcmp(s, "tcp"))
		return IPPROTO_TCP;
	if (!strcmp(s, "icmp"))
		return IPPROTO_ICMP;
	return -EINVAL;
}

const char *bf_proto_name(int proto)
{
	switch (proto) {
	case IPPROTO_UDP:
		return "udp";
	case IPPROTO_TCP:
		return "tcp";
	case IPPROTO_ICMP:
		return "icmp";
	default:
		return "?";
	}
}

int bf_parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (!s || !*s)
		return -EINVAL;
	for (; *s; s++) {
		if (!isdigit((unsigned char)*s))
			return -EINVAL;
		uint64_t d = (uint64_t)(*s - '0');

		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
		if (v > max)
			return -ERANGE;
	}
	*out = v;
	return 0;
}

int bf_parse_duration_ms(const char *s, uint64_t *ms)
{
	static const struct {
		const char *suffix;
		uint64_t mult;
	} units[] = { { "ms", 1 }, { "s", 1000 }, { "m", 60000 },
		      { "h", 3600000 }, { "d", 86400000 }, { "", 1000 } };
	char num[24];
	size_t n, digits;

	if (!s)
		return -EINVAL;
	n = strlen(s);
	for (digits = 0; digits < n && isdigit((unsigned char)s[digits]); digits++)
		;
	if (digits == 0 || digits >= sizeof(num))
		return -EINVAL;
	memcpy(num, s, digits);
	num[digits] = '\0';
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		uint64_t v;

		if (strcmp(s + digits, units[i].suffix))
			continue;
		/* Ten years is the longest duration anyone means. */
		if (bf_parse_u64(num, 315360000000ULL / units[i].mult, &v))
			return -ERANGE;
		*ms = v * units[i].mult;
		return 0;
	}
	return -EINVAL;
}

const char *bf_duration_str(uint64_t ms, char *buf, size_t len)
{
	static const struct {
		const char *suffix;
		uint64_t mult;
	} units[] = { { "d", 86400000 }, { "h", 3600000 }, { "m", 60000 }, { "s", 1000 } };
	size_t i;

	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (ms && ms % units[i].mult == 0)
			break;
	if (i == sizeof(units) / sizeof(units[0]))
		snprintf(buf, len, "%llums", (unsigned long long)ms);
	else
		snprintf(buf, len, "%llu%s", (unsigned long long)(ms / units[i].mult),
			 units[i].suffix);
	return buf;
}

const char *bf_ipv4_str(uint32_t addr, char buf[BF_ADDR_STRLEN])
{
	const uint8_t *b = (const uint8_t *)&addr;

	snprintf(buf, BF_ADDR_STRLEN, "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
	return buf;
}

const char *bf_addr_str(const struct bf_addr *a, char buf[BF_ADDR6_STRLEN])
{
	if (a->family != BF_INET6)
		return bf_ipv4_str(a->v4, buf);
	if (!inet_ntop(AF_INET6, a->v6, buf, BF_ADDR6_STRLEN))
		snprintf(buf, BF_ADDR6_STRLEN, "?");
	return buf;
}

const char *bf_cidr_str(const struct bf_cidr *c, char buf[BF_CIDR_STRLEN])
{
	struct bf_addr a = { .family = c->family };
	char s[BF_ADDR6_STRLEN];

	if (c->family == BF_INET6)
		memcpy(a.v6, c->addr6, 16);
	else
		a.v4 = c->addr;
	snprintf(buf, BF_CIDR_STRLEN, "%s/%u", bf_addr_str(&a, s), c->plen);
	return buf;
}
