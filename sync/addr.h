/* addr.h - strict parsing and printing of addresses (IPv4 and IPv6), CIDRs,
 * endpoints and protocol names. Pure functions; addresses stay in network
 * byte order. */
#ifndef BF_ADDR_H
#define BF_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Address families. IPv4 is 0, so a zeroed address or CIDR is IPv4: the data
 * plane and its maps have only IPv4 yet. IPv6 parses and prints here, and each
 * layer that cannot carry it yet refuses it by family with a reason (the bus's
 * entries, the config file, rules): IPv6 is an addition, not a rewrite
 * (docs/ARCHITECTURE.md, "Module map"). */
enum bf_family { BF_INET = 0, BF_INET6 = 1 };

struct bf_addr {
	uint8_t family;         /* enum bf_family */
	union {
		uint32_t v4;    /* network byte order */
		uint8_t v6[16];
	};
};

struct bf_cidr {
	uint8_t family;         /* enum bf_family */
	uint8_t plen;           /* 0..32, or 0..128 for IPv6 */
	union {
		uint32_t addr;      /* IPv4, network byte order, host bits cleared */
		uint8_t addr6[16];  /* IPv6, host bits cleared */
	};
};

/* Netmask of a prefix length, network byte order. */
uint32_t bf_plen_mask(unsigned plen);

/* "a.b.c.d" exactly (no leading zeros, no trailing junk). 0 or -EINVAL. */
int bf_parse_ipv4(const char *s, uint32_t *addr);

/* "a.b.c.d" (strict, as bf_parse_ipv4) or an IPv6 literal. 0 or -EINVAL. */
int bf_parse_addr(const char *s, struct bf_addr *out);

/* "a.b.c.d/n", "a.b.c.d" (= /32), "v6/n" or "v6" (= /128). Host bits set
 * below the prefix are an error unless `loose`, in which case they are
 * cleared. 0 or -EINVAL. */
int bf_parse_cidr(const char *s, bool loose, struct bf_cidr *out);

/* bf_parse_cidr for the layers that carry only IPv4 yet: a valid IPv6 CIDR
 * is -EAFNOSUPPORT (say "IPv6 is not supported yet"), garbage -EINVAL. */
int bf_parse_cidr4(const char *s, bool loose, struct bf_cidr *out);

bool bf_cidr_contains(const struct bf_cidr *c, uint32_t addr);

/* "a.b.c.d:port" with port 1..65535 (or 0 when allow_zero). 0 or -EINVAL. */
int bf_parse_endpoint(const char *s, bool allow_zero, uint32_t *addr, uint16_t *port);

/* "udp" | "tcp" | "icmp" -> IPPROTO_*, or -EINVAL. */
int bf_parse_proto(const char *s);
const char *bf_proto_name(int proto);

/* Non-negative decimal that fits `max`. 0 or -EINVAL / -ERANGE. */
int bf_parse_u64(const char *s, uint64_t max, uint64_t *out);

/* Duration: "30", "30s", "500ms", "5m", "2h", "1d". In milliseconds. */
int bf_parse_duration_ms(const char *s, uint64_t *ms);
/* The shortest text bf_parse_duration_ms reads back as ms: the largest unit that
 * divides it ("90s", "2h", "1500ms"). Returns buf. */
const char *bf_duration_str(uint64_t ms, char *buf, size_t len);

#define BF_ADDR_STRLEN 16      /* an IPv4 address */
#define BF_ADDR6_STRLEN 46     /* any address (INET6_ADDRSTRLEN) */
#define BF_CIDR_STRLEN 50      /* any CIDR */
const char *bf_ipv4_str(uint32_t addr, char buf[BF_ADDR_STRLEN]);
const char *bf_addr_str(const struct bf_addr *a, char buf[BF_ADDR6_STRLEN]);
const char *bf_cidr_str(const struct bf_cidr *c, char buf[BF_CIDR_STRLEN]);

#endif
