/* schema_entry.h - list, punch and validated-client entries: ZSET members and the `entry`
 * field of log records. */
#ifndef BF_SCHEMA_ENTRY_H
#define BF_SCHEMA_ENTRY_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "schema_keys.h"

#define BF_ENTRY_MAX 96  /* longest member text: a punch */

struct bf_punch {
	uint8_t proto;          /* IPPROTO_UDP or IPPROTO_TCP */
	uint16_t remote_port;   /* host order */
	uint16_t bind_port;
	uint32_t remote_ip;     /* network order */
	uint32_t bind_ip;
	uint32_t machine_ip;
};

struct bf_entry {
	enum bf_kind kind;
	union {
		struct bf_cidr cidr;   /* wl, bl */
		/* punch; valid: remote_ip is the client, bind_ip:bind_port its connection,
		 * remote_port and machine_ip are 0 */
		struct bf_punch punch;
	};
};

/* wl/bl: a CIDR (host bits must be clear) or a bare address (= /32).
 * punch: "udp 198.51.100.34:5000 203.0.113.10:40000 via 198.18.3.2"
 * (remote, bind address, machine).
 * valid: "udp 198.51.100.34 203.0.113.10:27015" (client, connection; udp only).
 * Input need not be NUL-terminated.
 * 0, -EINVAL, or -EAFNOSUPPORT for a well-formed IPv6 CIDR (not carried yet). */
int bf_entry_parse(enum bf_kind k, const char *s, size_t n, struct bf_entry *out);
/* Canonical text; returns its length or -ENOSPC. */
int bf_entry_format(const struct bf_entry *e, char *buf, size_t len);

#endif
