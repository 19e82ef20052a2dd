/* addr.h - strict parsing and printing of IPv4 addresses, CIDRs, endpoints
 * and protocol names. Pure functions; addresses stay in network byte order. */
#ifndef BF_ADDR_H
#define BF_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bf_cidr {
	uint32_t addr;  /* network byte order, host bits cleared */
	uint8_t plen;   /* 0..32 */
};

/* Netmask of a prefix length, network byte order. */
uint32_t bf_plen_mask(unsigned plen);

/* "a.b.c.d" exactly (no leading zeros, no trailing junk). 0 or -EINVAL. */
int bf_parse_ipv4(const char *s, uint32_t *addr);

/* "a.b.c.d/n" or "a.b.c.d" (= /32). Host bits set below the prefix are an
 * error unless `loose`, in which case they are cleared. 0 or -EINVAL. */
int bf_parse_cidr(const char *s, bool loose, struct bf_cidr *out);

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

#define BF_ADDR_STRLEN 16
#define BF_CIDR_STRLEN 20
const char *bf_ipv4_str(uint32_t addr, char buf[BF_ADDR_STRLEN]);
const char *bf_cidr_str(const struct bf_cidr *c, char buf[BF_CIDR_STRLEN]);

#endif
