/* a2s_workers.c - the AF_XDP A2S workers: a socket and a thread per (interface,
 * RX queue), the reply built in the request's frame (challenge, cached reply,
 * or split parts), and the sockets' life (see a2s_workers.h and
 * docs/ARCHITECTURE.md). The cache they read is a2s_cache.c. */
#include <bpf/bpf.h>
#include <errno.h>
#include <linux/ethtool.h>
#include <linux/if_ether.h>
#include <linux/sockios.h>
#include <linux/if_xdp.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "a2s_int.h"
#include "bifrost.h"
#include "clock.h"
#include "inet_csum.h"
#include "log.h"

/* ---- building replies ---- */

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* What a reply needs from its request; taken before the frame is overwritten. */
struct req_addrs {
	uint8_t mac_src[6], mac_dst[6];
	uint32_t l2_len;          /* 14 or 18: a VLAN tag stays where it is */
	uint8_t saddr[4], daddr[4];
	uint8_t sport[2], dport[2];
};

/* Writes the reply's headers into frame f (l2 header of the request already at its
 * start, or a copy of it) around `plen` payload bytes at f + l2_len + XSK_HDRS: MACs and
 * addresses and ports swapped, TTL 64, ID 0, DF, checksums. Returns the frame length. */
static uint32_t reply_headers(uint8_t *f, const struct req_addrs *r, uint32_t plen)
{
	uint8_t *ip = f + r->l2_len, *udp = ip + 20;
	uint32_t sum;
	uint16_t csum;

	memcpy(f, r->mac_src, 6);
	memcpy(f + 6, r->mac_dst, 6);
	ip[0] = 0x45;
	ip[1] = 0;
	put16(ip + 2, (uint16_t)(XSK_HDRS + plen));
	put16(ip + 4, 0);
	put16(ip + 6, 0x4000);
	ip[8] = 64;
	ip[9] = IPPROTO_UDP;
	put16(ip + 10, 0);
	memcpy(ip + 12, r->daddr, 4);
	memcpy(ip + 16, r->saddr, 4);
	put16(ip + 10, bf_csum_fold(bf_csum_add(ip, 20, 0)));

	memcpy(udp, r->dport, 2);
	memcpy(udp + 2, r->sport, 2);
	put16(udp + 4, (uint16_t)(8 + plen));
	put16(udp + 6, 0);
	sum = bf_csum_add(ip + 12, 8, 0) + IPPROTO_UDP + 8 + plen;
	csum = bf_csum_fold(bf_csum_add(udp, 8 + plen, sum));
	put16(udp + 6, csum ? csum : 0xffff); /* 0 would mean "no checksum" */
	return r->l2_len + XSK_HDRS + plen;
}

/* ---- the worker ---- */

static uint64_t frame_base(uint64_t addr)
{
	return xsk_umem__extract_addr(addr) & ~(uint64_t)(XSK_FRAME_SIZE - 1);
}

static void frame_free(struct xsk_worker *w, uint64_t addr)
{
	if (w->n_free < XSK_FRAMES)
		w->free_frames[w->n_free++] = frame_base(addr);
}

/* Parses Ethernet (+ one VLAN tag), IPv4 and UDP of a frame. 0 or -EBADMSG. */
static int parse_request(const uint8_t *f, uint32_t len, struct req_addrs *r,
			 const uint8_t **pl, uint32_t *plen)
{
	uint32_t l2 = 14, hlen, tot, ulen;
	uint16_t type;
	const uint8_t *ip, *udp;

	if (len < l2 + 20)
		return -EBADMSG;
	type = (uint16_t)(f[12] << 8 | f[13]);
	if (type == ETH_P_8021Q || type == ETH_P_8021AD) {
		l2 = 18;
		type = (uint16_t)(f[16] << 8 | f[17]);
	}
	if (type != ETH_P_IP || len < l2 + 20)
		return -EBADMSG;
	ip = f + l2;
	hlen = (ip[0] & 0x0fu) * 4;
	tot = (uint32_t)(ip[2] << 8 | ip[3]);
	if ((ip[0] >> 4) != 4 || hlen < 20 || tot < hlen + 8 || l2 + tot > len)
		return -EBADMSG;
	if (ip[9] != IPPROTO_UDP || ((ip[6] << 8 | ip[7]) & 0x3fff)) /* MF or an offset */
		return -EBADMSG;
	udp = ip + hlen;
	ulen = (uint32_t)(udp[4] << 8 | udp[5]);
	if (ulen < 8 || ulen > tot - hlen)
		return -EBADMSG;
	memcpy(r->mac_dst, f, 6);
	memcpy(r->mac_src, f + 6, 6);
	r->l2_len = l2;
	memcpy(r->saddr, ip + 12, 4);
	memcpy(r->daddr, ip + 16, 4);
	memcpy(r->sport, udp, 2);
	memcpy(r->dport, udp + 2, 2);
	*pl = udp + 8;
	*plen = ulen - 8;
	return 0;
}

