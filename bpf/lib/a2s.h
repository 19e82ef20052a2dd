/* a2s.h - stage 6: Source queries that would amplify are dropped; A2S requests the
 * AF_XDP workers can answer from their cache go to the socket of their RX queue;
 * everything else goes on to the forward path untouched. */
#ifndef BF_LIB_A2S_H
#define BF_LIB_A2S_H

#include <linux/bpf.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "../bifrost.h"
#include "edge_maps.h"
#include "parse.h"

/* First bf_xsks slot of the interface this program is attached to; set per
 * skeleton by edge/loader.c (interface i: i * BF_XSK_QUEUES). */
const volatile __u32 xsk_base = 0;

/* "Source Engine Query\0" as little-endian words: bytes 5..24 of an A2S_INFO request. */
#define BF_A2S_INFO_W0 0x4520656372756f53ULL /* "Source E" */
#define BF_A2S_INFO_W1 0x755120656e69676eULL /* "ngine Qu" */
#define BF_A2S_INFO_W2 0x00797265U           /* "ery\0" */

/* The bf_conn_val flag a request needs, or 0 when it is no well-formed request of a
 * kind the connection has cached. Only the prefix the worker needs to recognise the
 * kind is checked here; the worker's parser (sync/a2s.c) has the last word. */
static __always_inline __u16 a2s_request_flag(const __u8 *pl, __u32 len, void *data_end,
					      __u16 cached)
{
	if (len < 9 || (void *)(pl + 9) > data_end)
		return 0;
	if (*(const __u32 *)pl != 0xffffffffU)
		return 0;
	switch (pl[4]) {
	case 0x54: /* INFO: the whole 25 bytes, the string compared in full */
		if (len < 25 || (void *)(pl + 25) > data_end)
			return 0;
		if (*(const __u64 *)(pl + 5) != BF_A2S_INFO_W0 ||
		    *(const __u64 *)(pl + 13) != BF_A2S_INFO_W1 ||
		    *(const __u32 *)(pl + 21) != BF_A2S_INFO_W2)
			return 0;
		return cached & BF_CONN_F_A2S_INFO;
	case 0x55:
		return cached & BF_CONN_F_A2S_PLAYER;
	case 0x56:
		return cached & BF_CONN_F_A2S_RULES;
	case 0x57: /* 'W' asks for a challenge: answerable when anything is cached */
		return cached;
	}
	return 0;
}

/* 1 when the payload is a Source query its server answers with more bytes
 * than the query has: sent from a forged source, the answer would amplify
 * an attack on that source. A bare 5-byte 'W' (GETCHALLENGE) gets a 9-byte
 * challenge; A2A_PING ('i') gets 'j' and 14 digits, 20 bytes in all. */
static __always_inline int a2s_amplifies(const __u8 *pl, __u32 len, void *data_end)
{
	if (len < 5 || (void *)(pl + 5) > data_end || *(const __u32 *)pl != 0xffffffffU)
		return 0;
	switch (pl[4]) {
	case 0x57:
		return len < 9;
	case 0x69:
		return len < 20;
	}
	return 0;
}

/* Stage 6, after the limits, for UDP to a Source server (`a2s` on) or to a
 * connection with a cached reply: a query that would amplify is dropped
 * (reason `amplifier`); an answerable request goes to the AF_XDP worker
 * (XDP_REDIRECT, reason `a2s_redirect`); else BF_GO_ON: not such a
 * request, or no worker socket on this queue (bpf_redirect_map then returns
 * the XDP_PASS fallback, and the request reaches the game server). */
static __always_inline int a2s_stage(struct xdp_md *ctx, const struct pkt *p,
				     const struct bf_conn_val *conn, __u32 *reason)
{
	void *data_end = (void *)(long)ctx->data_end;
	__u16 cached = conn->flags & BF_CONN_F_A2S_ANY;
	struct udphdr *udp = p->l4;
	__u32 queue = ctx->rx_queue_index, len;
	const __u8 *pl;

	if (p->proto != IPPROTO_UDP || !(conn->flags & (BF_CONN_F_SOURCE | BF_CONN_F_A2S_ANY)))
		return BF_GO_ON;
	if ((void *)(udp + 1) > data_end)
		return BF_GO_ON;
	/* parse_ipv4 checked 8 <= udp->len <= the IPv4 payload */
	pl = (const __u8 *)(udp + 1);
	len = bpf_ntohs(udp->len) - sizeof(*udp);
	if ((conn->flags & BF_CONN_F_SOURCE) && a2s_amplifies(pl, len, data_end)) {
		*reason = BF_R_AMPLIFIER;
		return XDP_DROP;
	}
	/* The workers parse one VLAN tag at most: a QinQ request is forwarded. */
	if (!cached || queue >= BF_XSK_QUEUES || p->l2_len > 18)
		return BF_GO_ON;
	if (!a2s_request_flag(pl, len, data_end, cached))
		return BF_GO_ON;
	if (bpf_redirect_map(&bf_xsks, xsk_base + queue, XDP_PASS) != XDP_REDIRECT)
		return BF_GO_ON;
	*reason = BF_R_A2S_REDIRECT;
	return XDP_REDIRECT;
}

#endif /* BF_LIB_A2S_H */
