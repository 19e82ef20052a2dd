/* notify_listen.c - the receiving end of systemd's notification socket, for the
 * tests: binds a unix datagram socket at PATH and appends each datagram received
 * to OUT as one line (its newlines turned into ';'), until SECONDS have passed.
 *
 *   notify_listen PATH OUT SECONDS */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timespec now, end;
	FILE *out;
	int fd;

	if (argc != 4 || strlen(argv[1]) >= sizeof(sa.sun_path) || atoi(argv[3]) <= 0) {
		fprintf(stderr, "usage: notify_listen PATH OUT SECONDS\n");
		return 2;
	}
	strcpy(sa.sun_path, argv[1]);
	unlink(argv[1]);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		perror("notify_listen: bind");
		return 1;
	}
	out = fopen(argv[2], "a");
	if (!out) {
		perror("notify_listen: open");
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += atoi(argv[3]);
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		char buf[4096];
		ssize_t n;
		long left;

		clock_gettime(CLOCK_MONOTONIC, &now);
		left = (end.tv_sec - now.tv_sec) * 1000 + (end.tv_nsec - now.tv_nsec) / 1000000;
		if (left <= 0)
			break;
		if (poll(&p, 1, (int)left) <= 0)
			continue;
		n = recv(fd, buf, sizeof(buf) - 1, 0);
		if (n < 0)
			continue;
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] == '\n')
				buf[i] = ';';
		buf[n] = '\0';
		fprintf(out, "%s\n", buf);
		fflush(out);
	}
	unlink(argv[1]);
	return 0;
}
