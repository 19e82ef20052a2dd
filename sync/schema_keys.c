/* schema_keys.c - kinds, origins and every Redis key and channel name. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "schema_int.h"

const struct bf_kind_desc bf_kinds[BF_KIND_MAX] = {
	/* A whitelist skips every filter: wider than a /16 is no one network an operator
	 * trusts. A /8 ban is a hostile network at most; anything wider cuts off a continent. */
	[BF_KIND_WL] = { BF_KIND_WL, "wl", "whitelist", true, BF_LIST_WL, true, 16, 65536 },
	[BF_KIND_BL] = { BF_KIND_BL, "bl", "blacklist", true, BF_LIST_BL, true, 8, 1u << 20 },
	[BF_KIND_PUNCH] = { BF_KIND_PUNCH, "punch", "port punch", false, -1, false, 0, 65536 },
	/* Clients a game handshake validated (validate srcds|raknet): one origin may hold an
	 * eighth of the table (BF_VALID_MAX), so no POP can crowd out the others' players. */
	[BF_KIND_VALID] = { BF_KIND_VALID, "valid", "validated client", false, -1, false, 0, 65536 },
};

const char *bf_kind_name(enum bf_kind k)
{
	return (unsigned)k < BF_KIND_MAX ? bf_kinds[k].name : "?";
}

int bf_kind_parse(const char *s)
{
	for (int k = 0; k < BF_KIND_MAX; k++)
		if (!strcmp(s, bf_kinds[k].name))
			return k;
	return -EINVAL;
}

bool bf_stream_id_valid(const char *id)
{
	size_t a = strspn(id, "0123456789"), b;

	if (a < 1 || a > 20 || id[a] != '-')
		return false;
	b = strspn(id + a + 1, "0123456789");
	return b >= 1 && b <= 20 && !id[a + 1 + b];
}

int bf_cursor_line_parse(const char *line, struct bf_cursor_line *out)
{
	char kind[8], origin[BF_ORIGIN_MAX + 2], id[BF_STREAM_ID_MAX];
	unsigned long long seq;
	int k;

	if (strncmp(line, "cursor ", 7) ||
	    sscanf(line + 7, "%7s %64s %47s %llu", kind, origin, id, &seq) != 4 ||
	    !bf_stream_id_valid(id) || (k = bf_kind_parse(kind)) < 0 || !bf_origin_valid(origin))
		return -EINVAL;
	out->kind = (enum bf_kind)k;
	snprintf(out->origin, sizeof(out->origin), "%s", origin);
	snprintf(out->id, sizeof(out->id), "%s", id);
	out->seq = seq;
	return 0;
}

bool bf_origin_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > BF_ORIGIN_MAX)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' || *s == '.'))
			return false;
	return true;
}

/* ---- keys ---- */

/* <prefix><part><kind>:<origin> */
static int key_kind(char *buf, size_t len, const char *prefix, const char *part, enum bf_kind k,
		    const char *origin)
{
	if ((unsigned)k >= BF_KIND_MAX || !bf_origin_valid(origin))
		return -EINVAL;
	return sch_fmt(buf, len, "%s%s%s:%s", prefix, part, bf_kinds[k].name, origin);
}

/* <prefix><part><id>, for an id of the origins' alphabet. */
static int key_id(char *buf, size_t len, const char *prefix, const char *part, const char *id)
{
	if (!bf_origin_valid(id))
		return -EINVAL;
	return sch_fmt(buf, len, "%s%s%s", prefix, part, id);
}

int sch_key_rest(char *buf, size_t cap, const char *key, size_t n, const char *prefix,
		 const char *part, char **rest)
{
	size_t pl = strlen(prefix);

	if (sch_cstr(buf, cap, key, n) || strncmp(buf, prefix, pl) ||
	    strncmp(buf + pl, part, strlen(part)))
		return -EINVAL;
	*rest = buf + pl + strlen(part);
	return 0;
}

int bf_key_list(char *buf, size_t len, const char *prefix, enum bf_kind k, const char *origin)
{
	return key_kind(buf, len, prefix, "", k, origin);
}

int bf_key_log(char *buf, size_t len, const char *prefix, enum bf_kind k, const char *origin)
{
	return key_kind(buf, len, prefix, "log:", k, origin);
}

int bf_key_kind_parse(const char *key, size_t n, const char *prefix, bool *is_log,
		      enum bf_kind *k, char origin[BF_ORIGIN_MAX + 1])
{
	size_t pl = strlen(prefix), kl;
	const char *p = key, *end = key + n, *colon;
	int kind;
	char kname[8];

