/* netprobe.c - bf-netprobe: the lab's game-server stand-in (UDP and TCP echo
 * that can tell a client the address it sees) and the probes that measure
 * what gets through. Every loop is bounded in count and time. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"

#define MAX_LISTEN 16
#define MAX_CLIENTS 256
#define MAX_PEERS 1024
#define MAX_COUNT 10000000u

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = 1;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage:\n"
		"  bf-netprobe serve [--udp A.B.C.D:PORT]... [--tcp A.B.C.D:PORT]... [--count-file PATH]\n"
		"      echo server; 'WHOAMI' is answered with 'YOU <ip>:<port>' (the source it sees)\n"
		"  bf-netprobe udp --to A.B.C.D:PORT [--from A.B.C.D:PORT] [--count N] [--interval-ms M]\n"
		"                  [--timeout-ms T] [--size BYTES] [--whoami] [--json]\n"
		"      sends N numbered datagrams, counts the echoes: sent=N received=M lost=L\n"
		"  bf-netprobe tcp --to A.B.C.D:PORT [--from A.B.C.D[:PORT]] [--count N] [--timeout-ms T]\n"
		"                  [--whoami] [--json]\n"
		"      sends N lines over one connection and checks each echo\n"
		"Exit status: 0 all answered, 1 something lost or failed, 2 bad usage.\n");
}

static int make_sock(int type, uint32_t addr, uint16_t port, int bind_it)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = addr,
				  .sin_port = htons(port) };
	int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0), one = 1;

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof(one));
	if (bind_it && bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

static void peer_str(const struct sockaddr_in *sa, char *buf, size_t len)
{
	char a[BF_ADDR_STRLEN];

	snprintf(buf, len, "%s:%u", bf_ipv4_str(sa->sin_addr.s_addr, a), ntohs(sa->sin_port));
}

/* ---- serve ---- */

struct counts {
	uint64_t udp, tcp;
	uint32_t peers[MAX_PEERS];
	int n_peers;
	const char *file;
	uint64_t written_ms;
	int dirty;
};

static void note_peer(struct counts *c, uint32_t addr)
{
	for (int i = 0; i < c->n_peers; i++)
		if (c->peers[i] == addr)
			return;
	if (c->n_peers < MAX_PEERS)
		c->peers[c->n_peers++] = addr;
}

static void write_counts(struct counts *c, int force)
{
	char tmp[4096 + 8], a[BF_ADDR_STRLEN];
	FILE *f;

	if (!c->file || (!c->dirty && !force) || (!force && now_ms() - c->written_ms < 100))
		return;
	snprintf(tmp, sizeof(tmp), "%s.tmp", c->file);
	f = fopen(tmp, "w");
	if (!f)
		return;
	fprintf(f, "udp_packets=%llu tcp_lines=%llu peers=%d\n", (unsigned long long)c->udp,
		(unsigned long long)c->tcp, c->n_peers);
	for (int i = 0; i < c->n_peers; i++)
		fprintf(f, "peer %s\n", bf_ipv4_str(c->peers[i], a));
	fclose(f);
	rename(tmp, c->file);
	c->written_ms = now_ms();
	c->dirty = 0;
}

struct client {
	int fd;
	struct sockaddr_in peer;
	char buf[2048];
	size_t len;
};

static void tcp_input(struct client *cl, struct counts *c)
{
	char *nl;

	while ((nl = memchr(cl->buf, '\n', cl->len))) {
		size_t line = (size_t)(nl - cl->buf) + 1;

		if (line == 7 && !memcmp(cl->buf, "WHOAMI\n", 7)) {
			char out[64], p[32];
			int n;

			peer_str(&cl->peer, p, sizeof(p));
			n = snprintf(out, sizeof(out), "YOU %s\n", p);
			(void)!write(cl->fd, out, (size_t)n);
		} else {
			(void)!write(cl->fd, cl->buf, line);
		}
		c->tcp++;
		c->dirty = 1;
		memmove(cl->buf, cl->buf + line, cl->len - line);
		cl->len -= line;
	}
	if (cl->len == sizeof(cl->buf)) /* a line longer than the buffer: drop it */
		cl->len = 0;
}

