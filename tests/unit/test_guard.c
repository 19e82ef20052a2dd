/* test_guard.c - the fleet bus's guard rails without Redis or maps: which rules and
 * protected prefixes of a fleet config are refused, what sync/'s refusals count as, one
 * log line per state (and one when it ends), the rows /metrics shows and the heartbeat's
 * summary. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../edge/guard.h"

/* Runs with stderr (the log) in a file; returns how many lines hold `what`. */
static FILE *log_file;
static int saved_fd = -1;

static void log_capture(void)
{
	log_file = tmpfile();
	assert_non_null(log_file);
	fflush(stderr);
	saved_fd = dup(2);
	dup2(fileno(log_file), 2);
}

static int log_lines(const char *what)
{
	char line[1200];
	int n = 0;

	fflush(stderr);
	dup2(saved_fd, 2);
	close(saved_fd);
	rewind(log_file);
	while (fgets(line, sizeof(line), log_file))
		n += strstr(line, what) != NULL;
	fclose(log_file);
	return n;
}

static struct bf_rule_def rule(uint32_t id, const char *text)
{
	struct bf_rule_def r;
	char err[200];

	if (bf_rule_parse(id, text, strlen(text), &r, err, sizeof(err)))
		fail_msg("rule %u '%s': %s", id, text, err);
	return r;
}

static void test_guard__rules(void **state)
{
	struct bf_rule_def in[] = {
		rule(1, "action pass src 198.51.100.0/24"),
		rule(2, "action drop"),                         /* everything: refused */
		rule(3, "action drop proto udp dport 53"),
		rule(4, "action drop src 0.0.0.0/0 ttl 0-255"), /* the same, dressed up */
		rule(5, "action drop all yes edges pop1"),      /* on purpose */
		rule(6, "action drop edges pop2"),              /* not this edge's: not judged */
		rule(7, "action drop dry_run yes"),             /* drops nothing */
	}, out[7];
	struct edge_guard g;
	size_t n;

	edge_guard_init(&g, NULL);
	log_capture();
	n = edge_guard_rules(&g, in, 7, "pop1", out);
	assert_int_equal(log_lines("guard: refusing rule 2 of the fleet: it matches every packet"),
			 1);
	assert_int_equal(n, 5);
	assert_int_equal(out[0].id, 1);
	assert_int_equal(out[1].id, 3);
	assert_int_equal(out[2].id, 5);
	assert_int_equal(out[3].id, 6);
	assert_int_equal(out[4].id, 7);
	assert_int_equal(g.refused[GK_RULE][GW_MATCH_ALL], 2);
	/* The same config again a second later: counted, not logged again. */
	log_capture();
	edge_guard_rules(&g, in, 7, "pop1", out);
	assert_int_equal(log_lines("guard: refusing"), 0);
	assert_int_equal(g.refused[GK_RULE][GW_MATCH_ALL], 4);
	/* A second with none: the state ends, with one line. */
	log_capture();
	edge_guard_tick(&g);
	edge_guard_tick(&g);
	assert_int_equal(log_lines("guard: refusing rule (match_all): over after 4"), 1);
	log_capture();
	edge_guard_rules(&g, in, 7, "pop1", out);
	assert_int_equal(log_lines("guard: refusing rule 2"), 1);
}

static void test_guard__protect_prefix(void **state)
{
	struct edge_guard_limits l;
	struct bf_cidr in[3], out[3];
	struct edge_guard g;

	assert_int_equal(bf_parse_cidr4("0.0.0.0/0", false, &in[0]), 0);
	assert_int_equal(bf_parse_cidr4("198.18.4.2/32", false, &in[1]), 0);
	assert_int_equal(bf_parse_cidr4("10.0.0.0/8", false, &in[2]), 0);
	edge_guard_init(&g, NULL);
	log_capture();
	assert_int_equal(edge_guard_protect(&g, in, 3, out), 2);
	assert_int_equal(log_lines("first 0.0.0.0/0: it would spare all of it"), 1);
	assert_int_equal(out[0].plen, 32);
	assert_int_equal(out[1].plen, 8);
	assert_int_equal(g.refused[GK_PROTECT][GW_PREFIX], 1);
	edge_guard_limits_init(&l);
	l.min_prefix[GK_PROTECT] = 16;
	edge_guard_init(&g, &l);
	log_capture();
	assert_int_equal(edge_guard_protect(&g, in, 3, out), 1);
	log_lines("");
	assert_int_equal(g.refused[GK_PROTECT][GW_PREFIX], 2);
}

