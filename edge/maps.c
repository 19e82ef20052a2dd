/* maps.c - writing the edge maps: config, connections as an exact diff,
 * owner-tracked list entries, the expiry sweeper, counters. */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
	return l == EDGE_WL ? m->fd.whitelist : m->fd.blacklist;
}

static uint64_t plen_mask(const struct edge_maps *m, enum edge_list l)
{
	uint64_t mask = 0;

	for (int p = 0; p <= 32; p++)
		if (m->plen_count[l][p])
			mask |= 1ULL << p;
	return mask;
}

static int write_conf(struct edge_maps *m)
{
	__u32 zero = 0;

	m->conf.wl_plen_mask = plen_mask(m, EDGE_WL);
	m->conf.bl_plen_mask = plen_mask(m, EDGE_BL);
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
	for (int l = 0; l < 2; l++) {
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
	return 0;
}

int edge_maps_write_config(struct edge_maps *m, const struct edge_config *cfg)
{
	m->conf.edge_addr = cfg->addr;
	m->conf.flags = cfg->dry_run ? BF_F_DRY_RUN : 0;
	m->conf.punch_ttl_ns = cfg->punch_ttl_ms * 1000000ULL;
	m->conf.punch_report_ns = cfg->punch_report_ms * 1000000ULL;
	m->conf.outer_ttl = cfg->outer_ttl;
	return write_conf(m);
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
		{ .ksz = sizeof(__be32), .vsz = sizeof(__u32) },
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
		struct bf_conn_val cv = { .machine_ip = c->machine_ip,
					  .machine_port = htons(c->machine_port) };
		__u32 one = 1;

		rk.port = htons(c->machine_port ? c->machine_port : c->bind_port);
		set_add(&s[0], n, &sk, &one);
		set_add(&s[1], n, &c->machine_ip, &one);
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
	set_merge(&s[1], merge_count);
	set_merge(&s[3], merge_dest);
	for (int i = 0; i < 5 && !rc; i++)
		rc = map_sync(fds[i], &s[i], 0, names[i]);
	for (int i = 4; i >= 0 && !rc; i--)
		rc = map_sync(fds[i], &s[i], 1, names[i]);
	if (!rc)
		pr_info("connections applied: %zu (and %zu local addresses)", n, nl);
out:
	for (int i = 0; i < 5; i++) {
		free(s[i].keys);
		free(s[i].vals);
	}
	return rc;
}

/* ---- list entries with owners ---- */

static struct bf_cidr_key cidr_key(const struct bf_cidr *c)
{
	struct bf_cidr_key k = { .plen = c->plen, .addr = c->addr & bf_plen_mask(c->plen) };

	return k;
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

		pr_err("adding to the %s failed: %s", l == EDGE_WL ? "whitelist" : "blacklist",
		       strerror(errno));
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

			pr_err("adding to the %s failed: %s", l == EDGE_WL ? "whitelist" : "blacklist",
			       strerror(-err));
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

/* ---- expiry sweeper ---- */

/* XDP ignores an expired entry at once; the sweeper only gives the memory
 * back. It walks each map a bounded number of entries per call, resuming
 * where it stopped, so a million-entry blacklist costs each tick the same
 * as a small one (and is walked through in a few seconds). */
#define SWEEP_BUDGET 65536

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
	st->blocklist = sweep_map(m, 2, m->fd.blocklist, sizeof(__be32),
				  sizeof(struct bf_list_val),
				  offsetof(struct bf_list_val, expires_ns), -1, now);
	st->punches = sweep_map(m, 3, m->fd.punches, sizeof(struct bf_punch_key),
				sizeof(struct bf_punch_val),
				offsetof(struct bf_punch_val, expires_ns), -1, now);
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
