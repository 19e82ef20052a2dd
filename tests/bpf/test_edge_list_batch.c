/* test_edge_list_batch.c - the list batch writer (bpf/lib/list_batch.h, run by
 * edge/lists.c): the fleet's list writes queued and applied in one
 * BPF_PROG_RUN must leave the maps exactly as writing them one by one does
 * (a differential over random operation sequences), each entry's result is
 * the right one, the queue is written before any other list call reads or
 * changes a list, and nothing is lost when the writer cannot run. */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "bifrost.h"
#include "../../edge/maps.h"
#include "../../sync/clock.h"
#include "edge_tables.h"

#define SEC_NS 1000000000ULL

static int list_fd(enum bf_list l)
{
	return l == BF_LIST_BL ? H.maps.fd.blacklist : H.maps.fd.whitelist;
}

/* The keys of list l in the test's range (10.0.0.0/8); *n of them. */
static struct bf_cidr_key *keys_of(enum bf_list l, size_t *n)
{
	struct bf_cidr_key cur, next, *k = calloc(65536, sizeof(*k));
	int first = 1;

	*n = 0;
	while (!bpf_map_get_next_key(list_fd(l), first ? NULL : &cur, &next) && *n < 65536) {
		first = 0;
		cur = next;
		if ((ntohl(cur.addr) >> 24) == 10)
			k[(*n)++] = cur;
	}
	return k;
}

/* Removes every entry of the test's range from both lists, as their owners would. */
static void clear_lists(void)
{
	edge_maps_list_flush(&H.maps);
	for (enum bf_list l = BF_LIST_WL; l <= BF_LIST_BL; l++) {
		size_t n;
		struct bf_cidr_key *k = keys_of(l, &n);

		for (size_t i = 0; i < n; i++) {
			struct bf_cidr c = { .addr = k[i].addr, .plen = (uint8_t)k[i].plen };

			assert_int_equal(edge_maps_list_del(&H.maps, l, &c,
							    BF_SRC_CONFIG | BF_SRC_FLEET | BF_SRC_LOCAL),
					 0);
		}
		free(k);
	}
}

static struct bf_cidr ten(uint32_t host, uint8_t plen)
{
	struct bf_cidr c = { .addr = htonl((10u << 24) | host) & bf_plen_mask(plen), .plen = plen };

	return c;
}

static int get(enum bf_list l, struct bf_cidr c, struct bf_list_val *v)
{
	struct bf_cidr_key k = { .plen = c.plen, .addr = c.addr };

	return bpf_map_lookup_elem(list_fd(l), &k, v);
}

/* A /32 of the prefix length in use already, so that puts queue. */
static void prime(enum bf_list l)
{
	struct bf_cidr c = ten(0xffffff, 32);

	assert_int_equal(edge_maps_list_add(&H.maps, l, &c, 0, BF_SRC_CONFIG), 0);
	assert_true(H.maps.plen_count[l][32] > 0);
}

static void test_list_batch__writer_loaded(void **state)
{
	/* The edge's object carries the writer and its array: the harness loads it as
	 * bifrost-edge does, so the tests below run the real thing. */
	assert_true(H.maps.fd.list_batch_prog >= 0);
	assert_true(H.maps.fd.list_batch >= 0);
	assert_non_null(H.maps.batch);
}

