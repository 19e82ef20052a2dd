/* test_edge_ports.c - closed ports (bpf/lib/ports.h, edge/ports.c): a packet for
 * a port of a bind address that nothing opens is dropped right after the
 * whitelist as default_drop; connections, punches (learned by XDP, put by user
 * space) and rules open ports; a rebuild closes what nothing holds open any
 * more; bind addresses past the slots go the whole way; a restart keeps the
 * slots. Every case through the real program (bpf_prog_test_run_opts). */
#include <arpa/inet.h>
#include <bpf/bpf.h>
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
#include "../../sync/clock.h"
#include "edge_tables.h"

#define BANNED "198.19.9.9" /* in the fixture's blacklist */

static void send_pkt(const char *src, const char *dst, uint16_t dport, uint8_t proto,
		 struct result *r)
{
	struct pkt_spec s = harness_udp(src, 5000, dst, dport);
	uint8_t pkt[256];
	size_t n;

	s.proto = proto;
	if (proto == IPPROTO_TCP)
		s.tcp_flags = 0x02;
	n = pkt_build(&s, pkt, sizeof(pkt));
	harness_run_on(pkt, n, H.ifindex, r);
}

static void expect(const char *what, const char *src, const char *dst, uint16_t dport,
		   uint8_t proto, int action, int reason)
{
	struct result r;

	send_pkt(src, dst, dport, proto, &r);
	harness_expect(what, &r, action, reason);
}

static uint32_t slot_of(const char *addr)
{
	uint32_t ip = pkt_ip(addr);
	struct bf_dest d;

	if (bpf_map_lookup_elem(H.maps.fd.dests, &ip, &d))
		return 0;
	return d.flags >> BF_DEST_SLOT_SHIFT;
}

static int bit(const char *addr, uint8_t proto, uint16_t port)
{
	uint32_t s = slot_of(addr);

	assert_true(s > 0);
	return !!(H.maps.ports.open[bf_port_word(s, proto == IPPROTO_TCP, port)] &
		  (1ULL << (port & 63)));
}

static void rebuild(void)
{
	assert_int_equal(edge_ports_rebuild(&H.maps.ports, &H.maps.conf,
					    1u << (H.maps.conf.rules_active & 1), NULL, 0),
			 0);
}

static void test_ports__closed_port_before_the_lists(void **state)
{
	config_maps(0);
	assert_non_null(H.maps.ports.open);
	assert_true(slot_of(ANY_A) > 0);
	assert_int_not_equal(slot_of(ANY_A), slot_of(ANY_B));
	assert_true(bit(ANY_A, IPPROTO_UDP, 27015));
	assert_true(bit(ANY_A, IPPROTO_TCP, 27015));
	assert_false(bit(ANY_A, IPPROTO_UDP, 27016));
	assert_false(bit(ANY_B, IPPROTO_TCP, 27015)); /* B has UDP only */

	/* A banned source: at a closed port the port decides, at an open one the list. */
	expect("banned, closed udp port", BANNED, ANY_A, 27016, IPPROTO_UDP, XDP_DROP,
	       BF_R_DEFAULT_DROP);
	expect("banned, open udp port", BANNED, ANY_A, 27015, IPPROTO_UDP, XDP_DROP,
	       BF_R_BLACKLIST);
	expect("banned, tcp where only udp is open", BANNED, ANY_B, 27015, IPPROTO_TCP, XDP_DROP,
	       BF_R_DEFAULT_DROP);
	expect("banned, open tcp port", BANNED, ANY_A, 27015, IPPROTO_TCP, XDP_DROP,
	       BF_R_BLACKLIST);
	/* The whitelist comes first: a closed port changes nothing for it. */
	expect("whitelisted, closed port", WL_CLIENT, ANY_A, 9999, IPPROTO_UDP, XDP_TX,
	       BF_R_WHITELIST);
	/* This host's own addresses have no slot: everything there goes the whole way. */
	assert_int_equal(slot_of(EDGE_ADDR), 0);
	expect("banned, the POP's address", BANNED, EDGE_ADDR, 22, IPPROTO_TCP, XDP_DROP,
	       BF_R_BLACKLIST);
	expect("client, the POP's address", CLIENT, EDGE_ADDR, 22, IPPROTO_TCP, XDP_PASS,
	       BF_R_LOCAL);
	expect("client, an open port", CLIENT, ANY_A, 27015, IPPROTO_UDP, XDP_TX, BF_R_FORWARD);
	/* ICMP never looks at ports. */
	{
		struct pkt_spec s = harness_udp(BANNED, 0, ANY_A, 0);
		uint8_t pkt[256];
		struct result r;
		size_t n;

		s.proto = IPPROTO_ICMP; /* an echo request */
		n = pkt_build(&s, pkt, sizeof(pkt));
		harness_run_on(pkt, n, H.ifindex, &r);
		harness_expect("banned, icmp", &r, XDP_DROP, BF_R_BLACKLIST);
	}
}

