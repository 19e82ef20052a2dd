/* bifrost.h - structures and constants shared by the BPF programs and user space. */
#ifndef BIFROST_H
#define BIFROST_H

#include <linux/types.h>

/* Verdict reasons. Each one is a per-CPU counter slot and the `reason` label
 * of the metrics; append only, never renumber (the stats map is pinned). */
enum bf_reason {
	BF_R_MALFORMED = 0,   /* drop: header truncated or inconsistent */
	BF_R_FRAGMENT,        /* drop: IPv4 fragment (game traffic never needs one) */
	BF_R_NON_IPV4,        /* pass: ARP, IPv6, ... */
	BF_R_RETURN_PATH,     /* IPIP from a game machine, decapsulated, sent on */
	BF_R_RETURN_INVALID,  /* drop: IPIP from a machine for an address it does not serve */
	BF_R_WHITELIST,       /* pass: source whitelisted */
	BF_R_BLOCKLIST,       /* drop: source blocked (rate limit) */
	BF_R_BLACKLIST,       /* drop: source blacklisted */
	BF_R_FORWARD,         /* connection: encapsulated to the game machine */
	BF_R_PUNCH_HIT,       /* port punch: encapsulated to the game machine */
	BF_R_LOCAL,           /* pass: to this POP's own address */
	BF_R_DEFAULT_DROP,    /* drop: nothing matched */
	BF_R_NO_ROUTE,        /* drop: FIB lookup failed (no route, forwarding off) */
	BF_R_NO_NEIGH,        /* drop: next hop has no neighbour entry yet */
	BF_R_TOO_BIG,         /* drop: encapsulated packet exceeds the route MTU */
	BF_R_WOULD_DROP,      /* dry run: a drop that was passed instead */
	BF_R_PUNCH_NEW,       /* return path: a port punch was created or refreshed */
	BF_R_RATELIMIT,       /* drop: source over a connection's pps/bps limit */
	BF_R_RULE_DROP,       /* drop: a firewall drop rule matched */
	BF_R_PROTECTED,       /* side count: a protected source spared a list/limit/rule drop */
	BF_R_ICMP_ECHO,       /* echo request to a bind address answered by the edge (XDP_TX) */
	BF_R_ECHO_LIMIT,      /* drop: echo request over the per-source or global echo limit */
	BF_R_RULE_DRY_RUN,    /* side count: a dry-run drop rule matched; the packet went on */
	BF_R_A2S_REDIRECT,    /* A2S request of a cached kind sent to the AF_XDP worker */
	BF_R_RETURN_SPOOFED,  /* drop: IPIP with a machine's source, on the wrong interface or
			       * to the wrong outer destination (docs/ARCHITECTURE.md, trust) */
	BF_R_IPIP_REFUSED,    /* drop: IPIP from an address that is no game machine */
	BF_R_BAD_CSUM,        /* drop: IPv4 header (or echo request ICMP) checksum wrong */
	BF_R_AMPLIFIER,       /* drop: a query its server answers with more bytes than it has */
	BF_R_PUNCH_REFUSED,   /* side count: a punch not made (machine's budget, table full) */
	BF_R_OTHER_HOST,      /* pass: a frame for another host's MAC that the edge would have
			       * sent on (a promiscuous NIC, a switch flooding): left to the
			       * kernel, which drops it */
	BF_R_HANDSHAKE,       /* a handshake or query packet of an unvalidated source, forwarded
			       * (a connection with `validate`; lib/validate.h) */
	BF_R_UNVALIDATED,     /* drop: not a handshake or query packet, from a source the
			       * connection has not validated */
	BF_R_HANDSHAKE_LIMIT, /* drop: an unvalidated source's handshake over the per-source or
			       * the connection's handshake budget */
	BF_R_VALIDATED,       /* side count: the game server completed a client's handshake on
			       * the return path: the client was validated */
	BF_R_VALID_REFUSED,   /* side count: a validation not recorded (table full, ring full) */
	BF_R_MAX,
};

/* bf_stats slots: more than BF_R_MAX so that appending a reason does not
 * change the pinned map's size (which would force a --detach to upgrade). */
