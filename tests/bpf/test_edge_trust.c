/* test_edge_trust.c - the edge program's trust boundary through
 * bpf_prog_test_run_opts over packet tables: IPIP only from a machine, on the
 * backend interface its route uses, to the backend address; machines whose
 * route moves; punch budgets; peers' punches; checksums; QinQ. Needs root. */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <netinet/in.h>
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
#include "edge_tables.h"

/* ---- the trust boundary of the return path ---- */

static size_t punch_count(void)
{
	struct bf_punch_key *k;
	struct bf_punch_val *v;
	size_t n;

	assert_int_equal(edge_map_dump(H.maps.fd.punches, sizeof(*k), sizeof(*v), (void **)&k,
				       (void **)&v, &n), 0);
	free(k);
	free(v);
	return n;
}

struct ipip_row {
	const char *name;
	const char *outer_src, *outer_dst;
	int *ifindex;          /* the interface it arrives on (in H) */
	int action, reason;
};

/* Every field of an IPIP packet can be forged: only a machine's, arriving on
 * the backend interface its route leaves by, addressed to the backend
 * address, is the return path. A forged one is relayed nowhere and makes no
 * punch, even for a port the attacker names (TCP/22 here). */
static void test_edge_trust__ipip_only_where_it_can_come_from(void **state)
{
	static const struct ipip_row rows[] = {
		{ "machine A on its backend interface", MACH_A, EDGE_ADDR, &H.ifindex, XDP_TX,
		  BF_R_RETURN_PATH },
		{ "machine B on its backend interface", MACH_B, EDGE_ADDR, &H.if_t2, XDP_REDIRECT,
		  BF_R_RETURN_PATH },
		{ "A's source on the uplink", MACH_A, EDGE_ADDR, &H.if_t4, XDP_DROP,
		  BF_R_RETURN_SPOOFED },
		{ "A's source on a backend interface its route does not use", MACH_A, EDGE_ADDR,
		  &H.if_t2, XDP_DROP, BF_R_RETURN_SPOOFED },
		{ "B's source on A's interface", MACH_B, EDGE_ADDR, &H.ifindex, XDP_DROP,
		  BF_R_RETURN_SPOOFED },
		{ "A's source to the anycast address", MACH_A, ANY_A, &H.ifindex, XDP_DROP,
		  BF_R_RETURN_SPOOFED },
		{ "A's source to an interface address", MACH_A, "198.18.6.1", &H.ifindex, XDP_DROP,
		  BF_R_RETURN_SPOOFED },
		{ "A's source to the anycast address on the uplink", MACH_A, ANY_A, &H.if_t4,
		  XDP_DROP, BF_R_RETURN_SPOOFED },
		{ "a stranger to the POP", "198.51.100.99", EDGE_ADDR, &H.if_t4, XDP_DROP,
		  BF_R_IPIP_REFUSED },
		{ "a stranger on a backend interface", "198.18.0.77", EDGE_ADDR, &H.ifindex, XDP_DROP,
		  BF_R_IPIP_REFUSED },
		{ "a stranger to an address not served", "198.51.100.99", "203.0.113.99", &H.if_t4,
		  XDP_DROP, BF_R_IPIP_REFUSED },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct pkt_spec o = from_machine(rows[i].outer_src);
		/* From the bind address, from port 22 that is no connection: a
		 * return path would learn a punch for it. */
		struct pkt_spec in = harness_udp(rows[i].outer_src[7] == '5' ? ANY_B : ANY_A, 22, CLIENT,
					    50000 + (uint16_t)i);
		uint8_t pkt[256], inner[256];
		size_t before = punch_count(), n, ni;
		struct result r;

		in.proto = IPPROTO_TCP;
		o.daddr = pkt_ip(rows[i].outer_dst);
		n = pkt_build_ipip(&o, &in, pkt, sizeof(pkt));
		ni = pkt_build_ip(&in, inner, sizeof(inner));
		harness_run_on(pkt, n, *rows[i].ifindex, &r);
		harness_expect(rows[i].name, &r, rows[i].action, rows[i].reason);
		if (rows[i].action == XDP_DROP) {
			assert_int_equal(r.delta[BF_R_PUNCH_NEW].packets, 0);
			assert_int_equal(punch_count(), before);
		} else {
			assert_int_equal(r.delta[BF_R_PUNCH_NEW].packets, 1);
			assert_int_equal(punch_count(), before + 1);
			assert_int_equal(r.out_len, 14 + ni);
			assert_memory_equal(r.out + 14, inner, ni);
		}
	}
}

/* backend_addr: the machines send to it, it is the outer source of what
 * the edge sends them, and IPIP to the POP's public address is refused. */
