/* config.h - bifrost-edge settings: the config file, then flags on top. */
#ifndef EDGE_CONFIG_H
#define EDGE_CONFIG_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "endpoint.h"
#include "guard.h"  /* struct edge_guard_limits */
#include "schema.h" /* struct bf_conn */

#define EDGE_MAX_IFACES 8
#define EDGE_MAX_ENTRIES (1u << 20) /* per list in the config file */

enum edge_xdp_mode { EDGE_XDP_AUTO = 0, EDGE_XDP_NATIVE, EDGE_XDP_GENERIC };

struct edge_list_entry {
	struct bf_cidr cidr;
	uint64_t ttl_ms;       /* 0 = permanent */
};

/* The maps whose size the config sets (map_entries NAME N), in edge_sized_maps[] order. */
enum { EDGE_MAP_PUNCHES, EDGE_MAP_RATELIMIT, EDGE_MAP_BLOCKLIST, EDGE_MAP_BLACKLIST,
       EDGE_MAP_WHITELIST, EDGE_MAP_CONN_STATS, EDGE_SIZED_MAPS };
extern const char *const edge_sized_maps[EDGE_SIZED_MAPS]; /* "punches", ... */

struct edge_config {
	char id[64];
	char ifaces[EDGE_MAX_IFACES][IF_NAMESIZE];
	int n_ifaces;
	uint32_t addr;         /* this POP's address, network order */
	/* Where the game machines' IPIP may come in: the interfaces (none given
	 * and one iface: that one) and the address they send it to (0: addr). */
	char backend_ifaces[EDGE_MAX_IFACES][IF_NAMESIZE];
	int n_backend;
	uint32_t backend_addr;
	uint32_t punch_max_machine; /* live punches per machine */
	struct edge_guard_limits guard; /* what the bus may make this edge hold (guard.h) */
	uint32_t publish_max_pps;   /* own entries published per second; past it, counted */
	uint32_t log_max_records;   /* own change logs trimmed to about this many records */
	/* Entries of the big maps (map_entries NAME N); 0 = the program's default. A
	 * change needs `bifrost-edge --detach` first: the maps are pinned at their size. */
	uint32_t map_entries[EDGE_SIZED_MAPS];
	char redis[128];       /* the endpoint as written ("" = no fleet) */
	struct bf_endpoint redis_ep; /* parsed; credentials added at start */
	char redis_auth_file[256]; /* redis_auth_file: the credentials file ("" = environment) */
	char redis_prefix[BF_PREFIX_MAX + 1]; /* the fleet's keys live under it */
	struct bf_endpoint redis_replica; /* a read replica near this POP (host "" = none) */
	uint64_t replica_max_lag_ms;      /* reads leave it when it is further behind */
	char state_file[256];  /* cursors, register, instance token ("": /run/bifrost-edge-<id>.state) */
	enum edge_xdp_mode xdp_mode;
	bool dry_run;
	uint64_t punch_ttl_ms;
	uint64_t punch_report_ms;
	uint64_t sweep_interval_ms;
	uint8_t outer_ttl;
	bool icmp_echo;           /* answer echo requests to bind addresses */
	uint32_t echo_pps;        /* per source; 0 = no limit */
	uint32_t echo_global_pps; /* whole edge; 0 = no limit */
	char metrics[32];      /* "a.b.c.d:port" of /metrics; "" = off */
	uint32_t metrics_addr; /* parsed from metrics, network order */
	uint16_t metrics_port;
	uint64_t stats_history_ms; /* bifrost:log:stats:<id> window; 0 = no history */
	bool a2s_workers;      /* start the AF_XDP A2S workers (edge/a2s_workers.c); default no */
	/* Handshake validation (connections with `validate`): a validated client's idle
	 * lifetime, and the handshake budgets of unvalidated sources (0 = none). */
	uint64_t valid_idle_ms;
	uint32_t handshake_pps, handshake_burst, handshake_conn_pps;

	struct bf_conn *conns;
	size_t n_conns, cap_conns;
	struct edge_list_entry *wl, *bl, *pr; /* pr: protected prefixes (no ttl) */
	size_t n_wl, cap_wl, n_bl, cap_bl, n_pr, cap_pr;
	struct bf_rule_def *rules; /* every rule of the file, whatever its scope */
	size_t n_rules, cap_rules;
};

void edge_config_init(struct edge_config *cfg);
void edge_config_free(struct edge_config *cfg);

/* Parses config text; `name` is used in messages. On error returns -EINVAL
 * and writes "name:line: what is wrong" into err. */
int edge_config_parse(struct edge_config *cfg, const char *text, const char *name,
		      char *err, size_t errlen);
int edge_config_load(struct edge_config *cfg, const char *path, char *err, size_t errlen);

/* Checks what must be set once flags and file are merged. */
int edge_config_validate(const struct edge_config *cfg, char *err, size_t errlen);

/* The backend interfaces in force: those given, or the only interface. */
int edge_config_backends(const struct edge_config *cfg, const char *out[EDGE_MAX_IFACES]);
/* The address machines send IPIP to: backend_addr, or addr. */
uint32_t edge_config_backend_addr(const struct edge_config *cfg);


#endif
