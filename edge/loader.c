/* loader.c - open -> reuse pins -> load -> attach (atomic replace) -> close;
 * and the reverse for --detach. */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "bifrost.h"
#include "edge.skel.h"
#include "loader.h"
#include "log.h"

#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif

static const char *map_names[] = { "bf_config",   "bf_stats",     "bf_conns",
				   "bf_conn_rev", "bf_served",    "bf_machines",
				   "bf_dests",    "bf_whitelist", "bf_blacklist",
				   "bf_blocklist", "bf_punches",  "bf_events",
				   "bf_protected", "bf_ratelimit", "bf_rules",
				   "bf_rule_stats", "bf_rule_rates", "bf_conn_stats",
				   "bf_punch_quota", "bf_ifaces", "bf_rule_idx",
				   "bf_rule_ports", "bf_valid",  "bf_hs_src",
				   "bf_hs_conn",  "bf_xsks",      "bf_list_batch",
				   "bf_port_open" };
#define N_MAPS (sizeof(map_names) / sizeof(map_names[0]))

static int *fd_slot(struct edge_map_fds *fd, size_t i)
{
	return (int *)fd + i;
}

void edge_map_fds_from_object(struct bpf_object *obj, struct edge_map_fds *fd)
{
	for (size_t m = 0; m < N_MAPS; m++) {
		struct bpf_map *map = bpf_object__find_map_by_name(obj, map_names[m]);

		*fd_slot(fd, m) = map ? bpf_map__fd(map) : -1;
	}
	{
		struct bpf_program *p = bpf_object__find_program_by_name(obj, "bifrost_list_batch");

		fd->list_batch_prog = p ? bpf_program__fd(p) : -1;
	}
}

void edge_pin_dir(const char *ifname, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", EDGE_PIN_ROOT, ifname);
}

static int cap_has(unsigned long long caps, int bit)
{
	return (caps >> bit) & 1;
}

int edge_preflight(const struct edge_config *cfg)
{
	unsigned long long caps = 0;
	struct statfs st;
	char line[256];
	FILE *f;

	f = fopen("/proc/self/status", "r");
	if (f) {
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "CapEff: %llx", &caps) == 1)
				break;
		fclose(f);
	}
	/* CAP_NET_ADMIN = 12, CAP_SYS_ADMIN = 21, CAP_BPF = 39 */
	if (!cap_has(caps, 12) || !(cap_has(caps, 21) || cap_has(caps, 39))) {
		pr_err("missing privilege: loading XDP needs CAP_NET_ADMIN and CAP_BPF "
		       "(or CAP_SYS_ADMIN); run bifrost-edge as root");
		return -EPERM;
	}
	for (int i = 0; cfg && i < cfg->n_ifaces; i++) {
		char path[128];
		int v = -1;

		if (!if_nametoindex(cfg->ifaces[i])) {
			pr_err("interface '%s' does not exist (check 'ip link' in this network "
			       "namespace)",
			       cfg->ifaces[i]);
			return -ENODEV;
		}
		snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/forwarding",
			 cfg->ifaces[i]);
		f = fopen(path, "r");
		if (f) {
			if (fscanf(f, "%d", &v) != 1)
				v = -1;
			fclose(f);
		}
		if (v == 0) {
			pr_err("IPv4 forwarding is off on %s, so the kernel refuses the route "
			       "lookups the edge needs; run: sysctl -w "
			       "net.ipv4.conf.%s.forwarding=1",
			       cfg->ifaces[i], cfg->ifaces[i]);
			return -EINVAL;
		}
	}
	if (statfs("/sys/fs/bpf", &st) || st.f_type != BPF_FS_MAGIC) {
		if (mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700")) {
			pr_err("/sys/fs/bpf is not a BPF filesystem and mounting one failed: %s; "
			       "run: mount -t bpf bpf /sys/fs/bpf",
			       strerror(errno));
			return -errno;
		}
		pr_info("mounted the BPF filesystem on /sys/fs/bpf");
	}
	return 0;
}

static int mkdir_p(const char *dir)
{
	char tmp[PATH_MAX];

	snprintf(tmp, sizeof(tmp), "%s", dir);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0700) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, 0700) && errno != EEXIST)
		return -errno;
	return 0;
}

