/* config.c - parser for the bifrost-edge config file ("key value..." lines). */
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "text.h"

const char *const edge_sized_maps[EDGE_SIZED_MAPS] = {
	[EDGE_MAP_PUNCHES] = "punches",	    [EDGE_MAP_RATELIMIT] = "ratelimit",
	[EDGE_MAP_BLOCKLIST] = "blocklist", [EDGE_MAP_BLACKLIST] = "blacklist",
	[EDGE_MAP_WHITELIST] = "whitelist", [EDGE_MAP_CONN_STATS] = "conn_stats",
};

#define MAX_LINE 2048 /* a rule with every field fits */
#define MAX_TOKENS 64
#define MAX_FILE (64u << 20)

void edge_config_init(struct edge_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->punch_ttl_ms = 120000;
	cfg->punch_report_ms = 10000;
	cfg->sweep_interval_ms = 1000;
	cfg->outer_ttl = 64;
	cfg->icmp_echo = true;
	cfg->echo_pps = 10;
	cfg->echo_global_pps = 10000;
	cfg->valid_idle_ms = 300000;
	cfg->replica_max_lag_ms = 2000;
	cfg->handshake_pps = 10;
	cfg->handshake_burst = 20;
	cfg->handshake_conn_pps = 2000;
	cfg->stats_history_ms = 86400000ULL; /* a day of 1 Hz frames */
	snprintf(cfg->redis_prefix, sizeof(cfg->redis_prefix), "%s", BF_PREFIX_DEFAULT);
	cfg->punch_max_machine = 65536;
	edge_guard_limits_init(&cfg->guard);
	cfg->publish_max_pps = 2000;
	cfg->log_max_records = 50000;
}

void edge_config_free(struct edge_config *cfg)
{
	free(cfg->conns);
	free(cfg->wl);
	free(cfg->bl);
	free(cfg->pr);
	free(cfg->rules);
	cfg->conns = NULL;
	cfg->wl = cfg->bl = cfg->pr = NULL;
	cfg->rules = NULL;
	cfg->n_conns = cfg->n_wl = cfg->n_bl = cfg->n_pr = cfg->n_rules = 0;
	cfg->cap_conns = cfg->cap_wl = cfg->cap_bl = cfg->cap_pr = cfg->cap_rules = 0;
}

/* Grows *arr (of elem-sized items) to hold one more; the cap check comes
 * before the allocation. */
static int grow(void **arr, size_t *cap, size_t n, size_t elem)
{
	size_t ncap;
	void *p;

	if (n < *cap)
		return 0;
	if (n >= EDGE_MAX_ENTRIES)
		return -E2BIG;
	ncap = *cap ? *cap * 2 : 16;
	if (ncap > EDGE_MAX_ENTRIES)
		ncap = EDGE_MAX_ENTRIES;
	p = realloc(*arr, ncap * elem);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

static int parse_bool(const char *s, bool *out)
{
	if (!strcmp(s, "yes") || !strcmp(s, "true") || !strcmp(s, "on") || !strcmp(s, "1"))
		*out = true;
	else if (!strcmp(s, "no") || !strcmp(s, "false") || !strcmp(s, "off") ||
		 !strcmp(s, "0"))
		*out = false;
	else
		return -EINVAL;
	return 0;
}

static int valid_id(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 63)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' || *s == '.'))
			return 0;
	return 1;
}

/* A CIDR of a list line: IPv4 only yet, with a reason for anything else. */
static int cidr_arg(const char *s, struct bf_cidr *c, char *err, size_t errlen)
{
	int rc = bf_parse_cidr4(s, false, c);

	if (rc == -EAFNOSUPPORT)
		bf_seterr(err, errlen, "'%s': IPv6 is not supported yet", s);
	else if (rc)
		bf_seterr(err, errlen, "bad CIDR '%s' (want a.b.c.d/len with no host bits set)", s);
	return rc;
}

