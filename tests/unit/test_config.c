/* test_config.c - the bifrost-edge config parser: good files and every kind
 * of bad line, with the file and line named in the error. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../edge/config.h"

static void test_config__full_file(void **state)
{
	const char *text = "# a POP\n"
			   "id pop-1\n"
			   "iface eth0\n"
			   "iface bk0   # backend\n"
			   "backend_iface bk0\n"
			   "addr 192.0.2.11\n"
			   "redis 198.18.4.2:6379\n"
			   "xdp_mode native\n"
			   "dry_run yes\n"
			   "punch_ttl 90s\n"
			   "outer_ttl 32\n"
			   "\n"
			   "conn udp 203.0.113.10:27015 -> 198.18.3.2\n"
			   "conn tcp 203.0.113.10:27015 198.18.3.2:27016\n"
			   "conn icmp 203.0.113.10 198.18.3.2\n"
			   "whitelist 198.51.100.0/28\n"
			   "blacklist 198.19.1.0/24 ttl 30s\n";
	struct edge_config c;
	char err[256] = "";

	edge_config_init(&c);
	assert_int_equal(edge_config_parse(&c, text, "edge.conf", err, sizeof(err)), 0);
	assert_string_equal(c.id, "pop-1");
	assert_int_equal(c.n_ifaces, 2);
	assert_string_equal(c.ifaces[1], "bk0");
	assert_int_equal(c.xdp_mode, EDGE_XDP_NATIVE);
	assert_true(c.dry_run);
	assert_int_equal(c.punch_ttl_ms, 90000);
	assert_int_equal(c.outer_ttl, 32);
	assert_int_equal(c.n_conns, 3);
	assert_int_equal(c.conns[0].proto, IPPROTO_UDP);
	assert_int_equal(c.conns[0].bind_port, 27015);
	assert_int_equal(c.conns[0].machine_port, 0);
	assert_int_equal(c.conns[1].machine_port, 27016);
	assert_int_equal(c.conns[2].proto, IPPROTO_ICMP);
	assert_int_equal(c.n_wl, 1);
	assert_int_equal(c.n_bl, 1);
	assert_int_equal(c.bl[0].ttl_ms, 30000);
	assert_int_equal(c.bl[0].cidr.plen, 24);
	assert_int_equal(edge_config_validate(&c, err, sizeof(err)), 0);
	assert_int_equal(edge_config_backend_addr(&c), c.addr); /* none given: addr */
	assert_string_equal(c.redis_ep.host, "198.18.4.2");
	assert_int_equal(c.redis_ep.port, 6379);
	assert_string_equal(c.redis_prefix, "bifrost:");
	/* Names and IPv6 literals too, and another prefix. */
	assert_int_equal(edge_config_parse(&c, "redis [2001:db8::4]:7000\nredis_prefix fleet2:\n",
					   "f", err, sizeof(err)), 0);
	assert_string_equal(c.redis_ep.host, "2001:db8::4");
	assert_int_equal(c.redis_ep.port, 7000);
	assert_string_equal(c.redis_prefix, "fleet2:");
	assert_int_equal(edge_config_parse(&c, "redis redis.pop1.example\n", "f", err, sizeof(err)),
			 0);
	assert_string_equal(c.redis_ep.host, "redis.pop1.example");
	/* The credentials file is named here and read at start: never a password here. */
	assert_int_equal(edge_config_parse(&c, "redis_auth_file /etc/bifrost/pop1.cred\n", "f", err,
					   sizeof(err)), 0);
	assert_string_equal(c.redis_auth_file, "/etc/bifrost/pop1.cred");
	assert_false(c.redis_ep.has_pass);
	edge_config_free(&c);
}

/* Where the machines' IPIP may arrive: said explicitly when there is more
 * than one interface, implied when there is one; always a guarded one. */
