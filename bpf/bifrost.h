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
	BF_R_MAX,
};

#define BF_R_NAMES                                                              \
	"malformed", "fragment", "non_ipv4", "return_path", "return_invalid",  \
	"whitelist", "blocklist", "blacklist", "forward", "punch_hit", "local", \
	"default_drop", "no_route", "no_neigh", "too_big", "would_drop",       \
	"punch_new"

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
};

/* bf_config flags */
#define BF_F_DRY_RUN (1U << 0)

/* bf_config[0]: the POP's runtime settings. Written by bifrost-edge. */
struct bf_config {
	__be32 edge_addr;      /* this POP's own address: outer source, management */
	__u32 flags;           /* BF_F_* */
	__u64 wl_plen_mask;    /* bit n set: whitelist holds a /n entry */
	__u64 bl_plen_mask;    /* bit n set: blacklist holds a /n entry */
	__u64 punch_ttl_ns;    /* idle lifetime of a port punch */
	__u64 punch_report_ns; /* a live punch is re-reported at most this often */
	__u8 outer_ttl;        /* TTL of the IPIP outer header */
	__u8 pad[7];
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

struct bf_conn_val {
	__be32 machine_ip;     /* game-server machine, IPIP destination */
	__be16 machine_port;   /* 0: same as bind_port */
	__u16 flags;
};

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
	__u16 pad;
};

/* bf_served key: (machine, bind address) pairs; a machine may only send
 * return traffic from addresses it serves. Value: number of connections. */
struct bf_served_key {
	__be32 machine_ip;
	__be32 bind_ip;
};

/* bf_dests value: an address this POP answers for. */
#define BF_DEST_BIND (1U << 0)  /* a connection binds it */
#define BF_DEST_LOCAL (1U << 1) /* configured on this host: management, Redis, BGP */

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
#define BF_SRC_LOCAL (1U << 2)   /* this edge's own decisions (rate-limit bans, later) */

struct bf_list_val {
	__u64 expires_ns;      /* CLOCK_MONOTONIC deadline, 0 = permanent */
	__u32 src;             /* BF_SRC_* */
	__u32 reason;          /* free-form code for operators */
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

/* Ring buffer events to user space. */
enum bf_event_type {
	BF_EV_PUNCH = 1,       /* new or refreshed port punch */
	BF_EV_NEIGH_MISS = 2,  /* FIB lookup had no neighbour for nexthop */
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
	};
};

/* ---- game-server side (bifrost-gs) ---- */

/* gs_config[0] */
struct gs_config {
	__be32 machine_ip;     /* this machine's address: outer source */
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
