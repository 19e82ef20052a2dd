/* gs.c - bifrost-gs: loads the game-server-machine side (bpf/gs.bpf.c): XDP
 * decapsulation of IPIP from known POPs and TC egress encapsulation of the
 * anycast address's replies back through the client's POP. */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <getopt.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "bifrost.h"
#include "gs.skel.h"
#include "log.h"
#include "notify.h"

#define PIN_ROOT "/sys/fs/bpf/bifrost-gs"
#define TC_HANDLE 0xb1f
#define TC_PRIO 1
#define MAX_ADDRS 64
#define MAX_IFACES 8

static const char *gs_reasons[GS_R_MAX] = { GS_R_NAMES };

struct opts {
	const char *ifaces[MAX_IFACES];
	int n_ifaces;
	uint32_t machine, default_pop;
	uint32_t pops[MAX_ADDRS], anycast[MAX_ADDRS];
	int n_pops, n_anycast;
	uint64_t idle_ms;
	unsigned ttl;
	int generic, json;
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: bifrost-gs COMMAND [OPTIONS]\n"
		"The game-server machine's side of Bifrost, all in BPF (no IPIP device needed).\n"
		"\n"
		"Commands:\n"
		"  attach   load or update: decapsulate IPIP from POPs (XDP), send anycast\n"
		"           replies back through the client's POP (TC egress)\n"
		"  detach   remove the programs and pinned maps\n"
		"  status   counters and the client -> POP table\n"
		"  run      attach, then stay: re-attach when the programs go missing (an\n"
		"           interface re-created, a program removed), SIGHUP re-attaches,\n"
		"           SIGTERM exits leaving them attached; systemd Type=notify with\n"
		"           its watchdog (the bifrost-gs unit)\n"
		"\n"
		"IPIP is decapsulated, and its client remembered, only when its outer source\n"
		"is a --pop, its outer destination --machine, the route back to that POP\n"
		"leaves by the interface it came in on, and it carries a packet for an\n"
		"--anycast address. Other IPIP is dropped and counted (spoofed: a POP's\n"
		"address failing a check; ipip_foreign: no POP; bad_inner). Other traffic\n"
		"passes untouched. The route check needs IPv4 forwarding on the interfaces\n"
		"(sysctl -w net.ipv4.conf.IFNAME.forwarding=1): attach refuses without it.\n"
		"\n"
		"Options:\n"
		"  -i, --iface IFNAME        interface towards the POPs (repeatable)\n"
		"      --machine A.B.C.D     this machine's address: where the POPs send IPIP,\n"
		"                            and the outer source of the replies\n"
		"      --pop A.B.C.D         a POP address to accept IPIP from (repeatable)\n"
		"      --default-pop A.B.C.D POP for clients never seen (default: first --pop)\n"
		"      --anycast A.B.C.D     an anycast address served here (repeatable)\n"
		"      --idle DURATION       forget a client's POP after this idle time (300s)\n"
		"      --ttl N               outer TTL (64)\n"
		"      --xdp-generic         use generic XDP (for NICs without native XDP)\n"
		"      --json                JSON output for status\n"
		"  -h, --help                this text\n"
		"\n"
		"The game server binds the anycast address, configured on lo; rp_filter must\n"
		"be loose or off on the interfaces. See docs/OPERATIONS.md.\n");
}

static void pin_dir(const char *ifname, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", PIN_ROOT, ifname);
}

/* 1 when IPv4 forwarding is on for ifname, 0 when off, -1 when unknown.
 * bpf_fib_lookup answers FWD_DISABLED on an interface with forwarding off,
 * and the ingress program then drops every POP packet as spoofed. */
static int forwarding_on(const char *ifname)
{
	char path[128];
	FILE *f;
	int v = -1;

	snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/forwarding", ifname);
	f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%d", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v < 0 ? -1 : v != 0;
}

#define FORWARDING_OFF_MSG                                                              \
	"IPv4 forwarding is off on %s: the kernel then refuses the route lookup that "   \
	"checks where POP traffic comes in, and every packet from the POPs would be "     \
	"dropped as spoofed; run: sysctl -w net.ipv4.conf.%s.forwarding=1"