static void test_config__backend(void **state)
{
	struct edge_config c;
	const char *bk[EDGE_MAX_IFACES];
	char err[256] = "";

	edge_config_init(&c);
	assert_int_equal(edge_config_parse(&c, "id p\naddr 192.0.2.11\niface up0\n", "f", err,
					   sizeof(err)), 0);
	assert_int_equal(edge_config_validate(&c, err, sizeof(err)), 0);
	assert_int_equal(edge_config_backends(&c, bk), 1);
	assert_string_equal(bk[0], "up0");
	assert_int_equal(edge_config_parse(&c, "iface bk0\n", "f", err, sizeof(err)), 0);
	assert_int_equal(edge_config_validate(&c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "backend_iface NAME"));
	assert_int_equal(edge_config_backends(&c, bk), 0); /* two and none named: none */
	assert_int_equal(edge_config_parse(&c, "backend_iface bk1\n", "f", err, sizeof(err)), 0);
	assert_int_equal(edge_config_validate(&c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "backend_iface 'bk1' is not one of the guarded interfaces"));
	edge_config_free(&c);

	edge_config_init(&c);
	assert_int_equal(edge_config_parse(&c, "id p\naddr 192.0.2.11\niface up0\niface bk0\n"
					   "backend_iface bk0\nbackend_addr 198.18.5.2\n"
					   "punch_max_per_machine 100\npunch_max_per_origin 200\n"
					   "publish_max_pps 50\nlog_max_records 1000\n"
					   "map_entries punches 4096\nmap_entries blacklist 1048576\n",
					   "f", err, sizeof(err)),
			 0);
	assert_int_equal(edge_config_validate(&c, err, sizeof(err)), 0);
	assert_int_equal(edge_config_backends(&c, bk), 1);
	assert_string_equal(bk[0], "bk0");
	assert_int_equal(edge_config_backend_addr(&c), inet_addr("198.18.5.2"));
	assert_int_equal(c.punch_max_machine, 100);
	assert_int_equal(c.guard.caps.per_origin[BF_KIND_PUNCH], 200);
	assert_int_equal(c.publish_max_pps, 50);
	assert_int_equal(c.log_max_records, 1000);
	assert_int_equal(c.map_entries[EDGE_MAP_PUNCHES], 4096);
	assert_int_equal(c.map_entries[EDGE_MAP_BLACKLIST], 1048576);
	assert_int_equal(c.map_entries[EDGE_MAP_RATELIMIT], 0); /* the program's default */
	edge_config_free(&c);
}

/* A config text that is refused, and how its error starts. */
struct bad_line {
	const char *text, *want;
};

static void refused_all(const struct bad_line *rows, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct edge_config c;
		char err[256] = "";

		edge_config_init(&c);
		if (edge_config_parse(&c, rows[i].text, "edge.conf", err, sizeof(err)) != -EINVAL)
			fail_msg("accepted: %s", rows[i].text);
		if (strncmp(err, rows[i].want, strlen(rows[i].want)))
			fail_msg("error '%s', want it to start with '%s'", err, rows[i].want);
		edge_config_free(&c);
	}
}

