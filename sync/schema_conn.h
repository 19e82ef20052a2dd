/* schema_conn.h - connections: bifrost:conn:<proto>:<ip>:<port> (HASH), key and fields. */
#ifndef BF_SCHEMA_CONN_H
#define BF_SCHEMA_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "schema_field.h"
#include "schema_limits.h"

/* Handshake validation modules (`validate`; docs/ARCHITECTURE.md). */
enum bf_validate { BF_VALIDATE_NONE = 0, BF_VALIDATE_SRCDS, BF_VALIDATE_RAKNET, BF_VALIDATE_MAX };
const char *bf_validate_name(int v);      /* "none", "srcds", "raknet" */
int bf_validate_parse(const char *s, size_t n); /* or -EINVAL */

struct bf_conn {
	uint8_t proto;         /* IPPROTO_* */
	uint16_t bind_port;    /* host order; 0 for ICMP */
	uint16_t machine_port; /* host order; 0 = same as bind_port */
	uint32_t bind_ip;      /* network order */
	uint32_t machine_ip;   /* network order */
	bool a2s;              /* A2S_INFO answered from the fleet cache (udp only) */
	uint8_t validate;      /* enum bf_validate (udp only) */
	struct bf_limits limits;
};

/* A connection as people write it: "udp" "203.0.113.10:27015"
 * "198.18.3.2[:27016]", or "icmp" "203.0.113.10" "198.18.3.2". On error
 * returns -EINVAL and says what is wrong in err. */
int bf_conn_parse(const char *proto, const char *bind, const char *machine, struct bf_conn *out,
		  char *err, size_t errlen);

/* The proto, bind address and port named by a connection key. */
int bf_conn_parse_key(const char *key, size_t n, const char *prefix, struct bf_conn *out);
/* The hash's fields: `machine` (a.b.c.d, required), `port` (1-65535,
 * optional), `a2s` (0 or 1, optional, udp only), `validate` (none, srcds or
 * raknet, optional, udp only), the limit fields of
 * bf_limits_parse_fields; others are ignored. -EINVAL with *what set
 * (naming the field). */
int bf_conn_parse_fields(const struct bf_field *f, size_t n, struct bf_conn *c,
			 const char **what);

#endif
