/* bench.c - bf-bench: the measurements behind `make bench`. Every figure is
 * printed beside a baseline measured in the same run. Needs root. */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../edge/maps.h"
#include "pktgen.h"
#include "bench.skel.h"
#include "bench_a2s.h"
#include "bench_digest.h"
#include "bench_fanout.h"
#include "bench_fleet.h"
#include "common.h"
#include "edge.skel.h"
#include "log.h"

#ifndef BPF_F_TEST_XDP_LIVE_FRAMES
#define BPF_F_TEST_XDP_LIVE_FRAMES (1U << 1)
#endif

/* ns per packet of prog over pkt: live frames (the packet really leaves by
 * XDP_TX/redirect) or plain test runs. */
static double run_ns(int prog_fd, const uint8_t *pkt, size_t len, int ifindex, int live,
		     unsigned repeat)
{
	struct xdp_md ctx = { .data_end = (__u32)len, .ingress_ifindex = (__u32)ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = (__u32)len,
		    .repeat = repeat, .flags = live ? BPF_F_TEST_XDP_LIVE_FRAMES : 0);
	double t0, t1;

	if (ifindex) {
		o.ctx_in = &ctx;
		o.ctx_size_in = sizeof(ctx);
	}
	t0 = mono_s();
	if (bpf_prog_test_run_opts(prog_fd, &o)) {
		fprintf(stderr, "bf-bench: test run failed: %s\n", strerror(errno));
		exit(1);
	}
	t1 = mono_s();
	return (t1 - t0) * 1e9 / repeat;
}

/* ---- live frames that stay as built ---- */

/* Live-frames runs recycle their pages with the last run's bytes in them: a
 * program that rewrites or encapsulates would meet its own output after the
 * first round. Every measured row therefore runs behind bench_fresh (see
 * bench.bpf.c), which copies the row's frame back and tail-calls `prog`. */