/* Queues `n` frames on TX. All or nothing. */
static bool tx_queue(struct xsk_worker *w, const uint64_t *addr, const uint32_t *len, unsigned n)
{
	uint32_t idx;

	if (xsk_ring_prod__reserve(&w->tx, n, &idx) != n)
		return false;
	for (unsigned i = 0; i < n; i++) {
		struct xdp_desc *d = xsk_ring_prod__tx_desc(&w->tx, idx + i);

		d->addr = addr[i];
		d->len = len[i];
	}
	w->tx_pending += n;
	return true;
}

/* A reply longer than A2S_PACKET_MAX: part 0 in the request's frame, the others in free
 * frames. False when TX or frames run short (nothing sent then). */
static bool send_split(struct xsk_worker *w, uint64_t base, const struct req_addrs *r,
		       const struct a2s_blob *b)
{
	uint64_t addr[A2S_SPLIT_MAX_PARTS];
	uint32_t len[A2S_SPLIT_MAX_PARTS];
	int parts = a2s_split_count(b->len);
	uint32_t id = ++w->split_id;

	if (parts < 2 || parts > (int)A2S_SPLIT_MAX_PARTS || (uint32_t)parts - 1 > w->n_free)
		return false;
	addr[0] = base;
	for (int i = 1; i < parts; i++)
		addr[i] = w->free_frames[w->n_free - (uint32_t)i];
	for (int i = 0; i < parts; i++) {
		uint8_t *f = xsk_umem__get_data(w->area, addr[i]);
		int n;

		if (i > 0) /* EtherType (and VLAN tag) as in the request */
			memcpy(f + 12, (uint8_t *)xsk_umem__get_data(w->area, base) + 12,
			       r->l2_len - 12);
		n = a2s_split_build(b->bytes, b->len, id, (unsigned)i, f + r->l2_len + XSK_HDRS,
				    XSK_FRAME_SIZE - r->l2_len - XSK_HDRS);
		if (n < 0)
			return false;
		len[i] = reply_headers(f, r, (uint32_t)n);
	}
	if (!tx_queue(w, addr, len, (unsigned)parts))
		return false;
	w->n_free -= (uint32_t)parts - 1;
	count(&w->c.tx_parts, (uint64_t)parts);
	return true;
}

/* Answers one request in its own frame. True when the frame went to TX (it comes back
 * through the completion ring); false when the caller recycles it. */