static void test_ports__punches_open_ports(void **state)
{
	struct bf_punch_key k = { .bind_ip = pkt_ip(ANY_B), .remote_ip = pkt_ip(REMOTE),
				  .bind_port = htons(41000), .remote_port = htons(5000),
				  .proto = IPPROTO_UDP };
	struct result r;

	config_maps(0);
	assert_false(bit(ANY_B, IPPROTO_UDP, 41000));
	/* A peer's punch user space puts opens its port... */
	assert_int_equal(edge_punch_put(&H.maps.mach, &k, pkt_ip(MACH_B),
					bf_mono_ns() + 60ULL * 1000000000ULL),
			 0);
	assert_true(bit(ANY_B, IPPROTO_UDP, 41000));
	send_pkt(REMOTE, ANY_B, 41000, IPPROTO_UDP, &r);
	harness_expect("the punch's remote", &r, XDP_REDIRECT, BF_R_PUNCH_HIT);
	/* ...for every source: the lists decide again. */
	expect("banned, a punched port", BANNED, ANY_B, 41000, IPPROTO_UDP, XDP_DROP,
	       BF_R_BLACKLIST);
	/* A rebuild keeps a live punch's port open; once the punch is gone it closes. */
	rebuild();
	assert_true(bit(ANY_B, IPPROTO_UDP, 41000));
	assert_int_equal(edge_punch_del(&H.maps.mach, &k), 0);
	assert_true(bit(ANY_B, IPPROTO_UDP, 41000)); /* until the next rebuild */
	rebuild();
	assert_false(bit(ANY_B, IPPROTO_UDP, 41000));
	expect("banned, the punch gone", BANNED, ANY_B, 41000, IPPROTO_UDP, XDP_DROP,
	       BF_R_DEFAULT_DROP);

	/* XDP opens the port of a punch it learns (the game server calls out). */
	{
		struct pkt_spec o = from_machine(MACH_A);
		struct pkt_spec out = harness_udp(ANY_A, 42000, REMOTE, 5000);
		uint8_t pkt[256];
		size_t n;

		assert_false(bit(ANY_A, IPPROTO_UDP, 42000));
		n = pkt_build_ipip(&o, &out, pkt, sizeof(pkt));
		harness_run_on(pkt, n, H.ifindex, &r);
		harness_expect("game server calls out", &r, XDP_TX, BF_R_RETURN_PATH);
		assert_int_equal(r.delta[BF_R_PUNCH_NEW].packets, 1);
		assert_true(bit(ANY_A, IPPROTO_UDP, 42000));
		send_pkt(REMOTE, ANY_A, 42000, IPPROTO_UDP, &r);
		r.delta[BF_R_PUNCH_NEW].packets = 0;
		harness_expect("its remote answers", &r, XDP_TX, BF_R_PUNCH_HIT);
	}
}

