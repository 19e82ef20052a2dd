/* machines.c - the game machines in bf_machines: reverse-path interfaces,
 * quota slots, and every punch user space writes or removes. */
#include <bpf/bpf.h>
#include <arpa/inet.h>
#include <errno.h>
#include <linux/rtnetlink.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "clock.h"
#include "loader.h"
#include "log.h"
#include "machines.h"
#include "maps.h" /* edge_map_dump */
#include "ports.h"

static int cmp_machine(const void *a, const void *b)
{
	uint32_t x = ((const struct edge_machine *)a)->ip, y = ((const struct edge_machine *)b)->ip;

	return x < y ? -1 : x > y;
}

static struct edge_machine *find(const struct edge_machines *mm, uint32_t ip)
{
	struct edge_machine key = { .ip = ip };

	return mm->n ? bsearch(&key, mm->m, mm->n, sizeof(*mm->m), cmp_machine) : NULL;
}

static void quota_add(struct edge_machines *mm, uint32_t slot, int64_t d)
{
	if (mm->quota && slot < BF_MACHINES_MAX)
		__atomic_fetch_add(&mm->quota[slot], (uint64_t)d, __ATOMIC_RELAXED);
}

uint64_t edge_machine_punches(const struct edge_machines *mm, uint32_t machine)
{
	const struct edge_machine *e = find(mm, machine);
	int64_t v;

	if (!e || !mm->quota)
		return 0;
	v = (int64_t)__atomic_load_n(&mm->quota[e->slot], __ATOMIC_RELAXED);
	return v > 0 ? (uint64_t)v : 0;
}

