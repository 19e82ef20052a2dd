/* edge_harness.c - the edge program under bpf_prog_test_run_opts in a
 * private network namespace (see edge_harness.h). */
#include <bpf/bpf.h>
#include <errno.h>
#include <bpf/libbpf.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "edge.skel.h"
#include "../../tools/common.h"
#include "edge_harness.h"

struct harness H;

const char *const harness_reason_names[BF_R_MAX] = { BF_R_NAMES };
static const char *action_names[] = { "ABORTED", "DROP", "PASS", "TX", "REDIRECT" };

static int sh(const char *cmd)
{
	return sh_run("setup", "%s", cmd);
}

void harness_sh(const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = sh_vrun("setup", fmt, ap);
	va_end(ap);
	if (rc)
		fail_msg("a setup command failed (above)");
}

static int get_mac(const char *ifname, uint8_t mac[6])
{
	struct ifreq ifr = { 0 };
	int s = socket(AF_INET, SOCK_DGRAM, 0);

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (s < 0 || ioctl(s, SIOCGIFHWADDR, &ifr)) {
		perror("SIOCGIFHWADDR");
		if (s >= 0)
			close(s);
		return -1;
	}
	memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	close(s);
	return 0;
}

int harness_setup(void)
{
	struct edge_map_fds fd;
	struct bpf_map *m;

	if (unshare(CLONE_NEWNET)) {
		perror("unshare(CLONE_NEWNET) (run as root)");
		return -1;
	}
	if (sh("ip link set lo up") ||
	    sh("ip link add t0 type veth peer name t1 && ip link set t0 up && ip link set t1 up") ||
	    sh("ip link add t2 type veth peer name t3 && ip link set t2 up && ip link set t3 up") ||
	    sh("ip link add t4 type veth peer name t5 && ip link set t4 up && ip link set t5 up") ||
	    sh("ip addr add 198.18.0.1/24 dev t0 && ip addr add 198.18.6.1/24 dev t2") ||
	    sh("ip addr add 198.18.10.1/24 dev t4") ||
	    sh("ip neigh replace 198.18.0.2 lladdr 02:00:00:00:00:02 dev t0 nud permanent") ||
	    sh("ip neigh replace 198.18.6.2 lladdr 02:00:00:00:06:02 dev t2 nud permanent") ||
	    sh("ip route add default via 198.18.0.2 dev t0") ||
	    sh("ip route add 198.18.5.0/24 via 198.18.6.2 dev t2") ||
	    sh("ip route add 198.18.7.0/24 via 198.18.0.2 dev t0 mtu lock 600") ||
	    sh("ip route add 198.18.8.0/24 via 198.18.0.3 dev t0") ||
	    sh("sysctl -qw net.ipv4.conf.all.forwarding=1 net.ipv4.conf.t0.forwarding=1 "
	       "net.ipv4.conf.t2.forwarding=1 net.ipv4.conf.t4.forwarding=1"))
		return -1;
	H.ifindex = (int)if_nametoindex("t0");
	H.if_t2 = (int)if_nametoindex("t2");
	H.if_t4 = (int)if_nametoindex("t4");
	if (get_mac("t0", H.mac) || get_mac("t2", H.mac_t2) || get_mac("t4", H.mac_t4))
		return -1;

	H.skel = edge_bpf__open();
	if (!H.skel)
		return -1;
	/* No pins: a test must not touch a running edge's maps. */
	bpf_object__for_each_map(m, H.skel->obj)
		bpf_map__set_pin_path(m, NULL);
	if (edge_bpf__load(H.skel))
		return -1;
	edge_map_fds_from_object(H.skel->obj, &fd);
	return edge_maps_init(&H.maps, &fd) ? -1 : 0;
}

void harness_teardown(void)
{
	edge_bpf__destroy(H.skel);
	H.skel = NULL;
}

void harness_config(const char *text)
{
	struct edge_config cfg;
	uint32_t *locals;
	size_t nl;
	char err[512] = "";

	edge_config_init(&cfg);
	if (edge_config_parse(&cfg, text, "test", err, sizeof(err)))
		fail_msg("config: %s", err);
	assert_int_equal(edge_maps_write_config(&H.maps, &cfg), 0);
	assert_int_equal(edge_local_addrs(&locals, &nl), 0);
	assert_int_equal(edge_maps_apply_conns(&H.maps, cfg.conns, cfg.n_conns, locals, nl), 0);
	free(locals);
	assert_int_equal(edge_maps_list_reconcile(&H.maps, BF_LIST_PR, cfg.pr, cfg.n_pr, BF_SRC_CONFIG),
			 0);
	assert_int_equal(edge_maps_list_reconcile(&H.maps, BF_LIST_WL, cfg.wl, cfg.n_wl, BF_SRC_CONFIG),
			 0);
	assert_int_equal(edge_maps_list_reconcile(&H.maps, BF_LIST_BL, cfg.bl, cfg.n_bl, BF_SRC_CONFIG),
			 0);
	assert_int_equal(edge_maps_apply_rules(&H.maps, cfg.rules, cfg.n_rules, cfg.id), 0);
	edge_config_free(&cfg);
}