/* Makes a hash map of __be32 -> 1 hold exactly addrs. */
static int set_exact(int fd, const uint32_t *addrs, int n)
{
	uint32_t key, next, one = 1;
	void *prev = NULL;

	for (int i = 0; i < n; i++)
		if (bpf_map_update_elem(fd, &addrs[i], &one, BPF_ANY))
			return -errno;
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		int want = 0;

		for (int i = 0; i < n; i++)
			want |= addrs[i] == next;
		key = next;
		if (!want) {
			bpf_map_delete_elem(fd, &key);
			prev = NULL; /* restart: the deleted key cannot be a cursor */
			continue;
		}
		prev = &key;
	}
	return 0;
}

static int attach_xdp(int ifindex, int prog_fd, const char *ifname, int generic)
{
	__u32 id = 0;
	int rc;

	bpf_xdp_query_id(ifindex, 0, &id);
	if (id) {
		/* Replace whatever runs in its mode; ours or not is checked by name. */
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);
		int fd = bpf_prog_get_fd_by_id(id);

		if (fd >= 0 && !bpf_obj_get_info_by_fd(fd, &info, &len) &&
		    strncmp(info.name, "bifrost_gs_ingress", sizeof(info.name) - 1)) {
			close(fd);
			pr_err("%s already runs XDP program '%s'; remove it first", ifname, info.name);
			return -EBUSY;
		}
		if (fd >= 0)
			close(fd);
	}
	if (!generic) {
		rc = bpf_xdp_attach(ifindex, prog_fd, XDP_FLAGS_DRV_MODE, NULL);
		if (!rc)
			return 0;
		pr_warn("%s: native XDP refused (%s); using generic mode", ifname, strerror(-rc));
	}
	rc = bpf_xdp_attach(ifindex, prog_fd, XDP_FLAGS_SKB_MODE, NULL);
	if (rc)
		pr_err("%s: attaching XDP failed: %s", ifname, strerror(-rc));
	return rc;
}

static int same_def(const struct bpf_map *m, const struct bpf_map_info *info)
{
	return info->type == bpf_map__type(m) && info->key_size == bpf_map__key_size(m) &&
	       info->value_size == bpf_map__value_size(m) &&
	       info->max_entries == bpf_map__max_entries(m) &&
	       info->map_flags == bpf_map__map_flags(m);
}

/* libbpf refuses a pinned map whose definition differs from the object's
 * with a bare "couldn't reuse pinned map", so the pins are compared first.
 * gs_stats only grew (GS_R_SLOTS) and holds nothing but counters: its stale
 * pin is moved aside and *stale gets an fd on the old map, to pin it back if
 * the load fails. Any other difference needs a detach. Returns 0 or -errno. */
static int check_pins(struct gs_bpf *skel, const char *ifname, int *stale)
{
	struct bpf_map *m;

	*stale = -1;
	bpf_object__for_each_map(m, skel->obj) {
		const char *path = bpf_map__pin_path(m);
		struct bpf_map_info info = { 0 };
		__u32 len = sizeof(info);
		int fd = path ? bpf_obj_get(path) : -1;

		if (fd < 0)
			continue;
		if (!bpf_obj_get_info_by_fd(fd, &info, &len) && same_def(m, &info)) {
			close(fd);
			continue;
		}
		if (m == skel->maps.gs_stats && info.type == bpf_map__type(m) &&
		    info.key_size == bpf_map__key_size(m) &&
		    info.value_size == bpf_map__value_size(m) &&
		    info.max_entries < bpf_map__max_entries(m) && !unlink(path)) {
			pr_info("gs_stats pinned by an older bifrost-gs has %u slots, this one %u: "
				"replaced, its counters restart from 0",
				info.max_entries, bpf_map__max_entries(m));
			*stale = fd;
			continue;
		}
		close(fd);
		pr_err("%s was pinned by another version of bifrost-gs and does not match this "
		       "one; run 'bifrost-gs detach --iface %s' first (this also forgets the "
		       "client -> POP table)",
		       path, ifname);
		return -EEXIST;
	}
	return 0;
}

