/* probe.c - bf-netprobe udp and tcp: loss probes against an echo server, and WHOAMI. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "netprobe.h"

#define MAX_COUNT 10000000ull
#define MAX_INFLIGHT 10000

void probe_usage(FILE *f)
{
	fprintf(f,
		"  " PROG " udp --to A.B.C.D:PORT [--from A.B.C.D:PORT] [--count N] [--interval-ms M]\n"
		"                  [--timeout-ms T] [--size BYTES] [--whoami] [--srcds] [--json]\n"
		"      Sends N (1..10000000, default 1) numbered datagrams of BYTES (6..1400,\n"
		"      default 32) every M ms (default 0: at most 10000 unanswered in flight),\n"
		"      waits T ms (default 1000) for stragglers: 'sent=N received=M lost=L'.\n"
		"      --whoami sends one 'WHOAMI' and prints the answer. --srcds first does the\n"
		"      Source handshake ('q', 'A', 'k', 'B'; up to 3 tries, T ms each), as a player.\n"
		"  " PROG " tcp --to A.B.C.D:PORT [--from A.B.C.D[:PORT]] [--count N] [--timeout-ms T]\n"
		"                  [--whoami] [--json]\n"
		"      Connects within T ms (default 2000), sends N lines one at a time and\n"
		"      checks each echo (T ms each). --whoami prints the server's answer.\n");
}

struct probe {
	int whoami, json, srcds;
	bool tcp, has_from;
	uint32_t to, from;
	uint16_t to_port, from_port;
	uint64_t count, interval_ms, timeout_ms, size;
};

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
		{ "srcds", no_argument, &p->srcds, 1 },
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
		default:
			return help_or_bad_option(opt);
		}
		if (err) {
			fprintf(stderr, PROG ": --%s %s: %s\n", lo[idx].name, optarg,
				err == -ENOTSUP ? "udp only" : "bad value (see --help)");
			return -EINVAL;
		}
	}
	return args_done(argc, argv, have_to);
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

/* Sends d and waits for a datagram starting ff ff ff ff <want> (into got[64]); up to 3
 * tries of timeout_ms. Its length or -errno. */
static int oob_exchange(int fd, const struct sockaddr_in *to, const uint8_t *d, size_t n,
			char want, uint8_t *got, uint64_t timeout_ms)
{
	int err = -ETIMEDOUT;

	for (int tries = 0; tries < 3; tries++) {
		uint64_t end = mono_ms() + timeout_ms;

		if (sendto(fd, d, n, 0, (const struct sockaddr *)to, sizeof(*to)) < 0)
			return -errno;
		while ((err = wait_fd(fd, POLLIN, end)) >= 0) {
			ssize_t r = recv(fd, got, 64, MSG_DONTWAIT);

			if (r >= 5 && !memcmp(got, "\xff\xff\xff\xff", 4) && got[4] == (uint8_t)want)
				return (int)r;
			if (r >= 5 && !memcmp(got, "\xff\xff\xff\xff" "9", 5))
				return -ECONNREFUSED;
		}
	}
	return err;
}

/* The Source handshake of a player: 'q' -> 'A' (challenge at byte 9), then 'k' (protocol
 * 24, auth protocol 3, the challenge, a name and password) -> 'B'. 0 or -errno. */
static int srcds_handshake(int fd, const struct sockaddr_in *to, uint64_t timeout_ms)
{
	uint8_t q[] = "\xff\xff\xff\xffqgetchallengesteam\0", k[64] = { 0xff, 0xff, 0xff, 0xff, 'k' };
	uint8_t got[64];
	int r = oob_exchange(fd, to, q, sizeof(q) - 1, 'A', got, timeout_ms);

	if (r < 0)
		return r;
	if (r < 13)
		return -EPROTO;
	memcpy(k + 5, "\x18\x00\x00\x00\x03\x00\x00\x00", 8);
	memcpy(k + 13, got + 9, 4);
	memcpy(k + 17, "bifrost\0\0", 9);
	r = oob_exchange(fd, to, k, 26, 'B', got, timeout_ms);
	return r < 0 ? r : 0;
}

/* Sends one WHOAMI; the first 'YOU ...' answer goes to got[LINE_LEN]. Its length or -errno. */
static int udp_whoami(int fd, const struct sockaddr_in *to, char *got, uint64_t timeout_ms)
{
	uint64_t end = mono_ms() + timeout_ms;
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
	uint64_t start = mono_ms(), next = start, last_send = start;
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
	for (uint64_t t = start; t < limit; t = mono_ms()) {
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
	uint64_t end = mono_ms() + timeout_ms;
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
		err = read_line(fd, &lb, got, mono_ms() + p->timeout_ms);
		received += err == n && !memcmp(got, line, (size_t)n);
	}
	if (err < 0)
		fprintf(stderr, PROG ": stopped after %llu lines: %s\n", (unsigned long long)sent,
			strerror(-err));
	return report(p, sent, received);
}

int cmd_probe(int argc, char **argv, bool tcp)
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
			err = send_line(fd, "WHOAMI\n", 7) ?: read_line(fd, &lb, got, mono_ms() + p.timeout_ms);
		else
			err = udp_whoami(fd, &to, got, p.timeout_ms);
		if (err < 0)
			fprintf(stderr, PROG ": no WHOAMI answer from %s: %s\n", ep, strerror(-err));
		else
			print_reply(got, (size_t)err);
		ret = err >= 4 && !memcmp(got, "YOU ", 4) ? 0 : 1;
	} else if (tcp) {
		ret = tcp_lines(fd, &p);
	} else if (p.srcds && (err = srcds_handshake(fd, &to, p.timeout_ms))) {
		fprintf(stderr, PROG ": Source handshake with %s failed: %s\n", ep,
			err == -ECONNREFUSED ? "rejected ('9')" : strerror(-err));
		ret = report(&p, 0, 0);
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
