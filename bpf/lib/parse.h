/* parse.h - cursor parsers for Ethernet (+ up to two VLAN tags), IPv4 and TCP/UDP/ICMP. */
#ifndef BF_PARSE_H
#define BF_PARSE_H

#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <linux/tcp.h>

#include <linux/in.h>
#include <bpf/bpf_endian.h>

#ifndef AF_INET
#define AF_INET 2 /* for bpf_fib_lookup; <sys/socket.h> is not for -target bpf */
#endif

#define BF_IP_MF 0x2000
#define BF_IP_DF 0x4000
#define BF_IP_OFFMASK 0x1fff

/* What a stage returns when it has no verdict for the packet: the next
 * stage decides. Every verdict is an XDP action (>= 0). */
#define BF_GO_ON (-1)

/* Results of the parsers: 0 means a usable IPv4 packet. */
enum {
	BF_PARSE_OK = 0,
	BF_PARSE_NOT_IPV4 = 1,
	BF_PARSE_MALFORMED = -1,
	BF_PARSE_FRAGMENT = -2,
};

struct cursor {
	void *pos;
	void *end;
};

struct vlan_hdr_ {
	__be16 tci;
	__be16 encap_proto;
};

/* What the stages need to know about a packet. `l4` points at the transport
 * header (or the inner IPv4 header for IPIP); ports are 0 when absent. */
struct pkt {
	struct iphdr *ip;
	void *l4;
	__u32 l2_len;      /* 14, 18 with a VLAN tag, 22 with two */
	__u32 ip_len;      /* IPv4 total length */
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
	__u8 proto;
};

#define BF_VLAN_MAX 2 /* 802.1Q, or QinQ (802.1ad outer + 802.1Q inner) */

static __always_inline int eth_is_vlan(__be16 proto)
{
	return proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD);
}

/* Returns the EtherType after at most two VLAN tags (QinQ), or -1 if the
 * frame is truncated or carries a third tag. A frame whose tags hid its
 * IPv4 header would otherwise go to the kernel unfiltered as "not IPv4". */
static __always_inline int parse_eth(struct cursor *c, __u32 *l2_len)
{
	struct ethhdr *eth = c->pos;
	__be16 proto;

	if ((void *)(eth + 1) > c->end)
		return -1;
	c->pos = eth + 1;
	proto = eth->h_proto;
	*l2_len = sizeof(*eth);
#pragma unroll
	for (int i = 0; i < BF_VLAN_MAX; i++) {
		struct vlan_hdr_ *vh = c->pos;

		if (!eth_is_vlan(proto))
			break;
		if ((void *)(vh + 1) > c->end)
			return -1;
		c->pos = vh + 1;
		proto = vh->encap_proto;
		*l2_len += sizeof(*vh);
	}
	if (eth_is_vlan(proto))
		return -1;
	return bpf_ntohs(proto);
}

/* Parses an IPv4 header and its transport header at the cursor. `room` is
 * how many bytes the enclosing layer holds for this datagram (the rest of
 * the frame, or the outer payload of an IPIP packet): a total length past
 * it is malformed, bytes after the total length (padding) are ignored.
 * The cursor end stays the frame end: the verifier only trusts that. */
static __always_inline int parse_ipv4(struct cursor *c, __u32 room, struct pkt *p)
{
	struct iphdr *ip = c->pos;
	__u32 hlen, tot;

	if ((void *)(ip + 1) > c->end)
		return BF_PARSE_MALFORMED;
	if (ip->version != 4 || ip->ihl < 5)
		return BF_PARSE_MALFORMED;
	hlen = ip->ihl * 4;
	tot = bpf_ntohs(ip->tot_len);
	if (tot < hlen || tot > room)
		return BF_PARSE_MALFORMED;
	if ((void *)ip + hlen > c->end)
		return BF_PARSE_MALFORMED;
	c->pos = (void *)ip + hlen;

	p->ip = ip;
	p->ip_len = tot;
	p->saddr = ip->saddr;
	p->daddr = ip->daddr;
	p->proto = ip->protocol;
	p->l4 = c->pos;
	p->sport = 0;
	p->dport = 0;
	if (ip->frag_off & bpf_htons(BF_IP_MF | BF_IP_OFFMASK))
		return BF_PARSE_FRAGMENT;

	switch (ip->protocol) {
	case IPPROTO_UDP: {
		struct udphdr *udp = c->pos;
		__u32 ulen;

		if ((void *)(udp + 1) > c->end || hlen + sizeof(*udp) > tot)
			return BF_PARSE_MALFORMED;
		ulen = bpf_ntohs(udp->len);
		if (ulen < sizeof(*udp) || ulen > tot - hlen)
			return BF_PARSE_MALFORMED;
		p->sport = udp->source;
		p->dport = udp->dest;
		break;
	}
	case IPPROTO_TCP: {
		struct tcphdr *tcp = c->pos;

		if ((void *)(tcp + 1) > c->end || hlen + sizeof(*tcp) > tot)
			return BF_PARSE_MALFORMED;
		if (tcp->doff < 5 || tcp->doff * 4 > tot - hlen)
			return BF_PARSE_MALFORMED;
		p->sport = tcp->source;
		p->dport = tcp->dest;
		break;
	}
	case IPPROTO_ICMP:
		/* type, code, checksum and the 4-byte rest of header */
		if (c->pos + 8 > c->end || hlen + 8 > tot)
			return BF_PARSE_MALFORMED;
		break;
	default:
		break;
	}
	return BF_PARSE_OK;
}

/* Ethernet + IPv4 + transport of the frame in [data, data_end). */
static __always_inline int parse_packet(void *data, void *data_end, struct pkt *p)
{
	struct cursor c = { .pos = data, .end = data_end };
	int proto = parse_eth(&c, &p->l2_len);

	if (proto < 0)
		return BF_PARSE_MALFORMED;
	if (proto != ETH_P_IP)
		return BF_PARSE_NOT_IPV4;
	return parse_ipv4(&c, data_end - c.pos, p);
}

/* The IPv4 packet carried by an IPIP packet parsed by parse_packet(). */
static __always_inline int parse_inner(const struct pkt *outer, void *data_end,
				       struct pkt *inner)
{
	struct cursor c = { .pos = outer->l4, .end = data_end };
	__u32 room = outer->ip_len - (__u32)(outer->l4 - (void *)outer->ip);

	inner->l2_len = outer->l2_len;
	return parse_ipv4(&c, room, inner);
}

#endif /* BF_PARSE_H */
