/* netprobe.c - bf-netprobe: the lab's UDP/TCP echo game-server stand-in (with an A2S
 * responder), loss probes and an A2S query client. */
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
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "a2s.h"
#include "addr.h"
#include "netprobe_forge.h"
#include "text.h"

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
#define A2S_MAX_RULES 2000

static void usage(FILE *f)
{
	fprintf(f,
		"Usage:\n"
		"  " PROG " serve [--udp A.B.C.D:PORT]... [--tcp A.B.C.D:PORT]... [--count-file PATH]\n"
		"                [A2S options]\n"
		"      Echo server; 'WHOAMI' (datagram or line) gets 'YOU <ip>:<port>', the source\n"
		"      it sees. Counters and peers go to PATH (atomically, at most every 100 ms),\n"
		"      or to stderr on SIGUSR1. Runs until SIGTERM/SIGINT. A2S queries received\n"
		"      are counted by kind (line 'a2s_queries=N info=N ...') whether answered or not.\n"
		"      A2S options (any of them turns the responder on; UDP sockets only):\n"
		"        --a2s                  answer A2S queries like a Source server, with its own\n"
		"                               challenge (S2C_CHALLENGE first, then the reply)\n"
		"        --a2s-name NAME        server name (default 'bf-netprobe')\n"
		"        --a2s-map MAP          map (default 'de_dust2')\n"
		"        --a2s-game GAME        game (default 'Counter-Strike: Global Offensive')\n"
		"        --a2s-folder DIR       game folder (default 'csgo')\n"
		"        --a2s-appid N          Steam app id (default 730)\n"
		"        --a2s-players N        players 'player1'..'playerN' (0..255, default 0)\n"
		"        --a2s-max-players N    max players (default 32, or N players if more)\n"
		"        --a2s-bots N           how many of the players are bots (default 0)\n"
		"        --a2s-rules N          rules 'bf_rule_000'='value_0'.. (0..2000, default 0);\n"
		"                               replies above 1400 bytes go out split (200 need 4 parts)\n"
		"        --a2s-no-challenge     answer A2S_INFO without a challenge (pre-2020 servers);\n"
		"                               PLAYER and RULES still need one\n"
		"        --a2s-mute             count A2S queries, answer none (a server that times out)\n"
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
		"  " PROG " a2s --to A.B.C.D:PORT [--from A.B.C.D[:PORT]] [--kind info|player|rules|\n"
		"                  getchallenge] [--challenge auto|none|HEX] [--timeout-ms T] [--json]\n"
		"      One A2S query (default info). auto (default): ask without a challenge and\n"
		"      repeat with the one the server sends (at most 3 rounds); none: send once\n"
		"      without a challenge and show the answer; HEX: send once with these 4 bytes\n"
		"      (8 hex digits, in wire order). Split replies are reassembled. Prints the\n"
		"      parsed answer and every datagram's size, sent and received. Exit 0 when a\n"
		"      well-formed answer (reply, or challenge unless auto) came within T ms\n"
		"      (default 1000) of each send, 1 otherwise.\n"
		"  " PROG " forge --dev IFNAME --src A.B.C.D --to A.B.C.D[:PORT] [...]: forged raw frames\n"
		"      (any field; lab namespaces only), see '" PROG " forge --help'.\n"
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

/* The A2S responder's settings and what it has counted. */
struct a2s_srv {
	bool on, no_challenge, mute;
	const char *name, *map, *game, *folder;
	uint64_t appid, players, max_players, bots, rules;
	struct a2s_keys keys;
	uint32_t split_id;
	uint8_t *player_reply, *rules_reply; /* built once at start */
	int player_len, rules_len;
	uint64_t received[A2S_KIND_MAX], challenges, replies, parts;
};

struct server {
	int fd[MAX_LISTEN], n_listen, n_peers;
	uint16_t port[MAX_LISTEN];
	bool tcp[MAX_LISTEN], dirty;
	const char *count_file;
	uint64_t udp_packets, tcp_lines, written_ms;
	uint32_t peers[MAX_PEERS];
	uint32_t peer_a2s[MAX_PEERS];   /* A2S queries from each peer */
	uint16_t peer_slot[PEER_SLOTS]; /* index + 1 into peers, 0 = empty */
	struct client cl[MAX_CLIENTS];
	struct a2s_srv a2s;
	uint8_t dgram[65536];
	uint8_t reply[A2S_REPLY_MAX];
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

/* ---- A2S responder ---- */

static void a2s_send(int fd, const void *b, size_t n, const struct sockaddr_in *sa)
{
	sendto(fd, b, n, MSG_DONTWAIT, (const struct sockaddr *)sa, sizeof(*sa));
}

/* Sends a reply, split into parts when it is longer than one packet. */
static void a2s_send_reply(struct server *s, int fd, const uint8_t *reply, int len,
			   const struct sockaddr_in *sa)
{
	uint8_t part[A2S_SPLIT_HDR_LEN + A2S_SPLIT_PAYLOAD];
	int parts = a2s_split_count((size_t)len);
	uint32_t id = ++s->a2s.split_id;

	s->a2s.replies++;
	for (int i = 0; i < parts; i++) {
		int n = parts == 1 ? len :
				     a2s_split_build(reply, (size_t)len, id, (unsigned)i, part, sizeof(part));

		if (n < 0)
			return;
		a2s_send(fd, parts == 1 ? reply : part, (size_t)n, sa);
		s->a2s.parts += parts > 1;
	}
}

/* Answers one A2S query the way a Source server does: a challenge first (for INFO unless
 * --a2s-no-challenge), the reply once the client repeats the query with it. */
static void a2s_answer(struct server *s, int fd, uint16_t port, const struct a2s_req *q,
		       const struct sockaddr_in *sa)
{
	struct a2s_srv *a = &s->a2s;
	uint64_t now = (uint64_t)time(NULL) * 1000;
	bool ok = q->has_challenge && a2s_challenge_ok(&a->keys, sa->sin_addr.s_addr, q->challenge, now);
	uint8_t ch[A2S_CHALLENGE_LEN];
	int n;

	if (q->kind == A2S_MALFORMED || a->mute)
		return; /* a real server ignores malformed queries too */
	if (q->kind == A2S_INFO && (ok || a->no_challenge)) {
		struct a2s_info i = {
			.protocol = 17, .name = a->name, .map = a->map, .folder = a->folder,
			.game = a->game, .appid = (uint16_t)a->appid, .players = (uint8_t)a->players,
			.max_players = (uint8_t)a->max_players, .bots = (uint8_t)a->bots,
			.server_type = 'd', .environment = 'l', .visibility = 0, .vac = 1,
			.version = "1.0.0." BIFROST_VERSION, .has_edf = true,
			.edf = A2S_EDF_PORT | A2S_EDF_STEAMID | A2S_EDF_KEYWORDS | A2S_EDF_GAMEID,
			.port = port, .steamid = 85568392920039000ULL, .keywords = "bifrost,stand-in",
			.gameid = a->appid,
		};

		n = a2s_build_info(s->reply, sizeof(s->reply), &i);
		if (n > 0)
			a2s_send_reply(s, fd, s->reply, n, sa);
		return;
	}
	if (ok && q->kind == A2S_PLAYER) {
		a2s_send_reply(s, fd, a->player_reply, a->player_len, sa);
		return;
	}
	if (ok && q->kind == A2S_RULES) {
		a2s_send_reply(s, fd, a->rules_reply, a->rules_len, sa);
		return;
	}
	/* No (valid) challenge, or W: hand out the current one. */
	n = a2s_build_challenge(ch, sizeof(ch), a2s_challenge_now(&a->keys, sa->sin_addr.s_addr, now));
	a2s_send(fd, ch, (size_t)n, sa);
	a->challenges++;
}

/* Builds the PLAYER and RULES replies the responder serves. 0 or -errno. */
static int a2s_prepare(struct a2s_srv *a)
{
	static struct a2s_player pl[255];
	static struct a2s_rule ru[A2S_MAX_RULES];
	static char pname[255][16], rname[A2S_MAX_RULES][16], rval[A2S_MAX_RULES][16];

	if (getrandom(a->keys.cur, sizeof(a->keys.cur), 0) != (ssize_t)sizeof(a->keys.cur))
		return -errno;
	for (unsigned i = 0; i < a->players; i++) {
		snprintf(pname[i], sizeof(pname[i]), "player%u", i + 1);
		pl[i] = (struct a2s_player){ .index = 0, .name = pname[i], .score = (int32_t)(i * 3),
					     .duration = 60.5f * (float)(i + 1) };
	}
	for (unsigned i = 0; i < a->rules; i++) {
		snprintf(rname[i], sizeof(rname[i]), "bf_rule_%03u", i);
		snprintf(rval[i], sizeof(rval[i]), "value_%u", i);
		ru[i] = (struct a2s_rule){ rname[i], rval[i] };
	}
	a->player_reply = malloc(A2S_REPLY_MAX);
	a->rules_reply = malloc(A2S_REPLY_MAX);
	if (!a->player_reply || !a->rules_reply)
		return -ENOMEM;
	a->player_len = a2s_build_player(a->player_reply, A2S_REPLY_MAX, pl, a->players);
	a->rules_len = a2s_build_rules(a->rules_reply, A2S_REPLY_MAX, ru, a->rules);
	return a->player_len < 0 ? a->player_len : a->rules_len < 0 ? a->rules_len : 0;
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
					a2s_answer(s, fd, port, &q, &sa);
					continue;
				}
			}
		}
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

static int a2s_num(const char *opt, const char *arg, uint64_t max, uint64_t *out)
{
	if (bf_parse_u64(arg, max, out)) {
		fprintf(stderr, PROG ": --%s: want 0..%llu, got '%s'\n", opt, (unsigned long long)max,
			arg);
		return -EINVAL;
	}
	return 0;
}

static int a2s_text(const char *opt, const char *arg, const char **out)
{
	if (strlen(arg) > 255) {
		fprintf(stderr, PROG ": --%s: at most 255 bytes\n", opt);
		return -EINVAL;
	}
	*out = arg;
	return 0;
}

static int serve_a2s_opt(struct a2s_srv *a, int opt, const char *arg, bool *max_given)
{
	a->on = true;
	switch (opt) {
	case 'A':
		return 0;
	case 'C':
		a->no_challenge = true;
		return 0;
	case 'Z':
		a->mute = true;
		return 0;
	case 'N':
		return a2s_text("a2s-name", arg, &a->name);
	case 'M':
		return a2s_text("a2s-map", arg, &a->map);
	case 'G':
		return a2s_text("a2s-game", arg, &a->game);
	case 'F':
		return a2s_text("a2s-folder", arg, &a->folder);
	case 'I':
		return a2s_num("a2s-appid", arg, 65535, &a->appid);
	case 'P':
		return a2s_num("a2s-players", arg, 255, &a->players);
	case 'X':
		*max_given = true;
		return a2s_num("a2s-max-players", arg, 255, &a->max_players);
	case 'B':
		return a2s_num("a2s-bots", arg, 255, &a->bots);
	case 'R':
		return a2s_num("a2s-rules", arg, A2S_MAX_RULES, &a->rules);
	}
	return -EINVAL;
}

static int serve_a2s_check(struct a2s_srv *a, bool max_given)
{
	if (!max_given && a->players > a->max_players)
		a->max_players = a->players;
	if (a->bots > a->players) {
		fprintf(stderr, PROG ": --a2s-bots is more than --a2s-players\n");
		return -EINVAL;
	}
	return 0;
}

static int cmd_serve(int argc, char **argv)
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
	s->a2s = (struct a2s_srv){ .name = "bf-netprobe", .map = "de_dust2", .folder = "csgo",
				   .game = "Counter-Strike: Global Offensive", .appid = 730,
				   .max_players = 32 };
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
		else if (strchr("ANMGFIPXBRCZ", opt))
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
		usage(stderr);
	ret = err == -EINVAL ? 2 : 1;
	if (err)
		goto out;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGUSR1);
	if (s->a2s.on && (err = a2s_prepare(&s->a2s))) {
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
	free(s->a2s.player_reply);
	free(s->a2s.rules_reply);
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

/* ---- a2s client ---- */

#define A2S_MAX_ROUNDS 4   /* first send + up to 3 with a fresh challenge */
#define A2S_MAX_SIZES 300  /* datagram sizes remembered for the report */

enum { CH_AUTO, CH_NONE, CH_GIVEN };

struct a2s_cli {
	uint32_t to, from;
	uint16_t to_port, from_port;
	bool has_from;
	enum a2s_kind kind;
	int mode, json;
	uint32_t challenge;       /* CH_GIVEN */
	uint64_t timeout_ms;
	int sent[A2S_MAX_ROUNDS], n_sent;
	int recvd[A2S_MAX_SIZES], n_recvd;
	unsigned long long sent_bytes, recvd_bytes, recvd_count;
	bool got_challenge;
	uint32_t last_challenge;
};

static void json_char(uint8_t c)
{
	char s[2] = { (char)c, 0 };

	bf_json_fput(stdout, s);
}

static void json_float(float f)
{
	if (f != f || f > 1e30f || f < -1e30f) /* NaN or absurd: not a JSON number */
		fputs("null", stdout);
	else
		printf("%.3f", (double)f);
}

static void print_info(const struct a2s_info *i, bool json)
{
	if (!json) {
		printf("info: name=");
		bf_json_fput(stdout, i->name);
		printf(" map=");
		bf_json_fput(stdout, i->map);
		printf(" folder=");
		bf_json_fput(stdout, i->folder);
		printf(" game=");
		bf_json_fput(stdout, i->game);
		printf(" appid=%u players=%u/%u bots=%u type=%c env=%c visibility=%u vac=%u version=",
		       i->appid, i->players, i->max_players, i->bots,
		       isprint(i->server_type) ? i->server_type : '?',
		       isprint(i->environment) ? i->environment : '?', i->visibility, i->vac);
		bf_json_fput(stdout, i->version);
		if (i->has_edf)
			printf(" edf=0x%02x", i->edf);
		if (i->edf & A2S_EDF_PORT)
			printf(" port=%u", i->port);
		if (i->edf & A2S_EDF_STEAMID)
			printf(" steamid=%llu", (unsigned long long)i->steamid);
		if (i->edf & A2S_EDF_TV) {
			printf(" tv_port=%u tv_name=", i->tv_port);
			bf_json_fput(stdout, i->tv_name);
		}
		if (i->edf & A2S_EDF_KEYWORDS) {
			printf(" keywords=");
			bf_json_fput(stdout, i->keywords);
		}
		if (i->edf & A2S_EDF_GAMEID)
			printf(" gameid=%llu", (unsigned long long)i->gameid);
		putchar('\n');
		return;
	}
	printf("\"info\":{\"protocol\":%u,\"name\":", i->protocol);
	bf_json_fput(stdout, i->name);
	printf(",\"map\":");
	bf_json_fput(stdout, i->map);
	printf(",\"folder\":");
	bf_json_fput(stdout, i->folder);
	printf(",\"game\":");
	bf_json_fput(stdout, i->game);
	printf(",\"appid\":%u,\"players\":%u,\"max_players\":%u,\"bots\":%u,\"server_type\":",
	       i->appid, i->players, i->max_players, i->bots);
	json_char(i->server_type);
	printf(",\"environment\":");
	json_char(i->environment);
	printf(",\"visibility\":%u,\"vac\":%u,\"version\":", i->visibility, i->vac);
	bf_json_fput(stdout, i->version);
	if (i->appid == A2S_APPID_THE_SHIP)
		printf(",\"ship_mode\":%u,\"ship_witnesses\":%u,\"ship_duration\":%u", i->ship_mode,
		       i->ship_witnesses, i->ship_duration);
	if (i->has_edf)
		printf(",\"edf\":%u", i->edf);
	if (i->edf & A2S_EDF_PORT)
		printf(",\"port\":%u", i->port);
	if (i->edf & A2S_EDF_STEAMID) /* strings: 64 bits do not survive a JSON number */
		printf(",\"steamid\":\"%llu\"", (unsigned long long)i->steamid);
	if (i->edf & A2S_EDF_TV) {
		printf(",\"tv_port\":%u,\"tv_name\":", i->tv_port);
		bf_json_fput(stdout, i->tv_name);
	}
	if (i->edf & A2S_EDF_KEYWORDS) {
		printf(",\"keywords\":");
		bf_json_fput(stdout, i->keywords);
	}
	if (i->edf & A2S_EDF_GAMEID)
		printf(",\"gameid\":\"%llu\"", (unsigned long long)i->gameid);
	putchar('}');
}

static void print_players(const struct a2s_player *p, size_t n, bool json)
{
	if (json)
		printf("\"player_count\":%zu,\"players\":[", n);
	else
		printf("players: %zu\n", n);
	for (size_t i = 0; i < n; i++) {
		if (json) {
			printf("%s{\"index\":%u,\"name\":", i ? "," : "", p[i].index);
			bf_json_fput(stdout, p[i].name);
			printf(",\"score\":%d,\"duration\":", p[i].score);
			json_float(p[i].duration);
			putchar('}');
		} else {
			printf("  %3u ", p[i].index);
			bf_json_fput(stdout, p[i].name);
			printf(" score=%d duration=", p[i].score);
			json_float(p[i].duration);
			putchar('\n');
		}
	}
	if (json)
		putchar(']');
}

static void print_rules(const struct a2s_rule *r, size_t n, bool json)
{
	if (json)
		printf("\"rule_count\":%zu,\"rules\":{", n);
	else
		printf("rules: %zu\n", n);
	for (size_t i = 0; i < n; i++) {
		if (json) {
			if (i)
				putchar(',');
			bf_json_fput(stdout, r[i].name);
			putchar(':');
			bf_json_fput(stdout, r[i].value);
		} else {
			printf("  ");
			bf_json_fput(stdout, r[i].name);
			putchar('=');
			bf_json_fput(stdout, r[i].value);
			putchar('\n');
		}
	}
	if (json)
		putchar('}');
}

static void note_recv(struct a2s_cli *c, ssize_t r)
{
	if (c->n_recvd < A2S_MAX_SIZES)
		c->recvd[c->n_recvd++] = (int)r;
	c->recvd_bytes += (unsigned long long)r;
	c->recvd_count++;
}

/* Waits for one whole answer within the timeout: a one-packet reply, or every part of a
 * split one, into buf. Its length, or -ETIMEDOUT, -ECONNREFUSED (port unreachable),
 * -EBADMSG / -EOPNOTSUPP / -EMSGSIZE with *what set. */
static int a2s_recv_answer(int fd, struct a2s_cli *c, uint8_t *buf, size_t cap, const char **what)
{
	static uint8_t pkt[65536];
	uint64_t end = now_ms() + c->timeout_ms;
	struct a2s_asm a;
	int err;

	a2s_asm_init(&a, buf, cap);
	while ((err = wait_fd(fd, POLLIN, end)) >= 0) {
		ssize_t r = err ? recv(fd, pkt, sizeof(pkt), MSG_DONTWAIT) : -1;
		int t, rc;

		if (r < 0) {
			if (!err || again(errno))
				continue;
			return -errno;
		}
		note_recv(c, r);
		t = a2s_reply_type(pkt, (size_t)r);
		if (t < 0) {
			*what = "not an A2S answer";
			return -EBADMSG;
		}
		if (t != A2S_PKT_SPLIT) {
			if ((size_t)r > cap) {
				*what = "answer too long";
				return -EMSGSIZE;
			}
			memcpy(buf, pkt, (size_t)r);
			return (int)r;
		}
		rc = a2s_asm_add(&a, pkt, (size_t)r, what);
		if (rc == 1)
			return (int)a.len;
		if (rc < 0 && rc != -EALREADY && rc != -ESTALE)
			return rc;
	}
	*what = a.started ? "parts missing" : "no answer";
	return err;
}

static int a2s_request(const struct a2s_cli *c, uint8_t *b, size_t cap, bool with, uint32_t ch)
{
	switch (c->kind) {
	case A2S_INFO:
		return a2s_build_info_req(b, cap, with, ch);
	case A2S_PLAYER:
		return a2s_build_player_req(b, cap, with ? ch : A2S_ASK_CHALLENGE);
	case A2S_RULES:
		return a2s_build_rules_req(b, cap, with ? ch : A2S_ASK_CHALLENGE);
	default:
		return a2s_build_getchallenge_req(b, cap);
	}
}

/* Prints the reply of the kind asked for. 0, or -EBADMSG with *what set. */
static int a2s_print_reply(const struct a2s_cli *c, const uint8_t *b, size_t len, const char **what)
{
	static struct a2s_player pl[255];
	static struct a2s_rule ru[65535];
	struct a2s_info info;
	size_t n;

	if (c->kind == A2S_INFO && !a2s_info_parse(b, len, &info, what)) {
		print_info(&info, c->json);
		return 0;
	}
	if (c->kind == A2S_PLAYER && !a2s_player_parse(b, len, pl, 255, &n, what)) {
		print_players(pl, n, c->json);
		return 0;
	}
	if (c->kind == A2S_RULES && !a2s_rules_parse(b, len, ru, 65535, &n, what)) {
		print_rules(ru, n, c->json);
		return 0;
	}
	return -EBADMSG;
}

static void print_sizes(const char *name, const int *v, int n, unsigned long long bytes,
			unsigned long long count, bool json)
{
	if (json) {
		printf(",\"%s\":[", name);
		for (int i = 0; i < n; i++)
			printf("%s%d", i ? "," : "", v[i]);
		printf("],\"%s_bytes\":%llu", name, bytes);
		return;
	}
	printf("%s %llu datagram%s, %llu bytes (", name, count, count == 1 ? "" : "s", bytes);
	for (int i = 0; i < n; i++)
		printf("%s%d", i ? " " : "", v[i]);
	printf("%s)\n", (unsigned long long)n < count ? " ..." : "");
}

static int parse_a2s_cli(int argc, char **argv, struct a2s_cli *c)
{
	static const struct option lo[] = {
		{ "to", required_argument, NULL, 't' },
		{ "from", required_argument, NULL, 'f' },
		{ "kind", required_argument, NULL, 'k' },
		{ "challenge", required_argument, NULL, 'c' },
		{ "timeout-ms", required_argument, NULL, 'w' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool have_to = false;
	int opt, idx = 0, err;

	c->kind = A2S_INFO;
	c->timeout_ms = 1000;
	while ((opt = getopt_long(argc, argv, "h", lo, &idx)) != -1) {
		err = 0;
		switch (opt) {
		case 't':
			err = bf_parse_endpoint(optarg, false, &c->to, &c->to_port);
			have_to = !err;
			break;
		case 'f':
			c->has_from = true;
			if (strchr(optarg, ':'))
				err = bf_parse_endpoint(optarg, true, &c->from, &c->from_port);
			else
				err = bf_parse_ipv4(optarg, &c->from);
			break;
		case 'k':
			c->kind = !strcmp(optarg, "info")   ? A2S_INFO :
				  !strcmp(optarg, "player") ? A2S_PLAYER :
				  !strcmp(optarg, "rules")  ? A2S_RULES :
				  !strcmp(optarg, "getchallenge") ? A2S_GETCHALLENGE : A2S_NOT;
			err = c->kind == A2S_NOT ? -EINVAL : 0;
			break;
		case 'c':
			if (!strcmp(optarg, "auto")) {
				c->mode = CH_AUTO;
			} else if (!strcmp(optarg, "none")) {
				c->mode = CH_NONE;
			} else {
				/* 8 hex digits, the 4 bytes in wire order; read little endian */
				err = strlen(optarg) == 8 ? 0 : -EINVAL;
				for (int i = 0; !err && i < 8; i++)
					err = isxdigit((unsigned char)optarg[i]) ? 0 : -EINVAL;
				if (!err)
					c->challenge = __builtin_bswap32(
						(uint32_t)strtoul(optarg, NULL, 16));
				c->mode = CH_GIVEN;
			}
			break;
		case 'w':
			err = parse_num(optarg, 1, 600000, &c->timeout_ms);
			break;
		case 'j':
			c->json = 1;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
		if (err) {
			fprintf(stderr, PROG ": --%s %s: bad value (see --help)\n", lo[idx].name, optarg);
			return -EINVAL;
		}
	}
	if (optind < argc || !have_to) {
		fprintf(stderr, PROG ": %s%s\n", optind < argc ? "unexpected argument " : "--to is required",
			optind < argc ? argv[optind] : "");
		return -EINVAL;
	}
	if (c->kind == A2S_GETCHALLENGE && c->mode == CH_GIVEN) {
		fprintf(stderr, PROG ": --kind getchallenge carries no challenge\n");
		return -EINVAL;
	}
	return 0;
}

/* The query: send, read the whole answer, follow a challenge (auto), print. Exit status. */
static int a2s_query(int fd, struct a2s_cli *c, uint8_t *buf, size_t cap, const char **result,
		     const char **what)
{
	static const uint8_t want[A2S_KIND_MAX] = { [A2S_INFO] = A2S_R_INFO,
						    [A2S_PLAYER] = A2S_R_PLAYER,
						    [A2S_RULES] = A2S_R_RULES };
	bool with = c->mode == CH_GIVEN;
	uint32_t ch = c->challenge;
	uint8_t req[64];

	for (int round = 0; round < A2S_MAX_ROUNDS; round++) {
		int n = a2s_request(c, req, sizeof(req), with, ch), len;

		if (send(fd, req, (size_t)n, 0) != n) {
			*result = "send failed";
			*what = strerror(errno);
			return -EIO;
		}
		c->sent[c->n_sent++] = n;
		c->sent_bytes += (unsigned long long)n;
		len = a2s_recv_answer(fd, c, buf, cap, what);
		if (len < 0) {
			*result = len == -ETIMEDOUT ? "timeout" :
				  len == -ECONNREFUSED ? "unreachable" : "garbage";
			if (len == -ECONNREFUSED)
				*what = "port unreachable";
			return len;
		}
		if (buf[4] == A2S_R_CHALLENGE) {
			if (a2s_challenge_parse(buf, (size_t)len, &ch)) {
				*result = "garbage";
				*what = "S2C_CHALLENGE not 9 bytes";
				return -EBADMSG;
			}
			c->got_challenge = true;
			c->last_challenge = ch;
			if (c->kind == A2S_GETCHALLENGE || c->mode != CH_AUTO) {
				*result = "challenge";
				*what = NULL;
				return 0;
			}
			with = true;
			continue;
		}
		if (c->kind == A2S_GETCHALLENGE || buf[4] != want[c->kind]) {
			*result = "garbage";
			*what = "unexpected answer type";
			return -EBADMSG;
		}
		*result = "reply";
		*what = NULL; /* a duplicate part on the way is no error */
		return len;
	}
	*result = "garbage";
	*what = "a new challenge every time";
	return -EPROTO;
}

static int cmd_a2s(int argc, char **argv)
{
	static uint8_t buf[A2S_REPLY_MAX];
	struct a2s_cli c = { .mode = CH_AUTO };
	struct sockaddr_in to = { .sin_family = AF_INET };
	const char *result = "", *what = NULL;
	char ep[EP_STRLEN];
	int fd, len, ok;

	if (parse_a2s_cli(argc, argv, &c))
		return 2;
	to.sin_addr.s_addr = c.to;
	to.sin_port = htons(c.to_port);
	fd = open_sock(SOCK_DGRAM, c.from, c.from_port, c.has_from);
	if (fd < 0) {
		fprintf(stderr, PROG ": bind %s: %s\n", ep_str(c.from, c.from_port, ep), strerror(-fd));
		return 1;
	}
	/* Connected: only the server's datagrams are read, and ICMP errors are reported. */
	if (connect(fd, (struct sockaddr *)&to, sizeof(to))) {
		fprintf(stderr, PROG ": connect: %s\n", strerror(errno));
		close(fd);
		return 1;
	}
	len = a2s_query(fd, &c, buf, sizeof(buf), &result, &what);
	ok = len >= 0;
	ep_str(c.to, c.to_port, ep);
	if (c.json) {
		printf("{\"to\":\"%s\",\"kind\":\"%s\",\"result\":\"%s\"", ep, a2s_kind_name(c.kind),
		       result);
		if (c.got_challenge)
			printf(",\"challenge\":\"%08x\"", __builtin_bswap32(c.last_challenge));
		print_sizes("sent", c.sent, c.n_sent, c.sent_bytes, (unsigned long long)c.n_sent, true);
		print_sizes("received", c.recvd, c.n_recvd, c.recvd_bytes, c.recvd_count, true);
	} else {
		printf("%s %s: %s%s%s\n", ep, a2s_kind_name(c.kind), result, what ? ": " : "",
		       what ? what : "");
		print_sizes("sent", c.sent, c.n_sent, c.sent_bytes, (unsigned long long)c.n_sent, false);
		print_sizes("received", c.recvd, c.n_recvd, c.recvd_bytes, c.recvd_count, false);
		if (c.got_challenge)
			printf("challenge %08x\n", __builtin_bswap32(c.last_challenge));
	}
	if (len > 0) {
		if (c.json)
			putchar(',');
		if (a2s_print_reply(&c, buf, (size_t)len, &what)) {
			ok = 0;
			if (c.json)
				printf("\"error\":");
			else
				printf("reply does not parse: ");
			bf_json_fput(stdout, what);
			if (!c.json)
				putchar('\n');
		}
	} else if (!ok && c.json) {
		printf(",\"error\":");
		bf_json_fput(stdout, what);
	}
	if (c.json)
		printf("}\n");
	close(fd);
	return ok ? 0 : 1;
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
	if (!strcmp(argv[1], "a2s"))
		return cmd_a2s(argc - 1, argv + 1);
	if (!strcmp(argv[1], "forge"))
		return netprobe_forge_main(argc - 1, argv + 1);
	fprintf(stderr, PROG ": unknown command '%s' (serve, udp, tcp, a2s, forge; see --help)\n",
		argv[1]);
	return 2;
}
