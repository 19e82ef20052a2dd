/* notify.c - systemd's notification protocol, see notify.h. */
#include "notify.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int bf_notify_to(const char *sock, const char *state)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t n;
	socklen_t len;
	int fd, rc = 0;

	if (!sock || !*sock)
		return 0;
	n = strlen(sock);
	if ((sock[0] != '/' && sock[0] != '@') || n < 2 || n >= sizeof(sa.sun_path))
		return -EINVAL;
	memcpy(sa.sun_path, sock, n);
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0'; /* abstract: the length below says where it ends */
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (sock[0] == '/'));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa, len) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

int bf_notify(const char *state)
{
	return bf_notify_to(getenv("NOTIFY_SOCKET"), state);
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end)
		return -1;
	*out = v;
	return 0;
}

uint64_t bf_watchdog_usec_of(const char *usec, const char *pid, long self)
{
	uint64_t u, p;

	if (parse_u64(usec, &u) || u == 0)
		return 0;
	if (pid && (parse_u64(pid, &p) || p != (uint64_t)self))
		return 0;
	return u;
}

uint64_t bf_watchdog_usec(void)
{
	return bf_watchdog_usec_of(getenv("WATCHDOG_USEC"), getenv("WATCHDOG_PID"), (long)getpid());
}