static int do_attach(const struct opts *o)
{
	char dir[256];
	struct gs_config cfg = { 0 };
	__u32 zero = 0;
	int rc = 0;

	if (!o->n_ifaces || !o->machine || !o->n_pops || !o->n_anycast) {
		pr_err("attach needs --iface, --machine, at least one --pop and one --anycast "
		       "(--machine is the address the POPs send IPIP to: IPIP to any other "
		       "address is dropped)");
		return -EINVAL;
	}
	for (int i = 0; i < o->n_ifaces; i++) {
		if (!if_nametoindex(o->ifaces[i])) {
			pr_err("interface '%s' does not exist", o->ifaces[i]);
			return -ENODEV;
		}
		if (forwarding_on(o->ifaces[i]) == 0) {
			pr_err(FORWARDING_OFF_MSG, o->ifaces[i], o->ifaces[i]);
			return -ENOTSUP;
		}
	}
	pin_dir(o->ifaces[0], dir, sizeof(dir));
	mkdir(PIN_ROOT, 0700);
	if (mkdir(dir, 0700) && errno != EEXIST) {
		pr_err("cannot create %s: %s", dir, strerror(errno));
		return -errno;
	}
	cfg.machine_ip = o->machine;
	cfg.default_pop = o->default_pop ? o->default_pop : o->pops[0];
	cfg.idle_ns = o->idle_ms * 1000000ULL;
	cfg.outer_ttl = (uint8_t)o->ttl;

	for (int i = 0; i < o->n_ifaces && !rc; i++) {
		LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = dir);
		LIBBPF_OPTS(bpf_tc_hook, hook, .attach_point = BPF_TC_EGRESS);
		LIBBPF_OPTS(bpf_tc_opts, tco, .handle = TC_HANDLE, .priority = TC_PRIO,
			    .flags = BPF_TC_F_REPLACE);
		int ifindex = (int)if_nametoindex(o->ifaces[i]);
		struct gs_bpf *skel;
		int stale;

		if (!ifindex) {
			pr_err("interface '%s' does not exist", o->ifaces[i]);
			return -ENODEV;
		}
		skel = gs_bpf__open_opts(&oo);
		if (!skel) {
			rc = -errno;
			pr_err("opening the BPF object failed: %s", strerror(-rc));
			return rc;
		}
		rc = check_pins(skel, o->ifaces[0], &stale);
		if (!rc && (rc = gs_bpf__load(skel)))
			pr_err("loading the BPF programs failed: %s", strerror(-rc));
		if (stale >= 0) {
			if (rc && bpf_obj_pin(stale, bpf_map__pin_path(skel->maps.gs_stats)))
				pr_warn("could not pin the old gs_stats back: %s", strerror(errno));
			close(stale);
		}
		if (rc) {
			gs_bpf__destroy(skel);
			return rc;
		}
		if (i == 0) {
			if (bpf_map_update_elem(bpf_map__fd(skel->maps.gs_config), &zero, &cfg, BPF_ANY) ||
			    set_exact(bpf_map__fd(skel->maps.gs_pops), o->pops, o->n_pops) ||
			    set_exact(bpf_map__fd(skel->maps.gs_anycast), o->anycast, o->n_anycast)) {
				rc = -errno;
				pr_err("writing the maps failed: %s", strerror(errno));
			}
		}
		if (!rc)
			rc = attach_xdp(ifindex, bpf_program__fd(skel->progs.bifrost_gs_ingress),
					o->ifaces[i], o->generic);
		if (!rc) {
			hook.ifindex = ifindex;
			rc = bpf_tc_hook_create(&hook);
			if (rc == -EEXIST)
				rc = 0;
			tco.prog_fd = bpf_program__fd(skel->progs.bifrost_gs_egress);
			if (!rc)
				rc = bpf_tc_attach(&hook, &tco);
			if (rc)
				pr_err("%s: attaching TC egress failed: %s", o->ifaces[i], strerror(-rc));
		}
		if (!rc)
			pr_info("%s: attached (XDP ingress decapsulation, TC egress encapsulation)",
				o->ifaces[i]);
		gs_bpf__destroy(skel);
	}
	return rc;
}

