/* netprobe.c - bf-netprobe: the lab's UDP/TCP echo game-server stand-in and loss probes. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"

#define PROG "bf-netprobe"
#define MAX_LISTEN 16
#define MAX_CLIENTS 256
#define MAX_PEERS 4096
#define PEER_SLOTS 8192 /* power of two above MAX_PEERS */
#define MAX_COUNT 10000000ull
#define MAX_INFLIGHT 10000
#define COUNT_GAP_MS 100
#define LINE_LEN 1024 /* longest TCP line */
#define EP_STRLEN 32

static void usage(FILE *f)
{
	fprintf(f,
		"Usage:\n"
		"  " PROG " serve [--udp A.B.C.D:PORT]... [--tcp A.B.C.D:PORT]... [--count-file PATH]\n"
		"      Echo server; 'WHOAMI' (datagram or line) gets 'YOU <ip>:<port>', the source\n"
		"      it sees. Counters and peers go to PATH (atomically, at most every 100 ms),\n"
		"      or to stderr on SIGUSR1. Runs until SIGTERM/SIGINT.\n"
		"  " PROG " udp --to A.B.C.D:PORT [--from A.B.C.D:PORT] [--count N] [--interval-ms M]\n"
		"                  [--timeout-ms T] [--size BYTES] [--whoami] [--json]\n"
		"      Sends N (1..10000000, default 1) numbered datagrams of BYTES (6..1400,\n"
		"      default 32) every M ms (default 0: at most 10000 unanswered in flight),\n"
		"      waits T ms (default 1000) for stragglers: 'sent=N received=M lost=L'.\n"
		"      --whoami sends one 'WHOAMI' and prints the answer.\n"
		"  " PROG " tcp --to A.B.C.D:PORT [--from A.B.C.D[:PORT]] [--count N] [--timeout-ms T]\n"
		"                  [--whoami] [--json]\n"
		"      Connects within T ms (default 2000), sends N lines one at a time and\n"
		"      checks each echo (T ms each). --whoami prints the server's answer.\n"
		"  " PROG " --help\n"
		"Exit status: 0 everything answered, 1 loss or failure, 2 bad usage.\n");
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static const char *ep_str(uint32_t addr, uint16_t port, char buf[EP_STRLEN])
{
	char a[BF_ADDR_STRLEN];

	snprintf(buf, EP_STRLEN, "%s:%u", bf_ipv4_str(addr, a), (unsigned)port);
	return buf;
}

static bool again(int err)
{
	return err == EAGAIN || err == EWOULDBLOCK || err == EINTR || err == ENOBUFS;
}

/* Polls fd until `end` (monotonic ms), a second at most. 1 ready, 0 not yet, -ETIMEDOUT, -errno. */
static int wait_fd(int fd, short events, uint64_t end)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	uint64_t t = now_ms();
	int r;

	if (t >= end)
		return -ETIMEDOUT;
	r = poll(&pfd, 1, end - t > 1000 ? 1000 : (int)(end - t));
	return r < 0 && errno != EINTR ? -errno : r > 0;
}

/* An IPv4 socket with SO_REUSEADDR and IP_FREEBIND, bound when bind_it. fd or -errno. */
static int open_sock(int type, uint32_t addr, uint16_t port, bool bind_it)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
				  .sin_addr.s_addr = addr };
	int one = 1, rcvbuf = 32 << 20, fd, err;

	fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof(one)))
		goto fail;
	/* Room for bursts of echoes; best effort (rmem_max caps it without CAP_NET_ADMIN). */
	if (type == SOCK_DGRAM && setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (bind_it && bind(fd, (struct sockaddr *)&sa, sizeof(sa)))
		goto fail;
	return fd;
fail:
	err = -errno;
	close(fd);
	return err;
}

/* ---- serve ---- */

struct client {
	int fd;
	uint32_t addr;
	uint16_t port;
	size_t len;
	char in[LINE_LEN];
};

struct server {
	int fd[MAX_LISTEN], n_listen, n_peers;
	bool tcp[MAX_LISTEN], dirty;
	const char *count_file;
	uint64_t udp_packets, tcp_lines, written_ms;
	uint32_t peers[MAX_PEERS];
	uint16_t peer_slot[PEER_SLOTS]; /* index + 1 into peers, 0 = empty */
	struct client cl[MAX_CLIENTS];
	uint8_t dgram[65536];
};

