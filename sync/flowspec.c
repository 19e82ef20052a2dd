/* flowspec.c - a rule as a Flowspec route, the rails, the state lines (flowspec.h). */
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "flowspec.h"
#include "schema_int.h"
#include "text.h"

static const char *const why_names[BF_FSW_MAX] = {
	"ok",          "action",      "no_proto", "no_dst", "dst_outside", "dst_wide",
	"protected",   "whitelisted", "bgp_peer", "port_179", "length",    "payload",
	"field",       "cap",
};

static const char *const state_names[BF_FSS_MAX] = {
	"announced", "pending", "refused", "expired", "dry-run", "stopped",
};

const char *bf_fs_why_name(enum bf_fs_why w)
{
	return (unsigned)w < BF_FSW_MAX ? why_names[w] : "?";
}

const char *bf_fs_state_name(enum bf_fs_state s)
{
	return (unsigned)s < BF_FSS_MAX ? state_names[s] : "?";
}

bool bf_cidr_overlap(const struct bf_cidr *a, const struct bf_cidr *b)
{
	uint32_t m = bf_plen_mask(a->plen < b->plen ? a->plen : b->plen);

	return (a->addr & m) == (b->addr & m);
}

/* The words being written: the first overflow sticks. */
struct words {
	char *buf;
	size_t len, at;
	bool full;
};