static bool handle(struct xsk_worker *w, uint64_t addr, uint32_t len, uint64_t now_ms)
{
	struct edge_a2s *a = w->a;
	uint64_t base = frame_base(addr);
	uint8_t *f = xsk_umem__get_data(w->area, addr), *out;
	const struct a2s_blob *blob = NULL;
	const struct a2s_entry *e;
	struct a2s_req req;
	struct req_addrs r;
	const uint8_t *pl;
	uint32_t plen, ip, olen;
	uint64_t key;
	bool cached = false, ok = false;

	if (parse_request(f, len, &r, &pl, &plen)) {
		count(&w->c.bad, 1);
		return false;
	}
	a2s_classify(pl, plen, &req);
	if (req.kind == A2S_NOT || req.kind == A2S_MALFORMED) {
		count(&w->c.bad, 1);
		return false;
	}
	memcpy(&ip, r.daddr, 4);
	key = cache_key(ip, (uint16_t)(r.dport[0] << 8 | r.dport[1]));
	HASH_FIND(hh, a->cache, &key, sizeof(key), e);
	if (e && kind_cacheable(req.kind)) {
		blob = e->reply[req.kind - A2S_INFO];
		cached = blob != NULL;
	} else if (e) { /* 'W': a challenge for whatever the client asks next */
		cached = e->reply[0] || e->reply[1] || e->reply[2];
	}
	memcpy(&ip, r.saddr, 4);
	if (req.has_challenge)
		ok = a2s_challenge_ok(&a->keys, ip, req.challenge, now_ms);

	/* The frame starts at `addr` (maybe past a headroom); the reply at its base. */
	out = xsk_umem__get_data(w->area, base);
	if (out != f)
		memmove(out, f, r.l2_len);
	switch (a2s_decide(&req, plen, ok, cached)) {
	case A2S_ACT_CHALLENGE:
		a2s_build_challenge(out + r.l2_len + XSK_HDRS, A2S_CHALLENGE_LEN,
				    a2s_challenge_now(&a->keys, ip, now_ms));
		olen = reply_headers(out, &r, A2S_CHALLENGE_LEN);
		if (!tx_queue(w, &base, &olen, 1))
			break;
		count(&w->c.challenged, 1);
		count(&w->c.tx_parts, 1);
		return true;
	case A2S_ACT_REPLY:
		if (blob->len > A2S_PACKET_MAX) {
			if (!send_split(w, base, &r, blob))
				break;
		} else {
			memcpy(out + r.l2_len + XSK_HDRS, blob->bytes, blob->len);
			olen = reply_headers(out, &r, (uint32_t)blob->len);
			if (!tx_queue(w, &base, &olen, 1))
				break;
			count(&w->c.tx_parts, 1);
		}
		count(&w->c.served, 1);
		return true;
	default: /* forward or drop: XDP only sends kinds it believes cached, so rare */
		break;
	}
	count(&w->c.dropped, 1);
	return false;
}

static void refill(struct xsk_worker *w)
{
	uint32_t n = xsk_prod_nb_free(&w->fill, w->n_free), idx;

	if (n > w->n_free)
		n = w->n_free;
	if (!n || xsk_ring_prod__reserve(&w->fill, n, &idx) != n)
		return;
	for (uint32_t i = 0; i < n; i++)
		*xsk_ring_prod__fill_addr(&w->fill, idx + i) = w->free_frames[--w->n_free];
	xsk_ring_prod__submit(&w->fill, n);
}

static void complete(struct xsk_worker *w)
{
	uint32_t idx, n = xsk_ring_cons__peek(&w->comp, XSK_RING, &idx);

	for (uint32_t i = 0; i < n; i++)
		frame_free(w, *xsk_ring_cons__comp_addr(&w->comp, idx + i));
	if (n)
		xsk_ring_cons__release(&w->comp, n);
	w->tx_inflight -= n < w->tx_inflight ? n : w->tx_inflight;
}

/* Copy mode transmits only inside sendto(), and at most 32 descriptors per
 * call (the kernel's TX batch): one kick per RX batch would leave the rest
 * of a 64-request batch, or of a split reply, in the ring until the next
 * request came. So kick on every turn of the loop while anything is still
 * unsent. */
static void kick(struct xsk_worker *w, int fd)
{
	if (w->tx_inflight && (!w->zerocopy || xsk_ring_prod__needs_wakeup(&w->tx)))
		sendto(fd, NULL, 0, MSG_DONTWAIT, NULL, 0);
}

static void *worker_main(void *arg)
{
	struct xsk_worker *w = arg;
	struct pollfd pfd = { .fd = xsk_socket__fd(w->xsk), .events = POLLIN };

	while (!__atomic_load_n(&w->a->stop, __ATOMIC_ACQUIRE)) {
		uint32_t idx, n;

		complete(w);
		refill(w);
		kick(w, pfd.fd);
		/* Unsent replies: come back at once to kick again. */
		if (poll(&pfd, 1, w->tx_inflight ? 1 : XSK_POLL_MS) <= 0)
			continue;
		n = xsk_ring_cons__peek(&w->rx, XSK_BATCH, &idx);
		if (!n)
			continue;
		pthread_rwlock_rdlock(&w->a->lock);
		{
			uint64_t now = (uint64_t)bf_wall_ms();

			for (uint32_t i = 0; i < n; i++) {
				const struct xdp_desc *d = xsk_ring_cons__rx_desc(&w->rx, idx + i);

				if (!handle(w, d->addr, d->len, now))
					frame_free(w, d->addr);
			}
		}
		pthread_rwlock_unlock(&w->a->lock);
		xsk_ring_cons__release(&w->rx, n);
		if (w->tx_pending) {
			xsk_ring_prod__submit(&w->tx, w->tx_pending);
			w->tx_inflight += w->tx_pending;
			w->tx_pending = 0;
			kick(w, pfd.fd);
		}
	}
	return NULL;
}

