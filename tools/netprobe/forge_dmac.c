/* forge_dmac.c - bf-netprobe forge's interface MAC and next-hop MAC (rtnetlink). */
#include <errno.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "addr.h"
#include "netprobe.h"

/* Neighbour states with a usable link-layer address (the kernel's NUD_VALID). */
#define NUD_USABLE (NUD_PERMANENT | NUD_NOARP | NUD_REACHABLE | NUD_PROBE | NUD_STALE | NUD_DELAY)

int forge_dev(const char *dev, int *ifindex, uint8_t smac[6])
{
	struct ifreq ifr = { .ifr_ifindex = 0 };
	int fd, err = 0;

	*ifindex = (int)if_nametoindex(dev);
	if (!*ifindex) {
		fprintf(stderr, FORGE_PROG ": --dev %s: no such interface in this network namespace\n", dev);
		return -ENODEV;
	}
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", dev);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr))
		err = -errno;
	close(fd);
	if (err) {
		fprintf(stderr, FORGE_PROG ": --dev %s: cannot read its MAC: %s\n", dev, strerror(-err));
		return err;
	}
	if (ifr.ifr_hwaddr.sa_family != ARPHRD_ETHER) {
		fprintf(stderr, FORGE_PROG ": --dev %s: not an Ethernet interface (frames need an Ethernet "
				"header)\n", dev);
		return -EINVAL;
	}
	memcpy(smac, ifr.ifr_hwaddr.sa_data, 6);
	return 0;
}

static void nl_put_attr(struct nlmsghdr *h, uint16_t type, const void *data, uint16_t len)
{
	struct rtattr *a = (struct rtattr *)((char *)h + NLMSG_ALIGN(h->nlmsg_len));

	a->rta_type = type;
	a->rta_len = (uint16_t)RTA_LENGTH(len);
	memcpy(RTA_DATA(a), data, len);
	h->nlmsg_len = NLMSG_ALIGN(h->nlmsg_len) + RTA_ALIGN(a->rta_len);
}

/* One rtnetlink request; its answer's first message goes to buf. The answer's length,
 * or -errno (the kernel's, when it answers with an error). */
static int nl_ask(struct nlmsghdr *req, void *buf, size_t cap)
{
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };
	struct timeval tv = { .tv_sec = 2 }; /* the kernel answers at once; never hang */
	struct nlmsghdr *h = buf;
	int fd, n, err;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ||
	    sendto(fd, req, req->nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0 ||
	    (n = (int)recv(fd, buf, cap, 0)) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	close(fd);
	if (!NLMSG_OK(h, (unsigned)n))
		return -EPROTO;
	if (h->nlmsg_type == NLMSG_ERROR) {
		const struct nlmsgerr *e = NLMSG_DATA(h);

		return e->error < 0 ? e->error : -EPROTO;
	}
	return n;
}

/* The next hop of the kernel's route to dst through ifindex: the gateway, or dst itself
 * when it is on the link. 0, or -errno with the reason printed. */
