/* stats.c - counters from the maps and rates between samples. Reading never
 * blocks XDP: per-CPU slots are read as they are, summed here. */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "maps.h"
#include "stats.h"
#include "sync.h"

static int key_cmp(const void *a, const void *b)
{
	return memcmp(&((const struct edge_conn_sample *)a)->key,
		      &((const struct edge_conn_sample *)b)->key, sizeof(struct bf_conn_key));
}

static int read_conns(int fd, struct edge_stats_sample *s)
{
	int ncpu = libbpf_num_possible_cpus();
	struct bf_conn_key *k;
	struct bf_conn_counter *v;
	size_t n;
	int rc;

	s->conns = NULL;
	s->n_conns = 0;
	if (fd < 0)
		return 0; /* an older pin set without the map: no per-connection counters */
	if (ncpu <= 0)
		return -EINVAL;
	rc = edge_map_dump(fd, sizeof(*k), (size_t)ncpu * sizeof(*v), (void **)&k, (void **)&v, &n);
	if (rc)
		return rc;
	s->conns = calloc(n ? n : 1, sizeof(*s->conns));
	if (!s->conns) {
		free(k);
		free(v);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		struct edge_conn_sample *c = &s->conns[i];

		c->key = k[i];
		for (int cpu = 0; cpu < ncpu; cpu++) {
			const struct bf_conn_counter *p = &v[i * (size_t)ncpu + (size_t)cpu];

			c->c.in_packets += p->in_packets;
			c->c.in_bytes += p->in_bytes;
			c->c.out_packets += p->out_packets;
			c->c.out_bytes += p->out_bytes;
			c->c.hs_packets += p->hs_packets;
			c->c.unvalidated += p->unvalidated;
			c->c.validated += p->validated;
		}
	}
	s->n_conns = n;
	qsort(s->conns, n, sizeof(*s->conns), key_cmp);
	free(k);
	free(v);
	return 0;
}

int edge_stats_read(const struct edge_map_fds *fd, struct edge_stats_sample *s)
{
	int rc;

	memset(s, 0, sizeof(*s));
	rc = edge_maps_read_stats(fd, s->r);
	if (!rc)
		rc = read_conns(fd->conn_stats, s);
	if (rc)
		return rc;
	s->mono_ns = bf_mono_ns();
	s->wall_ms = sync_now_ms();
	return 0;
}

void edge_stats_sample_free(struct edge_stats_sample *s)
{
	free(s->conns);
	s->conns = NULL;
	s->n_conns = 0;
}

uint64_t edge_stats_delta(uint64_t prev, uint64_t cur)
{
	return cur >= prev ? cur - prev : cur;
}

uint64_t edge_stats_per_sec(uint64_t delta, uint64_t dt_ns)
{
	if (!dt_ns)
		return 0;
	/* long double: delta * 1e9 overflows 64 bits above ~18 G */
	return (uint64_t)((long double)delta * 1e9L / (long double)dt_ns + 0.5L);
}

const struct edge_conn_sample *edge_stats_conn(const struct edge_stats_sample *s,
					       const struct bf_conn_key *k)
{
	struct edge_conn_sample want = { .key = *k };

	if (!s->n_conns)
		return NULL;
	return bsearch(&want, s->conns, s->n_conns, sizeof(want), key_cmp);
}

void edge_stats_rates(const struct edge_stats_sample *prev, const struct edge_stats_sample *cur,
		      struct bf_stats_frame *f)
{
	uint64_t dt = prev->mono_ns && cur->mono_ns > prev->mono_ns ? cur->mono_ns - prev->mono_ns : 0;
	uint64_t in_p = 0, in_b = 0, out_p = 0, out_b = 0;

	f->ts_ms = cur->wall_ms;
	f->interval_ms = (uint32_t)(dt / 1000000);
	f->n_reasons = BF_R_MAX;
	for (unsigned r = 0; r < BF_R_MAX; r++) {
		f->r[r].packets = cur->r[r].packets;
		f->r[r].bytes = cur->r[r].bytes;
		f->r[r].pps = edge_stats_per_sec(edge_stats_delta(prev->r[r].packets, cur->r[r].packets), dt);
		f->r[r].bps = 8 * edge_stats_per_sec(edge_stats_delta(prev->r[r].bytes, cur->r[r].bytes), dt);
	}
	for (size_t i = 0; i < cur->n_conns; i++) {
		const struct edge_conn_sample *c = &cur->conns[i];
		const struct edge_conn_sample *p = edge_stats_conn(prev, &c->key);
		struct bf_conn_counter z = { 0 };
		const struct bf_conn_counter *pc = p ? &p->c : &z;

		in_p += edge_stats_delta(pc->in_packets, c->c.in_packets);
		in_b += edge_stats_delta(pc->in_bytes, c->c.in_bytes);
		out_p += edge_stats_delta(pc->out_packets, c->c.out_packets);
		out_b += edge_stats_delta(pc->out_bytes, c->c.out_bytes);
	}
	f->conn_in_pps = edge_stats_per_sec(in_p, dt);
	f->conn_in_bps = 8 * edge_stats_per_sec(in_b, dt);
	f->conn_out_pps = edge_stats_per_sec(out_p, dt);
	f->conn_out_bps = 8 * edge_stats_per_sec(out_b, dt);
}
