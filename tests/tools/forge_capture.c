/* forge_capture.c - test helper for test_forge.sh: captures IPv4 frames arriving on one
 * interface and prints each decoded as a JSON line, with its own checksum code (not
 * pktgen's), so a checksum bug shared by the builder and a checker cannot hide. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PROG "forge_capture"
#define SNAP 65536

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: " PROG " --dev IFNAME --count N [--timeout-ms T] [--ready FILE]\n"
		"Prints the first N IPv4 frames arriving on IFNAME (VLAN tags the kernel took off\n"
		"put back), one JSON line each: len, dmac, smac, tags ('88a8/10,8100/20'), ip (each\n"
		"IPv4 header, outermost first: src, dst, proto, ttl, id, df, len, csum ok|bad), l4\n"
		"(udp/tcp: sport, dport, csum ok|bad|none, tcp flags; icmp: type, code, id, seq,\n"
		"csum) and payload (hex). Creates FILE once listening. Exit 0 with N frames, 1 when\n"
		"T ms (default 3000) pass first, 2 bad usage.\n");
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* RFC 1071, written out again on purpose (see the top of the file). True when the 16-bit
 * one's-complement sum of the data plus `sum` is all ones. */
static bool csum_ok(const uint8_t *p, size_t n, uint32_t sum)
{
	for (size_t i = 0; i < n; i++)
		sum += i % 2 ? p[i] : (uint32_t)p[i] << 8;
	while (sum > 0xffff)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum == 0xffff;
}

static unsigned be16(const uint8_t *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

static void print_hex(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		printf("%02x", p[i]);
}

static void print_mac(const char *name, const uint8_t *m)
{
	printf("\"%s\":\"%02x:%02x:%02x:%02x:%02x:%02x\"", name, m[0], m[1], m[2], m[3], m[4], m[5]);
}

/* The transport header and payload of one datagram (ip points at its IPv4 header). */
static void print_l4(const uint8_t *ip, const uint8_t *l4, size_t n)
{
	uint32_t pseudo = be16(ip + 12) + be16(ip + 14) + be16(ip + 16) + be16(ip + 18) + ip[9] +
			  (uint32_t)n;
	size_t hlen = 0;

	if (ip[9] == IPPROTO_UDP && n >= 8) {
		hlen = 8;
		printf(",\"l4\":{\"sport\":%u,\"dport\":%u,\"ulen\":%u,\"csum\":\"%s\"}", be16(l4),
		       be16(l4 + 2), be16(l4 + 4),
		       !be16(l4 + 6) ? "none" : csum_ok(l4, n, pseudo) ? "ok" : "bad");
	} else if (ip[9] == IPPROTO_TCP && n >= 20 && (size_t)(l4[12] >> 4) * 4 <= n) {
		static const char letters[] = "FSRPAUEC";
		char flags[9] = "";

		for (int b = 0, k = 0; b < 8; b++)
			if (l4[13] & (1 << b))
				flags[k++] = letters[b];
		hlen = (size_t)(l4[12] >> 4) * 4;
		printf(",\"l4\":{\"sport\":%u,\"dport\":%u,\"flags\":\"%s\",\"csum\":\"%s\"}", be16(l4),
		       be16(l4 + 2), *flags ? flags : "none", csum_ok(l4, n, pseudo) ? "ok" : "bad");
	} else if (ip[9] == IPPROTO_ICMP && n >= 8) {
		hlen = 8;
		printf(",\"l4\":{\"type\":%u,\"code\":%u,\"id\":%u,\"seq\":%u,\"csum\":\"%s\"}", l4[0],
		       l4[1], be16(l4 + 4), be16(l4 + 6), csum_ok(l4, n, 0) ? "ok" : "bad");
	}
	printf(",\"payload\":\"");
	print_hex(l4 + hlen, n - hlen);
	putchar('"');
}

/* One frame as a JSON line. Returns false (nothing printed) when it is not IPv4. */
static bool print_frame(const uint8_t *f, size_t len)
{
	size_t off = 12, ntags = 0;
	const uint8_t *ip;
	char tags[64] = "";

	while (off + 4 <= len && (be16(f + off) == 0x8100 || be16(f + off) == 0x88a8) && ntags < 4) {
		size_t k = strlen(tags);

		snprintf(tags + k, sizeof(tags) - k, "%s%04x/%u", k ? "," : "", be16(f + off),
			 be16(f + off + 2) & 0x0fff);
		off += 4;
		ntags++;
	}
	if (off + 2 + 20 > len || be16(f + off) != 0x0800)
		return false;
	off += 2;
	printf("{\"len\":%zu,", len);
	print_mac("dmac", f);
	putchar(',');
	print_mac("smac", f + 6);
	printf(",\"tags\":\"%s\",\"ip\":[", tags);
	for (ip = f + off;;) {
		size_t hl = (size_t)(ip[0] & 0x0f) * 4, tot = be16(ip + 2), avail = len - (size_t)(ip - f);
		char s[INET_ADDRSTRLEN], d[INET_ADDRSTRLEN];

		if ((ip[0] >> 4) != 4 || hl < 20 || tot < hl || tot > avail) {
			printf("{\"error\":\"bad IPv4 header\"}]");
			break;
		}
		inet_ntop(AF_INET, ip + 12, s, sizeof(s));
		inet_ntop(AF_INET, ip + 16, d, sizeof(d));
		printf("%s{\"src\":\"%s\",\"dst\":\"%s\",\"proto\":%u,\"ttl\":%u,\"id\":%u,\"df\":%s,"
		       "\"len\":%zu,\"csum\":\"%s\"}", ip == f + off ? "" : ",", s, d, ip[9], ip[8],
		       be16(ip + 4), ip[6] & 0x40 ? "true" : "false", tot,
		       csum_ok(ip, hl, 0) ? "ok" : "bad");
		if (ip[9] == IPPROTO_IPIP && tot - hl >= 20) {
			ip += hl;
			continue;
		}
		putchar(']');
		print_l4(ip, ip + hl, tot - hl);
		break;
	}
	printf("}\n");
	fflush(stdout);
	return true;
}

/* The frame as it was on the wire: the tag the kernel moved into metadata put back. */
static size_t with_tag(uint8_t *buf, size_t n, const struct msghdr *mh)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR((struct msghdr *)mh, c)) {
		struct tpacket_auxdata aux;
		uint16_t tpid;

		if (c->cmsg_level != SOL_PACKET || c->cmsg_type != PACKET_AUXDATA)
			continue;
		memcpy(&aux, CMSG_DATA(c), sizeof(aux));
		if (!(aux.tp_status & TP_STATUS_VLAN_VALID) || n < 12 || n + 4 > SNAP)
			break;
		memmove(buf + 16, buf + 12, n - 12);
		tpid = aux.tp_status & TP_STATUS_VLAN_TPID_VALID ? aux.tp_vlan_tpid : 0x8100;

		buf[12] = (uint8_t)(tpid >> 8);
		buf[13] = (uint8_t)tpid;
		buf[14] = (uint8_t)(aux.tp_vlan_tci >> 8);
		buf[15] = (uint8_t)aux.tp_vlan_tci;
		return n + 4;
	}
	return n;
}