#define BF_R_SLOTS 64

#define BF_R_NAMES                                                              \
	"malformed", "fragment", "non_ipv4", "return_path", "return_invalid",  \
	"whitelist", "blocklist", "blacklist", "forward", "punch_hit", "local", \
	"default_drop", "no_route", "no_neigh", "too_big", "would_drop",       \
	"punch_new", "ratelimit", "rule_drop", "protected", "icmp_echo",       \
	"echo_limit", "rule_dry_run", "a2s_redirect", "return_spoofed",        \
	"ipip_refused", "bad_csum", "amplifier", "punch_refused", "other_host", \
	"handshake", "unvalidated", "handshake_limit", "validated", "valid_refused"

/* bf_stats value, one per reason per CPU. */
struct bf_counter {
	__u64 packets;
	__u64 bytes;
};

/* bf_conn_stats value, per CPU: one connection's traffic. "in" is player ->
 * game server (forwarded), "out" the game server's replies recognised on the
 * return path; bytes are the player-side IP packet (no Ethernet, no IPIP). */
struct bf_conn_counter {
	__u64 in_packets;
	__u64 in_bytes;
	__u64 out_packets;
	__u64 out_bytes;
	/* A connection with `validate` (lib/validate.h): handshake or query packets of
	 * unvalidated sources forwarded, packets of unvalidated sources dropped (not a
	 * handshake, or over a handshake budget), clients validated here. */
	__u64 hs_packets;
	__u64 unvalidated;
	__u64 validated;
};

/* bf_ifaces value: an interface the program is attached to, by ifindex. */
struct bf_iface {
	__u8 mac[6];
	__u16 pad;
};
#define BF_IFACES_MAX 64

/* bf_config flags */
#define BF_F_DRY_RUN (1U << 0)
#define BF_F_ICMP_ECHO (1U << 1) /* answer echo requests to bind addresses (lib/icmp.h) */

/* Firewall rules: a double buffer of two halves, each holding one list per
 * protocol class, in priority order (lib/rules.h). */
#define BF_RULES_MAX 1024      /* rules per edge (after scope) */
#define BF_RULE_CLASSES 4      /* UDP, TCP, ICMP, any other protocol */
#define BF_RULE_SLOTS (2 * BF_RULES_MAX) /* counter slots: old and new set may differ entirely */

/* The CIDR lists of sources: each a hash of (prefix length, masked address)
 * probed once per prefix length in use (lib/cidr.h). The index of a list's
 * prefix mask in bf_config; user space's table of lists is edge/lists.c. */
enum bf_list {
	BF_LIST_WL = 0,        /* whitelist: skips every filter */
	BF_LIST_BL,            /* blacklist: operators' and the fleet's bans (CIDR) */
	BF_LIST_PR,            /* protected: never banned */
	BF_LISTS,
};
#define BF_LIST_SLOTS 4        /* bf_config room: a new list does not resize it */

/* bf_config[0]: the POP's runtime settings. Written by bifrost-edge. */
struct bf_config {
	__be32 edge_addr;      /* this POP's own address: management */
	__u32 flags;           /* BF_F_* */
	__u64 plen_mask[BF_LIST_SLOTS]; /* per enum bf_list: bit n set, the list holds a /n entry */
	__u64 punch_ttl_ns;    /* idle lifetime of a port punch */
	__u64 punch_report_ns; /* a live punch is re-reported at most this often */
	__u8 outer_ttl;        /* TTL of the IPIP outer header */
	__u8 rules_active;     /* live half of bf_rules: one byte, so a flip never tears */
	__u8 pad[2];
	__be32 backend_addr;   /* where the machines send IPIP: the only outer destination of
				* the return path, and the outer source of what we send them */
	__u16 rules_n[2][BF_RULE_CLASSES]; /* rules per half and class; written before a flip */
	/* ICMP echo limits as GCRA intervals (0 = none): per source, and each
	 * CPU's share of the global limit. */
	__u64 echo_pkt_ns;
	__u64 echo_burst_ns;
	__u64 echo_cpu_pkt_ns;
	__u64 echo_cpu_burst_ns;
	/* Handshake validation (lib/validate.h): a validated client's idle lifetime, how
	 * often a live one is re-reported to user space (and so to the fleet), and the
	 * handshake budgets of unvalidated sources as GCRA intervals, per source and
	 * each CPU's share of the per-connection one (0 = none). */
	__u64 valid_idle_ns;
	__u64 valid_report_ns;
	__u64 hs_pkt_ns;
	__u64 hs_burst_ns;
	__u64 hs_conn_cpu_pkt_ns;
	__u64 hs_conn_cpu_burst_ns;
};