static int parse_list_entry(char **tok, int ntok, struct edge_list_entry *e, char *err,
			    size_t errlen)
{
	memset(e, 0, sizeof(*e));
	if (ntok != 2 && ntok != 4) {
		bf_seterr(err, errlen, "'%s' takes CIDR [ttl DURATION]", tok[0]);
		return -EINVAL;
	}
	if (cidr_arg(tok[1], &e->cidr, err, errlen))
		return -EINVAL;
	if (ntok == 4) {
		if (strcmp(tok[2], "ttl") || bf_parse_duration_ms(tok[3], &e->ttl_ms) ||
		    e->ttl_ms == 0) {
			bf_seterr(err, errlen, "bad ttl '%s %s' (want: ttl 30s, 5m, 2h, 1d)", tok[2],
			       tok[3]);
			return -EINVAL;
		}
	}
	return 0;
}

static int parse_line(struct edge_config *cfg, char **tok, int ntok, char *err,
		      size_t errlen)
{
	const char *k = tok[0];
	uint64_t v;
	int rc;

#define NEED(n)                                                                 \
	do {                                                                    \
		if (ntok != (n)) {                                              \
			bf_seterr(err, errlen, "'%s' takes %d value%s", k, (n) - 1, \
			       (n) == 2 ? "" : "s");                            \
			return -EINVAL;                                         \
		}                                                               \
	} while (0)

	if (!strcmp(k, "id")) {
		NEED(2);
		if (!valid_id(tok[1])) {
			bf_seterr(err, errlen, "bad id '%s' (1-63 of A-Z a-z 0-9 - _ .)", tok[1]);
			return -EINVAL;
		}
		snprintf(cfg->id, sizeof(cfg->id), "%s", tok[1]);
	} else if (!strcmp(k, "iface")) {
		NEED(2);
		if (strlen(tok[1]) >= IF_NAMESIZE || !*tok[1]) {
			bf_seterr(err, errlen, "bad interface name '%s'", tok[1]);
			return -EINVAL;
		}
		for (int i = 0; i < cfg->n_ifaces; i++)
			if (!strcmp(cfg->ifaces[i], tok[1])) {
				bf_seterr(err, errlen, "interface '%s' listed twice", tok[1]);
				return -EINVAL;
			}
		if (cfg->n_ifaces == EDGE_MAX_IFACES) {
			bf_seterr(err, errlen, "too many interfaces (at most %d)", EDGE_MAX_IFACES);
			return -EINVAL;
		}
		snprintf(cfg->ifaces[cfg->n_ifaces++], IF_NAMESIZE, "%s", tok[1]);
	} else if (!strcmp(k, "addr") || !strcmp(k, "backend_addr")) {
		NEED(2);
		if (bf_parse_ipv4(tok[1], k[0] == 'a' ? &cfg->addr : &cfg->backend_addr)) {
			bf_seterr(err, errlen, "bad %s '%s' (want a.b.c.d)", k[0] == 'a' ? "address" : k,
			       tok[1]);
			return -EINVAL;
		}
	} else if (!strcmp(k, "backend_iface")) {
		NEED(2);
		if (strlen(tok[1]) >= IF_NAMESIZE || !*tok[1]) {
			bf_seterr(err, errlen, "bad interface name '%s'", tok[1]);
			return -EINVAL;
		}
		for (int i = 0; i < cfg->n_backend; i++)
			if (!strcmp(cfg->backend_ifaces[i], tok[1])) {
				bf_seterr(err, errlen, "backend_iface '%s' listed twice", tok[1]);
				return -EINVAL;
			}
		if (cfg->n_backend == EDGE_MAX_IFACES) {
			bf_seterr(err, errlen, "too many backend interfaces (at most %d)", EDGE_MAX_IFACES);
			return -EINVAL;
		}
		snprintf(cfg->backend_ifaces[cfg->n_backend++], IF_NAMESIZE, "%s", tok[1]);
	} else if (!strcmp(k, "punch_max_per_machine") || !strcmp(k, "publish_max_pps") ||
		   !strcmp(k, "log_max_records")) {
		uint32_t *dst = !strcmp(k, "punch_max_per_machine") ? &cfg->punch_max_machine
				: !strcmp(k, "publish_max_pps")     ? &cfg->publish_max_pps
								    : &cfg->log_max_records;

		NEED(2);
		if (bf_parse_u64(tok[1], 10000000, &v) || v == 0) {
			bf_seterr(err, errlen, "bad %s '%s' (a count from 1 to 10000000)", k, tok[1]);
			return -EINVAL;
		}
		*dst = (uint32_t)v;
	} else if (!strcmp(k, "redis")) {
		char why[160];

		NEED(2);
		if (strlen(tok[1]) >= sizeof(cfg->redis) ||
		    bf_endpoint_parse(tok[1], &cfg->redis_ep, why, sizeof(why))) {
			bf_seterr(err, errlen, "bad redis endpoint '%.60s': %s (want host[:port]: a "
					    "name, a.b.c.d or [IPv6]; or sentinel:MASTER@HOST[:PORT],...)",
				  tok[1], why);
			return -EINVAL;
		}
		snprintf(cfg->redis, sizeof(cfg->redis), "%s", tok[1]);
	} else if (!strcmp(k, "redis_replica")) {
		char why[160];

		NEED(2);
		if (bf_endpoint_parse(tok[1], &cfg->redis_replica, why, sizeof(why)) ||
		    bf_endpoint_is_sentinel(&cfg->redis_replica)) {
			bf_seterr(err, errlen, "bad redis_replica '%.60s': %s (want host[:port] of a "
					    "read replica: a name, a.b.c.d or [IPv6])", tok[1],
				  bf_endpoint_is_sentinel(&cfg->redis_replica) ? "not a Sentinel "
										   "endpoint" : why);
			memset(&cfg->redis_replica, 0, sizeof(cfg->redis_replica));
			return -EINVAL;
		}
	} else if (!strcmp(k, "replica_max_lag")) {
		NEED(2);
		/* At most 4 s: the events link's ping echo through the replica gives
		 * up after 5 s, and a replica further behind is no read replica. */
		if (bf_parse_duration_ms(tok[1], &v) || v < 100 || v > 4000) {
			bf_seterr(err, errlen, "bad replica_max_lag '%s' (a duration from 100ms to 4s: "
					    "500ms, 2s)", tok[1]);
			return -EINVAL;
		}
		cfg->replica_max_lag_ms = v;
	} else if (!strcmp(k, "redis_auth_file")) {
		/* The file's name only: credentials never live in this file. */
		NEED(2);
		if (strlen(tok[1]) >= sizeof(cfg->redis_auth_file)) {
			bf_seterr(err, errlen, "redis_auth_file: a path of at most %zu bytes",
				  sizeof(cfg->redis_auth_file) - 1);
			return -EINVAL;
		}
		snprintf(cfg->redis_auth_file, sizeof(cfg->redis_auth_file), "%s", tok[1]);
	} else if (!strcmp(k, "redis_prefix")) {
		NEED(2);
		if (!bf_prefix_valid(tok[1])) {
			bf_seterr(err, errlen, "bad redis_prefix '%.40s' (1-32 of A-Z a-z 0-9 _ - . : ending "
					    "in ':', e.g. bifrost:)",
			       tok[1]);
			return -EINVAL;
		}
		snprintf(cfg->redis_prefix, sizeof(cfg->redis_prefix), "%s", tok[1]);
	} else if (!strcmp(k, "state_file")) {
		NEED(2);
		if (tok[1][0] != '/' || strlen(tok[1]) >= sizeof(cfg->state_file) - 8) {
			bf_seterr(err, errlen, "bad state_file '%.60s' (an absolute path, under %zu "
					    "characters)", tok[1], sizeof(cfg->state_file) - 8);
			return -EINVAL;
		}
		snprintf(cfg->state_file, sizeof(cfg->state_file), "%s", tok[1]);
	} else if (!strcmp(k, "map_entries")) {
		int m;

		NEED(3);
		for (m = 0; m < EDGE_SIZED_MAPS && strcmp(tok[1], edge_sized_maps[m]); m++)
			;
		if (m == EDGE_SIZED_MAPS) {
			bf_seterr(err, errlen, "map_entries: no map '%s' (punches, ratelimit, "
				  "blocklist, blacklist, whitelist or conn_stats)", tok[1]);
			return -EINVAL;
		}
		if (bf_parse_u64(tok[2], 1 << 24, &v) || v < 1024) {
			bf_seterr(err, errlen, "map_entries %s: bad '%s' (1024 to 16777216 entries)",
				  tok[1], tok[2]);
			return -EINVAL;
		}
		cfg->map_entries[m] = (uint32_t)v;
	} else if (!strcmp(k, "xdp_mode")) {
		NEED(2);
		if (!strcmp(tok[1], "auto"))
			cfg->xdp_mode = EDGE_XDP_AUTO;
		else if (!strcmp(tok[1], "native"))
			cfg->xdp_mode = EDGE_XDP_NATIVE;
		else if (!strcmp(tok[1], "generic"))
			cfg->xdp_mode = EDGE_XDP_GENERIC;
		else {
			bf_seterr(err, errlen, "bad xdp_mode '%s' (auto, native or generic)", tok[1]);
			return -EINVAL;
		}
	} else if (!strcmp(k, "dry_run")) {
		NEED(2);
		if (parse_bool(tok[1], &cfg->dry_run)) {
			bf_seterr(err, errlen, "bad dry_run '%s' (yes or no)", tok[1]);
			return -EINVAL;
		}
	} else if (!strcmp(k, "punch_ttl") || !strcmp(k, "punch_report") ||
		   !strcmp(k, "sweep_interval")) {
		uint64_t *dst = !strcmp(k, "punch_ttl")	   ? &cfg->punch_ttl_ms :
				!strcmp(k, "punch_report") ? &cfg->punch_report_ms :
							     &cfg->sweep_interval_ms;
		NEED(2);
		if (bf_parse_duration_ms(tok[1], &v) || v == 0 || v > 86400000ULL) {
			bf_seterr(err, errlen, "bad %s '%s' (a duration from 1ms to 1d: 500ms, 30s, 2m)",
			       k, tok[1]);
			return -EINVAL;
		}
		*dst = v;
	} else if (!strcmp(k, "metrics")) {
		if (ntok != 2) {
			bf_seterr(err, errlen, "'metrics' takes one value: ADDR:PORT or off");
			return -EINVAL;
		}
		if (!strcmp(tok[1], "off")) {
			cfg->metrics[0] = '\0';
			cfg->metrics_addr = 0;
			cfg->metrics_port = 0;
		} else if (strlen(tok[1]) >= sizeof(cfg->metrics) ||
			   bf_parse_endpoint(tok[1], false, &cfg->metrics_addr, &cfg->metrics_port)) {
			bf_seterr(err, errlen,
			       "metrics '%.40s' is not ADDR:PORT (an IPv4 address and a port 1-65535, "
			       "e.g. 127.0.0.1:9477) or off",
			       tok[1]);
			return -EINVAL;
		} else {
			snprintf(cfg->metrics, sizeof(cfg->metrics), "%s", tok[1]);
		}
	} else if (!strcmp(k, "stats_history")) {
		if (ntok != 2 || bf_parse_duration_ms(tok[1], &v) || v > 30ULL * 86400000ULL) {
			bf_seterr(err, errlen, "stats_history needs a duration up to 30d (0 = none), e.g. 24h");
			return -EINVAL;
		}
		cfg->stats_history_ms = v;
	} else if (!strcmp(k, "outer_ttl")) {
		NEED(2);
		if (bf_parse_u64(tok[1], 255, &v) || v == 0) {
			bf_seterr(err, errlen, "bad outer_ttl '%s' (1-255)", tok[1]);
			return -EINVAL;
		}
		cfg->outer_ttl = (uint8_t)v;
	} else if (!strcmp(k, "conn")) {
		struct bf_field opt[MAX_TOKENS / 2];
		const char *what;
		struct bf_conn c;
		int nopt = 0;

		/* conn PROTO BIND [->] MACHINE [LIMIT VALUE]... */
		if (ntok >= 5 && !strcmp(tok[3], "->")) {
			memmove(&tok[3], &tok[4], (size_t)(ntok - 4) * sizeof(tok[0]));
			ntok--;
		}
		if (ntok < 4 || ntok % 2) {
			bf_seterr(err, errlen, "'conn' takes PROTO BIND MACHINE, then pairs of "
					    "pps|bps|block|burst|preset|share_bans|a2s|validate VALUE");
			return -EINVAL;
		}
		if (bf_conn_parse(tok[1], tok[2], tok[3], &c, err, errlen))
			return -EINVAL;
		for (int i = 4; i < ntok; i += 2) {
			static const char *const known[] = { "pps", "bps", "block", "burst",
							     "preset", "share_bans" };
			bool ok = false;

			if (!strcmp(tok[i], "a2s")) {
				if (parse_bool(tok[i + 1], &c.a2s) || (c.a2s && c.proto != IPPROTO_UDP)) {
					bf_seterr(err, errlen, "conn %s %s: a2s: yes or no (udp only)", tok[1],
					       tok[2]);
					return -EINVAL;
				}
				continue;
			}
			if (!strcmp(tok[i], "validate")) {
				int v = bf_validate_parse(tok[i + 1], strlen(tok[i + 1]));

				if (v < 0 || (v && c.proto != IPPROTO_UDP)) {
					bf_seterr(err, errlen,
						  "conn %s %s: validate: none, srcds or raknet (udp only)",
						  tok[1], tok[2]);
					return -EINVAL;
				}
				c.validate = (uint8_t)v;
				continue;
			}
			for (size_t j = 0; j < sizeof(known) / sizeof(known[0]); j++)
				ok |= !strcmp(tok[i], known[j]);
			if (!ok) {
				bf_seterr(err, errlen, "conn: unknown option '%s' (pps, bps, block, burst, "
						    "preset, share_bans, a2s, validate)",
				       tok[i]);
				return -EINVAL;
			}
			opt[nopt++] = (struct bf_field){ tok[i], strlen(tok[i]), tok[i + 1],
							 strlen(tok[i + 1]) };
		}
		if (bf_limits_parse_fields(opt, (size_t)nopt, c.proto, &c.limits, &what)) {
			bf_seterr(err, errlen, "conn %s %s: %s", tok[1], tok[2], what);
			return -EINVAL;
		}
		for (size_t i = 0; i < cfg->n_conns; i++) {
			const struct bf_conn *o = &cfg->conns[i];

			if (o->proto == c.proto && o->bind_ip == c.bind_ip &&
			    o->bind_port == c.bind_port) {
				bf_seterr(err, errlen, "connection %s %s defined twice", tok[1], tok[2]);
				return -EINVAL;
			}
		}
		rc = grow((void **)&cfg->conns, &cfg->cap_conns, cfg->n_conns, sizeof(c));
		if (rc) {
			bf_seterr(err, errlen, "too many connections");
			return rc;
		}
		cfg->conns[cfg->n_conns++] = c;
	} else if (!strcmp(k, "protect")) {
		struct edge_list_entry e = { 0 };

		NEED(2);
		if (cidr_arg(tok[1], &e.cidr, err, errlen))
			return -EINVAL;
		rc = grow((void **)&cfg->pr, &cfg->cap_pr, cfg->n_pr, sizeof(e));
		if (rc) {
			bf_seterr(err, errlen, "too many protect entries");
			return rc;
		}
		cfg->pr[cfg->n_pr++] = e;
	} else if (!strcmp(k, "rule")) {
		struct bf_field f[MAX_TOKENS / 2];
		struct bf_rule_def r;
		char msg[256];
		uint32_t id;

		if (ntok < 2 || bf_rule_id_parse(tok[1], strlen(tok[1]), &id)) {
			bf_seterr(err, errlen, "'rule' takes an id (1-%u), then FIELD VALUE pairs",
			       BF_RULE_ID_MAX);
			return -EINVAL;
		}
		if (ntok % 2) {
			bf_seterr(err, errlen, "rule %u: %s: has no value", id, tok[ntok - 1]);
			return -EINVAL;
		}
		for (int i = 2; i < ntok; i += 2)
			f[i / 2 - 1] = (struct bf_field){ tok[i], strlen(tok[i]), tok[i + 1],
							  strlen(tok[i + 1]) };
		if (bf_rule_parse_fields(id, f, (size_t)(ntok - 2) / 2, &r, msg, sizeof(msg))) {
			bf_seterr(err, errlen, "rule %u: %s", id, msg);
			return -EINVAL;
		}
		for (size_t i = 0; i < cfg->n_rules; i++)
			if (cfg->rules[i].id == id) {
				bf_seterr(err, errlen, "rule %u defined twice", id);
				return -EINVAL;
			}
		/* Each edge takes BF_RULES_MAX; a file may scope rules to several. */
		rc = cfg->n_rules >= 4 * BF_RULES_MAX ?
			     -E2BIG :
			     grow((void **)&cfg->rules, &cfg->cap_rules, cfg->n_rules, sizeof(r));
		if (rc) {
			bf_seterr(err, errlen, "too many rules (at most %d in a file)", 4 * BF_RULES_MAX);
			return rc;
		}
		cfg->rules[cfg->n_rules++] = r;
	} else if (!strcmp(k, "a2s_workers")) {
		NEED(2);
		if (parse_bool(tok[1], &cfg->a2s_workers)) {
			bf_seterr(err, errlen, "bad a2s_workers '%s' (yes or no)", tok[1]);
			return -EINVAL;
		}
	} else if (!strcmp(k, "icmp_echo")) {
		NEED(2);
		if (parse_bool(tok[1], &cfg->icmp_echo)) {
			bf_seterr(err, errlen, "bad icmp_echo '%s' (yes or no)", tok[1]);
			return -EINVAL;
		}
	} else if (!strcmp(k, "valid_idle")) {
		NEED(2);
		if (bf_parse_duration_ms(tok[1], &v) || v < 1000 || v > 86400000ULL) {
			bf_seterr(err, errlen, "bad valid_idle '%s' (a duration from 1s to 1d: 90s, 5m)",
				  tok[1]);
			return -EINVAL;
		}
		cfg->valid_idle_ms = v;
	} else if (!strcmp(k, "handshake_pps") || !strcmp(k, "handshake_burst") ||
		   !strcmp(k, "handshake_conn_pps")) {
		uint32_t *dst = !strcmp(k, "handshake_pps")   ? &cfg->handshake_pps :
				!strcmp(k, "handshake_burst") ? &cfg->handshake_burst :
								&cfg->handshake_conn_pps;
		NEED(2);
		if (bf_parse_u64(tok[1], 10000000, &v) || (v == 0 && dst == &cfg->handshake_burst)) {
			bf_seterr(err, errlen, "bad %s '%s' (%s)", k, tok[1],
				  dst == &cfg->handshake_burst ? "packets, 1 or more" :
								 "packets a second, 0 = no limit");
			return -EINVAL;
		}
		*dst = (uint32_t)v;
	} else if (!strcmp(k, "icmp_echo_pps") || !strcmp(k, "icmp_echo_global_pps")) {
		NEED(2);
		if (bf_parse_rate(tok[1], BF_LIMIT_PPS_MAX, &v)) {
			bf_seterr(err, errlen, "bad %s '%s' (packets per second, 0 = no limit)", k,
			       tok[1]);
			return -EINVAL;
		}
		if (!strcmp(k, "icmp_echo_pps"))
			cfg->echo_pps = (uint32_t)v;
		else
			cfg->echo_global_pps = (uint32_t)v;
	} else if (!strcmp(k, "whitelist") || !strcmp(k, "blacklist")) {
		bool wl = k[0] == 'w';
		struct edge_list_entry e;

		if (parse_list_entry(tok, ntok, &e, err, errlen))
			return -EINVAL;
		rc = grow(wl ? (void **)&cfg->wl : (void **)&cfg->bl, wl ? &cfg->cap_wl : &cfg->cap_bl,
			  wl ? cfg->n_wl : cfg->n_bl, sizeof(e));
		if (rc) {
			bf_seterr(err, errlen, "too many %s entries", k);
			return rc;
		}
		if (wl)
			cfg->wl[cfg->n_wl++] = e;
		else
			cfg->bl[cfg->n_bl++] = e;
	} else if ((rc = edge_guard_config_line(&cfg->guard, tok, ntok, err, errlen)) != -ENOENT) {
		return rc;
	} else {
		bf_seterr(err, errlen, "unknown key '%s'", k);
		return -EINVAL;
	}
	return 0;
#undef NEED
}