	if (n <= pl || memcmp(key, prefix, pl))
		return -EINVAL;
	p += pl;
	*is_log = (size_t)(end - p) > 4 && !memcmp(p, "log:", 4);
	if (*is_log)
		p += 4;
	colon = memchr(p, ':', (size_t)(end - p));
	if (!colon || (kl = (size_t)(colon - p)) >= sizeof(kname))
		return -EINVAL;
	memcpy(kname, p, kl);
	kname[kl] = '\0';
	kind = bf_kind_parse(kname);
	p = colon + 1;
	if (kind < 0 || end - p < 1 || end - p > BF_ORIGIN_MAX)
		return -EINVAL;
	memcpy(origin, p, (size_t)(end - p));
	origin[end - p] = '\0';
	if (!bf_origin_valid(origin))
		return -EINVAL;
	*k = (enum bf_kind)kind;
	return 0;
}

int bf_key_edge(char *buf, size_t len, const char *prefix, const char *id)
{
	return key_id(buf, len, prefix, "edge:", id);
}

int bf_key_edges(char *buf, size_t len, const char *prefix)
{
	return sch_fmt(buf, len, "%sedges", prefix);
}

int bf_key_evt(char *buf, size_t len, const char *prefix, const char *origin)
{
	return key_id(buf, len, prefix, "evt:", origin);
}

int bf_key_ping(char *buf, size_t len, const char *prefix, const char *id)
{
	return key_id(buf, len, prefix, "ping:", id);
}

int bf_key_lock(char *buf, size_t len, const char *prefix, const char *id)
{
	return key_id(buf, len, prefix, "lock:", id);
}

int bf_key_conn(char *buf, size_t len, const char *prefix, int proto, uint32_t ip, uint16_t port)
{
	char a[BF_ADDR_STRLEN];

	if (bf_parse_proto(bf_proto_name(proto)) < 0)
		return -EINVAL;
	return sch_fmt(buf, len, "%sconn:%s:%s:%u", prefix, bf_proto_name(proto), bf_ipv4_str(ip, a),
		   port);
}

int bf_key_conf_version(char *buf, size_t len, const char *prefix)
{
	return sch_fmt(buf, len, "%sconf:version", prefix);
}

/* ---- A2S cache keys ---- */

static const char *a2s_key_names[BF_A2S_KEY_MAX] = { "", "player:", "rules:", "lock:" };

int bf_key_a2s(char *buf, size_t len, const char *prefix, enum bf_a2s_key k, uint32_t ip,
	       uint16_t port)
{
	char a[BF_ADDR_STRLEN];

	if ((unsigned)k >= BF_A2S_KEY_MAX || !port)
		return -EINVAL;
	return sch_fmt(buf, len, "%sa2s:%s%s:%u", prefix, a2s_key_names[k], bf_ipv4_str(ip, a), port);
}

int bf_key_a2s_channel(char *buf, size_t len, const char *prefix)
{
	return sch_fmt(buf, len, "%sa2s", prefix);
}

int bf_key_a2s_glob(char *buf, size_t len, const char *prefix, enum bf_a2s_key k)
{
	if ((unsigned)k >= BF_A2S_KEY_MAX)
		return -EINVAL;
	return sch_fmt(buf, len, "%sa2s:%s*", prefix,
		       k == BF_A2S_INFO ? "[0-9]" : a2s_key_names[k]);
}

int bf_key_a2s_secret(char *buf, size_t len, const char *prefix)
{
	return sch_fmt(buf, len, "%sa2s:key", prefix);
}

int bf_key_a2s_parse(const char *key, size_t n, const char *prefix, enum bf_a2s_key *k,
		     uint32_t *ip, uint16_t *port)
{
	char buf[BF_KEY_MAX], *rest;

	if (sch_key_rest(buf, sizeof(buf), key, n, prefix, "a2s:", &rest))
		return -EINVAL;
	*k = BF_A2S_INFO;
	for (int i = 1; i < BF_A2S_KEY_MAX; i++) {
		size_t l = strlen(a2s_key_names[i]);

		if (!strncmp(rest, a2s_key_names[i], l)) {
			*k = (enum bf_a2s_key)i;
			rest += l;
			break;
		}
	}
	return bf_parse_endpoint(rest, false, ip, port) ? -EINVAL : 0;
}

/* ---- firewall rules, protected prefixes, stats ---- */

int bf_key_rules(char *buf, size_t len, const char *prefix)
{
	return sch_fmt(buf, len, "%srules", prefix);
}

int bf_key_protect(char *buf, size_t len, const char *prefix)
{
	return sch_fmt(buf, len, "%sprotect", prefix);
}

int bf_key_stats(char *buf, size_t len, const char *prefix, const char *id)
{
	return key_id(buf, len, prefix, "stats:", id);
}

int bf_key_stats_log(char *buf, size_t len, const char *prefix, const char *id)
{
	return key_id(buf, len, prefix, "log:stats:", id);
}

int bf_key_rulestats(char *buf, size_t len, const char *prefix, const char *id)
{
	return key_id(buf, len, prefix, "rulestats:", id);
}

int bf_key_flowspec(char *buf, size_t len, const char *prefix, const char *id)
{
	return key_id(buf, len, prefix, "flowspec:", id);
}

int bf_key_flowspec_alive(char *buf, size_t len, const char *prefix, const char *id)
{
	return key_id(buf, len, prefix, "flowspec-alive:", id);
}
