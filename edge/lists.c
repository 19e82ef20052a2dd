/* lists.c - the CIDR lists of sources as data (one table every layer
 * iterates), and their entries with owners: an entry lives until the
 * latest expiry of the owners (config file, fleet, this edge) that hold it;
 * a ban inside a protected prefix is refused. */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "clock.h"
#include "log.h"
#include "maps_int.h"
#include "want_set.h"
#include <stddef.h>

const struct edge_list_desc edge_lists[BF_LISTS] = {
	[BF_LIST_WL] = { BF_LIST_WL, "whitelist", "whitelist",
			 offsetof(struct edge_map_fds, whitelist), false },
	[BF_LIST_BL] = { BF_LIST_BL, "blacklist", "blacklist",
			 offsetof(struct edge_map_fds, blacklist), true },
	[BF_LIST_PR] = { BF_LIST_PR, "protected", "protected list",
			 offsetof(struct edge_map_fds, protected), false },
};

int edge_list_fd(const struct edge_map_fds *fd, enum bf_list l)
{
	return *(const int *)((const char *)fd + edge_lists[l].fd_off);
}


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

		if (!m->plen_count[BF_LIST_PR][p] || bpf_map_lookup_elem(m->fd.protected, &k, &v))
			continue;
		if (!now)
			now = bf_mono_ns();
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
static int list_write(struct edge_maps *m, enum bf_list l, const struct bf_cidr_key *k,
		      const struct bf_list_val *old, uint64_t expires_ns, uint32_t src, bool exact)
{
	struct bf_list_val v = { .src = src, .expires_ns = expires_ns };

	if (old)
		bf_list_merge(&v, old, expires_ns, src, exact);
	else if (!m->plen_count[l][k->plen]++ && maps_write_conf(m)) {
		/* The mask bit goes in before the entry, so it is never missed. */
		m->plen_count[l][k->plen]--;
		return -EIO;
	}
	if (bpf_map_update_elem(edge_list_fd(&m->fd, l), k, &v, BPF_ANY)) {
		int err = -errno;

		pr_err("adding to the %s failed: %s", edge_lists[l].what, strerror(errno));
		if (!old)
			m->plen_count[l][k->plen]--;
		return err;
	}
	return 0;
}

/* ---- the batch writer (bpf/lib/list_batch.h) ---- */

void maps_list_batch_open(struct edge_maps *m)
{
	size_t len = (sizeof(*m->batch) * BF_LIST_BATCH_MAX + 4095) & ~(size_t)4095;
	void *p;

	if (m->fd.list_batch < 0 || m->fd.list_batch_prog < 0)
		return; /* opened from pins (--stats, --dump): written one by one */
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, m->fd.list_batch, 0);
	if (p == MAP_FAILED) {
		pr_warn("the list writer's array cannot be mapped (%s): list entries are written "
			"one by one", strerror(errno));
		return;
	}
	m->batch = p;
}

static int list_set_now(struct edge_maps *m, enum bf_list l, const struct bf_cidr *c,
			uint64_t expires_ns, uint32_t src, bool exact);

/* Writes what list_set queued, in one BPF_PROG_RUN; entries the writer did
 * not take (it could not run) are written one by one. */
int edge_maps_list_flush(struct edge_maps *m)
{
	LIBBPF_OPTS(bpf_test_run_opts, o);
	struct bf_list_batch_ctx ctx = { .n = m->n_batch };
	unsigned n = m->n_batch, failed = 0;
	int err = 0;

	if (!n)
		return 0;
	m->n_batch = 0;
	o.ctx_in = &ctx;
	o.ctx_size_in = sizeof(ctx);
	if (bpf_prog_test_run_opts(m->fd.list_batch_prog, &o) || o.retval)
		pr_warn("the list writer failed (%s): %u entries written one by one",
			strerror(o.retval ? -(int)o.retval : errno), n);
	m->batch_runs++;
	for (unsigned i = 0; i < n; i++) {
		const struct bf_list_batch_ent *b = &m->batch[i];
		int rc = b->result;

		if (rc == -ECANCELED) { /* not run */
			struct bf_cidr c = { .addr = b->key.addr, .plen = (uint8_t)b->key.plen };

			rc = list_set_now(m, (enum bf_list)b->list, &c, b->expires_ns, b->src, b->exact);
		} else if (rc == 1) {
			m->plen_count[b->list][b->key.plen]++;
		}
		if (rc < 0 && !failed++)
			err = rc;
	}
	if (failed)
		pr_err("adding %u entries to the lists failed, the first: %s", failed,
		       strerror(-err));
	return err;
}