static void test_edge_trust__backend_addr(void **state)
{
	struct pkt_spec o = from_machine(MACH_A);
	struct pkt_spec in = harness_udp(ANY_A, 27015, CLIENT, 50000);
	struct pkt_spec s = harness_udp(CLIENT, 50000, ANY_A, 27015);
	uint8_t pkt[256];
	size_t n;
	struct result r;

	config_text(CONF_BACKENDS "backend_addr 198.18.0.1\n", 0);
	n = pkt_build_ipip(&o, &in, pkt, sizeof(pkt));
	harness_run_on(pkt, n, H.ifindex, &r);
	harness_expect("to the public address", &r, XDP_DROP, BF_R_RETURN_SPOOFED);
	o.daddr = pkt_ip("198.18.0.1");
	n = pkt_build_ipip(&o, &in, pkt, sizeof(pkt));
	harness_run_on(pkt, n, H.ifindex, &r);
	harness_expect("to the backend address", &r, XDP_TX, BF_R_RETURN_PATH);
	n = pkt_build(&s, pkt, sizeof(pkt));
	harness_run_on(pkt, n, H.ifindex, &r);
	harness_expect("forward from the backend address", &r, XDP_TX, BF_R_FORWARD);
	outer_src = "198.18.0.1";
	check_encap("forward from the backend address", &r, GW_MAC, H.mac, MACH_A, pkt + 14,
		    n - 14, 1);
	outer_src = EDGE_ADDR;
	config_maps(0);
}

/* A machine is accepted only on a backend interface its route leaves by;
 * when the route moves, the edge follows within a refresh. */
static void test_edge_trust__machine_route_follows(void **state)
{
	struct pkt_spec o = from_machine(MACH_A);
	struct pkt_spec in = harness_udp(ANY_A, 27015, CLIENT, 50000);
	uint8_t pkt[256];
	size_t n = pkt_build_ipip(&o, &in, pkt, sizeof(pkt));
	uint32_t a = pkt_ip(MACH_A);
	struct bf_machine m;
	struct result r;

	/* Only t2 is a backend interface: A (routed by t0) is refused everywhere. */
	config_text("backend_iface t2\n", 0);
	assert_int_equal(bpf_map_lookup_elem(H.maps.fd.machines, &a, &m), 0);
	assert_int_equal(m.ifindex, 0);
	harness_run_on(pkt, n, H.ifindex, &r);
	harness_expect("route not by a backend interface", &r, XDP_DROP, BF_R_RETURN_SPOOFED);
	config_maps(0);

	/* The route to A moves to t2: the return path follows it. */
	harness_sh("ip route add %s/32 via 198.18.6.2 dev t2", MACH_A);
	assert_int_equal(edge_machines_refresh(&H.maps.mach), 1);
	harness_run_on(pkt, n, H.ifindex, &r);
	harness_expect("old interface after the move", &r, XDP_DROP, BF_R_RETURN_SPOOFED);
	harness_run_on(pkt, n, H.if_t2, &r);
	harness_expect("new interface after the move", &r, XDP_REDIRECT, BF_R_RETURN_PATH);
	harness_sh("ip route del %s/32", MACH_A);
	assert_int_equal(edge_machines_refresh(&H.maps.mach), 1);
	harness_run_on(pkt, n, H.ifindex, &r);
	harness_expect("back on t0", &r, XDP_TX, BF_R_RETURN_PATH);
}

/* Each machine has a budget of live punches: past it, new punches are
 * refused (the game server's packets still go out) and the ones carrying
 * traffic stay; an expired one gives its room back. */
