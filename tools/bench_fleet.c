/* bench_fleet.c - bf-bench's fleet measurements against a running lab
 * (tools/bench/fleet.sh drives them): punch propagation from one POP's XDP
 * program into its peers' maps beside Redis's own round trip, the sustained
 * rate at which an edge applies a peer's log, and a full resync. */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <hiredis/hiredis.h>
#include <linux/if_link.h>
#include <math.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "../edge/maps.h"
#include "pktgen.h"
#include "bench_fleet.h"
#include "bifrost.h"
#include "common.h"
#include "endpoint.h"
#include "schema.h"
#include "sync.h"

#define MAX_PEERS 16
#define REDIS_TIMEOUT_MS 2000 /* to connect, and for each command */
/* Bulk entries come from 240.0.0.0/4 (reserved, never a real source), so a
 * benchmark can never blacklist an address the lab uses. */
#define BULK_BASE 0xf0000000u

#define PUNCH_GAP_US 600

static void sleep_us(long us)
{
	struct timespec ts = { .tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000 };

	nanosleep(&ts, NULL);
}

double bench_cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
	       ru.ru_stime.tv_usec / 1e6;
}

double bench_quantile(double *v, size_t n, double q)
{
	size_t r;

	if (!n)
		return NAN;
	qsort(v, n, sizeof(*v), cmp_double);
	r = (size_t)ceil(q * (double)n);
	return v[r ? r - 1 : 0];
}

static void print_dist(const char *name, double *us, size_t n, int last)
{
	double p50 = bench_quantile(us, n, 0.50), p99 = bench_quantile(us, n, 0.99);

	printf("\"%s\":{\"n\":%zu,\"p50_us\":%.0f,\"p99_us\":%.0f,\"max_us\":%.0f}%s", name, n, p50,
	       p99, n ? us[n - 1] : NAN, last ? "" : ",");
}

/* --redis as every tool takes it (a name, a.b.c.d or [IPv6], :port), logged in with
 * --auth-file or the environment's credentials, reached from the namespace we are in.
 * NULL with the reason on stderr. */
static redisContext *redis_open(const char *endpoint, const char *auth_file)
{
	struct bf_endpoint ep;
	char err[BF_ENDPOINT_STRLEN + 512];
	redisContext *r;

	if (bf_endpoint_parse(endpoint, &ep, err, sizeof(err))) {
		fprintf(stderr, "bf-bench: --redis: %s\n", err);
		return NULL;
	}
	if (bf_endpoint_credentials(&ep, auth_file, err, sizeof(err))) {
		fprintf(stderr, "bf-bench: %s\n", err);
		return NULL;
	}
	r = bf_redis_connect(&ep, REDIS_TIMEOUT_MS, err, sizeof(err));
	if (!r)
		fprintf(stderr, "bf-bench: %s\n", err);
	return r;
}

/* Runs a command and fails loudly on an error reply. */
static int redis_ok(redisContext *r, const char *fmt, ...)
{
	redisReply *rep;
	va_list ap;
	int rc = 0;

	va_start(ap, fmt);
	rep = redisvCommand(r, fmt, ap);
	va_end(ap);
	if (!rep || rep->type == REDIS_REPLY_ERROR) {
		fprintf(stderr, "bf-bench: redis: %s\n", rep ? rep->str : r->errstr);
		rc = -1;
	}
	freeReplyObject(rep);
	return rc;
}

/* Reads n pipelined replies; -1 on the first error. */
static int redis_drain(redisContext *r, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		redisReply *rep;

		if (redisGetReply(r, (void **)&rep) != REDIS_OK) {
			fprintf(stderr, "bf-bench: redis: %s\n", r->errstr);
			return -1;
		}
		if (rep->type == REDIS_REPLY_ERROR) {
			fprintf(stderr, "bf-bench: redis: %s\n", rep->str);
			freeReplyObject(rep);
			return -1;
		}
		freeReplyObject(rep);
	}
	return 0;
}

static int pinned_map(const char *iface, const char *name)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/%s/%s", EDGE_PIN_ROOT, iface, name);
	fd = bpf_obj_get(path);
	if (fd < 0)
		fprintf(stderr, "bf-bench: cannot open %s: %s (is the lab up?)\n", path,
			strerror(errno));
	return fd;
}

