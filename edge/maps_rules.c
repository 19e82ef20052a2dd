/* maps_rules.c - the firewall rules in bf_rules: a whole set written into
 * the half XDP is not using, made live by one byte, the old half freed once
 * no packet can still be on it; counters that follow a rule's id. */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "maps_int.h"
#include <linux/membarrier.h>
#include <netinet/in.h>
#include <sys/syscall.h>
#include <unistd.h>


#define NS_PER_S 1000000000ULL

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

#define BF_RULE_INDEX_MIN 8

/* The port index of one half (bifrost.h, "The rules' port index"): for the UDP and TCP
 * lists, each rule naming a destination port range of at most BF_RULE_PORT_SPAN ports is
 * listed under every one of those ports, if each has room; every other rule goes to the
 * list's `any`. Written into the half XDP is not using (its old port entries deleted
 * first), before the flip. Without the maps (pins of an older version) the lists stay
 * linear. */
static int write_port_index(struct edge_maps *m, unsigned half,
			    const struct bf_rule *const *cls_rules[2], const uint16_t n_cls[2])
{
	struct bf_rule_port_key k, next, *dead = NULL;
	struct bf_rule_idx *idx = NULL;
	size_t ndead = 0, cap = 0;
	int rc = 0;

	if (m->fd.rule_idx < 0 || m->fd.rule_ports < 0)
		return 0;
	/* The half's old port entries go (XDP does not read this half now). */
	for (int more = !bpf_map_get_next_key(m->fd.rule_ports, NULL, &k); more;
	     more = !bpf_map_get_next_key(m->fd.rule_ports, &k, &next), k = next) {
		if (k.half != half)
			continue;
		if (ndead == cap) {
			struct bf_rule_port_key *d = realloc(dead, (cap ? 2 * cap : 256) * sizeof(*d));

			if (!d) {
				rc = -ENOMEM;
				goto out;
			}
			dead = d;
			cap = cap ? 2 * cap : 256;
		}
		dead[ndead++] = k;
	}
	for (size_t i = 0; i < ndead; i++)
		bpf_map_delete_elem(m->fd.rule_ports, &dead[i]);
	idx = calloc(1, sizeof(*idx));
	if (!idx) {
		rc = -ENOMEM;
		goto out;
	}
	for (unsigned c = 0; c < 2; c++) {
		__u32 ik = half * BF_RULE_CLASSES + c;

		memset(idx, 0, sizeof(*idx));
		for (unsigned pos = 0; pos < n_cls[c]; pos++) {
			const struct bf_rule *r = cls_rules[c][pos];
			bool indexed = (r->used & BF_RF_DPORT) &&
				       (unsigned)r->dport_hi - r->dport_lo < BF_RULE_PORT_SPAN;
			struct bf_rule_port_list pl[BF_RULE_PORT_SPAN];
			unsigned span = indexed ? (unsigned)r->dport_hi - r->dport_lo + 1 : 0;

			/* every port of its range must have room, or it goes to `any` */
			for (unsigned j = 0; indexed && j < span; j++) {
				k = (struct bf_rule_port_key){ .half = (__u8)half, .cls = (__u8)c,
							       .port = (__u16)(r->dport_lo + j) };
				if (bpf_map_lookup_elem(m->fd.rule_ports, &k, &pl[j]))
					memset(&pl[j], 0, sizeof(pl[j]));
				indexed = pl[j].n < BF_RULE_PORT_LIST;
			}
			if (!indexed) {
				idx->any[idx->n_any++] = (__u16)pos;
				continue;
			}
			for (unsigned j = 0; j < span; j++) {
				k = (struct bf_rule_port_key){ .half = (__u8)half, .cls = (__u8)c,
							       .port = (__u16)(r->dport_lo + j) };
				pl[j].pos[pl[j].n++] = (__u16)pos;
				if (bpf_map_update_elem(m->fd.rule_ports, &k, &pl[j], BPF_ANY)) {
					rc = -errno;
					pr_err("writing bf_rule_ports failed: %s; the live set stays",
					       strerror(errno));
					goto out;
				}
			}
		}
		/* A merged step costs about 1.4 linear ones (bf-bench rules): the index is on
		 * when it takes at least a quarter of the list off every walk, and the list
		 * is long enough for that to beat the hash probe. */
		idx->on = n_cls[c] >= BF_RULE_INDEX_MIN && 4u * idx->n_any <= 3u * n_cls[c];
		if (bpf_map_update_elem(m->fd.rule_idx, &ik, idx, BPF_ANY)) {
			rc = -errno;
			pr_err("writing bf_rule_idx failed: %s; the live set stays", strerror(errno));
			goto out;
		}
	}
out:
	free(dead);
	free(idx);
	return rc;
}