static void test_edge_trust__punch_budget(void **state)
{
	struct pkt_spec o = from_machine(MACH_B);
	struct result r;
	struct bf_punch_key k0;
	struct bf_punch_val v;
	struct edge_sweep_stats st;
	uint8_t pkt[256], text[128];
	uint64_t base = edge_machine_punches(&H.maps.mach, pkt_ip(MACH_B));
	size_t n;

	/* Room for three more than B holds from the tests before. */
	snprintf((char *)text, sizeof(text), CONF_BACKENDS "punch_max_per_machine %llu\n",
		 (unsigned long long)base + 3);
	config_text((char *)text, 0);
	for (uint16_t i = 0; i < 5; i++) {
		struct pkt_spec out = harness_udp(ANY_B, 41000 + i, REMOTE, 5000);

		n = pkt_build_ipip(&o, &out, pkt, sizeof(pkt));
		harness_run_on(pkt, n, H.if_t2, &r);
		harness_expect("game server calls out", &r, XDP_REDIRECT, BF_R_RETURN_PATH);
		assert_int_equal(r.delta[BF_R_PUNCH_NEW].packets, i < 3);
		assert_int_equal(r.delta[BF_R_PUNCH_REFUSED].packets, i >= 3);
	}
	assert_int_equal(edge_machine_punches(&H.maps.mach, pkt_ip(MACH_B)), base + 3);
	/* A refused flow has no hole; a counted one has. */
	{
		struct pkt_spec in = harness_udp(REMOTE, 5000, ANY_B, 41004);

		n = pkt_build(&in, pkt, sizeof(pkt));
		harness_run_on(pkt, n, H.ifindex, &r);
		harness_expect("reply to a refused punch", &r, XDP_DROP, BF_R_DEFAULT_DROP);
		in.dport = 41000;
		n = pkt_build(&in, pkt, sizeof(pkt));
		harness_run_on(pkt, n, H.ifindex, &r);
		harness_expect("reply to a live punch", &r, XDP_REDIRECT, BF_R_PUNCH_HIT);
	}
	/* Peers' punches count against the same budget. */
	k0 = (struct bf_punch_key){ .bind_ip = pkt_ip(ANY_B), .remote_ip = pkt_ip(REMOTE),
				    .bind_port = htons(41000), .remote_port = htons(5000),
				    .proto = IPPROTO_UDP };
	{
		struct bf_punch_key k = k0;

		k.bind_port = htons(42000);
		assert_int_equal(edge_punch_put(&H.maps.mach, &k, pkt_ip(MACH_B), bf_mono_ns() + 60e9),
				 -EDQUOT);
		/* One expires and is swept: room for one more. */
		assert_int_equal(bpf_map_lookup_elem(H.maps.fd.punches, &k0, &v), 0);
		v.expires_ns = 1;
		assert_int_equal(bpf_map_update_elem(H.maps.fd.punches, &k0, &v, BPF_EXIST), 0);
		assert_int_equal(edge_maps_sweep(&H.maps, bf_mono_ns(), &st), 0);
		assert_true(st.punches >= 1);
		assert_int_equal(edge_machine_punches(&H.maps.mach, pkt_ip(MACH_B)), base + 2);
		assert_int_equal(edge_punch_put(&H.maps.mach, &k, pkt_ip(MACH_B), bf_mono_ns() + 60e9),
				 0);
		assert_int_equal(edge_machine_punches(&H.maps.mach, pkt_ip(MACH_B)), base + 3);
		assert_int_equal(edge_punch_del(&H.maps.mach, &k), 0);
		assert_int_equal(edge_machine_punches(&H.maps.mach, pkt_ip(MACH_B)), base + 2);
	}
	config_maps(0);
}

/* A peer's punch (from Redis, writable by whoever reaches it) must name one
 * of this POP's machines, serving the punch's bind address. */
static void test_edge_trust__peer_punch_must_name_a_machine(void **state)
{
	struct bf_punch_key k = { .bind_ip = pkt_ip(ANY_A), .remote_ip = pkt_ip(REMOTE),
				  .bind_port = htons(22), .remote_port = htons(6000),
				  .proto = IPPROTO_TCP };
	struct pkt_spec in = harness_udp(REMOTE, 6000, ANY_A, 22);
	uint64_t exp = bf_mono_ns() + 60000000000ULL, unknown = H.maps.mach.refused_unknown,
		 served = H.maps.mach.refused_served;
	struct bf_punch_val v;
	uint8_t pkt[256];
	struct result r;

	in.proto = IPPROTO_TCP;
	assert_int_equal(edge_punch_put(&H.maps.mach, &k, pkt_ip("198.51.100.66"), exp), -ENOENT);
	assert_int_equal(H.maps.mach.refused_unknown, unknown + 1);
	assert_int_equal(edge_punch_put(&H.maps.mach, &k, pkt_ip(MACH_B), exp), -EPERM);
	assert_int_equal(H.maps.mach.refused_served, served + 1);
	assert_int_not_equal(bpf_map_lookup_elem(H.maps.fd.punches, &k, &v), 0);
	harness_run_on(pkt, pkt_build(&in, pkt, sizeof(pkt)), H.ifindex, &r);
	harness_expect("no hole from a refused peer punch", &r, XDP_DROP, BF_R_DEFAULT_DROP);
	assert_int_equal(edge_punch_put(&H.maps.mach, &k, pkt_ip(MACH_A), exp), 0);
	harness_run_on(pkt, pkt_build(&in, pkt, sizeof(pkt)), H.ifindex, &r);
	harness_expect("a valid peer punch", &r, XDP_TX, BF_R_PUNCH_HIT);
	assert_int_equal(edge_punch_del(&H.maps.mach, &k), 0);
}

/* ---- checksums and tags: nothing forwarded that the receiver would refuse ---- */

