/* publish.c - an edge's own state on the bus, every command built here from
 * typed values: the heartbeat, the rule counters, the stats frame, and the
 * A2S challenge key's rotation. */
#include <errno.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_int.h"
#include "clock.h"

int sync_publish_heartbeat(struct sync_client *c, const struct sync_heartbeat *hb, int ttl_ms)
{
	struct sync_stats st;
	char key[BF_KEY_MAX], reads[48];

	if (!c->writable)
		return -ENOTCONN;
	sync_client_stats(c, &st);
	/* Where this edge reads from: "primary", "replica", or "primary:<why>" while a
	 * configured read replica is not used. */
	snprintf(reads, sizeof(reads), "%s%s%s", st.replica_reading ? "replica" : "primary",
		 st.replica_set && !st.replica_reading ? ":" : "",
		 st.replica_set && !st.replica_reading ? st.replica_why : "");
	bf_key_edge(key, sizeof(key), c->prefix, c->origin);
	sync_link_cmd(&c->cmd, NULL, NULL,
		      "HSET %s version %s iface %s xdp_mode %s started %lld last_seen %lld "
		      "pending %u peers %u records %llu bad_records %llu resyncs %llu "
		      "bad_frames %llu conf_version %s conf_refused %u link_reads %s link_events %s "
		      "bad_logs %u read_errors %llu write_retries %llu write_errors %llu "
		      "divergences %llu deadline_misses %llu bus_refused %llu bus_refused_by %s "
		      "reads %s replica_lag_ms %lld",
		      key, hb->version, hb->ifaces, hb->xdp_mode, (long long)hb->started_ms,
		      (long long)bf_wall_ms(), st.pending, st.peers, (unsigned long long)st.records,
		      (unsigned long long)st.bad_records, (unsigned long long)st.resyncs,
		      (unsigned long long)st.bad_frames,
		      hb->conf_version && hb->conf_version[0] ? hb->conf_version : "-",
		      hb->conf_refused, st.link_state[SYNC_LINK_READ], st.link_state[SYNC_LINK_EVENTS],
		      st.bad_logs, (unsigned long long)st.read_errors,
		      (unsigned long long)st.write_retries, (unsigned long long)st.write_errors,
		      (unsigned long long)(st.bare_writes + st.digest_mismatches),
		      (unsigned long long)st.deadline_misses, (unsigned long long)hb->bus_refused,
		      hb->bus_refused_by && hb->bus_refused_by[0] ? hb->bus_refused_by : "-", reads,
		      (long long)st.replica_lag_ms);
	sync_link_cmd(&c->cmd, NULL, NULL, "PEXPIRE %s %d", key, ttl_ms);
	return 0;
}

int sync_publish_rulestats(struct sync_client *c, const struct sync_rule_count *r, size_t n,
			   int ttl_ms)
{
	const char **argv;
	size_t *lens;
	char key[BF_KEY_MAX], (*txt)[2][48];
	int argc = 2;

	if (!c->writable)
		return -ENOTCONN;
	argv = calloc(2 + 2 * n, sizeof(*argv));
	lens = calloc(2 + 2 * n, sizeof(*lens));
	txt = calloc(n + 1, sizeof(*txt));
	if (!argv || !lens || !txt) {
		free(argv);
		free(lens);
		free(txt);
		return -ENOMEM;
	}
	bf_key_rulestats(key, sizeof(key), c->prefix, c->origin);
	argv[0] = "HSET";
	argv[1] = key;
	for (size_t i = 0; i < n; i++) {
		snprintf(txt[i][0], sizeof(txt[i][0]), "%u", r[i].id);
		snprintf(txt[i][1], sizeof(txt[i][1]), "%llu %llu", (unsigned long long)r[i].packets,
			 (unsigned long long)r[i].bytes);
		argv[argc++] = txt[i][0];
		argv[argc++] = txt[i][1];
	}
	for (int i = 0; i < argc; i++)
		lens[i] = strlen(argv[i]);
	/* Rewritten whole: a removed rule's line goes with it. */
	sync_link_cmd(&c->cmd, NULL, NULL, "MULTI");
	sync_link_cmd(&c->cmd, NULL, NULL, "DEL %s", key);
	if (n) {
		sync_link_cmd_argv(&c->cmd, 0, NULL, NULL, argc, argv, lens);
		sync_link_cmd(&c->cmd, NULL, NULL, "PEXPIRE %s %d", key, ttl_ms);
	}
	sync_link_cmd(&c->cmd, NULL, NULL, "EXEC");
	free(argv);
	free(lens);
	free(txt);
	return 0;
}

