/* ports.c - the open ports of each bind address (ports.h). XDP drops a packet
 * for a closed port of a bind address before the source lists (bpf/lib/ports.h);
 * a port must therefore be open here before anything behind it can take the
 * packet: connections (written here before their bf_dests slot appears),
 * punches (XDP sets the bit of one it learns, user space of one it puts), and
 * every port a live rule names (all ports of a protocol with a rule without a
 * port). Bits are only cleared by a rebuild, which writes every word afresh and
 * then ORs in the punches again. */
#include <bpf/bpf.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "clock.h"
#include "loader.h"
#include "log.h"
#include "maps.h"
#include "ports.h"

#define WORDS_PER_SLOT (2 * BF_PORT_WORDS)
#define OPEN_BYTES ((size_t)BF_PORT_SLOTS * WORDS_PER_SLOT * sizeof(uint64_t))

/* Slots by address, sorted (index_slots): every look-up of a bind address's slot. */
static int cmp_port_slot(const void *a, const void *b)
{
	const struct edge_port_slot *x = a, *y = b;

	return x->ip < y->ip ? -1 : x->ip > y->ip;
}

static void index_slots(struct edge_ports *p)
{
	p->n_ix = 0;
	for (uint32_t s = 1; s < BF_PORT_SLOTS; s++)
		if (p->slot_ip[s])
			p->ix[p->n_ix++] = (struct edge_port_slot){ .ip = p->slot_ip[s], .slot = s };
	qsort(p->ix, p->n_ix, sizeof(p->ix[0]), cmp_port_slot);
}

static uint32_t slot_of(const struct edge_ports *p, uint32_t ip)
{
	size_t lo = 0, hi = p->n_ix;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (p->ix[mid].ip == ip)
			return p->ix[mid].slot;
		if (p->ix[mid].ip < ip)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/* Opens a port in the shared words (XDP changes them at the same time). */
static void open_shared(struct edge_ports *p, uint32_t slot, uint8_t proto, uint16_t port)
{
	__atomic_fetch_or(&p->open[bf_port_word(slot, proto == IPPROTO_TCP, port)],
			  1ULL << (port & 63), __ATOMIC_SEQ_CST);
}

int edge_ports_init(struct edge_ports *p, const struct edge_map_fds *fd)
{
	uint32_t *ips;
	struct bf_dest *d;
	size_t n;
	void *mem;
	int rc;

	memset(p, 0, sizeof(*p));
	p->fd_open = fd->port_open;
	p->fd_punches = fd->punches;
	p->fd_conns = fd->conns;
	p->fd_rules = fd->rules;
	if (p->fd_open < 0)
		return 0;
	mem = mmap(NULL, OPEN_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, p->fd_open, 0);
	if (mem == MAP_FAILED) {
		rc = -errno;
		pr_err("mapping bf_port_open failed: %s", strerror(-rc));
		return rc;
	}
	p->open = mem;
	/* The slots a running edge gave its bind addresses: XDP reads them already. */
	rc = edge_map_dump(fd->dests, sizeof(*ips), sizeof(*d), (void **)&ips, (void **)&d, &n);
	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++) {
		uint32_t slot = d[i].flags >> BF_DEST_SLOT_SHIFT;

		if (slot && slot < BF_PORT_SLOTS)
			p->slot_ip[slot] = ips[i];
	}
	free(ips);
	free(d);
	index_slots(p);
	return 0;
}

void edge_ports_assign(struct edge_ports *p, const uint32_t *ips, struct bf_dest *vals, size_t n)
{
	uint8_t keep[BF_PORT_SLOTS] = { 0 };
	unsigned refused = 0;

	if (!p->open)
		return;
	for (size_t i = 0; i < n; i++) {
		uint32_t s = 0;

		vals[i].flags &= (1U << BF_DEST_SLOT_SHIFT) - 1;
		if (!(vals[i].flags & BF_DEST_BIND) || (vals[i].flags & BF_DEST_LOCAL))
			continue;
		s = slot_of(p, ips[i]);
		for (uint32_t f = 1; !s && f < BF_PORT_SLOTS; f++)
			if (!p->slot_ip[f] && !p->cooling[f]) {
				s = f;
				p->slot_ip[f] = ips[i];
			}
		if (!s) {
			refused++;
			continue;
		}
		keep[s] = 1;
		vals[i].flags |= s << BF_DEST_SLOT_SHIFT;
	}
	/* A slot left now may still be read by a packet in flight: not reused before
	 * the next apply. */
	for (uint32_t s = 1; s < BF_PORT_SLOTS; s++) {
		p->cooling[s] = 0;
		if (p->slot_ip[s] && !keep[s]) {
			p->slot_ip[s] = 0;
			p->cooling[s] = 1;
		}
	}
	index_slots(p);
	if (refused && !p->full_logged)
		pr_warn("closed ports: %u bind address(es) over the %d this edge tracks; their "
			"closed ports are dropped after the source lists (slower under a flood)",
			refused, BF_PORT_SLOTS - 1);
	p->full_logged = refused > 0;
}

static void set_bit(uint64_t *w, uint32_t slot, int tcp, uint16_t port)
{
	w[bf_port_word(slot, tcp, port)] |= 1ULL << (port & 63);
}

