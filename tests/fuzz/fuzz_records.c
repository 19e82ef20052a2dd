/* fuzz_records.c - what anyone who reaches Redis can write into the fleet's keys: a
 * change-log record (XADD fields), a connection hash, a rule hash and text, a limits
 * hash, a list member and its score. The first byte picks the parser and the kind; the
 * rest is NUL-separated name/value strings. */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_split.h"
#include "schema_conn.h"
#include "schema_entry.h"
#include "schema_limits.h"
#include "schema_log.h"
#include "schema_rule.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_fields ff;
	const char *what = NULL;
	char err[256];

	if (!size)
		return 0;
	fuzz_fields_cut(data + 1, size - 1, &ff);
	switch (data[0] % 6) {
	case 0: {
		struct bf_log_rec rec;

		bf_log_rec_parse((enum bf_kind)(data[0] / 6 % BF_KIND_MAX), ff.f, ff.n,
				 1700000000000LL, &rec, &what);
		break;
	}
	case 1: {
		struct bf_conn c = { 0 };

		bf_conn_parse_fields(ff.f, ff.n, &c, &what);
		break;
	}
	case 2: {
		struct bf_rule_def r;

		bf_rule_parse_fields(data[0], ff.f, ff.n, &r, err, sizeof(err));
		break;
	}
	case 3: {
		struct bf_limits l;

		bf_limits_parse_fields(ff.f, ff.n, data[0] & 8 ? 6 : 17, &l, &what);
		break;
	}
	case 4: { /* a list member and its score, as a resync reads them */
		struct bf_entry e;
		int64_t exp;

		for (size_t i = 0; i < ff.n; i++) {
			bf_entry_parse((enum bf_kind)(i % BF_KIND_MAX), ff.f[i].name, ff.f[i].name_len,
				       &e);
			bf_exp_parse(ff.f[i].val, ff.f[i].val_len, 1700000000000LL, &exp);
		}
		break;
	}
	default: { /* the rule's text form (bifrostctl rule add, the HASH's values) */
		struct bf_rule_def r;
		char *text = fuzz_cstr(data + 1, size - 1);

		if (text)
			bf_rule_parse(1, text, size - 1, &r, err, sizeof(err));
		free(text);
		break;
	}
	}
	fuzz_fields_free(&ff);
	return 0;
}