static void test_guard__sync_refusals_rows_summary(void **state)
{
	struct sync_refusal conn = { .what = "conn", .why = "too_big", .key = "bifrost:conn:x",
				     .size = 33554432, .limit = 256, .detail = "field machine" };
	struct sync_refusal bl = { .what = "bl", .why = "too_many", .key = "bifrost:bl:ops",
				   .size = 8, .limit = 5, .detail = "" };
	struct sync_refusal odd = { .what = "??", .why = "too_big", .key = "k\n\x1b[2J",
				    .size = 1, .limit = 0, .detail = "" };
	struct edge_guard_row rows[EDGE_GUARD_ROWS + 1];
	struct edge_guard g;
	char sum[256];
	size_t n;

	edge_guard_init(&g, NULL);
	log_capture();
	edge_guard_sync(&g, &conn);
	edge_guard_sync(&g, &bl);
	edge_guard_sync(&g, &odd);
	assert_int_equal(log_lines("guard: refusing bifrost:conn:x: field machine of at least "
				   "33554432 bytes, more than 256"),
			 1);
	log_capture();
	edge_guard_sync(&g, &bl);
	assert_int_equal(log_lines("guard"), 0);
	assert_int_equal(g.refused[GK_CONN][GW_TOO_BIG], 1);
	assert_int_equal(g.refused[GK_BL][GW_TOO_MANY], 2);
	assert_int_equal(g.refused[GK_CONF][GW_TOO_BIG], 1); /* never uncounted */
	n = edge_guard_rows(&g, rows, EDGE_GUARD_ROWS + 1);
	assert_int_equal(n, EDGE_GUARD_ROWS);
	assert_string_equal(rows[0].kind, "wl");
	assert_string_equal(rows[0].why, "prefix");
	for (size_t i = 0; i < n; i++)
		if (!strcmp(rows[i].kind, "bl") && !strcmp(rows[i].why, "too_many"))
			assert_int_equal(rows[i].n, 2);
	assert_int_equal(edge_guard_summary(&g, sum, sizeof(sum)), 4);
	assert_string_equal(sum, "bl/too_many=2 conn/too_big=1 conf/too_big=1");
	/* A summary that does not fit is cut between items. */
	assert_int_equal(edge_guard_summary(&g, sum, 20), 4);
	assert_string_equal(sum, "bl/too_many=2");
}

static void test_guard__log_names_what_to_do(void **state)
{
	struct edge_guard g;
	struct bf_entry e;

	edge_guard_init(&g, NULL);
	assert_int_equal(bf_entry_parse(BF_KIND_BL, "0.0.0.0/0", 9, &e), 0);
	log_capture();
	assert_false(edge_guard_entry(&g, "ops", &e));
	assert_int_equal(log_lines("first 0.0.0.0/0 of origin ops; the rest is applied. Have that "
				   "origin remove it (ops: bifrostctl bl del 0.0.0.0/0), or lower "
				   "min_prefix bl"),
			 1);
	assert_int_equal(bf_entry_parse(BF_KIND_PUNCH,
					"udp 198.51.100.34:5000 203.0.113.10:40000 via 198.18.3.2",
					56, &e), 0);
	assert_true(edge_guard_entry(&g, "ops", &e)); /* no prefix to a punch */
	assert_int_equal(edge_guard_cap(&g, BF_KIND_PUNCH), 65536);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_guard__rules),
		cmocka_unit_test(test_guard__protect_prefix),
		cmocka_unit_test(test_guard__sync_refusals_rows_summary),
		cmocka_unit_test(test_guard__log_names_what_to_do),
	};

	return cmocka_run_group_tests_name("guard", tests, NULL, NULL);
}