static int list_set(struct edge_maps *m, enum bf_list l, const struct bf_cidr *c,
		    uint64_t expires_ns, uint32_t src, bool exact)
{
	struct bf_cidr_key k = cidr_key(c);
	struct bf_list_batch_ent *b;

	/* A fleet write (exact) to a list the writer knows, of a prefix length
	 * already in use (its mask bit set): queued, written at the next flush. */
	if (!exact || !m->batch || (l != BF_LIST_BL && l != BF_LIST_WL) ||
	    !m->plen_count[l][k.plen])
		return list_set_now(m, l, c, expires_ns, src, exact);
	if (edge_lists[l].refuses_protected && refuse_protected(m, c, edge_lists[l].what))
		return -EPERM;
	b = &m->batch[m->n_batch++];
	*b = (struct bf_list_batch_ent){ .key = k, .expires_ns = expires_ns, .src = src,
					 .list = (uint8_t)l, .exact = 1, .result = -ECANCELED };
	return m->n_batch == BF_LIST_BATCH_MAX ? edge_maps_list_flush(m) : 0;
}

static int list_set_now(struct edge_maps *m, enum bf_list l, const struct bf_cidr *c,
			uint64_t expires_ns, uint32_t src, bool exact)
{
	struct bf_cidr_key k = cidr_key(c);
	struct bf_list_val old, v = { .src = src, .expires_ns = expires_ns };
	int exists;

	edge_maps_list_flush(m); /* what was queued before, first */
	if (edge_lists[l].refuses_protected && refuse_protected(m, c, edge_lists[l].what))
		return -EPERM;

	/* Most changes add an entry the map does not hold yet (a resync, a
	 * peer's new ban): try that first, one syscall. The first entry of a
	 * prefix length takes the long way, which sets its mask bit before
	 * the entry becomes visible. */
	if (m->plen_count[l][k.plen]) {
		if (!bpf_map_update_elem(edge_list_fd(&m->fd, l), &k, &v, BPF_NOEXIST)) {
			m->plen_count[l][k.plen]++;
			return 0;
		}
		if (errno != EEXIST) {
			int err = -errno;

			pr_err("adding to the %s failed: %s", edge_lists[l].what, strerror(-err));
			return err;
		}
	}
	exists = !bpf_map_lookup_elem(edge_list_fd(&m->fd, l), &k, &old);
	return list_write(m, l, &k, exists ? &old : NULL, expires_ns, src, exact);
}

int edge_maps_list_add(struct edge_maps *m, enum bf_list l, const struct bf_cidr *c,
		       uint64_t expires_ns, uint32_t src)
{
	return list_set(m, l, c, expires_ns, src, false);
}

int edge_maps_list_put(struct edge_maps *m, enum bf_list l, const struct bf_cidr *c,
		       uint64_t expires_ns, uint32_t src)
{
	return list_set(m, l, c, expires_ns, src, true);
}

int maps_list_remove_key(struct edge_maps *m, enum bf_list l, const struct bf_cidr_key *k)
{
	edge_maps_list_flush(m);
	if (bpf_map_delete_elem(edge_list_fd(&m->fd, l), k))
		return errno == ENOENT ? 0 : -errno;
	if (k->plen <= 32 && m->plen_count[l][k->plen] && !--m->plen_count[l][k->plen])
		return maps_write_conf(m);
	return 0;
}

int edge_maps_list_del(struct edge_maps *m, enum bf_list l, const struct bf_cidr *c,
		       uint32_t src)
{
	struct bf_cidr_key k = cidr_key(c);
	struct bf_list_val v;
	int fd = edge_list_fd(&m->fd, l);

	edge_maps_list_flush(m);
	if (bpf_map_lookup_elem(fd, &k, &v))
		return 0;
	v.src &= ~src;
	if (v.src)
		return bpf_map_update_elem(fd, &k, &v, BPF_EXIST) ? -errno : 0;
	return maps_list_remove_key(m, l, &k);
}

int edge_maps_list_reconcile(struct edge_maps *m, enum bf_list l,
			     const struct edge_list_entry *entries, size_t n, uint32_t src)
{
	struct want_set want = { .ksz = sizeof(struct bf_cidr_key), .vsz = 1 };
	uint64_t now = bf_mono_ns();
	struct bf_cidr_key *keys;
	struct bf_list_val *vals;
	size_t cur;
	char one = 1;
	int rc;

	edge_maps_list_flush(m);
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
		if (!bpf_map_lookup_elem(edge_list_fd(&m->fd, l), &k, &old) && (old.src & src))
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
	rc = edge_map_dump(edge_list_fd(&m->fd, l), sizeof(*keys), sizeof(*vals), (void **)&keys,
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
