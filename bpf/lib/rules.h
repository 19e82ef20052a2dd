/* rules.h - firewall rules (stage 5). Not built yet: an empty stub so the
 * call site in edge.bpf.c stays as it will be. Returns an XDP action, or -1
 * to continue with the next stage. */
#ifndef BF_RULES_H
#define BF_RULES_H

#include "parse.h"

static __always_inline int rules_eval(struct xdp_md *ctx, const struct pkt *p, __u32 *reason)
{
	return -1;
}

#endif /* BF_RULES_H */