/* Protocols as used in keys: the IPv4 protocol number. */
#define BF_PROTO_ICMP 1
#define BF_PROTO_TCP 6
#define BF_PROTO_UDP 17

/* bf_conns key: a published service (bind address of the anycast range). */
struct bf_conn_key {
	__be32 bind_ip;
	__be16 bind_port;      /* 0 for ICMP */
	__u8 proto;
	__u8 pad;
};

/* bf_conn_val.flags */
#define BF_CONN_F_SHARE_BANS (1U << 0) /* user space may publish this connection's bans */
/* A2S on and a cached reply of that kind ready: XDP sends such requests to the
 * AF_XDP workers (lib/a2s.h). Set by user space only. */
#define BF_CONN_F_A2S_INFO (1U << 1)
#define BF_CONN_F_A2S_PLAYER (1U << 2)
#define BF_CONN_F_A2S_RULES (1U << 3)
#define BF_CONN_F_A2S_ANY (BF_CONN_F_A2S_INFO | BF_CONN_F_A2S_PLAYER | BF_CONN_F_A2S_RULES)
/* A Source-engine server (the connection has `a2s` on): queries that server
 * would answer with more bytes than they carry are dropped (lib/a2s.h). */
#define BF_CONN_F_SOURCE (1U << 4)
/* Handshake validation (lib/validate.h): only clients that completed the game's
 * handshake on this fleet play; other sources may send only the game's handshake and
 * query packets, within a budget. One module at most. */
#define BF_CONN_F_VALID_SRCDS (1U << 5)  /* Source engine: q/A/k/B, validated on 'B' */
#define BF_CONN_F_VALID_RAKNET (1U << 6) /* RakNet: validated on Open Connection Reply 2 */
#define BF_CONN_F_VALID_ANY (BF_CONN_F_VALID_SRCDS | BF_CONN_F_VALID_RAKNET)
/* What validation made of a packet's source (lib/validate.h). */
enum {
	BF_VS_OFF = 0,       /* the connection validates nothing */
	BF_VS_VALID,         /* a validated client */
	BF_VS_HANDSHAKE,     /* unvalidated: a handshake packet (budgeted) */
	BF_VS_QUERY,         /* unvalidated: a server query (budgeted; A2S ones may be cached) */
};

/* bf_xsks: one slot per (interface, RX queue); interface i of an edge owns
 * slots [i * BF_XSK_QUEUES, (i + 1) * BF_XSK_QUEUES). */
#define BF_XSK_IFACES 8   /* EDGE_MAX_IFACES */
#define BF_XSK_QUEUES 64  /* RX queues served per interface */
#define BF_XSK_SLOTS (BF_XSK_IFACES * BF_XSK_QUEUES)

/* A connection and its per-source limits (lib/ratelimit.h). The limits are
 * kept as configured (for people) and as GCRA intervals (for XDP, which then
 * never divides); an interval of 0 is no limit. */
struct bf_conn_val {
	__be32 machine_ip;     /* game-server machine, IPIP destination */
	__be16 machine_port;   /* 0: same as bind_port */
	__u16 flags;           /* BF_CONN_F_* */
	__u32 pps;             /* packets/s per source, 0 = none */
	__u32 block_ms;        /* a source over a limit is blocked this long; 0 = drop the excess only */
	__u64 bps;             /* bytes/s (IPv4 total length) per source, 0 = none */
	__u64 pkt_ns;          /* 1e9 / pps */
	__u64 byte_ns16;       /* (1e9 << 16) / bps: ns per byte, 16.16 fixed point */
	__u64 burst_ns;        /* GCRA tolerance: how far ahead of its rate a source may run */
};

