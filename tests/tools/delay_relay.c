/* delay_relay.c - a TCP relay that holds every byte for a while, for the fault soak
 * (tests/soak/faults.sh): this kernel has neither netem nor fq, so a slow link to
 * Redis is made in user space. Accepts on LISTEN, connects each client to TARGET,
 * and forwards both ways, each chunk written DELAY ms after it was read (order kept).
 * SIGUSR1 sets the delay to SLOW ms, SIGUSR2 back to 0; it starts at NOW ms (default 0:
 * the lab's WAN links between regions start slow, BF_LAB_WAN_MS). Bounded: 64
 * connections, 4 MiB queued per direction (reading stops past it). Runs until SIGTERM.
 *
 *   delay_relay LISTEN_IP:PORT TARGET_IP:PORT SLOW_MS [NOW_MS] */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 64
#define MAX_QUEUED (4 << 20)
#define CHUNK 16384

struct chunk {
	struct chunk *next;
	long long due_ms;
	size_t len, off;
	char data[];
};

struct dir { /* from fds[a] to fds[b] */
	struct chunk *head, *tail;
	size_t queued;
	int eof;
};

struct conn {
	int fd[2];      /* 0 client, 1 target */
	struct dir d[2]; /* d[0]: client -> target, d[1]: target -> client */
	int used;
};

static volatile sig_atomic_t delay_ms, slow_ms, stop;

static void on_sig(int s)
{
	if (s == SIGUSR1)
		delay_ms = slow_ms;
	else if (s == SIGUSR2)
		delay_ms = 0;
	else
		stop = 1;
}

static long long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static int parse(const char *s, struct sockaddr_in *a)
{
	char ip[64];
	const char *c = strrchr(s, ':');

	if (!c || (size_t)(c - s) >= sizeof(ip))
		return -1;
	memcpy(ip, s, (size_t)(c - s));
	ip[c - s] = '\0';
	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_port = htons((uint16_t)atoi(c + 1));
	return inet_pton(AF_INET, ip, &a->sin_addr) == 1 ? 0 : -1;
}

static void drop(struct conn *c)
{
	for (int i = 0; i < 2; i++) {
		struct chunk *k = c->d[i].head, *n;

		for (; k; k = n) {
			n = k->next;
			free(k);
		}
		close(c->fd[i]);
	}
	memset(c, 0, sizeof(*c));
}

int main(int argc, char **argv)
{
	struct sockaddr_in la, ta;
	struct conn conns[MAX_CONNS] = { 0 };
	struct sigaction sa = { .sa_handler = on_sig };
	int lfd, one = 1;

	if ((argc != 4 && argc != 5) || parse(argv[1], &la) || parse(argv[2], &ta) ||
	    atoi(argv[3]) < 0 || (argc == 5 && atoi(argv[4]) < 0)) {
		fprintf(stderr, "usage: delay_relay LISTEN_IP:PORT TARGET_IP:PORT SLOW_MS [NOW_MS]\n");
		return 2;
	}
	slow_ms = atoi(argv[3]);
	delay_ms = argc == 5 ? atoi(argv[4]) : 0;
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&la, sizeof(la)) || listen(lfd, 16)) {
		perror("delay_relay: listen");
		return 1;
	}
	while (!stop) {
		struct pollfd p[1 + 2 * MAX_CONNS];
		int map[1 + 2 * MAX_CONNS], n = 1, timeout = 1000;
		long long now = now_ms();

		p[0] = (struct pollfd){ .fd = lfd, .events = POLLIN };
		for (int i = 0; i < MAX_CONNS; i++) {
			if (!conns[i].used)
				continue;
			for (int s = 0; s < 2; s++) {
				struct dir *in = &conns[i].d[s], *out = &conns[i].d[!s];
				short ev = 0;

				if (!in->eof && in->queued < MAX_QUEUED)
					ev |= POLLIN;
				if (out->head && out->head->due_ms <= now)
					ev |= POLLOUT;
				else if (out->head && out->head->due_ms - now < timeout)
					timeout = (int)(out->head->due_ms - now);
				p[n] = (struct pollfd){ .fd = conns[i].fd[s], .events = ev };
				map[n++] = i * 2 + s;
			}
		}
		if (poll(p, (nfds_t)n, timeout < 0 ? 0 : timeout) < 0 && errno != EINTR)
			break;
		if (p[0].revents & POLLIN) {
			int cfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK), tfd, slot = -1;

			for (int i = 0; i < MAX_CONNS && slot < 0; i++)
				if (!conns[i].used)
					slot = i;
			tfd = cfd >= 0 && slot >= 0 ? socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0) : -1;
			if (tfd >= 0 && (connect(tfd, (struct sockaddr *)&ta, sizeof(ta)) == 0 ||
					 errno == EINPROGRESS)) {
				conns[slot].fd[0] = cfd;
				conns[slot].fd[1] = tfd;
				conns[slot].used = 1;
				setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
				setsockopt(tfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
			} else {
				if (cfd >= 0)
					close(cfd);
				if (tfd >= 0)
					close(tfd);
			}
		}
		for (int k = 1; k < n; k++) {
			struct conn *c = &conns[map[k] / 2];
			int s = map[k] % 2;
			struct dir *in = &c->d[s], *out = &c->d[!s];

			if (!c->used)
				continue;
			if (p[k].revents & (POLLIN | POLLHUP | POLLERR)) {
				struct chunk *ch = malloc(sizeof(*ch) + CHUNK);
				ssize_t r = ch ? read(c->fd[s], ch->data, CHUNK) : -1;

				if (r > 0) {
					ch->next = NULL;
					ch->len = (size_t)r;
					ch->off = 0;
					ch->due_ms = now_ms() + delay_ms;
					if (in->tail)
						in->tail->next = ch;
					else
						in->head = ch;
					in->tail = ch;
					in->queued += (size_t)r;
				} else {
					free(ch);
					if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
						drop(c); /* either end gone: both go */
						continue;
					}
				}
			}
			if (p[k].revents & POLLOUT) {
				struct chunk *ch = out->head;
				ssize_t w = write(c->fd[s], ch->data + ch->off, ch->len - ch->off);

				if (w < 0 && errno != EAGAIN && errno != EINTR) {
					drop(c);
					continue;
				}
				if (w > 0) {
					ch->off += (size_t)w;
					out->queued -= (size_t)w;
					if (ch->off == ch->len) {
						out->head = ch->next;
						if (!out->head)
							out->tail = NULL;
						free(ch);
					}
				}
			}
		}
	}
	for (int i = 0; i < MAX_CONNS; i++)
		if (conns[i].used)
			drop(&conns[i]);
	close(lfd);
	return 0;
}