int sync_publish_stats(struct sync_client *c, const struct bf_stats_frame *fr, int64_t history_ms,
		       int ttl_ms, sync_done_cb done, void *ctx)
{
	struct bf_stats_field fl[BF_STATS_HASH_FIELDS];
	const char *argv[2 + 2 * BF_STATS_HASH_FIELDS];
	size_t lens[2 + 2 * BF_STATS_HASH_FIELDS];
	char key[BF_KEY_MAX], log[BF_KEY_MAX], ttl[16];
	uint8_t frame[BF_STATS_MAX_BYTES];
	size_t n;
	int flen, argc = 0, sent = 0;

	if (!c->writable)
		return -ENOTCONN;
	flen = bf_stats_encode(fr, frame, sizeof(frame));
	if (bf_key_stats(key, sizeof(key), c->prefix, c->origin) < 0 ||
	    bf_key_stats_log(log, sizeof(log), c->prefix, c->origin) < 0 || flen < 0)
		return -EINVAL;

	/* HSET key field value ... : the readable latest second */
	n = bf_stats_hash_fields(fr, fl, BF_STATS_HASH_FIELDS);
	argv[argc++] = "HSET";
	argv[argc++] = key;
	for (size_t i = 0; i < n; i++) {
		argv[argc++] = fl[i].name;
		argv[argc++] = fl[i].val;
	}
	for (int i = 0; i < argc; i++)
		lens[i] = strlen(argv[i]);
	if (sync_client_cmd_argv(c, argc, argv, lens, done, ctx))
		return -EIO;
	sent++;
	/* A dead edge's stats vanish with its heartbeat. */
	snprintf(ttl, sizeof(ttl), "%d", ttl_ms);
	sent += !sync_client_cmd_argv(c, 3, (const char *[]){ "PEXPIRE", key, ttl },
				      (const size_t[]){ 7, strlen(key), strlen(ttl) }, done, ctx);
	sent += !sync_client_cmd_argv(c, 3, (const char *[]){ "PUBLISH", key, (const char *)frame },
				      (const size_t[]){ 7, strlen(key), (size_t)flen }, done, ctx);
	if (history_ms) {
		struct bf_stats_sums sums;
		char minid[24], rx[24], fwd[24], drop[24], cin[24], cout[24];

		bf_stats_sum(fr, &sums);
		snprintf(minid, sizeof(minid), "%lld", (long long)(bf_wall_ms() - history_ms));
		snprintf(rx, sizeof(rx), "%llu", (unsigned long long)sums.rx.pps);
		snprintf(fwd, sizeof(fwd), "%llu", (unsigned long long)sums.fwd.pps);
		snprintf(drop, sizeof(drop), "%llu", (unsigned long long)sums.drop.pps);
		snprintf(cin, sizeof(cin), "%llu", (unsigned long long)fr->conn_in_pps);
		snprintf(cout, sizeof(cout), "%llu", (unsigned long long)fr->conn_out_pps);
		{
			/* Headline rates readable with XRANGE; the whole frame in `f`. */
			const char *xa[] = { "XADD",	 log,	  "MINID",	  "~",	    minid,
					     "*",	 "rx_pps", rx,		  "fwd_pps", fwd,
					     "drop_pps", drop,	  "conn_in_pps", cin,	    "conn_out_pps",
					     cout,	 "f",	  (const char *)frame };
			size_t xl[sizeof(xa) / sizeof(xa[0])];

			for (size_t i = 0; i < sizeof(xa) / sizeof(xa[0]); i++)
				xl[i] = strlen(xa[i]);
			xl[sizeof(xa) / sizeof(xa[0]) - 1] = (size_t)flen;
			sent += !sync_client_cmd_argv(c, (int)(sizeof(xa) / sizeof(xa[0])), xa, xl,
						      done, ctx);
		}
		{
			/* And by length: one frame a second, so the history's length in
			 * seconds (and a minute more) bounds its memory even if frames
			 * came faster. */
			char maxlen[24];

			snprintf(maxlen, sizeof(maxlen), "%lld", (long long)(history_ms / 1000 + 60));
			sent += !sync_client_cmd_argv(
				c, 5, (const char *[]){ "XTRIM", log, "MAXLEN", "~", maxlen },
				(const size_t[]){ 5, strlen(log), 6, 1, strlen(maxlen) }, done, ctx);
		}
	}
	return sent;
}

/* Creates the fleet's challenge key if there is none and rotates it (the
 * current key becomes the previous one) once it is `every` ms old. Every
 * edge runs it each second with a fresh random key; being one script it is
 * atomic, so exactly one edge's key wins each rotation, with no lock and no
 * leader. */
static const char a2s_key_script[] =
	"local cur = redis.call('HGET', KEYS[1], 'cur') "
	"local since = tonumber(redis.call('HGET', KEYS[1], 'since') or '0') "
	"if not cur then redis.call('HSET', KEYS[1], 'cur', ARGV[1], 'since', ARGV[2]) return 1 end "
	"if tonumber(ARGV[2]) - since >= tonumber(ARGV[3]) then "
	"redis.call('HSET', KEYS[1], 'prev', cur, 'cur', ARGV[1], 'since', ARGV[2]) return 2 end "
	"return 0";

int sync_a2s_key_rotate(struct sync_client *c, const char *fresh_hex, int64_t every_ms,
			sync_hash_cb cb, void *ctx)
{
	char key[BF_KEY_MAX];

	if (!c->writable)
		return -ENOTCONN;
	bf_key_a2s_secret(key, sizeof(key), c->prefix);
	sync_link_cmd(&c->cmd, NULL, NULL, "EVAL %s 1 %s %s %lld %lld", a2s_key_script, key,
			  fresh_hex, (long long)bf_wall_ms(), (long long)every_ms);
	return sync_client_hgetall(c, key, cb, ctx);
}

const char *sync_client_prefix(const struct sync_client *c)
{
	return c->prefix;
}