static int enter_netns(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || setns(fd, CLONE_NEWNET)) {
		fprintf(stderr, "bf-bench: cannot enter %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

int bench_ping(redisContext *r, double *us, size_t n)
{
	for (size_t i = 0; i < n + 100; i++) {
		double t0 = mono_s();
		redisReply *rep = redisCommand(r, "PING");

		if (!rep) {
			fprintf(stderr, "bf-bench: PING: %s\n", r->errstr);
			return -1;
		}
		freeReplyObject(rep);
		if (i >= 100) /* the first ones warm the path up */
			us[i - 100] = (mono_s() - t0) * 1e6;
	}
	return 0;
}

/* ---- propagation: punch made by POP A's XDP -> present in B's map ---- */

struct prop_opts {
	const char *netns, *iface, *redis, *auth_file;
	const char *peers[MAX_PEERS];
	int n_peers;
	uint32_t machine, pop, bind, remote;
	unsigned count, pings;
	long poll_us;
};

static int xdp_prog_fd(int ifindex)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	int fd;

	if (bpf_xdp_query(ifindex, 0, &q) || !(q.prog_id ? q.prog_id : q.skb_prog_id)) {
		fprintf(stderr, "bf-bench: no XDP program on ifindex %d\n", ifindex);
		return -1;
	}
	fd = bpf_prog_get_fd_by_id(q.prog_id ? q.prog_id : q.skb_prog_id);
	if (fd < 0)
		fprintf(stderr, "bf-bench: program fd: %s\n", strerror(errno));
	return fd;
}

static int do_propagation(const struct prop_opts *o)
{
	double *first = calloc(o->count, sizeof(double));
	double *all = calloc(o->count, sizeof(double));
	double *each = calloc((size_t)o->count * o->n_peers, sizeof(double));
	double *per = calloc((size_t)o->count * o->n_peers, sizeof(double)); /* peer p's at p * count */
	double *ping = calloc(o->pings, sizeof(double));
	int peer_fd[MAX_PEERS], prog, ifindex;
	uint8_t if_mac[6];
	size_t n_each = 0, n_ok = 0, n_per[MAX_PEERS] = { 0 };
	unsigned lost = 0;
	redisContext *r;

	if (!first || !all || !each || !per || !ping)
		return 1;
	if (enter_netns(o->netns))
		return 1;
	ifindex = (int)if_nametoindex(o->iface);
	if (!ifindex || (prog = xdp_prog_fd(ifindex)) < 0)
		return 1;
	/* Addressed to the interface's own MAC: the edge sends nothing on that was not. */
	if (if_hwaddr(o->iface, if_mac)) {
		fprintf(stderr, "bf-bench: the MAC of %s: %s\n", o->iface, strerror(errno));
		return 1;
	}
	for (int p = 0; p < o->n_peers; p++)
		if ((peer_fd[p] = pinned_map(o->peers[p], "bf_punches")) < 0)
			return 1;
	if (!(r = redis_open(o->redis, o->auth_file)) || bench_ping(r, ping, o->pings))
		return 1;
	/* Sleeps of tens of µs, not the default 50 µs of timer slack. */
	prctl(PR_SET_TIMERSLACK, 1000UL);

	for (unsigned i = 0; i < o->count; i++) {
		static double t_prev;
		/* Each punch is a new flow: a new remote port (and address every 50000). */
		uint16_t rport = (uint16_t)(10000 + i % 50000);
		uint32_t raddr = htonl(ntohl(o->remote) + i / 50000);
		struct pkt_spec out = { .saddr = o->machine, .daddr = o->pop, .frag = 0x4000 };
		struct pkt_spec in = { .proto = IPPROTO_UDP, .frag = 0x4000, .sport = 45000,
				       .dport = rport, .saddr = o->bind, .daddr = raddr,
				       .payload_len = 8, .payload = "bifrost!" };
		struct bf_punch_key key = { .bind_ip = o->bind, .remote_ip = raddr,
					    .bind_port = htons(45000), .remote_port = htons(rport),
					    .proto = IPPROTO_UDP };
		struct xdp_md ctx = { .ingress_ifindex = (__u32)ifindex };
		uint8_t pkt[128];
		LIBBPF_OPTS(bpf_test_run_opts, t, .data_in = pkt, .ctx_in = &ctx,
			    .ctx_size_in = sizeof(ctx));
		int seen = 0, got[MAX_PEERS] = { 0 };
		double t0, dl;

		memcpy(out.dmac, if_mac, 6);
		t.data_size_in = (__u32)pkt_build_ipip(&out, &in, pkt, sizeof(pkt));
		ctx.data_end = t.data_size_in;
		/* At most one punch per PUNCH_GAP_US: under the edge's publishing cap
		 * (publish_max_pps, 2000 a second in the lab), past which a new punch is
		 * published only at its next report, 10 s later: a cap, not a latency. */
		if (mono_s() < t_prev + PUNCH_GAP_US / 1e6)
			sleep_us((long)((t_prev + PUNCH_GAP_US / 1e6 - mono_s()) * 1e6));
		t0 = t_prev = mono_s();
		/* The program learns the punch and reports it on its ring buffer,
		 * exactly as for a packet on the wire; the verdict does not matter. */
		if (bpf_prog_test_run_opts(prog, &t)) {
			fprintf(stderr, "bf-bench: test run: %s\n", strerror(errno));
			return 1;
		}
		dl = t0 + 1.0;
		while (seen < o->n_peers && mono_s() < dl) {
			for (int p = 0; p < o->n_peers; p++) {
				struct bf_punch_val v;

				if (got[p] || bpf_map_lookup_elem(peer_fd[p], &key, &v))
					continue;
				got[p] = 1;
				each[n_each++] = (mono_s() - t0) * 1e6;
				per[(size_t)p * o->count + n_per[p]++] = each[n_each - 1];
				if (++seen == 1)
					first[n_ok] = each[n_each - 1];
				if (seen == o->n_peers)
					all[n_ok] = each[n_each - 1];
			}
			if (seen < o->n_peers)
				sleep_us(o->poll_us);
		}
		if (seen == o->n_peers)
			n_ok++;
		else
			lost++;
		/* Nothing arrives at all: the punch is not being made (the
		 * packet is not a return path there), not slow. Stop. */
		if (lost >= 20 && !n_ok) {
			fprintf(stderr, "bf-bench: no punch reached the peers in 20 tries: is --iface "
					"the backend interface of --pop's edge (the return path is "
					"accepted only there)?\n");
			return 1;
		}
	}
	printf("{\"edges\":%d,\"punches\":%u,\"lost\":%u,\"poll_us\":%ld,", o->n_peers + 1,
	       o->count, lost, o->poll_us);
	print_dist("ping", ping, o->pings, 0);
	print_dist("first_peer", first, n_ok, 0);
	print_dist("every_peer", each, n_each, 0);
	print_dist("last_peer", all, n_ok, 0);
	/* Each peer on its own: a peer behind a tunnel beside the plain ones. */
	printf("\"peers\":{");
	for (int p = 0; p < o->n_peers; p++)
		print_dist(o->peers[p], per + (size_t)p * o->count, n_per[p], p == o->n_peers - 1);
	printf("}}\n");
	redisFree(r);
	return lost ? 1 : 0;
}

/* ---- apply rate and full resync: bulk blacklist entries of a fake origin ---- */

static void bulk_entry(uint32_t i, char *buf, size_t len)
{
	struct bf_cidr c = { .addr = htonl(BULK_BASE + i), .plen = 32 };
	char s[BF_CIDR_STRLEN];

	snprintf(buf, len, "%s", bf_cidr_str(&c, s));
}

/* Entries of the bulk range present in a blacklist map. */
static long count_bulk(int fd)
{
	struct bf_cidr_key *k;
	struct bf_list_val *v;
	size_t n;
	long hits = 0;

	if (edge_map_dump(fd, sizeof(*k), sizeof(*v), (void **)&k, (void **)&v, &n))
		return -1;
	for (size_t i = 0; i < n; i++)
		if (k[i].plen == 32 && (ntohl(k[i].addr) & 0xf0000000u) == BULK_BASE)
			hits++;
	free(k);
	free(v);
	return hits;
}

static int wait_entry(int fd, uint32_t i, double timeout_s)
{
	struct bf_cidr_key k = { .plen = 32, .addr = htonl(BULK_BASE + i) };
	struct bf_list_val v;
	double dl = mono_s() + timeout_s;

	while (mono_s() < dl) {
		if (!bpf_map_lookup_elem(fd, &k, &v))
			return 0;
		sleep_us(100);
	}
	return -1;
}

struct bulk_opts {
	const char *netns, *redis, *auth_file, *iface, *origin, *log;
	int edge_pid;
	unsigned count;
};

/* Sustained apply: the edge is stopped while `count` records pile up in a
 * peer's log; from SIGCONT it catches up through XREAD as fast as it can. */
static int do_apply(const struct bulk_opts *o)
{
	char key[BF_KEY_MAX], zkey[BF_KEY_MAX], edges[BF_KEY_MAX], e[BF_ENTRY_MAX + 1];
	char notify[32] = "";
	long long exp = (long long)sync_now_ms() + 3600 * 1000;
	redisContext *r = redis_open(o->redis, o->auth_file);
	int fd = pinned_map(o->iface, "bf_blacklist");
	double t0, t1;
	long n;

	if (!r || fd < 0)
		return 1;
	bf_key_log(key, sizeof(key), BF_PREFIX_DEFAULT, BF_KIND_BL, o->origin);
	bf_key_list(zkey, sizeof(zkey), BF_PREFIX_DEFAULT, BF_KIND_BL, o->origin);
	bf_key_edges(edges, sizeof(edges), BF_PREFIX_DEFAULT);
	/* Keyspace notifications off meanwhile: 400,000 of them queued for a stopped edge
	 * overflow its events connection's output buffer (Redis closes it), and the writes
	 * whose notifications were lost make it resync the origin from its ZSET, correctly,
	 * but then this would time a resync, not the log's apply rate. */
	{
		redisReply *cur = redisCommand(r, "CONFIG GET notify-keyspace-events");

		if (cur && cur->type == REDIS_REPLY_ARRAY && cur->elements == 2 &&
		    cur->element[1]->type == REDIS_REPLY_STRING)
			snprintf(notify, sizeof(notify), "%s", cur->element[1]->str);
		freeReplyObject(cur);
	}
	if (redis_ok(r, "CONFIG SET notify-keyspace-events %s", ""))
		return 1;
	/* Record 1 comes first: once it is in the map the edge follows the log. */
	bulk_entry(0, e, sizeof(e));
	if (redis_ok(r, "DEL %s %s", key, zkey) || redis_ok(r, "ZADD %s %lld %s", zkey, exp, e) ||
	    redis_ok(r, "XADD %s * op add entry %s exp %lld seq 1 why bench", key, e, exp) ||
	    redis_ok(r, "SADD %s %s", edges, o->origin))
		return 1;
	if (wait_entry(fd, 0, 10)) {
		fprintf(stderr, "bf-bench: the edge never applied the first record\n");
		return 1;
	}
	if (kill(o->edge_pid, SIGSTOP)) {
		fprintf(stderr, "bf-bench: SIGSTOP %d: %s\n", o->edge_pid, strerror(errno));
		return 1;
	}
	for (uint32_t i = 1; i <= o->count; i++) {
		bulk_entry(i, e, sizeof(e));
		redisAppendCommand(r, "ZADD %s %lld %s", zkey, exp, e);
		redisAppendCommand(r, "XADD %s * op add entry %s exp %lld seq %u why bench", key, e,
				   exp, i + 1);
		if ((i % 1000 == 0 || i == o->count) && redis_drain(r, 2 * (i % 1000 ? i % 1000 : 1000))) {
			kill(o->edge_pid, SIGCONT);
			return 1;
		}
	}
	t0 = mono_s();
	kill(o->edge_pid, SIGCONT);
	if (wait_entry(fd, o->count, 120)) {
		fprintf(stderr, "bf-bench: the edge did not catch up within 120 s\n");
		return 1;
	}
	t1 = mono_s();
	n = count_bulk(fd);
	printf("{\"entries\":%u,\"seconds\":%.3f,\"per_s\":%.0f,\"in_map\":%ld}\n", o->count,
	       t1 - t0, o->count / (t1 - t0), n);
	redis_ok(r, "CONFIG SET notify-keyspace-events %s", notify); /* as it was */
	redisFree(r);
	return n == (long)o->count + 1 ? 0 : 1;
}

/* "2026-11-22T21:09:14.122Z ..." -> Unix ms, or -1. */
static long long log_time_ms(const char *line)
{
	struct tm tm = { 0 };
	int ms;

	if (sscanf(line, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
		   &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) != 7)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (long long)timegm(&tm) * 1000 + ms;
}

/* Full resync: `count` entries in a new origin's ZSET; the edge finds the
 * origin (within a second), has no cursor for it and reads the whole ZSET.
 * Timed by the edge's own log lines around the resync. */
static int do_resync(const struct bulk_opts *o)
{
	char key[BF_KEY_MAX], zkey[BF_KEY_MAX], edges[BF_KEY_MAX];
	char begin_pat[128], done_pat[128], line[512];
	long long exp = (long long)sync_now_ms() + 3600 * 1000, t_add, t_begin = -1, t_done = -1;
	redisContext *r = redis_open(o->redis, o->auth_file);
	int fd = pinned_map(o->iface, "bf_blacklist");
	double dl;
	long off, n;
	FILE *f;

	if (!r || fd < 0)
		return 1;
	bf_key_log(key, sizeof(key), BF_PREFIX_DEFAULT, BF_KIND_BL, o->origin);
	bf_key_list(zkey, sizeof(zkey), BF_PREFIX_DEFAULT, BF_KIND_BL, o->origin);
	bf_key_edges(edges, sizeof(edges), BF_PREFIX_DEFAULT);
	if (redis_ok(r, "DEL %s %s", key, zkey))
		return 1;
	/* 1000 members per ZADD, pipelined 10 commands deep. */
	for (uint32_t i = 0; i < o->count;) {
		const char *argv[2 + 2 * 1000];
		size_t lens[2 + 2 * 1000];
		static char ents[1000][BF_CIDR_STRLEN], expbuf[24];
		int argc = 2;

		snprintf(expbuf, sizeof(expbuf), "%lld", exp);
		argv[0] = "ZADD";
		argv[1] = zkey;
		for (int j = 0; j < 1000 && i < o->count; j++, i++) {
			bulk_entry(i, ents[j], sizeof(ents[j]));
			argv[argc] = expbuf;
			argv[argc + 1] = ents[j];
			argc += 2;
		}
		for (int a = 0; a < argc; a++)
			lens[a] = strlen(argv[a]);
		redisAppendCommandArgv(r, argc, argv, lens);
		if (redis_drain(r, 1))
			return 1;
	}
	f = fopen(o->log, "r");
	if (!f) {
		fprintf(stderr, "bf-bench: cannot read %s: %s\n", o->log, strerror(errno));
		return 1;
	}
	fseek(f, 0, SEEK_END);
	off = ftell(f);
	snprintf(begin_pat, sizeof(begin_pat), "resync of bl:%s from its ZSET", o->origin);
	snprintf(done_pat, sizeof(done_pat), "resync of bl:%s done", o->origin);
	t_add = (long long)sync_now_ms();
	if (redis_ok(r, "SADD %s %s", edges, o->origin))
		return 1;
	dl = mono_s() + 120;
	while (t_done < 0 && mono_s() < dl) {
		clearerr(f);
		fseek(f, off, SEEK_SET);
		while (fgets(line, sizeof(line), f)) {
			if (!strchr(line, '\n'))
				break; /* half-written line: read it again next time */
			off = ftell(f);
			if (strstr(line, begin_pat))
				t_begin = log_time_ms(line);
			else if (strstr(line, done_pat))
				t_done = log_time_ms(line);
		}
		if (t_done < 0)
			sleep_us(50000);
	}
	fclose(f);
	if (t_begin < 0 || t_done < 0) {
		fprintf(stderr, "bf-bench: no resync of bl:%s seen in %s within 120 s\n", o->origin,
			o->log);
		return 1;
	}
	n = count_bulk(fd);
	printf("{\"entries\":%u,\"found_after_ms\":%lld,\"resync_s\":%.3f,\"per_s\":%.0f,"
	       "\"in_map\":%ld}\n",
	       o->count, t_begin - t_add, (t_done - t_begin) / 1000.0,
	       o->count / ((t_done - t_begin) / 1000.0 + 1e-9), n);
	redisFree(r);
	return n == (long)o->count ? 0 : 1;
}

/* ---- flags ---- */

static int parse_ip(const char *flag, const char *s, uint32_t *out)
{
	if (bf_parse_ipv4(s, out)) {
		fprintf(stderr, "bf-bench: %s wants an IPv4 address, not '%s'\n", flag, s);
		return -1;
	}
	return 0;
}

int bench_fleet_main(const char *cmd, int argc, char **argv)
{
	enum { O_NETNS = 256, O_IFACE, O_PEER, O_REDIS, O_MACHINE, O_POP, O_BIND, O_REMOTE,
	       O_COUNT, O_PINGS, O_POLL, O_ORIGIN, O_PID, O_LOG, O_AUTH };
	static const struct option opts[] = {
		{ "netns", required_argument, NULL, O_NETNS },
		{ "iface", required_argument, NULL, O_IFACE },
		{ "peer", required_argument, NULL, O_PEER },
		{ "redis", required_argument, NULL, O_REDIS },
		{ "machine", required_argument, NULL, O_MACHINE },
		{ "pop", required_argument, NULL, O_POP },
		{ "bind", required_argument, NULL, O_BIND },
		{ "remote", required_argument, NULL, O_REMOTE },
		{ "count", required_argument, NULL, O_COUNT },
		{ "pings", required_argument, NULL, O_PINGS },
		{ "poll-us", required_argument, NULL, O_POLL },
		{ "origin", required_argument, NULL, O_ORIGIN },
		{ "edge-pid", required_argument, NULL, O_PID },
		{ "log", required_argument, NULL, O_LOG },
		{ "auth-file", required_argument, NULL, O_AUTH },
		{ NULL, 0, NULL, 0 },
	};
	struct prop_opts p = { .count = 10000, .pings = 10000, .poll_us = 20 };
	struct bulk_opts b = { .count = 200000 };
	int opt;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case O_NETNS:
			p.netns = b.netns = optarg;
			break;
		case O_IFACE:
			p.iface = b.iface = optarg;
			break;
		case O_PEER:
			if (p.n_peers == MAX_PEERS)
				return 2;
			p.peers[p.n_peers++] = optarg;
			break;
		case O_REDIS:
			p.redis = b.redis = optarg;
			break;
		case O_AUTH:
			p.auth_file = b.auth_file = optarg;
			break;
		case O_MACHINE:
			if (parse_ip("--machine", optarg, &p.machine))
				return 2;
			break;
		case O_POP:
			if (parse_ip("--pop", optarg, &p.pop))
				return 2;
			break;
		case O_BIND:
			if (parse_ip("--bind", optarg, &p.bind))
				return 2;
			break;
		case O_REMOTE:
			if (parse_ip("--remote", optarg, &p.remote))
				return 2;
			break;
		case O_COUNT:
			p.count = b.count = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case O_PINGS:
			p.pings = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case O_POLL:
			p.poll_us = strtol(optarg, NULL, 10);
			break;
		case O_ORIGIN:
			b.origin = optarg;
			break;
		case O_PID:
			b.edge_pid = atoi(optarg);
			break;
		case O_LOG:
			b.log = optarg;
			break;
		default:
			return 2;
		}
	}
	if (!strcmp(cmd, "propagation")) {
		/* --netns is required: Redis and the program are the lab's. */
		if (!p.netns || !p.iface || !p.redis || !p.n_peers || !p.machine || !p.pop ||
		    !p.bind || !p.remote || !p.count || p.count > 1000000 || !p.pings ||
		    p.poll_us < 0 || p.poll_us > 100000) {
			fprintf(stderr, "bf-bench propagation: needs --netns --iface --peer... --redis "
					"--machine --pop --bind --remote; --count 1..1000000\n");
			return 2;
		}
		return do_propagation(&p);
	}
	if (!b.netns || !b.redis || !b.iface || !b.origin || !bf_origin_valid(b.origin) ||
	    !b.count || b.count > 1000000) {
		fprintf(stderr,
			"bf-bench %s: needs --netns --redis --iface --origin; --count 1..1000000\n",
			cmd);
		return 2;
	}
	/* Redis is reached from inside the lab, never through the host's routes. */
	if (enter_netns(b.netns))
		return 1;
	if (!strcmp(cmd, "apply")) {
		if (b.edge_pid <= 0) {
			fprintf(stderr, "bf-bench apply: needs --edge-pid\n");
			return 2;
		}
		return do_apply(&b);
	}
	if (!b.log) {
		fprintf(stderr, "bf-bench resync: needs --log (the edge's log file)\n");
		return 2;
	}
	return do_resync(&b);
}