int main(int argc, char **argv)
{
	const struct option lo[] = {
		{ "dev", required_argument, NULL, 'd' },
		{ "count", required_argument, NULL, 'n' },
		{ "timeout-ms", required_argument, NULL, 't' },
		{ "ready", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dev = NULL, *ready = NULL;
	long count = 0, timeout_ms = 3000;
	static uint8_t buf[SNAP + 4];
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL) };
	int opt, fd, one = 1, got = 0, rcvbuf = 32 << 20;
	struct tpacket_stats st = { .tp_drops = 0 };
	socklen_t stlen = sizeof(st);
	uint64_t end;

	while ((opt = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (opt) {
		case 'd':
			dev = optarg;
			break;
		case 'n':
			count = strtol(optarg, NULL, 10);
			break;
		case 't':
			timeout_ms = strtol(optarg, NULL, 10);
			break;
		case 'r':
			ready = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!dev || count < 1 || timeout_ms < 1 || optind < argc) {
		usage(stderr);
		return 2;
	}
	sll.sll_ifindex = (int)if_nametoindex(dev);
	if (!sll.sll_ifindex) {
		fprintf(stderr, PROG ": no interface %s\n", dev);
		return 2;
	}
	/* Protocol 0 until bound: nothing from other interfaces queues up before bind. */
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_PACKET, PACKET_AUXDATA, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&sll, sizeof(sll))) {
		fprintf(stderr, PROG ": capture on %s: %s (needs root)\n", dev, strerror(errno));
		return 1;
	}
	/* Bursts of thousands of frames while each is printed: the default buffer drops. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (ready) {
		int rf = open(ready, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

		if (rf < 0) {
			fprintf(stderr, PROG ": %s: %s\n", ready, strerror(errno));
			return 1;
		}
		close(rf);
	}
	end = now_ms() + (uint64_t)timeout_ms;
	while (got < count) {
		uint64_t t = now_ms();
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		union {
			struct cmsghdr c;
			char b[CMSG_SPACE(sizeof(struct tpacket_auxdata))];
		} cm;
		struct sockaddr_ll from;
		struct iovec iov = { .iov_base = buf, .iov_len = SNAP };
		struct msghdr mh = { .msg_name = &from, .msg_namelen = sizeof(from), .msg_iov = &iov,
				     .msg_iovlen = 1, .msg_control = &cm, .msg_controllen = sizeof(cm) };
		ssize_t n;

		if (t >= end)
			break;
		if (poll(&pfd, 1, (int)(end - t)) <= 0)
			continue;
		n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_TRUNC);
		if (n < 0 || from.sll_pkttype == PACKET_OUTGOING)
			continue;
		if (n > SNAP) {
			fprintf(stderr, PROG ": a %zd-byte frame is above the %d-byte snapshot\n", n, SNAP);
			continue;
		}
		if (print_frame(buf, with_tag(buf, (size_t)n, &mh)))
			got++;
	}
	/* Say when frames were lost here, so a short count is not blamed on the sender. */
	if (!getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &st, &stlen) && st.tp_drops)
		fprintf(stderr, PROG ": %u frames dropped by the capture socket\n", st.tp_drops);
	close(fd);
	if (got < count)
		fprintf(stderr, PROG ": %d of %ld frames within %ld ms\n", got, count, timeout_ms);
	return got < count ? 1 : 0;
}