static int do_serve(int argc, char **argv)
{
	static const struct option lo[] = { { "udp", required_argument, NULL, 'u' },
					    { "tcp", required_argument, NULL, 't' },
					    { "count-file", required_argument, NULL, 'c' },
					    { NULL, 0, NULL, 0 } };
	struct pollfd pfd[MAX_LISTEN + MAX_CLIENTS];
	int kind[MAX_LISTEN], n_listen = 0, opt;
	struct client cl[MAX_CLIENTS];
	struct counts c = { 0 };

	for (int i = 0; i < MAX_CLIENTS; i++)
		cl[i].fd = -1;
	while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		uint32_t a;
		uint16_t p;
		int fd;

		if (opt == 'c') {
			c.file = optarg;
			continue;
		}
		if (opt != 'u' && opt != 't') {
			usage(stderr);
			return 2;
		}
		if (n_listen == MAX_LISTEN || bf_parse_endpoint(optarg, false, &a, &p)) {
			fprintf(stderr, "bf-netprobe: bad or too many listen addresses: %s\n", optarg);
			return 2;
		}
		fd = make_sock(opt == 'u' ? SOCK_DGRAM : SOCK_STREAM, a, p, 1);
		if (fd < 0 || (opt == 't' && listen(fd, 64))) {
			fprintf(stderr, "bf-netprobe: bind %s: %s\n", optarg, strerror(fd < 0 ? -fd : errno));
			return 1;
		}
		fcntl(fd, F_SETFL, O_NONBLOCK);
		pfd[n_listen].fd = fd;
		pfd[n_listen].events = POLLIN;
		kind[n_listen++] = opt;
		fprintf(stderr, "bf-netprobe: serving %s %s\n", opt == 'u' ? "udp" : "tcp", optarg);
	}
	if (!n_listen) {
		usage(stderr);
		return 2;
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGPIPE, SIG_IGN);
	write_counts(&c, 1);
	while (!stop) {
		int n = n_listen;

		for (int i = 0; i < MAX_CLIENTS; i++)
			if (cl[i].fd >= 0) {
				pfd[n].fd = cl[i].fd;
				pfd[n].events = POLLIN;
				pfd[n++].revents = 0;
			}
		if (poll(pfd, (nfds_t)n, 100) < 0 && errno != EINTR)
			break;
		for (int i = 0; i < n_listen; i++) {
			if (!(pfd[i].revents & POLLIN))
				continue;
			if (kind[i] == 'u') {
				/* Bounded per wake-up so TCP clients are served too. */
				for (int k = 0; k < 256; k++) {
					struct sockaddr_in sa;
					socklen_t sl = sizeof(sa);
					char buf[2048];
					ssize_t r = recvfrom(pfd[i].fd, buf, sizeof(buf), 0,
							     (struct sockaddr *)&sa, &sl);

					if (r < 0)
						break;
					if (r == 6 && !memcmp(buf, "WHOAMI", 6)) {
						char p[32];

						peer_str(&sa, p, sizeof(p));
						r = snprintf(buf, sizeof(buf), "YOU %s", p);
					}
					sendto(pfd[i].fd, buf, (size_t)r, 0, (struct sockaddr *)&sa, sl);
					c.udp++;
					c.dirty = 1;
					note_peer(&c, sa.sin_addr.s_addr);
				}
			} else {
				struct sockaddr_in sa;
				socklen_t sl = sizeof(sa);
				int fd = accept4(pfd[i].fd, (struct sockaddr *)&sa, &sl,
						 SOCK_NONBLOCK | SOCK_CLOEXEC);
				int slot = -1;

				for (int k = 0; k < MAX_CLIENTS && fd >= 0; k++)
					if (cl[k].fd < 0) {
						slot = k;
						break;
					}
				if (fd >= 0 && slot < 0) {
					close(fd);
				} else if (fd >= 0) {
					cl[slot].fd = fd;
					cl[slot].peer = sa;
					cl[slot].len = 0;
					note_peer(&c, sa.sin_addr.s_addr);
				}
			}
		}
		for (int i = n_listen; i < n; i++) {
			struct client *x = NULL;
			ssize_t r;

			if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			for (int k = 0; k < MAX_CLIENTS; k++)
				if (cl[k].fd == pfd[i].fd)
					x = &cl[k];
			if (!x)
				continue;
			r = read(x->fd, x->buf + x->len, sizeof(x->buf) - x->len);
			if (r <= 0) {
				if (r < 0 && errno == EAGAIN)
					continue;
				close(x->fd);
				x->fd = -1;
				continue;
			}
			x->len += (size_t)r;
			tcp_input(x, &c);
		}
		write_counts(&c, 0);
	}
	write_counts(&c, 1);
	return 0;
}

/* ---- probes ---- */