static void test_config__errors_name_file_and_line(void **state)
{
	static const struct bad_line rows[] = {
		{ "id ok\nbogus 1\n", "edge.conf:2: unknown key 'bogus'" },
		{ "addr 1.2.3\n", "edge.conf:1: bad address '1.2.3'" },
		{ "id\n", "edge.conf:1: 'id' takes 1 value" },
		{ "id a/b\n", "edge.conf:1: bad id 'a/b'" },
		{ "\n\nconn udp 203.0.113.10 198.18.3.2\n", "edge.conf:3: bad bind endpoint" },
		{ "conn sctp 203.0.113.10:1 198.18.3.2\n", "edge.conf:1: unknown protocol 'sctp'" },
		{ "conn udp 203.0.113.10:1 198.18.3.2:99999\n", "edge.conf:1: bad machine endpoint" },
		{ "conn udp 203.0.113.10:1 1.1.1.1\nconn udp 203.0.113.10:1 2.2.2.2\n",
		  "edge.conf:2: connection udp 203.0.113.10:1 defined twice" },
		{ "blacklist 198.51.100.1/24\n", "edge.conf:1: bad CIDR '198.51.100.1/24'" },
		{ "whitelist 198.51.100.0/24 ttl\n", "edge.conf:1: 'whitelist' takes CIDR" },
		{ "blacklist 198.51.100.0/24 ttl soon\n", "edge.conf:1: bad ttl" },
		{ "blacklist 198.51.100.0/24 ttl 0\n", "edge.conf:1: bad ttl" },
		{ "xdp_mode fast\n", "edge.conf:1: bad xdp_mode 'fast'" },
		{ "dry_run maybe\n", "edge.conf:1: bad dry_run 'maybe'" },
		{ "outer_ttl 0\n", "edge.conf:1: bad outer_ttl '0'" },
		{ "punch_ttl 2d\n", "edge.conf:1: bad punch_ttl '2d'" },
		{ "iface eth0\niface eth0\n", "edge.conf:2: interface 'eth0' listed twice" },
		{ "iface abcdefghijklmnopq\n", "edge.conf:1: bad interface name" },
		{ "redis redis://localhost:6379\n", "edge.conf:1: bad redis endpoint" },
		{ "blacklist 2001:db8::/32\n", "edge.conf:1: '2001:db8::/32': IPv6 is not supported yet" },
		{ "protect 2001:db8::1\n", "edge.conf:1: '2001:db8::1': IPv6 is not supported yet" },
		{ "rule 1 action drop src 2001:db8::/32\n",
		  "edge.conf:1: rule 1: src: '2001:db8::/32': IPv6 is not supported yet" },
		{ "redis 198.18.4.2:0\n", "edge.conf:1: bad redis endpoint" },
		{ "redis_prefix bifrost\n", "edge.conf:1: bad redis_prefix 'bifrost'" },
		{ "redis_auth_file\n", "edge.conf:1: 'redis_auth_file' takes 1 value" },
		{ "redis_auth_file /a b\n", "edge.conf:1: 'redis_auth_file' takes 1 value" },
		{ "redis_password s3cret\n", "edge.conf:1: unknown" },
		{ "metrics 9477\n", "edge.conf:1: metrics '9477' is not ADDR:PORT" },
		{ "metrics localhost:9477\n", "edge.conf:1: metrics 'localhost:9477' is not ADDR:PORT" },
		{ "metrics 127.0.0.1:0\n", "edge.conf:1: metrics '127.0.0.1:0' is not ADDR:PORT" },
		{ "metrics 127.0.0.1:65536\n", "edge.conf:1: metrics '127.0.0.1:65536' is not" },
		{ "metrics 127.0.0.1:9477 x\n", "edge.conf:1: 'metrics' takes one value" },
		{ "stats_history forever\n", "edge.conf:1: stats_history needs a duration" },
		{ "backend_addr 198.18.2.300\n", "edge.conf:1: bad backend_addr '198.18.2.300'" },
		{ "backend_iface eth1\nbackend_iface eth1\n",
		  "edge.conf:2: backend_iface 'eth1' listed twice" },
		{ "punch_max_per_machine 0\n", "edge.conf:1: bad punch_max_per_machine '0'" },
		{ "publish_max_pps lots\n", "edge.conf:1: bad publish_max_pps 'lots'" },
		{ "log_max_records 0\n", "edge.conf:1: bad log_max_records '0'" },
		{ "map_entries conns 4096\n", "edge.conf:1: map_entries: no map 'conns'" },
		{ "map_entries punches 100\n", "edge.conf:1: map_entries punches: bad '100'" },
		{ "map_entries punches\n", "edge.conf:1: 'map_entries' takes 2 values" },
		{ "conn tcp 203.0.113.10:1 198.18.3.2 a2s yes\n",
		  "edge.conf:1: conn tcp 203.0.113.10:1: a2s: yes or no (udp only)" },
		{ "x 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 "
		  "32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56 57 58 59 "
		  "60 61 62 63 64\n",
		  "edge.conf:1: too many words" },
	};

	refused_all(rows, sizeof(rows) / sizeof(rows[0]));
}