/* bf_ratelimit key: one GCRA state per source and connection. Each
 * connection's limits hold for each source on their own: a shared state per
 * (source, protocol) would let one packet to a slow-limited service use up
 * the source's budget on a busy game port. Going over any of them blocks
 * the source from everything (bf_blocklist is per source). */
struct bf_rl_key {
	__be32 src;
	__be32 bind_ip;
	__be16 bind_port;      /* 0 for ICMP */
	__u8 proto;
	__u8 pad;
};

struct bf_rl_val {
	__u64 tat_pkt;         /* theoretical arrival time of the next packet (ns) */
	__u64 tat_byte;        /* same, in byte time */
	__u64 blocked_until;   /* end of the current block; set by exactly one CPU */
};

/* Which limit a source tripped: BF_EV_BAN `limit`, bf_list_val.reason of
 * the blocklist entries XDP writes. */
#define BF_LIMIT_PPS 1
#define BF_LIMIT_BPS 2

/* bf_conn_rev key: how a connection's replies look on the return path. */
struct bf_rev_key {
	__be32 machine_ip;
	__be32 bind_ip;
	__be16 port;           /* the port the machine replies from */
	__u8 proto;
	__u8 pad;
};

struct bf_rev_val {
	__be16 bind_port;      /* rewrite the source port to this */
	__u16 flags;           /* the connection's BF_CONN_F_VALID_* (which replies validate) */
};

/* bf_hs_conn value, per CPU: GCRA times of the connection's two budgets. */
struct bf_hs_budget {
	__u64 handshakes;
	__u64 queries;
};

#define BF_VALID_MAX (1 << 19)  /* bf_valid: validated clients, this POP's and its peers' */

/* bf_valid key: a client (source address) at a connection; the same layout as a
 * per-source limit's state (struct bf_rl_key). Value: */
struct bf_valid_val {
	__u64 expires_ns;      /* CLOCK_MONOTONIC: idle lifetime, moved on by its traffic */
	__u64 reported_ns;     /* last ring-buffer report (0: never, e.g. a peer's) */
	__u32 src;             /* BF_SRC_LOCAL validated here, BF_SRC_FLEET a peer's */
	__u32 pad;
};

/* bf_machines value: a game machine. IPIP from it is the return path only
 * when it arrives on `ifindex`, the backend interface the route to the
 * machine leaves by (strict reverse path, resolved by user space; 0 while
 * the route does not leave by a backend interface: nothing is accepted). */
struct bf_machine {
	__u32 ifindex;
	__u32 slot;            /* its live-punch counter in bf_punch_quota */
	__u32 punch_max;       /* live punches it may have; new ones past it are refused */
	__u32 pad;
};

/* bf_punch_quota: live punches per machine slot, moved with atomic adds by
 * XDP (a new punch) and by user space through mmap (a punch removed), so
 * neither ever overwrites the other's count. */
#define BF_MACHINES_MAX 4096

/* bf_served key: (machine, bind address) pairs; a machine may only send
 * return traffic from addresses it serves. Value: number of connections. */
struct bf_served_key {
	__be32 machine_ip;
	__be32 bind_ip;
};

/* bf_dests value: an address this POP answers for. */
#define BF_DEST_BIND (1U << 0)  /* a connection binds it */
#define BF_DEST_LOCAL (1U << 1) /* configured on this host: management, Redis, BGP */
/* bf_dest.flags >> BF_DEST_SLOT_SHIFT: the bind address's slot in bf_port_open (0: none,
 * every port goes the whole way). */
#define BF_DEST_SLOT_SHIFT 16

/* bf_port_open: per bind address (slot) and protocol (UDP, TCP) one bit per port,
 * set when a packet to that port may be anything but a default drop for a source
 * the whitelist does not hold: a connection, a punch, a rule that names the port
 * (docs/ARCHITECTURE.md, "Closed ports"). Slot 0 is never used. */
