/* edge_maps.h - the edge program's maps. All are pinned by name under
 * /sys/fs/bpf/bifrost/<ifname>/ so a restarted daemon re-uses them. */
#ifndef BF_EDGE_MAPS_H
#define BF_EDGE_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "../bifrost.h"

#ifndef BF_BLACKLIST_MAX
#define BF_BLACKLIST_MAX (1 << 20)
#endif

/* 0 -> bf_config: runtime settings of this POP. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bf_config);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} bf_config SEC(".maps");

/* reason -> per-CPU packets/bytes: one slot per enum bf_reason (and spare
 * slots for reasons yet to come). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, BF_R_SLOTS);
	__type(key, __u32);
	__type(value, struct bf_counter);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} bf_stats SEC(".maps");

/* (proto, bind ip, bind port) -> machine, per-source limits: the published
 * connections. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct bf_conn_key);
	__type(value, struct bf_conn_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} bf_conns SEC(".maps");

/* (machine, bind ip, reply port, proto) -> bind port: recognises a
 * connection's replies on the return path (no punch for those). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct bf_rev_key);
	__type(value, struct bf_rev_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} bf_conn_rev SEC(".maps");

/* (machine, bind ip) -> connection count: what a machine may send from. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, struct bf_served_key);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} bf_served SEC(".maps");

/* ifindex -> its MAC, written by user space at attach: a frame the edge would send
 * on must have been addressed to the interface it came in on (lib: frame_for_us). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, BF_IFACES_MAX);
	__type(key, __u32);
	__type(value, struct bf_iface);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} bf_ifaces SEC(".maps");

/* machine ip -> bf_machine: IPIP from these, on the interface the route to
 * them leaves by, to the backend address, is the return path. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, BF_MACHINES_MAX);
	__type(key, __be32);
	__type(value, struct bf_machine);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} bf_machines SEC(".maps");

/* machine slot -> live punches of that machine (see struct bf_machine).
 * Mmapable: user space decrements it with atomics, like XDP increments it. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, BF_MACHINES_MAX);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} bf_punch_quota SEC(".maps");

/* ip -> bf_dest: every address this POP answers for, bind addresses of
 * connections and the host's own; all else is dropped at once. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __be32);
	__type(value, struct bf_dest);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} bf_dests SEC(".maps");

/* Open ports of each bind address (bifrost.h, BF_PORT_SLOTS): XDP sets a punch's bit
 * when it learns it; user space writes the rest and rebuilds the whole. Mmapable: both
 * sides change words with atomics. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, BF_PORT_SLOTS * 2 * BF_PORT_WORDS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} bf_port_open SEC(".maps");

/* (plen, masked addr) -> expiry: whitelisted source CIDRs. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct bf_cidr_key);
	__type(value, struct bf_list_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} bf_whitelist SEC(".maps");

/* (plen, masked addr) -> expiry: blacklisted source CIDRs. A hash per
 * entry rather than an LPM trie: cost is one lookup per prefix length in
 * use, whatever the number of entries (docs/BENCHMARKS.md). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, BF_BLACKLIST_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct bf_cidr_key);
	__type(value, struct bf_list_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} bf_blacklist SEC(".maps");

/* source ip -> expiry: sources blocked for a while. XDP adds the ones over a
 * connection's limit (lib/ratelimit.h); reason = BF_LIMIT_*. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 262144);
	__type(key, __be32);
	__type(value, struct bf_list_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} bf_blocklist SEC(".maps");

/* (proto, bind ip:port, remote ip:port) -> machine + expiry: port punches,
 * flows a game server opened to a remote. Not an LRU: an LRU would evict
 * punches that carry traffic to make room for a burst of new ones. Each
 * machine has a budget (bf_punch_quota); when the table is full, new
 * punches are refused and counted, live ones stay. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 262144);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct bf_punch_key);
	__type(value, struct bf_punch_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} bf_punches SEC(".maps");

/* struct bf_event records for user space (new punches, neighbour misses, bans). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} bf_events SEC(".maps");

/* 0 -> last neighbour-miss report (ns), per CPU: bounds those events. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} bf_neigh_rl SEC(".maps");

/* (plen, masked addr) -> bf_list_val: protected sources (POPs, game
 * machines, Redis, BGP peers, management). No list, limit or rule drops them. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct bf_cidr_key);
	__type(value, struct bf_list_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} bf_protected SEC(".maps");

/* (source, proto) -> GCRA state: the per-source limits of the connections.
 * LRU: a flood of new sources evicts the idle ones, never fails. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 262144);
	__type(key, struct bf_rl_key);
	__type(value, struct bf_rl_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} bf_ratelimit SEC(".maps");

/* (client, connection) -> bf_valid_val: clients that completed a game's handshake
 * (lib/validate.h), seen here on the return path or validated at a peer. Not an LRU:
 * a flood must not evict players; each origin's share is capped by user space
 * (max_per_origin valid), and a new validation when it is full is counted. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, BF_VALID_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct bf_rl_key);
	__type(value, struct bf_valid_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} bf_valid SEC(".maps");
/* (source, connection) -> GCRA state of an unvalidated source's handshake budget.
 * LRU: a flood of new sources evicts idle states, never fails. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 262144);
	__type(key, struct bf_rl_key);
	__type(value, struct bf_rl_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} bf_hs_src SEC(".maps");
/* connection -> per-CPU GCRA times of this CPU's share of the connection's budgets of
 * handshake and query packets from unvalidated sources. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct bf_conn_key);
	__type(value, struct bf_hs_budget);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} bf_hs_conn SEC(".maps");
/* ((half * BF_RULE_CLASSES + class) * BF_RULES_MAX + position) -> bf_rule:
 * the firewall rules, double-buffered; bf_config says which half is live and
 * how long each list is. A rule without a protocol is in every class. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2 * BF_RULE_CLASSES * BF_RULES_MAX);
	__type(key, __u32);
	__type(value, struct bf_rule);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} bf_rules SEC(".maps");

/* (half * BF_RULE_CLASSES + class) -> the port index's rules of any port (bifrost.h):
 * written with the half's rules, before the flip. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2 * BF_RULE_CLASSES);
	__type(key, __u32);
	__type(value, struct bf_rule_idx);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} bf_rule_idx SEC(".maps");

/* (half, class, destination port) -> positions of the rules naming that port. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 2 * 2 * BF_RULES_MAX * 4);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct bf_rule_port_key);
	__type(value, struct bf_rule_port_list);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} bf_rule_ports SEC(".maps");

/* rule slot -> per-CPU packets/bytes the rule matched (for a dry-run drop
 * rule: would have dropped). A rule keeps its slot while its id stays. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, BF_RULE_SLOTS);
	__type(key, __u32);
	__type(value, struct bf_counter);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} bf_rule_stats SEC(".maps");

/* rule slot -> rate estimate of the rule's traffic, shared by all CPUs (a
 * per-CPU estimate would see 1/ncpu of a flood spread by RSS). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, BF_RULE_SLOTS);
	__type(key, __u32);
	__type(value, struct bf_rule_rate);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} bf_rule_rates SEC(".maps");

/* 0 -> GCRA time of this CPU's share of the global ICMP echo limit. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} bf_echo_rl SEC(".maps");

/* xsk_base + rx queue -> AF_XDP socket of the A2S worker of that queue
 * (lib/a2s.h). Not pinned: the sockets die with the daemon, and a stale
 * entry cannot outlive them (the kernel removes a closed socket). One map
 * shared by every interface's program (edge/loader.c reuses the fd). */
struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, BF_XSK_SLOTS);
	__type(key, __u32);
	__type(value, __u32);
} bf_xsks SEC(".maps");

#endif /* BF_EDGE_MAPS_H */