/* ---- sockets ---- */

/* RX queues of an interface, from ETHTOOL_GCHANNELS (combined + RX-only channels): unlike
 * /sys/class/net, the ioctl answers for this thread's network namespace. 1 when the driver
 * does not say. */
static int rx_queues(const char *ifname)
{
	struct ethtool_channels ch = { .cmd = ETHTOOL_GCHANNELS };
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), n = 1;

	if (fd < 0)
		return 1;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ifr.ifr_data = (void *)&ch;
	if (!ioctl(fd, SIOCETHTOOL, &ifr) && ch.combined_count + ch.rx_count > 0)
		n = (int)(ch.combined_count + ch.rx_count);
	close(fd);
	return n;
}

static void worker_close(struct xsk_worker *w)
{
	if (w->in_map)
		bpf_map_delete_elem(w->a->xsks_fd, &w->slot);
	if (w->xsk)
		xsk_socket__delete(w->xsk);
	if (w->umem)
		xsk_umem__delete(w->umem);
	if (w->area && w->area != MAP_FAILED)
		munmap(w->area, (size_t)XSK_FRAMES * XSK_FRAME_SIZE);
	w->in_map = false;
	w->xsk = NULL;
	w->umem = NULL;
	w->area = NULL;
}

static int umem_socket(struct xsk_worker *w, uint16_t bind_flags)
{
	struct xsk_umem_config ucfg = {
		.fill_size = XSK_RING, .comp_size = XSK_RING, .frame_size = XSK_FRAME_SIZE,
		.frame_headroom = 0,
	};
	struct xsk_socket_config scfg = {
		.rx_size = XSK_RING, .tx_size = XSK_RING,
		/* our own program redirects: libxdp must not load its default one */
		.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD,
		.bind_flags = bind_flags,
	};
	int rc;

	rc = xsk_umem__create(&w->umem, w->area, (uint64_t)XSK_FRAMES * XSK_FRAME_SIZE, &w->fill,
			      &w->comp, &ucfg);
	if (rc)
		return rc;
	rc = xsk_socket__create(&w->xsk, w->ifname, w->queue, w->umem, &w->rx, &w->tx, &scfg);
	if (rc) {
		w->xsk = NULL;
		xsk_umem__delete(w->umem);
		w->umem = NULL;
	}
	return rc;
}

