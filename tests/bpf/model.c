/* model.c - the reference model of the edge's verdict (model.h). Written from the
 * packet path the docs give (README.md, "Packet path"; docs/ARCHITECTURE.md, "Trust
 * boundary" and "Decisions"): parse, IPIP return path, unserved destinations,
 * whitelist, lists, rules, echo, connections, punches, local, default. Byte
 * positions and checksums are computed here from the frame, not taken from bpf/. */
#include <linux/bpf.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "bifrost.h"
#include "model.h"

enum { P_OK, P_NOT_IPV4, P_FRAG, P_BAD };

struct m_pkt {
	size_t l2, l3, l4;   /* offsets in the frame */
	size_t ihl, totlen;  /* bytes */
	uint32_t saddr, daddr;
	uint8_t proto, ttl, tos;
	uint16_t frag;
	uint16_t sport, dport;
	uint8_t tcp_flags, icmp_type, icmp_code;
	size_t plen;         /* payload bytes after the L4 header */
};

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t rd32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
static void wr16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void wr32(uint8_t *p, uint32_t v) { wr16(p, (uint16_t)(v >> 16)); wr16(p + 2, (uint16_t)v); }

static uint16_t sum16(const uint8_t *p, size_t n)
{
	uint32_t s = 0;

	for (size_t i = 0; i + 1 < n; i += 2)
		s += rd16(p + i);
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

static bool csum_ok(const uint8_t *p, size_t n) { return sum16(p, n) == 0xffff; }

void model_ipv4_csum(uint8_t *ip, size_t ihl)
{
	ip[10] = ip[11] = 0;
	wr16(ip + 10, (uint16_t)~sum16(ip, ihl));
}

/* The IPv4 datagram at b (room bytes may be read), with its L4 header. */
static int parse_ip(const uint8_t *b, size_t room, size_t off, struct m_pkt *p)
{
	size_t l4room;

	p->l3 = off;
	if (room < 20 || b[0] >> 4 != 4 || (b[0] & 0x0f) < 5)
		return P_BAD;
	p->ihl = (size_t)(b[0] & 0x0f) * 4;
	p->totlen = rd16(b + 2);
	if (p->ihl > room || p->totlen < p->ihl || p->totlen > room)
		return P_BAD;
	p->tos = b[1];
	p->frag = rd16(b + 6);
	p->ttl = b[8];
	p->proto = b[9];
	p->saddr = rd32(b + 12);
	p->daddr = rd32(b + 16);
	if (p->frag & 0x3fff) /* MF, or an offset */
		return P_FRAG;
	p->l4 = off + p->ihl;
	l4room = p->totlen - p->ihl;
	b += p->ihl;
	switch (p->proto) {
	case IPPROTO_UDP:
		if (l4room < 8 || rd16(b + 4) < 8 || rd16(b + 4) > l4room)
			return P_BAD;
		p->sport = rd16(b);
		p->dport = rd16(b + 2);
		p->plen = l4room - 8;
		break;
	case IPPROTO_TCP:
		if (l4room < 20 || (b[12] >> 4) < 5 || (size_t)(b[12] >> 4) * 4 > l4room)
			return P_BAD;
		p->sport = rd16(b);
		p->dport = rd16(b + 2);
		p->tcp_flags = b[13];
		p->plen = l4room - (size_t)(b[12] >> 4) * 4;
		break;
	case IPPROTO_ICMP:
		if (l4room < 8)
			return P_BAD;
		p->icmp_type = b[0];
		p->icmp_code = b[1];
		p->plen = l4room - 8;
		break;
	default:
		p->plen = l4room;
		break;
	}
	return P_OK;
}

static int parse_frame(const uint8_t *f, size_t len, struct m_pkt *p)
{
	size_t l2 = 14;
	uint16_t et = rd16(f + 12);
	int tags = 0;

	memset(p, 0, sizeof(*p));
	while (et == 0x8100 || et == 0x88a8) {
		if (tags == 2 || l2 + 4 > len)
			return P_BAD;
		et = rd16(f + l2 + 2);
		l2 += 4;
		tags++;
	}
	p->l2 = l2;
	if (et != 0x0800)
		return P_NOT_IPV4;
	return parse_ip(f + l2, len - l2, l2, p);
}

static bool in_cidr(const struct m_cidr *c, uint32_t a) { return (a & c->mask) == c->addr; }

static bool in_set(const struct m_cidr *s, int n, uint32_t a)
{
	for (int i = 0; i < n; i++)
		if (in_cidr(&s[i], a))
			return true;
	return false;
}

static const struct m_conn *find_conn(const struct m_world *w, uint8_t proto, uint32_t bind,
				      uint16_t port)
{
	for (int i = 0; i < w->n_conns; i++)
		if (w->conns[i].proto == proto && w->conns[i].bind == bind &&
		    w->conns[i].port == (proto == IPPROTO_ICMP ? 0 : port))
			return &w->conns[i];
	return NULL;
}

static bool is_bind(const struct m_world *w, uint32_t a)
{
	for (int i = 0; i < w->n_conns; i++)
		if (w->conns[i].bind == a)
			return true;
	return false;
}

/* The one machine a bind address is served by, 0 if none or several. */
static uint32_t bind_machine(const struct m_world *w, uint32_t a)
{
	uint32_t m = 0;

	for (int i = 0; i < w->n_conns; i++) {
		if (w->conns[i].bind != a)
			continue;
		if (m && m != w->conns[i].machine)
			return 0;
		m = w->conns[i].machine;
	}
	return m;
}

static bool is_local(const struct m_world *w, uint32_t a)
{
	for (int i = 0; i < w->n_locals; i++)
		if (w->locals[i] == a)
			return true;
	return false;
}

static bool is_machine(const struct m_world *w, uint32_t a)
{
	for (int i = 0; i < w->n_conns; i++)
		if (w->conns[i].machine == a)
			return true;
	return false;
}

/* The harness's routes (tests/bpf/edge_harness.c). */
struct route {
	int ifindex, mtu, neigh;
	const uint8_t *gw, *mac;
};

static struct route route_to(const struct m_world *w, uint32_t dst)
{
	struct route r = { w->if_t0, 1500, 1, w->gw_t0, w->mac_t0 };

	if ((dst & 0xffffff00) == 0xc6120500) { /* 198.18.5.0/24 via t2 */
		r.ifindex = w->if_t2;
		r.gw = w->gw_t2;
		r.mac = w->mac_t2;
	} else if ((dst & 0xffffff00) == 0xc6120700) { /* 198.18.7.0/24, MTU 600 */
		r.mtu = 600;
	} else if ((dst & 0xffffff00) == 0xc6120800) { /* 198.18.8.0/24: next hop unresolved */
		r.neigh = 0;
	}
	return r;
}

/* The machine a bind address's traffic reaches IPIP from: the route's interface. */
static int machine_ifindex(const struct m_world *w, uint32_t machine)
{
	return route_to(w, machine).ifindex;
}

static void set_verdict(struct m_result *r, int action, int reason)
{
	r->action = action;
	r->reason = reason;
}

/* The frame was addressed to the interface it came in on, or to a group address:
 * only such frames are sent on (a promiscuous NIC or a flooding switch hands the
 * edge frames meant for other hosts). */
static bool for_us(const struct m_world *w, const uint8_t *f, int ingress)
{
	const uint8_t *mac = ingress == w->if_t0 ? w->mac_t0 : ingress == w->if_t2 ? w->mac_t2 :
			     w->mac_t4;

	return (f[0] & 1) || !memcmp(f, mac, 6);
}

/* Sends bytes (an IPv4 datagram and what follows it) towards dst with tot_len
 * for the route's MTU. */
static void send_ip(const struct m_world *w, const uint8_t *ip, size_t n, uint32_t dst,
		    size_t tot_len, int ingress, int reason, struct m_result *r, const uint8_t *outer)
{
	struct route rt = route_to(w, dst);
	uint8_t *o = r->out;

	if (!rt.neigh) {
		set_verdict(r, XDP_DROP, BF_R_NO_NEIGH);
		return;
	}
	if (tot_len > (size_t)rt.mtu) {
		set_verdict(r, XDP_DROP, BF_R_TOO_BIG);
		return;
	}
	memcpy(o, rt.gw, 6);
	memcpy(o + 6, rt.mac, 6);
	wr16(o + 12, 0x0800);
	r->out_len = 14;
	if (outer) {
		memcpy(o + 14, outer, 20);
		r->out_len += 20;
	}
	memcpy(r->out + r->out_len, ip, n);
	r->out_len += n;
	set_verdict(r, rt.ifindex == ingress ? XDP_TX : XDP_REDIRECT, reason);
}

/* IPIP to machine: the outer header of RFC 2003 as the docs describe it. */
static void encap(const struct m_world *w, const uint8_t *f, size_t len, const struct m_pkt *p,
		  uint32_t machine, int ingress, int reason, struct m_result *r)
{
	uint8_t outer[20] = { 0x45 };
	uint16_t c;

	if (!csum_ok(f + p->l3, p->ihl)) {
		set_verdict(r, XDP_DROP, BF_R_BAD_CSUM);
		return;
	}
	outer[1] = p->tos;
	wr16(outer + 2, (uint16_t)(p->totlen + 20));
	wr16(outer + 6, p->frag & 0x4000); /* DF copied; ID 0 with DF, else random */
	outer[8] = 64;
	outer[9] = IPPROTO_IPIP;
	wr32(outer + 12, w->backend_addr);
	wr32(outer + 16, machine);
	c = (uint16_t)~sum16(outer, 20);
	wr16(outer + 10, c);
	send_ip(w, f + p->l3, len - p->l3, machine, p->totlen + 20, ingress, reason, r, outer);
}

/* A port in the L4 header rewritten, its checksum updated (RFC 1624). */
static void set_port(uint8_t *ip, const struct m_pkt *p, int dst, uint16_t port)
{
	uint8_t *l4 = ip + p->ihl;
	uint8_t *pp = l4 + (dst ? 2 : 0);
	size_t csum_at = p->proto == IPPROTO_UDP ? 6 : 16;
	uint16_t old = rd16(pp), c = rd16(l4 + csum_at);
	uint32_t s;

	wr16(pp, port);
	if (p->proto == IPPROTO_UDP && c == 0)
		return; /* no checksum */
	s = (uint16_t)~c + (uint32_t)(uint16_t)~old + port;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	c = (uint16_t)~s;
	if (p->proto == IPPROTO_UDP && c == 0)
		c = 0xffff;
	wr16(l4 + csum_at, c);
}

/* To a connection's machine, its port mapped. */
static void forward_conn(const struct m_world *w, const uint8_t *f, size_t len,
			 const struct m_pkt *p, const struct m_conn *c, int ingress, int reason,
			 struct m_result *r)
{
	uint8_t frame[4096];

	memcpy(frame, f, len);
	if (c->machine_port && c->machine_port != p->dport &&
	    (p->proto == IPPROTO_UDP || p->proto == IPPROTO_TCP))
		set_port(frame + p->l3, p, 1, c->machine_port);
	encap(w, frame, len, p, c->machine, ingress, reason, r);
}

static bool rule_matches(const struct m_rule *ru, const struct m_pkt *p)
{
	if (ru->proto >= 0 && ru->proto != p->proto)
		return false;
	if (ru->src.mask && !in_cidr(&ru->src, p->saddr))
		return false;
	if (ru->dport_lo >= 0 && (p->dport < ru->dport_lo || p->dport > ru->dport_hi))
		return false;
	if (ru->ttl_lo >= 0 && (p->ttl < ru->ttl_lo || p->ttl > ru->ttl_hi))
		return false;
	if (ru->plen_lo >= 0 && (p->plen < (size_t)ru->plen_lo || p->plen > (size_t)ru->plen_hi))
		return false;
	if (ru->syn_not_ack && !((p->tcp_flags & 0x02) && !(p->tcp_flags & 0x10)))
		return false;
	return true;
}

static const struct m_punch *find_punch(const struct m_world *w, const struct m_pkt *p)
{
	if (p->proto != IPPROTO_UDP && p->proto != IPPROTO_TCP)
		return NULL;
	for (int i = 0; i < w->n_punches; i++) {
		const struct m_punch *k = &w->punches[i];

		if (k->proto == p->proto && k->bind == p->daddr && k->remote == p->saddr &&
		    k->bind_port == p->dport && k->remote_port == p->sport)
			return k;
	}
	return NULL;
}

static void learn_punch(struct m_world *w, const struct m_pkt *in, uint32_t machine)
{
	struct m_pkt rev = *in;
	struct m_punch *k;

	/* The key as the reply will carry it: remote -> bind. */
	rev.saddr = in->daddr;
	rev.daddr = in->saddr;
	rev.sport = in->dport;
	rev.dport = in->sport;
	k = (struct m_punch *)find_punch(w, &rev);
	if (!k) {
		if (w->n_punches == (int)(sizeof(w->punches) / sizeof(w->punches[0])))
			return;
		k = &w->punches[w->n_punches++];
	}
	*k = (struct m_punch){ .proto = in->proto, .bind = in->saddr, .remote = in->daddr,
			       .bind_port = in->sport, .remote_port = in->dport, .machine = machine };
}

/* Stage 2: IPIP, only a machine's return path. */
static void ipip(struct m_world *w, const uint8_t *f, size_t len, const struct m_pkt *o,
		 int ingress, struct m_result *r)
{
	struct m_pkt in;
	size_t room = o->totlen - o->ihl;
	int rc;
	const struct m_conn *c = NULL;
	uint8_t ip[4096];
	size_t n;

	if (!is_machine(w, o->saddr)) {
		set_verdict(r, XDP_DROP, BF_R_IPIP_REFUSED);
		return;
	}
	if (machine_ifindex(w, o->saddr) != ingress || o->daddr != w->backend_addr) {
		set_verdict(r, XDP_DROP, BF_R_RETURN_SPOOFED);
		return;
	}
	if (!for_us(w, f, ingress)) {
		set_verdict(r, XDP_PASS, BF_R_OTHER_HOST);
		return;
	}
	rc = parse_ip(f + o->l4, room, o->l4, &in);
	if (rc == P_FRAG) {
		set_verdict(r, XDP_DROP, BF_R_FRAGMENT);
		return;
	}
	if (rc != P_OK) {
		set_verdict(r, XDP_DROP, BF_R_MALFORMED);
		return;
	}
	{ /* the machine must serve the address it answers from */
		bool served = false;

		for (int i = 0; i < w->n_conns; i++)
			served |= w->conns[i].machine == o->saddr && w->conns[i].bind == in.saddr;
		if (!served) {
			set_verdict(r, XDP_DROP, BF_R_RETURN_INVALID);
			return;
		}
	}
	if (!csum_ok(f + o->l3, o->ihl) || !csum_ok(f + in.l3, in.ihl)) {
		set_verdict(r, XDP_DROP, BF_R_BAD_CSUM);
		return;
	}
	n = len - in.l3;
	memcpy(ip, f + in.l3, n);
	if (in.proto == IPPROTO_UDP || in.proto == IPPROTO_TCP) {
		/* A connection's reply: from the machine's port, mapped back to the bind port. */
		for (int i = 0; i < w->n_conns; i++) {
			const struct m_conn *k = &w->conns[i];

			if (k->proto == in.proto && k->machine == o->saddr && k->bind == in.saddr &&
			    (k->machine_port ? k->machine_port : k->port) == in.sport)
				c = k;
		}
		if (c && c->port != in.sport)
			set_port(ip, &in, 0, c->port);
		else if (!c && !in_set(w->wl, w->n_wl, in.daddr))
			learn_punch(w, &in, o->saddr);
	}
	send_ip(w, ip, n, in.daddr, in.totlen, ingress, BF_R_RETURN_PATH, r, NULL);
}

/* An echo request to a bind address; 1 when it was decided here. */
static int echo(const struct m_world *w, const uint8_t *f, size_t len, const struct m_pkt *p,
		struct m_result *r)
{
	if (p->proto != IPPROTO_ICMP || !w->icmp_echo || !is_bind(w, p->daddr) ||
	    p->icmp_type != 8 || p->icmp_code != 0 || p->ihl != 20)
		return 0;
	if (!csum_ok(f + p->l3, p->ihl) || !csum_ok(f + p->l4, p->totlen - p->ihl)) {
		set_verdict(r, XDP_DROP, BF_R_BAD_CSUM);
		return 1;
	}
	set_verdict(r, XDP_TX, BF_R_ICMP_ECHO);
	r->echo = true;
	(void)len;
	return 1;
}

static bool amplifies(const uint8_t *f, const struct m_pkt *p)
{
	const uint8_t *pay = f + p->l4 + 8;

	if (p->proto != IPPROTO_UDP || p->plen < 5 || rd32(pay) != 0xffffffff)
		return false;
	return (pay[4] == 'W' && p->plen < 9) || (pay[4] == 'i' && p->plen < 20);
}

/* A closed port of a bind address (bpf/lib/ports.h): no connection, no punch learned
 * on it (live or not: only a rebuild closes it again), no rule that could match the
 * port. This host's own addresses have none. */
static bool port_closed(const struct m_world *w, const struct m_pkt *p)
{
	if ((p->proto != IPPROTO_UDP && p->proto != IPPROTO_TCP) || !is_bind(w, p->daddr) ||
	    is_local(w, p->daddr) || p->daddr == w->edge_addr ||
	    find_conn(w, p->proto, p->daddr, p->dport))
		return false;
	for (int i = 0; i < w->n_punches; i++)
		if (w->punches[i].proto == p->proto && w->punches[i].bind == p->daddr &&
		    w->punches[i].bind_port == p->dport)
			return false;
	for (int i = 0; i < w->n_rules; i++) {
		const struct m_rule *ru = &w->rules[i];

		if ((ru->proto < 0 || ru->proto == p->proto) &&
		    (ru->dport_lo < 0 || (p->dport >= ru->dport_lo && p->dport <= ru->dport_hi)))
			return false;
	}
	return true;
}

void model_run(struct m_world *w, const uint8_t *f, size_t len, int ingress, struct m_result *r)
{
	struct m_pkt p;
	const struct m_conn *c;
	const struct m_punch *k;
	int rc = parse_frame(f, len, &p);
	bool dest, wl;

	memset(r, 0, sizeof(*r));
	r->l3 = p.l2;
	/* A pass leaves the frame as it came. */
	memcpy(r->out, f, len);
	r->out_len = len;
	if (rc == P_NOT_IPV4)
		return set_verdict(r, XDP_PASS, BF_R_NON_IPV4);
	if (rc == P_FRAG)
		return set_verdict(r, XDP_DROP, BF_R_FRAGMENT);
	if (rc != P_OK)
		return set_verdict(r, XDP_DROP, BF_R_MALFORMED);
	if (p.proto == IPPROTO_IPIP)
		return ipip(w, f, len, &p, ingress, r);
	/* Unserved destinations first. */
	dest = is_bind(w, p.daddr) || is_local(w, p.daddr);
	if (!dest && p.daddr != w->edge_addr)
		return set_verdict(r, XDP_DROP, BF_R_DEFAULT_DROP);
	wl = in_set(w->wl, w->n_wl, p.saddr);
	if (wl) {
		uint32_t m;

		if (!for_us(w, f, ingress))
			return set_verdict(r, XDP_PASS, BF_R_OTHER_HOST);
		if (echo(w, f, len, &p, r))
			return;
		if ((c = find_conn(w, p.proto, p.daddr, p.dport)))
			return forward_conn(w, f, len, &p, c, ingress, BF_R_WHITELIST, r);
		if ((k = find_punch(w, &p)))
			return encap(w, f, len, &p, k->machine, ingress, BF_R_WHITELIST, r);
		if (is_bind(w, p.daddr) && (m = bind_machine(w, p.daddr)))
			return encap(w, f, len, &p, m, ingress, BF_R_WHITELIST, r);
		return set_verdict(r, XDP_PASS, BF_R_WHITELIST);
	}
	/* A closed port: dropped before the lists. */
	if (port_closed(w, &p))
		return set_verdict(r, XDP_DROP, BF_R_DEFAULT_DROP);
	/* Lists: a protected source is spared. */
	if (in_set(w->bl, w->n_bl, p.saddr) && !in_set(w->pr, w->n_pr, p.saddr))
		return set_verdict(r, XDP_DROP, BF_R_BLACKLIST);
	/* Rules, first match. */
	for (int i = 0; i < w->n_rules; i++) {
		if (!rule_matches(&w->rules[i], &p))
			continue;
		if (w->rules[i].drop)
			return set_verdict(r, XDP_DROP, BF_R_RULE_DROP);
		break;
	}
	if (p.proto == IPPROTO_ICMP && !for_us(w, f, ingress))
		return set_verdict(r, XDP_PASS, BF_R_OTHER_HOST);
	if (echo(w, f, len, &p, r))
		return;
	if ((c = find_conn(w, p.proto, p.daddr, p.dport))) {
		if (!for_us(w, f, ingress))
			return set_verdict(r, XDP_PASS, BF_R_OTHER_HOST);
		if (c->a2s && amplifies(f, &p))
			return set_verdict(r, XDP_DROP, BF_R_AMPLIFIER);
		return forward_conn(w, f, len, &p, c, ingress, BF_R_FORWARD, r);
	}
	if ((k = find_punch(w, &p))) {
		if (!for_us(w, f, ingress))
			return set_verdict(r, XDP_PASS, BF_R_OTHER_HOST);
		return encap(w, f, len, &p, k->machine, ingress, BF_R_PUNCH_HIT, r);
	}
	if (p.daddr == w->edge_addr || is_local(w, p.daddr))
		return set_verdict(r, XDP_PASS, BF_R_LOCAL);
	return set_verdict(r, XDP_DROP, BF_R_DEFAULT_DROP);

}

static int cidr_str(const struct m_cidr *c, char *b, size_t n)
{
	int len = 0;

	for (len = 0; len < 32 && (c->mask << len) & 0x80000000u; len++)
		;
	return snprintf(b, n, "%u.%u.%u.%u/%d", c->addr >> 24, c->addr >> 16 & 255,
			c->addr >> 8 & 255, c->addr & 255, len);
}

static const char *ip_str(uint32_t a, char *b)
{
	sprintf(b, "%u.%u.%u.%u", a >> 24, a >> 16 & 255, a >> 8 & 255, a & 255);
	return b;
}

int model_config(const struct m_world *w, char *buf, size_t cap)
{
	size_t n = 0;
	char a[20], b[20], c[40];

#define PUT(...)                                                              \
	do {                                                                  \
		int put_n = snprintf(buf + n, cap - n, __VA_ARGS__);          \
		if (put_n < 0 || (size_t)put_n >= cap - n)                    \
			return -1;                                            \
		n += (size_t)put_n;                                           \
	} while (0)
	PUT("icmp_echo %s\nicmp_echo_pps 0\nicmp_echo_global_pps 0\n", w->icmp_echo ? "yes" : "no");
	for (int i = 0; i < w->n_conns; i++) {
		const struct m_conn *k = &w->conns[i];

		if (k->proto == IPPROTO_ICMP)
			PUT("conn icmp %s %s\n", ip_str(k->bind, a), ip_str(k->machine, b));
		else if (k->machine_port)
			PUT("conn %s %s:%u %s:%u%s\n", k->proto == IPPROTO_TCP ? "tcp" : "udp",
			    ip_str(k->bind, a), k->port, ip_str(k->machine, b), k->machine_port,
			    k->a2s ? " a2s yes" : "");
		else
			PUT("conn %s %s:%u %s%s\n", k->proto == IPPROTO_TCP ? "tcp" : "udp",
			    ip_str(k->bind, a), k->port, ip_str(k->machine, b), k->a2s ? " a2s yes" : "");
	}
	for (int i = 0; i < w->n_wl; i++) {
		cidr_str(&w->wl[i], c, sizeof(c));
		PUT("whitelist %s\n", c);
	}
	for (int i = 0; i < w->n_bl; i++) {
		cidr_str(&w->bl[i], c, sizeof(c));
		PUT("blacklist %s\n", c);
	}
	for (int i = 0; i < w->n_pr; i++) {
		cidr_str(&w->pr[i], c, sizeof(c));
		PUT("protect %s\n", c);
	}
	for (int i = 0; i < w->n_rules; i++) {
		const struct m_rule *ru = &w->rules[i];

		PUT("rule %d action %s", (i + 1) * 10, ru->drop ? "drop" : "pass");
		if (ru->proto >= 0)
			PUT(" proto %d", ru->proto);
		if (ru->src.mask) {
			cidr_str(&ru->src, c, sizeof(c));
			PUT(" src %s", c);
		}
		if (ru->dport_lo >= 0)
			PUT(" dport %d-%d", ru->dport_lo, ru->dport_hi);
		if (ru->ttl_lo >= 0)
			PUT(" ttl %d-%d", ru->ttl_lo, ru->ttl_hi);
		if (ru->plen_lo >= 0)
			PUT(" payload_len %d-%d", ru->plen_lo, ru->plen_hi);
		if (ru->syn_not_ack)
			PUT(" tcp_flags syn,!ack");
		PUT("\n");
	}
#undef PUT
	return 0;
}
