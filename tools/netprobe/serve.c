/* serve.c - bf-netprobe serve: the UDP/TCP echo game-server stand-in and its count file. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "netprobe.h"
#include "serve.h"

#define MAX_LISTEN 16
#define MAX_CLIENTS 256
#define MAX_PEERS 4096
#define PEER_SLOTS 8192 /* power of two above MAX_PEERS */
#define COUNT_GAP_MS 100

void serve_usage(FILE *f)
{
	fprintf(f,
		"  " PROG " serve [--udp A.B.C.D:PORT]... [--tcp A.B.C.D:PORT]... [--count-file PATH]\n"
		"                [A2S options]\n"
		"      Echo server; 'WHOAMI' (datagram or line) gets 'YOU <ip>:<port>', the source\n"
		"      it sees. Counters and peers go to PATH (atomically, at most every 100 ms),\n"
		"      or to stderr on SIGUSR1. Runs until SIGTERM/SIGINT. A2S queries received\n"
		"      are counted by kind (line 'a2s_queries=N info=N ...') whether answered or not.\n"
		"      The Source handshake is answered: 'q' with 'A' and a challenge, a 'k'\n"
		"      carrying it (byte 13) with 'B' (line 'srcds_challenges=N srcds_accepted=N').\n");
	serve_a2s_usage(f);
}

struct client {
	int fd;
	uint32_t addr;
	uint16_t port;
	size_t len;
	char in[LINE_LEN];
};

struct server {
	int fd[MAX_LISTEN], n_listen, n_peers;
	uint16_t port[MAX_LISTEN];
	bool tcp[MAX_LISTEN], dirty;
	const char *count_file;
	uint64_t udp_packets, tcp_lines, written_ms;
	uint64_t srcds_challenges, srcds_accepted, srcds_rejected; /* the Source handshake */
	uint32_t peers[MAX_PEERS];
	uint32_t peer_a2s[MAX_PEERS];   /* A2S queries from each peer */
	uint16_t peer_slot[PEER_SLOTS]; /* index + 1 into peers, 0 = empty */
	struct client cl[MAX_CLIENTS];
	struct a2s_srv a2s;
	uint8_t dgram[65536];
};

/* Counts a served packet or line and remembers its peer (the first MAX_PEERS distinct ones).
 * Returns the peer's index, or -1 when the table is full. */
static int note(struct server *s, uint64_t *counter, uint32_t addr)
{
	uint32_t h = (addr * 2654435761u) >> 19; /* 13 bits: PEER_SLOTS */

	if (counter)
		(*counter)++;
	s->dirty = true;
	for (; s->peer_slot[h]; h = (h + 1) & (PEER_SLOTS - 1))
		if (s->peers[s->peer_slot[h] - 1] == addr)
			return s->peer_slot[h] - 1;
	if (s->n_peers < MAX_PEERS) {
		s->peers[s->n_peers++] = addr;
		s->peer_slot[h] = (uint16_t)s->n_peers;
		return s->n_peers - 1;
	}
	return -1;
}

static void dump_counts(const struct server *s, FILE *f)
{
	char a[BF_ADDR_STRLEN];

	const uint64_t *q = s->a2s.received;
	unsigned long long total = 0;

	fprintf(f, "udp_packets=%llu tcp_lines=%llu peers=%d\n", (unsigned long long)s->udp_packets,
		(unsigned long long)s->tcp_lines, s->n_peers);
	for (int k = A2S_MALFORMED; k < A2S_KIND_MAX; k++)
		total += q[k];
	fprintf(f, "a2s_queries=%llu info=%llu player=%llu rules=%llu getchallenge=%llu "
		"malformed=%llu challenges_sent=%llu replies_sent=%llu parts_sent=%llu\n", total,
		(unsigned long long)q[A2S_INFO], (unsigned long long)q[A2S_PLAYER],
		(unsigned long long)q[A2S_RULES], (unsigned long long)q[A2S_GETCHALLENGE],
		(unsigned long long)q[A2S_MALFORMED], (unsigned long long)s->a2s.challenges,
		(unsigned long long)s->a2s.replies, (unsigned long long)s->a2s.parts);
	fprintf(f, "srcds_challenges=%llu srcds_accepted=%llu srcds_rejected=%llu\n",
		(unsigned long long)s->srcds_challenges, (unsigned long long)s->srcds_accepted,
		(unsigned long long)s->srcds_rejected);
	for (int i = 0; i < s->n_peers; i++)
		fprintf(f, "peer %s\n", bf_ipv4_str(s->peers[i], a));
	/* Who asked: a test tells the refresher's queries from clients'. */
	for (int i = 0; i < s->n_peers; i++)
		if (s->peer_a2s[i])
			fprintf(f, "a2s_peer %s %u\n", bf_ipv4_str(s->peers[i], a), s->peer_a2s[i]);
}