/* Whether ifname runs our XDP program and our TC egress filter. */
static int attached_ok(const char *ifname)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .attach_point = BPF_TC_EGRESS);
	LIBBPF_OPTS(bpf_tc_opts, tco, .handle = TC_HANDLE, .priority = TC_PRIO);
	struct bpf_prog_info info = {};
	__u32 id = 0, len = sizeof(info);
	int ifindex = (int)if_nametoindex(ifname), fd, ok;

	if (!ifindex || bpf_xdp_query_id(ifindex, 0, &id) || !id)
		return 0;
	fd = bpf_prog_get_fd_by_id(id);
	if (fd < 0)
		return 0;
	ok = !bpf_obj_get_info_by_fd(fd, &info, &len) &&
	     !strncmp(info.name, "bifrost_gs_ingress", sizeof(info.name) - 1);
	close(fd);
	hook.ifindex = ifindex;
	return ok && !bpf_tc_query(&hook, &tco);
}

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* run: attach, then keep it attached (checked every second). A failed
 * re-attach is logged once per state change and retried each second. */
static int do_run(const struct opts *o)
{
	uint64_t wd_ms = bf_watchdog_usec() / 2000, next_wd = 0, next_check = 0;
	int sfd, rc, missing = 0, failing = 0;
	sigset_t sigs;

	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &sigs, NULL) ||
	    (sfd = signalfd(-1, &sigs, SFD_NONBLOCK | SFD_CLOEXEC)) < 0) {
		pr_err("signalfd failed: %s", strerror(errno));
		return -errno;
	}
	rc = do_attach(o);
	if (rc) {
		close(sfd);
		return rc;
	}
	bf_notify("READY=1\nSTATUS=attached");
	pr_info("running: checking the programs every second; SIGTERM leaves them attached "
		"('bifrost-gs detach' removes them)");
	for (;;) {
		struct pollfd p = { .fd = sfd, .events = POLLIN };
		struct signalfd_siginfo si;
		uint64_t now = mono_ms(), until;
		int lost = 0;

		if (wd_ms && now >= next_wd) {
			bf_notify("WATCHDOG=1");
			next_wd = now + wd_ms;
		}
		if (now >= next_check) {
			next_check = now + 1000;
			for (int i = 0; i < o->n_ifaces; i++)
				lost += !attached_ok(o->ifaces[i]);
			if (lost && !missing)
				pr_warn("the programs are missing on %d interface(s); re-attaching", lost);
			missing = lost;
			if (lost) {
				rc = do_attach(o);
				if (rc && !failing)
					pr_err("re-attaching failed (%s); retrying every second",
					       strerror(-rc));
				if (!rc && failing)
					pr_info("re-attached");
				failing = rc != 0;
				missing = rc != 0;
			}
		}
		until = next_check;
		if (wd_ms && next_wd < until)
			until = next_wd;
		now = mono_ms();
		if (poll(&p, 1, until > now ? (int)(until - now) : 0) <= 0 ||
		    read(sfd, &si, sizeof(si)) != (ssize_t)sizeof(si))
			continue;
		if (si.ssi_signo == SIGHUP) {
			pr_info("SIGHUP: attaching again with the same options");
			bf_notify("RELOADING=1");
			if (do_attach(o))
				pr_err("re-attach on SIGHUP failed; what was attached stays");
			bf_notify("READY=1");
			continue;
		}
		pr_info("signal %d: exiting; the programs stay attached", (int)si.ssi_signo);
		bf_notify("STOPPING=1");
		break;
	}
	close(sfd);
	return 0;
}

