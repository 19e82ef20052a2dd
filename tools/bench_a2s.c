/* bench_a2s.c - bf-bench a2s and a2s-load, the client side: rounds, measures, output. */
/* a2s measures both servers of bench_a2s_servers.c in interleaved rounds; a2s-load sends
 * a paced INFO load for the lab. Needs root. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "a2s.h"
#include "bench_a2s.h"
#include "bench_a2s_servers.h"
#include "common.h"

#define SILENCE_S 0.05      /* no reply for this long: what is in flight is lost */

/* ---- the client ---- */

/* Asks for a challenge (INFO without one) up to 3 times. 0 or -ETIMEDOUT. */
static int get_challenge(int s, uint32_t *ch)
{
	uint8_t req[64], buf[2048];
	int n = a2s_build_info_req(req, sizeof(req), false, 0);

	for (int i = 0; i < 3; i++) {
		struct pollfd p = { .fd = s, .events = POLLIN };
		double end = mono_s() + 0.5;

		if (send(s, req, (size_t)n, 0) != n)
			return -errno;
		while (mono_s() < end && poll(&p, 1, 100) >= 0) {
			ssize_t r = recv(s, buf, sizeof(buf), MSG_DONTWAIT);

			if (r > 0 && !a2s_challenge_parse(buf, (size_t)r, ch))
				return 0;
		}
	}
	return -ETIMEDOUT;
}

struct pass {
	uint64_t sent, replies, other, lost;
	double secs;
};

/* Keeps up to `window` INFO requests in flight until `count` are answered or lost, or
 * cap_s has passed. A reply is counted when it has the cached reply's length; a window
 * silent for SILENCE_S is written off as lost so that a drop cannot stall the pass. */
static int load_window(int s, const uint8_t *req, size_t rlen, size_t want, unsigned count,
		       unsigned window, double cap_s, struct pass *p)
{
	static uint8_t rbuf[BATCH][2048];
	struct mmsghdr tx[BATCH], rx[BATCH];
	struct iovec txv[BATCH], rxv[BATCH];
	uint64_t inflight = 0;
	double t0, last;

	memset(p, 0, sizeof(*p));
	memset(tx, 0, sizeof(tx));
	memset(rx, 0, sizeof(rx));
	for (int i = 0; i < BATCH; i++) {
		txv[i] = (struct iovec){ (void *)req, rlen };
		rxv[i] = (struct iovec){ rbuf[i], sizeof(rbuf[i]) };
		tx[i].msg_hdr.msg_iov = &txv[i];
		tx[i].msg_hdr.msg_iovlen = 1;
		rx[i].msg_hdr.msg_iov = &rxv[i];
		rx[i].msg_hdr.msg_iovlen = 1;
	}
	t0 = last = mono_s();
	while (p->replies + p->other + p->lost < count) {
		uint64_t room = window > inflight ? window - inflight : 0, left = count - p->sent;
		unsigned n = (unsigned)(room < left ? room : left);
		double t;
		int r;

		if (n > BATCH)
			n = BATCH;
		if (n) {
			r = sendmmsg(s, tx, n, 0);
			if (r > 0) {
				p->sent += (unsigned)r;
				inflight += (unsigned)r;
			} else if (errno != EAGAIN && errno != ENOBUFS) {
				return -errno;
			}
		}
		r = recvmmsg(s, rx, BATCH, MSG_DONTWAIT, NULL);
		t = mono_s();
		if (r > 0) {
			for (int i = 0; i < r; i++) {
				if (rx[i].msg_len == want)
					p->replies++;
				else
					p->other++;
			}
			inflight = inflight > (unsigned)r ? inflight - (unsigned)r : 0;
			last = t;
			continue;
		}
		if (t - t0 > cap_s)
			break;
		if (inflight == window || p->sent == count) {
			struct pollfd pf = { .fd = s, .events = POLLIN };

			if (poll(&pf, 1, 10) == 0 && mono_s() - last > SILENCE_S) {
				p->lost += inflight;
				inflight = 0;
				last = mono_s();
			}
		}
	}
	p->secs = last - t0;
	return 0;
}