/* Counts a served packet or line and remembers its peer (the first MAX_PEERS distinct ones). */
static void note(struct server *s, uint64_t *counter, uint32_t addr)
{
	uint32_t h = (addr * 2654435761u) >> 19; /* 13 bits: PEER_SLOTS */

	if (counter)
		(*counter)++;
	s->dirty = true;
	for (; s->peer_slot[h]; h = (h + 1) & (PEER_SLOTS - 1))
		if (s->peers[s->peer_slot[h] - 1] == addr)
			return;
	if (s->n_peers < MAX_PEERS) {
		s->peers[s->n_peers++] = addr;
		s->peer_slot[h] = (uint16_t)s->n_peers;
	}
}

static void dump_counts(const struct server *s, FILE *f)
{
	char a[BF_ADDR_STRLEN];

	fprintf(f, "udp_packets=%llu tcp_lines=%llu peers=%d\n", (unsigned long long)s->udp_packets,
		(unsigned long long)s->tcp_lines, s->n_peers);
	for (int i = 0; i < s->n_peers; i++)
		fprintf(f, "peer %s\n", bf_ipv4_str(s->peers[i], a));
}

/* Rewrites the count file (PATH.tmp, then rename) if anything changed, at most every
 * COUNT_GAP_MS unless forced. A failed write stays pending. 0 or -errno. */
static int write_counts(struct server *s, bool force)
{
	char tmp[PATH_MAX];
	uint64_t t = now_ms();
	int err;
	FILE *f;

	if (!s->count_file || !s->dirty || (!force && t - s->written_ms < COUNT_GAP_MS))
		return 0;
	s->written_ms = t;
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", s->count_file) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	f = fopen(tmp, "w");
	if (!f)
		return -errno;
	dump_counts(s, f);
	err = ferror(f) ? -EIO : 0;
	if (fclose(f) && !err)
		err = -errno;
	if (!err && rename(tmp, s->count_file))
		err = -errno;
	if (err)
		unlink(tmp);
	s->dirty = err != 0;
	return err;
}

static void serve_udp(struct server *s, int fd)
{
	for (int k = 0; k < 256; k++) { /* bounded, so TCP clients get their turn */
		struct sockaddr_in sa;
		socklen_t sl = sizeof(sa);
		char ep[EP_STRLEN], reply[64];
		ssize_t r = recvfrom(fd, s->dgram, sizeof(s->dgram), MSG_DONTWAIT,
				     (struct sockaddr *)&sa, &sl);

		if (r < 0)
			return;
		if (sl < sizeof(sa) || sa.sin_family != AF_INET)
			continue;
		note(s, &s->udp_packets, sa.sin_addr.s_addr);
		if (r == 6 && !memcmp(s->dgram, "WHOAMI", 6)) {
			r = snprintf(reply, sizeof(reply), "YOU %s",
				     ep_str(sa.sin_addr.s_addr, ntohs(sa.sin_port), ep));
			sendto(fd, reply, (size_t)r, MSG_DONTWAIT, (struct sockaddr *)&sa, sl);
		} else {
			sendto(fd, s->dgram, (size_t)r, MSG_DONTWAIT, (struct sockaddr *)&sa, sl);
		}
	}
}

static void serve_accept(struct server *s, int lfd)
{
	for (int k = 0; k < 64; k++) {
		struct sockaddr_in sa;
		socklen_t sl = sizeof(sa);
		struct client *c = NULL;
		int fd = accept4(lfd, (struct sockaddr *)&sa, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0)
			return;
		for (int i = 0; i < MAX_CLIENTS && !c; i++)
			if (s->cl[i].fd < 0)
				c = &s->cl[i];
		if (!c) { /* full: refuse rather than queue without bound */
			close(fd);
			continue;
		}
		*c = (struct client){ .fd = fd, .addr = sa.sin_addr.s_addr, .port = ntohs(sa.sin_port) };
		note(s, NULL, c->addr);
	}
}

/* Reads what a client sent and answers each complete line. A client that closes, sends a line
 * longer than LINE_LEN or stops reading its answers (send buffer full) is dropped. */