static int do_detach(const struct opts *o)
{
	static const char *maps[] = { "gs_config", "gs_pops", "gs_anycast", "gs_clients",
				      "gs_stats" };
	char dir[256], path[320];

	if (!o->n_ifaces) {
		pr_err("detach needs --iface");
		return -EINVAL;
	}
	for (int i = 0; i < o->n_ifaces; i++) {
		LIBBPF_OPTS(bpf_tc_hook, hook, .attach_point = BPF_TC_EGRESS);
		LIBBPF_OPTS(bpf_tc_opts, tco, .handle = TC_HANDLE, .priority = TC_PRIO);
		int ifindex = (int)if_nametoindex(o->ifaces[i]);

		if (!ifindex)
			continue;
		bpf_xdp_detach(ifindex, XDP_FLAGS_DRV_MODE, NULL);
		bpf_xdp_detach(ifindex, XDP_FLAGS_SKB_MODE, NULL);
		hook.ifindex = ifindex;
		bpf_tc_detach(&hook, &tco);
		pr_info("%s: detached", o->ifaces[i]);
	}
	pin_dir(o->ifaces[0], dir, sizeof(dir));
	for (size_t m = 0; m < sizeof(maps) / sizeof(maps[0]); m++) {
		snprintf(path, sizeof(path), "%s/%s", dir, maps[m]);
		unlink(path);
	}
	rmdir(dir);
	return 0;
}

static int do_status(const struct opts *o)
{
	char dir[256], path[320], a[BF_ADDR_STRLEN], p[BF_ADDR_STRLEN];
	int ncpu = libbpf_num_possible_cpus(), fd_stats, fd_clients;
	struct bf_counter *per;
	struct timespec ts;
	uint32_t key, next;
	void *prev = NULL;
	int first = 1;

	if (!o->n_ifaces) {
		pr_err("status needs --iface");
		return -EINVAL;
	}
	pin_dir(o->ifaces[0], dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/gs_stats", dir);
	fd_stats = bpf_obj_get(path);
	snprintf(path, sizeof(path), "%s/gs_clients", dir);
	fd_clients = bpf_obj_get(path);
	if (fd_stats < 0 || fd_clients < 0) {
		pr_err("no bifrost-gs maps under %s: is it attached to %s?", dir, o->ifaces[0]);
		return -ENOENT;
	}
	for (int i = 0; i < o->n_ifaces; i++)
		if (forwarding_on(o->ifaces[i]) == 0)
			pr_warn(FORWARDING_OFF_MSG, o->ifaces[i], o->ifaces[i]);
	per = calloc((size_t)ncpu, sizeof(*per));
	if (!per)
		return -ENOMEM;
	printf(o->json ? "{\"counters\":{" : "%-12s %12s %14s\n", "REASON", "PACKETS", "BYTES");
	for (__u32 r = 0; r < GS_R_MAX; r++) {
		unsigned long long pk = 0, by = 0;

		if (!bpf_map_lookup_elem(fd_stats, &r, per))
			for (int c = 0; c < ncpu; c++) {
				pk += per[c].packets;
				by += per[c].bytes;
			}
		if (o->json)
			printf("%s\"%s\":{\"packets\":%llu,\"bytes\":%llu}", r ? "," : "",
			       gs_reasons[r], pk, by);
		else
			printf("%-12s %12llu %14llu\n", gs_reasons[r], pk, by);
	}
	free(per);
	printf(o->json ? "},\"clients\":[" : "\n%-16s %-16s %s\n", "CLIENT", "POP", "IDLE_S");
	clock_gettime(CLOCK_MONOTONIC, &ts);
	while (!bpf_map_get_next_key(fd_clients, prev, &next)) {
		struct gs_client_val v;
		uint64_t now = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;

		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd_clients, &key, &v))
			continue;
		if (o->json)
			printf("%s{\"client\":\"%s\",\"pop\":\"%s\",\"idle_s\":%.1f}", first ? "" : ",",
			       bf_ipv4_str(key, a), bf_ipv4_str(v.pop_ip, p),
			       (double)(now - v.seen_ns) / 1e9);
		else
			printf("%-16s %-16s %.1f\n", bf_ipv4_str(key, a), bf_ipv4_str(v.pop_ip, p),
			       (double)(now - v.seen_ns) / 1e9);
		first = 0;
	}
	if (o->json)
		printf("]}\n");
	close(fd_stats);
	close(fd_clients);
	return 0;
}

