/* list_batch.h - the list writer user space runs with BPF_PROG_RUN: a page
 * of fleet entries (a resync reads a million) applied in one system call
 * instead of one or two each. Entries come through bf_list_batch, an array
 * user space maps into its memory; each gets its result back there. */
#ifndef BF_LIST_BATCH_H
#define BF_LIST_BATCH_H

#include <linux/bpf.h>
#include <linux/errno.h>
#include <bpf/bpf_helpers.h>
#include "../bifrost.h"
#include "edge_maps.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, BF_LIST_BATCH_MAX);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct bf_list_batch_ent);
} bf_list_batch SEC(".maps"); /* never pinned: each writer has its own */

/* Adds the entry, or merges it into the one there (bf_list_merge). Most are
 * new (a resync, a peer's new ban): that is tried first, one look-up. */
static __always_inline int list_batch_put(void *map, const struct bf_list_batch_ent *b)
{
	struct bf_list_val v = { .expires_ns = b->expires_ns, .src = b->src };
	struct bf_list_val *old;
	long rc = bpf_map_update_elem(map, &b->key, &v, BPF_NOEXIST);

	if (rc != -EEXIST)
		return rc ? (int)rc : 1;
	old = bpf_map_lookup_elem(map, &b->key);
	if (!old) /* deleted meanwhile */
		return (int)bpf_map_update_elem(map, &b->key, &v, BPF_NOEXIST) ?: 1;
	bf_list_merge(&v, old, b->expires_ns, b->src, b->exact);
	return (int)bpf_map_update_elem(map, &b->key, &v, BPF_ANY);
}

static long list_batch_one(__u32 i, void *unused)
{
	struct bf_list_batch_ent *b = bpf_map_lookup_elem(&bf_list_batch, &i);

	if (!b)
		return 1;
	if (b->key.plen > 32)
		b->result = -EINVAL;
	else if (b->list == BF_LIST_BL)
		b->result = (__s16)list_batch_put(&bf_blacklist, b);
	else if (b->list == BF_LIST_WL)
		b->result = (__s16)list_batch_put(&bf_whitelist, b);
	else
		b->result = -EINVAL;
	return 0;
}

SEC("syscall")
int bifrost_list_batch(struct bf_list_batch_ctx *ctx)
{
	__u32 n = ctx->n;

	if (n > BF_LIST_BATCH_MAX)
		return -E2BIG;
	bpf_loop(n, list_batch_one, NULL, 0);
	return 0;
}

#endif /* BF_LIST_BATCH_H */