static void w_put(struct words *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void w_put(struct words *w, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (w->full)
		return;
	if (w->at) {
		if (w->at + 1 >= w->len) {
			w->full = true;
			return;
		}
		w->buf[w->at++] = ' ';
		w->buf[w->at] = '\0';
	}
	va_start(ap, fmt);
	n = vsnprintf(w->buf + w->at, w->len - w->at, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= w->len - w->at)
		w->full = true;
	else
		w->at += (size_t)n;
}

/* A range as Flowspec numeric terms after `name`; nothing for the field's whole domain. */
static void w_range(struct words *w, const char *name, uint32_t lo, uint32_t hi, uint32_t max)
{
	if (lo == 0 && hi >= max)
		return;
	w_put(w, "%s", name);
	if (lo == hi)
		w_put(w, "==%u", lo);
	else if (lo == 0)
		w_put(w, "<=%u", hi);
	else if (hi >= max)
		w_put(w, ">=%u", lo);
	else {
		w_put(w, ">=%u", lo);
		w_put(w, "&<=%u", hi);
	}
}

#define REFUSE(why, ...)                                        \
	do {                                                    \
		snprintf(detail, detail_len, __VA_ARGS__);      \
		return (why);                                   \
	} while (0)

static bool used(const struct bf_rule_def *r, uint32_t bit)
{
	return r->used & bit;
}

/* A range field used with less than its whole domain. */
static bool narrows(const struct bf_rule_def *r, uint32_t bit, const struct bf_range *g,
		    uint32_t lo, uint32_t hi)
{
	return used(r, bit) && (g->lo > lo || g->hi < hi);
}

/* The fields no Flowspec component carries (RFC 8955 has no TTL, IP ID, fragment offset,
 * header length, TCP sequence/ack/window or rate components): the first one r narrows. */
static const char *unexportable(const struct bf_rule_def *r)
{
	if (narrows(r, BF_RF_IHL, &r->ihl, 5, 15))
		return "ihl";
	if (narrows(r, BF_RF_IP_ID, &r->ip_id, 0, 65535))
		return "ip_id";
	if (narrows(r, BF_RF_FRAG, &r->frag, 0, 8191))
		return "frag_off";
	if (narrows(r, BF_RF_TTL, &r->ttl, 0, 255))
		return "ttl";
	if (used(r, BF_RF_IP_FLAGS) && r->ipfl_mask)
		return "ip_flags";
	if (narrows(r, BF_RF_TCP_SEQ, &r->tcp_seq, 0, UINT32_MAX))
		return "tcp_seq";
	if (narrows(r, BF_RF_TCP_ACK, &r->tcp_ack, 0, UINT32_MAX))
		return "tcp_ack";
	if (narrows(r, BF_RF_TCP_WIN, &r->tcp_win, 0, 65535))
		return "tcp_window";
	if (used(r, BF_RF_PPS))
		return "pps";
	if (used(r, BF_RF_BPS))
		return "bps";
	return NULL;
}

static bool payload_selects(const struct bf_rule_def *r)
{
	if (!used(r, BF_RF_PAYLOAD))
		return false;
	for (int i = 0; i < r->pl_len; i++)
		if (r->pl_mask[i])
			return true;
	return false;
}

/* The prefix rails for one side of the rule (src or dst). */
static enum bf_fs_why prefix_rails(const char *side, const struct bf_cidr *c,
				   const struct bf_fs_policy *p, char *detail, size_t detail_len)
{
	char a[BF_CIDR_STRLEN], b[BF_CIDR_STRLEN];
	size_t i;

	for (i = 0; i < p->n_bgp; i++)
		if (bf_cidr_contains(c, p->bgp_addrs[i]))
			REFUSE(BF_FSW_BGP_PEER, "%s %s holds the BGP session address %s", side,
			       bf_cidr_str(c, a), bf_ipv4_str(p->bgp_addrs[i], b));
	for (i = 0; i < p->n_protect; i++)
		if (bf_cidr_overlap(c, &p->protect[i]))
			REFUSE(BF_FSW_PROTECTED, "%s %s overlaps the protected prefix %s", side,
			       bf_cidr_str(c, a), bf_cidr_str(&p->protect[i], b));
	for (i = 0; i < p->n_whitelist; i++)
		if (bf_cidr_overlap(c, &p->whitelist[i]))
			REFUSE(BF_FSW_WHITELISTED, "%s %s overlaps the whitelisted prefix %s", side,
			       bf_cidr_str(c, a), bf_cidr_str(&p->whitelist[i], b));
	return BF_FSW_OK;
}

/* A TCP or UDP port field: a range holding 179 is refused; an open one is closed to 179. */
static enum bf_fs_why port_rail(struct words *w, const char *name, const char *field,
				bool given, const struct bf_range *g, char *detail,
				size_t detail_len)
{
	if (!given || (g->lo == 0 && g->hi >= 65535)) {
		w_put(w, "%s", name);
		w_put(w, "!=%u", BF_FS_BGP_PORT);
		return BF_FSW_OK;
	}
	if (g->lo <= BF_FS_BGP_PORT && g->hi >= BF_FS_BGP_PORT)
		REFUSE(BF_FSW_PORT_179, "%s %u-%u holds port 179 (BGP): leave 179 out", field, g->lo,
		       g->hi);
	w_range(w, name, g->lo, g->hi, 65535);
	return BF_FSW_OK;
}

enum bf_fs_why bf_fs_translate(const struct bf_rule_def *r, const struct bf_fs_policy *p,
			       char *match, size_t match_len, char *detail, size_t detail_len)
{
	static const char flag_letters[8] = { 'F', 'S', 'R', 'P', 'A', 'U', 'E', 'C' };
	struct words w = { .buf = match, .len = match_len };
	char a[BF_CIDR_STRLEN];
	const char *f;
	bool tcpudp, inside = false;
	uint32_t len_lo = 0, len_hi = 65535;
	enum bf_fs_why why;
	size_t i;

	if (match_len)
		match[0] = '\0';
	if (detail_len)
		detail[0] = '\0';
	if (!match_len)
		REFUSE(BF_FSW_FIELD, "no room for the route");
	if (r->action != BF_RULE_DROP)
		REFUSE(BF_FSW_ACTION, "action pass: only drop rules are exported");
	if (!used(r, BF_RF_PROTO))
		REFUSE(BF_FSW_NO_PROTO, "no proto: the route would match BGP (TCP port 179); "
					"name udp, tcp, icmp or a number");
	if (!used(r, BF_RF_DST) || r->dst.family != BF_INET)
		REFUSE(BF_FSW_NO_DST, "no dst: name the attacked address or prefix");
	for (i = 0; i < p->n_announce && !inside; i++)
		inside = p->announce[i].plen <= r->dst.plen &&
			 bf_cidr_contains(&p->announce[i], r->dst.addr);
	if (!inside)
		REFUSE(BF_FSW_DST_OUTSIDE, "dst %s is not inside a prefix this POP announces",
		       bf_cidr_str(&r->dst, a));
	if (r->dst.plen < p->min_plen)
		REFUSE(BF_FSW_DST_WIDE, "dst %s is wider than /%u (min_prefix_len)",
		       bf_cidr_str(&r->dst, a), p->min_plen);
	why = prefix_rails("dst", &r->dst, p, detail, detail_len);
	if (why)
		return why;
	if (used(r, BF_RF_SRC) && r->src.plen) {
		why = prefix_rails("src", &r->src, p, detail, detail_len);
		if (why)
			return why;
	}
	f = unexportable(r);
	if (f)
		REFUSE(BF_FSW_FIELD, "%s: Flowspec has no such match; drop it from the rule", f);
	if (used(r, BF_RF_TOS) && (r->tos.lo || r->tos.hi < 255) &&
	    (r->tos.lo % 4 || r->tos.hi % 4 != 3))
		REFUSE(BF_FSW_FIELD, "tos %u-%u: only whole DSCP values (4n to 4m+3) are exported",
		       r->tos.lo, r->tos.hi);
	if (payload_selects(r) && r->flowspec != BF_FS_STRIP_PAYLOAD)
		REFUSE(BF_FSW_PAYLOAD, "payload: Flowspec cannot match bytes; say flowspec "
				       "strip-payload to export the rule without it");
	tcpudp = r->proto == IPPROTO_TCP || r->proto == IPPROTO_UDP;

	/* packet-length: ip_len, and payload_len as an IP length (20-byte header, 8 of UDP):
	 * a packet with IP options then needs a smaller payload to match, never a larger one */
	if (used(r, BF_RF_IP_LEN)) {
		len_lo = r->ip_len.lo;
		len_hi = r->ip_len.hi;
	}
	if (used(r, BF_RF_PAYLOAD_LEN) && (r->payload_len.lo || r->payload_len.hi < 65535)) {
		if (r->proto != IPPROTO_UDP)
			REFUSE(BF_FSW_FIELD, "payload_len: exported on udp rules only (a TCP "
					     "header's length varies)");
		if (r->payload_len.lo)
			REFUSE(BF_FSW_FIELD, "payload_len %u-%u: only 0-N is exported exactly",
			       r->payload_len.lo, r->payload_len.hi);
		if (r->payload_len.hi + 28 < len_hi)
			len_hi = r->payload_len.hi + 28;
	}
	if (len_lo > len_hi)
		REFUSE(BF_FSW_LENGTH, "ip_len and payload_len leave no packet length");
	if ((used(r, BF_RF_IP_LEN) || used(r, BF_RF_PAYLOAD_LEN)) && len_hi > p->mtu)
		REFUSE(BF_FSW_LENGTH, "packet length up to %u: beyond the MTU %u", len_hi, p->mtu);

	w_put(&w, "destination");
	w_put(&w, "%s", bf_cidr_str(&r->dst, a));
	if (used(r, BF_RF_SRC) && r->src.plen) {
		w_put(&w, "source");
		w_put(&w, "%s", bf_cidr_str(&r->src, a));
	}
	w_put(&w, "protocol");
	if (r->proto == IPPROTO_TCP || r->proto == IPPROTO_UDP || r->proto == IPPROTO_ICMP)
		w_put(&w, "==%s", bf_proto_name(r->proto));
	else
		w_put(&w, "==%u", r->proto);
	if (tcpudp) {
		why = port_rail(&w, "destination-port", "dport", used(r, BF_RF_DPORT), &r->dport,
				detail, detail_len);
		if (!why)
			why = port_rail(&w, "source-port", "sport", used(r, BF_RF_SPORT), &r->sport,
					detail, detail_len);
		if (why) {
			match[0] = '\0';
			return why;
		}
	}
	if (used(r, BF_RF_ICMP_TYPE))
		w_range(&w, "icmp-type", r->icmp_type.lo, r->icmp_type.hi, 255);
	if (used(r, BF_RF_ICMP_CODE))
		w_range(&w, "icmp-code", r->icmp_code.lo, r->icmp_code.hi, 255);
	if (used(r, BF_RF_TCP_FLAGS) && r->tcpfl_mask) {
		bool first = true;

		w_put(&w, "tcp-flags");
		for (int b = 0; b < 8; b++) {
			if (!(r->tcpfl_mask & (1u << b)))
				continue;
			/* =X: the bit is set; !X: it is clear; & joins them */
			w_put(&w, "%s%s%c", first ? "" : "&",
			      r->tcpfl_val & (1u << b) ? "=" : "!", flag_letters[b]);
			first = false;
		}
	}
	if (len_lo > 0 || len_hi < 65535)
		w_range(&w, "packet-length", len_lo, len_hi, 65535);
	if (used(r, BF_RF_TOS) && (r->tos.lo || r->tos.hi < 255))
		w_range(&w, "dscp", r->tos.lo / 4, r->tos.hi / 4, 63);
	if (w.full) {
		match[0] = '\0';
		REFUSE(BF_FSW_FIELD, "the route is longer than %zu bytes", match_len - 1);
	}
	return BF_FSW_OK;
}

/* One space-separated word of s at *at: its length (0: none). */
static size_t word(const char *s, size_t *at, const char **w)
{
	size_t n = 0;

	*w = s + *at;
	while ((*w)[n] && (*w)[n] != ' ')
		n++;
	*at += n + ((*w)[n] == ' ');
	return n;
}

static int word_u64(const char *w, size_t n, uint64_t *out)
{
	char num[24];

	if (!n || n >= sizeof(num))
		return -EINVAL;
	memcpy(num, w, n);
	num[n] = '\0';
	return bf_parse_u64(num, UINT64_MAX, out);
}

int bf_fs_line_parse(const char *s, size_t n, struct bf_fs_line *out)
{
	char buf[BF_FS_MATCH_MAX + 128];
	const char *w;
	size_t at = 0, wl;

	memset(out, 0, sizeof(*out));
	if (sch_cstr(buf, sizeof(buf), s, n))
		return -EINVAL;
	wl = word(buf, &at, &w);
	for (out->state = 0; out->state < BF_FSS_MAX; out->state++)
		if (wl == strlen(state_names[out->state]) && !memcmp(w, state_names[out->state], wl))
			break;
	if (out->state == BF_FSS_MAX)
		return -EINVAL;
	wl = word(buf, &at, &w);
	if (word_u64(w, wl, &out->since_ms))
		return -EINVAL;
	wl = word(buf, &at, &w);
	if (word_u64(w, wl, &out->until_ms))
		return -EINVAL;
	wl = word(buf, &at, &w);
	if (!wl || wl >= sizeof(out->why))
		return -EINVAL;
	memcpy(out->why, w, wl);
	out->why[wl] = '\0';
	wl = strlen(buf + at);
	if (!wl || wl >= sizeof(out->text))
		return -EINVAL;
	memcpy(out->text, buf + at, wl + 1);
	return 0;
}

int bf_fs_line_format(const struct bf_fs_line *l, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s %llu %llu %s %s", bf_fs_state_name(l->state),
			 (unsigned long long)l->since_ms, (unsigned long long)l->until_ms,
			 l->why[0] ? l->why : "-", l->text);

	return n < 0 || (size_t)n >= len ? -ENOSPC : n;
}