static void serve_client(struct server *s, struct client *c)
{
	ssize_t r = recv(c->fd, c->in + c->len, sizeof(c->in) - c->len, MSG_DONTWAIT);
	size_t pos = 0;
	char *nl;

	if (r < 0 && again(errno))
		return;
	c->len += r > 0 ? (size_t)r : 0;
	while (r > 0 && (nl = memchr(c->in + pos, '\n', c->len - pos))) {
		char reply[64], ep[EP_STRLEN], *line = c->in + pos;
		size_t n = (size_t)(nl - line) + 1;

		pos += n;
		note(s, &s->tcp_lines, c->addr);
		if ((n == 7 && !memcmp(line, "WHOAMI\n", 7)) ||
		    (n == 8 && !memcmp(line, "WHOAMI\r\n", 8))) {
			n = (size_t)snprintf(reply, sizeof(reply), "YOU %s\n", ep_str(c->addr, c->port, ep));
			line = reply;
		}
		if (send(c->fd, line, n, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)n)
			r = -1;
	}
	memmove(c->in, c->in + pos, c->len - pos);
	c->len -= pos;
	if (r <= 0 || c->len == sizeof(c->in)) {
		close(c->fd);
		c->fd = -1;
	}
}

static int serve_loop(struct server *s, int sfd)
{
	struct pollfd pfd[MAX_LISTEN + 1 + MAX_CLIENTS];
	int who[MAX_LISTEN + 1 + MAX_CLIENTS];
	bool stop = false;

	while (!stop) {
		int n = 0, timeout = 1000;

		for (int i = 0; i < s->n_listen; i++)
			pfd[n++] = (struct pollfd){ .fd = s->fd[i], .events = POLLIN };
		pfd[n++] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		for (int i = 0; i < MAX_CLIENTS; i++) {
			if (s->cl[i].fd >= 0) {
				pfd[n] = (struct pollfd){ .fd = s->cl[i].fd, .events = POLLIN };
				who[n++] = i;
			}
		}
		if (s->count_file && s->dirty) {
			uint64_t since = now_ms() - s->written_ms;

			timeout = since >= COUNT_GAP_MS ? 0 : (int)(COUNT_GAP_MS - since);
		}
		if (poll(pfd, (nfds_t)n, timeout) < 0 && errno != EINTR)
			return -errno;
		for (int i = 0; i < s->n_listen; i++) {
			if (pfd[i].revents & POLLIN && s->tcp[i])
				serve_accept(s, s->fd[i]);
			else if (pfd[i].revents & POLLIN)
				serve_udp(s, s->fd[i]);
		}
		if (pfd[s->n_listen].revents & POLLIN) {
			struct signalfd_siginfo si;

			while (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
				if (si.ssi_signo != SIGUSR1)
					stop = true;
				else if (s->count_file)
					s->dirty = true;
				else
					dump_counts(s, stderr);
			}
		}
		for (int i = s->n_listen + 1; i < n; i++)
			if (pfd[i].revents)
				serve_client(s, &s->cl[who[i]]);
		write_counts(s, false);
	}
	return 0;
}

/* Binds "A.B.C.D:PORT" for UDP or TCP and adds it to the line logged at start. 0 or -errno. */
static int serve_bind(struct server *s, bool tcp, const char *arg, char *log, size_t log_len)
{
	uint32_t addr;
	uint16_t port;
	int fd, err;

	if (s->n_listen == MAX_LISTEN || bf_parse_endpoint(arg, false, &addr, &port)) {
		fprintf(stderr, PROG ": bad listen address '%s' (A.B.C.D:PORT, at most %d)\n", arg,
			MAX_LISTEN);
		return -EINVAL;
	}
	fd = open_sock(tcp ? SOCK_STREAM : SOCK_DGRAM, addr, port, true);
	if (fd >= 0 && (fcntl(fd, F_SETFL, O_NONBLOCK) || (tcp && listen(fd, 128)))) {
		err = -errno;
		close(fd);
		fd = err;
	}
	if (fd < 0) {
		fprintf(stderr, PROG ": bind %s %s: %s\n", tcp ? "tcp" : "udp", arg, strerror(-fd));
		return fd;
	}
	s->fd[s->n_listen] = fd;
	s->tcp[s->n_listen++] = tcp;
	snprintf(log + strlen(log), log_len - strlen(log), "%s%s %s", *log ? ", " : "",
		 tcp ? "tcp" : "udp", arg);
	return 0;
}

