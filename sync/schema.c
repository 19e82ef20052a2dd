/* schema.c - key names, entry texts, change-log records and msgpack event
 * frames (DESIGN §3). Pure: no I/O, no Redis. */
#include <ctype.h>
#include <errno.h>
#include <msgpack.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema.h"

static const char *kind_names[BF_KIND_MAX] = { "wl", "bl", "punch" };

const char *bf_kind_name(enum bf_kind k)
{
	return (unsigned)k < BF_KIND_MAX ? kind_names[k] : "?";
}

int bf_kind_parse(const char *s)
{
	for (int k = 0; k < BF_KIND_MAX; k++)
		if (!strcmp(s, kind_names[k]))
			return k;
	return -EINVAL;
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

static int fmt(char *buf, size_t len, const char *f, ...) __attribute__((format(printf, 3, 4)));
static int fmt(char *buf, size_t len, const char *f, ...)
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

int bf_key_list(char *buf, size_t len, const char *prefix, enum bf_kind k, const char *origin)
{
	if ((unsigned)k >= BF_KIND_MAX || !bf_origin_valid(origin))
		return -EINVAL;
	return fmt(buf, len, "%s%s:%s", prefix, kind_names[k], origin);
}

int bf_key_log(char *buf, size_t len, const char *prefix, enum bf_kind k, const char *origin)
{
	if ((unsigned)k >= BF_KIND_MAX || !bf_origin_valid(origin))
		return -EINVAL;
	return fmt(buf, len, "%slog:%s:%s", prefix, kind_names[k], origin);
}

int bf_key_edge(char *buf, size_t len, const char *prefix, const char *id)
{
	if (!bf_origin_valid(id))
		return -EINVAL;
	return fmt(buf, len, "%sedge:%s", prefix, id);
}

int bf_key_edges(char *buf, size_t len, const char *prefix)
{
	return fmt(buf, len, "%sedges", prefix);
}

int bf_key_evt(char *buf, size_t len, const char *prefix, const char *origin)
{
	if (!bf_origin_valid(origin))
		return -EINVAL;
	return fmt(buf, len, "%sevt:%s", prefix, origin);
}

int bf_key_conn(char *buf, size_t len, const char *prefix, int proto, uint32_t ip, uint16_t port)
{
	char a[BF_ADDR_STRLEN];

	if (bf_parse_proto(bf_proto_name(proto)) < 0)
		return -EINVAL;
	return fmt(buf, len, "%sconn:%s:%s:%u", prefix, bf_proto_name(proto), bf_ipv4_str(ip, a),
		   port);
}

int bf_key_conf_version(char *buf, size_t len, const char *prefix)
{
	return fmt(buf, len, "%sconf:version", prefix);
}

/* ---- entries ---- */

/* Copies a counted string into a NUL-terminated buffer, refusing embedded NULs. */
/* Free text (why, version) may be UTF-8 but never control bytes: it ends
 * up in logs and on operators' terminals. */
static bool no_controls(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

static int cstr(char *dst, size_t cap, const char *s, size_t n)
{
	if (n >= cap || memchr(s, '\0', n))
		return -EINVAL;
	memcpy(dst, s, n);
	dst[n] = '\0';
	return 0;
}

int bf_entry_parse(enum bf_kind k, const char *s, size_t n, struct bf_entry *out)
{
	char buf[BF_ENTRY_MAX + 1], *tok[6], *save = NULL, *t;
	int ntok = 0, proto;

	memset(out, 0, sizeof(*out));
	out->kind = k;
	if (cstr(buf, sizeof(buf), s, n))
		return -EINVAL;
	if (k == BF_KIND_WL || k == BF_KIND_BL)
		return bf_parse_cidr(buf, false, &out->cidr) ? -EINVAL : 0;
	if (k != BF_KIND_PUNCH)
		return -EINVAL;
	/* Exactly single spaces: the member is a set key, one spelling only. */
	if (strstr(buf, "  ") || buf[0] == ' ' || (n && buf[n - 1] == ' '))
		return -EINVAL;
	for (t = strtok_r(buf, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
		if (ntok == 6)
			return -EINVAL;
		tok[ntok++] = t;
	}
	if (ntok != 5 || strcmp(tok[3], "via"))
		return -EINVAL;
	proto = bf_parse_proto(tok[0]);
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

	if (e->kind == BF_KIND_WL || e->kind == BF_KIND_BL)
		return fmt(buf, len, "%s", bf_cidr_str(&e->cidr, c)) < 0 ? -ENOSPC :
									      (int)strlen(buf);
	if (e->kind != BF_KIND_PUNCH)
		return -EINVAL;
	if (fmt(buf, len, "%s %s:%u %s:%u via %s", bf_proto_name(e->punch.proto),
		bf_ipv4_str(e->punch.remote_ip, r), e->punch.remote_port,
		bf_ipv4_str(e->punch.bind_ip, b), e->punch.bind_port,
		bf_ipv4_str(e->punch.machine_ip, m)) < 0)
		return -ENOSPC;
	return (int)strlen(buf);
}

static bool field_is(const struct bf_field *f, const char *name);

/* ---- per-source limits ---- */

/* Kilimanjaro's UDP defaults per game; the TCP (RCON, web) and ICMP figures
 * are Bifrost's own. All block for 30 s. None shares its bans with the
 * fleet: a flood forging a player's address at one POP must not cut that
 * player off at the POP his real traffic uses (docs/ARCHITECTURE.md). */
static const struct {
	const char *name;
	uint32_t udp, tcp, icmp;
} presets[] = {
	{ "source", 2000, 200, 10 },
	{ "rust", 5000, 200, 10 },
	{ "gmod", 10000, 200, 10 },
};

void bf_limits_init(struct bf_limits *l)
{
	memset(l, 0, sizeof(*l));
	l->block_ms = BF_LIMIT_BLOCK_DEFAULT_MS;
	l->burst_ms = BF_LIMIT_BURST_DEFAULT_MS;
	l->share_bans = false;
}

bool bf_limits_any(const struct bf_limits *l)
{
	return l->pps || l->bps;
}

int bf_limits_preset(const char *name, int proto, struct bf_limits *out)
{
	for (size_t i = 0; i < sizeof(presets) / sizeof(presets[0]); i++) {
		if (strcmp(name, presets[i].name))
			continue;
		bf_limits_init(out);
		out->pps = proto == IPPROTO_UDP ? presets[i].udp :
			   proto == IPPROTO_TCP ? presets[i].tcp : presets[i].icmp;
		snprintf(out->preset, sizeof(out->preset), "%s", name);
		return 0;
	}
	return -EINVAL;
}

const char *bf_limits_preset_names(void)
{
	return "source, rust, gmod";
}

int bf_parse_rate(const char *s, uint64_t max, uint64_t *out)
{
	static const struct {
		char c;
		uint64_t mult;
	} sfx[] = { { 'k', 1000 }, { 'm', 1000000 }, { 'g', 1000000000 } };
	char num[24];
	size_t n = s ? strlen(s) : 0;
	uint64_t mult = 1, v;

	if (!n || n >= sizeof(num))
		return -EINVAL;
	memcpy(num, s, n + 1);
	for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++)
		if (tolower((unsigned char)num[n - 1]) == sfx[i].c) {
			mult = sfx[i].mult;
			num[--n] = '\0';
		}
	if (bf_parse_u64(num, max / mult, &v))
		return -EINVAL;
	*out = v * mult;
	return 0;
}

static int parse_yesno(const char *s, bool *out)
{
	if (!strcmp(s, "yes") || !strcmp(s, "true") || !strcmp(s, "on") || !strcmp(s, "1"))
		*out = true;
	else if (!strcmp(s, "no") || !strcmp(s, "false") || !strcmp(s, "off") || !strcmp(s, "0"))
		*out = false;
	else
		return -EINVAL;
	return 0;
}

enum { LF_PPS, LF_BPS, LF_BLOCK, LF_BURST, LF_SHARE, LF_PRESET, LF_N };

static const struct {
	const char *name, *bad, *twice;
} limit_fields[LF_N] = {
	[LF_PPS] = { "pps", "pps: not a packet rate (0 to 100m per second, k or m suffix)",
		     "pps: given twice" },
	[LF_BPS] = { "bps", "bps: not a byte rate (0 to 100g bytes per second, k, m or g suffix)",
		     "bps: given twice" },
	[LF_BLOCK] = { "block", "block: not a duration up to 7d (30s, 5m; 0 = drop the excess only)",
		       "block: given twice" },
	[LF_BURST] = { "burst", "burst: not a duration from 1ms to 10s (100ms, 1s)",
		       "burst: given twice" },
	[LF_SHARE] = { "share_bans", "share_bans: not yes or no", "share_bans: given twice" },
	[LF_PRESET] = { "preset", "preset: unknown (source, rust or gmod)", "preset: given twice" },
};

static const char *limit_apply(struct bf_limits *l, int which, const char *v)
{
	uint64_t x;

	switch (which) {
	case LF_PPS:
		if (bf_parse_rate(v, BF_LIMIT_PPS_MAX, &x))
			return limit_fields[which].bad;
		l->pps = (uint32_t)x;
		return NULL;
	case LF_BPS:
		if (bf_parse_rate(v, BF_LIMIT_BPS_MAX, &x))
			return limit_fields[which].bad;
		l->bps = x;
		return NULL;
	case LF_BLOCK:
		if (bf_parse_duration_ms(v, &x) || x > BF_LIMIT_BLOCK_MAX_MS)
			return limit_fields[which].bad;
		l->block_ms = (uint32_t)x;
		return NULL;
	case LF_BURST:
		if (bf_parse_duration_ms(v, &x) || !x || x > BF_LIMIT_BURST_MAX_MS)
			return limit_fields[which].bad;
		l->burst_ms = (uint32_t)x;
		return NULL;
	case LF_SHARE:
		return parse_yesno(v, &l->share_bans) ? limit_fields[which].bad : NULL;
	default:
		return limit_fields[which].bad;
	}
}

bool bf_field_is_limit(const struct bf_field *f)
{
	for (int k = 0; k < LF_N; k++)
		if (field_is(f, limit_fields[k].name))
			return true;
	return false;
}

int bf_limits_parse_fields(const struct bf_field *f, size_t n, int proto, struct bf_limits *l,
			   const char **what)
{
	const struct bf_field *slot[LF_N] = { NULL };
	char buf[32];

	for (size_t i = 0; i < n; i++)
		for (int k = 0; k < LF_N; k++) {
			if (!field_is(&f[i], limit_fields[k].name))
				continue;
			if (slot[k]) {
				*what = limit_fields[k].twice;
				return -EINVAL;
			}
			slot[k] = &f[i];
		}
	/* The preset is the base; the other fields change it, in any order. */
	if (slot[LF_PRESET]) {
		if (cstr(buf, sizeof(buf), slot[LF_PRESET]->val, slot[LF_PRESET]->val_len) ||
		    bf_limits_preset(buf, proto, l)) {
			*what = limit_fields[LF_PRESET].bad;
			return -EINVAL;
		}
	}
	for (int k = 0; k < LF_PRESET; k++) {
		const char *bad;

		if (!slot[k])
			continue;
		if (cstr(buf, sizeof(buf), slot[k]->val, slot[k]->val_len)) {
			*what = limit_fields[k].bad;
			return -EINVAL;
		}
		bad = limit_apply(l, k, buf);
		if (bad) {
			*what = bad;
			return -EINVAL;
		}
	}
	return 0;
}

static int fmt_ms(char *buf, size_t len, uint64_t ms)
{
	return ms && ms % 1000 == 0 ? fmt(buf, len, "%llus", (unsigned long long)(ms / 1000)) :
				      fmt(buf, len, "%llums", (unsigned long long)ms);
}

int bf_limits_format(const struct bf_limits *l, char *buf, size_t len)
{
	char block[24], burst[24];
	int n;

	buf[0] = '\0';
	if (!bf_limits_any(l))
		return 0;
	fmt_ms(block, sizeof(block), l->block_ms);
	fmt_ms(burst, sizeof(burst), l->burst_ms);
	n = fmt(buf, len, "%s%s%spps %u bps %llu block %s burst %s share_bans %s",
		l->preset[0] ? "preset " : "", l->preset, l->preset[0] ? " " : "", l->pps,
		(unsigned long long)l->bps, block, burst, l->share_bans ? "yes" : "no");
	return n < 0 ? -ENOSPC : n;
}

/* ---- connections ---- */

int bf_conn_parse_key(const char *key, size_t n, const char *prefix, struct bf_conn *out)
{
	char buf[BF_KEY_MAX], *proto, *ep;
	size_t pl = strlen(prefix);
	int p;

	memset(out, 0, sizeof(*out));
	bf_limits_init(&out->limits);
	if (cstr(buf, sizeof(buf), key, n) || strncmp(buf, prefix, pl) ||
	    strncmp(buf + pl, "conn:", 5))
		return -EINVAL;
	proto = buf + pl + 5;
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
		if (field_is(&f[i], "machine")) {
			if (cstr(buf, sizeof(buf), f[i].val, f[i].val_len) ||
			    bf_parse_ipv4(buf, &c->machine_ip) || !c->machine_ip) {
				*what = "machine is not an address";
				return -EINVAL;
			}
			have_machine = true;
		} else if (field_is(&f[i], "port")) {
			uint64_t v;

			if (cstr(buf, sizeof(buf), f[i].val, f[i].val_len) ||
			    bf_parse_u64(buf, 65535, &v) || !v || c->proto == IPPROTO_ICMP) {
				*what = "port is not 1-65535 (or given for icmp)";
				return -EINVAL;
			}
			c->machine_port = (uint16_t)v;
		} else if (field_is(&f[i], "a2s")) {
			/* Exactly "0" or "1": a typo must not silently turn the cache off. */
			if (f[i].val_len != 1 || (f[i].val[0] != '0' && f[i].val[0] != '1')) {
				*what = "a2s is not 0 or 1";
				return -EINVAL;
			}
			c->a2s = f[i].val[0] == '1';
		}
	}
	if (c->a2s && c->proto != IPPROTO_UDP) {
		*what = "a2s on a connection that is not udp";
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

/* ---- A2S cache keys ---- */

static const char *a2s_key_names[BF_A2S_KEY_MAX] = { "", "player:", "rules:", "lock:" };

int bf_key_a2s(char *buf, size_t len, const char *prefix, enum bf_a2s_key k, uint32_t ip,
	       uint16_t port)
{
	char a[BF_ADDR_STRLEN];

	if ((unsigned)k >= BF_A2S_KEY_MAX || !port)
		return -EINVAL;
	return fmt(buf, len, "%sa2s:%s%s:%u", prefix, a2s_key_names[k], bf_ipv4_str(ip, a), port);
}

int bf_key_a2s_channel(char *buf, size_t len, const char *prefix)
{
	return fmt(buf, len, "%sa2s", prefix);
}

int bf_key_a2s_parse(const char *key, size_t n, const char *prefix, enum bf_a2s_key *k,
		     uint32_t *ip, uint16_t *port)
{
	char buf[BF_KEY_MAX], *rest;
	size_t pl = strlen(prefix);

	if (cstr(buf, sizeof(buf), key, n) || strncmp(buf, prefix, pl) ||
	    strncmp(buf + pl, "a2s:", 4))
		return -EINVAL;
	rest = buf + pl + 4;
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

/* ---- firewall rules ---- */

int bf_key_rules(char *buf, size_t len, const char *prefix)
{
	return fmt(buf, len, "%srules", prefix);
}

int bf_key_protect(char *buf, size_t len, const char *prefix)
{
	return fmt(buf, len, "%sprotect", prefix);
}

int bf_rule_id_parse(const char *s, size_t n, uint32_t *id)
{
	char buf[12];
	uint64_t v;

	if (cstr(buf, sizeof(buf), s, n) || (buf[0] == '0' && buf[1]) ||
	    bf_parse_u64(buf, BF_RULE_ID_MAX, &v) || !v)
		return -EINVAL;
	*id = (uint32_t)v;
	return 0;
}

enum rf_kind { RK_ENABLED, RK_ACTION, RK_DRY_RUN, RK_EDGES, RK_CIDR, RK_PROTO, RK_RANGE,
	       RK_IPFLAGS, RK_TCPFLAGS, RK_RATE, RK_PAYLOAD };
enum rf_need { NEED_ANY = 0, NEED_UDP_TCP, NEED_TCP, NEED_ICMP };

/* The fields, in the order of the canonical text. */
static const struct rule_field {
	const char *name;
	enum rf_kind kind;
	uint32_t bit;          /* BF_RF_*; 0 for the fields that are no match */
	size_t off;            /* of the value in struct bf_rule_def */
	uint32_t lo, hi;       /* RK_RANGE: what a value may be */
	enum rf_need need;
} rule_fields[] = {
#define OFF(m) offsetof(struct bf_rule_def, m)
	{ "enabled", RK_ENABLED, 0, 0, 0, 0, NEED_ANY },
	{ "action", RK_ACTION, 0, 0, 0, 0, NEED_ANY },
	{ "dry_run", RK_DRY_RUN, 0, 0, 0, 0, NEED_ANY },
	{ "edges", RK_EDGES, 0, 0, 0, 0, NEED_ANY },
	{ "src", RK_CIDR, BF_RF_SRC, OFF(src), 0, 0, NEED_ANY },
	{ "dst", RK_CIDR, BF_RF_DST, OFF(dst), 0, 0, NEED_ANY },
	{ "proto", RK_PROTO, BF_RF_PROTO, 0, 0, 0, NEED_ANY },
	{ "ihl", RK_RANGE, BF_RF_IHL, OFF(ihl), 5, 15, NEED_ANY },
	{ "tos", RK_RANGE, BF_RF_TOS, OFF(tos), 0, 255, NEED_ANY },
	{ "ip_id", RK_RANGE, BF_RF_IP_ID, OFF(ip_id), 0, 65535, NEED_ANY },
	{ "frag_off", RK_RANGE, BF_RF_FRAG, OFF(frag), 0, 8191, NEED_ANY },
	{ "ttl", RK_RANGE, BF_RF_TTL, OFF(ttl), 0, 255, NEED_ANY },
	{ "ip_len", RK_RANGE, BF_RF_IP_LEN, OFF(ip_len), 20, 65535, NEED_ANY },
	{ "ip_flags", RK_IPFLAGS, BF_RF_IP_FLAGS, 0, 0, 0, NEED_ANY },
	{ "sport", RK_RANGE, BF_RF_SPORT, OFF(sport), 0, 65535, NEED_UDP_TCP },
	{ "dport", RK_RANGE, BF_RF_DPORT, OFF(dport), 0, 65535, NEED_UDP_TCP },
	{ "tcp_flags", RK_TCPFLAGS, BF_RF_TCP_FLAGS, 0, 0, 0, NEED_TCP },
	{ "tcp_seq", RK_RANGE, BF_RF_TCP_SEQ, OFF(tcp_seq), 0, UINT32_MAX, NEED_TCP },
	{ "tcp_ack", RK_RANGE, BF_RF_TCP_ACK, OFF(tcp_ack), 0, UINT32_MAX, NEED_TCP },
	{ "tcp_window", RK_RANGE, BF_RF_TCP_WIN, OFF(tcp_win), 0, 65535, NEED_TCP },
	{ "icmp_type", RK_RANGE, BF_RF_ICMP_TYPE, OFF(icmp_type), 0, 255, NEED_ICMP },
	{ "icmp_code", RK_RANGE, BF_RF_ICMP_CODE, OFF(icmp_code), 0, 255, NEED_ICMP },
	{ "payload_len", RK_RANGE, BF_RF_PAYLOAD_LEN, OFF(payload_len), 0, 65535, NEED_ANY },
	{ "payload", RK_PAYLOAD, BF_RF_PAYLOAD, 0, 0, 0, NEED_ANY },
	{ "pps", RK_RATE, BF_RF_PPS, OFF(pps), 0, 0, NEED_ANY },
	{ "bps", RK_RATE, BF_RF_BPS, OFF(bps), 0, 0, NEED_ANY },
#undef OFF
};
#define N_RULE_FIELDS (sizeof(rule_fields) / sizeof(rule_fields[0]))

/* Flag names by bit, low bit first (TCP: header byte 13; IP: RF DF MF). */
static const char *const tcp_flag_names[8] = { "fin", "syn", "rst", "psh",
					       "ack", "urg", "ece", "cwr" };
static const char *const ip_flag_names[3] = { "mf", "df", "rf" };

/* A value as it may appear in a message: at most 32 printable bytes. */
static const char *shown(const char *v, size_t n, char out[40])
{
	size_t i, m = n > 32 ? 32 : n;

	for (i = 0; i < m; i++)
		out[i] = v[i] >= 0x20 && v[i] < 0x7f ? v[i] : '?';
	if (n > m) {
		memcpy(out + i, "...", 3);
		i += 3;
	}
	out[i] = '\0';
	return out;
}

/* "N" or "N-M" within [lo, hi], N <= M. */
static int parse_range(const char *s, uint32_t lo, uint32_t hi, struct bf_range *r)
{
	char a[12], b[12];
	const char *dash = strchr(s, '-');
	uint64_t x, y;

	if (dash) {
		if ((size_t)(dash - s) >= sizeof(a) || strlen(dash + 1) >= sizeof(b))
			return -EINVAL;
		memcpy(a, s, (size_t)(dash - s));
		a[dash - s] = '\0';
		strcpy(b, dash + 1);
	} else {
		if (strlen(s) >= sizeof(a))
			return -EINVAL;
		strcpy(a, s);
		strcpy(b, s);
	}
	if (bf_parse_u64(a, hi, &x) || bf_parse_u64(b, hi, &y) || x < lo || x > y)
		return -EINVAL;
	r->lo = (uint32_t)x;
	r->hi = (uint32_t)y;
	return 0;
}

/* "syn,!ack": names from `names` (bit i), each optionally negated, each once. */
static int parse_flags(const char *s, const char *const *names, int nbits, uint8_t *mask,
		       uint8_t *val)
{
	char buf[64], *save = NULL, *t;

	if (strlen(s) >= sizeof(buf) || !*s || s[strlen(s) - 1] == ',' || strstr(s, ",,"))
		return -EINVAL;
	strcpy(buf, s);
	*mask = *val = 0;
	for (t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		bool neg = *t == '!';
		int b;

		for (b = 0; b < nbits; b++)
			if (!strcmp(t + neg, names[b]))
				break;
		if (b == nbits || (*mask & (1u << b)))
			return -EINVAL;
		*mask |= (uint8_t)(1u << b);
		if (!neg)
			*val |= (uint8_t)(1u << b);
	}
	return 0;
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 :
	       c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static int parse_hex(const char *s, size_t n, uint8_t *out, size_t cap, size_t *len)
{
	if (!n || n % 2 || n / 2 > cap)
		return -EINVAL;
	for (size_t i = 0; i < n; i += 2) {
		int h = hexval(s[i]), l = hexval(s[i + 1]);

		if (h < 0 || l < 0)
			return -EINVAL;
		out[i / 2] = (uint8_t)(h << 4 | l);
	}
	*len = n / 2;
	return 0;
}

/* "OFFSET:HEX" or "OFFSET:HEX/MASK". */
static const char *parse_payload(const char *s, struct bf_rule_def *r)
{
	const char *colon = strchr(s, ':'), *slash;
	char off[8];
	uint64_t o;
	size_t n, mn;

	if (!colon || (size_t)(colon - s) >= sizeof(off))
		return "payload: want OFFSET:HEX or OFFSET:HEX/MASK (e.g. 4:54536f75726365)";
	memcpy(off, s, (size_t)(colon - s));
	off[colon - s] = '\0';
	if (bf_parse_u64(off, BF_RULE_PAYLOAD_OFF_MAX, &o))
		return "payload: offset is not 0-1400";
	slash = strchr(colon + 1, '/');
	n = slash ? (size_t)(slash - colon - 1) : strlen(colon + 1);
	if (parse_hex(colon + 1, n, r->pl_val, BF_RULE_PAYLOAD_MAX, &n))
		return "payload: bytes are not 1-16 bytes of hex digits";
	memset(r->pl_mask, 0xff, n);
	if (slash) {
		if (parse_hex(slash + 1, strlen(slash + 1), r->pl_mask, BF_RULE_PAYLOAD_MAX, &mn) ||
		    mn != n)
			return "payload: mask is not hex digits as long as the bytes";
		for (size_t i = 0; i < n; i++)
			if (r->pl_val[i] & ~r->pl_mask[i])
				return "payload: bytes have bits outside the mask (no packet could match)";
	}
	r->pl_off = (uint16_t)o;
	r->pl_len = (uint8_t)n;
	return NULL;
}

static bool edges_valid(const char *s)
{
	char buf[BF_RULE_EDGES_MAX + 1], *save = NULL, *t;
	size_t n = strlen(s);

	if (!strcmp(s, "*"))
		return true;
	if (!n || n > BF_RULE_EDGES_MAX || s[n - 1] == ',' || s[0] == ',' || strstr(s, ",,"))
		return false;
	strcpy(buf, s);
	for (t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
		if (!bf_origin_valid(t))
			return false;
	return true;
}

bool bf_rule_applies(const struct bf_rule_def *r, const char *edge_id)
{
	char buf[BF_RULE_EDGES_MAX + 1], *save = NULL, *t;

	if (!strcmp(r->edges, "*"))
		return true;
	if (!edge_id)
		return false;
	snprintf(buf, sizeof(buf), "%s", r->edges);
	for (t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
		if (!strcmp(t, edge_id))
			return true;
	return false;
}

#define RULE_ERR(...)                                   \
	do {                                            \
		snprintf(err, errlen, __VA_ARGS__);     \
		return -EINVAL;                         \
	} while (0)

/* One field's value into *r. 0, or -EINVAL with err naming the field. */
static int rule_field_apply(const struct rule_field *rf, const char *v, struct bf_rule_def *r,
			    char *err, size_t errlen)
{
	char sv[40];
	const char *bad;
	uint64_t x;
	int p;

	switch (rf->kind) {
	case RK_ENABLED:
	case RK_DRY_RUN:
		if (parse_yesno(v, rf->kind == RK_ENABLED ? &r->enabled : &r->dry_run))
			RULE_ERR("%s: '%s' is not yes or no", rf->name, shown(v, strlen(v), sv));
		return 0;
	case RK_ACTION:
		if (!strcmp(v, "drop"))
			r->action = BF_RULE_DROP;
		else if (!strcmp(v, "pass"))
			r->action = BF_RULE_PASS;
		else
			RULE_ERR("action: '%s' is not pass or drop", shown(v, strlen(v), sv));
		return 0;
	case RK_EDGES:
		if (!edges_valid(v))
			RULE_ERR("edges: '%s' is not * or a comma list of edge ids",
				 shown(v, strlen(v), sv));
		snprintf(r->edges, sizeof(r->edges), "%s", v);
		return 0;
	case RK_CIDR:
		if (bf_parse_cidr(v, false, (struct bf_cidr *)((char *)r + rf->off)))
			RULE_ERR("%s: '%s' is not a CIDR (a.b.c.d/len, no host bits set)", rf->name,
				 shown(v, strlen(v), sv));
		break;
	case RK_PROTO:
		p = bf_parse_proto(v);
		if (p < 0) {
			if (bf_parse_u64(v, 255, &x) || (v[0] == '0' && v[1]))
				RULE_ERR("proto: '%s' is not udp, tcp, icmp or 0-255",
					 shown(v, strlen(v), sv));
			p = (int)x;
		}
		r->proto = (uint8_t)p;
		break;
	case RK_RANGE:
		if (parse_range(v, rf->lo, rf->hi, (struct bf_range *)((char *)r + rf->off)))
			RULE_ERR("%s: '%s' is not N or N-M within %u-%u", rf->name,
				 shown(v, strlen(v), sv), rf->lo, rf->hi);
		break;
	case RK_IPFLAGS:
		if (parse_flags(v, ip_flag_names, 3, &r->ipfl_mask, &r->ipfl_val))
			RULE_ERR("ip_flags: '%s' is not a comma list of rf, df, mf (each may be !negated)",
				 shown(v, strlen(v), sv));
		break;
	case RK_TCPFLAGS:
		if (parse_flags(v, tcp_flag_names, 8, &r->tcpfl_mask, &r->tcpfl_val))
			RULE_ERR("tcp_flags: '%s' is not a comma list of fin, syn, rst, psh, ack, urg, "
				 "ece, cwr (each may be !negated)",
				 shown(v, strlen(v), sv));
		break;
	case RK_RATE:
		if (bf_parse_rate(v, BF_RULE_RATE_MAX, &x) || !x)
			RULE_ERR("%s: '%s' is not a rate from 1 to 100g per second (k, m, g suffix)",
				 rf->name, shown(v, strlen(v), sv));
		*(uint64_t *)((char *)r + rf->off) = x;
		break;
	case RK_PAYLOAD:
		bad = parse_payload(v, r);
		if (bad)
			RULE_ERR("%s", bad);
		break;
	}
	r->used |= rf->bit;
	return 0;
}

int bf_rule_parse_fields(uint32_t id, const struct bf_field *f, size_t n,
			 struct bf_rule_def *out, char *err, size_t errlen)
{
	const struct bf_field *slot[N_RULE_FIELDS] = { NULL };
	struct bf_rule_def r;
	char v[BF_RULE_TEXT_MAX + 1], sv[40];

	memset(out, 0, sizeof(*out));
	if (!id || id > BF_RULE_ID_MAX)
		RULE_ERR("id: %u is not 1-%u", id, BF_RULE_ID_MAX);
	for (size_t i = 0; i < n; i++) {
		size_t k;

		for (k = 0; k < N_RULE_FIELDS; k++)
			if (field_is(&f[i], rule_fields[k].name))
				break;
		if (k == N_RULE_FIELDS)
			RULE_ERR("unknown field '%s'", shown(f[i].name, f[i].name_len, sv));
		if (slot[k])
			RULE_ERR("%s: given twice", rule_fields[k].name);
		slot[k] = &f[i];
	}
	memset(&r, 0, sizeof(r));
	r.id = id;
	r.enabled = true;
	strcpy(r.edges, "*");
	for (size_t k = 0; k < N_RULE_FIELDS; k++) {
		if (!slot[k])
			continue;
		if (cstr(v, sizeof(v), slot[k]->val, slot[k]->val_len) || !v[0])
			RULE_ERR("%s: empty, too long or with a NUL byte", rule_fields[k].name);
		if (rule_field_apply(&rule_fields[k], v, &r, err, errlen))
			return -EINVAL;
	}
	if (!r.action)
		RULE_ERR("action: missing (pass or drop)");
	for (size_t k = 0; k < N_RULE_FIELDS; k++) {
		const struct rule_field *rf = &rule_fields[k];
		bool proto = r.used & BF_RF_PROTO;

		if (!slot[k] || rf->need == NEED_ANY)
			continue;
		if (rf->need == NEED_UDP_TCP &&
		    (!proto || (r.proto != IPPROTO_UDP && r.proto != IPPROTO_TCP)))
			RULE_ERR("%s: needs proto udp or tcp", rf->name);
		if (rf->need == NEED_TCP && (!proto || r.proto != IPPROTO_TCP))
			RULE_ERR("%s: needs proto tcp", rf->name);
		if (rf->need == NEED_ICMP && (!proto || r.proto != IPPROTO_ICMP))
			RULE_ERR("%s: needs proto icmp", rf->name);
	}
	*out = r;
	return 0;
}

int bf_rule_parse(uint32_t id, const char *text, size_t n, struct bf_rule_def *out, char *err,
		  size_t errlen)
{
	char buf[BF_RULE_TEXT_MAX + 1], *tok[2 * N_RULE_FIELDS + 1], *save = NULL, *t;
	struct bf_field f[N_RULE_FIELDS];
	size_t ntok = 0;

	memset(out, 0, sizeof(*out));
	if (n > BF_RULE_TEXT_MAX)
		RULE_ERR("rule: longer than %d bytes", BF_RULE_TEXT_MAX);
	if (cstr(buf, sizeof(buf), text, n))
		RULE_ERR("rule: contains a NUL byte");
	for (t = strtok_r(buf, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
		if (ntok == 2 * N_RULE_FIELDS)
			RULE_ERR("rule: more fields than there are (%zu)", N_RULE_FIELDS);
		tok[ntok++] = t;
	}
	if (ntok % 2) {
		char sv[40];

		RULE_ERR("%s: has no value", shown(tok[ntok - 1], strlen(tok[ntok - 1]), sv));
	}
	for (size_t i = 0; i < ntok / 2; i++)
		f[i] = (struct bf_field){ tok[2 * i], strlen(tok[2 * i]), tok[2 * i + 1],
					  strlen(tok[2 * i + 1]) };
	return bf_rule_parse_fields(id, f, ntok / 2, out, err, errlen);
}

static int fmt_range(char *buf, size_t len, const struct bf_range *r)
{
	if (r->lo == r->hi)
		return fmt(buf, len, "%u", r->lo);
	return fmt(buf, len, "%u-%u", r->lo, r->hi);
}

static void fmt_flags(char *buf, size_t len, const char *const *names, int nbits, uint8_t mask,
		      uint8_t val)
{
	size_t o = 0;

	buf[0] = '\0';
	/* IP flags read best from the top bit (rf, df, mf); TCP from fin up. */
	for (int i = 0; i < nbits; i++) {
		int b = nbits == 3 ? 2 - i : i;

		if (!(mask & (1u << b)))
			continue;
		o += (size_t)snprintf(buf + o, len - o, "%s%s%s", o ? "," : "",
				      val & (1u << b) ? "" : "!", names[b]);
		if (o >= len)
			return;
	}
}

int bf_rule_format(const struct bf_rule_def *r, char *buf, size_t len)
{
	size_t o = 0;

	if (!len)
		return -ENOSPC;
	buf[0] = '\0';
	for (size_t k = 0; k < N_RULE_FIELDS; k++) {
		const struct rule_field *rf = &rule_fields[k];
		char v[BF_RULE_EDGES_MAX + 1];
		int n;

		switch (rf->kind) {
		case RK_ENABLED:
			if (r->enabled)
				continue;
			strcpy(v, "no");
			break;
		case RK_ACTION:
			strcpy(v, r->action == BF_RULE_DROP ? "drop" : "pass");
			break;
		case RK_DRY_RUN:
			if (!r->dry_run)
				continue;
			strcpy(v, "yes");
			break;
		case RK_EDGES:
			if (!strcmp(r->edges, "*"))
				continue;
			snprintf(v, sizeof(v), "%s", r->edges);
			break;
		default:
			if (!(r->used & rf->bit))
				continue;
			break;
		}
		switch (rf->kind) {
		case RK_CIDR:
			bf_cidr_str((const struct bf_cidr *)((const char *)r + rf->off), v);
			break;
		case RK_PROTO:
			if (r->proto == IPPROTO_UDP || r->proto == IPPROTO_TCP ||
			    r->proto == IPPROTO_ICMP)
				snprintf(v, sizeof(v), "%s", bf_proto_name(r->proto));
			else
				snprintf(v, sizeof(v), "%u", r->proto);
			break;
		case RK_RANGE:
			fmt_range(v, sizeof(v), (const struct bf_range *)((const char *)r + rf->off));
			break;
		case RK_IPFLAGS:
			fmt_flags(v, sizeof(v), ip_flag_names, 3, r->ipfl_mask, r->ipfl_val);
			break;
		case RK_TCPFLAGS:
			fmt_flags(v, sizeof(v), tcp_flag_names, 8, r->tcpfl_mask, r->tcpfl_val);
			break;
		case RK_RATE:
			snprintf(v, sizeof(v), "%llu",
				 (unsigned long long)*(const uint64_t *)((const char *)r + rf->off));
			break;
		case RK_PAYLOAD: {
			size_t vo = (size_t)snprintf(v, sizeof(v), "%u:", r->pl_off);
			bool full = true;

			for (int i = 0; i < r->pl_len; i++) {
				vo += (size_t)snprintf(v + vo, sizeof(v) - vo, "%02x", r->pl_val[i]);
				full &= r->pl_mask[i] == 0xff;
			}
			if (!full) {
				vo += (size_t)snprintf(v + vo, sizeof(v) - vo, "/");
				for (int i = 0; i < r->pl_len; i++)
					vo += (size_t)snprintf(v + vo, sizeof(v) - vo, "%02x",
							       r->pl_mask[i]);
			}
			break;
		}
		default:
			break;
		}
		n = snprintf(buf + o, len - o, "%s%s %s", o ? " " : "", rf->name, v);
		if (n < 0 || (size_t)n >= len - o) {
			buf[o] = '\0';
			return -ENOSPC;
		}
		o += (size_t)n;
	}
	return (int)o;
}

/* ---- expiry ---- */

int bf_exp_parse(const char *s, size_t n, int64_t now_ms, int64_t *exp_ms)
{
	char buf[24];
	uint64_t v;

	if (cstr(buf, sizeof(buf), s, n))
		return -EINVAL;
	if (!strcmp(buf, "+inf") || !strcmp(buf, "inf")) {
		*exp_ms = BF_EXP_INF;
		return 0;
	}
	if (bf_parse_u64(buf, (uint64_t)INT64_MAX - 1, &v))
		return -EINVAL;
	if ((int64_t)v <= now_ms)
		return -ESTALE;
	if ((int64_t)v - now_ms > BF_EXP_HORIZON_MS)
		return -ERANGE;
	*exp_ms = (int64_t)v;
	return 0;
}

int bf_exp_format(int64_t exp_ms, char *buf, size_t len)
{
	if (exp_ms == BF_EXP_INF)
		return fmt(buf, len, "+inf");
	return fmt(buf, len, "%lld", (long long)exp_ms);
}

/* ---- change-log records ---- */

static bool field_is(const struct bf_field *f, const char *name)
{
	return f->name_len == strlen(name) && !memcmp(f->name, name, f->name_len);
}

int bf_log_rec_parse(enum bf_kind k, const struct bf_field *f, size_t n, int64_t now_ms,
		     struct bf_log_rec *out, const char **what)
{
	const struct bf_field *op = NULL, *entry = NULL, *exp = NULL, *seq = NULL, *why = NULL;
	char buf[24];
	int rc;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < n; i++) {
		const struct bf_field **slot = field_is(&f[i], "op")	  ? &op :
					       field_is(&f[i], "entry") ? &entry :
					       field_is(&f[i], "exp")	  ? &exp :
					       field_is(&f[i], "seq")	  ? &seq :
					       field_is(&f[i], "why")	  ? &why :
									    NULL;
		if (!slot)
			continue; /* newer writers may add fields */
		if (*slot) {
			*what = "a field appears twice";
			return -EINVAL;
		}
		*slot = &f[i];
	}
	if (!op || !entry || !seq) {
		*what = "missing op, entry or seq";
		return -EINVAL;
	}
	if (op->val_len == 3 && !memcmp(op->val, "add", 3))
		out->op = BF_OP_ADD;
	else if (op->val_len == 3 && !memcmp(op->val, "del", 3))
		out->op = BF_OP_DEL;
	else {
		*what = "op is neither add nor del";
		return -EINVAL;
	}
	if (bf_entry_parse(k, entry->val, entry->val_len, &out->entry)) {
		*what = "malformed entry";
		return -EINVAL;
	}
	if (cstr(buf, sizeof(buf), seq->val, seq->val_len) ||
	    bf_parse_u64(buf, UINT64_MAX, &out->seq) || out->seq == 0) {
		*what = "seq is not a positive integer";
		return -EINVAL;
	}
	out->exp_ms = BF_EXP_INF;
	if (out->op == BF_OP_ADD) {
		if (!exp) {
			*what = "add without exp";
			return -EINVAL;
		}
		rc = bf_exp_parse(exp->val, exp->val_len, now_ms, &out->exp_ms);
		if (rc) {
			*what = rc == -ESTALE ? "exp already passed" :
				rc == -ERANGE ? "exp absurdly far" : "exp is not +inf or ms";
			return rc;
		}
	}
	if (why) {
		if (why->val_len > BF_WHY_MAX) {
			*what = "why longer than 64 bytes";
			return -EINVAL;
		}
		if (!no_controls(why->val, why->val_len)) {
			*what = "why has control characters";
			return -EINVAL;
		}
		memcpy(out->why, why->val, why->val_len);
		out->why[why->val_len] = '\0';
	}
	return 0;
}

/* ---- msgpack structure check ---- */

static int need(const uint8_t *p, const uint8_t *end, uint64_t n)
{
	return (uint64_t)(end - p) >= n ? 0 : -EINVAL;
}

static uint64_t be(const uint8_t *p, int n)
{
	uint64_t v = 0;

	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

static int mp_skip(const uint8_t **pp, const uint8_t *end, unsigned depth)
{
	const uint8_t *p = *pp;
	uint64_t count = 0, skip = 0;
	int pairs = 0;
	uint8_t b;

	if (need(p, end, 1))
		return -EINVAL;
	b = *p++;
	if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
		skip = 0;
	} else if ((b & 0xf0) == 0x80) {
		count = b & 0x0f;
		pairs = 1;
	} else if ((b & 0xf0) == 0x90) {
		count = b & 0x0f;
	} else if ((b & 0xe0) == 0xa0) {
		skip = b & 0x1f;
	} else {
		switch (b) {
		case 0xc4: case 0xd9: /* bin8, str8 */
			if (need(p, end, 1)) return -EINVAL;
			skip = p[0]; p += 1; break;
		case 0xc5: case 0xda:
			if (need(p, end, 2)) return -EINVAL;
			skip = be(p, 2); p += 2; break;
		case 0xc6: case 0xdb:
			if (need(p, end, 4)) return -EINVAL;
			skip = be(p, 4); p += 4; break;
		case 0xc7: if (need(p, end, 1)) return -EINVAL; skip = p[0] + 1ULL; p += 1; break;
		case 0xc8: if (need(p, end, 2)) return -EINVAL; skip = be(p, 2) + 1; p += 2; break;
		case 0xc9: if (need(p, end, 4)) return -EINVAL; skip = be(p, 4) + 1; p += 4; break;
		case 0xca: case 0xce: case 0xd2: skip = 4; break;
		case 0xcb: case 0xcf: case 0xd3: skip = 8; break;
		case 0xcc: case 0xd0: skip = 1; break;
		case 0xcd: case 0xd1: skip = 2; break;
		case 0xd4: skip = 2; break;
		case 0xd5: skip = 3; break;
		case 0xd6: skip = 5; break;
		case 0xd7: skip = 9; break;
		case 0xd8: skip = 17; break;
		case 0xdc: if (need(p, end, 2)) return -EINVAL; count = be(p, 2); p += 2; break;
		case 0xdd: if (need(p, end, 4)) return -EINVAL; count = be(p, 4); p += 4; break;
		case 0xde: if (need(p, end, 2)) return -EINVAL; count = be(p, 2); p += 2; pairs = 1; break;
		case 0xdf: if (need(p, end, 4)) return -EINVAL; count = be(p, 4); p += 4; pairs = 1; break;
		default: /* 0xc1: never used */
			return -EINVAL;
		}
	}
	if (need(p, end, skip))
		return -EINVAL;
	p += skip;
	if (count) {
		uint64_t items = pairs ? count * 2 : count;

		/* Every item takes at least one byte: a count the buffer cannot
		 * hold is a lie, refused before anyone allocates for it. */
		if (!depth || need(p, end, items))
			return -EINVAL;
		for (uint64_t i = 0; i < items; i++)
			if (mp_skip(&p, end, depth - 1))
				return -EINVAL;
	}
	*pp = p;
	return 0;
}

int bf_msgpack_check(const uint8_t *buf, size_t len, unsigned max_depth)
{
	const uint8_t *p = buf, *end = buf + len;

	if (!len || mp_skip(&p, end, max_depth))
		return -EINVAL;
	return p == end ? 0 : -EINVAL; /* trailing bytes */
}

/* ---- event frames ---- */

static const char *evt_names[] = { NULL, "entry", "up", "down" };

static void pack_str(msgpack_packer *pk, const char *s)
{
	size_t n = strlen(s);

	msgpack_pack_str(pk, n);
	msgpack_pack_str_body(pk, s, n);
}

int bf_evt_encode(const struct bf_evt *e, uint8_t *buf, size_t len)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	char entry[BF_ENTRY_MAX + 1];
	int rc = -ENOSPC;

	if (e->type < BF_EVT_ENTRY || e->type > BF_EVT_EDGE_DOWN || !bf_origin_valid(e->origin))
		return -EINVAL;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	if (e->type == BF_EVT_ENTRY) {
		if (bf_entry_format(&e->rec.entry, entry, sizeof(entry)) < 0) {
			msgpack_sbuffer_destroy(&sb);
			return -EINVAL;
		}
		msgpack_pack_map(&pk, 8);
		pack_str(&pk, "t");
		pack_str(&pk, "entry");
		pack_str(&pk, "o");
		pack_str(&pk, e->origin);
		pack_str(&pk, "k");
		pack_str(&pk, bf_kind_name(e->rec.entry.kind));
		pack_str(&pk, "op");
		pack_str(&pk, e->rec.op == BF_OP_ADD ? "add" : "del");
		pack_str(&pk, "e");
		pack_str(&pk, entry);
		pack_str(&pk, "x"); /* expiry ms; nil = permanent */
		if (e->rec.exp_ms == BF_EXP_INF)
			msgpack_pack_nil(&pk);
		else
			msgpack_pack_int64(&pk, e->rec.exp_ms);
		pack_str(&pk, "s");
		msgpack_pack_uint64(&pk, e->rec.seq);
		pack_str(&pk, "w");
		pack_str(&pk, e->rec.why);
	} else {
		msgpack_pack_map(&pk, 3);
		pack_str(&pk, "t");
		pack_str(&pk, evt_names[e->type]);
		pack_str(&pk, "o");
		pack_str(&pk, e->origin);
		pack_str(&pk, "v");
		pack_str(&pk, e->version);
	}
	if (sb.size <= len) {
		memcpy(buf, sb.data, sb.size);
		rc = (int)sb.size;
	}
	msgpack_sbuffer_destroy(&sb);
	return rc;
}

static int obj_str(const msgpack_object *o, char *dst, size_t cap)
{
	if (o->type != MSGPACK_OBJECT_STR)
		return -EINVAL;
	return cstr(dst, cap, o->via.str.ptr, o->via.str.size);
}

/* The frame's one msgpack map, its structure checked before msgpack-c sees
 * it (every count and length against the bytes present, so a hostile
 * header costs no allocation). On success the caller owns *u and destroys
 * it; on error nothing is left to free and *what says why. */
static int unpack_map(const uint8_t *buf, size_t len, size_t max, unsigned depth,
		      const char *too_big, msgpack_unpacked *u, const char **what)
{
	size_t off = 0;

	if (len > max) {
		*what = too_big;
		return -EINVAL;
	}
	if (bf_msgpack_check(buf, len, depth)) {
		*what = "not one well-formed msgpack object";
		return -EINVAL;
	}
	msgpack_unpacked_init(u);
	if (msgpack_unpack_next(u, (const char *)buf, len, &off) != MSGPACK_UNPACK_SUCCESS ||
	    off != len || u->data.type != MSGPACK_OBJECT_MAP) {
		msgpack_unpacked_destroy(u);
		*what = "not a msgpack map";
		return -EINVAL;
	}
	return 0;
}

int bf_evt_decode(const uint8_t *buf, size_t len, int64_t now_ms, struct bf_evt *out,
		  const char **what)
{
	char t[8] = "", kind[8] = "", op[4] = "", entry[BF_ENTRY_MAX + 1] = "";
	bool have_x = false, have_s = false, inf = false;
	msgpack_unpacked u;
	int64_t x = 0;
	int rc = -EINVAL, k;

	memset(out, 0, sizeof(*out));
	if (unpack_map(buf, len, BF_EVT_MAX_BYTES, 2, "frame larger than 1 KiB", &u, what))
		return -EINVAL;
	*what = "bad field";
	for (uint32_t i = 0; i < u.data.via.map.size; i++) {
		const msgpack_object *key = &u.data.via.map.ptr[i].key;
		const msgpack_object *val = &u.data.via.map.ptr[i].val;
		char name[4];

		if (obj_str(key, name, sizeof(name)))
			continue; /* unknown long keys are ignored */
		if (!strcmp(name, "t") && obj_str(val, t, sizeof(t)))
			goto out;
		if (!strcmp(name, "o") && obj_str(val, out->origin, sizeof(out->origin)))
			goto out;
		if (!strcmp(name, "k") && obj_str(val, kind, sizeof(kind)))
			goto out;
		if (!strcmp(name, "op") && obj_str(val, op, sizeof(op)))
			goto out;
		if (!strcmp(name, "e") && obj_str(val, entry, sizeof(entry)))
			goto out;
		if (!strcmp(name, "w") && obj_str(val, out->rec.why, sizeof(out->rec.why)))
			goto out;
		if (!strcmp(name, "v") && obj_str(val, out->version, sizeof(out->version)))
			goto out;
		if (!strcmp(name, "x")) {
			have_x = true;
			if (val->type == MSGPACK_OBJECT_NIL)
				inf = true;
			else if (val->type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
				 val->via.u64 < (uint64_t)INT64_MAX)
				x = (int64_t)val->via.u64;
			else
				goto out;
		}
		if (!strcmp(name, "s")) {
			if (val->type != MSGPACK_OBJECT_POSITIVE_INTEGER || !val->via.u64)
				goto out;
			out->rec.seq = val->via.u64;
			have_s = true;
		}
	}
	if (!bf_origin_valid(out->origin)) {
		*what = "bad or missing origin";
		goto out;
	}
	if (!no_controls(out->rec.why, strlen(out->rec.why)) ||
	    !no_controls(out->version, strlen(out->version))) {
		*what = "control characters in why or version";
		goto out;
	}
	if (!strcmp(t, "up") || !strcmp(t, "down")) {
		out->type = t[0] == 'u' ? BF_EVT_EDGE_UP : BF_EVT_EDGE_DOWN;
		rc = 0;
		goto out;
	}
	if (strcmp(t, "entry")) {
		*what = "unknown event type";
		goto out;
	}
	out->type = BF_EVT_ENTRY;
	k = bf_kind_parse(kind);
	if (k < 0 || !have_s || (strcmp(op, "add") && strcmp(op, "del"))) {
		*what = "entry event without kind, op or seq";
		goto out;
	}
	out->rec.op = op[0] == 'a' ? BF_OP_ADD : BF_OP_DEL;
	if (bf_entry_parse((enum bf_kind)k, entry, strlen(entry), &out->rec.entry)) {
		*what = "malformed entry";
		goto out;
	}
	out->rec.exp_ms = BF_EXP_INF;
	if (out->rec.op == BF_OP_ADD) {
		if (!have_x) {
			*what = "add without expiry";
			goto out;
		}
		if (!inf) {
			if (x <= now_ms || x - now_ms > BF_EXP_HORIZON_MS) {
				*what = "expiry in the past or absurdly far";
				goto out;
			}
			out->rec.exp_ms = x;
		}
	}
	rc = 0;
out:
	msgpack_unpacked_destroy(&u);
	return rc;
}

/* ---- stats frames ---- */

static const char *reason_names[BF_R_MAX] = { BF_R_NAMES };

const char *bf_reason_name(unsigned reason)
{
	return reason < BF_R_MAX ? reason_names[reason] : NULL;
}

bool bf_reason_is_drop(unsigned r)
{
	switch (r) {
	case BF_R_MALFORMED: case BF_R_FRAGMENT: case BF_R_RETURN_INVALID: case BF_R_BLOCKLIST:
	case BF_R_BLACKLIST: case BF_R_DEFAULT_DROP: case BF_R_NO_ROUTE: case BF_R_NO_NEIGH:
	case BF_R_TOO_BIG: case BF_R_RATELIMIT: case BF_R_RULE_DROP: case BF_R_ECHO_LIMIT:
		return true;
	default:
		return false;
	}
}

static void row_add(struct bf_stats_row *a, const struct bf_stats_row *b)
{
	a->pps += b->pps;
	a->bps += b->bps;
	a->packets += b->packets;
	a->bytes += b->bytes;
}

void bf_stats_sum(const struct bf_stats_frame *f, struct bf_stats_sums *s)
{
	memset(s, 0, sizeof(*s));
	for (unsigned r = 0; r < BF_R_MAX; r++) {
		/* Side counts: the packet's verdict is counted under another reason. */
		if (r == BF_R_WOULD_DROP || r == BF_R_PUNCH_NEW || r == BF_R_PROTECTED ||
		    r == BF_R_RULE_DRY_RUN)
			continue;
		row_add(&s->rx, &f->r[r]);
		if (r == BF_R_FORWARD || r == BF_R_PUNCH_HIT)
			row_add(&s->fwd, &f->r[r]);
		if (bf_reason_is_drop(r))
			row_add(&s->drop, &f->r[r]);
	}
}

int bf_key_stats(char *buf, size_t len, const char *prefix, const char *id)
{
	if (!bf_origin_valid(id))
		return -EINVAL;
	return fmt(buf, len, "%sstats:%s", prefix, id);
}

int bf_key_stats_log(char *buf, size_t len, const char *prefix, const char *id)
{
	if (!bf_origin_valid(id))
		return -EINVAL;
	return fmt(buf, len, "%slog:stats:%s", prefix, id);
}

static size_t put_field(struct bf_stats_field *out, size_t n, size_t cap, const char *name,
			const char *suffix, uint64_t v)
{
	if (n >= cap)
		return n;
	snprintf(out[n].name, sizeof(out[n].name), "%s%s", name, suffix);
	snprintf(out[n].val, sizeof(out[n].val), "%llu", (unsigned long long)v);
	return n + 1;
}

size_t bf_stats_hash_fields(const struct bf_stats_frame *f, struct bf_stats_field *out,
			    size_t cap)
{
	struct bf_stats_sums s;
	size_t n = 0;

	bf_stats_sum(f, &s);
	n = put_field(out, n, cap, "ts_ms", "", (uint64_t)f->ts_ms);
	n = put_field(out, n, cap, "interval_ms", "", f->interval_ms);
	n = put_field(out, n, cap, "rx_pps", "", s.rx.pps);
	n = put_field(out, n, cap, "rx_bps", "", s.rx.bps);
	n = put_field(out, n, cap, "rx_packets", "", s.rx.packets);
	n = put_field(out, n, cap, "fwd_pps", "", s.fwd.pps);
	n = put_field(out, n, cap, "fwd_bps", "", s.fwd.bps);
	n = put_field(out, n, cap, "fwd_packets", "", s.fwd.packets);
	n = put_field(out, n, cap, "drop_pps", "", s.drop.pps);
	n = put_field(out, n, cap, "drop_bps", "", s.drop.bps);
	n = put_field(out, n, cap, "drop_packets", "", s.drop.packets);
	n = put_field(out, n, cap, "conn_in_pps", "", f->conn_in_pps);
	n = put_field(out, n, cap, "conn_in_bps", "", f->conn_in_bps);
	n = put_field(out, n, cap, "conn_out_pps", "", f->conn_out_pps);
	n = put_field(out, n, cap, "conn_out_bps", "", f->conn_out_bps);
	n = put_field(out, n, cap, "sync_up", "", f->sync_up);
	n = put_field(out, n, cap, "sync_pending", "", f->sync_pending);
	n = put_field(out, n, cap, "sync_peers", "", f->sync_peers);
	n = put_field(out, n, cap, "sync_resyncs", "", f->sync_resyncs);
	n = put_field(out, n, cap, "sync_bad_records", "", f->sync_bad_records);
	n = put_field(out, n, cap, "sync_bad_frames", "", f->sync_bad_frames);
	n = put_field(out, n, cap, "stats_dropped", "", f->stats_dropped);
	n = put_field(out, n, cap, "wl_entries", "", f->wl_entries);
	n = put_field(out, n, cap, "bl_entries", "", f->bl_entries);
	for (unsigned r = 0; r < BF_R_MAX; r++) {
		n = put_field(out, n, cap, reason_names[r], "_pps", f->r[r].pps);
		n = put_field(out, n, cap, reason_names[r], "_packets", f->r[r].packets);
	}
	return n;
}

/* Frame: {"t":"stats","o":id,"ts":ms,"iv":ms,
 *         "r":[[pps,bps,packets,bytes] per reason],
 *         "c":[in_pps,in_bps,out_pps,out_bps],
 *         "s":[sync_up,pending,peers,resyncs,bad_records,bad_frames,stats_dropped,
 *              wl_entries,bl_entries]} */
#define STATS_S_FIELDS 9

int bf_stats_encode(const struct bf_stats_frame *f, uint8_t *buf, size_t len)
{
	const uint64_t s[STATS_S_FIELDS] = { f->sync_up,	  f->sync_pending,     f->sync_peers,
					     f->sync_resyncs,	  f->sync_bad_records, f->sync_bad_frames,
					     f->stats_dropped,	  f->wl_entries,       f->bl_entries };
	const uint64_t c[4] = { f->conn_in_pps, f->conn_in_bps, f->conn_out_pps, f->conn_out_bps };
	msgpack_sbuffer sb;
	msgpack_packer pk;
	int rc = -ENOSPC;

	if (!bf_origin_valid(f->origin) || f->ts_ms < 0)
		return -EINVAL;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 7);
	pack_str(&pk, "t");
	pack_str(&pk, "stats");
	pack_str(&pk, "o");
	pack_str(&pk, f->origin);
	pack_str(&pk, "ts");
	msgpack_pack_int64(&pk, f->ts_ms);
	pack_str(&pk, "iv");
	msgpack_pack_uint32(&pk, f->interval_ms);
	pack_str(&pk, "r");
	msgpack_pack_array(&pk, BF_R_MAX);
	for (unsigned r = 0; r < BF_R_MAX; r++) {
		msgpack_pack_array(&pk, 4);
		msgpack_pack_uint64(&pk, f->r[r].pps);
		msgpack_pack_uint64(&pk, f->r[r].bps);
		msgpack_pack_uint64(&pk, f->r[r].packets);
		msgpack_pack_uint64(&pk, f->r[r].bytes);
	}
	pack_str(&pk, "c");
	msgpack_pack_array(&pk, 4);
	for (unsigned i = 0; i < 4; i++)
		msgpack_pack_uint64(&pk, c[i]);
	pack_str(&pk, "s");
	msgpack_pack_array(&pk, STATS_S_FIELDS);
	for (unsigned i = 0; i < STATS_S_FIELDS; i++)
		msgpack_pack_uint64(&pk, s[i]);
	if (sb.size <= len) {
		memcpy(buf, sb.data, sb.size);
		rc = (int)sb.size;
	}
	msgpack_sbuffer_destroy(&sb);
	return rc;
}

/* An array of exactly n non-negative integers into out (NULL: checked only). */
static int obj_u64s(const msgpack_object *o, uint64_t *out, uint32_t n)
{
	if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != n)
		return -EINVAL;
	for (uint32_t i = 0; i < n; i++) {
		if (o->via.array.ptr[i].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
			return -EINVAL;
		if (out)
			out[i] = o->via.array.ptr[i].via.u64;
	}
	return 0;
}

int bf_stats_decode(const uint8_t *buf, size_t len, struct bf_stats_frame *out,
		    const char **what)
{
	bool have_ts = false, have_r = false;
	uint64_t s[STATS_S_FIELDS] = { 0 }, c[4] = { 0 };
	char t[8] = "";
	msgpack_unpacked u;
	int rc = -EINVAL;

	memset(out, 0, sizeof(*out));
	if (unpack_map(buf, len, BF_STATS_MAX_BYTES, 3, "stats frame larger than 4 KiB", &u, what))
		return -EINVAL;
	*what = "bad field";
	for (uint32_t i = 0; i < u.data.via.map.size; i++) {
		const msgpack_object *key = &u.data.via.map.ptr[i].key;
		const msgpack_object *val = &u.data.via.map.ptr[i].val;
		char name[4];

		if (obj_str(key, name, sizeof(name)))
			continue; /* unknown long keys are ignored */
		if (!strcmp(name, "t") && obj_str(val, t, sizeof(t)))
			goto out;
		if (!strcmp(name, "o") && obj_str(val, out->origin, sizeof(out->origin)))
			goto out;
		if (!strcmp(name, "ts")) {
			if (val->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
			    val->via.u64 > (uint64_t)INT64_MAX)
				goto out;
			out->ts_ms = (int64_t)val->via.u64;
			have_ts = true;
		}
		if (!strcmp(name, "iv")) {
			if (val->type != MSGPACK_OBJECT_POSITIVE_INTEGER || val->via.u64 > 3600000)
				goto out;
			out->interval_ms = (uint32_t)val->via.u64;
		}
		if (!strcmp(name, "r")) {
			if (val->type != MSGPACK_OBJECT_ARRAY ||
			    val->via.array.size > BF_STATS_MAX_REASONS) {
				*what = "reason rows missing or too many";
				goto out;
			}
			out->n_reasons = val->via.array.size;
			for (uint32_t r = 0; r < val->via.array.size; r++) {
				uint64_t row[4];

				if (obj_u64s(&val->via.array.ptr[r], row, 4)) {
					*what = "a reason row is not 4 counters";
					goto out;
				}
				if (r < BF_R_MAX)
					out->r[r] = (struct bf_stats_row){ row[0], row[1], row[2], row[3] };
			}
			have_r = true;
		}
		if (!strcmp(name, "c") && obj_u64s(val, c, 4)) {
			*what = "connection rates are not 4 counters";
			goto out;
		}
		if (!strcmp(name, "s") && obj_u64s(val, s, STATS_S_FIELDS)) {
			*what = "sync state is not 9 counters";
			goto out;
		}
	}
	if (strcmp(t, "stats")) {
		*what = "not a stats frame";
		goto out;
	}
	if (!bf_origin_valid(out->origin)) {
		*what = "bad or missing origin";
		goto out;
	}
	if (!have_ts || !have_r) {
		*what = "stats frame without ts or reasons";
		goto out;
	}
	out->conn_in_pps = c[0];
	out->conn_in_bps = c[1];
	out->conn_out_pps = c[2];
	out->conn_out_bps = c[3];
	out->sync_up = s[0];
	out->sync_pending = s[1];
	out->sync_peers = s[2];
	out->sync_resyncs = s[3];
	out->sync_bad_records = s[4];
	out->sync_bad_frames = s[5];
	out->stats_dropped = s[6];
	out->wl_entries = s[7];
	out->bl_entries = s[8];
	rc = 0;
out:
	msgpack_unpacked_destroy(&u);
	return rc;
}
