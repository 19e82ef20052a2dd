/* test_register.c - the fleet register without Redis or maps: max-expiry
 * semantics across origins, deletes, resyncs, the per-origin caps of every
 * kind, the guard's minimum prefixes, own entries, expiry and the state file. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
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

static struct edge_guard guard;

/* A register whose guard has the defaults but these caps per origin (0: the default). */
static struct edge_register *reg_capped(uint32_t punch_cap, uint32_t bl_cap, struct seen *s)
{
	struct edge_guard_limits l;

	edge_guard_limits_init(&l);
	if (punch_cap)
		l.caps.per_origin[BF_KIND_PUNCH] = punch_cap;
	if (bl_cap)
		l.caps.per_origin[BF_KIND_BL] = bl_cap;
	edge_guard_init(&guard, &l);
	return reg_new(&guard, record_effect, s);
}

static void test_register__max_expiry_over_origins(void **state)
{
	struct seen s = { 0 };
	struct edge_register *r = reg_capped(10, 0, &s);
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
	struct edge_register *r = reg_capped(10, 0, &s);
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
	struct edge_register *r = reg_capped(2, 0, &s);
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
	assert_int_equal(guard.refused[GK_PUNCH][GW_CAP], 1);
	reg_stats(r, &st);
	assert_int_equal(st.entries, 3);
	reg_free(r);
}

static void count_own(void *ctx, const struct bf_entry *e, int64_t exp)
{
	(*(int *)ctx)++;
}

