/* test_stats.c - the edge's rate computation and the /metrics text, both pure:
 * counter deltas, counters that went backwards, per-second scaling, exact
 * exposition lines and the escaping of label values. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../edge/metrics.h"
#include "../../edge/stats.h"

static void test_stats__delta_and_reset(void **state)
{
	assert_int_equal(edge_stats_delta(100, 150), 50);
	assert_int_equal(edge_stats_delta(150, 150), 0);
	/* went backwards: the map was re-created (restart after --detach) or an
	 * LRU slot evicted; it counts from zero again */
	assert_int_equal(edge_stats_delta(1000, 30), 30);
	assert_int_equal(edge_stats_delta(UINT64_MAX - 1, UINT64_MAX), 1);
}

static void test_stats__per_second_scaling(void **state)
{
	assert_int_equal(edge_stats_per_sec(100, 1000000000ULL), 100);
	assert_int_equal(edge_stats_per_sec(100, 500000000ULL), 200);  /* half a second */
	assert_int_equal(edge_stats_per_sec(100, 2000000000ULL), 50);
	assert_int_equal(edge_stats_per_sec(1, 3000000000ULL), 0);      /* 0.33 rounds down */
	assert_int_equal(edge_stats_per_sec(2, 3000000000ULL), 1);      /* 0.67 rounds up */
	assert_int_equal(edge_stats_per_sec(100, 0), 0);                /* no interval, no rate */
	/* 40 G in one second does not overflow on the way */
	assert_int_equal(edge_stats_per_sec(40000000000ULL, 1000000000ULL), 40000000000ULL);
}

static struct bf_conn_key ck(uint8_t proto, const char *ip, uint16_t port)
{
	struct bf_conn_key k = { .bind_ip = inet_addr(ip), .bind_port = htons(port), .proto = proto };

	return k;
}

static void test_stats__rates_between_samples(void **state)
{
	struct edge_conn_sample pc[1] = { { ck(17, "203.0.113.10", 27015), { 10, 1000, 5, 500, 0, 0, 0 } } };
	struct edge_conn_sample cc[2] = {
		{ ck(6, "203.0.113.10", 27015), { 4, 400, 0, 0, 0, 0, 0 } }, /* new since prev */
		{ ck(17, "203.0.113.10", 27015), { 30, 3000, 6, 600, 0, 0, 0 } },
	};
	struct edge_stats_sample prev = { .mono_ns = 1000000000ULL, .wall_ms = 5000,
					  .conns = pc, .n_conns = 1 };
	struct edge_stats_sample cur = { .mono_ns = 3000000000ULL, .wall_ms = 7000,
					 .conns = cc, .n_conns = 2 };
	struct edge_stats_sample first = { 0 };
	struct bf_stats_frame f;

	/* samples are sorted by key bytes, as edge_stats_read leaves them */
	if (memcmp(&cc[0].key, &cc[1].key, sizeof(cc[0].key)) > 0) {
		struct edge_conn_sample t = cc[0];

		cc[0] = cc[1];
		cc[1] = t;
	}
	prev.r[BF_R_FORWARD] = (struct bf_counter){ 100, 10000 };
	cur.r[BF_R_FORWARD] = (struct bf_counter){ 300, 30000 };
	prev.r[BF_R_BLACKLIST] = (struct bf_counter){ 500, 5000 };
	cur.r[BF_R_BLACKLIST] = (struct bf_counter){ 40, 400 }; /* reset in between */

	memset(&f, 0, sizeof(f));
	edge_stats_rates(&prev, &cur, &f);
	assert_int_equal(f.interval_ms, 2000);
	assert_int_equal(f.ts_ms, 7000);
	assert_int_equal(f.r[BF_R_FORWARD].pps, 100);          /* 200 over 2 s */
	assert_int_equal(f.r[BF_R_FORWARD].bps, 8 * 10000);    /* 20000 bytes over 2 s, in bits */
	assert_int_equal(f.r[BF_R_FORWARD].packets, 300);      /* totals are cur's */
	assert_int_equal(f.r[BF_R_BLACKLIST].pps, 20);         /* 40 since the reset, over 2 s */
	assert_int_equal(f.r[BF_R_BLACKLIST].packets, 40);
	assert_int_equal(f.conn_in_pps, (20 + 4) / 2);
	assert_int_equal(f.conn_in_bps, 8 * (2000 + 400) / 2);
	assert_int_equal(f.conn_out_pps, 1);                   /* 0.5 rounds up */
	assert_int_equal(f.conn_out_bps, 8 * 50);

	/* the very first sample has nothing to compare with: no rates, totals */
	memset(&f, 0, sizeof(f));
	edge_stats_rates(&first, &cur, &f);
	assert_int_equal(f.r[BF_R_FORWARD].pps, 0);
	assert_int_equal(f.r[BF_R_FORWARD].packets, 300);
	assert_int_equal(f.conn_in_pps, 0);

	{
		struct bf_conn_key k = ck(6, "203.0.113.10", 27015), none = ck(6, "203.0.113.10", 1);

		assert_non_null(edge_stats_conn(&cur, &k));
		assert_int_equal(edge_stats_conn(&cur, &k)->c.in_packets, 4);
		assert_null(edge_stats_conn(&cur, &none));
	}
}