static void test_ports__rules_open_ports(void **state)
{
	struct result r;

	config_text(CONF_BACKENDS "rule 5 action drop proto udp dport 5000-5010\n"
				  "rule 6 action drop proto tcp ttl 1\n",
		    0);
	assert_true(bit(ANY_A, IPPROTO_UDP, 5000) && bit(ANY_A, IPPROTO_UDP, 5010));
	assert_false(bit(ANY_A, IPPROTO_UDP, 5011));
	assert_true(bit(ANY_B, IPPROTO_UDP, 5005)); /* every bind address */
	send_pkt(CLIENT, ANY_A, 5005, IPPROTO_UDP, &r);
	harness_expect("a rule's port: the rule drops it", &r, XDP_DROP, BF_R_RULE_DROP);
	expect("next to the rule's range", CLIENT, ANY_A, 5011, IPPROTO_UDP, XDP_DROP,
	       BF_R_DEFAULT_DROP);
	expect("banned, a rule's port: the list first", BANNED, ANY_A, 5005, IPPROTO_UDP, XDP_DROP,
	       BF_R_BLACKLIST);
	/* A TCP rule without a port: every TCP port goes the whole way, UDP's do not. */
	assert_true(bit(ANY_B, IPPROTO_TCP, 4444) && bit(ANY_B, IPPROTO_TCP, 65535));
	expect("banned, any tcp port", BANNED, ANY_B, 4444, IPPROTO_TCP, XDP_DROP, BF_R_BLACKLIST);
	expect("banned, a closed udp port", BANNED, ANY_B, 4444, IPPROTO_UDP, XDP_DROP,
	       BF_R_DEFAULT_DROP);
	/* The rules gone, their ports close. */
	config_maps(0);
	assert_false(bit(ANY_A, IPPROTO_UDP, 5005));
	assert_false(bit(ANY_B, IPPROTO_TCP, 4444));
	expect("banned, tcp, no rule any more", BANNED, ANY_B, 4444, IPPROTO_TCP, XDP_DROP,
	       BF_R_DEFAULT_DROP);
}

/* More bind addresses than slots: the rest go the whole way (verdicts as ever); a
 * restart takes the slots the maps carry; a removed address's slot is not reused by
 * the apply that freed it. */
#define N_ADDR 300

static void addr_n(int i, char *a, size_t n)
{
	snprintf(a, n, "203.0.%d.%d", 114 + i / 200, i % 200);
}

static void test_ports__slots(void **state)
{
	size_t len = 64 * 1024, off = 0;
	char *more = malloc(len), a[32], past[32] = "";
	struct edge_maps again;
	uint32_t with = 0, cooling = 0;

	assert_non_null(more);
	off += (size_t)snprintf(more + off, len - off, "%s", CONF_BACKENDS);
	for (int i = 0; i < N_ADDR; i++) {
		addr_n(i, a, sizeof(a));
		off += (size_t)snprintf(more + off, len - off, "conn udp %s:27015 " MACH_A "\n", a);
	}
	config_text(more, 0);
	for (int i = 0; i < N_ADDR; i++) {
		addr_n(i, a, sizeof(a));
		if (slot_of(a))
			with++;
		else if (!past[0])
			snprintf(past, sizeof(past), "%s", a);
	}
	/* Every slot is taken (the fixture's 4 bind addresses hold theirs too). */
	assert_int_equal(with + 4, BF_PORT_SLOTS - 1);
	assert_true(past[0]);
	expect("banned, closed port, an address without a slot", BANNED, past, 9, IPPROTO_UDP,
	       XDP_DROP, BF_R_BLACKLIST);
	expect("client, open port, an address without a slot", CLIENT, past, 27015, IPPROTO_UDP,
	       XDP_TX, BF_R_FORWARD);
	addr_n(0, a, sizeof(a));
	expect("banned, closed port, an address with one", BANNED, a, 9, IPPROTO_UDP, XDP_DROP,
	       BF_R_DEFAULT_DROP);

	/* A restart: the slots are read back from bf_dests. */
	assert_int_equal(edge_maps_init(&again, &H.maps.fd), 0);
	assert_memory_equal(again.ports.slot_ip, H.maps.ports.slot_ip, sizeof(again.ports.slot_ip));

	/* Back to the fixture: the freed slots cool for one apply, then are free. */
	config_maps(0);
	for (uint32_t s = 1; s < BF_PORT_SLOTS; s++)
		cooling += H.maps.ports.cooling[s];
	assert_int_equal(cooling, with);
	expect("banned, a closed port of A again", BANNED, ANY_A, 27016, IPPROTO_UDP, XDP_DROP,
	       BF_R_DEFAULT_DROP);
	config_maps(0);
	cooling = 0;
	for (uint32_t s = 1; s < BF_PORT_SLOTS; s++)
		cooling += H.maps.ports.cooling[s];
	assert_int_equal(cooling, 0);
	free(more);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ports__closed_port_before_the_lists),
		cmocka_unit_test(test_ports__punches_open_ports),
		cmocka_unit_test(test_ports__rules_open_ports),
		cmocka_unit_test(test_ports__slots),
	};

	if (geteuid() != 0) {
		fprintf(stderr, "test_edge_ports needs root (BPF and network namespaces)\n");
		return 1;
	}
	return cmocka_run_group_tests_name("edge_ports", tests, tables_setup, tables_teardown);
}
