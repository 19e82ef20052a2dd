/* a2s_challenge.c - the fleet's A2S challenge: SipHash-2-4 of the client's
 * address and a time bucket under the fleet's key, checked against the
 * current and previous bucket and key (docs/ARCHITECTURE.md, "A2S"). Pure. */
#include <errno.h>
#include <string.h>

#include "a2s_wire.h"
#include "text.h"

/* ---- SipHash-2-4 and the challenge ---- */

static uint64_t rotl(uint64_t x, int b)
{
	return x << b | x >> (64 - b);
}

#define SIPROUND                                                                                   \
	do {                                                                                       \
		v0 += v1;                                                                          \
		v1 = rotl(v1, 13);                                                                 \
		v1 ^= v0;                                                                          \
		v0 = rotl(v0, 32);                                                                 \
		v2 += v3;                                                                          \
		v3 = rotl(v3, 16);                                                                 \
		v3 ^= v2;                                                                          \
		v0 += v3;                                                                          \
		v3 = rotl(v3, 21);                                                                 \
		v3 ^= v0;                                                                          \
		v2 += v1;                                                                          \
		v1 = rotl(v1, 17);                                                                 \
		v1 ^= v2;                                                                          \
		v2 = rotl(v2, 32);                                                                 \
	} while (0)

uint64_t a2s_siphash24(const uint8_t key[A2S_KEY_LEN], const void *msg, size_t len)
{
	const uint8_t *m = msg;
	uint64_t k0 = le64(key), k1 = le64(key + 8);
	uint64_t v0 = k0 ^ 0x736f6d6570736575ULL, v1 = k1 ^ 0x646f72616e646f6dULL;
	uint64_t v2 = k0 ^ 0x6c7967656e657261ULL, v3 = k1 ^ 0x7465646279746573ULL;
	uint64_t b = (uint64_t)len << 56;
	size_t i, full = len & ~(size_t)7;

	for (i = 0; i < full; i += 8) {
		uint64_t w = le64(m + i);

		v3 ^= w;
		SIPROUND;
		SIPROUND;
		v0 ^= w;
	}
	/* The last word: the 0-7 bytes left, and the length's low byte on top. */
	for (size_t j = 0; i + j < len; j++)
		b |= (uint64_t)m[i + j] << (8 * j);
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

uint32_t a2s_challenge(const uint8_t key[A2S_KEY_LEN], uint32_t client_ip, uint64_t bucket)
{
	uint8_t msg[12];
	uint64_t h;
	uint32_t c;

	memcpy(msg, &client_ip, 4); /* network order, as it is on the wire */
	put64(msg + 4, bucket);
	h = a2s_siphash24(key, msg, sizeof(msg));
	c = (uint32_t)(h ^ h >> 32);
	/* The two values a client sends to mean "no challenge" are never handed out. */
	if (c == 0)
		c = 0x5bd1e995u;
	else if (c == A2S_ASK_CHALLENGE)
		c = 0xa42e166au;
	return c;
}

uint64_t a2s_bucket(uint64_t now_ms, uint32_t bucket_ms)
{
	return now_ms / (bucket_ms ? bucket_ms : A2S_BUCKET_MS_DEFAULT);
}

uint32_t a2s_challenge_now(const struct a2s_keys *k, uint32_t client_ip, uint64_t now_ms)
{
	return a2s_challenge(k->cur, client_ip, a2s_bucket(now_ms, k->bucket_ms));
}

bool a2s_challenge_ok(const struct a2s_keys *k, uint32_t client_ip, uint32_t challenge,
		      uint64_t now_ms)
{
	uint64_t b = a2s_bucket(now_ms, k->bucket_ms);
	const uint8_t *keys[2] = { k->cur, k->has_prev ? k->prev : NULL };

	if (challenge == 0 || challenge == A2S_ASK_CHALLENGE)
		return false;
	for (int i = 0; i < 2 && keys[i]; i++)
		if (a2s_challenge(keys[i], client_ip, b) == challenge ||
		    (b > 0 && a2s_challenge(keys[i], client_ip, b - 1) == challenge))
			return true;
	return false;
}

int a2s_key_parse(const char *hex, uint8_t key[A2S_KEY_LEN])
{
	size_t n = strlen(hex);

	if (n != 2 * A2S_KEY_LEN)
		return -EINVAL;
	return bf_hex_decode(hex, n, key, A2S_KEY_LEN) < 0 ? -EINVAL : 0;
}