static void test_config__conn_limits_protect_rules(void **state)
{
	const char *text = "conn udp 203.0.113.10:27015 198.18.3.2 pps 2000 bps 4m block 30s\n"
			   "conn udp 203.0.113.10:27016 -> 198.18.3.2:27017 preset rust share_bans yes a2s yes\n"
			   "conn udp 203.0.113.10:27018 198.18.3.2 block 1m preset gmod burst 1s\n"
			   "conn icmp 203.0.113.10 198.18.3.2 preset source\n"
			   "conn tcp 203.0.113.10:27015 198.18.3.2\n"
			   "protect 192.0.2.0/24\n"
			   "protect 198.18.4.2/32\n"
			   "rule 100 action drop proto udp dport 27015 payload_len 0-3\n"
			   "rule 20 action pass src 198.51.100.0/24 edges pop-1,pop-2 dry_run yes\n"
			   "icmp_echo no\n"
			   "icmp_echo_pps 5\n"
			   "icmp_echo_global_pps 20k\n";
	struct edge_config c;
	char err[256] = "";

	edge_config_init(&c);
	assert_true(c.icmp_echo);
	assert_int_equal(c.echo_pps, 10);
	assert_int_equal(c.echo_global_pps, 10000);
	if (edge_config_parse(&c, text, "edge.conf", err, sizeof(err)))
		fail_msg("%s", err);
	assert_int_equal(c.n_conns, 5);
	assert_int_equal(c.conns[0].limits.pps, 2000);
	assert_int_equal(c.conns[0].limits.bps, 4000000);
	assert_int_equal(c.conns[0].limits.block_ms, 30000);
	/* Bans stay on the edge unless the connection says otherwise. */
	assert_false(c.conns[0].limits.share_bans);
	assert_false(c.conns[2].limits.share_bans);
	assert_false(c.conns[0].a2s);
	assert_int_equal(c.conns[1].machine_port, 27017);
	assert_int_equal(c.conns[1].limits.pps, 5000);
	assert_true(c.conns[1].limits.share_bans);
	assert_true(c.conns[1].a2s);
	assert_string_equal(c.conns[1].limits.preset, "rust");
	/* The preset first, then the fields, whatever their order. */
	assert_int_equal(c.conns[2].limits.pps, 10000);
	assert_int_equal(c.conns[2].limits.block_ms, 60000);
	assert_int_equal(c.conns[2].limits.burst_ms, 1000);
	assert_int_equal(c.conns[3].limits.pps, 10);
	assert_false(bf_limits_any(&c.conns[4].limits));
	assert_int_equal(c.n_pr, 2);
	assert_int_equal(c.pr[0].cidr.plen, 24);
	assert_int_equal(c.n_rules, 2);
	assert_int_equal(c.rules[0].id, 100);
	assert_int_equal(c.rules[0].dport.lo, 27015);
	assert_int_equal(c.rules[1].id, 20);
	assert_true(c.rules[1].dry_run);
	assert_true(bf_rule_applies(&c.rules[1], "pop-2"));
	assert_false(bf_rule_applies(&c.rules[1], "pop-3"));
	assert_false(c.icmp_echo);
	assert_int_equal(c.echo_pps, 5);
	assert_int_equal(c.echo_global_pps, 20000);
	edge_config_free(&c);
}