void harness_run(const uint8_t *pkt, size_t len, struct result *r)
{
	harness_run_on(pkt, len, H.ifindex, r);
}

void harness_run_on(const uint8_t *pkt, size_t len, int ifindex, struct result *r)
{
	struct xdp_md ctx = { .data_end = (__u32)len, .ingress_ifindex = (__u32)ifindex };
	struct bf_counter before[BF_R_MAX], after[BF_R_MAX];
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = pkt, .data_size_in = (__u32)len,
		    .data_out = r->out, .data_size_out = sizeof(r->out), .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .repeat = 1);

	assert_int_equal(edge_maps_read_stats(&H.maps.fd, before), 0);
	assert_int_equal(bpf_prog_test_run_opts(bpf_program__fd(H.skel->progs.bifrost_edge), &opts),
			 0);
	assert_int_equal(edge_maps_read_stats(&H.maps.fd, after), 0);
	r->action = (int)opts.retval;
	r->out_len = opts.data_size_out;
	for (int i = 0; i < BF_R_MAX; i++) {
		r->delta[i].packets = after[i].packets - before[i].packets;
		r->delta[i].bytes = after[i].bytes - before[i].bytes;
	}
}

static int side_counter(int i)
{
	return i == BF_R_PUNCH_NEW || i == BF_R_PUNCH_REFUSED || i == BF_R_PROTECTED ||
	       i == BF_R_RULE_DRY_RUN || i == BF_R_WOULD_DROP || i == BF_R_VALIDATED ||
	       i == BF_R_VALID_REFUSED;
}

int harness_check(const struct result *r, int action, int reason, char *why, size_t len)
{
	if (r->action != action) {
		size_t n = (size_t)snprintf(why, len, "action %s, want %s (moved:",
					    r->action >= 0 && r->action <= 4 ? action_names[r->action] : "?",
					    action_names[action]);

		for (int i = 0; i < BF_R_MAX && n < len; i++)
			if (r->delta[i].packets)
				n += (size_t)snprintf(why + n, len - n, " %s", harness_reason_names[i]);
		if (n < len)
			snprintf(why + n, len - n, ")");
		return -1;
	}
	for (int i = 0; i < BF_R_MAX; i++) {
		uint64_t want = i == reason ? 1 : 0;

		if (side_counter(i) && i != reason)
			continue;
		if (r->delta[i].packets != want) {
			snprintf(why, len, "counter %s rose by %llu, want %llu", harness_reason_names[i],
				 (unsigned long long)r->delta[i].packets, (unsigned long long)want);
			return -1;
		}
	}
	return 0;
}

void harness_expect(const char *name, const struct result *r, int action, int reason)
{
	char why[512];

	if (harness_check(r, action, reason, why, sizeof(why)))
		fail_msg("%s: %s", name, why);
}

void harness_ifaces(int on)
{
	const int idx[3] = { H.ifindex, H.if_t2, H.if_t4 };
	const uint8_t *mac[3] = { H.mac, H.mac_t2, H.mac_t4 };

	for (int i = 0; i < 3; i++) {
		__u32 k = (__u32)idx[i];
		struct bf_iface v = { 0 };

		memcpy(v.mac, mac[i], 6);
		if (on ? bpf_map_update_elem(bpf_map__fd(H.skel->maps.bf_ifaces), &k, &v, BPF_ANY) :
			 bpf_map_delete_elem(bpf_map__fd(H.skel->maps.bf_ifaces), &k) && errno != ENOENT)
			fail_msg("bf_ifaces: %s", strerror(errno));
	}
}

struct pkt_spec harness_udp(const char *src, uint16_t sport, const char *dst, uint16_t dport)
{
	static const char payload[] = "bifrost rule payload";
	static const uint8_t gw[6] = H_GW_MAC;
	struct pkt_spec s = {
		.saddr = pkt_ip(src), .daddr = pkt_ip(dst), .proto = IPPROTO_UDP,
		.sport = sport, .dport = dport, .frag = 0x4000, .tos = 0x28, .id = 0x1234,
		.payload = payload, .payload_len = sizeof(payload) - 1,
	};

	memcpy(s.dmac, H.mac, 6);
	memcpy(s.smac, gw, 6);
	return s;
}