static void test_edge_trust__ipv4_checksum(void **state)
{
	struct pkt_spec s = harness_udp(CLIENT, 50000, ANY_A, 27015);
	uint8_t pkt[256];
	size_t n;
	struct result r;

	n = pkt_build(&s, pkt, sizeof(pkt));
	pkt[14 + 10] ^= 0x01;
	harness_run_on(pkt, n, H.ifindex, &r);
	harness_expect("bad header checksum to a connection", &r, XDP_DROP, BF_R_BAD_CSUM);
	s.saddr = pkt_ip(WL_CLIENT);
	n = pkt_build(&s, pkt, sizeof(pkt));
	pkt[14 + 11] ^= 0x80;
	harness_run_on(pkt, n, H.ifindex, &r);
	harness_expect("bad header checksum, whitelisted", &r, XDP_DROP, BF_R_BAD_CSUM);
	s.saddr = pkt_ip(CLIENT);
	s.opt_words = 2;
	n = pkt_build(&s, pkt, sizeof(pkt));
	pkt[14 + 20] = 0x02; /* an option byte changed: the sum no longer holds */
	harness_run_on(pkt, n, H.ifindex, &r);
	harness_expect("bad checksum over options", &r, XDP_DROP, BF_R_BAD_CSUM);
	n = pkt_build(&s, pkt, sizeof(pkt));
	harness_run_on(pkt, n, H.ifindex, &r);
	harness_expect("good checksum over options", &r, XDP_TX, BF_R_FORWARD);
	/* A drop needs no checksum: the cheap verdict stays the verdict. */
	s = harness_udp(CLIENT, 50000, "203.0.113.99", 27015);
	n = pkt_build(&s, pkt, sizeof(pkt));
	pkt[14 + 10] ^= 0x01;
	harness_run_on(pkt, n, H.ifindex, &r);
	harness_expect("bad checksum, address not served", &r, XDP_DROP, BF_R_DEFAULT_DROP);
}

/* QinQ (802.1ad + 802.1Q) is parsed like one tag; a third tag is malformed:
 * no tag may hide an IPv4 packet from the filters. */
static void test_edge_trust__qinq(void **state)
{
	struct pkt_spec s = harness_udp(CLIENT, 50000, ANY_A, 27015);
	uint8_t one[256], pkt[256];
	size_t n = pkt_build(&s, one, sizeof(one));
	struct result r;

	/* [dst src][88a8 tci][8100 tci][0800][ip] */
	memcpy(pkt, one, 12);
	memcpy(pkt + 12, "\x88\xa8\x00\x64\x81\x00\x00\x2a", 8);
	memcpy(pkt + 20, one + 12, n - 12);
	harness_run_on(pkt, n + 8, H.ifindex, &r);
	harness_expect("qinq forward", &r, XDP_TX, BF_R_FORWARD);
	check_encap("qinq forward", &r, GW_MAC, H.mac, MACH_A, one + 14, n - 14, 1);

	s.saddr = pkt_ip("198.19.9.9"); /* blacklisted */
	n = pkt_build(&s, one, sizeof(one));
	memcpy(pkt + 20, one + 12, n - 12);
	harness_run_on(pkt, n + 8, H.ifindex, &r);
	harness_expect("qinq from a blacklisted source", &r, XDP_DROP, BF_R_BLACKLIST);

	/* three tags */
	memcpy(pkt, one, 12);
	memcpy(pkt + 12, "\x88\xa8\x00\x64\x81\x00\x00\x2a\x81\x00\x00\x2b", 12);
	memcpy(pkt + 24, one + 12, n - 12);
	harness_run_on(pkt, n + 12, H.ifindex, &r);
	harness_expect("three tags", &r, XDP_DROP, BF_R_MALFORMED);
	/* two tags, then something that is not IPv4: still passed (ARP in QinQ) */
	memcpy(pkt + 12, "\x88\xa8\x00\x64\x81\x00\x00\x2a\x08\x06", 10);
	harness_run_on(pkt, 64, H.ifindex, &r);
	harness_expect("arp in qinq", &r, XDP_PASS, BF_R_NON_IPV4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_edge_trust__ipip_only_where_it_can_come_from),
		cmocka_unit_test(test_edge_trust__backend_addr),
		cmocka_unit_test(test_edge_trust__machine_route_follows),
		cmocka_unit_test(test_edge_trust__punch_budget),
		cmocka_unit_test(test_edge_trust__peer_punch_must_name_a_machine),
		cmocka_unit_test(test_edge_trust__ipv4_checksum),
		cmocka_unit_test(test_edge_trust__qinq),
	};

	if (geteuid() != 0) {
		fprintf(stderr, "test_edge_trust needs root (BPF and network namespaces)\n");
		return 1;
	}
	return cmocka_run_group_tests_name("edge_trust", tests, tables_setup, tables_teardown);
}
