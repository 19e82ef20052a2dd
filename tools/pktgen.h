/* pktgen.h - builds test frames (Ethernet, VLAN, IPv4 with options,
 * UDP/TCP/ICMP, IPIP) with correct checksums; used by tests and benchmarks. */
#ifndef BF_PKTGEN_H
#define BF_PKTGEN_H

#include <stddef.h>
#include <stdint.h>

struct pkt_spec {
	uint8_t smac[6], dmac[6];
	int vlan;              /* add one 802.1Q tag */
	uint16_t vlan_id;
	uint32_t saddr, daddr; /* network order */
	uint8_t proto;         /* IPPROTO_*; 4 = IPIP, payload is the inner datagram */
	uint8_t ttl, tos;      /* ttl 0 means 64 */
	uint16_t frag;         /* host order: DF/MF bits and offset */
	uint16_t id;
	int opt_words;         /* IPv4 option words (0..10), filled with NOPs */
	uint16_t sport, dport; /* host order */
	uint8_t tcp_flags;
	const void *payload;
	size_t payload_len;
	uint16_t echo_id, echo_seq; /* host order: ICMP echo identifier and sequence */
};

/* The IPv4 datagram of spec (no Ethernet). Returns its length, 0 if cap is short. */
size_t pkt_build_ip(const struct pkt_spec *s, uint8_t *buf, size_t cap);

/* Ethernet frame with the datagram of spec. Returns its length. */
size_t pkt_build(const struct pkt_spec *s, uint8_t *buf, size_t cap);

/* Ethernet frame: IPIP from outer->saddr to outer->daddr carrying inner. */
size_t pkt_build_ipip(const struct pkt_spec *outer, const struct pkt_spec *inner, uint8_t *buf,
		      size_t cap);

/* Internet checksum over len bytes; 0 when a filled-in checksum is right. */
uint16_t pkt_csum(const void *data, size_t len);

/* UDP/TCP checksum of an IPv4 datagram as it stands (0 when right). */
uint16_t pkt_l4_csum(const uint8_t *ip);

/* "a.b.c.d" -> network order; aborts on a bad literal (tests only). */
uint32_t pkt_ip(const char *s);

#endif
