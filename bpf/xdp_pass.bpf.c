/* xdp_pass.bpf.c - XDP_PASS only. The lab attaches it to veth peers that
 * receive XDP_TX/redirected frames (a veth drops those without a program). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