static void test_config__a2s_workers(void **state)
{
	struct edge_config c;
	char err[256] = "";

	edge_config_init(&c);
	assert_false(c.a2s_workers); /* off unless asked for */
	assert_int_equal(edge_config_parse(&c, "a2s_workers yes\n", "edge.conf", err, sizeof(err)), 0);
	assert_true(c.a2s_workers);
	assert_int_equal(edge_config_parse(&c, "a2s_workers no\n", "edge.conf", err, sizeof(err)), 0);
	assert_false(c.a2s_workers);
	assert_int_equal(edge_config_parse(&c, "a2s_workers maybe\n", "edge.conf", err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "bad a2s_workers 'maybe'"));
	edge_config_free(&c);
}

/* Handshake validation: the connection's module, the idle time and the budgets; what is
 * refused names the line and says what it wants. */
static void test_config__validation(void **state)
{
	static const struct {
		const char *text, *err;
	} bad[] = {
		{ "conn udp 203.0.113.10:27015 198.18.3.2 validate quake\n",
		  "edge.conf:1: conn udp 203.0.113.10:27015: validate: none, srcds or raknet (udp only)" },
		{ "conn tcp 203.0.113.10:27015 198.18.3.2 validate srcds\n",
		  "edge.conf:1: conn tcp 203.0.113.10:27015: validate: none, srcds or raknet (udp only)" },
		{ "valid_idle 500ms\n", "edge.conf:1: bad valid_idle '500ms' (a duration from 1s to 1d" },
		{ "valid_idle 2d\n", "edge.conf:1: bad valid_idle '2d'" },
		{ "handshake_burst 0\n", "edge.conf:1: bad handshake_burst '0' (packets, 1 or more)" },
		{ "handshake_pps many\n", "edge.conf:1: bad handshake_pps 'many' (packets a second" },
	};
	struct edge_config c;
	char err[256] = "";

	edge_config_init(&c);
	assert_int_equal(c.valid_idle_ms, 300000);
	assert_int_equal(c.handshake_pps, 10);
	assert_int_equal(c.handshake_burst, 20);
	assert_int_equal(c.handshake_conn_pps, 2000);
	assert_int_equal(edge_config_parse(&c,
					   "conn udp 203.0.113.10:27015 198.18.3.2 validate srcds\n"
					   "conn udp 203.0.113.10:28015 198.18.3.2 pps 100 validate raknet\n"
					   "conn udp 203.0.113.10:29015 198.18.3.2 validate none\n"
					   "valid_idle 90s\nhandshake_pps 0\nhandshake_burst 4\n"
					   "handshake_conn_pps 500\nmax_per_origin valid 1000\n",
					   "edge.conf", err, sizeof(err)),
			 0);
	assert_int_equal(c.n_conns, 3);
	assert_int_equal(c.conns[0].validate, BF_VALIDATE_SRCDS);
	assert_int_equal(c.conns[1].validate, BF_VALIDATE_RAKNET);
	assert_int_equal(c.conns[1].limits.pps, 100);
	assert_int_equal(c.conns[2].validate, BF_VALIDATE_NONE);
	assert_int_equal(c.valid_idle_ms, 90000);
	assert_int_equal(c.handshake_pps, 0);
	assert_int_equal(c.handshake_burst, 4);
	assert_int_equal(c.handshake_conn_pps, 500);
	assert_int_equal(c.guard.caps.per_origin[BF_KIND_VALID], 1000);
	edge_config_free(&c);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		edge_config_init(&c);
		assert_int_equal(edge_config_parse(&c, bad[i].text, "edge.conf", err, sizeof(err)),
				 -EINVAL);
		if (strncmp(err, bad[i].err, strlen(bad[i].err)))
			fail_msg("'%s': got '%s', want '%s'", bad[i].text, err, bad[i].err);
		edge_config_free(&c);
	}
}