#define BF_PORT_SLOTS 256
#define BF_PORT_WORDS 1024 /* 65536 ports / 64 */

static __inline __u32 bf_port_word(__u32 slot, int tcp, __u16 port)
{
	return (slot * 2 + (tcp ? 1 : 0)) * BF_PORT_WORDS + port / 64;
}

struct bf_dest {
	__be32 machine;        /* BIND: the one machine behind it, 0 if several */
	__u32 flags;           /* BF_DEST_* */
};

/* Whitelist/blacklist key: one hash per list, one key per CIDR. The address
 * is masked to plen in network byte order. */
struct bf_cidr_key {
	__u32 plen;
	__be32 addr;
};

/* bf_list_val.src: which writer owns the entry. */
#define BF_SRC_CONFIG (1U << 0)  /* the local config file */
#define BF_SRC_FLEET (1U << 1)   /* Redis: peers and ops (edge/fleet.c) */
#define BF_SRC_LOCAL (1U << 2)   /* this edge's own decisions (rate-limit bans) */

struct bf_list_val {
	__u64 expires_ns;      /* CLOCK_MONOTONIC deadline, 0 = permanent */
	__u32 src;             /* BF_SRC_* */
	__u32 reason;          /* free-form code for operators */
};

/* The value an entry of a list takes when `src` writes it over `old`: it
 * lives until the latest expiry of its owners, except with `exact` when src
 * is its only owner (then as given: another origin's del may shrink it).
 * One rule for the two writers (edge/lists.c and bpf/lib/list_batch.h). */
static __inline void bf_list_merge(struct bf_list_val *v, const struct bf_list_val *old,
				   __u64 expires_ns, __u32 src, int exact)
{
	v->src = src | old->src;
	v->reason = old->reason;
	v->expires_ns = expires_ns;
	if (exact && old->src == src)
		return;
	if (old->expires_ns == 0 || expires_ns == 0)
		v->expires_ns = 0;
	else if (old->expires_ns > expires_ns)
		v->expires_ns = old->expires_ns;
}

/* bf_list_batch: list writes user space hands the batch writer (bifrost_list_batch)
 * through a shared (mmapped) array; one BPF_PROG_RUN applies them all. */
#define BF_LIST_BATCH_MAX 1024
struct bf_list_batch_ent {
	struct bf_cidr_key key;
	__u64 expires_ns;
	__u32 src;
	__u8 list;     /* BF_LIST_WL or BF_LIST_BL */
	__u8 exact;
	__s16 result;  /* out: 1 added, 0 merged into the entry there, -errno */
};

struct bf_list_batch_ctx {
	__u32 n;       /* entries 0..n-1 of bf_list_batch */
};

/* bf_punches key: a flow the game server opened towards a remote. Ingress
 * packets from remote_ip:remote_port to bind_ip:bind_port match it. */
struct bf_punch_key {
	__be32 bind_ip;
	__be32 remote_ip;
	__be16 bind_port;
	__be16 remote_port;
	__u8 proto;
	__u8 pad[3];
};

struct bf_punch_val {
	__be32 machine_ip;
	__u32 pad;
	__u64 expires_ns;      /* CLOCK_MONOTONIC */
	__u64 reported_ns;     /* last ring-buffer report */
};

/* ---- firewall rules (lib/rules.h) ---- */

/* bf_rule.used: the fields a rule compares; the others are not looked at. */
#define BF_RF_SRC (1U << 0)
#define BF_RF_DST (1U << 1)
#define BF_RF_PROTO (1U << 2)
#define BF_RF_IHL (1U << 3)
#define BF_RF_TOS (1U << 4)
#define BF_RF_IP_ID (1U << 5)
#define BF_RF_FRAG (1U << 6)
#define BF_RF_TTL (1U << 7)
#define BF_RF_IP_LEN (1U << 8)
#define BF_RF_IP_FLAGS (1U << 9)
#define BF_RF_SPORT (1U << 10)
#define BF_RF_DPORT (1U << 11)
#define BF_RF_TCP_FLAGS (1U << 12)
#define BF_RF_TCP_SEQ (1U << 13)
#define BF_RF_TCP_ACK (1U << 14)
#define BF_RF_TCP_WIN (1U << 15)
#define BF_RF_ICMP_TYPE (1U << 16)
#define BF_RF_ICMP_CODE (1U << 17)
#define BF_RF_PAYLOAD_LEN (1U << 18)
#define BF_RF_PAYLOAD (1U << 19)
#define BF_RF_PPS (1U << 20)
#define BF_RF_BPS (1U << 21)

