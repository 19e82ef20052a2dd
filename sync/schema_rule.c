/* schema_rule.c - firewall rules: id, fields, text form, canonical text, where one applies. */
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "schema_int.h"
#include "text.h"

int bf_rule_id_parse(const char *s, size_t n, uint32_t *id)
{
	char buf[12];
	uint64_t v;

	if (sch_cstr(buf, sizeof(buf), s, n) || (buf[0] == '0' && buf[1]) ||
	    bf_parse_u64(buf, BF_RULE_ID_MAX, &v) || !v)
		return -EINVAL;
	*id = (uint32_t)v;
	return 0;
}

enum rf_kind { RK_ENABLED, RK_ACTION, RK_DRY_RUN, RK_EDGES, RK_ALL, RK_CIDR, RK_PROTO, RK_RANGE,
	       RK_IPFLAGS, RK_TCPFLAGS, RK_RATE, RK_PAYLOAD, RK_FLOWSPEC, RK_FS_TTL };
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
	{ "all", RK_ALL, 0, 0, 0, 0, NEED_ANY },
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
	{ "flowspec", RK_FLOWSPEC, 0, 0, 0, 0, NEED_ANY },
	{ "flowspec_ttl", RK_FS_TTL, 0, 0, 0, 0, NEED_ANY },
#undef OFF
};
#define N_RULE_FIELDS (sizeof(rule_fields) / sizeof(rule_fields[0]))

/* Flag names by bit, low bit first (TCP: header byte 13; IP: RF DF MF). */
static const char *const tcp_flag_names[8] = { "fin", "syn", "rst", "psh",
					       "ack", "urg", "ece", "cwr" };
static const char *const ip_flag_names[3] = { "mf", "df", "rf" };
/* `flowspec` values by enum bf_rule_fs. */
static const char *const fs_names[3] = { "no", "yes", "strip-payload" };

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

static int parse_hex(const char *s, size_t n, uint8_t *out, size_t cap, size_t *len)
{
	int got = bf_hex_decode(s, n, out, cap);

	if (got < 0)
		return -EINVAL;
	*len = (size_t)got;
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

/* Whether a field of r, given, leaves every packet in: a /0 CIDR, a range over what the
 * field can hold, a payload compared under a mask of zeros, a rate threshold. */
static bool field_noop(const struct rule_field *rf, const struct bf_rule_def *r)
{
	const struct bf_range *rg = (const struct bf_range *)((const char *)r + rf->off);
	int i;

	switch (rf->kind) {
	case RK_CIDR:
		return ((const struct bf_cidr *)((const char *)r + rf->off))->plen == 0;
	case RK_RANGE:
		return rg->lo <= rf->lo && rg->hi >= rf->hi;
	case RK_RATE:
		return true;
	case RK_PAYLOAD:
		for (i = 0; i < r->pl_len && !r->pl_mask[i]; i++)
			;
		return i == r->pl_len;
	default:
		return false;
	}
}

const char *bf_rule_first_match(const struct bf_rule_def *r)
{
	for (size_t k = 0; k < N_RULE_FIELDS; k++)
		if (rule_fields[k].bit && (r->used & rule_fields[k].bit) &&
		    !field_noop(&rule_fields[k], r))
			return rule_fields[k].name;
	return NULL;
}

bool bf_rule_unmarked_drop_all(const struct bf_rule_def *r)
{
	return r->enabled && !r->dry_run && r->action != BF_RULE_PASS && !r->all &&
	       !bf_rule_first_match(r);
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
	case RK_ALL:
		if (sch_yesno(v, rf->kind == RK_ENABLED ? &r->enabled :
				 rf->kind == RK_DRY_RUN ? &r->dry_run : &r->all))
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
		x = (uint64_t)-bf_parse_cidr4(v, false, (struct bf_cidr *)((char *)r + rf->off));
		if (x == EAFNOSUPPORT)
			RULE_ERR("%s: '%s': IPv6 is not supported yet", rf->name,
				 shown(v, strlen(v), sv));
		if (x)
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
	case RK_FLOWSPEC:
		for (p = 0; p < 3 && strcmp(v, fs_names[p]); p++)
			;
		if (p == 3)
			RULE_ERR("flowspec: '%s' is not yes, no or strip-payload",
				 shown(v, strlen(v), sv));
		r->flowspec = (uint8_t)p;
		return 0;
	case RK_FS_TTL:
		if (bf_parse_duration_ms(v, &x) || x < BF_RULE_FS_TTL_MIN_MS ||
		    x > BF_RULE_FS_TTL_MAX_MS)
			RULE_ERR("flowspec_ttl: '%s' is not a duration from 1s to 7d (e.g. 10m, 2h)",
				 shown(v, strlen(v), sv));
		r->flowspec_ttl_ms = x;
		return 0;
	}
	r->used |= rf->bit;
	return 0;
}

int bf_rule_parse_fields(uint32_t id, const struct bf_field *f, size_t n,
			 struct bf_rule_def *out, char *err, size_t errlen)
{
	const struct bf_field *slot[N_RULE_FIELDS];
	struct bf_rule_def r;
	char v[BF_RULE_TEXT_MAX + 1], sv[40];
	size_t bad;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!id || id > BF_RULE_ID_MAX)
		RULE_ERR("id: %u is not 1-%u", id, BF_RULE_ID_MAX);
	rc = sch_fields_sort(f, n, rule_fields, sizeof(rule_fields[0]), N_RULE_FIELDS, true, slot,
			     &bad);
	if (rc == -ENOENT)
		RULE_ERR("unknown field '%s'", shown(f[bad].name, f[bad].name_len, sv));
	if (rc)
		RULE_ERR("%s: given twice", rule_fields[bad].name);
	memset(&r, 0, sizeof(r));
	r.id = id;
	r.enabled = true;
	strcpy(r.edges, "*");
	for (size_t k = 0; k < N_RULE_FIELDS; k++) {
		if (!slot[k])
			continue;
		if (sch_cstr(v, sizeof(v), slot[k]->val, slot[k]->val_len) || !v[0])
			RULE_ERR("%s: empty, too long or with a NUL byte", rule_fields[k].name);
		if (rule_field_apply(&rule_fields[k], v, &r, err, errlen))
			return -EINVAL;
	}
	if (!r.action)
		RULE_ERR("action: missing (pass or drop)");
	if (r.flowspec_ttl_ms && !r.flowspec)
		RULE_ERR("flowspec_ttl: only on a rule with flowspec yes or strip-payload");
	if (r.all && bf_rule_first_match(&r))
		RULE_ERR("all: yes only on a rule that matches every packet; this one matches on %s",
			 bf_rule_first_match(&r));
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
	if (sch_cstr(buf, sizeof(buf), text, n))
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
		return sch_fmt(buf, len, "%u", r->lo);
	return sch_fmt(buf, len, "%u-%u", r->lo, r->hi);
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
		case RK_ALL:
			if (!(rf->kind == RK_ALL ? r->all : r->dry_run))
				continue;
			strcpy(v, "yes");
			break;
		case RK_EDGES:
			if (!strcmp(r->edges, "*"))
				continue;
			snprintf(v, sizeof(v), "%s", r->edges);
			break;
		case RK_FLOWSPEC:
			if (!r->flowspec || r->flowspec > BF_FS_STRIP_PAYLOAD)
				continue;
			strcpy(v, fs_names[r->flowspec]);
			break;
		case RK_FS_TTL:
			if (!r->flowspec_ttl_ms)
				continue;
			bf_duration_str(r->flowspec_ttl_ms, v, sizeof(v));
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
