/* inet_csum.h - the Internet checksum (RFC 1071) in user space, for the
 * packets user space builds: the AF_XDP workers' replies and the tests'
 * frames. (XDP has its own in bpf/lib/csum.h.) */
#ifndef BF_INET_CSUM_H
#define BF_INET_CSUM_H

#include <stddef.h>
#include <stdint.h>

/* Adds len bytes (big-endian 16-bit words, an odd last byte padded) to sum. */
static inline uint32_t bf_csum_add(const void *data, size_t len, uint32_t sum)
{
	const uint8_t *p = data;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

/* The one's-complement of the folded sum: the value a checksum field takes. */
static inline uint16_t bf_csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

#endif
