/* bench_a2s.c - bf-bench's A2S subcommands: the AF_XDP workers beside a plain
 * recvmmsg/sendmmsg server answering the same cached INFO on the same veth (a2s), and a
 * paced INFO load for the lab (a2s-load). Needs root. */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../edge/a2s_workers.h"
#include "../edge/config.h"
#include "../edge/maps.h"
#include "a2s.h"
#include "bench.skel.h"
#include "bench_a2s.h"
#include "edge.skel.h"

#define SRV_IP "203.0.113.10" /* the A2S-enabled bind address */
#define SRV_PORT 27015
#define CLI_IP "198.51.100.77"
#define CLI_PORT 50000
#define BATCH 64            /* recvmmsg/sendmmsg batch, as the AF_XDP worker's RX batch */
#define SILENCE_S 0.05      /* no reply for this long: what is in flight is lost */

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The challenge buckets are wall-clock, as in edge/a2s_workers.c. */
static uint64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int sh(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (system(cmd) != 0) {
		fprintf(stderr, "bf-bench: a2s: command failed: %s\n", cmd);
		return -1;
	}
	return 0;
}

static int pin_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) ? -errno : 0;
}

static int if_mac(const char *ifname, char *out, size_t cap)
{
	struct ifreq ifr = { 0 };
	const uint8_t *m = (const uint8_t *)ifr.ifr_hwaddr.sa_data;
	int s = socket(AF_INET, SOCK_DGRAM, 0), rc = 0;

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (s < 0 || ioctl(s, SIOCGIFHWADDR, &ifr))
		rc = -errno;
	else
		snprintf(out, cap, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
	if (s >= 0)
		close(s);
	return rc;
}

/* A non-blocking UDP socket bound to addr:port (any port when 0), with room for a full
 * window of datagrams. -errno on failure. */
static int udp_bound(uint32_t addr, uint16_t port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port),
				   .sin_addr.s_addr = addr };
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0), buf = 4 << 20, rc;

	if (s < 0)
		return -errno;
	setsockopt(s, SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf));
	setsockopt(s, SOL_SOCKET, SO_SNDBUFFORCE, &buf, sizeof(buf));
	if (bind(s, (struct sockaddr *)&sin, sizeof(sin))) {
		rc = -errno;
		close(s);
		return rc;
	}
	return s;
}

/* The same, connected to to:to_port. */
static int udp_socket(uint32_t from, uint16_t from_port, uint32_t to, uint16_t to_port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(to_port),
				   .sin_addr.s_addr = to };
	int s = udp_bound(from, from_port), rc;

	if (s < 0 || !connect(s, (struct sockaddr *)&sin, sizeof(sin)))
		return s;
	rc = -errno;
	close(s);
	return rc;
}

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

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
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

/* ---- the baseline: recvmmsg/sendmmsg ---- */

struct mmsg_srv {
	int fd, cpu;
	volatile int stop;
	const struct a2s_keys *keys;
	const uint8_t *info;
	size_t info_len;
	uint64_t served, challenged;
	pthread_t thread;
};

/* The work of the AF_XDP worker, on sockets: classify, check the challenge, copy the
 * cached reply (or write a challenge), send, BATCH datagrams per system call. */