/* Busy jiffies and all jiffies of one CPU so far, from /proc/stat. 0 or -errno. */
static int cpu_jiffies(int cpu, unsigned long long *busy, unsigned long long *all)
{
	char line[512], want[16];
	FILE *f = fopen("/proc/stat", "r");
	int rc = -ENOENT;

	if (!f)
		return -errno;
	snprintf(want, sizeof(want), "cpu%d ", cpu);
	while (fgets(line, sizeof(line), f)) {
		unsigned long long v[8] = { 0 };

		if (strncmp(line, want, strlen(want)))
			continue;
		sscanf(line + strlen(want), "%llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1],
		       &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
		*all = v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
		*busy = *all - v[3] - v[4]; /* minus idle and iowait */
		rc = 0;
		break;
	}
	fclose(f);
	return rc;
}

/* One request at a time: appends `n` round trips (seconds) to rtt[*have..]; a request
 * unanswered in 200 ms counts in *lost and adds no sample. */
static int load_latency(int s, const uint8_t *req, size_t rlen, size_t want, unsigned n,
			double *rtt, unsigned *have, uint64_t *lost)
{
	uint8_t buf[2048];

	for (unsigned i = 0; i < n; i++) {
		struct pollfd pf = { .fd = s, .events = POLLIN };
		double t0 = mono_s(), end = t0 + 0.2;
		bool got = false;

		if (send(s, req, rlen, 0) != (ssize_t)rlen)
			return -errno;
		while (!got && mono_s() < end && poll(&pf, 1, 200) > 0) {
			ssize_t r = recv(s, buf, sizeof(buf), MSG_DONTWAIT);

			if (r == (ssize_t)want) {
				rtt[(*have)++] = mono_s() - t0;
				got = true;
			}
		}
		if (!got)
			(*lost)++;
	}
	return 0;
}

#define A2S_ROUNDS_MAX 20

struct mode_result {
	double best_rps;
	double round_rps[A2S_ROUNDS_MAX]; /* each round's window pass */
	unsigned n_rounds;
	double busy[2]; /* server and client CPU busy in the best window pass, 0..1 */
	uint64_t lost, other, replies;
	double *rtt;
	unsigned n_rtt;
	uint64_t lat_lost;
};

/* One round of one server: a warm-up, the window pass, the latency pass. */
static int run_passes(struct a2s_bench *x, struct mode_result *res, unsigned count,
		      unsigned window, unsigned lat_n)
{
	uint8_t req[64];
	uint32_t ch;
	struct pass p;
	unsigned long long b0[2] = { 0 }, a0[2] = { 0 }, b1[2] = { 0 }, a1[2] = { 0 };
	int n, rc;

	rc = get_challenge(x->cli, &ch);
	if (rc) {
		fprintf(stderr, "bf-bench: a2s: no challenge from the server\n");
		return rc;
	}
	n = a2s_build_info_req(req, sizeof(req), true, ch);
	if ((rc = load_window(x->cli, req, (size_t)n, (size_t)x->info_len, count / 10 + 1, window,
			      5, &p)))
		return rc;
	cpu_jiffies(x->srv_cpu, &b0[0], &a0[0]);
	cpu_jiffies(x->cli_cpu, &b0[1], &a0[1]);
	rc = load_window(x->cli, req, (size_t)n, (size_t)x->info_len, count, window, 30, &p);
	cpu_jiffies(x->srv_cpu, &b1[0], &a1[0]);
	cpu_jiffies(x->cli_cpu, &b1[1], &a1[1]);
	if (rc)
		return rc;
	if (res->n_rounds < A2S_ROUNDS_MAX)
		res->round_rps[res->n_rounds++] = p.secs > 0 ? (double)p.replies / p.secs : 0;
	if (p.secs > 0 && p.replies / p.secs > res->best_rps) {
		res->best_rps = (double)p.replies / p.secs;
		for (int i = 0; i < 2; i++)
			res->busy[i] = a1[i] > a0[i] ? (double)(b1[i] - b0[i]) / (double)(a1[i] - a0[i]) : 0;
	}
	res->lost += p.lost + (p.sent - p.replies - p.other - p.lost);
	res->other += p.other;
	res->replies += p.replies;
	/* Let the window's stragglers arrive before timing one at a time. */
	usleep(100000);
	while (recv(x->cli, req, sizeof(req), MSG_DONTWAIT) > 0)
		;
	return load_latency(x->cli, req, (size_t)n, (size_t)x->info_len, lat_n, res->rtt,
			    &res->n_rtt, &res->lat_lost);
}

/* ---- a2s: rounds of each server ---- */

static int round_af_xdp(struct a2s_bench *x, struct mode_result *res, unsigned count,
			unsigned window, unsigned lat_n)
{
	uint64_t before = res->replies, s0, s1;
	int rc = xdp_server_on(x);

	if (rc)
		return rc;
	s0 = xdp_served(x);
	rc = run_passes(x, res, count, window, lat_n);
	s1 = xdp_served(x);
	/* The replies must be the workers': anything else would measure another path. */
	if (!rc && s1 - s0 < res->replies - before) {
		fprintf(stderr, "bf-bench: a2s: %llu replies but the workers served %llu\n",
			(unsigned long long)(res->replies - before), (unsigned long long)(s1 - s0));
		rc = -EPROTO;
	}
	xdp_server_off(x);
	return rc;
}

static int round_mmsg(struct a2s_bench *x, struct mode_result *res, unsigned count,
		      unsigned window, unsigned lat_n)
{
	struct mmsg_srv m;
	int rc = mmsg_server_start(x, &m);

	if (rc)
		return rc;
	rc = run_passes(x, res, count, window, lat_n);
	mmsg_server_stop(&m);
	return rc;
}

static void print_mode(const char *name, struct mode_result *r)
{
	double p50 = 0, p99 = 0;

	if (r->n_rtt) {
		qsort(r->rtt, r->n_rtt, sizeof(double), cmp_double);
		p50 = r->rtt[r->n_rtt / 2];
		p99 = r->rtt[(size_t)((r->n_rtt - 1) * 0.99)];
	}
	printf("\"%s\":{\"round_replies_per_s\":[", name);
	for (unsigned i = 0; i < r->n_rounds; i++)
		printf("%s%.0f", i ? "," : "", r->round_rps[i]);
	printf("],\"replies_per_s\":%.0f,\"replies\":%llu,\"lost\":%llu,\"other\":%llu,"
	       "\"server_cpu_busy\":%.2f,\"client_cpu_busy\":%.2f,"
	       "\"latency_samples\":%u,\"latency_lost\":%llu,\"p50_us\":%.1f,\"p99_us\":%.1f}",
	       r->best_rps, (unsigned long long)r->replies, (unsigned long long)r->lost,
	       (unsigned long long)r->other, r->busy[0], r->busy[1], r->n_rtt,
	       (unsigned long long)r->lat_lost, p50 * 1e6, p99 * 1e6);
}

static int do_a2s(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "count", required_argument, NULL, 'n' },  { "window", required_argument, NULL, 'w' },
		{ "latency", required_argument, NULL, 'l' }, { "rounds", required_argument, NULL, 'r' },
		{ "server-cpu", required_argument, NULL, 's' },
		{ "client-cpu", required_argument, NULL, 'c' }, { NULL, 0, NULL, 0 },
	};
	struct a2s_bench x = { .srv_cpu = 1, .cli_cpu = 0, .cli = -1 };
	struct mode_result xdp = { 0 }, mm = { 0 };
	unsigned count = 200000, window = 128, lat_n = 5000, rounds = 3;
	int o, rc = 0;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'n': count = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'w': window = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'l': lat_n = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'r': rounds = (unsigned)strtoul(optarg, NULL, 10); break;
		case 's': x.srv_cpu = atoi(optarg); break;
		case 'c': x.cli_cpu = atoi(optarg); break;
		default: return 2;
		}
	}
	if (!count || !window || !rounds || count > 10000000 || lat_n > 1000000 || rounds > A2S_ROUNDS_MAX) {
		fprintf(stderr, "bf-bench: a2s: count 1..10M, latency ..1M, rounds 1..20\n");
		return 2;
	}
	xdp.rtt = calloc((size_t)lat_n * rounds + 1, sizeof(double));
	mm.rtt = calloc((size_t)lat_n * rounds + 1, sizeof(double));
	x.info_len = build_info(x.info, sizeof(x.info));
	x.b = bench_bpf__open_and_load();
	if (!xdp.rtt || !mm.rtt || x.info_len < 0 || !x.b)
		return 1;
	/* A fixed key: both servers hand out and accept the same challenges. */
	memset(x.keys.cur, 0x5a, sizeof(x.keys.cur));
	if (servers_setup(&x))
		return 1;
	/* Interleaved rounds, the order swapped each round: slow minutes of the machine
	 * hurt both servers alike. */
	for (unsigned r = 0; r < rounds && !rc; r++)
		for (int k = 0; k < 2 && !rc; k++)
			rc = (k ^ (int)(r & 1)) ? round_mmsg(&x, &mm, count, window, lat_n)
						: round_af_xdp(&x, &xdp, count, window, lat_n);
	servers_stop(&x);
	if (rc) {
		fprintf(stderr, "bf-bench: a2s: %s\n", strerror(-rc));
		return 1;
	}
	printf("{\"bench\":\"a2s\",\"info_bytes\":%d,\"count\":%u,\"window\":%u,\"rounds\":%u,"
	       "\"server_cpu\":%d,\"client_cpu\":%d,",
	       x.info_len, count, window, rounds, x.srv_cpu, x.cli_cpu);
	print_mode("af_xdp", &xdp);
	printf(",");
	print_mode("recvmmsg", &mm);
	/* Round by round (the two servers' passes of one round ran back to back). */
	printf(",\"round_ratios\":[");
	for (unsigned i = 0; i < xdp.n_rounds && i < mm.n_rounds; i++)
		printf("%s%.2f", i ? "," : "", mm.round_rps[i] > 0 ? xdp.round_rps[i] / mm.round_rps[i] : 0);
	printf("],\"ratio\":%.2f}\n", mm.best_rps > 0 ? xdp.best_rps / mm.best_rps : 0);
	free(xdp.rtt);
	free(mm.rtt);
	bench_bpf__destroy(x.b);
	return 0;
}