/* Rewrites the count file (PATH.tmp, then rename) if anything changed, at most every
 * COUNT_GAP_MS unless forced. A failed write stays pending. 0 or -errno. */
static int write_counts(struct server *s, bool force)
{
	char tmp[PATH_MAX];
	uint64_t t = mono_ms();
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

/* The Source engine handshake, as a game server stand-in answers it (validate srcds,
 * docs/ARCHITECTURE.md): 'q' gets 'A' and a challenge tied to the client's address; a 'k'
 * (protocol, auth protocol, then the challenge at byte 13) with that challenge gets 'B',
 * any other 'k' the rejection '9'. 1 when the datagram was one of them (answered). */
static uint32_t srcds_challenge(const struct sockaddr_in *sa)
{
	return (sa->sin_addr.s_addr ^ (uint32_t)sa->sin_port * 2654435761u) * 2246822519u | 1;
}

static int serve_srcds(struct server *s, int fd, const uint8_t *d, size_t n,
		       const struct sockaddr_in *sa)
{
	uint8_t out[32] = { 0xff, 0xff, 0xff, 0xff };
	uint32_t ch = srcds_challenge(sa), got;
	size_t len = 5;

	if (n < 5 || memcmp(d, "\xff\xff\xff\xff", 4) || (d[4] != 'q' && d[4] != 'k'))
		return 0;
	if (d[4] == 'q') {
		out[4] = 'A';
		memcpy(out + 5, "\x5a\x4f\x93\x00", 4); /* S2C_MAGICVERSION */
		memcpy(out + 9, &ch, 4);
		len = 13;
		s->srcds_challenges++;
	} else if (n >= 17 && (memcpy(&got, d + 13, 4), got == ch)) {
		out[4] = 'B';
		memcpy(out + 5, &ch, 4);
		memcpy(out + 9, "0000000000", 10);
		len = 19;
		s->srcds_accepted++;
	} else {
		out[4] = '9';
		memcpy(out + 5, "Bad challenge.", 15);
		len = 20;
		s->srcds_rejected++;
	}
	sendto(fd, out, len, MSG_DONTWAIT, (const struct sockaddr *)sa, sizeof(*sa));
	return 1;
}

static void serve_udp(struct server *s, int fd, uint16_t port)
{
	for (int k = 0; k < 256; k++) { /* bounded, so TCP clients get their turn */
		struct sockaddr_in sa;
		int peer;
		socklen_t sl = sizeof(sa);
		char ep[EP_STRLEN], reply[64];
		ssize_t r = recvfrom(fd, s->dgram, sizeof(s->dgram), MSG_DONTWAIT,
				     (struct sockaddr *)&sa, &sl);

		if (r < 0)
			return;
		if (sl < sizeof(sa) || sa.sin_family != AF_INET)
			continue;
		peer = note(s, &s->udp_packets, sa.sin_addr.s_addr);
		{
			struct a2s_req q;

			if (a2s_classify(s->dgram, (size_t)r, &q) != A2S_NOT) {
				s->a2s.received[q.kind]++;
				if (peer >= 0)
					s->peer_a2s[peer]++;
				if (s->a2s.on) {
					serve_a2s_answer(&s->a2s, fd, port, &q, &sa);
					continue;
				}
			}
		}
		if (serve_srcds(s, fd, s->dgram, (size_t)r, &sa))
			continue;
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
			uint64_t since = mono_ms() - s->written_ms;

			timeout = since >= COUNT_GAP_MS ? 0 : (int)(COUNT_GAP_MS - since);
		}
		if (poll(pfd, (nfds_t)n, timeout) < 0 && errno != EINTR)
			return -errno;
		for (int i = 0; i < s->n_listen; i++) {
			if (pfd[i].revents & POLLIN && s->tcp[i])
				serve_accept(s, s->fd[i]);
			else if (pfd[i].revents & POLLIN)
				serve_udp(s, s->fd[i], s->port[i]);
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
	s->port[s->n_listen] = port;
	s->tcp[s->n_listen++] = tcp;
	snprintf(log + strlen(log), log_len - strlen(log), "%s%s %s", *log ? ", " : "",
		 tcp ? "tcp" : "udp", arg);
	return 0;
}

int cmd_serve(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "udp", required_argument, NULL, 'u' },
		{ "tcp", required_argument, NULL, 't' },
		{ "count-file", required_argument, NULL, 'c' },
		{ "a2s", no_argument, NULL, 'A' },
		{ "a2s-name", required_argument, NULL, 'N' },
		{ "a2s-map", required_argument, NULL, 'M' },
		{ "a2s-game", required_argument, NULL, 'G' },
		{ "a2s-folder", required_argument, NULL, 'F' },
		{ "a2s-appid", required_argument, NULL, 'I' },
		{ "a2s-players", required_argument, NULL, 'P' },
		{ "a2s-max-players", required_argument, NULL, 'X' },
		{ "a2s-bots", required_argument, NULL, 'B' },
		{ "a2s-rules", required_argument, NULL, 'R' },
		{ "a2s-no-challenge", no_argument, NULL, 'C' },
		{ "a2s-mute", no_argument, NULL, 'Z' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char bound[MAX_LISTEN * 32] = "";
	bool max_given = false;
	struct server *s = calloc(1, sizeof(*s));
	int opt, sfd = -1, ret = 1, err = 0;
	sigset_t sigs;

	if (!s)
		return 1;
	for (int i = 0; i < MAX_CLIENTS; i++)
		s->cl[i].fd = -1;
	serve_a2s_init(&s->a2s);
	while (!err && (opt = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		if (opt == 'h') {
			netprobe_usage(stdout);
			ret = 0;
			goto out;
		}
		if (opt == 'c')
			s->count_file = optarg;
		else if (opt == 'u' || opt == 't')
			err = serve_bind(s, opt == 't', optarg, bound, sizeof(bound));
		else if (strchr(SERVE_A2S_OPTS, opt))
			err = serve_a2s_opt(&s->a2s, opt, optarg, &max_given);
		else
			err = -EINVAL;
	}
	if (!err && s->a2s.on)
		err = serve_a2s_check(&s->a2s, max_given);
	if (!err && (optind < argc || !s->n_listen || (s->count_file && !*s->count_file))) {
		fprintf(stderr, PROG ": serve wants --udp or --tcp, a non-empty PATH, nothing else\n");
		err = -EINVAL;
	}
	if (err == -EINVAL)
		netprobe_usage(stderr);
	ret = err == -EINVAL ? 2 : 1;
	if (err)
		goto out;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGUSR1);
	if (s->a2s.on && (err = serve_a2s_prepare(&s->a2s))) {
		fprintf(stderr, PROG ": A2S replies: %s\n", strerror(-err));
		goto out;
	}
	sfd = sigprocmask(SIG_BLOCK, &sigs, NULL) ? -1 : signalfd(-1, &sigs, SFD_NONBLOCK | SFD_CLOEXEC);
	s->dirty = true;
	err = sfd < 0 ? -errno : write_counts(s, true);
	if (err) {
		fprintf(stderr, PROG ": %s: %s\n", sfd < 0 ? "signalfd" : s->count_file, strerror(-err));
		goto out;
	}
	fprintf(stderr, PROG ": serving %s%s%s%s (pid %d)\n", bound,
		s->a2s.on ? "; A2S responder on" : "", s->count_file ? "; counts in " : "",
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
	serve_a2s_free(&s->a2s);
	free(s);
	return ret;
}