/* Each entry's result and the merge rule, through the queue. */
static void test_list_batch__results_and_merge(void **state)
{
	uint64_t now = bf_mono_ns(), later = now + 600 * SEC_NS, sooner = now + 60 * SEC_NS;
	struct bf_cidr a = ten(1, 32), b = ten(2, 32), c = ten(3, 32);
	struct bf_list_val v;
	uint32_t n32, runs;

	clear_lists();
	prime(BF_LIST_BL);
	n32 = H.maps.plen_count[BF_LIST_BL][32];
	/* b held by the config (permanent), c by this edge until `sooner`. */
	assert_int_equal(edge_maps_list_add(&H.maps, BF_LIST_BL, &b, 0, BF_SRC_CONFIG), 0);
	assert_int_equal(edge_maps_list_add(&H.maps, BF_LIST_BL, &c, sooner, BF_SRC_LOCAL), 0);
	{
		struct bf_cidr_key k = { .plen = 32, .addr = c.addr };
		struct bf_list_val cv;

		assert_int_equal(bpf_map_lookup_elem(H.maps.fd.blacklist, &k, &cv), 0);
		cv.reason = 7; /* kept by every writer */
		assert_int_equal(bpf_map_update_elem(H.maps.fd.blacklist, &k, &cv, BPF_EXIST), 0);
	}
	assert_int_equal(H.maps.plen_count[BF_LIST_BL][32], n32 + 2); /* b and c, the long way */
	n32 += 2;
	runs = (uint32_t)H.maps.batch_runs;

	assert_int_equal(edge_maps_list_put(&H.maps, BF_LIST_BL, &a, later, BF_SRC_FLEET), 0);
	assert_int_equal(edge_maps_list_put(&H.maps, BF_LIST_BL, &b, later, BF_SRC_FLEET), 0);
	assert_int_equal(edge_maps_list_put(&H.maps, BF_LIST_BL, &c, later, BF_SRC_FLEET), 0);
	assert_int_equal(H.maps.n_batch, 3);
	/* Queued: not in the map yet. */
	assert_int_not_equal(get(BF_LIST_BL, a, &v), 0);
	assert_int_equal(edge_maps_list_flush(&H.maps), 0);
	assert_int_equal(H.maps.n_batch, 0);
	assert_int_equal((uint32_t)H.maps.batch_runs, runs + 1);
	assert_int_equal(H.maps.batch[0].result, 1); /* added */
	assert_int_equal(H.maps.batch[1].result, 0); /* merged */
	assert_int_equal(H.maps.batch[2].result, 0);
	assert_int_equal(H.maps.plen_count[BF_LIST_BL][32], n32 + 1);

	assert_int_equal(get(BF_LIST_BL, a, &v), 0);
	assert_int_equal(v.src, BF_SRC_FLEET);
	assert_true(v.expires_ns == later);
	assert_int_equal(get(BF_LIST_BL, b, &v), 0); /* permanent stays permanent */
	assert_int_equal(v.src, BF_SRC_FLEET | BF_SRC_CONFIG);
	assert_true(v.expires_ns == 0);
	assert_int_equal(get(BF_LIST_BL, c, &v), 0); /* the later deadline, reason kept */
	assert_int_equal(v.src, BF_SRC_FLEET | BF_SRC_LOCAL);
	assert_true(v.expires_ns == later);
	assert_int_equal(v.reason, 7);

	/* The fleet alone holds a: its put is exact (another origin's del shrinks it). */
	assert_int_equal(edge_maps_list_put(&H.maps, BF_LIST_BL, &a, sooner, BF_SRC_FLEET), 0);
	assert_int_equal(edge_maps_list_flush(&H.maps), 0);
	assert_int_equal(get(BF_LIST_BL, a, &v), 0);
	assert_true(v.expires_ns == sooner);
	/* With another owner it is not: c keeps the later of the two. */
	assert_int_equal(edge_maps_list_put(&H.maps, BF_LIST_BL, &c, now + SEC_NS, BF_SRC_FLEET),
			 0);
	assert_int_equal(edge_maps_list_flush(&H.maps), 0);
	assert_int_equal(get(BF_LIST_BL, c, &v), 0);
	assert_true(v.expires_ns == later);
	clear_lists();
}

