/* fuzz_records.c - what anyone who reaches Redis can write into the fleet's keys: a
 * change-log record (XADD fields), a connection hash, a rule hash and text, a limits
 * hash, a list member and its score, a Flowspec state line; and what a read replica or
 * the primary answers to INFO replication (the edge's lag check). A rule that parses is also
 * made a Flowspec route behind the rails. The first byte picks the parser and the kind;
 * the rest is NUL-separated name/value strings. */
#include <stdint.h>
#include <stdlib.h>

#include "flowspec.h"
#include "replica_lag.h"
#include "fuzz_split.h"
#include "schema_conn.h"
#include "schema_entry.h"
#include "schema_limits.h"
#include "schema_log.h"
#include "schema_rule.h"

/* A rule that parsed, through the rails of a POP with a bit of everything. */
static void flowspec(const struct bf_rule_def *r)
{
	static const struct bf_cidr announce[2] = { { .plen = 24, .addr = 0x0002000c },
						    { .plen = 16, .addr = 0x0000000a } };
	static const struct bf_cidr prot[1] = { { .plen = 32, .addr = 0xfa0200c0 } };
	static const uint32_t bgp[2] = { 0x016433c6, 0x010200c0 };
	static const struct bf_fs_policy p = { .announce = announce, .n_announce = 2,
					       .bgp_addrs = bgp, .n_bgp = 2, .protect = prot,
					       .n_protect = 1, .whitelist = prot, .n_whitelist = 1,
					       .min_plen = 24, .mtu = 1500 };
	char m[BF_FS_MATCH_MAX], d[BF_FS_DETAIL_MAX];

	bf_fs_translate(r, &p, m, sizeof(m), d, sizeof(d));
}

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

		if (!bf_rule_parse_fields(data[0], ff.f, ff.n, &r, err, sizeof(err)))
			flowspec(&r);
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
	default: { /* the rule's text form (bifrostctl rule add, the HASH's values), and the
		  * same bytes as a line of bifrost:flowspec:<id> */
		struct bf_rule_def r;
		struct bf_fs_line l;
		char *text = fuzz_cstr(data + 1, size - 1);

		if (text && !bf_rule_parse(1, text, size - 1, &r, err, sizeof(err)))
			flowspec(&r);
		bf_fs_line_parse((const char *)data + 1, size - 1, &l);
		{
			struct bf_repl_info ri, prim = { .offset = 1 };
			struct bf_lag lag;

			bf_lag_reset(&lag);
			bf_lag_primary(&lag, 1000, 7);
			if (!bf_repl_info_parse((const char *)data + 1, size - 1, &ri))
				bf_replica_judge(&ri, &prim, bf_lag_ms(&lag, 2000, ri.offset), 2000);
		}
		free(text);
		break;
	}
	}
	fuzz_fields_free(&ff);
	return 0;
}
