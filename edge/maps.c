/* maps.c - the edge maps' life in user space: opening what a running edge
 * left (prefix-length counts, machines), bf_config, dumping a map, reading
 * the counters. Connections, lists, rules and the sweeper have their own
 * files (maps_conns.c, lists.c, maps_rules.c, sweep.c). */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "maps_int.h"

int edge_map_dump(int fd, size_t ksz, size_t vsz, void **keys, void **vals, size_t *n)
{
	struct bpf_map_info info = {};
	__u32 ilen = sizeof(info), count;
	size_t cap, have = 0;
	char *k = NULL, *v = NULL;
	__u64 token = 0;
	int rc, first = 1;

	*keys = *vals = NULL;
	*n = 0;
	if (bpf_obj_get_info_by_fd(fd, &info, &ilen))
		return -errno;
	cap = info.max_entries + DUMP_BATCH;
	k = malloc(cap * ksz);
	v = malloc(cap * vsz);
	if (!k || !v) {
		free(k);
		free(v);
		return -ENOMEM;
	}
	for (;;) {
		count = DUMP_BATCH;
		if (have + count > cap)
			break;
		rc = bpf_map_lookup_batch(fd, first ? NULL : &token, &token, k + have * ksz,
					  v + have * vsz, &count, NULL);
		first = 0;
		if (rc && errno != ENOENT) {
			rc = -errno;
			free(k);
			free(v);
			return rc;
		}
		have += count;
		if (rc) /* ENOENT: that was the last batch */
			break;
	}
	*keys = k;
	*vals = v;
	*n = have;
	return 0;
}

static uint64_t plen_mask(const struct edge_maps *m, enum bf_list l)
{
	uint64_t mask = 0;

	for (int p = 0; p <= 32; p++)
		if (m->plen_count[l][p])
			mask |= 1ULL << p;
	return mask;
}

uint64_t edge_maps_list_entries(const struct edge_maps *m, enum bf_list l)
{
	uint64_t n = 0;

	for (int p = 0; p <= 32; p++)
		n += m->plen_count[l][p];
	return n;
}