/* A read replica: where, how far behind it may be, what is refused. */
static void test_config__read_replica(void **state)
{
	static const struct {
		const char *text, *err;
	} bad[] = {
		{ "redis_replica sentinel:bifrost@10.0.0.1\n",
		  "edge.conf:1: bad redis_replica 'sentinel:bifrost@10.0.0.1': not a Sentinel endpoint" },
		{ "redis_replica 10.0.0.2:0\n", "edge.conf:1: bad redis_replica '10.0.0.2:0'" },
		{ "redis_replica\n", "edge.conf:1: 'redis_replica' takes 1 value" },
		{ "replica_max_lag 50ms\n",
		  "edge.conf:1: bad replica_max_lag '50ms' (a duration from 100ms to 4s" },
		{ "replica_max_lag 5s\n", "edge.conf:1: bad replica_max_lag '5s'" },
	};
	struct edge_config c;
	char err[256] = "";

	edge_config_init(&c);
	assert_int_equal(c.replica_max_lag_ms, 2000);
	assert_string_equal(c.redis_replica.host, "");
	assert_int_equal(edge_config_parse(&c, "id pop1\nredis_replica 10.0.0.2:6390\n"
					   "replica_max_lag 500ms\n", "edge.conf", err, sizeof(err)), 0);
	assert_string_equal(c.redis_replica.host, "10.0.0.2");
	assert_int_equal(c.redis_replica.port, 6390);
	assert_int_equal(c.replica_max_lag_ms, 500);
	/* Writes go to the primary: a replica alone is no fleet. */
	assert_int_equal(edge_config_validate(&c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "redis_replica without redis"));
	assert_int_equal(edge_config_parse(&c, "redis 10.0.0.1\n", "edge.conf", err, sizeof(err)), 0);
	edge_config_free(&c);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		edge_config_init(&c);
		assert_int_equal(edge_config_parse(&c, bad[i].text, "edge.conf", err, sizeof(err)),
				 -EINVAL);
		if (strncmp(err, bad[i].err, strlen(bad[i].err)))
			fail_msg("'%s': got '%s', want '%s'", bad[i].text, err, bad[i].err);
		edge_config_free(&c);
	}
}

/* The guard's limits: defaults from the kinds table, each line, and what is refused. */
static void test_config__guard_limits(void **state)
{
	static const struct bad_line bad[] = {
		{ "min_prefix wl\n", "edge.conf:1: 'min_prefix' takes wl, bl or protect" },
		{ "min_prefix punch 8\n", "edge.conf:1: 'min_prefix' takes wl, bl or protect" },
		{ "min_prefix bl 33\n", "edge.conf:1: 'min_prefix' takes wl, bl or protect" },
		{ "max_per_origin conn 5\n", "edge.conf:1: 'max_per_origin' takes wl, bl, punch or valid" },
		{ "max_per_origin bl 0\n", "edge.conf:1: bad max_per_origin '0' (a count from 1" },
		{ "max_conns 65537\n", "edge.conf:1: bad max_conns '65537' (a count from 1 to 6" },
		{ "max_rules 4097\n", "edge.conf:1: bad max_rules '4097' (a count from 1 to 4096)" },
		{ "max_protect\n", "edge.conf:1: 'max_protect' takes 1 value" },
		{ "punch_max_per_origin 0\n", "edge.conf:1: bad punch_max_per_origin '0'" },
	};
	struct edge_config c;
	char err[256] = "";

	edge_config_init(&c);
	assert_int_equal(c.guard.min_prefix[GK_WL], 16);
	assert_int_equal(c.guard.min_prefix[GK_BL], 8);
	assert_int_equal(c.guard.min_prefix[GK_PROTECT], 8);
	assert_int_equal(c.guard.caps.per_origin[BF_KIND_WL], 65536);
	assert_int_equal(c.guard.caps.per_origin[BF_KIND_BL], 1 << 20);
	assert_int_equal(c.guard.caps.per_origin[BF_KIND_PUNCH], 65536);
	assert_int_equal(c.guard.caps.conns, 65536);
	assert_int_equal(c.guard.caps.rules, 1024);
	assert_int_equal(c.guard.caps.protect, 65536);
	assert_int_equal(edge_config_parse(&c, "min_prefix wl 24\nmin_prefix bl 0\n"
					   "min_prefix protect 16\nmax_per_origin wl 10\n"
					   "max_per_origin bl 20\nmax_per_origin punch 30\n"
					   "punch_max_per_origin 40\nmax_conns 50\nmax_rules 60\n"
					   "max_protect 70\n",
					   "f", err, sizeof(err)),
			 0);
	assert_int_equal(c.guard.min_prefix[GK_WL], 24);
	assert_int_equal(c.guard.min_prefix[GK_BL], 0);
	assert_int_equal(c.guard.min_prefix[GK_PROTECT], 16);
	assert_int_equal(c.guard.caps.per_origin[BF_KIND_WL], 10);
	assert_int_equal(c.guard.caps.per_origin[BF_KIND_BL], 20);
	assert_int_equal(c.guard.caps.per_origin[BF_KIND_PUNCH], 40); /* the later line wins */
	assert_int_equal(c.guard.caps.conns, 50);
	assert_int_equal(c.guard.caps.rules, 60);
	assert_int_equal(c.guard.caps.protect, 70);
	/* The file's own entries are the operator's: a /0 whitelist in it is taken. */
	assert_int_equal(edge_config_parse(&c, "whitelist 0.0.0.0/0\nrule 9 action drop\n", "f",
					   err, sizeof(err)),
			 0);
	edge_config_free(&c);
	refused_all(bad, sizeof(bad) / sizeof(bad[0]));
}