/* ---- a2s-load: a paced INFO load (for tools/bench/a2s_load.sh in the lab) ---- */

static int do_a2s_load(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "to", required_argument, NULL, 't' },   { "count", required_argument, NULL, 'n' },
		{ "rate", required_argument, NULL, 'r' }, { NULL, 0, NULL, 0 },
	};
	unsigned count = 5000, rate = 500;
	char host[64] = "", *colon;
	uint64_t replies = 0, other = 0;
	uint8_t req[64], buf[2048];
	uint32_t ch;
	double t0, end;
	int o, s, n, port = 0;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 't': snprintf(host, sizeof(host), "%s", optarg); break;
		case 'n': count = (unsigned)strtoul(optarg, NULL, 10); break;
		case 'r': rate = (unsigned)strtoul(optarg, NULL, 10); break;
		default: return 2;
		}
	}
	colon = strchr(host, ':');
	if (colon) {
		*colon = 0;
		port = atoi(colon + 1);
	}
	if (!colon || port <= 0 || port > 65535 || !count || count > 1000000 || !rate ||
	    rate > 100000) {
		fprintf(stderr, "bf-bench: a2s-load --to A.B.C.D:PORT [--count 1..1M] "
				"[--rate 1..100000]\n");
		return 2;
	}
	s = udp_socket(INADDR_ANY, 0, inet_addr(host), (uint16_t)port);
	if (s < 0 || get_challenge(s, &ch)) {
		fprintf(stderr, "bf-bench: a2s-load: no challenge from %s:%d\n", host, port);
		return 1;
	}
	n = a2s_build_info_req(req, sizeof(req), true, ch);
	/* Paced by the clock, not by replies: the rate is the same whoever answers. */
	t0 = mono_s();
	for (unsigned i = 0; i < count; i++) {
		double due = t0 + (double)i / rate, now;

		while ((now = mono_s()) < due) {
			struct pollfd pf = { .fd = s, .events = POLLIN };
			ssize_t r;

			if (poll(&pf, 1, (int)((due - now) * 1000) + 1) > 0)
				while ((r = recv(s, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
					a2s_reply_type(buf, (size_t)r) == A2S_R_INFO ? replies++ : other++;
		}
		if (send(s, req, (size_t)n, 0) != n && errno != EAGAIN && errno != ENOBUFS)
			return 1;
	}
	/* The stragglers. */
	end = mono_s() + 0.5;
	while (mono_s() < end) {
		struct pollfd pf = { .fd = s, .events = POLLIN };
		ssize_t r;

		if (poll(&pf, 1, 50) > 0)
			while ((r = recv(s, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
				a2s_reply_type(buf, (size_t)r) == A2S_R_INFO ? replies++ : other++;
	}
	printf("{\"bench\":\"a2s-load\",\"sent\":%u,\"rate\":%u,\"seconds\":%.2f,"
	       "\"info_replies\":%llu,\"other_replies\":%llu}\n",
	       count, rate, (double)count / rate, (unsigned long long)replies,
	       (unsigned long long)other);
	close(s);
	return 0;
}

int bench_a2s_main(const char *cmd, int argc, char **argv)
{
	if (!strcmp(cmd, "a2s"))
		return do_a2s(argc, argv);
	return do_a2s_load(argc, argv);
}
