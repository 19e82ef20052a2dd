/* maps.c - writing the edge maps: config, connections as an exact diff,
 * owner-tracked list entries, protected prefixes, the double-buffered rule
 * set, the expiry sweeper, counters. */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <linux/membarrier.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "maps.h"

#define DUMP_BATCH 4096

uint64_t edge_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

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

static int list_fd(const struct edge_maps *m, enum edge_list l)
{
	return l == EDGE_WL ? m->fd.whitelist : l == EDGE_BL ? m->fd.blacklist : m->fd.protected;
}

static const char *list_name(enum edge_list l)
{
	return l == EDGE_WL ? "whitelist" : l == EDGE_BL ? "blacklist" : "protected list";
}

static uint64_t plen_mask(const struct edge_maps *m, enum edge_list l)
{
	uint64_t mask = 0;

	for (int p = 0; p <= 32; p++)
		if (m->plen_count[l][p])
			mask |= 1ULL << p;
	return mask;
}

uint64_t edge_maps_list_entries(const struct edge_maps *m, enum edge_list l)
{
	uint64_t n = 0;

	for (int p = 0; p <= 32; p++)
		n += m->plen_count[l][p];
	return n;
}

static int write_conf(struct edge_maps *m)
{
	__u32 zero = 0;

	m->conf.wl_plen_mask = plen_mask(m, EDGE_WL);
	m->conf.bl_plen_mask = plen_mask(m, EDGE_BL);
	m->conf.pr_plen_mask = plen_mask(m, EDGE_PR);
	if (bpf_map_update_elem(m->fd.config, &zero, &m->conf, BPF_ANY)) {
		pr_err("writing bf_config failed: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

int edge_maps_init(struct edge_maps *m, const struct edge_map_fds *fd)
{
	__u32 zero = 0;

	memset(m, 0, sizeof(*m));
	m->fd = *fd;
	m->ncpu = libbpf_num_possible_cpus();
	if (m->ncpu <= 0)
		return -EINVAL;
	bpf_map_lookup_elem(fd->config, &zero, &m->conf);
	for (int l = 0; l < EDGE_N_LISTS; l++) {
		struct bf_cidr_key *keys;
		void *vals;
		size_t n;
		int rc = edge_map_dump(list_fd(m, l), sizeof(*keys), sizeof(struct bf_list_val),
				       (void **)&keys, &vals, &n);
		if (rc)
			return rc;
		for (size_t i = 0; i < n; i++)
			if (keys[i].plen <= 32)
				m->plen_count[l][keys[i].plen]++;
		free(keys);
		free(vals);
	}
	return edge_machines_init(&m->mach, fd);
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
	return write_conf(m);
}

void edge_conn_to_bpf(const struct bf_conn *c, struct bf_conn_val *v)
{
	const struct bf_limits *l = &c->limits;

	memset(v, 0, sizeof(*v));
	v->machine_ip = c->machine_ip;
	v->machine_port = htons(c->machine_port);
	v->flags = c->a2s ? BF_CONN_F_SOURCE : 0;
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

/* ---- exact sync of a hash map to a desired set ---- */

struct sync_set {
	char *keys, *vals;
	size_t n, ksz, vsz;
};

static int cmp_key(const void *a, const void *b, void *ksz)
{
	return memcmp(a, b, *(size_t *)ksz);
}

static int set_add(struct sync_set *s, size_t cap, const void *k, const void *v)
{
	if (s->n == cap)
		return -E2BIG;
	memcpy(s->keys + s->n * s->ksz, k, s->ksz);
	memcpy(s->vals + s->n * s->vsz, v, s->vsz);
	s->n++;
	return 0;
}

/* Sorted keys with a per-key value; duplicates have been merged by caller. */
static void set_sort(struct sync_set *s)
{
	/* Sort key+value pairs together: build an index permutation. */
	char *tmp = malloc(s->n * (s->ksz + s->vsz));

	if (!tmp || s->n < 2) {
		free(tmp);
		return;
	}
	for (size_t i = 0; i < s->n; i++) {
		memcpy(tmp + i * (s->ksz + s->vsz), s->keys + i * s->ksz, s->ksz);
		memcpy(tmp + i * (s->ksz + s->vsz) + s->ksz, s->vals + i * s->vsz, s->vsz);
	}
	qsort_r(tmp, s->n, s->ksz + s->vsz, cmp_key, &s->ksz);
	for (size_t i = 0; i < s->n; i++) {
		memcpy(s->keys + i * s->ksz, tmp + i * (s->ksz + s->vsz), s->ksz);
		memcpy(s->vals + i * s->vsz, tmp + i * (s->ksz + s->vsz) + s->ksz, s->vsz);
	}
	free(tmp);
}

static void *set_find(const struct sync_set *s, const void *k)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = memcmp(s->keys + mid * s->ksz, k, s->ksz);

		if (!c)
			return s->vals + mid * s->vsz;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Folds runs of equal keys of a sorted set into one with merge(acc, next). */
static void set_merge(struct sync_set *s, void (*merge)(void *acc, const void *next))
{
	size_t w = 0;

	for (size_t i = 0; i < s->n; i++) {
		if (w && !memcmp(s->keys + (w - 1) * s->ksz, s->keys + i * s->ksz, s->ksz)) {
			merge(s->vals + (w - 1) * s->vsz, s->vals + i * s->vsz);
			continue;
		}
		memmove(s->keys + w * s->ksz, s->keys + i * s->ksz, s->ksz);
		memmove(s->vals + w * s->vsz, s->vals + i * s->vsz, s->vsz);
		w++;
	}
	s->n = w;
}

static void merge_count(void *acc, const void *next)
{
	*(__u32 *)acc += *(const __u32 *)next;
}

static void merge_keep(void *acc, const void *next)
{
}

/* One address, several uses: flags add up; a bind address served by two
 * machines has no single one. */
static void merge_dest(void *acc, const void *next)
{
	struct bf_dest *a = acc;
	const struct bf_dest *b = next;

	if ((a->flags & BF_DEST_BIND) && (b->flags & BF_DEST_BIND) && a->machine != b->machine)
		a->machine = 0;
	else if (b->flags & BF_DEST_BIND)
		a->machine = b->machine;
	a->flags |= b->flags;
}

/* phase 0: add/update what is wanted; phase 1: delete what is not. */
static int map_sync(int fd, const struct sync_set *want, int phase, const char *what)
{
	void *keys, *vals;
	size_t n;
	int rc;

	if (phase == 0) {
		char cur[64];

		if (want->vsz > sizeof(cur))
			return -EINVAL;
		for (size_t i = 0; i < want->n; i++) {
			const char *k = want->keys + i * want->ksz;
			const char *v = want->vals + i * want->vsz;

			if (!bpf_map_lookup_elem(fd, k, cur) && !memcmp(cur, v, want->vsz))
				continue;
			if (bpf_map_update_elem(fd, k, v, BPF_ANY)) {
				pr_err("updating %s failed: %s", what, strerror(errno));
				return -errno;
			}
		}
		return 0;
	}
	rc = edge_map_dump(fd, want->ksz, want->vsz, &keys, &vals, &n);
	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++) {
		const char *k = (char *)keys + i * want->ksz;

		if (!set_find(want, k) && bpf_map_delete_elem(fd, k) && errno != ENOENT)
			pr_warn("deleting from %s failed: %s", what, strerror(errno));
	}
	free(keys);
	free(vals);
	return 0;
}

int edge_maps_apply_conns(struct edge_maps *m, const struct bf_conn *conns, size_t n,
			  const uint32_t *locals, size_t nl)
{
	struct sync_set s[5] = {
		{ .ksz = sizeof(struct bf_served_key), .vsz = sizeof(__u32) },
		{ .ksz = sizeof(__be32), .vsz = sizeof(struct bf_machine) },
		{ .ksz = sizeof(struct bf_rev_key), .vsz = sizeof(struct bf_rev_val) },
		{ .ksz = sizeof(__be32), .vsz = sizeof(struct bf_dest) },
		{ .ksz = sizeof(struct bf_conn_key), .vsz = sizeof(struct bf_conn_val) },
	};
	/* Order matters: the return path must know a machine before traffic is
	 * sent to it, and must forget it only after. */
	int fds[5] = { m->fd.served, m->fd.machines, m->fd.conn_rev, m->fd.dests, m->fd.conns };
	const char *names[5] = { "bf_served", "bf_machines", "bf_conn_rev", "bf_dests",
				 "bf_conns" };
	int rc = 0;

	for (int i = 0; i < 5; i++) {
		s[i].keys = calloc(n + nl + 1, s[i].ksz);
		s[i].vals = calloc(n + nl + 1, s[i].vsz);
		if (!s[i].keys || !s[i].vals) {
			rc = -ENOMEM;
			goto out;
		}
	}
	for (size_t i = 0; i < n; i++) {
		const struct bf_conn *c = &conns[i];
		struct bf_served_key sk = { .machine_ip = c->machine_ip, .bind_ip = c->bind_ip };
		struct bf_rev_key rk = { .machine_ip = c->machine_ip, .bind_ip = c->bind_ip,
					 .proto = c->proto };
		struct bf_rev_val rv = { .bind_port = htons(c->bind_port) };
		struct bf_conn_key ck = { .bind_ip = c->bind_ip, .bind_port = htons(c->bind_port),
					  .proto = c->proto };
		struct bf_conn_val cv;
		__u32 one = 1;

		edge_conn_to_bpf(c, &cv);
		rk.port = htons(c->machine_port ? c->machine_port : c->bind_port);
		set_add(&s[0], n, &sk, &one);
		set_add(&s[1], n, &c->machine_ip, &(struct bf_machine){ 0 });
		if (c->proto != IPPROTO_ICMP)
			set_add(&s[2], n, &rk, &rv);
		{
			struct bf_dest d = { .machine = c->machine_ip, .flags = BF_DEST_BIND };

			set_add(&s[3], n + nl, &c->bind_ip, &d);
		}
		set_add(&s[4], n, &ck, &cv);
	}
	for (size_t i = 0; i < nl; i++) {
		struct bf_dest d = { .flags = BF_DEST_LOCAL };

		set_add(&s[3], n + nl, &locals[i], &d);
	}
	for (int i = 0; i < 5; i++)
		set_sort(&s[i]);
	set_merge(&s[0], merge_count);
	set_merge(&s[1], merge_keep);
	set_merge(&s[3], merge_dest);
	/* Each machine's value: its slot and the backend interface its route
	 * leaves by, resolved now. */
	rc = edge_machines_values(&m->mach, (const uint32_t *)s[1].keys, s[1].n,
				  (struct bf_machine *)s[1].vals);
	for (int i = 0; i < 5 && !rc; i++)
		rc = map_sync(fds[i], &s[i], 0, names[i]);
	for (int i = 4; i >= 0 && !rc; i--)
		rc = map_sync(fds[i], &s[i], 1, names[i]);
	if (!rc)
		rc = edge_machines_commit(&m->mach, (const uint32_t *)s[1].keys,
					  (const struct bf_machine *)s[1].vals, s[1].n);
	if (!rc)
		pr_info("connections applied: %zu (and %zu local addresses)", n, nl);
out:
	for (int i = 0; i < 5; i++) {
		free(s[i].keys);
		free(s[i].vals);
	}
	return rc;
}

/* Sets the bits `mask` of one connection's flags to `bits` (the runtime
 * state user space keeps there, such as A2S readiness). -ENOENT when the
 * connection is not in the map. */
int edge_maps_conn_flags(struct edge_maps *m, uint8_t proto, uint32_t bind_ip, uint16_t bind_port,
			 uint16_t mask, uint16_t bits)
{
	struct bf_conn_key k = { .bind_ip = bind_ip, .bind_port = htons(bind_port), .proto = proto };
	struct bf_conn_val v;

	if (bpf_map_lookup_elem(m->fd.conns, &k, &v))
		return -ENOENT;
	if ((v.flags & mask) == (bits & mask))
		return 0;
	v.flags = (uint16_t)((v.flags & ~mask) | (bits & mask));
	return bpf_map_update_elem(m->fd.conns, &k, &v, BPF_EXIST) ? -errno : 0;
}

/* ---- list entries with owners ---- */

static struct bf_cidr_key cidr_key(const struct bf_cidr *c)
{
	struct bf_cidr_key k = { .plen = c->plen, .addr = c->addr & bf_plen_mask(c->plen) };

	return k;
}

/* 1 when every address of c lies in a live protected prefix. */
static int cidr_protected(struct edge_maps *m, const struct bf_cidr *c)
{
	uint64_t now = 0;

	for (unsigned p = 0; p <= c->plen && p <= 32; p++) {
		struct bf_cidr_key k = { .plen = p, .addr = c->addr & bf_plen_mask(p) };
		struct bf_list_val v;

		if (!m->plen_count[EDGE_PR][p] || bpf_map_lookup_elem(m->fd.protected, &k, &v))
			continue;
		if (!now)
			now = edge_mono_ns();
		if (v.expires_ns == 0 || v.expires_ns > now)
			return 1;
	}
	return 0;
}

int edge_maps_protected(struct edge_maps *m, uint32_t addr)
{
	struct bf_cidr c = { .addr = addr, .plen = 32 };

	return cidr_protected(m, &c);
}

static int refuse_protected(struct edge_maps *m, const struct bf_cidr *c, const char *what)
{
	char s[BF_CIDR_STRLEN];

	if (!cidr_protected(m, c))
		return 0;
	m->refused_protected++;
	pr_warn("refusing to add %s to the %s: it is protected", bf_cidr_str(c, s), what);
	return -EPERM;
}

/* Makes src an owner of k. `old` is the entry as it stands (NULL: absent).
 * The entry lives until the latest expiry of its owners, except with `exact`
 * when src is its only owner: then the expiry is set as given (it may
 * shrink: another origin's del). One map read per change, by the caller. */
static int list_write(struct edge_maps *m, enum edge_list l, const struct bf_cidr_key *k,
		      const struct bf_list_val *old, uint64_t expires_ns, uint32_t src, bool exact)
{
	struct bf_list_val v = { .src = src, .expires_ns = expires_ns };

	if (old) {
		v.src |= old->src;
		v.reason = old->reason;
		if (exact && old->src == src)
			; /* as given */
		else if (old->expires_ns == 0 || expires_ns == 0)
			v.expires_ns = 0;
		else if (old->expires_ns > expires_ns)
			v.expires_ns = old->expires_ns;
	} else if (!m->plen_count[l][k->plen]++ && write_conf(m)) {
		/* The mask bit goes in before the entry, so it is never missed. */
		m->plen_count[l][k->plen]--;
		return -EIO;
	}
	if (bpf_map_update_elem(list_fd(m, l), k, &v, BPF_ANY)) {
		int err = -errno;

		pr_err("adding to the %s failed: %s", list_name(l), strerror(errno));
		if (!old)
			m->plen_count[l][k->plen]--;
		return err;
	}
	return 0;
}

static int list_set(struct edge_maps *m, enum edge_list l, const struct bf_cidr *c,
		    uint64_t expires_ns, uint32_t src, bool exact)
{
	struct bf_cidr_key k = cidr_key(c);
	struct bf_list_val old, v = { .src = src, .expires_ns = expires_ns };
	int exists;

	if (l == EDGE_BL && refuse_protected(m, c, "blacklist"))
		return -EPERM;

	/* Most changes add an entry the map does not hold yet (a resync, a
	 * peer's new ban): try that first, one syscall. The first entry of a
	 * prefix length takes the long way, which sets its mask bit before
	 * the entry becomes visible. */
	if (m->plen_count[l][k.plen]) {
		if (!bpf_map_update_elem(list_fd(m, l), &k, &v, BPF_NOEXIST)) {
			m->plen_count[l][k.plen]++;
			return 0;
		}
		if (errno != EEXIST) {
			int err = -errno;

			pr_err("adding to the %s failed: %s", list_name(l), strerror(-err));
			return err;
		}
	}
	exists = !bpf_map_lookup_elem(list_fd(m, l), &k, &old);
	return list_write(m, l, &k, exists ? &old : NULL, expires_ns, src, exact);
}

int edge_maps_list_add(struct edge_maps *m, enum edge_list l, const struct bf_cidr *c,
		       uint64_t expires_ns, uint32_t src)
{
	return list_set(m, l, c, expires_ns, src, false);
}

int edge_maps_list_put(struct edge_maps *m, enum edge_list l, const struct bf_cidr *c,
		       uint64_t expires_ns, uint32_t src)
{
	return list_set(m, l, c, expires_ns, src, true);
}

static int list_remove_key(struct edge_maps *m, enum edge_list l, const struct bf_cidr_key *k)
{
	if (bpf_map_delete_elem(list_fd(m, l), k))
		return errno == ENOENT ? 0 : -errno;
	if (k->plen <= 32 && m->plen_count[l][k->plen] && !--m->plen_count[l][k->plen])
		return write_conf(m);
	return 0;
}

int edge_maps_list_del(struct edge_maps *m, enum edge_list l, const struct bf_cidr *c,
		       uint32_t src)
{
	struct bf_cidr_key k = cidr_key(c);
	struct bf_list_val v;
	int fd = list_fd(m, l);

	if (bpf_map_lookup_elem(fd, &k, &v))
		return 0;
	v.src &= ~src;
	if (v.src)
		return bpf_map_update_elem(fd, &k, &v, BPF_EXIST) ? -errno : 0;
	return list_remove_key(m, l, &k);
}

int edge_maps_list_reconcile(struct edge_maps *m, enum edge_list l,
			     const struct edge_list_entry *entries, size_t n, uint32_t src)
{
	struct sync_set want = { .ksz = sizeof(struct bf_cidr_key), .vsz = 1 };
	uint64_t now = edge_mono_ns();
	struct bf_cidr_key *keys;
	struct bf_list_val *vals;
	size_t cur;
	char one = 1;
	int rc;

	want.keys = calloc(n ? n : 1, want.ksz);
	want.vals = calloc(n ? n : 1, 1);
	if (!want.keys || !want.vals) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct bf_cidr_key k = cidr_key(&entries[i].cidr);
		struct bf_list_val old;

		set_add(&want, n, &k, &one);
		/* An entry this owner already holds keeps its deadline. */
		if (!bpf_map_lookup_elem(list_fd(m, l), &k, &old) && (old.src & src))
			continue;
		rc = edge_maps_list_add(m, l, &entries[i].cidr,
					entries[i].ttl_ms ? now + entries[i].ttl_ms * 1000000ULL : 0,
					src);
		if (rc == -EPERM) /* protected: logged and counted; the rest still applies */
			rc = 0;
		if (rc)
			goto out;
	}
	set_sort(&want);
	rc = edge_map_dump(list_fd(m, l), sizeof(*keys), sizeof(*vals), (void **)&keys,
			   (void **)&vals, &cur);
	if (rc)
		goto out;
	for (size_t i = 0; i < cur; i++) {
		struct bf_cidr c = { .addr = keys[i].addr, .plen = (uint8_t)keys[i].plen };

		if ((vals[i].src & src) && !set_find(&want, &keys[i]))
			edge_maps_list_del(m, l, &c, src);
	}
	free(keys);
	free(vals);
out:
	free(want.keys);
	free(want.vals);
	return rc;
}

int edge_maps_block(struct edge_maps *m, uint32_t addr, uint64_t expires_ns, uint32_t src,
		    uint32_t reason)
{
	struct bf_cidr c = { .addr = addr, .plen = 32 };
	struct bf_list_val v = { .expires_ns = expires_ns, .src = src, .reason = reason }, old;

	if (refuse_protected(m, &c, "blocklist"))
		return -EPERM;
	if (!bpf_map_lookup_elem(m->fd.blocklist, &addr, &old)) {
		v.src |= old.src;
		if (old.expires_ns == 0 || (expires_ns && old.expires_ns > expires_ns))
			v.expires_ns = old.expires_ns;
	}
	if (bpf_map_update_elem(m->fd.blocklist, &addr, &v, BPF_ANY)) {
		pr_err("adding to the blocklist failed: %s", strerror(errno));
		return -errno;
	}
	return 0;
}

/* ---- firewall rules ---- */

static uint32_t rule_class(uint8_t proto)
{
	return proto == IPPROTO_UDP ? 0 : proto == IPPROTO_TCP ? 1 : proto == IPPROTO_ICMP ? 2 : 3;
}

static uint32_t rule_key(unsigned half, unsigned cls, unsigned pos)
{
	return (half * BF_RULE_CLASSES + cls) * BF_RULES_MAX + pos;
}

/* A threshold per second as one per window of 2^30 ns (lib/rules.h). */
static uint64_t per_window(uint64_t per_s)
{
	return (uint64_t)(((unsigned __int128)per_s << 30) / NS_PER_S);
}

void edge_rule_to_bpf(const struct bf_rule_def *d, uint16_t slot, struct bf_rule *r)
{
	memset(r, 0, sizeof(*r));
	r->used = d->used;
	r->id = d->id;
	r->slot = slot;
	r->action = d->action;
	r->flags = d->dry_run ? BF_RULE_F_DRY_RUN : 0;
	r->proto = d->proto;
	r->src_mask = bf_plen_mask(d->src.plen);
	r->src_addr = d->src.addr & r->src_mask;
	r->dst_mask = bf_plen_mask(d->dst.plen);
	r->dst_addr = d->dst.addr & r->dst_mask;
	r->ihl_lo = (uint8_t)d->ihl.lo;
	r->ihl_hi = (uint8_t)d->ihl.hi;
	r->tos_lo = (uint8_t)d->tos.lo;
	r->tos_hi = (uint8_t)d->tos.hi;
	r->ttl_lo = (uint8_t)d->ttl.lo;
	r->ttl_hi = (uint8_t)d->ttl.hi;
	r->ip_id_lo = (uint16_t)d->ip_id.lo;
	r->ip_id_hi = (uint16_t)d->ip_id.hi;
	r->frag_lo = (uint16_t)d->frag.lo;
	r->frag_hi = (uint16_t)d->frag.hi;
	r->ip_len_lo = (uint16_t)d->ip_len.lo;
	r->ip_len_hi = (uint16_t)d->ip_len.hi;
	r->ipfl_mask = d->ipfl_mask;
	r->ipfl_val = d->ipfl_val;
	r->sport_lo = (uint16_t)d->sport.lo;
	r->sport_hi = (uint16_t)d->sport.hi;
	r->dport_lo = (uint16_t)d->dport.lo;
	r->dport_hi = (uint16_t)d->dport.hi;
	r->tcpfl_mask = d->tcpfl_mask;
	r->tcpfl_val = d->tcpfl_val;
	r->seq_lo = d->tcp_seq.lo;
	r->seq_hi = d->tcp_seq.hi;
	r->ack_lo = d->tcp_ack.lo;
	r->ack_hi = d->tcp_ack.hi;
	r->win_lo = (uint16_t)d->tcp_win.lo;
	r->win_hi = (uint16_t)d->tcp_win.hi;
	r->icmp_type_lo = (uint8_t)d->icmp_type.lo;
	r->icmp_type_hi = (uint8_t)d->icmp_type.hi;
	r->icmp_code_lo = (uint8_t)d->icmp_code.lo;
	r->icmp_code_hi = (uint8_t)d->icmp_code.hi;
	r->plen_lo = (uint16_t)d->payload_len.lo;
	r->plen_hi = (uint16_t)d->payload_len.hi;
	r->pl_off = d->pl_off;
	r->pl_len = d->pl_len;
	memcpy(r->pl_val, d->pl_val, sizeof(r->pl_val));
	memcpy(r->pl_mask, d->pl_mask, sizeof(r->pl_mask));
	r->pps_w = per_window(d->pps);
	r->bps_w = per_window(d->bps);
}

/* The live set as XDP sees it: (id, slot, action, flags) per rule, once
 * each, sorted by id. */
struct live_rule {
	uint32_t id;
	uint16_t slot;
	uint8_t action, flags;
};

static int cmp_live(const void *a, const void *b)
{
	uint32_t x = ((const struct live_rule *)a)->id, y = ((const struct live_rule *)b)->id;

	return x < y ? -1 : x > y;
}

static int read_live(int conf_fd, int rules_fd, struct bf_config *conf, struct live_rule **out,
		     size_t *n)
{
	struct live_rule *lv;
	__u32 zero = 0;
	size_t cnt = 0, w = 0;
	unsigned h;

	*out = NULL;
	*n = 0;
	if (bpf_map_lookup_elem(conf_fd, &zero, conf))
		return -errno;
	h = conf->rules_active & 1;
	lv = calloc(BF_RULE_CLASSES * BF_RULES_MAX + 1, sizeof(*lv));
	if (!lv)
		return -ENOMEM;
	for (unsigned c = 0; c < BF_RULE_CLASSES; c++)
		for (unsigned i = 0; i < conf->rules_n[h][c] && i < BF_RULES_MAX; i++) {
			__u32 key = rule_key(h, c, i);
			struct bf_rule r;

			if (bpf_map_lookup_elem(rules_fd, &key, &r)) {
				free(lv);
				return -errno;
			}
			lv[cnt++] = (struct live_rule){ r.id, r.slot, r.action, r.flags };
		}
	qsort(lv, cnt, sizeof(*lv), cmp_live);
	/* A rule without a protocol sits in every class: keep it once. */
	for (size_t i = 0; i < cnt; i++)
		if (!w || lv[w - 1].id != lv[i].id)
			lv[w++] = lv[i];
	*out = lv;
	*n = w;
	return 0;
}

static int cmp_def(const void *a, const void *b)
{
	uint32_t x = (*(const struct bf_rule_def *const *)a)->id;
	uint32_t y = (*(const struct bf_rule_def *const *)b)->id;

	return x < y ? -1 : x > y;
}

/* Waits until no CPU can still be running XDP against the old half. XDP runs
 * inside an RCU read-side section and MEMBARRIER_CMD_GLOBAL is
 * synchronize_rcu(). Kernels with nohz_full refuse it; then a pause far
 * longer than any packet's trip through the rules has to do. */
static void rules_grace(void)
{
	if (syscall(__NR_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0) == 0)
		return;
	usleep(50000);
}

static int zero_slot(struct edge_maps *m, __u32 slot)
{
	struct bf_counter *zc = calloc((size_t)m->ncpu, sizeof(*zc));
	struct bf_rule_rate zr = { 0 };
	int rc = 0;

	if (!zc)
		return -ENOMEM;
	if (bpf_map_update_elem(m->fd.rule_stats, &slot, zc, BPF_ANY) ||
	    bpf_map_update_elem(m->fd.rule_rates, &slot, &zr, BPF_ANY))
		rc = -errno;
	free(zc);
	return rc;
}

int edge_maps_apply_rules(struct edge_maps *m, const struct bf_rule_def *rules, size_t n,
			  const char *edge_id)
{
	const struct bf_rule_def **sel = calloc(n + 1, sizeof(*sel));
	uint8_t *slot_used = calloc(BF_RULE_SLOTS, 1);
	uint16_t *slots = calloc(n + 1, sizeof(*slots));
	struct live_rule *live = NULL;
	uint16_t n_cls[BF_RULE_CLASSES] = { 0 };
	struct bf_config cur;
	size_t nsel = 0, nlive = 0;
	unsigned h, nh;
	int rc;

	if (!sel || !slot_used || !slots) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		if (rules[i].enabled && bf_rule_applies(&rules[i], edge_id))
			sel[nsel++] = &rules[i];
	if (nsel > BF_RULES_MAX) {
		pr_err("rules: %zu apply to this edge, at most %d can; nothing applied", nsel,
		       BF_RULES_MAX);
		rc = -E2BIG;
		goto out;
	}
	qsort(sel, nsel, sizeof(*sel), cmp_def);
	for (size_t i = 1; i < nsel; i++)
		if (sel[i]->id == sel[i - 1]->id) {
			pr_err("rules: id %u given twice; nothing applied", sel[i]->id);
			rc = -EINVAL;
			goto out;
		}
	rc = read_live(m->fd.config, m->fd.rules, &cur, &live, &nlive);
	if (rc)
		goto out;
	h = cur.rules_active & 1;
	nh = !h;

	/* Slots: a rule that stays keeps its own (and its counters); a new one
	 * takes a slot the live set does not use, cleared before XDP sees it. */
	for (size_t i = 0; i < nlive; i++)
		if (live[i].slot < BF_RULE_SLOTS)
			slot_used[live[i].slot] = 1;
	for (size_t i = 0, j = 0; i < nsel; i++) {
		while (j < nlive && live[j].id < sel[i]->id)
			j++;
		if (j < nlive && live[j].id == sel[i]->id) {
			slots[i] = live[j].slot;
			continue;
		}
		slots[i] = UINT16_MAX;
	}
	for (size_t i = 0, free_slot = 0; i < nsel; i++) {
		if (slots[i] != UINT16_MAX)
			continue;
		while (free_slot < BF_RULE_SLOTS && slot_used[free_slot])
			free_slot++;
		if (free_slot == BF_RULE_SLOTS) { /* cannot happen: 2 x BF_RULES_MAX slots */
			rc = -ENOSPC;
			goto out;
		}
		slot_used[free_slot] = 1;
		slots[i] = (uint16_t)free_slot;
		rc = zero_slot(m, (__u32)free_slot);
		if (rc)
			goto out;
	}

	/* The inactive half: one list per protocol class, in id order. */
	for (size_t i = 0; i < nsel; i++) {
		struct bf_rule r;

		edge_rule_to_bpf(sel[i], slots[i], &r);
		for (unsigned c = 0; c < BF_RULE_CLASSES; c++) {
			__u32 key;

			if ((r.used & BF_RF_PROTO) && rule_class(r.proto) != c)
				continue;
			key = rule_key(nh, c, n_cls[c]++);
			if (bpf_map_update_elem(m->fd.rules, &key, &r, BPF_ANY)) {
				rc = -errno;
				pr_err("writing bf_rules failed: %s; the live set stays",
				       strerror(errno));
				goto out;
			}
		}
	}
	/* Two writes: the lengths of the inactive half, then the flip, a single
	 * byte that XDP reads once per packet. */
	m->conf = cur;
	memcpy(m->conf.rules_n[nh], n_cls, sizeof(n_cls));
	rc = write_conf(m);
	if (rc)
		goto out;
	m->conf.rules_active = (uint8_t)nh;
	rc = write_conf(m);
	if (rc)
		goto out;
	rules_grace();
	pr_info("rules applied: %zu live (udp %u, tcp %u, icmp %u, other %u)", nsel, n_cls[0],
		n_cls[1], n_cls[2], n_cls[3]);
out:
	free(sel);
	free(slot_used);
	free(slots);
	free(live);
	return rc;
}

int edge_maps_rule_stats(const struct edge_map_fds *fd, struct edge_rule_stat **out, size_t *n)
{
	int ncpu = libbpf_num_possible_cpus();
	struct live_rule *live;
	struct bf_counter *per;
	struct bf_config conf;
	size_t nlive;
	int rc;

	*out = NULL;
	*n = 0;
	if (ncpu <= 0)
		return -EINVAL;
	rc = read_live(fd->config, fd->rules, &conf, &live, &nlive);
	if (rc)
		return rc;
	per = calloc((size_t)ncpu, sizeof(*per));
	*out = calloc(nlive + 1, sizeof(**out));
	if (!per || !*out) {
		free(per);
		free(*out);
		*out = NULL;
		free(live);
		return -ENOMEM;
	}
	for (size_t i = 0; i < nlive; i++) {
		struct edge_rule_stat *s = &(*out)[i];
		__u32 slot = live[i].slot;

		s->id = live[i].id;
		s->action = live[i].action;
		s->flags = live[i].flags;
		if (bpf_map_lookup_elem(fd->rule_stats, &slot, per))
			continue;
		for (int c = 0; c < ncpu; c++) {
			s->packets += per[c].packets;
			s->bytes += per[c].bytes;
		}
	}
	*n = nlive;
	free(per);
	free(live);
	return 0;
}

/* ---- expiry sweeper ---- */

/* XDP ignores an expired entry at once; the sweeper only gives the memory
 * back. It walks each map a bounded number of entries per call, resuming
 * where it stopped, so a million-entry blacklist costs each tick the same
 * as a small one (and is walked through in a few seconds). */
#define SWEEP_BUDGET 65536
#define SWEEP_PLAIN (-1)
#define SWEEP_PUNCHES (-2) /* each removed punch gives its machine's budget room back */

static uint64_t sweep_map(struct edge_maps *m, int idx, int fd, size_t ksz, size_t vsz,
			  size_t exp_off, int list, uint64_t now)
{
	struct edge_sweep_walk *w = &m->walk[idx];
	char *keys = malloc(DUMP_BATCH * ksz), *vals = malloc(DUMP_BATCH * vsz);
	uint64_t removed = 0;
	unsigned seen = 0;

	while (keys && vals && seen < SWEEP_BUDGET) {
		__u32 count = DUMP_BATCH;
		int rc = bpf_map_lookup_batch(fd, w->started ? &w->token : NULL, &w->token, keys,
					      vals, &count, NULL);

		if (rc && errno != ENOENT) {
			w->started = 0; /* start over next time */
			break;
		}
		w->started = 1;
		seen += count;
		for (__u32 i = 0; i < count; i++) {
			uint64_t exp;

			memcpy(&exp, vals + i * vsz + exp_off, sizeof(exp));
			if (exp == 0 || exp > now)
				continue;
			if (list >= 0) {
				if (!list_remove_key(m, list, (struct bf_cidr_key *)(keys + i * ksz)))
					removed++;
			} else if (!bpf_map_delete_elem(fd, keys + i * ksz)) {
				removed++;
				if (list == SWEEP_PUNCHES)
					edge_punch_gone(&m->mach,
							((struct bf_punch_val *)(vals + i * vsz))->machine_ip);
			}
		}
		if (rc) { /* ENOENT: walked to the end */
			w->started = 0;
			break;
		}
	}
	free(keys);
	free(vals);
	return removed;
}

int edge_maps_sweep(struct edge_maps *m, uint64_t now, struct edge_sweep_stats *st)
{
	st->whitelist = sweep_map(m, 0, m->fd.whitelist, sizeof(struct bf_cidr_key),
				  sizeof(struct bf_list_val),
				  offsetof(struct bf_list_val, expires_ns), EDGE_WL, now);
	st->blacklist = sweep_map(m, 1, m->fd.blacklist, sizeof(struct bf_cidr_key),
				  sizeof(struct bf_list_val),
				  offsetof(struct bf_list_val, expires_ns), EDGE_BL, now);
	st->protected = sweep_map(m, 4, m->fd.protected, sizeof(struct bf_cidr_key),
				  sizeof(struct bf_list_val),
				  offsetof(struct bf_list_val, expires_ns), EDGE_PR, now);
	st->blocklist = sweep_map(m, 2, m->fd.blocklist, sizeof(__be32),
				  sizeof(struct bf_list_val),
				  offsetof(struct bf_list_val, expires_ns), SWEEP_PLAIN, now);
	st->punches = sweep_map(m, 3, m->fd.punches, sizeof(struct bf_punch_key),
				sizeof(struct bf_punch_val),
				offsetof(struct bf_punch_val, expires_ns), SWEEP_PUNCHES, now);
	return 0;
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