struct probe_opts {
	uint32_t to, from;
	uint16_t to_port, from_port;
	uint64_t count, interval_ms, timeout_ms, size;
	int whoami, json, has_from;
};

static int parse_probe(int argc, char **argv, struct probe_opts *o, int tcp)
{
	static const struct option lo[] = {
		{ "to", required_argument, NULL, 't' },	   { "from", required_argument, NULL, 'f' },
		{ "count", required_argument, NULL, 'n' }, { "interval-ms", required_argument, NULL, 'i' },
		{ "timeout-ms", required_argument, NULL, 'w' }, { "size", required_argument, NULL, 's' },
		{ "whoami", no_argument, NULL, 'W' },	   { "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	int opt, have_to = 0;

	o->count = 1;
	o->timeout_ms = tcp ? 2000 : 1000;
	o->size = 32;
	while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		int bad = 0;

		switch (opt) {
		case 't':
			bad = bf_parse_endpoint(optarg, false, &o->to, &o->to_port);
			have_to = 1;
			break;
		case 'f':
			o->has_from = 1;
			if (strchr(optarg, ':'))
				bad = bf_parse_endpoint(optarg, true, &o->from, &o->from_port);
			else
				bad = bf_parse_ipv4(optarg, &o->from);
			break;
		case 'n':
			bad = bf_parse_u64(optarg, MAX_COUNT, &o->count) || !o->count;
			break;
		case 'i':
			bad = bf_parse_u64(optarg, 10000, &o->interval_ms);
			break;
		case 'w':
			bad = bf_parse_u64(optarg, 60000, &o->timeout_ms);
			break;
		case 's':
			bad = bf_parse_u64(optarg, 1400, &o->size) || o->size < 8;
			break;
		case 'W':
			o->whoami = 1;
			break;
		case 'j':
			o->json = 1;
			break;
		default:
			bad = 1;
		}
		if (bad) {
			fprintf(stderr, "bf-netprobe: bad value for an option (see --help)\n");
			return -1;
		}
	}
	if (!have_to) {
		fprintf(stderr, "bf-netprobe: --to A.B.C.D:PORT is required\n");
		return -1;
	}
	return 0;
}

static int report(const struct probe_opts *o, uint64_t sent, uint64_t got_n)
{
	if (o->json)
		printf("{\"sent\":%llu,\"received\":%llu,\"lost\":%llu}\n", (unsigned long long)sent,
		       (unsigned long long)got_n, (unsigned long long)(sent - got_n));
	else
		printf("sent=%llu received=%llu lost=%llu\n", (unsigned long long)sent,
		       (unsigned long long)got_n, (unsigned long long)(sent - got_n));
	return sent == got_n ? 0 : 1;
}

static int do_udp(int argc, char **argv)
{
	struct probe_opts o = { 0 };
	struct sockaddr_in to = { .sin_family = AF_INET };
	uint64_t sent = 0, got_n = 0, deadline, next_send;
	uint8_t *seen, buf[2048];
	int fd;

	if (parse_probe(argc, argv, &o, 0))
		return 2;
	to.sin_addr.s_addr = o.to;
	to.sin_port = htons(o.to_port);
	fd = make_sock(SOCK_DGRAM, o.from, o.from_port, o.has_from);
	if (fd < 0) {
		fprintf(stderr, "bf-netprobe: bind: %s\n", strerror(-fd));
		return 1;
	}
	if (o.whoami) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t r;

		sendto(fd, "WHOAMI", 6, 0, (struct sockaddr *)&to, sizeof(to));
		if (poll(&p, 1, (int)o.timeout_ms) <= 0 || (r = recv(fd, buf, sizeof(buf) - 1, 0)) <= 0) {
			fprintf(stderr, "bf-netprobe: no answer within %llu ms\n",
				(unsigned long long)o.timeout_ms);
			return 1;
		}
		buf[r] = '\0';
		printf("%s\n", buf);
		return 0;
	}
	seen = calloc((size_t)(o.count + 7) / 8, 1); /* count is capped by the parser */
	if (!seen)
		return 1;
	memset(buf, 'x', sizeof(buf));
	next_send = now_ms();
	/* Hard stop: every send slot plus the straggler wait, plus slack. */
	deadline = now_ms() + o.count * o.interval_ms + o.timeout_ms + o.count / 1000 + 1000;
	for (;;) {
		uint64_t t = now_ms();
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int wait;

		if (sent < o.count && t >= next_send && sent - got_n < 256) {
			uint64_t seq = sent;

			for (int i = 0; i < 8; i++)
				buf[i] = (uint8_t)(seq >> (56 - 8 * i));
			if (sendto(fd, buf, (size_t)o.size, 0, (struct sockaddr *)&to, sizeof(to)) >= 0 ||
			    errno != EAGAIN)
				sent++;
			next_send = o.interval_ms ? next_send + o.interval_ms : t;
			if (o.interval_ms == 0)
				continue;
		}
		if (sent == o.count && (got_n == sent || t >= next_send + o.timeout_ms))
			break;
		if (t > deadline)
			break;
		wait = sent < o.count ? (next_send > t ? (int)(next_send - t) : (sent - got_n >= 256)) : 10;
		if (poll(&p, 1, wait) > 0) {
			ssize_t r;

			while ((r = recv(fd, buf + 1024, 1024, MSG_DONTWAIT)) >= 8) {
				uint64_t seq = 0;

				for (int i = 0; i < 8; i++)
					seq = seq << 8 | buf[1024 + i];
				if (seq < sent && !(seen[seq / 8] & (1u << (seq % 8)))) {
					seen[seq / 8] |= (uint8_t)(1u << (seq % 8));
					got_n++;
				}
			}
		}
	}
	free(seen);
	close(fd);
	return report(&o, sent, got_n);
}