int maps_write_conf(struct edge_maps *m)
{
	__u32 zero = 0;

	for (int l = 0; l < BF_LISTS; l++)
		m->conf.plen_mask[l] = plen_mask(m, (enum bf_list)l);
	if (bpf_map_update_elem(m->fd.config, &zero, &m->conf, BPF_ANY)) {
		pr_err("writing bf_config failed: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

int edge_maps_init(struct edge_maps *m, const struct edge_map_fds *fd)
{
	__u32 zero = 0;
	int rc;

	memset(m, 0, sizeof(*m));
	m->fd = *fd;
	m->ncpu = libbpf_num_possible_cpus();
	if (m->ncpu <= 0)
		return -EINVAL;
	bpf_map_lookup_elem(fd->config, &zero, &m->conf);
	maps_list_batch_open(m);
	for (int l = 0; l < BF_LISTS; l++) {
		struct bf_cidr_key *keys;
		void *vals;
		size_t n;
		int rc = edge_map_dump(edge_list_fd(&m->fd, l), sizeof(*keys), sizeof(struct bf_list_val),
				       (void **)&keys, &vals, &n);
		if (rc)
			return rc;
		for (size_t i = 0; i < n; i++)
			if (keys[i].plen <= 32)
				m->plen_count[l][keys[i].plen]++;
		free(keys);
		free(vals);
	}
	rc = edge_machines_init(&m->mach, fd);
	if (rc)
		return rc;
	rc = edge_ports_init(&m->ports, fd);
	m->mach.ports = &m->ports;
	return rc;
}

#define NS_PER_S 1000000000ULL
#define ECHO_BURST_NS NS_PER_S          /* a ping tool's burst: a second's worth */
#define ECHO_CPU_BURST_NS (NS_PER_S / 10)

int edge_maps_write_config(struct edge_maps *m, const struct edge_config *cfg)
{
	/* Packets only meet online CPUs: their shares must add up to the limit. */
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	if (ncpu < 1)
		ncpu = 1;
	const char *bk[EDGE_MAX_IFACES];
	int bki[EDGE_MAX_IFACES], nb = edge_config_backends(cfg, bk);

	for (int i = 0; i < nb; i++) {
		bki[i] = (int)if_nametoindex(bk[i]);
		if (!bki[i])
			pr_warn("backend_iface %s does not exist: no IPIP is accepted on it", bk[i]);
	}
	edge_machines_configure(&m->mach, bki, nb, cfg->punch_max_machine);
	m->conf.edge_addr = cfg->addr;
	m->conf.backend_addr = edge_config_backend_addr(cfg);
	m->conf.flags = (cfg->dry_run ? BF_F_DRY_RUN : 0) | (cfg->icmp_echo ? BF_F_ICMP_ECHO : 0);
	m->conf.punch_ttl_ns = cfg->punch_ttl_ms * 1000000ULL;
	m->conf.punch_report_ns = cfg->punch_report_ms * 1000000ULL;
	m->conf.outer_ttl = cfg->outer_ttl;
	m->conf.echo_pkt_ns = cfg->echo_pps ? NS_PER_S / cfg->echo_pps : 0;
	m->conf.echo_burst_ns = ECHO_BURST_NS;
	/* Each CPU answers its share of the global limit: no shared state, and
	 * the shares add up to the limit. */
	m->conf.echo_cpu_pkt_ns = cfg->echo_global_pps ?
					  NS_PER_S * (uint64_t)ncpu / cfg->echo_global_pps : 0;
	m->conf.echo_cpu_burst_ns = ECHO_CPU_BURST_NS;
	/* Handshake validation: a client idle for valid_idle is forgotten; one still playing
	 * is re-reported four times per idle time, so the fleet never forgets it first. */
	m->conf.valid_idle_ns = cfg->valid_idle_ms * 1000000ULL;
	m->conf.valid_report_ns = m->conf.valid_idle_ns / 4;
	m->conf.hs_pkt_ns = cfg->handshake_pps ? NS_PER_S / cfg->handshake_pps : 0;
	m->conf.hs_burst_ns = m->conf.hs_pkt_ns * (cfg->handshake_burst ? cfg->handshake_burst - 1 : 0);
	m->conf.hs_conn_cpu_pkt_ns = cfg->handshake_conn_pps ?
					     NS_PER_S * (uint64_t)ncpu / cfg->handshake_conn_pps : 0;
	m->conf.hs_conn_cpu_burst_ns = NS_PER_S; /* a second's worth: players join in waves */
	return maps_write_conf(m);
}

void edge_conn_to_bpf(const struct bf_conn *c, struct bf_conn_val *v)
{
	const struct bf_limits *l = &c->limits;

	memset(v, 0, sizeof(*v));
	v->machine_ip = c->machine_ip;
	v->machine_port = htons(c->machine_port);
	v->flags = c->a2s ? BF_CONN_F_SOURCE : 0;
	/* A Source server either way: queries that would amplify are dropped (lib/a2s.h). */
	v->flags |= c->validate == BF_VALIDATE_SRCDS ? BF_CONN_F_SOURCE : 0;
	v->flags |= c->validate == BF_VALIDATE_SRCDS  ? BF_CONN_F_VALID_SRCDS :
		    c->validate == BF_VALIDATE_RAKNET ? BF_CONN_F_VALID_RAKNET :
							0;
	if (!bf_limits_any(l))
		return;
	v->flags |= l->share_bans ? BF_CONN_F_SHARE_BANS : 0;
	v->pps = l->pps;
	v->bps = l->bps;
	v->block_ms = l->block_ms;
	/* GCRA intervals, so that XDP never divides. The integer division
	 * rounds the interval down: the limit is at most a hair generous. */
	v->pkt_ns = l->pps ? NS_PER_S / l->pps : 0;
	v->byte_ns16 = l->bps ? (NS_PER_S << 16) / l->bps : 0;
	if (l->bps && !v->byte_ns16)
		v->byte_ns16 = 1;
	v->burst_ns = (uint64_t)l->burst_ms * 1000000ULL;
}

void edge_conn_from_bpf(const struct bf_conn_key *k, const struct bf_conn_val *v,
			struct bf_conn *c)
{
	memset(c, 0, sizeof(*c));
	c->proto = k->proto;
	c->bind_ip = k->bind_ip;
	c->bind_port = ntohs(k->bind_port);
	c->machine_ip = v->machine_ip;
	c->machine_port = ntohs(v->machine_port);
	c->a2s = !!(v->flags & BF_CONN_F_SOURCE);
	c->validate = v->flags & BF_CONN_F_VALID_SRCDS	? BF_VALIDATE_SRCDS :
		      v->flags & BF_CONN_F_VALID_RAKNET ? BF_VALIDATE_RAKNET :
							  BF_VALIDATE_NONE;
	bf_limits_init(&c->limits);
	if (!v->pps && !v->bps)
		return;
	c->limits.pps = v->pps;
	c->limits.bps = v->bps;
	c->limits.block_ms = v->block_ms;
	c->limits.burst_ms = (uint32_t)(v->burst_ns / 1000000ULL);
	c->limits.share_bans = !!(v->flags & BF_CONN_F_SHARE_BANS);
}

void edge_valid_key(const struct bf_entry *e, struct bf_rl_key *k)
{
	memset(k, 0, sizeof(*k));
	k->src = e->punch.remote_ip;
	k->bind_ip = e->punch.bind_ip;
	k->bind_port = htons(e->punch.bind_port);
	k->proto = e->punch.proto;
}

int edge_valid_put(struct edge_maps *m, const struct bf_rl_key *k, uint64_t expires_ns)
{
	struct bf_valid_val v = { .expires_ns = expires_ns, .src = BF_SRC_FLEET };

	for (int tries = 0; tries < 3; tries++) {
		struct bf_valid_val old;

		if (!bpf_map_lookup_elem(m->fd.valid, k, &old)) {
			/* Validated or playing here: XDP owns its fields and keeps it alive;
			 * a rewrite could lose what XDP writes meanwhile. */
			if ((old.src & BF_SRC_LOCAL) || old.reported_ns)
				return 0;
			if (old.expires_ns < expires_ns)
				old.expires_ns = expires_ns;
			old.src |= BF_SRC_FLEET;
			if (!bpf_map_update_elem(m->fd.valid, k, &old, BPF_EXIST))
				return 0;
		} else if (!bpf_map_update_elem(m->fd.valid, k, &v, BPF_NOEXIST)) {
			return 0;
		} else if (errno == E2BIG || errno == ENOMEM) {
			return -ENOSPC;
		}
		if (errno != ENOENT && errno != EEXIST)
			return -errno;
	}
	return -EAGAIN;
}

int edge_valid_del(struct edge_maps *m, const struct bf_rl_key *k)
{
	struct bf_valid_val v;

	if (bpf_map_lookup_elem(m->fd.valid, k, &v))
		return -ENOENT;
	/* Validated here, or playing here (XDP reported it): XDP keeps it alive while the
	 * client plays, the sweeper removes it when it went idle. Not rewritten: XDP owns
	 * that entry's fields. */
	if ((v.src & BF_SRC_LOCAL) || v.reported_ns)
		return 0;
	return bpf_map_delete_elem(m->fd.valid, k) ? -errno : 0;
}

int edge_local_addrs(uint32_t **out, size_t *n)
{
	struct ifaddrs *ifa, *i;
	size_t cap = 0;

	*out = NULL;
	*n = 0;
	if (getifaddrs(&ifa))
		return -errno;
	for (i = ifa; i; i = i->ifa_next)
		if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET)
			cap++;
	*out = calloc(cap + 1, sizeof(**out));
	if (!*out) {
		freeifaddrs(ifa);
		return -ENOMEM;
	}
	for (i = ifa; i; i = i->ifa_next)
		if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET)
			(*out)[(*n)++] = ((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr;
	freeifaddrs(ifa);
	return 0;
}

int edge_maps_read_stats(const struct edge_map_fds *fd, struct bf_counter out[BF_R_MAX])
{
	int ncpu = libbpf_num_possible_cpus();
	struct bf_counter *per;

	if (ncpu <= 0)
		return -EINVAL;
	per = calloc((size_t)ncpu, sizeof(*per));
	if (!per)
		return -ENOMEM;
	for (__u32 r = 0; r < BF_R_MAX; r++) {
		out[r].packets = out[r].bytes = 0;
		if (bpf_map_lookup_elem(fd->stats, &r, per))
			continue;
		for (int c = 0; c < ncpu; c++) {
			out[r].packets += per[c].packets;
			out[r].bytes += per[c].bytes;
		}
	}
	free(per);
	return 0;
}
