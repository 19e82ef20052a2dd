/* bench_a2s_servers.c - the two A2S servers bf-bench a2s compares, on a private veth. */
/* The edge's AF_XDP workers answering from their cache, and a recvmmsg/sendmmsg server
 * doing the same work on sockets, each on the server's core. Needs root. */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../edge/config.h"
#include "bench_a2s_servers.h"
#include "common.h"
#include "sync.h"

#define WHO "bf-bench: a2s"

static int pin_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) ? -errno : 0;
}

static int if_mac(const char *ifname, char *out, size_t cap)
{
	uint8_t m[6];
	int rc = if_hwaddr(ifname, m);

	if (!rc)
		snprintf(out, cap, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
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

int udp_socket(uint32_t from, uint16_t from_port, uint32_t to, uint16_t to_port)
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

/* ---- the baseline: recvmmsg/sendmmsg ---- */

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
		/* The challenge buckets are wall-clock, as in edge/a2s_workers.c. */
		now = (uint64_t)sync_now_ms();
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
		fprintf(stderr, WHO ": writing %s: %s\n", rel, strerror(-rc));
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
	    sh_run(WHO, "ip link set lo up && ip link add ba0 type veth peer name ba1 && "
	       "ip link set ba0 up && ip addr add 198.18.0.1/24 dev ba0 && "
	       "ip addr add " SRV_IP "/32 dev lo && ethtool -K ba0 tx off >/dev/null") ||
	    if_mac("ba0", mac0, sizeof(mac0)))
		goto out;
	if (unshare(CLONE_NEWNET))
		goto out;
	cns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (cns < 0 || setns(home, CLONE_NEWNET) ||
	    sh_run(WHO, "ip link set ba1 netns /proc/%d/fd/%d", (int)getpid(), cns) ||
	    setns(cns, CLONE_NEWNET))
		goto out;
	if (sh_run(WHO, "ip link set lo up && ip link set ba1 up && ip addr add " CLI_IP "/24 dev ba1 && "
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
	if (sh_run(WHO, "ip route add " CLI_IP "/32 dev ba0 && "
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
		fprintf(stderr, WHO ": edge setup failed %s\n", err);
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

/* A community server's name, keywords, the EDF fields. */
int build_info(uint8_t *buf, size_t cap)
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
		fprintf(stderr, WHO ": edge_a2s_start: %s\n", err);
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

/* ---- what the rounds call ---- */

int servers_setup(struct a2s_bench *x)
{
	/* A private mount namespace, for sysfs_write's mounts. */
	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) {
		perror(WHO ": private mount namespace");
		return -errno;
	}
	if (bench_netns(x) || bench_edge(x) || pin_cpu(x->cli_cpu) || workers_start(x))
		return -EIO;
	return 0;
}

void servers_stop(struct a2s_bench *x)
{
	edge_a2s_stop(x->a2s);
	edge_bpf__destroy(x->edge);
	x->a2s = NULL;
	x->edge = NULL;
}

int xdp_server_on(struct a2s_bench *x)
{
	int rc = bpf_xdp_attach(x->ifindex, bpf_program__fd(x->edge->progs.bifrost_edge),
				XDP_FLAGS_DRV_MODE, NULL);

	if (rc) {
		fprintf(stderr, WHO ": native XDP on ba0: %s\n", strerror(-rc));
		return rc;
	}
	/* veth has a NAPI only while XDP is attached; each attach makes a new one. */
	if (sysfs_write("class/net/ba0/threaded", 1) || pin_napi("ba0", x->srv_cpu)) {
		fprintf(stderr, WHO ": no NAPI thread of ba0 to pin\n");
		bpf_xdp_detach(x->ifindex, XDP_FLAGS_DRV_MODE, NULL);
		return -ENOENT;
	}
	return 0;
}

void xdp_server_off(struct a2s_bench *x)
{
	bpf_xdp_detach(x->ifindex, XDP_FLAGS_DRV_MODE, NULL);
}

uint64_t xdp_served(struct a2s_bench *x)
{
	struct edge_a2s_counters c;

	edge_a2s_counters(x->a2s, &c);
	return c.served;
}

int mmsg_server_start(struct a2s_bench *x, struct mmsg_srv *m)
{
	int rc;

	*m = (struct mmsg_srv){ .cpu = x->srv_cpu, .keys = &x->keys, .info = x->info,
				.info_len = (size_t)x->info_len };
	m->fd = udp_bound(inet_addr(SRV_IP), SRV_PORT);
	if (m->fd < 0)
		return m->fd;
	rc = -pthread_create(&m->thread, NULL, mmsg_main, m);
	if (rc)
		close(m->fd);
	return rc;
}

void mmsg_server_stop(struct mmsg_srv *m)
{
	m->stop = 1;
	pthread_join(m->thread, NULL);
	close(m->fd);
}