/* What the writer refuses itself, run directly (the queue never holds these). */
static void test_list_batch__writer_refuses_bad_entries(void **state)
{
	LIBBPF_OPTS(bpf_test_run_opts, o);
	struct bf_list_batch_ctx ctx = { .n = 3 };
	struct bf_list_batch_ent *b = H.maps.batch;
	struct bf_cidr ok = ten(9, 32);
	struct bf_list_val v;

	clear_lists();
	b[0] = (struct bf_list_batch_ent){ .key = { .plen = 33, .addr = ok.addr },
					   .src = BF_SRC_FLEET, .list = BF_LIST_BL, .exact = 1 };
	b[1] = (struct bf_list_batch_ent){ .key = { .plen = 32, .addr = ok.addr },
					   .src = BF_SRC_FLEET, .list = BF_LIST_PR, .exact = 1 };
	b[2] = (struct bf_list_batch_ent){ .key = { .plen = 32, .addr = ok.addr },
					   .src = BF_SRC_FLEET, .list = BF_LIST_WL, .exact = 1 };
	o.ctx_in = &ctx;
	o.ctx_size_in = sizeof(ctx);
	assert_int_equal(bpf_prog_test_run_opts(H.maps.fd.list_batch_prog, &o), 0);
	assert_int_equal(o.retval, 0);
	assert_int_equal(b[0].result, -EINVAL); /* no /33 */
	assert_int_equal(b[1].result, -EINVAL); /* not a list the writer writes */
	assert_int_equal(b[2].result, 1);
	assert_int_equal(get(BF_LIST_WL, ok, &v), 0);
	{
		struct bf_cidr_key k = { .plen = 32, .addr = ok.addr };

		assert_int_not_equal(bpf_map_lookup_elem(H.maps.fd.protected, &k, &v), 0);
	}
	/* More than the array holds: refused whole. */
	ctx.n = BF_LIST_BATCH_MAX + 1;
	assert_int_equal(bpf_prog_test_run_opts(H.maps.fd.list_batch_prog, &o), 0);
	assert_int_equal((int)o.retval, -E2BIG);
	bpf_map_delete_elem(H.maps.fd.whitelist, &(struct bf_cidr_key){ .plen = 32, .addr = ok.addr });
	clear_lists();
}

/* The queue goes to the maps before any other list call; a full queue writes
 * itself; a protected address is refused when queued. */
static void test_list_batch__queue_order(void **state)
{
	uint64_t later = bf_mono_ns() + 600 * SEC_NS;
	struct bf_cidr a = ten(0x010101, 32), p = ten(0x020000, 24), inside = ten(0x020005, 32);
	struct bf_list_val v;
	uint64_t runs;

	clear_lists();
	prime(BF_LIST_BL);
	/* A queued put, then a del of the same entry: the del sees it and removes it. */
	assert_int_equal(edge_maps_list_put(&H.maps, BF_LIST_BL, &a, later, BF_SRC_FLEET), 0);
	assert_int_equal(H.maps.n_batch, 1);
	assert_int_equal(edge_maps_list_del(&H.maps, BF_LIST_BL, &a, BF_SRC_FLEET), 0);
	assert_int_equal(H.maps.n_batch, 0);
	assert_int_not_equal(get(BF_LIST_BL, a, &v), 0);

	/* A queued put, then a config add of the same entry: both owners. */
	assert_int_equal(edge_maps_list_put(&H.maps, BF_LIST_BL, &a, later, BF_SRC_FLEET), 0);
	assert_int_equal(edge_maps_list_add(&H.maps, BF_LIST_BL, &a, 0, BF_SRC_CONFIG), 0);
	assert_int_equal(get(BF_LIST_BL, a, &v), 0);
	assert_int_equal(v.src, BF_SRC_FLEET | BF_SRC_CONFIG);
	assert_true(v.expires_ns == 0);

	/* A full queue writes itself. */
	runs = H.maps.batch_runs;
	for (uint32_t i = 0; i < BF_LIST_BATCH_MAX; i++) {
		struct bf_cidr c = ten(0x100000 + i, 32);

		assert_int_equal(edge_maps_list_put(&H.maps, BF_LIST_BL, &c, later, BF_SRC_FLEET), 0);
	}
	assert_int_equal(H.maps.n_batch, 0);
	assert_int_equal(H.maps.batch_runs, runs + 1);
	{
		struct bf_cidr last = ten(0x100000 + BF_LIST_BATCH_MAX - 1, 32);

		assert_int_equal(get(BF_LIST_BL, last, &v), 0);
	}

	/* Inside a protected prefix: refused at once, never queued. */
	assert_int_equal(edge_maps_list_add(&H.maps, BF_LIST_PR, &p, 0, BF_SRC_CONFIG), 0);
	assert_int_equal(edge_maps_list_put(&H.maps, BF_LIST_BL, &inside, later, BF_SRC_FLEET),
			 -EPERM);
	assert_int_equal(H.maps.n_batch, 0);
	assert_int_equal(edge_maps_list_del(&H.maps, BF_LIST_PR, &p, BF_SRC_CONFIG), 0);
	clear_lists();
}

