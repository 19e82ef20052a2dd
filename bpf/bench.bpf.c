/* bench.bpf.c - programs for `make bench`: the baselines (bare XDP_DROP, an
 * empty XDP_PASS), the live-frames sender, the blacklist look-up comparison
 * (per-prefix-length hash, as the edge does it, vs an LPM trie), and the
 * frame restorer that puts a program under test behind fresh frames. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "bifrost.h"
#include "lib/cidr.h"

#define BENCH_MAX (1 << 20)

/* Blacklist entries as the edge stores them. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, BENCH_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct bf_cidr_key);
	__type(value, struct bf_list_val);
} bench_hash SEC(".maps");

struct lpm_key {
	__u32 prefixlen;
	__be32 addr;
};

/* The same entries in an LPM trie. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, BENCH_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm_key);
	__type(value, struct bf_list_val);
} bench_lpm SEC(".maps");

/* idx -> a source address inside some entry: what the look-ups ask for. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, BENCH_MAX);
	__type(key, __u32);
	__type(value, __be32);
} bench_addrs SEC(".maps");

/* 0 -> the frame as the bench built it (bench_fresh). */
struct bench_frame {
	__u32 len;
	__u8 data[252];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bench_frame);
} bench_pristine SEC(".maps");

/* 0 -> the program under test (bench_fresh tail-calls it). */
struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} bench_target SEC(".maps");

const volatile __u32 n_addrs = 1;
const volatile __u64 plen_mask = 0;
__u64 hits = 0;

static __always_inline __be32 random_source(void)
{
	__u32 idx = bpf_get_prandom_u32() % n_addrs;
	__be32 *a = bpf_map_lookup_elem(&bench_addrs, &idx);

	return a ? *a : 0;
}

SEC("xdp")
int bench_lookup_none(struct xdp_md *ctx)
{
	if (random_source() == 1)
		hits++;
	return XDP_DROP;
}

SEC("xdp")
int bench_lookup_hash(struct xdp_md *ctx)
{
	struct clock clk = { .ns = 1 };

	if (cidr_match(&bench_hash, plen_mask, random_source(), &clk))
		hits++;
	return XDP_DROP;
}

SEC("xdp")
int bench_lookup_lpm(struct xdp_md *ctx)
{
	struct lpm_key k = { .prefixlen = 32, .addr = random_source() };
	struct bf_list_val *v = bpf_map_lookup_elem(&bench_lpm, &k);
	struct clock clk = { .ns = 1 };

	if (list_live(v, &clk))
		hits++;
	return XDP_DROP;
}

SEC("xdp")
int bench_drop(struct xdp_md *ctx)
{
	return XDP_DROP;
}

SEC("xdp")
int bench_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

/* Live frames come back from the page pool with what the last program wrote
 * into them (only the data pointers are reset): a program that rewrites or
 * encapsulates would meet its own output. This restores the frame, then
 * tail-calls the program under test, so that every run sees the frame the
 * bench built. Baselines run behind it too, so the ratio stays fair. */
SEC("xdp")
int bench_fresh(struct xdp_md *ctx)
{
	__u32 zero = 0, len;
	struct bench_frame *f = bpf_map_lookup_elem(&bench_pristine, &zero);

	if (!f)
		return XDP_ABORTED;
	len = f->len;
	if (len < 1 || len > sizeof(f->data))
		return XDP_ABORTED;
	if (bpf_xdp_store_bytes(ctx, 0, f->data, len))
		return XDP_ABORTED;
	bpf_tail_call(ctx, &bench_target, 0);
	return XDP_ABORTED;
}

/* Live-frames sender: every frame goes out of the interface it "arrived" on. */
SEC("xdp")
int bench_tx(struct xdp_md *ctx)
{
	return XDP_TX;
}

char LICENSE[] SEC("license") = "GPL";