/* Ports lo..hi of a class's template (BF_PORT_WORDS words). */
static void set_range(uint64_t *t, uint32_t lo, uint32_t hi)
{
	for (uint32_t port = lo; port <= hi && port < 65536;) {
		if (!(port & 63) && port + 63 <= hi) { /* a whole word */
			t[port / 64] = ~0ULL;
			port += 64;
			continue;
		}
		t[port / 64] |= 1ULL << (port & 63);
		port++;
	}
}

/* The punches in bf_punches (read in batches: a full table is a quarter of a
 * million), each as a bit of w, or straight into the shared words. */
static int add_punches(struct edge_ports *p, uint64_t *w, bool shared)
{
	struct bf_punch_key *k;
	struct bf_punch_val *v;
	size_t n;
	int rc = edge_map_dump(p->fd_punches, sizeof(*k), sizeof(*v), (void **)&k, (void **)&v, &n);

	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++) {
		uint32_t s;
		uint16_t port;

		if (k[i].proto != IPPROTO_UDP && k[i].proto != IPPROTO_TCP)
			continue;
		s = slot_of(p, k[i].bind_ip);
		if (!s)
			continue;
		port = ntohs(k[i].bind_port);
		if (shared)
			open_shared(p, s, k[i].proto, port);
		else
			set_bit(w, s, k[i].proto == IPPROTO_TCP, port);
	}
	free(k);
	free(v);
	return 0;
}

/* The ports the live rules of the UDP and TCP lists of the halves asked for name
 * (every port for a rule without one), in every slot in use. */
static int add_rules(struct edge_ports *p, const struct bf_config *conf, unsigned halves,
		     uint64_t *w)
{
	uint64_t t[2][BF_PORT_WORDS] = { { 0 } };
	bool any = false;

	for (unsigned h = 0; h < 2; h++) {
		if (!(halves & (1u << h)))
			continue;
		for (int tcp = 0; tcp < 2; tcp++) {
			unsigned n = conf->rules_n[h][tcp];

			for (unsigned i = 0; i < n && i < BF_RULES_MAX; i++) {
				__u32 key = (h * BF_RULE_CLASSES + (unsigned)tcp) * BF_RULES_MAX + i;
				struct bf_rule r;

				if (bpf_map_lookup_elem(p->fd_rules, &key, &r))
					return -errno;
				set_range(t[tcp], r.used & BF_RF_DPORT ? r.dport_lo : 0,
					  r.used & BF_RF_DPORT ? r.dport_hi : 65535);
				any = true;
			}
		}
	}
	for (uint32_t s = 1; any && s < BF_PORT_SLOTS; s++)
		for (int tcp = 0; p->slot_ip[s] && tcp < 2; tcp++)
			for (uint32_t i = 0; i < BF_PORT_WORDS; i++)
				w[bf_port_word(s, tcp, 0) + i] |= t[tcp][i];
	return 0;
}

int edge_ports_rebuild(struct edge_ports *p, const struct bf_config *conf, unsigned halves,
		       const struct bf_conn_key *conns, size_t n_conns)
{
	uint64_t *w;
	struct bf_conn_key *dumped = NULL;
	int rc = 0;

	if (!p->open)
		return 0;
	if (!conns) {
		struct bf_conn_val *v;

		rc = edge_map_dump(p->fd_conns, sizeof(*dumped), sizeof(*v), (void **)&dumped,
				   (void **)&v, &n_conns);
		if (rc)
			return rc;
		free(v);
		conns = dumped;
	}
	w = calloc((size_t)BF_PORT_SLOTS * WORDS_PER_SLOT, sizeof(*w));
	if (!w) {
		free(dumped);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n_conns; i++) {
		uint32_t s;

		if (conns[i].proto != IPPROTO_UDP && conns[i].proto != IPPROTO_TCP)
			continue;
		if ((s = slot_of(p, conns[i].bind_ip)))
			set_bit(w, s, conns[i].proto == IPPROTO_TCP, ntohs(conns[i].bind_port));
	}
	rc = add_rules(p, conf, halves, w);
	if (!rc)
		rc = add_punches(p, w, false);
	if (!rc) {
		for (size_t i = 0; i < (size_t)BF_PORT_SLOTS * WORDS_PER_SLOT; i++)
			if (__atomic_load_n(&p->open[i], __ATOMIC_RELAXED) != w[i])
				__atomic_store_n(&p->open[i], w[i], __ATOMIC_SEQ_CST);
		/* XDP sets a punch's bit after the punch is in the map: one learned while the
		 * words were written is in this second read, or its bit survived. Should this
		 * read fail, every port is opened: a punch must never be dropped. */
		if (add_punches(p, NULL, true)) {
			for (size_t i = 0; i < (size_t)BF_PORT_SLOTS * WORDS_PER_SLOT; i++)
				__atomic_store_n(&p->open[i], ~0ULL, __ATOMIC_SEQ_CST);
			pr_err("closed ports: reading bf_punches failed; every port is open until the "
			       "next rebuild");
		}
		p->rebuilds++;
		p->rebuilt_ms = bf_mono_ms();
	} else {
		pr_err("closed ports: reading the rules or punches failed (%s); the open ports stay "
		       "as they were", strerror(-rc));
	}
	free(w);
	free(dumped);
	return rc;
}

void edge_ports_open(struct edge_ports *p, uint32_t bind_ip, uint16_t port, uint8_t proto)
{
	uint32_t s;

	if (!p || !p->open || (proto != IPPROTO_UDP && proto != IPPROTO_TCP))
		return;
	s = slot_of(p, bind_ip);
	if (s)
		open_shared(p, s, proto, port);
}
