/* pktgen.c - test frame builder with real checksums. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "inet_csum.h"
#include "pktgen.h"

uint16_t pkt_csum(const void *data, size_t len)
{
	return bf_csum_fold(bf_csum_add(data, len, 0));
}

uint16_t pkt_l4_csum(const uint8_t *ip)
{
	size_t hlen = (size_t)(ip[0] & 0x0f) * 4;
	size_t tot = (size_t)(ip[2] << 8 | ip[3]);
	uint32_t sum = 0;

	sum = bf_csum_add(ip + 12, 8, sum); /* saddr, daddr */
	sum += ip[9];
	sum += (uint32_t)(tot - hlen);
	return bf_csum_fold(bf_csum_add(ip + hlen, tot - hlen, sum));
}

uint32_t pkt_ip(const char *s)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1)
		abort();
	return a.s_addr;
}

size_t pkt_build_ip(const struct pkt_spec *s, uint8_t *buf, size_t cap)
{
	size_t hlen = 20 + (size_t)s->opt_words * 4, l4 = 0, tot;
	uint8_t *ip = buf, *t;

	if (s->proto == IPPROTO_UDP)
		l4 = 8;
	else if (s->proto == IPPROTO_TCP)
		l4 = 20;
	else if (s->proto == IPPROTO_ICMP)
		l4 = 8;
	tot = hlen + l4 + s->payload_len;
	if (tot > cap || tot > 65535)
		return 0;
	memset(ip, 0, hlen + l4);
	ip[0] = (uint8_t)(0x40 | (hlen / 4));
	ip[1] = s->tos;
	ip[2] = (uint8_t)(tot >> 8);
	ip[3] = (uint8_t)tot;
	ip[4] = (uint8_t)(s->id >> 8);
	ip[5] = (uint8_t)s->id;
	ip[6] = (uint8_t)(s->frag >> 8);
	ip[7] = (uint8_t)s->frag;
	ip[8] = s->ttl ? s->ttl : 64;
	ip[9] = s->proto;
	memcpy(ip + 12, &s->saddr, 4);
	memcpy(ip + 16, &s->daddr, 4);
	memset(ip + 20, 1, hlen - 20); /* NOP options */
	t = ip + hlen;
	if (s->payload_len)
		memcpy(t + l4, s->payload, s->payload_len);
	if (s->proto == IPPROTO_UDP) {
		size_t ulen = 8 + s->payload_len;

		t[0] = (uint8_t)(s->sport >> 8);
		t[1] = (uint8_t)s->sport;
		t[2] = (uint8_t)(s->dport >> 8);
		t[3] = (uint8_t)s->dport;
		t[4] = (uint8_t)(ulen >> 8);
		t[5] = (uint8_t)ulen;
	} else if (s->proto == IPPROTO_TCP) {
		t[0] = (uint8_t)(s->sport >> 8);
		t[1] = (uint8_t)s->sport;
		t[2] = (uint8_t)(s->dport >> 8);
		t[3] = (uint8_t)s->dport;
		t[12] = 5 << 4;
		t[13] = s->tcp_flags ? s->tcp_flags : 0x10;
		t[14] = 0xff;
		t[15] = 0xff;
	} else if (s->proto == IPPROTO_ICMP) {
		t[0] = 8; /* echo request */
		t[4] = (uint8_t)(s->echo_id >> 8);
		t[5] = (uint8_t)s->echo_id;
		t[6] = (uint8_t)(s->echo_seq >> 8);
		t[7] = (uint8_t)s->echo_seq;
	}
	{
		uint16_t c = pkt_csum(ip, hlen);

		ip[10] = (uint8_t)(c >> 8);
		ip[11] = (uint8_t)c;
	}
	if (s->proto == IPPROTO_UDP || s->proto == IPPROTO_TCP) {
		uint16_t c = pkt_l4_csum(ip);
		uint8_t *cp = s->proto == IPPROTO_UDP ? t + 6 : t + 16;

		if (s->proto == IPPROTO_UDP && c == 0)
			c = 0xffff;
		cp[0] = (uint8_t)(c >> 8);
		cp[1] = (uint8_t)c;
	} else if (s->proto == IPPROTO_ICMP) {
		uint16_t c = pkt_csum(t, l4 + s->payload_len);

		t[2] = (uint8_t)(c >> 8);
		t[3] = (uint8_t)c;
	}
	return tot;
}

size_t pkt_build(const struct pkt_spec *s, uint8_t *buf, size_t cap)
{
	size_t l2 = s->vlan ? 18 : 14, n;

	if (cap < l2)
		return 0;
	memcpy(buf, s->dmac, 6);
	memcpy(buf + 6, s->smac, 6);
	if (s->vlan) {
		buf[12] = 0x81;
		buf[13] = 0x00;
		buf[14] = (uint8_t)(s->vlan_id >> 8);
		buf[15] = (uint8_t)s->vlan_id;
		buf[16] = 0x08;
		buf[17] = 0x00;
	} else {
		buf[12] = 0x08;
		buf[13] = 0x00;
	}
	n = pkt_build_ip(s, buf + l2, cap - l2);
	return n ? l2 + n : 0;
}

size_t pkt_build_ipip(const struct pkt_spec *outer, const struct pkt_spec *inner, uint8_t *buf,
		      size_t cap)
{
	uint8_t in[2048];
	struct pkt_spec o = *outer;
	size_t n = pkt_build_ip(inner, in, sizeof(in));

	if (!n)
		return 0;
	o.proto = IPPROTO_IPIP;
	o.payload = in;
	o.payload_len = n;
	return pkt_build(&o, buf, cap);
}