static int add_addr(uint32_t *arr, int *n, const char *s, const char *flag)
{
	if (*n == MAX_ADDRS) {
		fprintf(stderr, "bifrost-gs: too many %s (at most %d)\n", flag, MAX_ADDRS);
		return -1;
	}
	if (bf_parse_ipv4(s, &arr[*n])) {
		fprintf(stderr, "bifrost-gs: %s: bad address '%s' (want a.b.c.d)\n", flag, s);
		return -1;
	}
	(*n)++;
	return 0;
}

int main(int argc, char **argv)
{
	enum { O_MACHINE = 256, O_POP, O_DEFPOP, O_ANYCAST, O_IDLE, O_TTL, O_GENERIC, O_JSON };
	static const struct option lopts[] = {
		{ "iface", required_argument, NULL, 'i' },
		{ "machine", required_argument, NULL, O_MACHINE },
		{ "pop", required_argument, NULL, O_POP },
		{ "default-pop", required_argument, NULL, O_DEFPOP },
		{ "anycast", required_argument, NULL, O_ANYCAST },
		{ "idle", required_argument, NULL, O_IDLE },
		{ "ttl", required_argument, NULL, O_TTL },
		{ "xdp-generic", no_argument, NULL, O_GENERIC },
		{ "json", no_argument, NULL, O_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct opts o = { .idle_ms = 300000, .ttl = 64 };
	const char *cmd;
	uint64_t v;
	int opt, n = 0, rc;

	bf_log_init("bifrost-gs", BF_LOG_INFO);
	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	cmd = argv[1];
	optind = 2;
	while ((opt = getopt_long(argc, argv, "i:h", lopts, NULL)) != -1) {
		switch (opt) {
		case 'i':
			if (o.n_ifaces == MAX_IFACES || strlen(optarg) >= IF_NAMESIZE) {
				fprintf(stderr, "bifrost-gs: bad or too many --iface\n");
				return 2;
			}
			o.ifaces[o.n_ifaces++] = optarg;
			break;
		case O_MACHINE:
			n = 0;
			if (add_addr(&o.machine, &n, optarg, "--machine"))
				return 2;
			break;
		case O_POP:
			if (add_addr(o.pops, &o.n_pops, optarg, "--pop"))
				return 2;
			break;
		case O_DEFPOP:
			n = 0;
			if (add_addr(&o.default_pop, &n, optarg, "--default-pop"))
				return 2;
			break;
		case O_ANYCAST:
			if (add_addr(o.anycast, &o.n_anycast, optarg, "--anycast"))
				return 2;
			break;
		case O_IDLE:
			if (bf_parse_duration_ms(optarg, &o.idle_ms)) {
				fprintf(stderr, "bifrost-gs: --idle: bad duration '%s' (e.g. 300s, 5m)\n",
					optarg);
				return 2;
			}
			break;
		case O_TTL:
			if (bf_parse_u64(optarg, 255, &v) || !v) {
				fprintf(stderr, "bifrost-gs: --ttl: want 1-255\n");
				return 2;
			}
			o.ttl = (unsigned)v;
			break;
		case O_GENERIC:
			o.generic = 1;
			break;
		case O_JSON:
			o.json = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "bifrost-gs: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (!strcmp(cmd, "attach"))
		rc = do_attach(&o);
	else if (!strcmp(cmd, "run"))
		rc = do_run(&o);
	else if (!strcmp(cmd, "detach"))
		rc = do_detach(&o);
	else if (!strcmp(cmd, "status"))
		rc = do_status(&o);
	else {
		fprintf(stderr, "bifrost-gs: unknown command '%s' (attach, detach, status)\n", cmd);
		return 2;
	}
	return rc == -EINVAL ? 2 : rc ? 1 : 0;
}