static char *render(const struct edge_metrics_snap *s)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	assert_int_equal(edge_metrics_render(s, f), 0);
	fclose(f);
	return text;
}

static void has_line(const char *text, const char *line)
{
	const char *p = text;
	size_t n = strlen(line);

	while ((p = strstr(p, line))) {
		if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
			return;
		p += n;
	}
	fail_msg("no line '%s' in:\n%s", line, text);
}

static void test_stats__metrics_text(void **state)
{
	struct edge_conn_sample cc[1] = { { ck(17, "203.0.113.10", 27015), { 7, 700, 3, 300, 4, 9, 2 } } };
	struct edge_a2s_seen seen[1] = { { .ip = htonl(0xcb00710a), .port = 27015, .kind = 2,
					   .changed_ms = 1000, .read_ms = 4000, .ttl_ms = 6000 } };
	struct edge_metrics_snap s = { .version = "v1.2-3-gabc", .id = "pop1", .fleet = true,
				       .sync_connected = true, .stats_dropped = 4, .stats_frames = 9,
				       .stats_refused = 2,
				       .bl_entries = 2, .a2s = true,
				       .a2s_counters = { .served = 11, .challenged = 5, .workers = 2 },
				       .a2s_seen = seen, .n_a2s_seen = 1, .now_ms = 4500 };
	char *t;

	s.sample.conns = cc;
	s.sample.n_conns = 1;
	s.sample.r[BF_R_BLACKLIST] = (struct bf_counter){ 12, 1200 };
	s.sample.r[BF_R_FORWARD] = (struct bf_counter){ 100, 6400 };
	s.sync.pending = 5;
	s.sync.resyncs = 2;
	s.sync.bad_records = 1;
	s.sync.bad_frames = 3;
	s.sync.peers = 1;
	s.sync.primary_switches = 2;
	s.guard[0] = (struct edge_guard_row){ "wl", "prefix", 2 };
	s.guard[1] = (struct edge_guard_row){ "rule", "match_all", 1 };
	s.n_guard = 2;
	t = render(&s);
	has_line(t, "# HELP bifrost_packets_total Packets by XDP verdict reason; verdict is drop, "
		    "forward or pass, or side for a count beside the packet's verdict (sum "
		    "verdict!=\"side\" for what was received).");
	has_line(t, "# TYPE bifrost_packets_total counter");
	has_line(t, "bifrost_packets_total{reason=\"blacklist\",verdict=\"drop\"} 12");
	has_line(t, "bifrost_packets_total{reason=\"forward\",verdict=\"forward\"} 100");
	has_line(t, "bifrost_packets_total{reason=\"malformed\",verdict=\"drop\"} 0");
	has_line(t, "bifrost_packets_total{reason=\"punch_new\",verdict=\"side\"} 0");
	has_line(t, "bifrost_bytes_total{reason=\"blacklist\",verdict=\"drop\"} 1200");
	has_line(t, "bifrost_conn_packets_total{proto=\"udp\",bind=\"203.0.113.10:27015\",direction=\"in\"} 7");
	has_line(t, "bifrost_conn_packets_total{proto=\"udp\",bind=\"203.0.113.10:27015\",direction=\"out\"} 3");
	has_line(t, "bifrost_conn_validation_total{proto=\"udp\",bind=\"203.0.113.10:27015\",event=\"handshake_passed\"} 4");
	has_line(t, "bifrost_conn_validation_total{proto=\"udp\",bind=\"203.0.113.10:27015\",event=\"unvalidated_dropped\"} 9");
	has_line(t, "bifrost_conn_validation_total{proto=\"udp\",bind=\"203.0.113.10:27015\",event=\"validated\"} 2");
	has_line(t, "bifrost_conn_bytes_total{proto=\"udp\",bind=\"203.0.113.10:27015\",direction=\"out\"} 300");
	has_line(t, "bifrost_build_info{version=\"v1.2-3-gabc\",edge=\"pop1\"} 1");
	has_line(t, "# TYPE bifrost_build_info gauge");
	has_line(t, "bifrost_sync_connected 1");
	has_line(t, "bifrost_sync_pending_writes 5");
	has_line(t, "bifrost_sync_resyncs_total 2");
	has_line(t, "bifrost_sync_primary_switches_total 2");
	has_line(t, "bifrost_sync_bad_records_total 1");
	has_line(t, "bifrost_sync_bad_frames_total 3");
	has_line(t, "bifrost_sync_peers 1");
	has_line(t, "bifrost_stats_frames_dropped_total 4");
	has_line(t, "bifrost_stats_frames_total 9");
	has_line(t, "bifrost_stats_frames_refused_total 2");
	has_line(t, "bifrost_blacklist_entries 2");
	has_line(t, "# TYPE bifrost_bus_refused_total counter");
	has_line(t, "bifrost_bus_refused_total{kind=\"wl\",why=\"prefix\"} 2");
	has_line(t, "bifrost_bus_refused_total{kind=\"rule\",why=\"match_all\"} 1");
	has_line(t, "bifrost_a2s_workers 2");
	has_line(t, "bifrost_a2s_requests_total{outcome=\"served\"} 11");
	has_line(t, "bifrost_a2s_requests_total{outcome=\"challenged\"} 5");
	has_line(t, "bifrost_a2s_cache_age_seconds{bind=\"203.0.113.10:27015\",kind=\"rules\"} 3.500");
	has_line(t, "bifrost_a2s_cache_ttl_seconds{bind=\"203.0.113.10:27015\",kind=\"rules\"} 5.500");
	/* every sample line belongs to a family announced by a TYPE line */
	for (char *line = t; *line;) {
		char *nl = strchr(line, '\n');
		char name[64];

		assert_non_null(nl);
		if (line[0] != '#') {
			char want[96];

			sscanf(line, "%63[a-z0-9_]", name); /* names may hold digits: a2s */
			snprintf(want, sizeof(want), "# TYPE %s ", name);
			assert_non_null(strstr(t, want));
		}
		line = nl + 1;
	}
	free(t);

	/* no fleet: sync is reported down, not left out */
	memset(&s.sync, 0, sizeof(s.sync));
	s.fleet = false;
	t = render(&s);
	has_line(t, "bifrost_sync_connected 0");
	free(t);

	/* hostile version text cannot break out of its label */
	s.version = "a\"b\\c\nd";
	t = render(&s);
	has_line(t, "bifrost_build_info{version=\"a\\\"b\\\\c\\nd\",edge=\"pop1\"} 1");
	free(t);
}

static void test_stats__label_escaping_is_bounded(void **state)
{
	char b[8];

	assert_string_equal(edge_metrics_label_esc("plain", b, sizeof(b)), "plain");
	assert_string_equal(edge_metrics_label_esc("a\"b", b, sizeof(b)), "a\\\"b");
	/* cut before a whole escape, never in the middle of one */
	assert_string_equal(edge_metrics_label_esc("abcdef\"", b, sizeof(b)), "abcdef");
	assert_string_equal(edge_metrics_label_esc("abcde\\", b, 7), "abcde");
	assert_string_equal(edge_metrics_label_esc(NULL, b, sizeof(b)), "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stats__delta_and_reset),
		cmocka_unit_test(test_stats__per_second_scaling),
		cmocka_unit_test(test_stats__rates_between_samples),
		cmocka_unit_test(test_stats__metrics_text),
		cmocka_unit_test(test_stats__label_escaping_is_bounded),
	};

	return cmocka_run_group_tests_name("stats", tests, NULL, NULL);
}