static int worker_open(struct xsk_worker *w, char *err, size_t errlen)
{
	int rc, fd;

	w->area = mmap(NULL, (size_t)XSK_FRAMES * XSK_FRAME_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (w->area == MAP_FAILED) {
		rc = -errno;
		w->area = NULL;
		snprintf(err, errlen, "%s queue %u: UMEM: %s", w->ifname, w->queue, strerror(-rc));
		return rc;
	}
	/* Zero-copy where the driver has it; veth and most virtual NICs refuse it. */
	rc = umem_socket(w, XDP_USE_NEED_WAKEUP | XDP_ZEROCOPY);
	w->zerocopy = rc == 0;
	if (rc)
		rc = umem_socket(w, XDP_USE_NEED_WAKEUP | XDP_COPY);
	if (rc) {
		snprintf(err, errlen, "%s queue %u: AF_XDP socket: %s", w->ifname, w->queue,
			 strerror(-rc));
		return rc;
	}
	for (uint32_t i = 0; i < XSK_FRAMES; i++)
		w->free_frames[i] = (uint64_t)i * XSK_FRAME_SIZE;
	w->n_free = XSK_FRAMES;
	refill(w);
	fd = xsk_socket__fd(w->xsk);
	if (bpf_map_update_elem(w->a->xsks_fd, &w->slot, &fd, BPF_ANY)) {
		rc = -errno;
		snprintf(err, errlen, "%s queue %u: bf_xsks[%u]: %s", w->ifname, w->queue, w->slot,
			 strerror(-rc));
		return rc;
	}
	w->in_map = true;
	return 0;
}

struct edge_a2s *edge_a2s_start(const struct edge_dp *dp, int xsks_map_fd, char *err,
				size_t errlen)
{
	struct edge_a2s *a;
	int total = 0, rc;

	if (xsks_map_fd < 0) {
		snprintf(err, errlen, "the edge program has no bf_xsks map");
		return NULL;
	}
	a = calloc(1, sizeof(*a));
	if (!a) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	a->xsks_fd = xsks_map_fd;
	{
		pthread_rwlockattr_t attr;

		pthread_rwlockattr_init(&attr);
		pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
		pthread_rwlock_init(&a->lock, &attr);
		pthread_rwlockattr_destroy(&attr);
	}
	/* A key of our own until the fleet's arrives: challenges then only pass here. */
	if (getrandom(a->keys.cur, sizeof(a->keys.cur), 0) != sizeof(a->keys.cur)) {
		snprintf(err, errlen, "getrandom: %s", strerror(errno));
		goto out_free;
	}
	for (int i = 0; i < dp->n_ifs; i++) {
		int q = rx_queues(dp->ifs[i].name);

		total += q < BF_XSK_QUEUES ? q : BF_XSK_QUEUES;
	}
	if (!total) {
		snprintf(err, errlen, "no interfaces");
		goto out_free;
	}
	a->w = calloc((size_t)total, sizeof(*a->w));
	if (!a->w) {
		snprintf(err, errlen, "out of memory");
		goto out_free;
	}
	for (int i = 0; i < dp->n_ifs && i < BF_XSK_IFACES; i++) {
		int q = rx_queues(dp->ifs[i].name);

		for (int j = 0; j < q && j < BF_XSK_QUEUES; j++) {
			struct xsk_worker *w = &a->w[a->n_w++];

			w->a = a;
			snprintf(w->ifname, sizeof(w->ifname), "%s", dp->ifs[i].name);
			w->queue = (uint32_t)j;
			w->slot = (uint32_t)(i * BF_XSK_QUEUES + j);
			if (worker_open(w, err, errlen))
				goto out_stop;
		}
	}
	for (int i = 0; i < a->n_w; i++) {
		struct xsk_worker *w = &a->w[i];
		char name[16];

		rc = pthread_create(&w->thread, NULL, worker_main, w);
		if (rc) {
			snprintf(err, errlen, "starting a worker thread: %s", strerror(rc));
			goto out_stop;
		}
		w->started = true;
		snprintf(name, sizeof(name), "a2s/%.6s/%u", w->ifname, w->queue);
		pthread_setname_np(w->thread, name);
	}
	for (int i = 0; i < a->n_w; i++)
		pr_info("a2s: worker on %s queue %u (%s mode, bf_xsks[%u])", a->w[i].ifname,
			a->w[i].queue, a->w[i].zerocopy ? "zero-copy" : "copy", a->w[i].slot);
	return a;

out_stop:
	edge_a2s_stop(a);
	return NULL;
out_free:
	pthread_rwlock_destroy(&a->lock);
	free(a);
	return NULL;
}

void edge_a2s_stop(struct edge_a2s *a)
{
	struct a2s_entry *e, *tmp;

	if (!a)
		return;
	/* Out of the map first, so XDP forwards again at once rather than
	 * filling rings nobody reads while the workers wind down. */
	for (int i = 0; i < a->n_w; i++)
		if (a->w[i].in_map && !bpf_map_delete_elem(a->xsks_fd, &a->w[i].slot))
			a->w[i].in_map = false;
	__atomic_store_n(&a->stop, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < a->n_w; i++)
		if (a->w[i].started)
			pthread_join(a->w[i].thread, NULL);
	for (int i = 0; i < a->n_w; i++)
		worker_close(&a->w[i]);
	HASH_ITER(hh, a->cache, e, tmp) {
		HASH_DEL(a->cache, e);
		for (int k = 0; k < 3; k++)
			free(e->reply[k]);
		free(e);
	}
	pthread_rwlock_destroy(&a->lock);
	free(a->w);
	free(a);
}