static int cmd_serve(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "udp", required_argument, NULL, 'u' },
		{ "tcp", required_argument, NULL, 't' },
		{ "count-file", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char bound[MAX_LISTEN * 32] = "";
	struct server *s = calloc(1, sizeof(*s));
	int opt, sfd = -1, ret = 1, err = 0;
	sigset_t sigs;

	if (!s)
		return 1;
	for (int i = 0; i < MAX_CLIENTS; i++)
		s->cl[i].fd = -1;
	while (!err && (opt = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		if (opt == 'h') {
			usage(stdout);
			ret = 0;
			goto out;
		}
		if (opt == 'c')
			s->count_file = optarg;
		else if (opt == 'u' || opt == 't')
			err = serve_bind(s, opt == 't', optarg, bound, sizeof(bound));
		else
			err = -EINVAL;
	}
	if (!err && (optind < argc || !s->n_listen || (s->count_file && !*s->count_file))) {
		fprintf(stderr, PROG ": serve wants --udp or --tcp, a non-empty PATH, nothing else\n");
		err = -EINVAL;
	}
	if (err == -EINVAL)
		usage(stderr);
	ret = err == -EINVAL ? 2 : 1;
	if (err)
		goto out;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGUSR1);
	sfd = sigprocmask(SIG_BLOCK, &sigs, NULL) ? -1 : signalfd(-1, &sigs, SFD_NONBLOCK | SFD_CLOEXEC);
	s->dirty = true;
	err = sfd < 0 ? -errno : write_counts(s, true);
	if (err) {
		fprintf(stderr, PROG ": %s: %s\n", sfd < 0 ? "signalfd" : s->count_file, strerror(-err));
		goto out;
	}
	fprintf(stderr, PROG ": serving %s%s%s (pid %d)\n", bound, s->count_file ? "; counts in " : "",
		s->count_file ? s->count_file : "", (int)getpid());
	err = serve_loop(s, sfd);
	if (err)
		fprintf(stderr, PROG ": poll: %s\n", strerror(-err));
	s->dirty = true;
	write_counts(s, true);
	ret = err ? 1 : 0;
out:
	for (int i = 0; i < MAX_CLIENTS; i++)
		if (s->cl[i].fd >= 0)
			close(s->cl[i].fd);
	for (int i = 0; i < s->n_listen; i++)
		close(s->fd[i]);
	if (sfd >= 0)
		close(sfd);
	free(s);
	return ret;
}

/* ---- probes ---- */

struct probe {
	int whoami, json;
	bool tcp, has_from;
	uint32_t to, from;
	uint16_t to_port, from_port;
	uint64_t count, interval_ms, timeout_ms, size;
};

static int parse_num(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	int err = bf_parse_u64(s, max, out);

	return err ? err : *out < min ? -ERANGE : 0;
}