#define BF_RULE_PASS 1         /* stop evaluating rules; go on to the connections */
#define BF_RULE_DROP 2

#define BF_RULE_F_DRY_RUN (1U << 0) /* count matches, change nothing */

#define BF_RULE_PAYLOAD_MAX 16     /* bytes compared at a fixed payload offset */
#define BF_RULE_PAYLOAD_OFF_MAX 1400

/* IPv4 flags as bf_rule.ipfl_*: the top three bits of frag_off. */
#define BF_IPFL_RF 4
#define BF_IPFL_DF 2
#define BF_IPFL_MF 1

/* One rule, as XDP compares it. Ranges are inclusive and in host order;
 * addresses are masked in network order. Written by edge/maps.c from a
 * struct bf_rule_def (sync/schema.h). */
struct bf_rule {
	__u32 used;            /* BF_RF_* */
	__u32 id;              /* operator's rule id, which is also its priority */
	__u16 slot;            /* counters and rate state: bf_rule_stats, bf_rule_rates */
	__u8 action;           /* BF_RULE_PASS / BF_RULE_DROP */
	__u8 flags;            /* BF_RULE_F_* */
	__u8 proto;
	__u8 ipfl_mask, ipfl_val;
	__u8 tcpfl_mask, tcpfl_val;  /* TCP header byte 13: CWR ECE URG ACK PSH RST SYN FIN */
	__u8 ihl_lo, ihl_hi;         /* in 32-bit words */
	__u8 tos_lo, tos_hi;
	__u8 ttl_lo, ttl_hi;
	__u8 icmp_type_lo, icmp_type_hi;
	__u8 icmp_code_lo, icmp_code_hi;
	__u8 pl_len;                 /* payload bytes compared, 1..BF_RULE_PAYLOAD_MAX */
	__u16 pl_off;                /* from the first payload byte (after the L4 header) */
	__u16 ip_id_lo, ip_id_hi;
	__u16 frag_lo, frag_hi;      /* fragment offset, 8-byte units */
	__u16 ip_len_lo, ip_len_hi;  /* IPv4 total length */
	__u16 sport_lo, sport_hi;
	__u16 dport_lo, dport_hi;
	__u16 win_lo, win_hi;
	__u16 plen_lo, plen_hi;      /* payload length */
	__be32 src_addr, src_mask;
	__be32 dst_addr, dst_mask;
	__u32 seq_lo, seq_hi;
	__u32 ack_lo, ack_hi;
	__u64 pps_w, bps_w;          /* thresholds per 2^30 ns window (derived from pps/bps) */
	__u8 pl_val[BF_RULE_PAYLOAD_MAX];
	__u8 pl_mask[BF_RULE_PAYLOAD_MAX];
};

/* The rules' port index (lib/rules.h): for the UDP and TCP lists, the rules that name a
 * destination port range of at most BF_RULE_PORT_SPAN ports are listed under each of
 * those ports (up to BF_RULE_PORT_LIST a port); every other rule of the list is in
 * bf_rule_idx's `any`. A packet then walks its port's rules and `any` merged by
 * position (priority): the same rules in the same order as the whole list, minus rules
 * whose port range leaves its port out, which could not match it. */
#define BF_RULE_PORT_SPAN 16
#define BF_RULE_PORT_LIST 15
struct bf_rule_port_key {
	__u8 half, cls;
	__u16 port;            /* host order */
};
struct bf_rule_port_list {
	__u16 n;
	__u16 pos[BF_RULE_PORT_LIST]; /* positions in the class list, ascending */
};
/* bf_rule_idx value, per (half, class): whether the index is built for that list, and
 * the positions of its rules that are not listed per port. */
