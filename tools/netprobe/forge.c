/* forge.c - bf-netprobe forge: hand-built Ethernet frames, any field forged, sent raw. */
/* Raw AF_PACKET frames, so nothing in the local stack fixes addresses or checksums: the
 * lab's attacker (addresses, checksums, VLAN tags, IPIP). Only on networks you own. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../pktgen.h"
#include "addr.h"
#include "netprobe.h"
#include "text.h"

#define FORGE_MAX_COUNT 10000000ull
#define FORGE_MAX_PPS 10000000ull
#define FORGE_MAX_PAYLOAD 1400
#define FORGE_LIMIT_NS 60000000000ull /* every run ends within 60 s */
#define FORGE_SPORT 40000
#define FORGE_BATCH 64
#define FRAME_MAX 1536 /* 14 + 2 tags + 3 headers of 20 + 1400 fits */
#define NS 1000000000ull

struct forge {
	const char *dev;
	int ifindex, json, bad_ip, bad_l4;
	bool has_dmac, has_port, has_sport, has_ipip_src, has_ipip_dst, has_size, has_flags;
	uint8_t smac[6], dmac[6];
	uint32_t src, dst, ipip_src, ipip_dst; /* network order */
	uint16_t sport, dport;
	uint8_t proto, tcp_flags;
	int ntags;
	uint16_t tpid[2], vid[2]; /* outermost first */
	uint8_t payload[FORGE_MAX_PAYLOAD];
	size_t payload_len;
	uint64_t count, pps;
};

static volatile sig_atomic_t stop_sig;

static void on_signal(int sig)
{
	stop_sig = sig;
}

void forge_usage_brief(FILE *f)
{
	fprintf(f, "  " PROG " forge --dev IFNAME --src A.B.C.D --to A.B.C.D[:PORT] [...]: "
		   "forged raw frames\n"
		   "      (any field; lab namespaces only), see '" PROG " forge --help'.\n");
}

static void forge_usage(FILE *f)
{
	fprintf(f,
		"Usage: bf-netprobe forge --dev IFNAME [--dmac MAC] --src A.B.C.D --to A.B.C.D[:PORT]\n"
		"                  [--proto udp|tcp|icmp] [--sport PORT] [--payload HEX] [--size BYTES]\n"
		"                  [--ipip-src A.B.C.D --ipip-dst A.B.C.D]\n"
		"                  [--bad-ip-csum] [--bad-l4-csum] [--vlan ID] [--qinq OUTER,INNER]\n"
		"                  [--tcp-flags FLAGS] [--count N] [--pps N] [--json]\n"
		"Sends forged frames; use only on networks you own, e.g. the lab's namespaces.\n"
		"Hand-built Ethernet frames go out through a raw AF_PACKET socket on IFNAME, so\n"
		"nothing in the local stack fixes addresses or checksums: every field is as given.\n"
		"  --dev IFNAME         Ethernet interface to send on; the source MAC is its own\n"
		"  --dmac MAC           destination MAC (aa:bb:cc:dd:ee:ff). Default: the neighbour\n"
		"                       entry of the next hop of the kernel's route to the destination\n"
		"                       (the outer one with IPIP) on IFNAME; if it is not resolved, exit\n"
		"                       2: pass --dmac, or ping the gateway first\n"
		"  --src A.B.C.D        IPv4 source address, forged at will\n"
		"  --to A.B.C.D[:PORT]  destination; PORT (0..65535) is required for udp and tcp,\n"
		"                       refused for icmp\n"
		"  --proto P            udp (default), tcp, or icmp: an echo request with identifier\n"
		"                       --sport (default 1) and sequence 1, 2, ...\n"
		"  --sport PORT         source port (0..65535, default %d)\n"
		"  --payload HEX        exact payload bytes, e.g. ffffffff54 (at most %d)\n"
		"  --size BYTES         otherwise a payload of BYTES (0..%d, default 32) of 'abc..z'\n"
		"  --ipip-src A.B.C.D, --ipip-dst A.B.C.D\n"
		"                       wrap each packet in an outer IPv4 header (protocol 4)\n"
		"  --bad-ip-csum        wrong IPv4 header checksum (the outer one with IPIP)\n"
		"  --bad-l4-csum        wrong UDP, TCP or ICMP checksum\n"
		"  --vlan ID            one 802.1Q tag (ID 0..4095)\n"
		"  --qinq OUTER,INNER   an 802.1ad tag with ID OUTER, then an 802.1Q tag with INNER\n"
		"  --tcp-flags FLAGS    letters of FSRPAUEC (FIN SYN RST PSH ACK URG ECE CWR), e.g.\n"
		"                       S, SA, R, FPU, or 'none'; tcp only, default S\n"
		"  --count N            frames to send (1..%llu, default 1)\n"
		"  --pps N              frames per second (0..%llu; default 0: as fast as possible,\n"
		"                       in batches); N frames must fit in 60 s at this rate\n"
		"  --json               print {\"sent\":N,\"bytes\":B,\"seconds\":S} instead of 'sent=N'\n"
		"Every frame: IPv4 without options, TTL 64, DF, IP ID 1, 2, ... (outer and inner);\n"
		"TCP sequence and ack 0, window 65535. Bytes count whole frames. Every run ends by\n"
		"itself: after N frames, or after 60 s whatever happens. Addresses must be literals;\n"
		"names are never resolved.\n"
		"Exit status: 0 all N sent, 1 send error or stopped early (60 s, signal), 2 bad usage\n"
		"or no destination MAC.\n",
		FORGE_SPORT, FORGE_MAX_PAYLOAD, FORGE_MAX_PAYLOAD, FORGE_MAX_COUNT, FORGE_MAX_PPS);
}

