/* a2s_wire.h - little-endian wire fields of the A2S protocol, for
 * a2s.c, a2s_challenge.c and a2s_split.c only. */
#ifndef BF_A2S_WIRE_H
#define BF_A2S_WIRE_H

#include <stdbool.h>
#include <stdint.h>

#include "a2s.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the parsers read little-endian wire fields straight into integers"
#endif

static inline uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static inline void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

static inline void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static inline bool simple_hdr(const uint8_t *p)
{
	return le32(p) == A2S_HDR_SIMPLE;
}

#endif
