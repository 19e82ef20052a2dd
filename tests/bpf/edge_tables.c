/* edge_tables.c - the fixture of the edge's BPF tables (edge_tables.h). */
#include <bpf/bpf.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <netinet/in.h>

#include "edge_tables.h"

#define CONF_IFACES "iface t0\niface t2\niface t4\n"

const uint8_t GW_MAC[6] = H_GW_MAC;
const uint8_t BK_MAC[6] = H_GW_T2_MAC;

struct bf_cidr cidr(const char *s)
{
	struct bf_cidr c;

	if (bf_parse_cidr(s, false, &c))
		abort();
	return c;
}

void config_maps(int dry_run)
{
	config_text(CONF_BACKENDS, dry_run);
}

void config_text(const char *more, int dry_run)
{
	size_t len = strlen(more) + 2048;
	char *text = malloc(len);

	assert_non_null(text);
	snprintf(text, len,
		 "id test\n" CONF_IFACES "addr " EDGE_ADDR "\n"
		 "conn udp " ANY_A ":27015 " MACH_A "\n"
		 "conn tcp " ANY_A ":27015 " MACH_A ":27016\n"
		 "conn udp " ANY_B ":27015 " MACH_B "\n"
		 "conn udp " ANY_BIG ":27015 " MACH_BIG "\n"
		 "conn udp " ANY_NN ":27015 " MACH_NN "\n"
		 "whitelist 198.51.100.0/28\n"
		 "blacklist 198.51.100.0/29\n"
		 "blacklist 198.19.1.0/24\n"
		 "blacklist 198.19.9.9/32\n"
		 "dry_run %s\n%s",
		 dry_run ? "yes" : "no", more);
	harness_config(text);
	free(text);
}

int tables_setup(void **state)
{
	struct bf_cidr expired = cidr("198.19.2.0/24");
	struct bf_list_val blk = { .expires_ns = 0 };
	uint32_t blocked = pkt_ip("198.19.3.3");

	if (harness_setup())
		return -1;
	config_maps(0);
	/* An entry whose deadline has passed (1 ns after boot) must not match. */
	if (edge_maps_list_add(&H.maps, BF_LIST_BL, &expired, 1, BF_SRC_LOCAL))
		return -1;
	if (bpf_map_update_elem(H.maps.fd.blocklist, &blocked, &blk, BPF_ANY))
		return -1;
	return 0;
}

int tables_teardown(void **state)
{
	harness_teardown();
	return 0;
}

/* The outer source of what the edge sends its machines: its backend address. */
const char *outer_src = EDGE_ADDR;

/* Checks an encapsulated frame: new Ethernet header, outer IPv4 fields and
 * checksum, and the inner datagram equal to `inner` byte for byte. */
int encap_diff(const struct result *r, const uint8_t *dmac, const uint8_t *smac,
	       const char *machine, const uint8_t *inner, size_t inner_len, int df, char *why,
	       size_t len)
{
	const uint8_t *o = r->out + 14;
	uint32_t src, dst;

#define ENCAP_WANT(cond, ...)                        \
	do {                                         \
		if (!(cond)) {                       \
			snprintf(why, len, __VA_ARGS__); \
			return -1;                   \
		}                                    \
	} while (0)
	ENCAP_WANT(r->out_len == 14 + 20 + inner_len, "out %u bytes, want %zu", r->out_len,
		   14 + 20 + inner_len);
	ENCAP_WANT(!memcmp(r->out, dmac, 6), "wrong destination MAC");
	ENCAP_WANT(!memcmp(r->out + 6, smac, 6), "wrong source MAC");
	ENCAP_WANT(r->out[12] == 0x08 && r->out[13] == 0x00, "not IPv4");
	ENCAP_WANT(o[0] == 0x45, "outer version/IHL 0x%02x", o[0]);
	ENCAP_WANT(o[1] == inner[1], "TOS not copied");
	ENCAP_WANT((size_t)(o[2] << 8 | o[3]) == 20 + inner_len, "outer total length %u",
		   o[2] << 8 | o[3]);
	if (df)
		ENCAP_WANT(o[6] == 0x40 && !o[7] && !(o[4] << 8 | o[5]), "DF not copied or ID set");
	else
		ENCAP_WANT(!(o[6] & 0x40), "DF set, the inner packet had none");
	ENCAP_WANT(o[8] == 64, "outer TTL %u", o[8]);
	ENCAP_WANT(o[9] == IPPROTO_IPIP, "outer protocol %u", o[9]);
	memcpy(&src, o + 12, 4);
	memcpy(&dst, o + 16, 4);
	ENCAP_WANT(src == pkt_ip(outer_src), "outer source");
	ENCAP_WANT(dst == pkt_ip(machine), "outer destination is not %s", machine);
	ENCAP_WANT(pkt_csum(o, 20) == 0, "outer IPv4 checksum wrong");
	ENCAP_WANT(!memcmp(o + 20, inner, inner_len), "inner datagram changed");
#undef ENCAP_WANT
	return 0;
}

void check_encap(const char *name, const struct result *r, const uint8_t *dmac,
		 const uint8_t *smac, const char *machine, const uint8_t *inner, size_t inner_len,
		 int df)
{
	char why[256];

	if (encap_diff(r, dmac, smac, machine, inner, inner_len, df, why, sizeof(why)))
		fail_msg("%s: %s", name, why);
}

struct pkt_spec from_machine(const char *machine)
{
	struct pkt_spec o = { .saddr = pkt_ip(machine), .daddr = pkt_ip(EDGE_ADDR),
			      .frag = 0x4000 };

	memcpy(o.dmac, H.mac, 6);
	memcpy(o.smac, GW_MAC, 6);
	return o;
}

