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

int bf_parse_cidr(const char *s, bool loose, struct bf_cidr *out)
{
	char buf[BF_CIDR_STRLEN + 1];
	const char *slash;
	uint64_t plen = 32;
	uint32_t addr;
	size_t n;

	if (!s)
		return -EINVAL;
	n = strlen(s);
	if (n == 0 || n > BF_CIDR_STRLEN - 1)
		return -EINVAL;
	memcpy(buf, s, n + 1);
	slash = strchr(buf, '/');
	if (slash) {
		buf[slash - buf] = '\0';
		if (bf_parse_u64(slash + 1, 32, &plen))
			return -EINVAL;
	}
	if (bf_parse_ipv4(buf, &addr))
		return -EINVAL;
	if ((addr & ~bf_plen_mask(plen)) && !loose)
		return -EINVAL;
	out->addr = addr & bf_plen_mask(plen);
	out->plen = (uint8_t)plen;
	return 0;
}

bool bf_cidr_contains(const struct bf_cidr *c, uint32_t addr)
{
	return (addr & bf_plen_mask(c->plen)) == c->addr;
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

const char *bf_ipv4_str(uint32_t addr, char buf[BF_ADDR_STRLEN])
{
	const uint8_t *b = (const uint8_t *)&addr;

	snprintf(buf, BF_ADDR_STRLEN, "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
	return buf;
}

const char *bf_cidr_str(const struct bf_cidr *c, char buf[BF_CIDR_STRLEN])
{
	char a[BF_ADDR_STRLEN];

	snprintf(buf, BF_CIDR_STRLEN, "%s/%u", bf_ipv4_str(c->addr, a), c->plen);
	return buf;
}