static void *mmsg_main(void *arg)
{
	static uint8_t rbuf[BATCH][2048], tbuf[BATCH][A2S_PACKET_MAX];
	struct mmsg_srv *m = arg;
	struct sockaddr_in peer[BATCH];
	struct mmsghdr rx[BATCH], tx[BATCH];
	struct iovec rxv[BATCH], txv[BATCH];

	pin_cpu(m->cpu);
	memset(rx, 0, sizeof(rx));
	memset(tx, 0, sizeof(tx));
	for (int i = 0; i < BATCH; i++) {
		rxv[i] = (struct iovec){ rbuf[i], sizeof(rbuf[i]) };
		rx[i].msg_hdr.msg_iov = &rxv[i];
		rx[i].msg_hdr.msg_iovlen = 1;
		tx[i].msg_hdr.msg_iov = &txv[i];
		tx[i].msg_hdr.msg_iovlen = 1;
	}
	while (!m->stop) {
		struct pollfd pf = { .fd = m->fd, .events = POLLIN };
		uint64_t now;
		int n, k = 0;

		for (int i = 0; i < BATCH; i++) {
			rx[i].msg_hdr.msg_name = &peer[i];
			rx[i].msg_hdr.msg_namelen = sizeof(peer[i]);
		}
		/* Blocking in poll as the worker does, with the same 100 ms to see stop. */
		if (poll(&pf, 1, 100) <= 0)
			continue;
		n = recvmmsg(m->fd, rx, BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			continue;
		now = wall_ms();
		for (int i = 0; i < n; i++) {
			struct a2s_req q;
			size_t len = rx[i].msg_len;

			if (a2s_classify(rbuf[i], len, &q) != A2S_INFO)
				continue;
			if (q.has_challenge &&
			    a2s_challenge_ok(m->keys, peer[i].sin_addr.s_addr, q.challenge, now)) {
				memcpy(tbuf[k], m->info, m->info_len);
				txv[k].iov_len = m->info_len;
				m->served++;
			} else if (len >= A2S_CHALLENGE_LEN) {
				uint32_t ch = a2s_challenge_now(m->keys, peer[i].sin_addr.s_addr, now);

				txv[k].iov_len = (size_t)a2s_build_challenge(tbuf[k], sizeof(tbuf[k]), ch);
				m->challenged++;
			} else {
				continue;
			}
			txv[k].iov_base = tbuf[k];
			tx[k].msg_hdr.msg_name = &peer[i];
			tx[k].msg_hdr.msg_namelen = sizeof(peer[i]);
			k++;
		}
		for (int sent = 0; sent < k;) {
			int r = sendmmsg(m->fd, tx + sent, (unsigned)(k - sent), 0);

			if (r <= 0)
				break; /* a full socket buffer drops the rest, as a full TX ring would */
			sent += r;
		}
	}
	return NULL;
}

/* ---- the setup ---- */

/* Writes val to a file of the current network namespace's sysfs (/sys shows the host's),
 * through a sysfs mounted for the moment in this process's private mount namespace.
 * Masks are written in hex, other values in decimal. 0 or -errno. */
static int sysfs_write(const char *rel, unsigned val)
{
	char dir[] = "/tmp/bfa-sysXXXXXX", path[320];
	FILE *f;
	int rc = 0;

	if (!mkdtemp(dir))
		return -errno;
	if (mount("sysfs", dir, "sysfs", 0, NULL)) {
		rc = -errno;
		goto out_rmdir;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	f = fopen(path, "w");
	if (!f || fprintf(f, strstr(rel, "cpus") ? "%x\n" : "%u\n", val) < 0 || fclose(f))
		rc = f ? -EIO : -errno;
	umount2(dir, MNT_DETACH);
out_rmdir:
	rmdir(dir);
	if (rc)
		fprintf(stderr, "bf-bench: a2s: writing %s: %s\n", rel, strerror(-rc));
	return rc;
}

/* Pins the NAPI thread of ifname ("napi/IFNAME-ID") to cpu. 0 or -ENOENT. */
static int pin_napi(const char *ifname, int cpu)
{
	char want[32], comm[64], path[300];
	cpu_set_t set;
	struct dirent *d;
	DIR *p = opendir("/proc");
	int rc = -ENOENT;

	if (!p)
		return -errno;
	snprintf(want, sizeof(want), "napi/%s-", ifname);
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	while ((d = readdir(p))) {
		FILE *f;

		if (d->d_name[0] < '1' || d->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/comm", d->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(comm, sizeof(comm), f) && !strncmp(comm, want, strlen(want)) &&
		    !sched_setaffinity(atoi(d->d_name), sizeof(set), &set))
			rc = 0;
		fclose(f);
	}
	closedir(p);
	return rc;
}

struct a2s_bench {
	struct edge_bpf *edge;
	struct bench_bpf *b;
	struct edge_map_fds fd;
	struct edge_dp dp;
	struct a2s_keys keys;
	uint8_t info[A2S_PACKET_MAX];
	int info_len;
	int cli;      /* the client's socket, in the client namespace */
	int ifindex;  /* ba0, the server end */
	int srv_cpu, cli_cpu;
	struct edge_a2s *a2s; /* the workers, for the whole run */
};

/* The server end ba0 in this (new, private) namespace with SRV_IP local, its peer ba1 in
 * a second private namespace with CLI_IP and the client's socket. Both namespaces go
 * away with the process: nothing to clean up by name. Checksums are computed in software
 * on both ends (tx off), as the AF_XDP worker computes its own, and checked by the
 * client's kernel (rx off on ba1): a bad reply would count as lost. */
static int bench_netns(struct a2s_bench *x)
{
	char mac0[32], mac1[32];
	int home, cns = -1, rc = -1;

	if (unshare(CLONE_NEWNET)) {
		perror("unshare");
		return -1;
	}
	home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (home < 0 ||
	    sh("ip link set lo up && ip link add ba0 type veth peer name ba1 && "
	       "ip link set ba0 up && ip addr add 198.18.0.1/24 dev ba0 && "
	       "ip addr add " SRV_IP "/32 dev lo && ethtool -K ba0 tx off >/dev/null") ||
	    if_mac("ba0", mac0, sizeof(mac0)))
		goto out;
	if (unshare(CLONE_NEWNET))
		goto out;
	cns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (cns < 0 || setns(home, CLONE_NEWNET) ||
	    sh("ip link set ba1 netns /proc/%d/fd/%d", (int)getpid(), cns) ||
	    setns(cns, CLONE_NEWNET))
		goto out;
	if (sh("ip link set lo up && ip link set ba1 up && ip addr add " CLI_IP "/24 dev ba1 && "
	       "ip route add 203.0.113.0/24 dev ba1 && "
	       "ip neigh replace " SRV_IP " lladdr %s dev ba1 nud permanent && "
	       "ethtool -K ba1 tx off rx off >/dev/null", mac0) ||
	    if_mac("ba1", mac1, sizeof(mac1)))
		goto out;
	/* The client's receive path on the client's core (RPS): veth would run it in the
	 * sender's softirq, on the server's core. No XDP on ba1: copy-mode AF_XDP transmits
	 * skbs, which a veth takes like any other. */
	if (sysfs_write("class/net/ba1/queues/rx-0/rps_cpus", 1u << x->cli_cpu))
		goto out;
	x->cli = udp_socket(inet_addr(CLI_IP), CLI_PORT, inet_addr(SRV_IP), SRV_PORT);
	if (x->cli < 0 || setns(home, CLONE_NEWNET))
		goto out;
	if (sh("ip route add " CLI_IP "/32 dev ba0 && "
	       "ip neigh replace " CLI_IP " lladdr %s dev ba0 nud permanent", mac1))
		goto out;
	/* The requests' receive path on the server's core, as a NIC's queue would be: RPS for
	 * the socket server, a threaded NAPI (pinned after each attach) for XDP. */
	if (sysfs_write("class/net/ba0/queues/rx-0/rps_cpus", 1u << x->srv_cpu))
		goto out;
	x->ifindex = (int)if_nametoindex("ba0");
	rc = 0;
out:
	if (cns >= 0)
		close(cns);
	if (home >= 0)
		close(home);
	return rc;
}

/* The edge program with private maps, one A2S-enabled connection, INFO flagged. */
static int bench_edge(struct a2s_bench *x)
{
	static const char conf[] = "id bench\niface ba0\naddr 198.18.0.1\n"
				   "conn udp " SRV_IP ":27015 198.18.3.2\n"
				   "conn tcp " SRV_IP ":27015 198.18.3.2\n";
	struct bf_conn_key k = { .bind_ip = inet_addr(SRV_IP), .bind_port = htons(SRV_PORT),
				 .proto = IPPROTO_UDP };
	struct bf_conn_val v;
	struct edge_config cfg;
	struct edge_maps maps;
	struct bpf_map *m;
	char err[256] = "";
	int rc;

	x->edge = edge_bpf__open();
	if (!x->edge)
		return -1;
	bpf_object__for_each_map(m, x->edge->obj)
		bpf_map__set_pin_path(m, NULL);
	if (edge_bpf__load(x->edge))
		return -1;
	edge_map_fds_from_object(x->edge->obj, &x->fd);
	edge_config_init(&cfg);
	rc = edge_config_parse(&cfg, conf, "bench", err, sizeof(err)) || edge_maps_init(&maps, &x->fd) ||
	     edge_maps_write_config(&maps, &cfg) ||
	     edge_maps_apply_conns(&maps, cfg.conns, cfg.n_conns, NULL, 0);
	edge_config_free(&cfg);
	if (rc || bpf_map_lookup_elem(x->fd.conns, &k, &v)) {
		fprintf(stderr, "bf-bench: a2s: edge setup failed %s\n", err);
		return -1;
	}
	v.flags |= BF_CONN_F_A2S_INFO; /* what the daemon sets once INFO is cached */
	if (bpf_map_update_elem(x->fd.conns, &k, &v, BPF_EXIST))
		return -1;
	x->dp.n_ifs = 1;
	snprintf(x->dp.ifs[0].name, sizeof(x->dp.ifs[0].name), "ba0");
	x->dp.ifs[0].ifindex = x->ifindex;
	return 0;
}

/* A realistic INFO reply: a community server's name, keywords, the EDF fields. */
static int build_info(uint8_t *buf, size_t cap)
{
	struct a2s_info in = {
		.protocol = 17, .name = "Bifrost Bench | 24/7 Dust2 | 128 tick | EU West #3",
		.map = "de_dust2", .folder = "csgo", .game = "Counter-Strike: Global Offensive",
		.appid = 730, .players = 17, .max_players = 24, .bots = 2, .server_type = 'd',
		.environment = 'l', .vac = 1, .version = "1.38.8.1", .has_edf = true,
		.edf = A2S_EDF_PORT | A2S_EDF_STEAMID | A2S_EDF_KEYWORDS | A2S_EDF_GAMEID,
		.port = SRV_PORT, .steamid = 90071992547409920ULL,
		.keywords = "empty,secure,128tick,dust2,casual", .gameid = 730,
	};

	return a2s_build_info(buf, cap, &in);
}

struct mode_result {
	double best_rps;
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

/* The AF_XDP workers start once and stay for every round: a socket's queue is released
 * by deferred kernel work, so binding the queue again at once fails with EBUSY. Between
 * AF_XDP rounds only the program is detached; the idle worker sleeps in poll. */
static int workers_start(struct a2s_bench *x)
{
	char err[256] = "";
	int rc;

	/* Threads inherit the creator's affinity: the worker runs on the server's core. */
	pin_cpu(x->srv_cpu);
	x->a2s = edge_a2s_start(&x->dp, bpf_map__fd(x->edge->maps.bf_xsks), err, sizeof(err));
	pin_cpu(x->cli_cpu);
	if (!x->a2s) {
		fprintf(stderr, "bf-bench: a2s: edge_a2s_start: %s\n", err);
		return -EIO;
	}
	edge_a2s_set_keys(x->a2s, &x->keys);
	rc = edge_a2s_put(x->a2s, inet_addr(SRV_IP), SRV_PORT, A2S_INFO, x->info,
			  (size_t)x->info_len);
	if (rc) {
		edge_a2s_stop(x->a2s);
		x->a2s = NULL;
	}
	return rc;
}

static int round_af_xdp(struct a2s_bench *x, struct mode_result *res, unsigned count,
			unsigned window, unsigned lat_n)
{
	struct edge_a2s_counters c0, c1;
	uint64_t before = res->replies;
	int rc;

	rc = bpf_xdp_attach(x->ifindex, bpf_program__fd(x->edge->progs.bifrost_edge),
			    XDP_FLAGS_DRV_MODE, NULL);
	if (rc) {
		fprintf(stderr, "bf-bench: a2s: native XDP on ba0: %s\n", strerror(-rc));
		return rc;
	}
	/* veth has a NAPI only while XDP is attached; each attach makes a new one. */
	if (sysfs_write("class/net/ba0/threaded", 1) || pin_napi("ba0", x->srv_cpu)) {
		fprintf(stderr, "bf-bench: a2s: no NAPI thread of ba0 to pin\n");
		bpf_xdp_detach(x->ifindex, XDP_FLAGS_DRV_MODE, NULL);
		return -ENOENT;
	}
	edge_a2s_counters(x->a2s, &c0);
	rc = run_passes(x, res, count, window, lat_n);
	edge_a2s_counters(x->a2s, &c1);
	/* The replies must be the workers': anything else would measure another path. */
	if (!rc && c1.served - c0.served < res->replies - before) {
		fprintf(stderr, "bf-bench: a2s: %llu replies but the workers served %llu\n",
			(unsigned long long)(res->replies - before),
			(unsigned long long)(c1.served - c0.served));
		rc = -EPROTO;
	}
	bpf_xdp_detach(x->ifindex, XDP_FLAGS_DRV_MODE, NULL);
	return rc;
}

static int round_mmsg(struct a2s_bench *x, struct mode_result *res, unsigned count,
		      unsigned window, unsigned lat_n)
{
	struct mmsg_srv m = { .cpu = x->srv_cpu, .keys = &x->keys, .info = x->info,
			      .info_len = (size_t)x->info_len };
	int rc;

	m.fd = udp_bound(inet_addr(SRV_IP), SRV_PORT);
	if (m.fd < 0)
		return m.fd;
	rc = -pthread_create(&m.thread, NULL, mmsg_main, &m);
	if (rc) {
		close(m.fd);
		return rc;
	}
	rc = run_passes(x, res, count, window, lat_n);
	m.stop = 1;
	pthread_join(m.thread, NULL);
	close(m.fd);
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
	printf("\"%s\":{\"replies_per_s\":%.0f,\"replies\":%llu,\"lost\":%llu,\"other\":%llu,"
	       "\"server_cpu_busy\":%.2f,\"client_cpu_busy\":%.2f,"
	       "\"latency_samples\":%u,\"latency_lost\":%llu,\"p50_us\":%.1f,\"p99_us\":%.1f}",
	       name, r->best_rps, (unsigned long long)r->replies, (unsigned long long)r->lost,
	       (unsigned long long)r->other, r->busy[0], r->busy[1], r->n_rtt, (unsigned long long)r->lat_lost, p50 * 1e6,
	       p99 * 1e6);
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
	if (!count || !window || !rounds || count > 10000000 || lat_n > 1000000 || rounds > 20) {
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
	/* A private mount namespace, for sysfs_write's mounts. */
	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) {
		perror("bf-bench: a2s: private mount namespace");
		return 1;
	}
	if (bench_netns(&x) || bench_edge(&x) || pin_cpu(x.cli_cpu) || workers_start(&x))
		return 1;
	/* Interleaved rounds, the order swapped each round: slow minutes of the machine
	 * hurt both servers alike. */
	for (unsigned r = 0; r < rounds && !rc; r++)
		for (int k = 0; k < 2 && !rc; k++)
			rc = (k ^ (int)(r & 1)) ? round_mmsg(&x, &mm, count, window, lat_n)
						: round_af_xdp(&x, &xdp, count, window, lat_n);
	edge_a2s_stop(x.a2s);
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
	printf(",\"ratio\":%.2f}\n", mm.best_rps > 0 ? xdp.best_rps / mm.best_rps : 0);
	free(xdp.rtt);
	free(mm.rtt);
	edge_bpf__destroy(x.edge);
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