static int parse_probe(int argc, char **argv, struct probe *p)
{
	const struct option lo[] = {
		{ "to", required_argument, NULL, 't' },
		{ "from", required_argument, NULL, 'f' },
		{ "count", required_argument, NULL, 'n' },
		{ "interval-ms", required_argument, NULL, 'i' },
		{ "timeout-ms", required_argument, NULL, 'w' },
		{ "size", required_argument, NULL, 's' },
		{ "whoami", no_argument, &p->whoami, 1 },
		{ "json", no_argument, &p->json, 1 },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool have_to = false;
	int opt, idx = 0, err;

	p->count = 1;
	p->timeout_ms = p->tcp ? 2000 : 1000;
	p->size = 32;
	while ((opt = getopt_long(argc, argv, "h", lo, &idx)) != -1) {
		switch (opt) {
		case 't':
			err = bf_parse_endpoint(optarg, false, &p->to, &p->to_port);
			have_to = !err;
			break;
		case 'f':
			p->has_from = true;
			p->from_port = 0;
			if (p->tcp && !strchr(optarg, ':'))
				err = bf_parse_ipv4(optarg, &p->from);
			else
				err = bf_parse_endpoint(optarg, true, &p->from, &p->from_port);
			break;
		case 'n':
			err = parse_num(optarg, 1, MAX_COUNT, &p->count);
			break;
		case 'i':
			err = p->tcp ? -ENOTSUP : parse_num(optarg, 0, 60000, &p->interval_ms);
			break;
		case 'w':
			err = parse_num(optarg, 1, 600000, &p->timeout_ms);
			break;
		case 's':
			err = p->tcp ? -ENOTSUP : parse_num(optarg, 6, 1400, &p->size);
			break;
		case 0:
			err = 0;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
		if (err) {
			fprintf(stderr, PROG ": --%s %s: %s\n", lo[idx].name, optarg,
				err == -ENOTSUP ? "udp only" : "bad value (see --help)");
			return -EINVAL;
		}
	}
	if (optind < argc || !have_to) {
		fprintf(stderr, PROG ": %s%s\n", optind < argc ? "unexpected argument " : "--to is required",
			optind < argc ? argv[optind] : "");
		return -EINVAL;
	}
	return 0;
}

/* Prints a reply on one line: trailing newline dropped, control bytes shown as '?'. */
static void print_reply(const char *b, size_t n)
{
	while (n && (b[n - 1] == '\n' || b[n - 1] == '\r'))
		n--;
	for (size_t i = 0; i < n; i++)
		putchar(isprint((unsigned char)b[i]) ? b[i] : '?');
	putchar('\n');
}

static int report(const struct probe *p, uint64_t sent, uint64_t received)
{
	unsigned long long s = sent, r = received, l = sent - received;

	printf(p->json ? "{\"sent\":%llu,\"received\":%llu,\"lost\":%llu}\n" :
			 "sent=%llu received=%llu lost=%llu\n", s, r, l);
	return sent == p->count && !l ? 0 : 1;
}

/* Sends one WHOAMI; the first 'YOU ...' answer goes to got[LINE_LEN]. Its length or -errno. */
static int udp_whoami(int fd, const struct sockaddr_in *to, char *got, uint64_t timeout_ms)
{
	uint64_t end = now_ms() + timeout_ms;
	ssize_t r;
	int err;

	if (sendto(fd, "WHOAMI", 6, 0, (const struct sockaddr *)to, sizeof(*to)) < 0)
		return -errno;
	while ((err = wait_fd(fd, POLLIN, end)) >= 0) {
		r = recv(fd, got, LINE_LEN, MSG_DONTWAIT);
		/* Skips anything else, e.g. a late echo to an earlier probe from this port. */
		if (r >= 4 && !memcmp(got, "YOU ", 4))
			return (int)r;
	}
	return err;
}

struct udp_run {
	uint64_t sent, received, oldest; /* oldest: lowest seq possibly still in flight */
	uint8_t *seen;                   /* bitmap of answered seqs */
	uint64_t *sent_at;               /* send time of seq, at seq % MAX_INFLIGHT */
	uint8_t pkt[1400];
};

#define SEEN(u, seq) ((u)->seen[(seq) / 8] & (1u << ((seq) % 8)))

/* The sequence number fills the first min(size, 8) bytes, big-endian; 6 bytes hold MAX_COUNT. */
static void udp_drain(int fd, struct udp_run *u, size_t size, size_t sl)
{
	uint8_t buf[2048];

	for (int k = 0; k < 1024; k++) {
		ssize_t r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC);
		uint64_t seq = 0;

		if (r < 0)
			return;
		if ((size_t)r != size || memcmp(buf + sl, u->pkt + sl, size - sl))
			continue;
		for (size_t i = 0; i < sl; i++)
			seq = seq << 8 | buf[i];
		if (seq < u->sent && !SEEN(u, seq)) {
			u->seen[seq / 8] |= (uint8_t)(1u << (seq % 8));
			u->received++;
		}
	}
}

/* Sends the numbered datagrams while counting echoes. Exit status. */
static int udp_flow(int fd, const struct sockaddr_in *to, const struct probe *p, struct udp_run *u)
{
	size_t size = (size_t)p->size, sl = size < 8 ? size : 8;
	/* Every send slot, the straggler wait, then slack: 1 s plus 20 us a packet. */
	uint64_t start = now_ms(), next = start, last_send = start;
	uint64_t limit = start + p->count * p->interval_ms + p->timeout_ms + 1000 + p->count / 50;
	int send_err = 0, rcvbuf = 0;
	socklen_t rl = sizeof(rcvbuf);
	uint64_t window = MAX_INFLIGHT;

	/* Unpaced, no more in flight than our receive buffer holds (~1 KiB overhead an skb). */
	if (!getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, &rl) && rcvbuf > 0 &&
	    (uint64_t)rcvbuf / (size + 1024) < window)
		window = (uint64_t)rcvbuf / (size + 1024) + 1;
	for (size_t i = sl; i < size; i++)
		u->pkt[i] = (uint8_t)('a' + i % 26);
	for (uint64_t t = start; t < limit; t = now_ms()) {
		bool blocked = false;
		uint64_t wait;

		for (int burst = 0; u->sent < p->count && burst < 256; burst++) {
			uint64_t seq = u->sent;
			ssize_t r;

			if (p->interval_ms && t < next)
				break;
			/* Unpaced: a slot frees when its echo came or its timeout passed. */
			while (!p->interval_ms && u->oldest < u->sent && (SEEN(u, u->oldest) ||
			       u->sent_at[u->oldest % MAX_INFLIGHT] + p->timeout_ms <= t))
				u->oldest++;
			blocked = !p->interval_ms && u->sent - u->oldest >= window;
			if (blocked)
				break;
			for (size_t i = 0; i < sl; i++)
				u->pkt[i] = (uint8_t)(seq >> (8 * (sl - 1 - i)));
			r = sendto(fd, u->pkt, size, MSG_DONTWAIT, (const struct sockaddr *)to, sizeof(*to));
			blocked = r < 0 && again(errno); /* retried after a millisecond */
			if (blocked)
				break;
			if (r < 0 && !send_err)
				send_err = errno; /* dropped on the way out, e.g. EPERM: sent and lost */
			u->sent_at[seq % MAX_INFLIGHT] = t;
			u->sent++;
			last_send = t;
			next += p->interval_ms;
		}
		if (u->sent == p->count && (u->received == u->sent || t >= last_send + p->timeout_ms))
			break;
		if (u->sent < p->count)
			wait = blocked ? 1 : p->interval_ms && next > t ? next - t : 0;
		else
			wait = last_send + p->timeout_ms - t;
		wait_fd(fd, POLLIN, t + (wait < limit - t ? wait : limit - t));
		udp_drain(fd, u, size, sl);
	}
	if (send_err)
		fprintf(stderr, PROG ": some sends failed: %s\n", strerror(send_err));
	if (u->sent < p->count)
		fprintf(stderr, PROG ": time limit reached after sending %llu of %llu\n",
			(unsigned long long)u->sent, (unsigned long long)p->count);
	return report(p, u->sent, u->received);
}