/* The name of the XDP program attached to ifindex in `mode`, or "" if none. */
static __u32 attached_prog(int ifindex, __u32 mode_flag, char *name, size_t len)
{
	struct bpf_prog_info info = {};
	__u32 id = 0, ilen = sizeof(info);
	int fd;

	name[0] = '\0';
	if (bpf_xdp_query_id(ifindex, mode_flag, &id) || !id)
		return 0;
	fd = bpf_prog_get_fd_by_id(id);
	if (fd < 0)
		return id;
	if (!bpf_obj_get_info_by_fd(fd, &info, &ilen))
		snprintf(name, len, "%s", info.name);
	close(fd);
	return id;
}

static int write_iface_mac(int map_fd, const struct edge_iface *ifc)
{
	struct ifreq ifr = { 0 };
	struct bf_iface v = { 0 };
	__u32 key = (__u32)ifc->ifindex;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc = 0;

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifc->name);
	if (s < 0 || ioctl(s, SIOCGIFHWADDR, &ifr)) {
		rc = -errno;
		pr_err("%s: reading its MAC address failed: %s", ifc->name, strerror(errno));
	} else {
		memcpy(v.mac, ifr.ifr_hwaddr.sa_data, 6);
		if (bpf_map_update_elem(map_fd, &key, &v, BPF_ANY)) {
			rc = -errno;
			pr_err("%s: writing its MAC to bf_ifaces failed: %s", ifc->name,
			       strerror(errno));
		}
	}
	if (s >= 0)
		close(s);
	return rc;
}

static int attach_one(struct edge_iface *ifc, enum edge_xdp_mode want)
{
	int prog_fd = bpf_program__fd(ifc->skel->progs.bifrost_edge);
	LIBBPF_OPTS(bpf_xdp_attach_opts, opts);
	char name[BPF_OBJ_NAME_LEN];
	__u32 old_drv, old_skb;
	int rc, old_fd = -1;

	old_drv = attached_prog(ifc->ifindex, XDP_FLAGS_DRV_MODE, name, sizeof(name));
	if (old_drv && strcmp(name, "bifrost_edge")) {
		pr_err("%s already runs another XDP program ('%s', id %u); Bifrost will not "
		       "replace it: remove it with 'ip link set dev %s xdp off'",
		       ifc->name, name, old_drv, ifc->name);
		return -EBUSY;
	}
	old_skb = attached_prog(ifc->ifindex, XDP_FLAGS_SKB_MODE, name, sizeof(name));
	if (old_skb && strcmp(name, "bifrost_edge")) {
		pr_err("%s already runs another generic XDP program ('%s', id %u); remove it "
		       "with 'ip link set dev %s xdpgeneric off'",
		       ifc->name, name, old_skb, ifc->name);
		return -EBUSY;
	}

	/* A running Bifrost program is replaced in place, in its own mode, so
	 * that no packet meets an interface without a program. */
	if (old_drv || old_skb) {
		__u32 flag = old_drv ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE;

		old_fd = bpf_prog_get_fd_by_id(old_drv ? old_drv : old_skb);
		if (old_fd < 0)
			return -errno;
		opts.old_prog_fd = old_fd;
		rc = bpf_xdp_attach(ifc->ifindex, prog_fd, flag | XDP_FLAGS_REPLACE, &opts);
		close(old_fd);
		if (rc) {
			pr_err("%s: replacing the running program failed: %s", ifc->name,
			       strerror(-rc));
			return rc;
		}
		ifc->mode = old_drv ? "native" : "generic";
		pr_info("%s: replaced the running Bifrost program (id %u, %s mode) in place",
			ifc->name, old_drv ? old_drv : old_skb, ifc->mode);
		return 0;
	}

	if (want != EDGE_XDP_GENERIC) {
		rc = bpf_xdp_attach(ifc->ifindex, prog_fd,
				    XDP_FLAGS_DRV_MODE | XDP_FLAGS_UPDATE_IF_NOEXIST, NULL);
		if (!rc) {
			ifc->mode = "native";
			pr_info("%s: attached in native XDP mode", ifc->name);
			return 0;
		}
		if (want == EDGE_XDP_NATIVE) {
			pr_err("%s: native XDP refused (%s) and xdp_mode is 'native'", ifc->name,
			       strerror(-rc));
			return rc;
		}
		pr_warn("%s: native XDP refused (%s); falling back to generic (slower) mode",
			ifc->name, strerror(-rc));
	}
	rc = bpf_xdp_attach(ifc->ifindex, prog_fd,
			    XDP_FLAGS_SKB_MODE | XDP_FLAGS_UPDATE_IF_NOEXIST, NULL);
	if (rc) {
		pr_err("%s: attaching XDP failed: %s", ifc->name, strerror(-rc));
		return rc;
	}
	ifc->mode = "generic";
	pr_info("%s: attached in generic XDP mode", ifc->name);
	return 0;
}