static int read_line(int fd, char *buf, size_t len, uint64_t timeout_ms)
{
	size_t n = 0;
	uint64_t end = now_ms() + timeout_ms;

	while (n + 1 < len) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		uint64_t t = now_ms();
		ssize_t r;

		if (t >= end || poll(&p, 1, (int)(end - t)) <= 0)
			return -ETIMEDOUT;
		r = read(fd, buf + n, 1);
		if (r <= 0)
			return -EPIPE;
		if (buf[n++] == '\n')
			break;
	}
	buf[n] = '\0';
	return (int)n;
}

static int do_tcp(int argc, char **argv)
{
	struct probe_opts o = { 0 };
	struct sockaddr_in to = { .sin_family = AF_INET };
	struct pollfd p;
	char line[128], got[256], ep[32];
	uint64_t got_n = 0;
	int fd, err = 0;
	socklen_t el = sizeof(err);

	if (parse_probe(argc, argv, &o, 1))
		return 2;
	to.sin_addr.s_addr = o.to;
	to.sin_port = htons(o.to_port);
	peer_str(&to, ep, sizeof(ep));
	fd = make_sock(SOCK_STREAM, o.from, o.from_port, o.has_from);
	if (fd < 0) {
		fprintf(stderr, "bf-netprobe: bind: %s\n", strerror(-fd));
		return 1;
	}
	fcntl(fd, F_SETFL, O_NONBLOCK);
	if (connect(fd, (struct sockaddr *)&to, sizeof(to)) && errno != EINPROGRESS)
		err = errno;
	p = (struct pollfd){ .fd = fd, .events = POLLOUT };
	if (!err && poll(&p, 1, (int)o.timeout_ms) <= 0)
		err = ETIMEDOUT;
	if (!err && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el))
		err = errno;
	if (err) {
		fprintf(stderr, "bf-netprobe: connect %s: %s\n", ep, strerror(err));
		return 1;
	}
	if (o.whoami) {
		(void)!write(fd, "WHOAMI\n", 7);
		if (read_line(fd, got, sizeof(got), o.timeout_ms) <= 0) {
			fprintf(stderr, "bf-netprobe: no answer from %s\n", ep);
			return 1;
		}
		got[strcspn(got, "\n")] = '\0';
		printf("%s\n", got);
		return 0;
	}
	for (uint64_t i = 0; i < o.count; i++) {
		int n = snprintf(line, sizeof(line), "line %llu\n", (unsigned long long)i);

		if (write(fd, line, (size_t)n) != n)
			break;
		if (read_line(fd, got, sizeof(got), o.timeout_ms) <= 0)
			break;
		if (!strcmp(got, line))
			got_n++;
	}
	close(fd);
	return report(&o, o.count, got_n);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(stdout);
		return 0;
	}
	optind = 2;
	if (!strcmp(argv[1], "serve"))
		return do_serve(argc, argv);
	if (!strcmp(argv[1], "udp"))
		return do_udp(argc, argv);
	if (!strcmp(argv[1], "tcp"))
		return do_tcp(argc, argv);
	fprintf(stderr, "bf-netprobe: unknown command '%s' (serve, udp, tcp)\n", argv[1]);
	return 2;
}