int edge_maps_apply_rules(struct edge_maps *m, const struct bf_rule_def *rules, size_t n,
			  const char *edge_id)
{
	const struct bf_rule_def **sel = calloc(n + 1, sizeof(*sel));
	uint8_t *slot_used = calloc(BF_RULE_SLOTS, 1);
	uint16_t *slots = calloc(n + 1, sizeof(*slots));
	struct live_rule *live = NULL;
	struct bf_rule *bpf_rules = calloc(n + 1, sizeof(*bpf_rules));
	const struct bf_rule **by_cls[2] = { calloc(n + 1, sizeof(struct bf_rule *)),
					     calloc(n + 1, sizeof(struct bf_rule *)) };
	uint16_t n_cls[BF_RULE_CLASSES] = { 0 };
	struct bf_config cur;
	size_t nsel = 0, nlive = 0;
	unsigned h, nh;
	int rc;

	if (!sel || !slot_used || !slots || !bpf_rules || !by_cls[0] || !by_cls[1]) {
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
		struct bf_rule *r = &bpf_rules[i];

		edge_rule_to_bpf(sel[i], slots[i], r);
		for (unsigned c = 0; c < BF_RULE_CLASSES; c++) {
			__u32 key;

			if ((r->used & BF_RF_PROTO) && rule_class(r->proto) != c)
				continue;
			if (c < 2)
				by_cls[c][n_cls[c]] = r;
			key = rule_key(nh, c, n_cls[c]++);
			if (bpf_map_update_elem(m->fd.rules, &key, r, BPF_ANY)) {
				rc = -errno;
				pr_err("writing bf_rules failed: %s; the live set stays",
				       strerror(errno));
				goto out;
			}
		}
	}
	rc = write_port_index(m, nh, (const struct bf_rule *const *[2]){ by_cls[0], by_cls[1] },
			      n_cls);
	if (rc)
		goto out;
	/* Two writes: the lengths of the inactive half, then the flip, a single
	 * byte that XDP reads once per packet. */
	m->conf = cur;
	memcpy(m->conf.rules_n[nh], n_cls, sizeof(n_cls));
	rc = maps_write_conf(m);
	if (rc)
		goto out;
	/* The ports both halves' rules name are open across the flip; after it, those of
	 * the live half only. */
	rc = edge_ports_rebuild(&m->ports, &m->conf, 3, NULL, 0);
	if (rc)
		goto out;
	m->conf.rules_active = (uint8_t)nh;
	rc = maps_write_conf(m);
	if (rc)
		goto out;
	rules_grace();
	edge_ports_rebuild(&m->ports, &m->conf, 1u << nh, NULL, 0);
	pr_info("rules applied: %zu live (udp %u, tcp %u, icmp %u, other %u)", nsel, n_cls[0],
		n_cls[1], n_cls[2], n_cls[3]);
out:
	free(sel);
	free(slot_used);
	free(slots);
	free(live);
	free(bpf_rules);
	free(by_cls[0]);
	free(by_cls[1]);
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