/* The writer cannot run: every queued entry is written one by one. */
static void test_list_batch__fallback_loses_nothing(void **state)
{
	uint64_t later = bf_mono_ns() + 600 * SEC_NS;
	int prog = H.maps.fd.list_batch_prog;
	struct bf_list_val v;
	uint32_t n32;

	clear_lists();
	prime(BF_LIST_WL);
	n32 = H.maps.plen_count[BF_LIST_WL][32];
	for (uint32_t i = 0; i < 50; i++) {
		struct bf_cidr c = ten(0x300000 + i, 32);

		assert_int_equal(edge_maps_list_put(&H.maps, BF_LIST_WL, &c, later, BF_SRC_FLEET), 0);
	}
	assert_int_equal(H.maps.n_batch, 50);
	H.maps.fd.list_batch_prog = -1; /* BPF_PROG_RUN fails: EBADF */
	assert_int_equal(edge_maps_list_flush(&H.maps), 0);
	H.maps.fd.list_batch_prog = prog;
	for (uint32_t i = 0; i < 50; i++) {
		struct bf_cidr c = ten(0x300000 + i, 32);

		assert_int_equal(get(BF_LIST_WL, c, &v), 0);
		assert_true(v.expires_ns == later);
	}
	assert_int_equal(H.maps.plen_count[BF_LIST_WL][32], n32 + 50);
	clear_lists();
}

/* One step of a random sequence: a fleet put, a config or local add, or a del. */
struct op {
	uint8_t kind; /* 0 put, 1 add, 2 del, 3 flush */
	uint8_t list;
	struct bf_cidr c;
	uint64_t exp;
	uint32_t src;
};

static void run_ops(const struct op *ops, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct op *o = &ops[i];

		switch (o->kind) {
		case 0:
			edge_maps_list_put(&H.maps, o->list, &o->c, o->exp, o->src);
			break;
		case 1:
			edge_maps_list_add(&H.maps, o->list, &o->c, o->exp, o->src);
			break;
		case 2:
			edge_maps_list_del(&H.maps, o->list, &o->c, o->src);
			break;
		default:
			edge_maps_list_flush(&H.maps);
		}
	}
	edge_maps_list_flush(&H.maps);
}

struct snap {
	struct bf_cidr_key k;
	struct bf_list_val v;
	uint8_t list;
};

static int snap_cmp(const void *x, const void *y)
{
	return memcmp(x, y, sizeof(struct snap));
}

/* The test's entries of both lists with their values, sorted; *n of them. */
static struct snap *snapshot(size_t *n)
{
	struct snap *s = calloc(2 * 65536, sizeof(*s));

	*n = 0;
	for (enum bf_list l = BF_LIST_WL; l <= BF_LIST_BL; l++) {
		size_t nk;
		struct bf_cidr_key *k = keys_of(l, &nk);

		for (size_t i = 0; i < nk; i++, (*n)++) {
			memset(&s[*n], 0, sizeof(s[*n]));
			s[*n].k = k[i];
			s[*n].list = (uint8_t)l;
			assert_int_equal(bpf_map_lookup_elem(list_fd(l), &k[i], &s[*n].v), 0);
		}
		free(k);
	}
	qsort(s, *n, sizeof(*s), snap_cmp);
	return s;
}