/* Removes the pins this run created (a first start that failed). */
static void unpin_fresh(struct edge_dp *dp)
{
	for (size_t m = 0; m < N_MAPS; m++) {
		char path[PATH_MAX + 32];

		snprintf(path, sizeof(path), "%s/%s", dp->pin_dir, map_names[m]);
		unlink(path);
	}
	rmdir(dp->pin_dir);
}

/* The skeleton's map of a sized kind (config.h's EDGE_MAP_*). */
static struct bpf_map *sized_map(struct edge_bpf *skel, int m)
{
	switch (m) {
	case EDGE_MAP_PUNCHES: return skel->maps.bf_punches;
	case EDGE_MAP_RATELIMIT: return skel->maps.bf_ratelimit;
	case EDGE_MAP_BLOCKLIST: return skel->maps.bf_blocklist;
	case EDGE_MAP_BLACKLIST: return skel->maps.bf_blacklist;
	case EDGE_MAP_CONN_STATS: return skel->maps.bf_conn_stats;
	default: return skel->maps.bf_whitelist;
	}
}

/* The sizes the config asks for, set before the load. A map already pinned at
 * another size cannot be reused (libbpf would refuse it with a bare "parameter
 * mismatch"): said here, with what to do. */
static int size_maps(struct edge_bpf *skel, const struct edge_config *cfg, const char *pin_dir)
{
	for (int m = 0; m < EDGE_SIZED_MAPS; m++) {
		struct bpf_map *map = sized_map(skel, m);
		struct bpf_map_info info = { 0 };
		__u32 len = sizeof(info), want = cfg->map_entries[m];
		char path[PATH_MAX + 64];
		int fd, rc;

		if (!want)
			want = bpf_map__max_entries(map);
		else if ((rc = bpf_map__set_max_entries(map, want))) {
			pr_err("map_entries %s %u: %s", edge_sized_maps[m], want, strerror(-rc));
			return rc;
		}
		snprintf(path, sizeof(path), "%s/%s", pin_dir, bpf_map__name(map));
		fd = bpf_obj_get(path);
		if (fd < 0)
			continue; /* not pinned yet: made at this size */
		rc = bpf_obj_get_info_by_fd(fd, &info, &len);
		close(fd);
		if (!rc && info.max_entries != want) {
			pr_err("%s is pinned with %u entries and the config asks for %u (map_entries "
			       "%s): a pinned map keeps its size. Run 'bifrost-edge --detach' first "
			       "(it drops the learned punches and bans), then start again",
			       bpf_map__name(map), info.max_entries, want, edge_sized_maps[m]);
			return -EEXIST;
		}
	}
	return 0;
}

/* The kernel's memlock figure of a map (what it charges for it), from fdinfo. */
static unsigned long long map_memlock(int fd)
{
	char path[64], line[128];
	unsigned long long v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "memlock: %llu", &v) == 1)
			break;
	fclose(f);
	return v;
}

/* One line at start: what the maps cost in locked memory, the largest first. */
static void report_memlock(struct edge_bpf *skel)
{
	struct { const char *name; unsigned long long b; } top[3] = { { 0 } };
	unsigned long long total = 0;
	struct bpf_map *map;

	bpf_object__for_each_map(map, skel->obj) {
		unsigned long long b = map_memlock(bpf_map__fd(map));

		total += b;
		for (int i = 0; i < 3; i++) {
			if (b <= top[i].b)
				continue;
			memmove(&top[i + 1], &top[i], (size_t)(2 - i) * sizeof(top[0]));
			top[i].name = bpf_map__name(map);
			top[i].b = b;
			break;
		}
	}
	pr_info("maps: %.1f MiB of kernel memory (largest: %s %.1f MiB, %s %.1f MiB, %s %.1f "
		"MiB; sizes: map_entries, docs/OPERATIONS.md)",
		total / 1048576.0, top[0].name ? top[0].name : "-", top[0].b / 1048576.0,
		top[1].name ? top[1].name : "-", top[1].b / 1048576.0,
		top[2].name ? top[2].name : "-", top[2].b / 1048576.0);
}

