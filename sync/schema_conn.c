/* schema_conn.c - connections: the key, the hash fields and the text people write. */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "schema_int.h"

static const char *const validate_names[BF_VALIDATE_MAX] = { "none", "srcds", "raknet" };

const char *bf_validate_name(int v)
{
	return v >= 0 && v < BF_VALIDATE_MAX ? validate_names[v] : "?";
}

int bf_validate_parse(const char *s, size_t n)
{
	for (int v = 0; v < BF_VALIDATE_MAX; v++)
		if (strlen(validate_names[v]) == n && !memcmp(s, validate_names[v], n))
			return v;
	return -EINVAL;
}

int bf_conn_parse_key(const char *key, size_t n, const char *prefix, struct bf_conn *out)
{
	char buf[BF_KEY_MAX], *proto, *ep;
	int p;

	memset(out, 0, sizeof(*out));
	bf_limits_init(&out->limits);
	if (sch_key_rest(buf, sizeof(buf), key, n, prefix, "conn:", &proto))
		return -EINVAL;
	ep = strchr(proto, ':');
	if (!ep)
		return -EINVAL;
	*ep++ = '\0';
	p = bf_parse_proto(proto);
	if (p < 0 || bf_parse_endpoint(ep, p == IPPROTO_ICMP, &out->bind_ip, &out->bind_port) ||
	    (p == IPPROTO_ICMP && out->bind_port) || (p != IPPROTO_ICMP && !out->bind_port))
		return -EINVAL;
	out->proto = (uint8_t)p;
	return 0;
}

int bf_conn_parse_fields(const struct bf_field *f, size_t n, struct bf_conn *c,
			 const char **what)
{
	bool have_machine = false;
	char buf[24];

	for (size_t i = 0; i < n; i++) {
		if (sch_field_is(&f[i], "machine")) {
			if (sch_cstr(buf, sizeof(buf), f[i].val, f[i].val_len) ||
			    bf_parse_ipv4(buf, &c->machine_ip) || !c->machine_ip) {
				*what = "machine is not an address";
				return -EINVAL;
			}
			have_machine = true;
		} else if (sch_field_is(&f[i], "port")) {
			uint64_t v;

			if (sch_cstr(buf, sizeof(buf), f[i].val, f[i].val_len) ||
			    bf_parse_u64(buf, 65535, &v) || !v || c->proto == IPPROTO_ICMP) {
				*what = "port is not 1-65535 (or given for icmp)";
				return -EINVAL;
			}
			c->machine_port = (uint16_t)v;
		} else if (sch_field_is(&f[i], "a2s")) {
			/* Exactly "0" or "1": a typo must not silently turn the cache off. */
			if (f[i].val_len != 1 || (f[i].val[0] != '0' && f[i].val[0] != '1')) {
				*what = "a2s is not 0 or 1";
				return -EINVAL;
			}
			c->a2s = f[i].val[0] == '1';
		} else if (sch_field_is(&f[i], "validate")) {
			int v = bf_validate_parse(f[i].val, f[i].val_len);

			if (v < 0) {
				*what = "validate is not none, srcds or raknet";
				return -EINVAL;
			}
			c->validate = (uint8_t)v;
		}
	}
	if (c->a2s && c->proto != IPPROTO_UDP) {
		*what = "a2s on a connection that is not udp";
		return -EINVAL;
	}
	if (c->validate && c->proto != IPPROTO_UDP) {
		*what = "validate on a connection that is not udp";
		return -EINVAL;
	}
	if (!have_machine) {
		*what = "no machine field";
		return -EINVAL;
	}
	return bf_limits_parse_fields(f, n, c->proto, &c->limits, what);
}

int bf_conn_parse(const char *proto, const char *bind, const char *machine,
		    struct bf_conn *out, char *err, size_t errlen)
{
	int p = bf_parse_proto(proto);

	memset(out, 0, sizeof(*out));
	bf_limits_init(&out->limits);
	if (p < 0) {
		snprintf(err, errlen, "unknown protocol '%s' (udp, tcp or icmp)", proto);
		return -EINVAL;
	}
	out->proto = (uint8_t)p;
	if (p == IPPROTO_ICMP) {
		if (bf_parse_ipv4(bind, &out->bind_ip)) {
			snprintf(err, errlen, "bad bind address '%s' (icmp takes an address, no port)",
			       bind);
			return -EINVAL;
		}
		if (bf_parse_ipv4(machine, &out->machine_ip)) {
			snprintf(err, errlen, "bad machine address '%s'", machine);
			return -EINVAL;
		}
		return 0;
	}
	if (bf_parse_endpoint(bind, false, &out->bind_ip, &out->bind_port)) {
		snprintf(err, errlen, "bad bind endpoint '%s' (want a.b.c.d:port)", bind);
		return -EINVAL;
	}
	if (strchr(machine, ':')) {
		if (bf_parse_endpoint(machine, false, &out->machine_ip, &out->machine_port)) {
			snprintf(err, errlen, "bad machine endpoint '%s' (want a.b.c.d[:port])",
			       machine);
			return -EINVAL;
		}
	} else if (bf_parse_ipv4(machine, &out->machine_ip)) {
		snprintf(err, errlen, "bad machine address '%s'", machine);
		return -EINVAL;
	}
	return 0;
}