int edge_config_parse(struct edge_config *cfg, const char *text, const char *name,
		      char *err, size_t errlen)
{
	const char *p = text;
	unsigned lineno = 0;

	while (*p) {
		char line[MAX_LINE], msg[256], *tok[MAX_TOKENS + 1], *save = NULL, *t;
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		int ntok = 0;

		lineno++;
		if (n >= sizeof(line)) {
			bf_seterr(err, errlen, "%s:%u: line longer than %d bytes", name, lineno,
			       MAX_LINE - 1);
			return -EINVAL;
		}
		memcpy(line, p, n);
		line[n] = '\0';
		p += n + (nl ? 1 : 0);

		if ((t = strchr(line, '#')))
			*t = '\0';
		for (t = strtok_r(line, " \t\r", &save); t; t = strtok_r(NULL, " \t\r", &save)) {
			if (ntok == MAX_TOKENS) {
				bf_seterr(err, errlen, "%s:%u: too many words", name, lineno);
				return -EINVAL;
			}
			tok[ntok++] = t;
		}
		if (ntok == 0)
			continue;
		msg[0] = '\0';
		if (parse_line(cfg, tok, ntok, msg, sizeof(msg))) {
			bf_seterr(err, errlen, "%s:%u: %s", name, lineno, msg);
			return -EINVAL;
		}
	}
	return 0;
}