int edge_dp_load(struct edge_dp *dp, const struct edge_config *cfg)
{
	char probe[PATH_MAX + 32];
	int rc, fresh;

	memset(dp, 0, sizeof(*dp));
	edge_pin_dir(cfg->ifaces[0], dp->pin_dir, sizeof(dp->pin_dir));
	snprintf(probe, sizeof(probe), "%s/bf_config", dp->pin_dir);
	fresh = access(probe, F_OK) != 0;
	rc = mkdir_p(dp->pin_dir);
	if (rc) {
		pr_err("cannot create %s: %s", dp->pin_dir, strerror(-rc));
		return rc;
	}

	for (int i = 0; i < cfg->n_ifaces; i++) {
		struct edge_iface *ifc = &dp->ifs[i];
		LIBBPF_OPTS(bpf_object_open_opts, oopts, .pin_root_path = dp->pin_dir);

		snprintf(ifc->name, sizeof(ifc->name), "%s", cfg->ifaces[i]);
		ifc->ifindex = (int)if_nametoindex(ifc->name);
		if (!ifc->ifindex) {
			pr_err("interface '%s' does not exist", ifc->name);
			rc = -ENODEV;
			goto out_close;
		}
		ifc->skel = edge_bpf__open_opts(&oopts);
		if (!ifc->skel) {
			rc = -errno;
			pr_err("opening the BPF object failed: %s", strerror(-rc));
			goto out_close;
		}
		dp->n_ifs++;
		/* Each interface owns BF_XSK_QUEUES slots of one bf_xsks shared by
		 * every program (it is not pinned, so the first one's fd is reused). */
		ifc->skel->rodata->xsk_base = (__u32)i * BF_XSK_QUEUES;
		if (i > 0) {
			rc = bpf_map__reuse_fd(ifc->skel->maps.bf_xsks,
					       bpf_map__fd(dp->ifs[0].skel->maps.bf_xsks));
			if (rc) {
				pr_err("sharing bf_xsks between interfaces failed: %s",
				       strerror(-rc));
				goto out_close;
			}
		}
		rc = size_maps(ifc->skel, cfg, dp->pin_dir);
		if (rc)
			goto out_close;
		rc = edge_bpf__load(ifc->skel);
		if (rc) {
			pr_err("loading the XDP program failed: %s. If maps pinned in %s come "
			       "from an incompatible version, run 'bifrost-edge --detach' first "
			       "(this drops the learned punches)",
			       strerror(-rc), dp->pin_dir);
			goto out_close;
		}
	}
	edge_map_fds_from_object(dp->ifs[0].skel->obj, &dp->fd);
	report_memlock(dp->ifs[0].skel);
	for (int i = 0; i < dp->n_ifs; i++) {
		/* Its MAC first: from the first packet on, a frame for another host
		 * (a promiscuous NIC, a flooding switch) is not sent on. */
		rc = write_iface_mac(dp->fd.ifaces, &dp->ifs[i]);
		if (!rc)
			rc = attach_one(&dp->ifs[i], cfg->xdp_mode);
		if (rc)
			goto out_close;
	}
	return 0;

out_close:
	{
		char dir[PATH_MAX];

		snprintf(dir, sizeof(dir), "%s", dp->pin_dir);
		edge_dp_close(dp);
		if (fresh) {
			snprintf(dp->pin_dir, sizeof(dp->pin_dir), "%s", dir);
			unpin_fresh(dp);
		}
	}
	return rc;
}

void edge_dp_close(struct edge_dp *dp)
{
	if (dp->owns_fds)
		for (size_t m = 0; m < N_MAPS; m++)
			if (*fd_slot(&dp->fd, m) >= 0)
				close(*fd_slot(&dp->fd, m));
	for (int i = 0; i < dp->n_ifs; i++)
		edge_bpf__destroy(dp->ifs[i].skel);
	memset(dp, 0, sizeof(*dp));
}