int edge_machines_init(struct edge_machines *mm, const struct edge_map_fds *fd)
{
	struct bf_punch_key *pk;
	struct bf_punch_val *pv;
	uint32_t *ips;
	struct bf_machine *vals;
	size_t n, np;
	void *q;
	int rc;

	memset(mm, 0, sizeof(*mm));
	mm->fd_machines = fd->machines;
	mm->fd_quota = fd->punch_quota;
	mm->fd_punches = fd->punches;
	mm->fd_served = fd->served;
	mm->punch_max = EDGE_PUNCH_MAX_DEFAULT;
	q = mmap(NULL, BF_MACHINES_MAX * sizeof(uint64_t), PROT_READ | PROT_WRITE, MAP_SHARED,
		 fd->punch_quota, 0);
	if (q == MAP_FAILED) {
		rc = -errno;
		pr_err("mapping bf_punch_quota failed: %s", strerror(-rc));
		return rc;
	}
	mm->quota = q;

	/* Slots as a running edge left them: XDP counts into them already. */
	rc = edge_map_dump(fd->machines, sizeof(*ips), sizeof(*vals), (void **)&ips, (void **)&vals, &n);
	if (rc)
		return rc;
	mm->m = calloc(n + 1, sizeof(*mm->m));
	if (!mm->m) {
		free(ips);
		free(vals);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		if (vals[i].slot < BF_MACHINES_MAX)
			mm->m[mm->n++] = (struct edge_machine){ ips[i], vals[i].ifindex, vals[i].slot };
	free(ips);
	free(vals);
	qsort(mm->m, mm->n, sizeof(*mm->m), cmp_machine);

	/* Recount: whatever a crash or an older version left in the counters,
	 * the map's contents are the truth. */
	rc = edge_map_dump(fd->punches, sizeof(*pk), sizeof(*pv), (void **)&pk, (void **)&pv, &np);
	if (rc)
		return rc;
	for (uint32_t s = 0; s < BF_MACHINES_MAX; s++)
		__atomic_store_n(&mm->quota[s], 0, __ATOMIC_RELAXED);
	for (size_t i = 0; i < np; i++) {
		struct edge_machine *e = find(mm, pv[i].machine_ip);

		if (e)
			quota_add(mm, e->slot, 1);
	}
	free(pk);
	free(pv);
	return 0;
}

void edge_machines_free(struct edge_machines *mm)
{
	if (mm->quota)
		munmap(mm->quota, BF_MACHINES_MAX * sizeof(uint64_t));
	free(mm->m);
	mm->quota = NULL;
	mm->m = NULL;
	mm->n = 0;
}

void edge_machines_configure(struct edge_machines *mm, const int *backend, int n_backend,
			     uint32_t punch_max)
{
	mm->n_backend = 0;
	for (int i = 0; i < n_backend && i < EDGE_MAX_IFACES; i++)
		if (backend[i] > 0)
			mm->backend[mm->n_backend++] = backend[i];
	mm->punch_max = punch_max ? punch_max : EDGE_PUNCH_MAX_DEFAULT;
}

/* ---- routes ---- */

int edge_route_oif(uint32_t dst, int *oif)
{
	struct {
		struct nlmsghdr nh;
		struct rtmsg rt;
		struct rtattr rta;
		uint32_t dst;
	} req = {
		.nh = { .nlmsg_len = sizeof(req), .nlmsg_type = RTM_GETROUTE,
			.nlmsg_flags = NLM_F_REQUEST, .nlmsg_seq = 1 },
		.rt = { .rtm_family = AF_INET, .rtm_dst_len = 32 },
		.rta = { .rta_type = RTA_DST, .rta_len = RTA_LENGTH(sizeof(uint32_t)) },
		.dst = dst,
	};
	struct timeval tv = { .tv_sec = 1 };
	char buf[4096];
	struct nlmsghdr *nh;
	ssize_t len;
	int fd, rc = -ENOENT;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (send(fd, &req, sizeof(req), 0) < 0) {
		rc = -errno;
		goto out;
	}
	len = recv(fd, buf, sizeof(buf), 0);
	if (len < 0) {
		rc = -errno;
		goto out;
	}
	for (nh = (struct nlmsghdr *)buf; NLMSG_OK(nh, (size_t)len); nh = NLMSG_NEXT(nh, len)) {
		struct rtmsg *rt = NLMSG_DATA(nh);
		struct rtattr *a;
		int alen;

		if (nh->nlmsg_type == NLMSG_ERROR) {
			struct nlmsgerr *e = NLMSG_DATA(nh);

			rc = e->error ? e->error : -ENOENT;
			break;
		}
		if (nh->nlmsg_type != RTM_NEWROUTE)
			continue;
		alen = (int)RTM_PAYLOAD(nh);
		for (a = RTM_RTA(rt); RTA_OK(a, alen); a = RTA_NEXT(a, alen))
			if (a->rta_type == RTA_OIF && RTA_PAYLOAD(a) >= sizeof(int)) {
				memcpy(oif, RTA_DATA(a), sizeof(int));
				rc = 0;
			}
		break;
	}
out:
	close(fd);
	return rc;
}

/* The backend interface the route to ip leaves by, or 0 (none, or not a
 * backend interface: then nothing is accepted from that machine). */
static uint32_t backend_oif(const struct edge_machines *mm, uint32_t ip)
{
	int oif;

	if (edge_route_oif(ip, &oif))
		return 0;
	for (int i = 0; i < mm->n_backend; i++)
		if (mm->backend[i] == oif)
			return (uint32_t)oif;
	return 0;
}

static void say_route(uint32_t ip, uint32_t was, uint32_t now)
{
	char a[BF_ADDR_STRLEN], n[IF_NAMESIZE] = "?";

	if (now) {
		if_indextoname(now, n);
		pr_info("machine %s: its return traffic is accepted on %s", bf_ipv4_str(ip, a), n);
	} else {
		pr_warn("machine %s: the route to it does not leave by a backend interface "
			"(backend_iface); its return traffic is dropped as return_spoofed until "
			"it does",
			bf_ipv4_str(ip, a));
	}
	(void)was;
}

/* ---- the set of machines ---- */

static int slot_used(const struct edge_machines *mm, uint32_t slot, const struct bf_machine *vals,
		     size_t nv)
{
	for (size_t i = 0; i < mm->n; i++)
		if (mm->m[i].slot == slot)
			return 1;
	for (size_t i = 0; i < nv; i++)
		if (vals[i].slot == slot)
			return 1;
	return 0;
}

int edge_machines_values(struct edge_machines *mm, const uint32_t *ips, size_t n,
			 struct bf_machine *vals)
{
	uint32_t next = 0;

	if (n > BF_MACHINES_MAX)
		return -E2BIG;
	for (size_t i = 0; i < n; i++) {
		const struct edge_machine *e = find(mm, ips[i]);

		memset(&vals[i], 0, sizeof(vals[i]));
		vals[i].ifindex = backend_oif(mm, ips[i]);
		vals[i].punch_max = mm->punch_max;
		if (e) {
			vals[i].slot = e->slot;
			if (e->ifindex != vals[i].ifindex)
				say_route(ips[i], e->ifindex, vals[i].ifindex);
			continue;
		}
		vals[i].slot = BF_MACHINES_MAX;
	}
	/* New machines take the lowest slots no machine holds (old or new). */
	for (size_t i = 0; i < n; i++) {
		if (vals[i].slot != BF_MACHINES_MAX)
			continue;
		while (next < BF_MACHINES_MAX && slot_used(mm, next, vals, n))
			next++;
		if (next == BF_MACHINES_MAX)
			return -E2BIG;
		vals[i].slot = next++;
		quota_add(mm, vals[i].slot,
			  -(int64_t)__atomic_load_n(&mm->quota[vals[i].slot], __ATOMIC_RELAXED));
		if (!vals[i].ifindex)
			say_route(ips[i], 0, 0);
	}
	return 0;
}

int edge_machines_commit(struct edge_machines *mm, const uint32_t *ips,
			 const struct bf_machine *vals, size_t n)
{
	struct edge_machine *nm = calloc(n + 1, sizeof(*nm));

	if (!nm)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		nm[i] = (struct edge_machine){ ips[i], vals[i].ifindex, vals[i].slot };
	qsort(nm, n, sizeof(*nm), cmp_machine);
	free(mm->m);
	mm->m = nm;
	mm->n = n;
	return 0;
}

int edge_machines_refresh(struct edge_machines *mm)
{
	int changed = 0;

	for (size_t i = 0; i < mm->n; i++) {
		struct edge_machine *e = &mm->m[i];
		uint32_t oif = backend_oif(mm, e->ip);
		struct bf_machine v;

		if (oif == e->ifindex)
			continue;
		if (bpf_map_lookup_elem(mm->fd_machines, &e->ip, &v))
			continue;
		v.ifindex = oif;
		if (bpf_map_update_elem(mm->fd_machines, &e->ip, &v, BPF_EXIST))
			return -errno;
		say_route(e->ip, e->ifindex, oif);
		e->ifindex = oif;
		changed++;
	}
	return changed;
}

/* ---- punches written by user space ---- */

int edge_punch_put(struct edge_machines *mm, const struct bf_punch_key *k, uint32_t machine,
		   uint64_t expires_ns)
{
	struct bf_served_key sk = { .machine_ip = machine, .bind_ip = k->bind_ip };
	struct bf_punch_val old, v = { .machine_ip = machine, .expires_ns = expires_ns };
	struct edge_machine *e = find(mm, machine), *was;
	uint32_t cnt;

	if (!e) {
		mm->refused_unknown++;
		return -ENOENT;
	}
	if (bpf_map_lookup_elem(mm->fd_served, &sk, &cnt)) {
		mm->refused_served++;
		return -EPERM;
	}
	v.reported_ns = bf_mono_ns();
	if (!bpf_map_lookup_elem(mm->fd_punches, k, &old)) {
		if (bpf_map_update_elem(mm->fd_punches, k, &v, BPF_EXIST))
			return errno == ENOENT ? edge_punch_put(mm, k, machine, expires_ns) : -errno;
		if (old.machine_ip != machine) { /* the flow moved to another machine */
			if ((was = find(mm, old.machine_ip)))
				quota_add(mm, was->slot, -1);
			quota_add(mm, e->slot, 1);
		}
		return 0;
	}
	if ((int64_t)__atomic_load_n(&mm->quota[e->slot], __ATOMIC_RELAXED) >=
	    (int64_t)mm->punch_max) {
		mm->refused_quota++;
		return -EDQUOT;
	}
	if (bpf_map_update_elem(mm->fd_punches, k, &v, BPF_NOEXIST)) {
		if (errno == EEXIST) /* XDP made it meanwhile: refresh that one */
			return edge_punch_put(mm, k, machine, expires_ns);
		if (errno == E2BIG || errno == ENOMEM) {
			mm->refused_full++;
			return -ENOSPC;
		}
		return -errno;
	}
	quota_add(mm, e->slot, 1);
	edge_ports_open(mm->ports, k->bind_ip, ntohs(k->bind_port), k->proto);
	return 0;
}

int edge_punch_del(struct edge_machines *mm, const struct bf_punch_key *k)
{
	struct bf_punch_val v;

	if (bpf_map_lookup_elem(mm->fd_punches, k, &v))
		return -ENOENT;
	if (bpf_map_delete_elem(mm->fd_punches, k))
		return -errno;
	edge_punch_gone(mm, v.machine_ip);
	return 0;
}

void edge_punch_gone(struct edge_machines *mm, uint32_t machine)
{
	struct edge_machine *e = find(mm, machine);

	if (e)
		quota_add(mm, e->slot, -1);
}
