/* sweep.c - the expiry sweeper: XDP ignores an expired entry at once; this
 * only gives the memory back, a bounded number of entries per map and tick. */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "maps_int.h"
#include <stddef.h>


/* XDP ignores an expired entry at once; the sweeper only gives the memory
 * back. It walks each map a bounded number of entries per call, resuming
 * where it stopped, so a million-entry blacklist costs each tick the same
 * as a small one (and is walked through in a few seconds). */
#define SWEEP_BUDGET 65536
#define SWEEP_PLAIN (-1)
#define SWEEP_PUNCHES (-2) /* each removed punch gives its machine's budget room back */
#define SWEEP_RECHECK (-3) /* read again just before the delete: XDP may have renewed it */

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
				if (!maps_list_remove_key(m, list, (struct bf_cidr_key *)(keys + i * ksz)))
					removed++;
			} else if (list == SWEEP_RECHECK &&
				   (bpf_map_lookup_elem(fd, keys + i * ksz, vals + i * vsz) ||
				    (memcpy(&exp, vals + i * vsz + exp_off, sizeof(exp)), exp > now))) {
				continue;
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
	for (int l = 0; l < BF_LISTS; l++)
		st->list[l] = sweep_map(m, l, edge_list_fd(&m->fd, (enum bf_list)l),
					sizeof(struct bf_cidr_key), sizeof(struct bf_list_val),
					offsetof(struct bf_list_val, expires_ns), l, now);
	st->blocklist = sweep_map(m, BF_LISTS, m->fd.blocklist, sizeof(__be32),
				  sizeof(struct bf_list_val), offsetof(struct bf_list_val, expires_ns),
				  SWEEP_PLAIN, now);
	st->punches = sweep_map(m, BF_LISTS + 1, m->fd.punches, sizeof(struct bf_punch_key),
				sizeof(struct bf_punch_val), offsetof(struct bf_punch_val, expires_ns),
				SWEEP_PUNCHES, now);
	st->valid = m->fd.valid < 0 ? 0 :
		    sweep_map(m, BF_LISTS + 2, m->fd.valid, sizeof(struct bf_rl_key),
			      sizeof(struct bf_valid_val), offsetof(struct bf_valid_val, expires_ns),
			      SWEEP_RECHECK, now);
	/* Ports opened by punches that have expired since close again. */
	if (bf_mono_ms() - m->ports.rebuilt_ms >= EDGE_PORTS_REBUILD_MS)
		edge_ports_rebuild(&m->ports, &m->conf, 1u << (m->conf.rules_active & 1), NULL, 0);
	return 0;
}
