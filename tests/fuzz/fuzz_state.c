/* fuzz_state.c - the edge's state file, which a full disk, a crash mid-write or another
 * tool can leave damaged: each line through the cursor parser and the fleet register's
 * reg_state_line, then what was taken saved again (reg_state_save). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_split.h"
#include "guard.h"
#include "register.h"
#include "schema_keys.h"

static void effect(void *ctx, const struct reg_effect *fx)
{
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct edge_guard guard;
	static int ready;
	char *text = fuzz_cstr(data, size), *save = NULL, *line;
	struct edge_register *r;

	if (!ready) {
		struct edge_guard_limits l;

		edge_guard_limits_init(&l);
		edge_guard_init(&guard, &l);
		ready = 1;
	}
	r = reg_new(&guard, effect, NULL);
	if (!text || !r)
		goto out;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct bf_cursor_line cl;

		if (bf_cursor_line_parse(line, &cl))
			reg_state_line(r, line, 1800000000000LL);
	}
	{
		FILE *f = fopen("/dev/null", "w");

		if (f) {
			reg_state_save(r, f);
			fclose(f);
		}
	}
out:
	if (r)
		reg_free(r);
	free(text);
	return 0;
}