int edge_config_load(struct edge_config *cfg, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long size;
	int rc;

	if (!f) {
		bf_seterr(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return -errno;
	}
	if (fseek(f, 0, SEEK_END) || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) {
		bf_seterr(err, errlen, "%s: cannot read: %s", path, strerror(errno));
		fclose(f);
		return -EIO;
	}
	if ((unsigned long)size > MAX_FILE) {
		bf_seterr(err, errlen, "%s: larger than %u MiB", path, MAX_FILE >> 20);
		fclose(f);
		return -EFBIG;
	}
	buf = malloc((size_t)size + 1);
	if (!buf) {
		fclose(f);
		return -ENOMEM;
	}
	if (fread(buf, 1, (size_t)size, f) != (size_t)size) {
		bf_seterr(err, errlen, "%s: short read", path);
		free(buf);
		fclose(f);
		return -EIO;
	}
	fclose(f);
	buf[size] = '\0';
	if (strlen(buf) != (size_t)size) {
		bf_seterr(err, errlen, "%s: contains a NUL byte; not a text file", path);
		free(buf);
		return -EINVAL;
	}
	rc = edge_config_parse(cfg, buf, path, err, errlen);
	free(buf);
	return rc;
}

int edge_config_validate(const struct edge_config *cfg, char *err, size_t errlen)
{
	if (!cfg->id[0]) {
		bf_seterr(err, errlen, "no edge id: set 'id NAME' in the config or pass --id NAME");
		return -EINVAL;
	}
	if (cfg->redis_replica.host[0] && !cfg->redis[0]) {
		bf_seterr(err, errlen, "redis_replica without redis: name the primary (or the "
				       "sentinels) with 'redis' too; writes always go there");
		return -EINVAL;
	}
	if (!strcmp(cfg->id, "ops")) {
		/* The operators' origin: an edge writing as ops would make every
		 * other edge resync it, and the edges would drop ops's entries. */
		bf_seterr(err, errlen, "the id 'ops' is the operators' origin on the bus; give this "
				       "edge an id of its own");
		return -EINVAL;
	}
	if (cfg->n_ifaces == 0) {
		bf_seterr(err, errlen,
		       "no interface: set 'iface NAME' in the config or pass --iface NAME");
		return -EINVAL;
	}
	if (!cfg->addr) {
		bf_seterr(err, errlen,
		       "no POP address: set 'addr A.B.C.D' in the config or pass --addr A.B.C.D");
		return -EINVAL;
	}
	for (int i = 0; i < cfg->n_backend; i++) {
		bool found = false;

		for (int j = 0; j < cfg->n_ifaces; j++)
			found |= !strcmp(cfg->backend_ifaces[i], cfg->ifaces[j]);
		if (!found) {
			bf_seterr(err, errlen,
			       "backend_iface '%s' is not one of the guarded interfaces ('iface' lines "
			       "or --iface)",
			       cfg->backend_ifaces[i]);
			return -EINVAL;
		}
	}
	if (!cfg->n_backend && cfg->n_ifaces > 1) {
		bf_seterr(err, errlen,
		       "%d interfaces and no backend_iface: say which one(s) the game machines' "
		       "IPIP arrives on ('backend_iface NAME'); IPIP on any other is dropped",
		       cfg->n_ifaces);
		return -EINVAL;
	}
	return 0;
}

int edge_config_backends(const struct edge_config *cfg, const char *out[EDGE_MAX_IFACES])
{
	if (!cfg->n_backend && cfg->n_ifaces == 1) {
		out[0] = cfg->ifaces[0];
		return 1;
	}
	for (int i = 0; i < cfg->n_backend; i++)
		out[i] = cfg->backend_ifaces[i];
	return cfg->n_backend;
}

uint32_t edge_config_backend_addr(const struct edge_config *cfg)
{
	return cfg->backend_addr ? cfg->backend_addr : cfg->addr;
}
