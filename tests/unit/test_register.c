/* test_register.c - the fleet register without Redis or maps: max-expiry
 * semantics across origins, deletes, resyncs, the per-origin punch cap, own
 * entries, expiry and the state file. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../edge/register.h"

struct seen {
	struct reg_effect last;
	int n;
};

static void record_effect(void *ctx, const struct reg_effect *fx)
{
	struct seen *s = ctx;

	s->last = *fx;
	s->n++;
}

static struct bf_entry entry(enum bf_kind k, const char *text)
{
	struct bf_entry e;

	if (bf_entry_parse(k, text, strlen(text), &e))
		fail_msg("bad entry %s", text);
	return e;
}

/* A record as a compound literal, so a call can take its address. */
#define rec(o, e, exp, s) ((struct bf_log_rec){ .op = (o), .entry = (e), .exp_ms = (exp), .seq = (s) })

#define NOW 1800000000000LL

static void test_register__max_expiry_over_origins(void **state)
{
	struct seen s = { 0 };
	struct edge_register *r = reg_new(10, record_effect, &s);
	struct bf_entry e = entry(BF_KIND_BL, "198.51.100.7");

	assert_int_equal(reg_record(r, "pop1", &rec(BF_OP_ADD, e, NOW + 1000, 1)), 0);
	assert_true(s.last.peers);
	assert_false(s.last.mine);
	assert_int_equal(s.last.exp_ms, NOW + 1000);
	/* A later expiry from another origin wins; an earlier one changes nothing. */
	reg_record(r, "ops", &rec(BF_OP_ADD, e, NOW + 5000, 1));
	assert_int_equal(s.last.exp_ms, NOW + 5000);
	reg_record(r, "pop1", &rec(BF_OP_ADD, e, NOW + 2000, 2));
	assert_int_equal(s.last.exp_ms, NOW + 5000);
	/* A replay with an earlier expiry does not shorten pop1's claim... */
	reg_record(r, "ops", &rec(BF_OP_DEL, e, 0, 2));
	assert_int_equal(s.last.exp_ms, NOW + 2000);
	reg_record(r, "pop1", &rec(BF_OP_ADD, e, NOW + 1500, 3));
	assert_int_equal(s.last.exp_ms, NOW + 2000);
	/* ...but its ZSET (a resync, seq 0) is that origin's truth. */
	reg_record(r, "pop1", &rec(BF_OP_ADD, e, NOW + 1500, 0));
	assert_int_equal(s.last.exp_ms, NOW + 1500);
	reg_record(r, "pop1", &rec(BF_OP_DEL, e, 0, 4));
	assert_false(s.last.peers);
	reg_free(r);
}

static void test_register__resync_drops_what_the_zset_lost(void **state)
{
	struct seen s = { 0 };
	struct edge_register *r = reg_new(10, record_effect, &s);
	struct bf_entry a = entry(BF_KIND_WL, "198.51.100.0/24"), b = entry(BF_KIND_WL, "203.0.113.0/24");
	struct reg_stats st;

	reg_record(r, "pop2", &rec(BF_OP_ADD, a, BF_EXP_INF, 1));
	reg_record(r, "pop2", &rec(BF_OP_ADD, b, BF_EXP_INF, 2));
	reg_record(r, "pop3", &rec(BF_OP_ADD, b, BF_EXP_INF, 1));
	reg_resync_begin(r, BF_KIND_WL);
	reg_record(r, "pop2", &rec(BF_OP_ADD, a, BF_EXP_INF, 0)); /* only a is still in pop2's ZSET */
	s.n = 0;
	reg_resync_end(r, BF_KIND_WL, "pop2");
	assert_int_equal(s.n, 1);
	assert_int_equal(s.last.e.cidr.addr, b.cidr.addr);
	assert_true(s.last.peers); /* pop3 still holds b */
	reg_stats(r, &st);
	assert_int_equal(st.entries, 2);
	reg_free(r);
}