static int route_next_hop(const char *dev, int ifindex, uint32_t dst, uint32_t *hop)
{
	struct {
		struct nlmsghdr h;
		struct rtmsg r;
		char attrs[64];
	} req = {
		.h = { .nlmsg_len = NLMSG_LENGTH(sizeof(struct rtmsg)), .nlmsg_type = RTM_GETROUTE,
		       .nlmsg_flags = NLM_F_REQUEST },
		.r = { .rtm_family = AF_INET, .rtm_dst_len = 32 },
	};
	char buf[4096], a[BF_ADDR_STRLEN];
	struct nlmsghdr *h = (struct nlmsghdr *)buf;
	const struct rtmsg *r;
	const struct rtattr *at;
	int n, len, oif = 0;

	nl_put_attr(&req.h, RTA_DST, &dst, 4);
	nl_put_attr(&req.h, RTA_OIF, &ifindex, 4);
	n = nl_ask(&req.h, buf, sizeof(buf));
	if (n < 0) {
		fprintf(stderr, FORGE_PROG ": no route to %s via %s: %s; pass --dmac\n", bf_ipv4_str(dst, a),
			dev, strerror(-n));
		return n;
	}
	if (h->nlmsg_type != RTM_NEWROUTE)
		return -EPROTO;
	r = NLMSG_DATA(h);
	if (r->rtm_type != RTN_UNICAST) {
		fprintf(stderr, FORGE_PROG ": the route to %s is not a unicast route via a neighbour (type "
				"%u); pass --dmac\n", bf_ipv4_str(dst, a), r->rtm_type);
		return -EHOSTUNREACH;
	}
	*hop = dst;
	len = (int)RTM_PAYLOAD(h);
	for (at = RTM_RTA(r); RTA_OK(at, len); at = RTA_NEXT(at, len)) {
		if (at->rta_type == RTA_GATEWAY && RTA_PAYLOAD(at) == 4)
			memcpy(hop, RTA_DATA(at), 4);
		else if (at->rta_type == RTA_OIF && RTA_PAYLOAD(at) == 4)
			memcpy(&oif, RTA_DATA(at), 4);
	}
	if (oif != ifindex) {
		fprintf(stderr, FORGE_PROG ": the route to %s does not leave through %s; pass --dmac\n",
			bf_ipv4_str(dst, a), dev);
		return -EHOSTUNREACH;
	}
	return 0;
}

/* The resolved link-layer address of hop on --dev, from the neighbour table. 0, -ENOENT
 * when there is no usable entry, -errno. */
static int neigh_mac(int ifindex, uint32_t hop, uint8_t mac[6])
{
	struct {
		struct nlmsghdr h;
		struct ndmsg n;
		char attrs[32];
	} req = {
		.h = { .nlmsg_len = NLMSG_LENGTH(sizeof(struct ndmsg)), .nlmsg_type = RTM_GETNEIGH,
		       .nlmsg_flags = NLM_F_REQUEST },
		.n = { .ndm_family = AF_INET, .ndm_ifindex = ifindex },
	};
	char buf[4096];
	struct nlmsghdr *h = (struct nlmsghdr *)buf;
	const struct ndmsg *nd;
	const struct rtattr *at;
	int n, len;

	nl_put_attr(&req.h, NDA_DST, &hop, 4);
	n = nl_ask(&req.h, buf, sizeof(buf));
	if (n < 0)
		return n;
	if (h->nlmsg_type != RTM_NEWNEIGH)
		return -EPROTO;
	nd = NLMSG_DATA(h);
	if (!(nd->ndm_state & NUD_USABLE))
		return -ENOENT;
	len = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof(*nd)));
	for (at = (const struct rtattr *)((const char *)nd + NLMSG_ALIGN(sizeof(*nd)));
	     RTA_OK(at, len); at = RTA_NEXT(at, len))
		if (at->rta_type == NDA_LLADDR && RTA_PAYLOAD(at) == 6) {
			memcpy(mac, RTA_DATA(at), 6);
			return 0;
		}
	return -ENOENT;
}

int forge_dmac(const char *dev, int ifindex, uint32_t dst, uint8_t dmac[6])
{
	char a[BF_ADDR_STRLEN], b[BF_ADDR_STRLEN];
	uint32_t hop;
	int err;

	err = route_next_hop(dev, ifindex, dst, &hop);
	if (err)
		return err;
	err = neigh_mac(ifindex, hop, dmac);
	if (err && hop == dst)
		fprintf(stderr, FORGE_PROG ": no resolved neighbour entry for %s on %s: pass --dmac MAC, "
				"or ping %s first\n", bf_ipv4_str(hop, a), dev, a);
	else if (err)
		fprintf(stderr, FORGE_PROG ": no resolved neighbour entry for the gateway %s on %s (route "
				"to %s): pass --dmac MAC, or ping %s first\n",
			bf_ipv4_str(hop, a), dev, bf_ipv4_str(dst, b), a);
	return err;
}