static void test_register__own_entries_and_expiry(void **state)
{
	struct seen s = { 0 };
	struct edge_register *r = reg_capped(10, 0, &s);
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
	struct edge_register *r = reg_capped(10, 0, &s), *back;
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
	back = reg_new(&guard, record_effect, &s);
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

/* wl 0.0.0.0/0 skips every filter, bl 0.0.0.0/0 drops everyone: from the bus, a CIDR
 * shorter than its kind's min_prefix is never registered, from a record, a resync or the
 * state file, and the rest goes on. */
static void test_register__min_prefix(void **state)
{
	struct seen s = { 0 };
	struct edge_register *r = reg_capped(0, 0, &s);
	struct bf_entry own = entry(BF_KIND_BL, "198.51.100.7");
	struct reg_stats st;

	assert_int_equal(reg_record(r, "ops", &rec(BF_OP_ADD, entry(BF_KIND_WL, "0.0.0.0/0"),
						    BF_EXP_INF, 1)), -EPERM);
	assert_int_equal(reg_record(r, "ops", &rec(BF_OP_ADD, entry(BF_KIND_WL, "10.0.0.0/15"),
						    BF_EXP_INF, 2)), -EPERM);
	assert_int_equal(reg_record(r, "ops", &rec(BF_OP_ADD, entry(BF_KIND_WL, "10.0.0.0/16"),
						    BF_EXP_INF, 3)), 0);
	assert_int_equal(s.n, 1); /* only the /16 reached the maps */
	assert_int_equal(reg_record(r, "pop2", &rec(BF_OP_ADD, entry(BF_KIND_BL, "0.0.0.0/0"),
						     NOW + 1000, 0)), -EPERM);
	assert_int_equal(reg_record(r, "pop2", &rec(BF_OP_ADD, entry(BF_KIND_BL, "8.0.0.0/7"),
						     NOW + 1000, 1)), -EPERM);
	assert_int_equal(reg_record(r, "pop2", &rec(BF_OP_ADD, entry(BF_KIND_BL, "8.0.0.0/8"),
						     NOW + 1000, 2)), 0);
	/* Deleting what was refused is harmless. */
	assert_int_equal(reg_record(r, "pop2", &rec(BF_OP_DEL, entry(BF_KIND_BL, "0.0.0.0/0"),
						     0, 3)), 0);
	reg_state_line(r, "owner pop3 +inf bl 0.0.0.0/1", NOW);
	assert_int_equal(guard.refused[GK_WL][GW_PREFIX], 2);
	assert_int_equal(guard.refused[GK_BL][GW_PREFIX], 3);
	reg_stats(r, &st);
	assert_int_equal(st.entries, 2);
	/* Own entries are not judged: XDP made them. */
	reg_own(r, &own, NOW + 1000);
	assert_int_equal(reg_own_exp(r, &own), NOW + 1000);
	reg_free(r);
}

/* One cap table for every kind: each (origin, kind) counts on its own; a delete or an
 * expiry makes room. */
static void test_register__caps_per_origin_and_kind(void **state)
{
	struct seen s = { 0 };
	struct edge_register *r = reg_capped(0, 3, &s);
	char text[32];

	for (int i = 0; i < 5; i++) {
		snprintf(text, sizeof(text), "198.51.100.%d", i);
		assert_int_equal(reg_record(r, "ops", &rec(BF_OP_ADD, entry(BF_KIND_BL, text),
							    NOW + 60000, (uint64_t)i + 1)),
				 i < 3 ? 0 : -EDQUOT);
	}
	assert_int_equal(guard.refused[GK_BL][GW_CAP], 2);
	assert_false(s.last.peers); /* a refused entry is not in the maps */
	/* Another origin, and another kind of the same origin, have their own room. */
	assert_int_equal(reg_record(r, "pop2", &rec(BF_OP_ADD, entry(BF_KIND_BL, "198.51.100.4"),
						     NOW + 60000, 1)), 0);
	assert_int_equal(reg_record(r, "ops", &rec(BF_OP_ADD, entry(BF_KIND_WL, "198.51.100.0/24"),
						    BF_EXP_INF, 1)), 0);
	/* A renewal of a held entry is no new entry. */
	assert_int_equal(reg_record(r, "ops", &rec(BF_OP_ADD, entry(BF_KIND_BL, "198.51.100.0"),
						    NOW + 90000, 6)), 0);
	/* A delete makes room; so does an expiry. */
	reg_record(r, "ops", &rec(BF_OP_DEL, entry(BF_KIND_BL, "198.51.100.0"), 0, 7));
	assert_int_equal(reg_record(r, "ops", &rec(BF_OP_ADD, entry(BF_KIND_BL, "198.51.100.9"),
						    NOW + 1000, 8)), 0);
	assert_int_equal(reg_record(r, "ops", &rec(BF_OP_ADD, entry(BF_KIND_BL, "198.51.100.10"),
						    NOW + 1000, 9)), -EDQUOT);
	reg_expire(r, NOW + 2000); /* .9 lapsed */
	assert_int_equal(reg_record(r, "ops", &rec(BF_OP_ADD, entry(BF_KIND_BL, "198.51.100.10"),
						    NOW + 60000, 10)), 0);
	assert_int_equal(guard.refused[GK_BL][GW_CAP], 3);
	reg_free(r);
}

/* The table through growth, deletes (tombstones), entries of several owners and a
 * resync that drops entries while it walks: every count follows. */
static void test_register__table_growth_deletes_and_walks(void **state)
{
	struct seen s = { 0 };
	struct edge_register *r = reg_capped(0, 400000, &s);
	struct reg_stats st;
	const unsigned n = 200000;
	unsigned both = 0, kept;

	for (unsigned i = 0; i < n; i++) {
		struct bf_entry e = { .kind = BF_KIND_BL };

		e.cidr.addr = htonl(0x0a000000u + i);
		e.cidr.plen = 32;
		assert_int_equal(reg_record(r, "pop1", &rec(BF_OP_ADD, e, NOW + 1000, i + 1)), 0);
	}
	reg_stats(r, &st);
	assert_int_equal(st.entries, n);
	/* pop2 and ops also hold every fourth: three owners, the heap's list of them. */
	for (unsigned i = 0; i < n; i += 4) {
		struct bf_entry e = { .kind = BF_KIND_BL };

		e.cidr.addr = htonl(0x0a000000u + i);
		e.cidr.plen = 32;
		reg_record(r, "pop2", &rec(BF_OP_ADD, e, NOW + 2000, i + 1));
		reg_record(r, "ops", &rec(BF_OP_ADD, e, NOW + 3000, i + 1));
		assert_int_equal(s.last.exp_ms, NOW + 3000);
		both++;
	}
	/* pop1 deletes every other: those only it held go, the shared ones stay. */
	for (unsigned i = 0; i < n; i += 2) {
		struct bf_entry e = { .kind = BF_KIND_BL };

		e.cidr.addr = htonl(0x0a000000u + i);
		e.cidr.plen = 32;
		reg_record(r, "pop1", &rec(BF_OP_DEL, e, 0, n + i + 1));
		assert_int_equal(s.last.peers, i % 4 == 0);
	}
	reg_stats(r, &st);
	assert_int_equal(st.entries, n / 2 + both);
	/* Deleted ones come back (their slots are tombstones now). */
	for (unsigned i = 2; i < n; i += 4) {
		struct bf_entry e = { .kind = BF_KIND_BL };

		e.cidr.addr = htonl(0x0a000000u + i);
		e.cidr.plen = 32;
		assert_int_equal(reg_record(r, "pop1", &rec(BF_OP_ADD, e, NOW + 1000, 2 * n + i)), 0);
	}
	reg_stats(r, &st);
	assert_int_equal(st.entries, n / 2 + both + n / 4);
	/* A resync of pop1 that re-announces only multiples of 3: the walk drops the
	 * others pop1 alone held, and keeps what pop2 and ops hold. */
	reg_resync_begin(r, BF_KIND_BL);
	kept = 0;
	for (unsigned i = 0; i < n; i++) {
		struct bf_entry e = { .kind = BF_KIND_BL };
		bool pop1_holds = i % 2 == 1 || i % 4 == 2;

		e.cidr.addr = htonl(0x0a000000u + i);
		e.cidr.plen = 32;
		if (pop1_holds && i % 3 == 0)
			reg_record(r, "pop1", &rec(BF_OP_ADD, e, NOW + 1000, 0));
		if ((pop1_holds && i % 3 == 0) || i % 4 == 0)
			kept++;
	}
	reg_resync_end(r, BF_KIND_BL, "pop1");
	reg_stats(r, &st);
	assert_int_equal(st.entries, kept);
	reg_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_register__max_expiry_over_origins),
		cmocka_unit_test(test_register__resync_drops_what_the_zset_lost),
		cmocka_unit_test(test_register__origin_punch_cap),
		cmocka_unit_test(test_register__own_entries_and_expiry),
		cmocka_unit_test(test_register__state_file_round_trip),
		cmocka_unit_test(test_register__min_prefix),
		cmocka_unit_test(test_register__caps_per_origin_and_kind),
		cmocka_unit_test(test_register__table_growth_deletes_and_walks),
	};

	return cmocka_run_group_tests_name("register", tests, NULL, NULL);
}
