/* schema_entry.c - list, punch and validated-client entries: parse and format the member
 * texts. */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "schema_int.h"

int bf_entry_parse(enum bf_kind k, const char *s, size_t n, struct bf_entry *out)
{
	char buf[BF_ENTRY_MAX + 1], *tok[6], *save = NULL, *t;
	int ntok = 0, proto;

	memset(out, 0, sizeof(*out));
	out->kind = k;
	if (sch_cstr(buf, sizeof(buf), s, n))
		return -EINVAL;
	if ((unsigned)k >= BF_KIND_MAX)
		return -EINVAL;
	if (bf_kinds[k].cidr)
		return bf_parse_cidr4(buf, false, &out->cidr);
	/* Exactly single spaces: the member is a set key, one spelling only. */
	if (strstr(buf, "  ") || buf[0] == ' ' || (n && buf[n - 1] == ' '))
		return -EINVAL;
	for (t = strtok_r(buf, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
		if (ntok == 6)
			return -EINVAL;
		tok[ntok++] = t;
	}
	if (ntok < 3)
		return -EINVAL;
	proto = bf_parse_proto(tok[0]);
	if (k == BF_KIND_VALID) {
		if (ntok != 3 || proto != IPPROTO_UDP || bf_parse_ipv4(tok[1], &out->punch.remote_ip) ||
		    bf_parse_endpoint(tok[2], false, &out->punch.bind_ip, &out->punch.bind_port))
			return -EINVAL;
		out->punch.proto = IPPROTO_UDP;
		return 0;
	}
	if (ntok != 5 || strcmp(tok[3], "via"))
		return -EINVAL;
	if (proto != IPPROTO_UDP && proto != IPPROTO_TCP)
		return -EINVAL;
	out->punch.proto = (uint8_t)proto;
	if (bf_parse_endpoint(tok[1], false, &out->punch.remote_ip, &out->punch.remote_port) ||
	    bf_parse_endpoint(tok[2], false, &out->punch.bind_ip, &out->punch.bind_port) ||
	    bf_parse_ipv4(tok[4], &out->punch.machine_ip))
		return -EINVAL;
	return 0;
}

int bf_entry_format(const struct bf_entry *e, char *buf, size_t len)
{
	char r[BF_ADDR_STRLEN], b[BF_ADDR_STRLEN], m[BF_ADDR_STRLEN], c[BF_CIDR_STRLEN];

	if ((unsigned)e->kind >= BF_KIND_MAX)
		return -EINVAL;
	if (bf_kinds[e->kind].cidr)
		return sch_fmt(buf, len, "%s", bf_cidr_str(&e->cidr, c)) < 0 ? -ENOSPC :
									      (int)strlen(buf);
	if (e->kind == BF_KIND_VALID)
		return sch_fmt(buf, len, "%s %s %s:%u", bf_proto_name(e->punch.proto),
			       bf_ipv4_str(e->punch.remote_ip, r), bf_ipv4_str(e->punch.bind_ip, b),
			       e->punch.bind_port) < 0 ? -ENOSPC : (int)strlen(buf);
	if (sch_fmt(buf, len, "%s %s:%u %s:%u via %s", bf_proto_name(e->punch.proto),
		bf_ipv4_str(e->punch.remote_ip, r), e->punch.remote_port,
		bf_ipv4_str(e->punch.bind_ip, b), e->punch.bind_port,
		bf_ipv4_str(e->punch.machine_ip, m)) < 0)
		return -ENOSPC;
	return (int)strlen(buf);
}
