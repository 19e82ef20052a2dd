/* fuzz_a2s.c - A2S bytes from the Internet (requests the workers classify) and from a game
 * server or Redis (replies the refresher and the edges parse, split parts they
 * reassemble). The first byte picks the parser. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "a2s.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *what = NULL;
	uint8_t *buf;
	size_t len;

	if (!size)
		return 0;
	len = size - 1;
	buf = malloc(len ? len : 1);
	if (!buf)
		return 0;
	memcpy(buf, data + 1, len);
	switch (data[0] % 4) {
	case 0: {
		struct a2s_req req;
		uint32_t ch;

		a2s_classify(buf, len, &req);
		a2s_challenge_parse(buf, len, &ch);
		a2s_reply_type(buf, len);
		break;
	}
	case 1: {
		struct a2s_info info;

		a2s_info_parse(buf, len, &info, &what);
		break;
	}
	case 2: {
		struct a2s_player p[8];
		struct a2s_rule r[8];
		size_t n;

		a2s_player_parse(buf, len, p, 8, &n, &what);
		a2s_rules_parse(buf, len, r, 8, &n, &what);
		break;
	}
	default: { /* split parts: the input cut into parts at each 0xFE FF FF FF */
		static uint8_t out[A2S_REPLY_MAX];
		struct a2s_asm a;
		size_t at = 0;

		a2s_asm_init(&a, out, sizeof(out));
		while (at < len) {
			size_t end = at + 4;

			while (end + 4 <= len && memcmp(buf + end, "\xfe\xff\xff\xff", 4))
				end++;
			if (end + 4 > len)
				end = len;
			if (a2s_asm_add(&a, buf + at, end - at, &what) == 1)
				break;
			at = end;
		}
		break;
	}
	}
	free(buf);
	return 0;
}