static void test_config__new_lines_errors(void **state)
{
	static const struct bad_line rows[] = {
		{ "conn udp 203.0.113.10:1 198.18.3.2 pps\n", "edge.conf:1: 'conn' takes PROTO BIND" },
		{ "conn udp 203.0.113.10:1 198.18.3.2 speed 5\n",
		  "edge.conf:1: conn: unknown option 'speed'" },
		{ "conn udp 203.0.113.10:1 198.18.3.2 pps lots\n",
		  "edge.conf:1: conn udp 203.0.113.10:1: pps: not a packet rate" },
		{ "conn udp 203.0.113.10:1 198.18.3.2 bps 1t\n",
		  "edge.conf:1: conn udp 203.0.113.10:1: bps: not a byte rate" },
		{ "conn udp 203.0.113.10:1 198.18.3.2 block 30x\n",
		  "edge.conf:1: conn udp 203.0.113.10:1: block: not a duration" },
		{ "conn udp 203.0.113.10:1 198.18.3.2 burst 0\n",
		  "edge.conf:1: conn udp 203.0.113.10:1: burst: not a duration" },
		{ "conn udp 203.0.113.10:1 198.18.3.2 preset doom\n",
		  "edge.conf:1: conn udp 203.0.113.10:1: preset: unknown" },
		{ "conn udp 203.0.113.10:1 198.18.3.2 share_bans often\n",
		  "edge.conf:1: conn udp 203.0.113.10:1: share_bans: not yes or no" },
		{ "conn udp 203.0.113.10:1 198.18.3.2 pps 1 pps 2\n",
		  "edge.conf:1: conn udp 203.0.113.10:1: pps: given twice" },
		{ "protect 192.0.2.1/24\n", "edge.conf:1: bad CIDR '192.0.2.1/24'" },
		{ "protect 192.0.2.0/24 ttl 5s\n", "edge.conf:1: 'protect' takes 1 value" },
		{ "rule\n", "edge.conf:1: 'rule' takes an id" },
		{ "rule 0 action drop\n", "edge.conf:1: 'rule' takes an id" },
		{ "rule x action drop\n", "edge.conf:1: 'rule' takes an id" },
		{ "rule 5 action\n", "edge.conf:1: rule 5: action: has no value" },
		{ "rule 5 proto udp\n", "edge.conf:1: rule 5: action: missing" },
		{ "rule 5 action drop dport 80\n", "edge.conf:1: rule 5: dport: needs proto udp or tcp" },
		{ "rule 5 action drop\nrule 5 action pass\n", "edge.conf:2: rule 5 defined twice" },
		{ "icmp_echo sometimes\n", "edge.conf:1: bad icmp_echo 'sometimes'" },
		{ "icmp_echo_pps -1\n", "edge.conf:1: bad icmp_echo_pps '-1'" },
		{ "icmp_echo_global_pps 1e9\n", "edge.conf:1: bad icmp_echo_global_pps" },
	};

	refused_all(rows, sizeof(rows) / sizeof(rows[0]));
}

