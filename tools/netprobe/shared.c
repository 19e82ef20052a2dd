/* shared.c - the helpers of netprobe.h: endpoint text, sockets, waits, option ends. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "netprobe.h"

const char *ep_str(uint32_t addr, uint16_t port, char buf[EP_STRLEN])
{
	char a[BF_ADDR_STRLEN];

	snprintf(buf, EP_STRLEN, "%s:%u", bf_ipv4_str(addr, a), (unsigned)port);
	return buf;
}

bool again(int err)
{
	return err == EAGAIN || err == EWOULDBLOCK || err == EINTR || err == ENOBUFS;
}

int wait_fd(int fd, short events, uint64_t end)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	uint64_t t = mono_ms();
	int r;

	if (t >= end)
		return -ETIMEDOUT;
	r = poll(&pfd, 1, end - t > 1000 ? 1000 : (int)(end - t));
	return r < 0 && errno != EINTR ? -errno : r > 0;
}

int open_sock(int type, uint32_t addr, uint16_t port, bool bind_it)
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

int parse_num(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	int err = bf_parse_u64(s, max, out);

	return err ? err : *out < min ? -ERANGE : 0;
}

int args_done(int argc, char **argv, bool have_to)
{
	if (optind < argc || !have_to) {
		fprintf(stderr, PROG ": %s%s\n", optind < argc ? "unexpected argument " : "--to is required",
			optind < argc ? argv[optind] : "");
		return -EINVAL;
	}
	return 0;
}

int help_or_bad_option(int opt)
{
	if (opt == 'h') {
		netprobe_usage(stdout);
		exit(0);
	}
	netprobe_usage(stderr);
	return -EINVAL;
}