static int fresh_row(struct bench_bpf *b, const uint8_t *pkt, size_t len, int prog)
{
	struct bench_frame_ {
		__u32 len;
		__u8 data[252];
	} fr = { .len = (__u32)len };
	__u32 zero = 0;

	memcpy(fr.data, pkt, len);
	if (bpf_map_update_elem(bpf_map__fd(b->maps.bench_pristine), &zero, &fr, BPF_ANY) ||
	    bpf_map_update_elem(bpf_map__fd(b->maps.bench_target), &zero, &prog, BPF_ANY)) {
		fprintf(stderr, "bf-bench: setting up the row failed: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

/* A row must take the path it is named for every time: 500 live runs (past
 * the page pool's first round) must all count under `reason`. */
static int check_path(const struct edge_map_fds *fd, struct bench_bpf *b, const char *name,
		      const uint8_t *pkt, size_t len, int ifindex, int reason)
{
	static const char *reason_names[BF_R_MAX] = { BF_R_NAMES };
	struct bf_counter before[BF_R_MAX], after[BF_R_MAX];

	edge_maps_read_stats(fd, before);
	run_ns(bpf_program__fd(b->progs.bench_fresh), pkt, len, ifindex, 1, 500);
	edge_maps_read_stats(fd, after);
	if (after[reason].packets == before[reason].packets + 500)
		return 0;
	for (int k = 0; k < BF_R_MAX; k++)
		if (after[k].packets != before[k].packets)
			fprintf(stderr, "bf-bench: %s took %s %llu times of 500\n", name, reason_names[k],
				(unsigned long long)(after[k].packets - before[k].packets));
	return -1;
}

/* ---- per-path cost of the edge program ---- */

/* A private network namespace with a veth pair bt0/bt1 and a default route
 * out of bt0: the ifindex of bt0, or -1. */
static int bench_netns(void)
{
	if (unshare(CLONE_NEWNET)) {
		perror("unshare");
		return -1;
	}
	if (sh_run("bf-bench", "ip link set lo up && ip link add bt0 type veth peer name bt1 && "
	       "ip link set bt0 up && ip link set bt1 up && ip addr add 198.18.0.1/24 dev bt0 && "
	       "ip neigh replace 198.18.0.2 lladdr 02:00:00:00:00:02 dev bt0 nud permanent && "
	       "ip route add default via 198.18.0.2 && sysctl -qw net.ipv4.conf.all.forwarding=1 "
	       "net.ipv4.conf.bt0.forwarding=1"))
		return -1;
	return (int)if_nametoindex("bt0");
}

static const char *bench_conf = "id bench\niface bt0\naddr 192.0.2.11\n"
				"conn udp 203.0.113.10:27015 198.18.3.2\n"
				"whitelist 198.51.100.0/28\n"
				"blacklist 198.19.1.0/24\n";

/* The edge program with private (unpinned) maps holding the config text
 * `conf` (connections, protected prefixes, whitelist, blacklist); maps may
 * be NULL. NULL on failure, said on stderr. */
/* What a bench program leaves out (rodata knobs, set only by bf-bench). */
enum { KNOB_STATS_OFF = 1, KNOB_UNCHECKED = 2 };

static struct edge_bpf *bench_edge(const char *conf, int knobs, struct edge_map_fds *fd,
				   struct edge_maps *maps)
{
	struct edge_config cfg;
	struct edge_maps own;
	struct bpf_map *m;
	struct edge_bpf *e = edge_bpf__open();
	char err[256] = "";
	int rc;

	if (!maps)
		maps = &own;
	if (!e)
		return NULL;
	e->rodata->bf_stats_off = !!(knobs & KNOB_STATS_OFF);
	e->rodata->bf_bench_unchecked = !!(knobs & KNOB_UNCHECKED);
	bpf_object__for_each_map(m, e->obj)
		bpf_map__set_pin_path(m, NULL);
	if (edge_bpf__load(e)) {
		edge_bpf__destroy(e);
		return NULL;
	}
	edge_map_fds_from_object(e->obj, fd);
	edge_config_init(&cfg);
	rc = edge_config_parse(&cfg, conf, "bench", err, sizeof(err)) ||
	     edge_maps_init(maps, fd) || edge_maps_write_config(maps, &cfg) ||
	     edge_maps_apply_conns(maps, cfg.conns, cfg.n_conns, NULL, 0) ||
	     edge_maps_list_reconcile(maps, BF_LIST_PR, cfg.pr, cfg.n_pr, BF_SRC_CONFIG) ||
	     edge_maps_list_reconcile(maps, BF_LIST_WL, cfg.wl, cfg.n_wl, BF_SRC_CONFIG) ||
	     edge_maps_list_reconcile(maps, BF_LIST_BL, cfg.bl, cfg.n_bl, BF_SRC_CONFIG);
	edge_config_free(&cfg);
	if (rc) {
		fprintf(stderr, "bf-bench: setting up the edge program failed %s\n", err);
		edge_bpf__destroy(e);
		return NULL;
	}
	return e;
}

/* What a feature costs: the same program with it and without it (a rodata
 * knob the verifier prunes), over the forward, blacklist-drop and
 * return-path rows, interleaved rounds, best of each. `knob` is
 * KNOB_STATS_OFF (the counters) or KNOB_UNCHECKED (the trust checks: the
 * return path's interface and destination test, the checksum before
 * encapsulation). */
static int do_ab_cost(int knob, unsigned repeat, int rounds)
{
	struct edge_map_fds fd_on, fd_off;
	struct edge_bpf *on, *off;
	struct bench_bpf *b;
	int t0 = bench_netns();
	struct {
		const char *name;
		uint8_t pkt[256];
		size_t len;
		double best[2];
	} rows[3];
	struct pkt_spec fwd = { .proto = IPPROTO_UDP, .frag = 0x4000, .sport = 50000, .dport = 27015,
				.payload_len = 32, .payload = "................................",
				.saddr = inet_addr("198.51.100.77"), .daddr = inet_addr("203.0.113.10") };
	struct pkt_spec bl = fwd, o = { .saddr = inet_addr("198.18.3.2"),
					.daddr = inet_addr("192.0.2.11"), .frag = 0x4000 };
	struct pkt_spec in = fwd;
	struct bf_counter c[BF_R_MAX];

	if (t0 < 0)
		return 1;
	b = bench_bpf__open_and_load();
	on = bench_edge(bench_conf, 0, &fd_on, NULL);
	off = bench_edge(bench_conf, knob, &fd_off, NULL);
	if (!b || !on || !off ||
	    bpf_xdp_attach((int)if_nametoindex("bt1"), bpf_program__fd(b->progs.bench_drop),
			   XDP_FLAGS_DRV_MODE, NULL)) {
		fprintf(stderr, "bf-bench: loading the edge programs failed\n");
		return 1;
	}
	bl.saddr = inet_addr("198.19.1.7");
	in.saddr = inet_addr("203.0.113.10");
	in.daddr = inet_addr("198.51.100.77");
	in.sport = 27015;
	in.dport = 50000;
	rows[0].name = "forward_encap";
	rows[0].len = pkt_build(&fwd, rows[0].pkt, sizeof(rows[0].pkt));
	rows[1].name = "blacklist_drop";
	rows[1].len = pkt_build(&bl, rows[1].pkt, sizeof(rows[1].pkt));
	rows[2].name = "return_decap";
	rows[2].len = pkt_build_ipip(&o, &in, rows[2].pkt, sizeof(rows[2].pkt));
	for (int i = 0; i < 3; i++) {
		static const int why[3] = { BF_R_FORWARD, BF_R_BLACKLIST, BF_R_RETURN_PATH };

		rows[i].best[0] = rows[i].best[1] = 1e18;
		if (fresh_row(b, rows[i].pkt, rows[i].len, bpf_program__fd(on->progs.bifrost_edge)) ||
		    check_path(&fd_on, b, rows[i].name, rows[i].pkt, rows[i].len, t0, why[i]))
			return 1;
	}
	/* Behind bench_fresh, like every live-frames row (see fresh_row). */
	for (int r = 0; r < rounds; r++)
		for (int i = 0; i < 3; i++)
			for (int k = 0; k < 2; k++) {
				int prog = bpf_program__fd(k ? off->progs.bifrost_edge
							     : on->progs.bifrost_edge);
				double ns;

				if (fresh_row(b, rows[i].pkt, rows[i].len, prog))
					return 1;
				ns = run_ns(bpf_program__fd(b->progs.bench_fresh), rows[i].pkt,
					    rows[i].len, t0, 1, repeat);
				if (ns < rows[i].best[k])
					rows[i].best[k] = ns;
			}
	/* The counting knob must really switch the counting off (and on). */
	edge_maps_read_stats(&fd_off, c);
	for (int r = 0; knob == KNOB_STATS_OFF && r < BF_R_MAX; r++)
		if (c[r].packets) {
			fprintf(stderr, "bf-bench: stats_off still counted\n");
			return 1;
		}
	edge_maps_read_stats(&fd_on, c);
	if (!c[BF_R_FORWARD].packets || !c[BF_R_BLACKLIST].packets || !c[BF_R_RETURN_PATH].packets) {
		fprintf(stderr, "bf-bench: a row did not take its path\n");
		return 1;
	}
	printf("[");
	for (int i = 0; i < 3; i++)
		printf("%s{\"path\":\"%s\",\"with_ns\":%.1f,\"without_ns\":%.1f,"
		       "\"ratio\":%.3f}",
		       i ? "," : "", rows[i].name, rows[i].best[0], rows[i].best[1],
		       rows[i].best[0] / rows[i].best[1]);
	printf("]\n");
	edge_bpf__destroy(on);
	edge_bpf__destroy(off);
	bench_bpf__destroy(b);
	return 0;
}

static int do_paths(unsigned repeat, int rounds)
{
	struct bench_bpf *b;
	struct edge_bpf *e;
	struct edge_map_fds fd;
	int t0;
	struct {
		const char *name;
		uint8_t pkt[256];
		size_t len;
		int prog, reason; /* reason -1: a baseline, not the edge program */
		double best;
	} rows[8];
	int n = 0;

	t0 = bench_netns();
	if (t0 < 0)
		return 1;
	b = bench_bpf__open_and_load();
	e = bench_edge(bench_conf, 0, &fd, NULL);
	if (!b || !e)
		return 1;
	/* Frames sent by XDP_TX out of bt0 land on bt1: a drop sink keeps them cheap. */
	if (bpf_xdp_attach((int)if_nametoindex("bt1"), bpf_program__fd(b->progs.bench_drop),
			   XDP_FLAGS_DRV_MODE, NULL))
		return 1;

#define ROW(nm, prog_fd, why, ...)                                                      \
	do {                                                                           \
		struct pkt_spec s = { .proto = IPPROTO_UDP, .frag = 0x4000, .sport = 50000, \
				      .dport = 27015, .payload_len = 32,                \
				      .payload = "................................", \
				      __VA_ARGS__ };                                    \
		rows[n].name = nm;                                                     \
		rows[n].prog = prog_fd;                                                \
		rows[n].reason = why;                                                  \
		rows[n].len = pkt_build(&s, rows[n].pkt, sizeof(rows[n].pkt));         \
		rows[n].best = 1e18;                                                   \
		n++;                                                                   \
	} while (0)

	int edge = bpf_program__fd(e->progs.bifrost_edge);

	ROW("baseline_xdp_drop", bpf_program__fd(b->progs.bench_drop), -1,
	    .saddr = inet_addr("198.51.100.77"), .daddr = inet_addr("203.0.113.10"));
	ROW("baseline_xdp_tx", bpf_program__fd(b->progs.bench_tx), -1,
	    .saddr = inet_addr("198.51.100.77"), .daddr = inet_addr("203.0.113.10"));
	ROW("blacklist_drop", edge, BF_R_BLACKLIST, .saddr = inet_addr("198.19.1.7"),
	    .daddr = inet_addr("203.0.113.10"));
	ROW("default_drop", edge, BF_R_DEFAULT_DROP, .saddr = inet_addr("198.51.100.77"),
	    .daddr = inet_addr("203.0.113.99"));
	ROW("forward_encap", edge, BF_R_FORWARD, .saddr = inet_addr("198.51.100.77"),
	    .daddr = inet_addr("203.0.113.10"));
	ROW("whitelist_forward", edge, BF_R_WHITELIST, .saddr = inet_addr("198.51.100.5"),
	    .daddr = inet_addr("203.0.113.10"));
	{
		struct pkt_spec o = { .saddr = inet_addr("198.18.3.2"),
				      .daddr = inet_addr("192.0.2.11"), .frag = 0x4000 };
		struct pkt_spec in = { .proto = IPPROTO_UDP, .frag = 0x4000, .sport = 27015,
				       .dport = 50000, .saddr = inet_addr("203.0.113.10"),
				       .daddr = inet_addr("198.51.100.77"), .payload_len = 32,
				       .payload = "................................" };

		rows[n].name = "return_decap";
		rows[n].prog = edge;
		rows[n].reason = BF_R_RETURN_PATH;
		rows[n].len = pkt_build_ipip(&o, &in, rows[n].pkt, sizeof(rows[n].pkt));
		rows[n].best = 1e18;
		n++;
	}
	/* Each row must take the path it is named for; a misrouted row would
	 * measure something else. */
	for (int i = 0; i < n; i++)
		if (rows[i].reason >= 0 &&
		    (fresh_row(b, rows[i].pkt, rows[i].len, rows[i].prog) ||
		     check_path(&fd, b, rows[i].name, rows[i].pkt, rows[i].len, t0, rows[i].reason)))
			return 1;
	/* Interleaved rounds, best of each: other load on the machine hurts
	 * every row alike instead of one. Baselines run behind bench_fresh too,
	 * so the ratios compare like with like. */
	for (int r = 0; r < rounds; r++)
		for (int i = 0; i < n; i++) {
			double ns;

			if (fresh_row(b, rows[i].pkt, rows[i].len, rows[i].prog))
				return 1;
			ns = run_ns(bpf_program__fd(b->progs.bench_fresh), rows[i].pkt, rows[i].len, t0,
				    1, repeat);
			if (ns < rows[i].best)
				rows[i].best = ns;
		}
	printf("[");
	for (int i = 0; i < n; i++)
		printf("%s{\"path\":\"%s\",\"ns_per_pkt\":%.1f,\"ratio_to_xdp_drop\":%.2f}", i ? "," : "",
		       rows[i].name, rows[i].best, rows[i].best / rows[0].best);
	printf("]\n");
	edge_bpf__destroy(e);
	bench_bpf__destroy(b);
	return 0;
}

/* ---- firewall rules and rate limits ---- */

/* A rule that compares five fields and fails on the last for the measured
 * packet (payload_len), so that every rule is evaluated in full. distinct: rule i names
 * port 30000 + i instead, none of them the packet's (the port index skips them all). */
static int bench_rules_apply(struct edge_maps *maps, unsigned n, bool distinct)
{
	struct bf_rule_def *r = calloc(n + 1, sizeof(*r));
	char err[256];
	int rc = 0;

	if (!r)
		return -ENOMEM;
	for (unsigned i = 0; i < n && !rc; i++) {
		char text[160];
		int len = snprintf(text, sizeof(text),
				   "action drop src 198.51.100.0/24 dst 203.0.113.10/32 "
				   "proto udp dport %u payload_len 0-8", distinct ? 30000 + i : 27016);

		rc = bf_rule_parse(i + 1, text, (size_t)len, &r[i], err, sizeof(err));
	}
	if (!rc)
		rc = edge_maps_apply_rules(maps, r, n, NULL);
	free(r);
	return rc;
}

/* ns/packet of the rules stage with 0..1000 rules none of which matches (a
 * port no connection has, held open by another remote's punch: every list,
 * every rule, then the default drop), of a port nothing opens, of the
 * forward path with and without a per-source limit, of a source over its
 * limit or blocked, and of an echo reply; each beside an empty XDP_DROP
 * program measured in the same run. Live frames (XDP_TX really transmits),
 * every row behind bench_fresh so that each run sees the frame as built. */
static int do_rules(unsigned repeat, int rounds)
{
	static const unsigned counts[] = { 0, 1, 10, 100, 1000 };
	struct bench_bpf *b;
	struct edge_bpf *e;
	struct edge_maps maps;
	struct edge_map_fds fd;
	int t0, n = 0;
	struct {
		const char *name;
		unsigned rules;
		bool distinct;
		uint8_t pkt[256];
		size_t len;
		int prog, reason;
		unsigned repeat;
		double best;
	} rows[28];
	const char *text = "id bench\niface bt0\naddr 192.0.2.11\n"
			   "conn udp 203.0.113.10:27015 198.18.3.2\n"
			   "conn udp 203.0.113.20:27015 198.18.3.2 pps 100m bps 100g block 30s\n"
			   "conn udp 203.0.113.20:27016 198.18.3.2 pps 1 block 0\n"
			   "conn udp 203.0.113.30:27015 198.18.3.2 validate srcds\n"
			   "blacklist 198.19.1.0/24\n"
			   "protect 192.0.2.0/24\n"
			   "icmp_echo_pps 0\nicmp_echo_global_pps 0\n"; /* every echo answered */

	t0 = bench_netns();
	if (t0 < 0)
		return 1;
	b = bench_bpf__open_and_load();
	e = bench_edge(text, 0, &fd, &maps);
	if (!b || !e)
		return 1;

	/* Frames sent by XDP_TX out of bt0 land on bt1: a drop sink keeps them cheap. */
	if (bpf_xdp_attach((int)if_nametoindex("bt1"), bpf_program__fd(b->progs.bench_drop),
			   XDP_FLAGS_DRV_MODE, NULL))
		return 1;

#define RROW(nm, nrules, prog_fd, why, proto_, src, dst, dport_)                          \
	do {                                                                             \
		struct pkt_spec s = { .proto = proto_, .frag = 0x4000, .sport = 50000,       \
				      .dport = dport_, .payload_len = 32,                 \
				      .payload = "................................",   \
				      .saddr = inet_addr(src), .daddr = inet_addr(dst) }; \
		rows[n].name = nm;                                                       \
		rows[n].rules = nrules;                                                  \
		rows[n].distinct = !strcmp(nm, "closed_port_port_rules");                \
		rows[n].prog = prog_fd;                                                  \
		rows[n].reason = why;                                                    \
		rows[n].len = pkt_build(&s, rows[n].pkt, sizeof(rows[n].pkt));           \
		rows[n].repeat = repeat / (1 + (nrules) / 8) + 1000;                     \
		rows[n].best = 1e18;                                                     \
		n++;                                                                     \
	} while (0)

	int edge = bpf_program__fd(e->progs.bifrost_edge);
	const char *cl = "198.51.100.77", *any = "203.0.113.10", *lim = "203.0.113.20";

	RROW("empty_xdp_drop", 0, bpf_program__fd(b->progs.bench_drop), -1, IPPROTO_UDP, cl, any,
	     27015);
	/* A port nothing opens: dropped right after the whitelist (closed ports). */
	RROW("closed_port_nothing_open", 0, edge, BF_R_DEFAULT_DROP, IPPROTO_UDP, cl, any, 27017);
	for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++)
		RROW("closed_port_rules", counts[i], edge, BF_R_DEFAULT_DROP, IPPROTO_UDP, cl, any,
		     27016);
	/* The same rules, each on a port of its own (30000 + i): the port index's case. */
	for (size_t i = 1; i < sizeof(counts) / sizeof(counts[0]); i++)
		RROW("closed_port_port_rules", counts[i], edge, BF_R_DEFAULT_DROP, IPPROTO_UDP, cl,
		     any, 27016);
	RROW("forward_no_limit", 0, edge, BF_R_FORWARD, IPPROTO_UDP, cl, any, 27015);
	RROW("forward_ratelimit", 0, edge, BF_R_FORWARD, IPPROTO_UDP, cl, lim, 27015);
	RROW("ratelimit_over_limit", 0, edge, BF_R_RATELIMIT, IPPROTO_UDP, cl, lim, 27016);
	RROW("ratelimit_blocked", 0, edge, BF_R_BLOCKLIST, IPPROTO_UDP, "198.51.100.99", lim,
	     27015);
	RROW("icmp_echo_reply", 0, edge, BF_R_ICMP_ECHO, IPPROTO_ICMP, cl, any, 0);
	/* Handshake validation (validate srcds): a validated client's packet (beside
	 * forward_no_limit), and game-port junk from an unvalidated source (beside
	 * closed_port_rules with 0 rules and the empty XDP_DROP). */
	RROW("forward_validated", 0, edge, BF_R_FORWARD, IPPROTO_UDP, cl, "203.0.113.30", 27015);
	RROW("unvalidated_junk", 0, edge, BF_R_UNVALIDATED, IPPROTO_UDP, "198.51.100.88",
	     "203.0.113.30", 27015);
	{
		struct bf_rl_key k = { .src = inet_addr(cl), .bind_ip = inet_addr("203.0.113.30"),
				       .bind_port = htons(27015), .proto = IPPROTO_UDP };
		struct bf_valid_val v = { .expires_ns = bf_mono_ns() + 86400ULL * 1000000000ULL,
					  .reported_ns = bf_mono_ns(), .src = BF_SRC_LOCAL };

		bpf_map_update_elem(fd.valid, &k, &v, BPF_ANY);
	}
	{
		/* Port 27016 of the anycast address is held open by a punch of another
		 * remote: the closed_port rows go the whole way (lists, rules, look-ups). */
		struct bf_punch_key k = { .bind_ip = inet_addr(any), .remote_ip = inet_addr("198.51.100.200"),
					  .bind_port = htons(27016), .remote_port = htons(1),
					  .proto = IPPROTO_UDP };

		if (edge_punch_put(&maps.mach, &k, inet_addr("198.18.3.2"),
				   bf_mono_ns() + 86400ULL * 1000000000ULL))
			return 1;
	}
	{
		/* The blocked row: a source already in the blocklist (the state
		 * every packet of a flood after its first is in). */
		__be32 a = inet_addr("198.51.100.99");
		struct bf_list_val v = { .expires_ns = 0, .src = BF_SRC_LOCAL };

		bpf_map_update_elem(fd.blocklist, &a, &v, BPF_ANY);
	}

	/* Rounds: for each rule count, apply that set and measure its row,
	 * interleaved with the rows that need no rules. Every row runs behind
	 * bench_fresh (see bench.bpf.c), which puts the row's frame back first. */
	int fresh = bpf_program__fd(b->progs.bench_fresh);

	for (int r = 0; r < rounds; r++)
		for (int i = 0; i < n; i++) {
			double ns;

			if (bench_rules_apply(&maps, rows[i].rules, rows[i].distinct)) {
				fprintf(stderr, "bf-bench: applying %u rules failed\n", rows[i].rules);
				return 1;
			}
			if (fresh_row(b, rows[i].pkt, rows[i].len, rows[i].prog))
				return 1;
			if (r == 0 && rows[i].reason == BF_R_RATELIMIT) /* past its one packet */
				run_ns(fresh, rows[i].pkt, rows[i].len, t0, 1, 2);
			if (r == 0 && rows[i].reason >= 0 &&
			    check_path(&fd, b, rows[i].name, rows[i].pkt, rows[i].len, t0,
				       rows[i].reason))
				return 1;
			ns = run_ns(fresh, rows[i].pkt, rows[i].len, t0, 1, rows[i].repeat);
			if (ns < rows[i].best)
				rows[i].best = ns;
		}
	printf("[");
	for (int i = 0; i < n; i++)
		printf("%s{\"path\":\"%s\",\"rules\":%u,\"ns_per_pkt\":%.1f,"
		       "\"ratio_to_empty_xdp_drop\":%.2f}",
		       i ? "," : "", rows[i].name, rows[i].rules, rows[i].best,
		       rows[i].best / rows[0].best);
	printf("]\n");
	edge_bpf__destroy(e);
	bench_bpf__destroy(b);
	return 0;
}

/* ---- blacklist look-up: hash per prefix length vs LPM trie ---- */

static uint32_t rnd(void)
{
	static uint64_t s = 0x9e3779b97f4a7c15ULL;

	s ^= s << 13;
	s ^= s >> 7;
	s ^= s << 17;
	return (uint32_t)s;
}

static int do_lookup(unsigned entries, unsigned repeat, int rounds)
{
	struct bench_bpf *b = bench_bpf__open();
	struct bf_list_val v = { 0 };
	uint64_t mask = (1ULL << 32) | (1ULL << 24);
	double best[3] = { 1e18, 1e18, 1e18 };
	int fds[3];
	uint8_t pkt[64] = { 0 };
	int fh, fl, fa;

	if (!b)
		return 1;
	b->rodata->n_addrs = entries;
	b->rodata->plen_mask = mask;
	if (bench_bpf__load(b))
		return 1;
	fh = bpf_map__fd(b->maps.bench_hash);
	fl = bpf_map__fd(b->maps.bench_lpm);
	fa = bpf_map__fd(b->maps.bench_addrs);
	/* 90% /32, 10% /24: what real blacklists look like. Sources are drawn
	 * from inside the entries, so every look-up is a hit. */
	for (unsigned i = 0; i < entries; i++) {
		uint32_t a = (rnd() % 0xdf000000u) + 0x01000000u;
		unsigned plen = i % 10 == 0 ? 24 : 32;
		struct bf_cidr_key hk = { .plen = plen, .addr = htonl(a) & bf_plen_mask(plen) };
		struct { __u32 prefixlen; __be32 addr; } lk = { plen, hk.addr };
		__be32 src = htonl(a);

		if (bpf_map_update_elem(fh, &hk, &v, BPF_ANY) ||
		    bpf_map_update_elem(fl, &lk, &v, BPF_ANY) ||
		    bpf_map_update_elem(fa, &i, &src, BPF_ANY)) {
			fprintf(stderr, "bf-bench: filling maps: %s\n", strerror(errno));
			return 1;
		}
	}
	fds[0] = bpf_program__fd(b->progs.bench_lookup_none);
	fds[1] = bpf_program__fd(b->progs.bench_lookup_hash);
	fds[2] = bpf_program__fd(b->progs.bench_lookup_lpm);
	pkt[12] = 0x08;
	for (int r = 0; r < rounds; r++)
		for (int i = 0; i < 3; i++) {
			double ns = run_ns(fds[i], pkt, sizeof(pkt), 0, 0, repeat);

			if (ns < best[i])
				best[i] = ns;
		}
	printf("{\"entries\":%u,\"baseline_ns\":%.1f,\"hash_ns\":%.1f,\"lpm_ns\":%.1f,"
	       "\"hash_lookup_ns\":%.1f,\"lpm_lookup_ns\":%.1f,\"lpm_over_hash\":%.2f}\n",
	       entries, best[0], best[1], best[2], best[1] - best[0], best[2] - best[0],
	       (best[2] - best[0]) / (best[1] - best[0]));
	bench_bpf__destroy(b);
	return 0;
}

/* ---- live-frames sender ---- */

static int do_send(const char *ifname, unsigned count, const char *src, const char *dst)
{
	struct bench_bpf *b = bench_bpf__open_and_load();
	struct pkt_spec s = { .proto = IPPROTO_UDP, .frag = 0x4000, .sport = 50000, .dport = 27015,
			      .saddr = inet_addr(src), .daddr = inet_addr(dst),
			      .payload_len = 18, .payload = ".................." };
	int ifindex = (int)if_nametoindex(ifname);
	uint8_t pkt[128];
	size_t len;
	double t0, t1;

	if (!b || !ifindex) {
		fprintf(stderr, "bf-bench: send: no interface '%s' or load failed\n", ifname);
		return 1;
	}
	memset(s.dmac, 0x02, 6);
	len = pkt_build(&s, pkt, sizeof(pkt));
	t0 = mono_s();
	run_ns(bpf_program__fd(b->progs.bench_tx), pkt, len, ifindex, 1, count);
	t1 = mono_s();
	printf("{\"sent\":%u,\"seconds\":%.4f,\"pps\":%.0f}\n", count, t1 - t0, count / (t1 - t0));
	bench_bpf__destroy(b);
	return 0;
}

int main(int argc, char **argv)
{
	bf_log_init("bf-bench", BF_LOG_WARN);
	if (argc >= 2 && !strcmp(argv[1], "paths"))
		return do_paths(argc > 2 ? (unsigned)atoi(argv[2]) : 2000000,
				argc > 3 ? atoi(argv[3]) : 5);
	if (argc >= 2 && !strcmp(argv[1], "rules"))
		return do_rules(argc > 2 ? (unsigned)atoi(argv[2]) : 1000000,
				argc > 3 ? atoi(argv[3]) : 5);
	if (argc >= 2 && (!strcmp(argv[1], "stats") || !strcmp(argv[1], "trust")))
		return do_ab_cost(argv[1][0] == 's' ? KNOB_STATS_OFF : KNOB_UNCHECKED,
				  argc > 2 ? (unsigned)atoi(argv[2]) : 2000000,
				  argc > 3 ? atoi(argv[3]) : 5);
	if (argc >= 3 && !strcmp(argv[1], "lookup"))
		return do_lookup((unsigned)atoi(argv[2]), argc > 3 ? (unsigned)atoi(argv[3]) : 2000000,
				 argc > 4 ? atoi(argv[4]) : 3);
	if (argc >= 4 && !strcmp(argv[1], "send"))
		return do_send(argv[2], (unsigned)atoi(argv[3]), argc > 4 ? argv[4] : "198.51.100.77",
			       argc > 5 ? argv[5] : "203.0.113.99");
	if (argc >= 2 && (!strcmp(argv[1], "propagation") || !strcmp(argv[1], "apply") ||
			  !strcmp(argv[1], "resync")))
		return bench_fleet_main(argv[1], argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "digest"))
		return bench_digest_main(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "fanout"))
		return bench_fanout_main(argc - 1, argv + 1);
	if (argc >= 2 && (!strcmp(argv[1], "a2s") || !strcmp(argv[1], "a2s-load")))
		return bench_a2s_main(argv[1], argc - 1, argv + 1);
	fprintf(stderr,
		"Usage: bf-bench paths [REPEAT [ROUNDS]]         ns/packet per verdict path (live frames)\n"
		"       bf-bench rules [REPEAT [ROUNDS]]         rules (0-1000), rate limit, echo (live frames)\n"
		"       bf-bench stats [REPEAT [ROUNDS]]         counters on vs off (stats_off), same paths\n"
		"       bf-bench trust [REPEAT [ROUNDS]]         trust checks on vs off (unchecked), same paths\n"
		"       bf-bench lookup ENTRIES [REPEAT [ROUNDS]] blacklist hash vs LPM trie, random sources\n"
		"       bf-bench send IFNAME COUNT [SRC [DST]]     live-frames sender (XDP_TX out of IFNAME)\n"
		"       bf-bench propagation --netns NS --iface IF --peer IF... --redis HOST:PORT --machine IP\n"
		"                --pop IP --bind IP --remote IP [--count N] [--pings N] [--poll-us US]\n"
		"                punch made by IF's XDP program -> present in each peer's map, and PING\n"
		"       bf-bench apply --netns NS --redis HOST:PORT --iface IF --origin O --edge-pid PID\n"
		"                [--count N] entries/s the edge of IF applies from a peer's log (lab running)\n"
		"       bf-bench resync --netns NS --redis HOST:PORT --iface IF --origin O --log FILE\n"
		"                [--count N] full resync of N entries of a new origin, timed by the edge's log\n"
		"       bf-bench digest --redis HOST:PORT [--entries N]\n"
		"                the convergence digest's cost, 10 entries vs N (1000000)\n"
		"       bf-bench fanout --redis HOST:PORT [--replica HOST:PORT]... [--followers N]\n"
		"                [--records K] [--interval-ms MS] [--threads T]\n"
		"                one writer's records into N followers (a private Redis: it adds a user)\n"
		"                (propagation, apply, resync: --auth-file FILE logs in to Redis;\n"
		"                without it $BIFROST_REDIS_USER and $REDISCLI_AUTH)\n"
		"       bf-bench a2s [--count N] [--window W] [--latency N] [--rounds R]\n"
		"                [--server-cpu C] [--client-cpu C]\n"
		"                A2S INFO replies/s and p50/p99: AF_XDP workers vs recvmmsg server\n"
		"       bf-bench a2s-load --to A.B.C.D:PORT [--count N] [--rate PER_S]\n"
		"                paced INFO queries with a challenge (lab: cache on vs off)\n");
	return 2;
}
