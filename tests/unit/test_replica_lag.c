/* test_replica_lag.c - INFO replication parsing and the read-replica decision
 * (sync/replica_lag.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "replica_lag.h"

/* As Redis 7.0 prints them (trimmed). */
static const char replica_info[] =
	"# Replication\r\nrole:slave\r\nmaster_host:198.18.4.2\r\nmaster_port:6379\r\n"
	"master_link_status:up\r\nmaster_last_io_seconds_ago:0\r\nmaster_sync_in_progress:0\r\n"
	"slave_read_repl_offset:50213\r\nslave_repl_offset:50213\r\nslave_priority:100\r\n"
	"slave_read_only:1\r\nreplica_announced:1\r\nconnected_slaves:0\r\n"
	"master_failover_state:no-failover\r\nmaster_replid:8f1c03b0a9c54f8e6b4bd4c3f7f8b2b7a1d0e9f2\r\n"
	"master_replid2:0000000000000000000000000000000000000000\r\n"
	"master_repl_offset:50213\r\nsecond_repl_offset:-1\r\n";
static const char primary_info[] =
	"# Replication\r\nrole:master\r\nconnected_slaves:1\r\n"
	"slave0:ip=198.18.4.2,port=6381,state=online,offset=50213,lag=0\r\n"
	"master_failover_state:no-failover\r\nmaster_replid:8f1c03b0a9c54f8e6b4bd4c3f7f8b2b7a1d0e9f2\r\n"
	"master_replid2:0000000000000000000000000000000000000000\r\nmaster_repl_offset:50400\r\n"
	"second_repl_offset:-1\r\nrepl_backlog_active:1\r\n";

static void test_replica_lag__parses_a_replica_and_a_primary(void **state)
{
	struct bf_repl_info ri;

	assert_int_equal(bf_repl_info_parse(replica_info, sizeof(replica_info) - 1, &ri), 0);
	assert_true(ri.is_replica);
	assert_true(ri.link_up);
	assert_int_equal(ri.offset, 50213);
	assert_string_equal(ri.replid, "8f1c03b0a9c54f8e6b4bd4c3f7f8b2b7a1d0e9f2");
	assert_int_equal(bf_repl_info_parse(primary_info, sizeof(primary_info) - 1, &ri), 0);
	assert_false(ri.is_replica);
	assert_string_equal(ri.replid2, "0000000000000000000000000000000000000000");
	assert_false(ri.link_up);
	assert_int_equal(ri.offset, 50400);
	/* Without \r, and the link down while it syncs. */
	const char down[] = "role:slave\nmaster_link_status:down\nslave_repl_offset:7\n";

	assert_int_equal(bf_repl_info_parse(down, sizeof(down) - 1, &ri), 0);
	assert_true(ri.is_replica);
	assert_false(ri.link_up);
	assert_int_equal(ri.offset, 7);
}

