/* fuzz_frames.c - msgpack from the event and stats channels (anyone who reaches Redis can
 * PUBLISH): bf_evt_decode and bf_stats_decode, and the walker under both. The first byte
 * picks the decoder; the rest is the frame. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "schema_evt.h"
#include "schema_msgpack.h"
#include "schema_stats.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *what = NULL;
	uint8_t *buf;

	if (!size)
		return 0;
	buf = malloc(size - 1 ? size - 1 : 1); /* exactly the frame: no slack to hide a read */
	if (!buf)
		return 0;
	memcpy(buf, data + 1, size - 1);
	if (data[0] & 1) {
		struct bf_stats_frame fr;

		bf_stats_decode(buf, size - 1, &fr, &what);
	} else {
		struct bf_evt ev;

		bf_evt_decode(buf, size - 1, 1700000000000LL, &ev, &what);
	}
	bf_msgpack_check(buf, size - 1, 8);
	free(buf);
	return 0;
}