static void test_config__metrics_and_stats_history(void **state)
{
	struct edge_config c;
	char err[256] = "";

	edge_config_init(&c);
	assert_string_equal(c.metrics, ""); /* off by default */
	assert_int_equal(c.stats_history_ms, 86400000ULL);
	assert_int_equal(edge_config_parse(&c, "metrics 127.0.0.1:9477\nstats_history 1h\n", "x", err,
					   sizeof(err)), 0);
	assert_string_equal(c.metrics, "127.0.0.1:9477");
	assert_int_equal(c.metrics_addr, htonl(0x7f000001));
	assert_int_equal(c.metrics_port, 9477);
	assert_int_equal(c.stats_history_ms, 3600000ULL);
	assert_int_equal(edge_config_parse(&c, "metrics off\nstats_history 0\n", "x", err,
					   sizeof(err)), 0);
	assert_string_equal(c.metrics, "");
	assert_int_equal(c.stats_history_ms, 0);
	edge_config_free(&c);
}

static void test_config__long_line_refused(void **state)
{
	struct edge_config c;
	char err[256], text[4096];

	memset(text, 'x', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	edge_config_init(&c);
	assert_int_equal(edge_config_parse(&c, text, "f", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "f:1: line longer than"));
	edge_config_free(&c);
}

static void test_config__validate_names_missing(void **state)
{
	struct edge_config c;
	char err[256];

	edge_config_init(&c);
	assert_int_equal(edge_config_validate(&c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "--id"));
	assert_int_equal(edge_config_parse(&c, "id x\n", "f", err, sizeof(err)), 0);
	assert_int_equal(edge_config_validate(&c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "--iface"));
	assert_int_equal(edge_config_parse(&c, "iface lo\n", "f", err, sizeof(err)), 0);
	assert_int_equal(edge_config_validate(&c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "--addr"));
	edge_config_free(&c);
}

static void test_config__load_file(void **state)
{
	char path[] = "/tmp/bf-test-config-XXXXXX", err[256];
	struct edge_config c;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, "id p\nfoo\n", 9), 9);
	close(fd);
	edge_config_init(&c);
	assert_int_equal(edge_config_load(&c, path, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, ":2: unknown key 'foo'"));
	assert_non_null(strstr(err, path));
	unlink(path);
	assert_true(edge_config_load(&c, "/nonexistent/bifrost.conf", err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "cannot open"));
	edge_config_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config__full_file),
		cmocka_unit_test(test_config__backend),
		cmocka_unit_test(test_config__errors_name_file_and_line),
		cmocka_unit_test(test_config__conn_limits_protect_rules),
		cmocka_unit_test(test_config__new_lines_errors),
		cmocka_unit_test(test_config__guard_limits),
		cmocka_unit_test(test_config__validation),
		cmocka_unit_test(test_config__read_replica),
		cmocka_unit_test(test_config__long_line_refused),
		cmocka_unit_test(test_config__metrics_and_stats_history),
		cmocka_unit_test(test_config__validate_names_missing),
		cmocka_unit_test(test_config__load_file),
		cmocka_unit_test(test_config__a2s_workers),
	};

	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