/* "aa:bb:cc:dd:ee:ff" exactly. 0 or -EINVAL. */
static int parse_mac(const char *s, uint8_t mac[6])
{
	for (int i = 0; i < 6; i++, s += 3) {
		if (!s[0] || !s[1] || s[2] != (i < 5 ? ':' : '\0') ||
		    bf_hex_decode(s, 2, &mac[i], 1) != 1)
			return -EINVAL;
	}
	return 0;
}

/* An even number of hex digits, at most `cap` bytes. Their count or -EINVAL / -E2BIG. */
static int parse_vid(const char *s, uint16_t *vid)
{
	uint64_t v;
	int err = parse_num(s, 0, 4095, &v);

	*vid = (uint16_t)v;
	return err;
}

/* "OUTER,INNER" VLAN IDs. */
static int parse_qinq(const char *s, struct forge *f)
{
	const char *comma = strchr(s, ',');
	char outer[8];

	if (!comma || (size_t)(comma - s) >= sizeof(outer))
		return -EINVAL;
	memcpy(outer, s, (size_t)(comma - s));
	outer[comma - s] = '\0';
	f->ntags = 2;
	f->tpid[0] = 0x88a8;
	f->tpid[1] = 0x8100;
	return parse_vid(outer, &f->vid[0]) ?: parse_vid(comma + 1, &f->vid[1]);
}

/* Letters of FSRPAUEC, or "none". */
static int parse_tcp_flags(const char *s, uint8_t *flags)
{
	static const char bits[] = "FSRPAUEC"; /* bit 0 .. bit 7 */

	*flags = 0;
	if (!strcmp(s, "none"))
		return 0;
	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		const char *b = strchr(bits, *s);

		if (!b)
			return -EINVAL;
		*flags |= (uint8_t)(1u << (b - bits));
	}
	return 0;
}

/* --to: "A.B.C.D" or "A.B.C.D:PORT" (PORT 0 allowed: it is forged traffic). */
static int parse_to(const char *s, struct forge *f)
{
	f->has_port = strchr(s, ':') != NULL;
	return f->has_port ? bf_parse_endpoint(s, true, &f->dst, &f->dport) : bf_parse_ipv4(s, &f->dst);
}

/* Checks what getopt cannot: required options, and options that exclude each other. */
static int forge_check(const struct forge *f, bool have_src, bool have_to)
{
	const char *why = NULL;

	if (!f->dev)
		why = "--dev is required";
	else if (!have_src)
		why = "--src is required";
	else if (!have_to)
		why = "--to is required";
	else if (f->proto != IPPROTO_ICMP && !f->has_port)
		why = "--to needs a :PORT for udp and tcp";
	else if (f->proto == IPPROTO_ICMP && f->has_port)
		why = "--to takes no :PORT with --proto icmp; the echo identifier is --sport";
	else if (f->has_flags && f->proto != IPPROTO_TCP)
		why = "--tcp-flags needs --proto tcp";
	else if (f->has_ipip_src != f->has_ipip_dst)
		why = "--ipip-src and --ipip-dst go together";
	else if (f->pps && (f->count - 1) * NS / f->pps >= FORGE_LIMIT_NS)
		why = "--count frames at --pps take longer than the 60 s limit: lower --count or "
		      "raise --pps";
	if (why) {
		fprintf(stderr, FORGE_PROG ": %s (see --help)\n", why);
		return -EINVAL;
	}
	return 0;
}