struct bf_rule_idx {
	__u16 on;
	__u16 n_any;
	__u16 any[BF_RULES_MAX];  /* ascending */
};

/* bf_rule_rates value: the rate of a rule's traffic (every packet matching
 * its other fields), a sliding-window estimate over windows of 2^30 ns. */
struct bf_rule_rate {
	__u64 win;             /* index of the current window (ns >> 30) */
	__u64 cur_pkts, prev_pkts;
	__u64 cur_bytes, prev_bytes;
};

/* Ring buffer events to user space. */
enum bf_event_type {
	BF_EV_PUNCH = 1,       /* new or refreshed port punch */
	BF_EV_NEIGH_MISS = 2,  /* FIB lookup had no neighbour for nexthop */
	BF_EV_BAN = 3,         /* a source tripped a connection's limit and was blocked */
	BF_EV_VALID = 4,       /* a client validated here, or a validated one still playing */
};

/* BF_EV_BAN flags */
#define BF_BAN_F_SHARE (1U << 0)   /* the connection asks for the ban to be shared */
#define BF_BAN_F_DRY_RUN (1U << 1) /* edge in dry-run: nothing enforced; never share */

/* BF_EV_BAN: a source blocked by XDP for going over a connection's limit. */
struct bf_ban {
	__be32 src;
	__u8 proto;
	__u8 limit;            /* BF_LIMIT_* */
	__u16 flags;           /* BF_BAN_F_* */
	struct bf_conn_key conn; /* the connection whose limit it was */
	__u64 block_ns;
	__u64 expires_ns;      /* CLOCK_MONOTONIC end of the block */
};

struct bf_event {
	__u32 type;
	__u32 ifindex;
	union {
		struct {
			struct bf_punch_key key;
			struct bf_punch_val val;
		} punch;
		struct {
			__be32 nexthop;
		} neigh;
		struct bf_ban ban;
		struct {
			struct bf_rl_key key; /* client, connection */
			__u32 pad;
			__u64 expires_ns;
		} valid;
	};
};

/* ---- game-server side (bifrost-gs) ---- */

/* gs_stats reasons (bpf/gs.bpf.c): append only, never renumber (the map is pinned). */
enum gs_reason {
	GS_R_DECAP = 0,     /* ingress: IPIP from a POP, decapsulated */
	GS_R_PASS,          /* ingress: anything but IPIP, untouched */
	GS_R_BAD_INNER,     /* ingress: IPIP from a POP, bad inner header or a fragment: dropped */
	GS_R_ENCAP,         /* egress: anycast reply wrapped towards a POP */
	GS_R_NO_POP,        /* egress: anycast reply, no POP known and no default: dropped */
	GS_R_ENCAP_FAIL,    /* egress: could not grow the packet: dropped */
	GS_R_SPOOFED,       /* ingress: IPIP with a POP's source that fails a check: dropped */
	GS_R_IPIP_FOREIGN,  /* ingress: IPIP from an address that is no POP: dropped */
	GS_R_MAX,
};

/* gs_stats slots: more than GS_R_MAX so that appending a reason does not
 * change the pinned map's size. */
#define GS_R_SLOTS 32

#define GS_R_NAMES                                                          \
	"decap", "pass", "bad_inner", "encap", "no_pop", "encap_fail", "spoofed", \
	"ipip_foreign"

/* gs_config[0] */
struct gs_config {
	__be32 machine_ip;     /* this machine's address: outer source out, outer destination in */
	__be32 default_pop;    /* POP for clients never seen */
	__u64 idle_ns;         /* client -> POP entries older than this are ignored */
	__u8 outer_ttl;
	__u8 pad[7];
};

/* gs_clients value: the POP a client came through. */
struct gs_client_val {
	__be32 pop_ip;
	__u32 pad;
	__u64 seen_ns;
};

#endif /* BIFROST_H */