struct linebuf {
	char b[LINE_LEN];
	size_t len;
};

/* Copies the next line (with its '\n') to out[LINE_LEN + 1]. Its length or -errno. */
static int read_line(int fd, struct linebuf *lb, char *out, uint64_t end)
{
	for (;;) {
		char *nl = memchr(lb->b, '\n', lb->len);
		size_t n = nl ? (size_t)(nl - lb->b) + 1 : 0;
		ssize_t r;
		int err;

		if (nl) {
			memcpy(out, lb->b, n);
			out[n] = '\0';
			memmove(lb->b, lb->b + n, lb->len - n);
			lb->len -= n;
			return (int)n;
		}
		if (lb->len == sizeof(lb->b))
			return -EMSGSIZE;
		err = wait_fd(fd, POLLIN, end);
		if (err < 0)
			return err;
		r = recv(fd, lb->b + lb->len, sizeof(lb->b) - lb->len, MSG_DONTWAIT);
		if (r == 0 || (r < 0 && !again(errno)))
			return r ? -errno : -ECONNRESET;
		lb->len += r > 0 ? (size_t)r : 0;
	}
}

/* Sends one short line: with one line in flight at a time it always fits the socket buffer. */
static int send_line(int fd, const char *line, size_t n)
{
	ssize_t w = send(fd, line, n, MSG_DONTWAIT | MSG_NOSIGNAL);

	return w == (ssize_t)n ? 0 : w < 0 ? -errno : -EAGAIN;
}