static void test_replica_lag__refuses_what_is_no_info(void **state)
{
	struct bf_repl_info ri;
	const char *bad[] = {
		"",                                          /* nothing */
		"# Replication\r\nconnected_slaves:0\r\n",   /* no role */
		"role:master\r\nmaster_repl_offset:-5\r\n",  /* a negative offset */
		"role:slave\r\nslave_repl_offset:12x\r\n",   /* not a number */
		"role:slave\r\nslave_repl_offset:\r\n",      /* empty */
		"role:master\r\nmaster_repl_offset:1234567890123456789\r\n", /* 19 digits */
		"role:slave\r\nmaster_replid:8f1c\r\n",              /* a short replid */
		"role:slave\r\nmaster_replid:8F1C03B0A9C54F8E6B4BD4C3F7F8B2B7A1D0E9F2\r\n",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(bf_repl_info_parse(bad[i], strlen(bad[i]), &ri), -EINVAL);
	/* A replica that gives no offset is known, but judged down. */
	const char no_off[] = "role:slave\r\nmaster_link_status:up\r\n";
	const char slaves[] = "role:slaves\r\nslave_repl_offset:3\r\n";
	const char like[] = "role:slave\r\nmaster_link_status_x:up\r\nslave_repl_offset:3\r\n";

	assert_int_equal(bf_repl_info_parse(no_off, sizeof(no_off) - 1, &ri), 0);
	assert_int_equal(ri.offset, -1);
	assert_int_equal(bf_replica_judge(&ri, NULL, 0, 2000), BF_REPLICA_DOWN);
	/* "role:slaveX" is not a replica; a field named like another is not it. */
	assert_int_equal(bf_repl_info_parse(slaves, sizeof(slaves) - 1, &ri), 0);
	assert_false(ri.is_replica);
	assert_int_equal(bf_repl_info_parse(like, sizeof(like) - 1, &ri), 0);
	assert_int_equal(ri.offset, 3);
	assert_false(ri.link_up);
}

static void test_replica_lag__lag_is_the_age_of_the_oldest_data_missing(void **state)
{
	struct bf_lag l;

	bf_lag_reset(&l);
	assert_int_equal(bf_lag_ms(&l, 1000, 10), -1); /* nothing to judge by */
	bf_lag_primary(&l, 1000, 100);
	bf_lag_primary(&l, 1500, 200);
	bf_lag_primary(&l, 2000, 300);
	bf_lag_primary(&l, 2500, 300); /* idle */
	assert_int_equal(bf_lag_ms(&l, 2600, 300), 0);  /* holds everything */
	assert_int_equal(bf_lag_ms(&l, 2600, 400), 0);  /* ahead of our last sample */
	assert_int_equal(bf_lag_ms(&l, 2600, 250), 600); /* lacks what 2000 had */
	assert_int_equal(bf_lag_ms(&l, 2600, 150), 1100);
	assert_int_equal(bf_lag_ms(&l, 2600, 99), 1600);  /* lacks even the oldest */
	assert_int_equal(bf_lag_ms(&l, 2600, -1), -1);
	/* A lower offset: another primary; the old samples say nothing of it. */
	bf_lag_primary(&l, 3000, 50);
	assert_int_equal(l.n, 1);
	assert_int_equal(bf_lag_ms(&l, 3100, 40), 100);
	assert_int_equal(bf_lag_ms(&l, 3100, 250), 0);
	/* The ring keeps the newest BF_LAG_SAMPLES. */
	bf_lag_reset(&l);
	for (int i = 0; i < BF_LAG_SAMPLES + 10; i++)
		bf_lag_primary(&l, 1000 + 500 * i, 100 * (i + 1));
	assert_int_equal(l.n, BF_LAG_SAMPLES);
	/* The oldest held is sample 10 (offset 1100 at 6000). */
	assert_int_equal(bf_lag_ms(&l, 100000, 0), 100000 - 6000);
	assert_int_equal(bf_lag_ms(&l, 100000, 1100), 100000 - 6500);
}

static void test_replica_lag__the_verdicts(void **state)
{
	struct bf_repl_info ok = { .is_replica = true, .link_up = true, .offset = 10 };
	struct bf_repl_info link_down = { .is_replica = true, .link_up = false, .offset = 10 };
	struct bf_repl_info promoted = { .is_replica = false, .offset = 10 };

	struct bf_repl_info prim = { .offset = 10 }, mine = ok, theirs = ok;

	assert_int_equal(bf_replica_judge(&ok, NULL, 0, 2000), BF_REPLICA_OK);
	assert_int_equal(bf_replica_judge(&ok, NULL, -1, 2000), BF_REPLICA_OK); /* unknown lag */
	assert_int_equal(bf_replica_judge(&ok, NULL, 2000, 2000), BF_REPLICA_OK);
	assert_int_equal(bf_replica_judge(&ok, NULL, 2001, 2000), BF_REPLICA_LAGGING);
	assert_int_equal(bf_replica_judge(&link_down, NULL, 0, 2000), BF_REPLICA_LINK_DOWN);
	assert_int_equal(bf_replica_judge(&promoted, NULL, 0, 2000), BF_REPLICA_NOT_REPLICA);
	assert_int_equal(bf_replica_judge(NULL, NULL, 0, 2000), BF_REPLICA_DOWN);
	/* Whose history: the primary's replid, or its previous one (just after a
	 * failover); another is another fleet's Redis or a split brain. */
	memset(prim.replid, 'a', 40);
	memset(prim.replid2, 'b', 40);
	memset(mine.replid, 'a', 40);
	assert_int_equal(bf_replica_judge(&mine, &prim, 0, 2000), BF_REPLICA_OK);
	memset(mine.replid, 'b', 40);
	assert_int_equal(bf_replica_judge(&mine, &prim, 0, 2000), BF_REPLICA_OK);
	memset(theirs.replid, 'c', 40);
	assert_int_equal(bf_replica_judge(&theirs, &prim, 0, 2000), BF_REPLICA_OTHER);
	assert_int_equal(bf_replica_judge(&theirs, NULL, 0, 2000), BF_REPLICA_OK); /* unknown */
	assert_string_equal(bf_replica_verdict_name(BF_REPLICA_LAGGING), "lagging");
	assert_string_equal(bf_replica_verdict_name(BF_REPLICA_OTHER), "another primary's");
	assert_string_equal(bf_replica_verdict_name(BF_REPLICA_UNKNOWN), "lag unknown");
	assert_string_equal(bf_replica_verdict_name(BF_REPLICA_VERDICTS), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_replica_lag__parses_a_replica_and_a_primary),
		cmocka_unit_test(test_replica_lag__refuses_what_is_no_info),
		cmocka_unit_test(test_replica_lag__lag_is_the_age_of_the_oldest_data_missing),
		cmocka_unit_test(test_replica_lag__the_verdicts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