static int forge_parse(int argc, char **argv, struct forge *f)
{
	const struct option lo[] = {
		{ "dev", required_argument, NULL, 'd' },
		{ "dmac", required_argument, NULL, 'm' },
		{ "src", required_argument, NULL, 's' },
		{ "to", required_argument, NULL, 't' },
		{ "proto", required_argument, NULL, 'p' },
		{ "sport", required_argument, NULL, 'P' },
		{ "payload", required_argument, NULL, 'x' },
		{ "size", required_argument, NULL, 'z' },
		{ "ipip-src", required_argument, NULL, 'I' },
		{ "ipip-dst", required_argument, NULL, 'O' },
		{ "bad-ip-csum", no_argument, &f->bad_ip, 1 },
		{ "bad-l4-csum", no_argument, &f->bad_l4, 1 },
		{ "vlan", required_argument, NULL, 'v' },
		{ "qinq", required_argument, NULL, 'q' },
		{ "tcp-flags", required_argument, NULL, 'F' },
		{ "count", required_argument, NULL, 'n' },
		{ "pps", required_argument, NULL, 'r' },
		{ "json", no_argument, &f->json, 1 },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool have_src = false, have_to = false, have_payload = false;
	uint64_t v = 0;
	int opt, idx, err;

	f->proto = IPPROTO_UDP;
	f->tcp_flags = 0x02; /* SYN */
	f->count = 1;
	f->payload_len = 32;
	for (;;) {
		idx = -1;
		opt = getopt_long(argc, argv, "h", lo, &idx);
		if (opt == -1)
			break;
		err = 0;
		switch (opt) {
		case 'd':
			f->dev = optarg;
			err = strlen(optarg) < IFNAMSIZ ? 0 : -EINVAL;
			break;
		case 'm':
			f->has_dmac = true;
			err = parse_mac(optarg, f->dmac);
			break;
		case 's':
			have_src = true;
			err = bf_parse_ipv4(optarg, &f->src);
			break;
		case 't':
			have_to = true;
			err = parse_to(optarg, f);
			break;
		case 'p':
			err = bf_parse_proto(optarg);
			f->proto = err > 0 ? (uint8_t)err : 0;
			err = err > 0 ? 0 : err;
			break;
		case 'P':
			f->has_sport = true;
			err = parse_num(optarg, 0, 65535, &v);
			f->sport = (uint16_t)v;
			break;
		case 'x':
			have_payload = true;
			err = bf_hex_decode(optarg, strlen(optarg), f->payload, sizeof(f->payload));
			f->payload_len = err > 0 ? (size_t)err : 0;
			err = err > 0 ? 0 : err;
			break;
		case 'z':
			f->has_size = true;
			err = parse_num(optarg, 0, FORGE_MAX_PAYLOAD, &v);
			f->payload_len = (size_t)v;
			break;
		case 'I':
			f->has_ipip_src = true;
			err = bf_parse_ipv4(optarg, &f->ipip_src);
			break;
		case 'O':
			f->has_ipip_dst = true;
			err = bf_parse_ipv4(optarg, &f->ipip_dst);
			break;
		case 'v':
			err = f->ntags ? -EEXIST : parse_vid(optarg, &f->vid[0]);
			f->ntags = 1;
			f->tpid[0] = 0x8100;
			break;
		case 'q':
			err = f->ntags ? -EEXIST : parse_qinq(optarg, f);
			break;
		case 'F':
			f->has_flags = true;
			err = parse_tcp_flags(optarg, &f->tcp_flags);
			break;
		case 'n':
			err = parse_num(optarg, 1, FORGE_MAX_COUNT, &f->count);
			break;
		case 'r':
			err = parse_num(optarg, 0, FORGE_MAX_PPS, &f->pps);
			break;
		case 0:
			break;
		case 'h':
			forge_usage(stdout);
			exit(0);
		default:
			forge_usage(stderr);
			return -EINVAL;
		}
		if (err) {
			const char *name = idx >= 0 ? lo[idx].name : "?";
			const char *why = "bad value (see --help)";

			if (opt == 's' || opt == 'I' || opt == 'O')
				why = "not an IPv4 address literal (names are never resolved)";
			else if (opt == 't')
				why = "not A.B.C.D or A.B.C.D:PORT (literals only; names are never "
				      "resolved)";
			else if (err == -EEXIST)
				why = "one of --vlan or --qinq, once";
			else if (opt == 'x')
				why = err == -E2BIG ? "longer than 1400 bytes" : "not an even number of hex digits";
			fprintf(stderr, FORGE_PROG ": --%s %s: %s\n", name, optarg, why);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, FORGE_PROG ": unexpected argument %s (see --help)\n", argv[optind]);
		return -EINVAL;
	}
	/* Both given would leave one of them silently ignored. */
	if (have_payload && f->has_size) {
		fprintf(stderr, FORGE_PROG ": --payload and --size exclude each other (see --help)\n");
		return -EINVAL;
	}
	if (!have_payload)
		for (size_t i = 0; i < f->payload_len; i++)
			f->payload[i] = (uint8_t)('a' + i % 26);
	if (f->proto == IPPROTO_ICMP && !f->has_sport)
		f->sport = 1;
	else if (!f->has_sport)
		f->sport = FORGE_SPORT;
	return forge_check(f, have_src, have_to);
}

/* ---- frames ---- */

/* Makes a checksum wrong whatever its value: a change of 1 is never a multiple of 0xffff
 * (0x0000 and 0xffff are the same one's-complement number, so ~c could still verify).
 * UDP's 0 would mean "no checksum": skip it. */
static void corrupt_csum(uint8_t *c, bool udp)
{
	c[1] ^= 1;
	if (udp && !c[0] && !c[1])
		c[1] = 2;
}

/* Frame number seq (0-based) into buf: L2 header, tags, [outer IPv4], IPv4, L4, payload.
 * Returns its length. */
static size_t build_frame(const struct forge *f, uint64_t seq, uint8_t *buf)
{
	struct pkt_spec in = {
		.saddr = f->src, .daddr = f->dst, .proto = f->proto, .frag = 0x4000,
		.id = (uint16_t)(seq + 1), .sport = f->sport, .dport = f->dport,
		.tcp_flags = f->tcp_flags, .payload = f->payload, .payload_len = f->payload_len,
		.echo_id = f->sport, .echo_seq = (uint16_t)(seq + 1),
	};
	uint8_t inner[FRAME_MAX], *ip, *l4;
	size_t l2 = 14 + 4 * (size_t)f->ntags, n, hlen;

	memcpy(buf, f->dmac, 6);
	memcpy(buf + 6, f->smac, 6);
	for (int i = 0; i < f->ntags; i++) {
		uint8_t *t = buf + 12 + 4 * i;

		t[0] = (uint8_t)(f->tpid[i] >> 8);
		t[1] = (uint8_t)f->tpid[i];
		t[2] = (uint8_t)(f->vid[i] >> 8);
		t[3] = (uint8_t)f->vid[i];
	}
	buf[l2 - 2] = 0x08;
	buf[l2 - 1] = 0x00;
	ip = f->has_ipip_dst ? inner : buf + l2;
	n = pkt_build_ip(&in, ip, FRAME_MAX - l2 - 20);
	hlen = (size_t)(ip[0] & 0x0f) * 4;
	l4 = ip + hlen;
	if (f->proto == IPPROTO_TCP && !f->tcp_flags) {
		/* pktgen sends ACK for 0; a null scan has none. */
		uint16_t c;

		l4[13] = 0;
		l4[16] = l4[17] = 0;
		c = pkt_l4_csum(ip);
		l4[16] = (uint8_t)(c >> 8);
		l4[17] = (uint8_t)c;
	}
	if (f->bad_l4)
		corrupt_csum(l4 + (f->proto == IPPROTO_UDP ? 6 : f->proto == IPPROTO_TCP ? 16 : 2),
			     f->proto == IPPROTO_UDP);
	if (f->has_ipip_dst) {
		struct pkt_spec out = {
			.saddr = f->ipip_src, .daddr = f->ipip_dst, .proto = IPPROTO_IPIP,
			.frag = 0x4000, .id = (uint16_t)(seq + 1), .payload = inner, .payload_len = n,
		};

		n = pkt_build_ip(&out, buf + l2, FRAME_MAX - l2);
	}
	if (f->bad_ip)
		corrupt_csum(buf + l2 + 10, false);
	return l2 + n;
}

/* ---- sending ---- */

struct run {
	uint64_t sent, bytes, ns;
	int err;       /* the send error that stopped it, 0 if none */
	bool timeout;  /* stopped by the 60 s limit */
};

/* Sleeps until `until` (monotonic ns) at the latest; a signal cuts it short. */
static void sleep_until(uint64_t until)
{
	struct timespec ts = { .tv_sec = (time_t)(until / NS), .tv_nsec = (long)(until % NS) };

	clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

/* Sends f->count frames, paced by f->pps, in batches of sendmmsg. Fills r. */
static void send_frames(int fd, const struct forge *f, struct run *r)
{
	static uint8_t frames[FORGE_BATCH][FRAME_MAX];
	struct mmsghdr msg[FORGE_BATCH];
	struct iovec iov[FORGE_BATCH];
	uint64_t start = mono_ns(), end = start + FORGE_LIMIT_NS, t, due;
	int n, got;

	memset(msg, 0, sizeof(msg));
	while (r->sent < f->count && !stop_sig) {
		t = mono_ns();
		if (t >= end) {
			r->timeout = true;
			break;
		}
		/* Frame k is due at start + k / pps: the first at once. */
		due = f->pps ? (t - start) * f->pps / NS + 1 : f->count;
		if (due > f->count)
			due = f->count;
		if (due <= r->sent) {
			uint64_t next = start + r->sent * NS / f->pps;

			sleep_until(next < end ? next : end);
			continue;
		}
		n = due - r->sent > FORGE_BATCH ? FORGE_BATCH : (int)(due - r->sent);
		for (int i = 0; i < n; i++) {
			iov[i].iov_base = frames[i];
			iov[i].iov_len = build_frame(f, r->sent + (uint64_t)i, frames[i]);
			msg[i].msg_hdr.msg_iov = &iov[i];
			msg[i].msg_hdr.msg_iovlen = 1;
		}
		got = sendmmsg(fd, msg, (unsigned)n, 0);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			/* A full queue (ENOBUFS: the qdisc dropped it; EAGAIN: SO_SNDTIMEO ran
			 * out) is not an error: wait a little and send the same frames again. */
			if (errno == ENOBUFS || errno == EAGAIN) {
				sleep_until(mono_ns() + 1000000);
				continue;
			}
			r->err = errno;
			break;
		}
		for (int i = 0; i < got; i++)
			r->bytes += iov[i].iov_len;
		r->sent += (uint64_t)got;
	}
	r->ns = mono_ns() - start;
}

/* The raw socket bound to --dev. Protocol 0: it sends, never receives. fd or -errno. */
static int open_raw(const struct forge *f)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_ifindex = f->ifindex };
	struct timeval tv = { .tv_sec = 1 }; /* a stuck queue must not outlast the 60 s limit */
	int sndbuf = 4 << 20, fd, err;

	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) ||
	    bind(fd, (struct sockaddr *)&sll, sizeof(sll))) {
		err = -errno;
		close(fd);
		return err;
	}
	/* Room for whole batches; best effort (wmem_max caps it without CAP_NET_ADMIN). */
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf)))
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	return fd;
}