static int connect_timeout(int fd, const struct sockaddr_in *to, uint64_t timeout_ms)
{
	uint64_t end = now_ms() + timeout_ms;
	socklen_t el = sizeof(int);
	int err;

	if (fcntl(fd, F_SETFL, O_NONBLOCK))
		return -errno;
	if (!connect(fd, (const struct sockaddr *)to, sizeof(*to)))
		return 0;
	if (errno != EINPROGRESS)
		return -errno;
	while (!(err = wait_fd(fd, POLLOUT, end)))
		;
	if (err < 0)
		return err;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el))
		return -errno;
	return -err;
}

/* Sends the numbered lines one at a time, checking each echo. Exit status. */
static int tcp_lines(int fd, const struct probe *p)
{
	struct linebuf lb = { .len = 0 };
	char line[64], got[LINE_LEN + 1];
	uint64_t sent = 0, received = 0;
	int err = 0;

	while (sent < p->count && err >= 0) {
		int n = snprintf(line, sizeof(line), "line %llu\n", (unsigned long long)sent);

		err = send_line(fd, line, (size_t)n);
		if (err)
			break;
		sent++;
		err = read_line(fd, &lb, got, now_ms() + p->timeout_ms);
		received += err == n && !memcmp(got, line, (size_t)n);
	}
	if (err < 0)
		fprintf(stderr, PROG ": stopped after %llu lines: %s\n", (unsigned long long)sent,
			strerror(-err));
	return report(p, sent, received);
}

static int cmd_probe(int argc, char **argv, bool tcp)
{
	struct probe p = { .tcp = tcp };
	struct sockaddr_in to = { .sin_family = AF_INET };
	struct linebuf lb = { .len = 0 };
	struct udp_run u = { .sent = 0 };
	char ep[EP_STRLEN], got[LINE_LEN + 1];
	int fd, err = 0, ret = 1;

	if (parse_probe(argc, argv, &p))
		return 2;
	to.sin_addr.s_addr = p.to;
	to.sin_port = htons(p.to_port);
	fd = open_sock(tcp ? SOCK_STREAM : SOCK_DGRAM, p.from, p.from_port, p.has_from);
	if (fd < 0) {
		fprintf(stderr, PROG ": bind %s: %s\n", ep_str(p.from, p.from_port, ep), strerror(-fd));
		return 1;
	}
	ep_str(p.to, p.to_port, ep);
	if (tcp)
		err = connect_timeout(fd, &to, p.timeout_ms);
	if (err) {
		fprintf(stderr, PROG ": connect %s: %s\n", ep, strerror(-err));
	} else if (p.whoami) {
		if (tcp)
			err = send_line(fd, "WHOAMI\n", 7) ?: read_line(fd, &lb, got, now_ms() + p.timeout_ms);
		else
			err = udp_whoami(fd, &to, got, p.timeout_ms);
		if (err < 0)
			fprintf(stderr, PROG ": no WHOAMI answer from %s: %s\n", ep, strerror(-err));
		else
			print_reply(got, (size_t)err);
		ret = err >= 4 && !memcmp(got, "YOU ", 4) ? 0 : 1;
	} else if (tcp) {
		ret = tcp_lines(fd, &p);
	} else {
		/* count <= MAX_COUNT (parser): the bitmap is at most 1.25 MB. */
		u.seen = calloc((size_t)(p.count + 7) / 8, 1);
		u.sent_at = calloc(MAX_INFLIGHT, sizeof(*u.sent_at));
		if (u.seen && u.sent_at)
			ret = udp_flow(fd, &to, &p, &u);
		else
			fprintf(stderr, PROG ": %s\n", strerror(ENOMEM));
		free(u.seen);
		free(u.sent_at);
	}
	close(fd);
	return ret;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	signal(SIGPIPE, SIG_IGN);
	if (!strcmp(argv[1], "serve"))
		return cmd_serve(argc - 1, argv + 1);
	if (!strcmp(argv[1], "udp") || !strcmp(argv[1], "tcp"))
		return cmd_probe(argc - 1, argv + 1, argv[1][0] == 't');
	fprintf(stderr, PROG ": unknown command '%s' (serve, udp, tcp; see --help)\n", argv[1]);
	return 2;
}