/* The differential: the same random sequences with the writer and without
 * it (every entry written the long way) leave identical lists and counts. */
static void test_list_batch__same_as_one_by_one(void **state)
{
	uint64_t now = bf_mono_ns();
	static const uint32_t srcs[] = { BF_SRC_FLEET, BF_SRC_CONFIG, BF_SRC_LOCAL };
	static const uint8_t plens[] = { 32, 32, 32, 24, 16 };
	struct bf_list_batch_ent *batch = H.maps.batch;
	unsigned seed = 20261130;

	for (int round = 0; round < 6; round++) {
		size_t n = 3000, na, nb;
		struct op *ops = calloc(n, sizeof(*ops));
		uint32_t counts_a[BF_LISTS][33], counts_b[BF_LISTS][33];
		struct snap *a, *b;

		for (size_t i = 0; i < n; i++) {
			struct op *o = &ops[i];
			unsigned r = (unsigned)rand_r(&seed);

			o->kind = r % 10 < 6 ? 0 : r % 10 < 8 ? 1 : r % 10 < 9 ? 2 : 3;
			o->list = (r >> 8) & 1 ? BF_LIST_BL : BF_LIST_WL;
			/* few addresses, so that entries are met again and merged */
			o->c = ten((uint32_t)rand_r(&seed) % 300 << 8 | (uint32_t)rand_r(&seed) % 4,
				   plens[(unsigned)rand_r(&seed) % 5]);
			o->exp = (unsigned)rand_r(&seed) % 5 == 0 ? 0 :
				 now + (uint64_t)((unsigned)rand_r(&seed) % 1000 + 1) * SEC_NS;
			o->src = o->kind == 0 ? BF_SRC_FLEET : srcs[(unsigned)rand_r(&seed) % 3];
		}
		clear_lists();
		prime(BF_LIST_BL);
		prime(BF_LIST_WL);
		run_ops(ops, n);
		a = snapshot(&na);
		memcpy(counts_a, H.maps.plen_count, sizeof(counts_a));

		clear_lists();
		prime(BF_LIST_BL);
		prime(BF_LIST_WL);
		H.maps.batch = NULL; /* every put the long way */
		run_ops(ops, n);
		H.maps.batch = batch;
		b = snapshot(&nb);
		memcpy(counts_b, H.maps.plen_count, sizeof(counts_b));

		assert_true(na > 100);
		assert_int_equal(na, nb);
		for (size_t i = 0; i < na; i++)
			if (memcmp(&a[i], &b[i], sizeof(a[i]))) {
				char s[BF_CIDR_STRLEN];
				struct bf_cidr c = { .addr = a[i].k.addr, .plen = (uint8_t)a[i].k.plen };

				fail_msg("round %d: %s differs: batch src %u exp %llu, one by one src %u "
					 "exp %llu",
					 round, bf_cidr_str(&c, s), a[i].v.src,
					 (unsigned long long)a[i].v.expires_ns, b[i].v.src,
					 (unsigned long long)b[i].v.expires_ns);
			}
		assert_memory_equal(counts_a, counts_b, sizeof(counts_a));
		free(a);
		free(b);
		free(ops);
	}
	clear_lists();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_list_batch__writer_loaded),
		cmocka_unit_test(test_list_batch__results_and_merge),
		cmocka_unit_test(test_list_batch__writer_refuses_bad_entries),
		cmocka_unit_test(test_list_batch__queue_order),
		cmocka_unit_test(test_list_batch__fallback_loses_nothing),
		cmocka_unit_test(test_list_batch__same_as_one_by_one),
	};

	if (geteuid() != 0) {
		fprintf(stderr, "test_edge_list_batch needs root (BPF and network namespaces)\n");
		return 1;
	}
	return cmocka_run_group_tests_name("edge_list_batch", tests, tables_setup, tables_teardown);
}
