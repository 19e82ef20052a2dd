/* events.c - consumes the XDP ring buffer; asks the kernel to resolve a next
 * hop that XDP found without a neighbour entry (RTM_NEWNEIGH + NTF_USE). */
#include <arpa/inet.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "events.h"
#include "log.h"

void edge_punch_str(const struct bf_punch_key *k, uint32_t machine, char *buf, size_t len)
{
	char b[BF_ADDR_STRLEN], r[BF_ADDR_STRLEN], m[BF_ADDR_STRLEN];

	snprintf(buf, len, "%s %s:%u %s:%u via %s", bf_proto_name(k->proto),
		 bf_ipv4_str(k->remote_ip, r), ntohs(k->remote_port), bf_ipv4_str(k->bind_ip, b),
		 ntohs(k->bind_port), bf_ipv4_str(machine, m));
}

void edge_valid_str(const struct bf_rl_key *k, char *buf, size_t len)
{
	char c[BF_ADDR_STRLEN], b[BF_ADDR_STRLEN];

	snprintf(buf, len, "%s %s %s:%u", bf_proto_name(k->proto), bf_ipv4_str(k->src, c),
		 bf_ipv4_str(k->bind_ip, b), ntohs(k->bind_port));
}

void edge_ban_str(const struct bf_ban *b, char *buf, size_t len)
{
	char s[BF_ADDR_STRLEN], c[BF_ADDR_STRLEN];

	snprintf(buf, len, "%s over %s of %s %s:%u, blocked %.3gs%s", bf_ipv4_str(b->src, s),
		 b->limit == BF_LIMIT_BPS ? "bps" : "pps", bf_proto_name(b->conn.proto),
		 bf_ipv4_str(b->conn.bind_ip, c), ntohs(b->conn.bind_port),
		 (double)b->block_ns / 1e9, b->flags & BF_BAN_F_DRY_RUN ? " (dry run)" : "");
}

static void neigh_kick(struct edge_events *ev, int ifindex, uint32_t addr)
{
	struct {
		struct nlmsghdr nh;
		struct ndmsg ndm;
		struct rtattr rta;
		uint32_t dst;
	} req = {};
	char a[BF_ADDR_STRLEN];

	if (ev->nl_fd < 0)
		return;
	req.nh.nlmsg_len = sizeof(req);
	req.nh.nlmsg_type = RTM_NEWNEIGH;
	req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE;
	req.ndm.ndm_family = AF_INET;
	req.ndm.ndm_ifindex = ifindex;
	req.ndm.ndm_flags = NTF_USE; /* start resolution, change nothing else */
	req.rta.rta_type = NDA_DST;
	req.rta.rta_len = RTA_LENGTH(sizeof(req.dst));
	req.dst = addr;
	if (send(ev->nl_fd, &req, sizeof(req), MSG_DONTWAIT) < 0)
		pr_warn("neighbour kick for %s failed: %s", bf_ipv4_str(addr, a), strerror(errno));
	else
		pr_debug("no neighbour for next hop %s (ifindex %d): asked the kernel to resolve it",
			 bf_ipv4_str(addr, a), ifindex);
}

static int handle(void *ctx, void *data, size_t size)
{
	struct edge_events *ev = ctx;
	const struct bf_event *e = data;

	if (size < sizeof(*e))
		return 0;
	switch (e->type) {
	case BF_EV_PUNCH: {
		char s[96];

		edge_punch_str(&e->punch.key, e->punch.val.machine_ip, s, sizeof(s));
		pr_debug("punch %s", s);
		if (ev->on_punch)
			ev->on_punch(ev->ctx, &e->punch.key, &e->punch.val);
		break;
	}
	case BF_EV_NEIGH_MISS:
		neigh_kick(ev, (int)e->ifindex, e->neigh.nexthop);
		break;
	case BF_EV_BAN: {
		char s[128];

		ev->bans++;
		edge_ban_str(&e->ban, s, sizeof(s));
		pr_info("ban: %s", s);
		if (ev->on_ban)
			ev->on_ban(ev->ctx, &e->ban);
		break;
	}
	case BF_EV_VALID: {
		char s[64];

		edge_valid_str(&e->valid.key, s, sizeof(s));
		pr_debug("validated %s", s);
		if (ev->on_valid)
			ev->on_valid(ev->ctx, &e->valid.key, e->valid.expires_ns);
		break;
	}
	default:
		break;
	}
	return 0;
}

int edge_events_open(struct edge_events *ev, int ringbuf_fd)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };

	ev->rb = ring_buffer__new(ringbuf_fd, handle, ev, NULL);
	if (!ev->rb) {
		pr_err("opening the event ring buffer failed: %s", strerror(errno));
		return -errno;
	}
	ev->nl_fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (ev->nl_fd >= 0 && bind(ev->nl_fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(ev->nl_fd);
		ev->nl_fd = -1;
	}
	if (ev->nl_fd < 0)
		pr_warn("no rtnetlink socket (%s): next hops will resolve only through other "
			"traffic",
			strerror(errno));
	return 0;
}

int edge_events_fd(const struct edge_events *ev)
{
	return ring_buffer__epoll_fd(ev->rb);
}

int edge_events_poll(struct edge_events *ev)
{
	char drain[4096];

	/* Netlink acks and errors are not interesting; keep the socket empty. */
	while (ev->nl_fd >= 0 && recv(ev->nl_fd, drain, sizeof(drain), MSG_DONTWAIT) > 0)
		;
	return ring_buffer__consume(ev->rb);
}

void edge_events_close(struct edge_events *ev)
{
	ring_buffer__free(ev->rb);
	if (ev->nl_fd >= 0)
		close(ev->nl_fd);
	ev->rb = NULL;
	ev->nl_fd = -1;
}