int cmd_forge(int argc, char **argv)
{
	static struct forge f;
	struct sigaction sa = { .sa_handler = on_signal }; /* no SA_RESTART: sleeps end early */
	struct run r = { .sent = 0 };
	int fd;

	if (forge_parse(argc, argv, &f))
		return 2;
	if (forge_dev(f.dev, &f.ifindex, f.smac) ||
	    (!f.has_dmac && forge_dmac(f.dev, f.ifindex, f.has_ipip_dst ? f.ipip_dst : f.dst, f.dmac)))
		return 2;
	fd = open_raw(&f);
	if (fd < 0) {
		fprintf(stderr, FORGE_PROG ": raw socket on %s: %s%s\n", f.dev, strerror(-fd),
			fd == -EPERM ? " (needs CAP_NET_RAW: run as root)" : "");
		return 1;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	send_frames(fd, &f, &r);
	close(fd);
	if (r.err)
		fprintf(stderr, FORGE_PROG ": send on %s: %s%s\n", f.dev, strerror(r.err),
			r.err == ENETDOWN ? " (bring the interface up)" :
			r.err == EMSGSIZE ? " (the frame is above the interface's MTU: lower --size)" : "");
	else if (r.timeout)
		fprintf(stderr, FORGE_PROG ": stopped at the 60 s limit\n");
	else if (stop_sig)
		fprintf(stderr, FORGE_PROG ": stopped by signal %d\n", (int)stop_sig);
	if (f.json)
		printf("{\"sent\":%llu,\"bytes\":%llu,\"seconds\":%.3f}\n", (unsigned long long)r.sent,
		       (unsigned long long)r.bytes, (double)r.ns / NS);
	else
		printf("sent=%llu\n", (unsigned long long)r.sent);
	return r.sent == f.count ? 0 : 1;
}
