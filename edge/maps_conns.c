/* maps_conns.c - the connection maps (bf_conns and what derives from it:
 * bf_conn_rev, bf_served, bf_machines, bf_dests) made to hold exactly a
 * list of connections, as a diff: additions first, removals last. */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "maps_int.h"
#include "want_set.h"

#include <netinet/in.h>

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

int edge_maps_read_conns(struct edge_maps *m, struct bf_conn **out, size_t *n)
{
	struct bf_conn_key k, next;
	struct bf_conn_val v;
	struct bf_conn *c = NULL, *grown;
	size_t cap = 0;
	void *prev = NULL;

	*out = NULL;
	*n = 0;
	while (!bpf_map_get_next_key(m->fd.conns, prev, &next)) {
		k = next;
		prev = &k;
		if (bpf_map_lookup_elem(m->fd.conns, &k, &v))
			continue; /* deleted meanwhile */
		if (*n == cap) {
			cap = cap ? cap * 2 : 64;
			grown = realloc(c, cap * sizeof(*c));
			if (!grown) {
				free(c);
				*n = 0;
				return -ENOMEM;
			}
			c = grown;
		}
		edge_conn_from_bpf(&k, &v, &c[(*n)++]);
	}
	*out = c;
	return 0;
}

int edge_maps_apply_conns(struct edge_maps *m, const struct bf_conn *conns, size_t n,
			  const uint32_t *locals, size_t nl)
{
	struct want_set s[5] = {
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
		rv.flags = cv.flags & BF_CONN_F_VALID_ANY; /* which replies validate a client */
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
	/* Bind addresses get their slot of bf_port_open, and every slot its open ports,
	 * before bf_dests carries the slots: a port is open before XDP looks. */
	edge_ports_assign(&m->ports, (const uint32_t *)s[3].keys, (struct bf_dest *)s[3].vals,
			  s[3].n);
	rc = edge_ports_rebuild(&m->ports, &m->conf, 1u << (m->conf.rules_active & 1),
				(const struct bf_conn_key *)s[4].keys, s[4].n);
	if (rc)
		goto out;
	/* Each machine's value: its slot and the backend interface its route
	 * leaves by, resolved now. */
	rc = edge_machines_values(&m->mach, (const uint32_t *)s[1].keys, s[1].n,
				  (struct bf_machine *)s[1].vals);
	for (int i = 0; i < 5 && !rc; i++)
		rc = map_converge(fds[i], &s[i], 0, names[i]);
	for (int i = 4; i >= 0 && !rc; i--)
		rc = map_converge(fds[i], &s[i], 1, names[i]);
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