static void test_register__origin_punch_cap(void **state)
{
	struct seen s = { 0 };
	struct edge_register *r = reg_new(2, record_effect, &s);
	struct reg_stats st;
	char text[96];

	for (int i = 0; i < 3; i++) {
		snprintf(text, sizeof(text), "udp 198.51.100.34:%d 203.0.113.10:40000 via 198.18.3.2",
			 5000 + i);
		assert_int_equal(reg_record(r, "pop9", &rec(BF_OP_ADD, entry(BF_KIND_PUNCH, text),
							     NOW + 60000, (uint64_t)i + 1)),
				 i < 2 ? 0 : -EDQUOT);
	}
	assert_false(s.last.peers); /* the third was not registered */
	/* Another origin has its own cap. */
	assert_int_equal(reg_record(r, "pop8", &rec(BF_OP_ADD, entry(BF_KIND_PUNCH, text),
						     NOW + 60000, 1)),
			 0);
	/* A deleted punch gives pop9 room again. */
	snprintf(text, sizeof(text), "udp 198.51.100.34:5000 203.0.113.10:40000 via 198.18.3.2");
	reg_record(r, "pop9", &rec(BF_OP_DEL, entry(BF_KIND_PUNCH, text), 0, 4));
	snprintf(text, sizeof(text), "udp 198.51.100.34:6000 203.0.113.10:40000 via 198.18.3.2");
	assert_int_equal(reg_record(r, "pop9", &rec(BF_OP_ADD, entry(BF_KIND_PUNCH, text),
						     NOW + 60000, 5)),
			 0);
	reg_stats(r, &st);
	assert_int_equal(st.punch_refused_origin, 1);
	reg_free(r);
}

static void count_own(void *ctx, const struct bf_entry *e, int64_t exp)
{
	(*(int *)ctx)++;
}

static void test_register__own_entries_and_expiry(void **state)
{
	struct seen s = { 0 };
	struct edge_register *r = reg_new(10, record_effect, &s);
	struct bf_entry live = entry(BF_KIND_BL, "198.51.100.8"), old = entry(BF_KIND_BL, "198.51.100.9");
	int n = 0;

	reg_own(r, &live, NOW + 10000);
	reg_own(r, &old, NOW - 1);
	assert_int_equal(reg_own_exp(r, &live), NOW + 10000);
	assert_int_equal(reg_own_each(r, NOW, count_own, &n), 1);
	assert_int_equal(n, 1);
	reg_expire(r, NOW);
	assert_int_equal(reg_own_exp(r, &old), 0);
	/* A peer's claim on our entry: the effect says both. */
	reg_record(r, "pop2", &rec(BF_OP_ADD, live, NOW + 20000, 1));
	assert_true(s.last.mine);
	assert_true(s.last.peers);
	reg_free(r);
}

static void test_register__state_file_round_trip(void **state)
{
	struct seen s = { 0 };
	struct edge_register *r = reg_new(10, record_effect, &s), *back;
	struct bf_entry wl = entry(BF_KIND_WL, "198.51.100.0/24");
	struct bf_entry p = entry(BF_KIND_PUNCH, "udp 198.51.100.34:5000 203.0.113.10:40000 via 198.18.3.2");
	char *buf = NULL, line[256];
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int lines = 0;

	reg_record(r, "ops", &rec(BF_OP_ADD, wl, BF_EXP_INF, 1));
	reg_record(r, "pop2", &rec(BF_OP_ADD, p, NOW + 60000, 1)); /* a peer's punch: not saved */
	reg_own(r, &p, NOW + 60000);
	reg_state_save(r, f);
	fclose(f);
	back = reg_new(10, record_effect, &s);
	f = fmemopen(buf, len, "r");
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		reg_state_line(back, line, NOW);
		lines++;
	}
	fclose(f);
	assert_int_equal(lines, 2);
	assert_int_equal(reg_own_exp(back, &p), NOW + 60000);
	reg_state_line(back, "owner pop2 junk wl 198.51.100.0/24", NOW);  /* damaged: skipped */
	reg_state_line(back, "owner pop2 1000 wl 198.51.100.0/24", NOW);  /* expired: skipped */
	{
		struct reg_stats st;

		reg_stats(back, &st);
		assert_int_equal(st.entries, 2);
	}
	free(buf);
	reg_free(r);
	reg_free(back);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_register__max_expiry_over_origins),
		cmocka_unit_test(test_register__resync_drops_what_the_zset_lost),
		cmocka_unit_test(test_register__origin_punch_cap),
		cmocka_unit_test(test_register__own_entries_and_expiry),
		cmocka_unit_test(test_register__state_file_round_trip),
	};

	return cmocka_run_group_tests_name("register", tests, NULL, NULL);
}