int edge_dp_open_pinned(struct edge_dp *dp, const char *ifname)
{
	memset(dp, 0, sizeof(*dp));
	edge_pin_dir(ifname, dp->pin_dir, sizeof(dp->pin_dir));
	dp->owns_fds = 1;
	for (size_t m = 0; m < N_MAPS; m++)
		*fd_slot(&dp->fd, m) = -1;
	dp->fd.list_batch_prog = -1;
	for (size_t m = 0; m < N_MAPS; m++) {
		char path[PATH_MAX + 32];
		int fd;

		if (fd_slot(&dp->fd, m) == &dp->fd.xsks || fd_slot(&dp->fd, m) == &dp->fd.list_batch)
			continue; /* not pinned: the AF_XDP sockets and the list writer's array
				   * belong to the running daemon */
		snprintf(path, sizeof(path), "%s/%s", dp->pin_dir, map_names[m]);
		fd = bpf_obj_get(path);
		if (fd < 0 && errno == ENOENT && fd_slot(&dp->fd, m) == &dp->fd.conn_stats)
			continue; /* an edge of an older version: no per-connection counters */
		if (fd < 0 && errno == ENOENT && fd_slot(&dp->fd, m) == &dp->fd.ifaces)
			continue; /* an edge of an older version: no interface MACs */
		if (fd < 0 && errno == ENOENT && fd_slot(&dp->fd, m) == &dp->fd.port_open)
			continue; /* an edge of an older version: no closed-port bits */
		if (fd < 0 && errno == ENOENT &&
		    (fd_slot(&dp->fd, m) == &dp->fd.rule_idx || fd_slot(&dp->fd, m) == &dp->fd.rule_ports))
			continue; /* an edge of an older version: no rules port index */
		if (fd < 0) {
			int err = -errno;

			pr_err("cannot open %s: %s (is bifrost-edge running with '%s' as its "
			       "first interface?)",
			       path, strerror(-err), ifname);
			edge_dp_close(dp);
			return err;
		}
		*fd_slot(&dp->fd, m) = fd;
	}
	return 0;
}

int edge_dp_detach(const struct edge_config *cfg)
{
	char dir[PATH_MAX], name[BPF_OBJ_NAME_LEN];
	int rc = 0;

	for (int i = 0; i < cfg->n_ifaces; i++) {
		int ifindex = (int)if_nametoindex(cfg->ifaces[i]);
		__u32 modes[] = { XDP_FLAGS_DRV_MODE, XDP_FLAGS_SKB_MODE };

		if (!ifindex) {
			pr_warn("interface '%s' is gone; nothing to detach there", cfg->ifaces[i]);
			continue;
		}
		for (int m = 0; m < 2; m++) {
			__u32 id = attached_prog(ifindex, modes[m], name, sizeof(name));
			LIBBPF_OPTS(bpf_xdp_attach_opts, opts);
			int fd;

			if (!id)
				continue;
			if (strcmp(name, "bifrost_edge")) {
				pr_warn("%s runs '%s', not Bifrost; left alone", cfg->ifaces[i], name);
				continue;
			}
			fd = bpf_prog_get_fd_by_id(id);
			opts.old_prog_fd = fd;
			if (bpf_xdp_detach(ifindex, modes[m] | XDP_FLAGS_REPLACE, &opts)) {
				pr_err("%s: detaching program %u failed: %s", cfg->ifaces[i], id,
				       strerror(errno));
				rc = -errno;
			} else {
				pr_info("%s: detached Bifrost XDP program %u", cfg->ifaces[i], id);
			}
			if (fd >= 0)
				close(fd);
		}
	}
	edge_pin_dir(cfg->ifaces[0], dir, sizeof(dir));
	for (size_t m = 0; m < N_MAPS; m++) {
		char path[PATH_MAX + 32];

		snprintf(path, sizeof(path), "%s/%s", dir, map_names[m]);
		if (unlink(path) && errno != ENOENT) {
			pr_err("cannot remove %s: %s", path, strerror(errno));
			rc = -errno;
		}
	}
	if (rmdir(dir) && errno != ENOENT) {
		pr_warn("cannot remove %s: %s", dir, strerror(errno));
	} else {
		pr_info("removed pinned maps in %s", dir);
	}
	return rc;
}
