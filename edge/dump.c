/* dump.c - bifrost-edge's read-only modes (--stats, --dump MAP): the pinned
 * maps of a running edge printed as a table or as JSON lines. */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bifrost.h"
#include "clock.h"
#include "dump.h"
#include "stats.h"
#include "events.h" /* edge_punch_str */
#include "loader.h"
#include "log.h"
#include "maps.h"

static const char *reason_names[BF_R_MAX] = { BF_R_NAMES };

int edge_dump_stats(const char *ifname, int json)
{
	struct bf_counter c[BF_R_MAX];
	struct edge_dp dp;
	int rc = edge_dp_open_pinned(&dp, ifname);

	if (rc)
		return rc;
	struct edge_stats_sample s;

	rc = edge_maps_read_stats(&dp.fd, c);
	if (!rc)
		rc = edge_stats_read(&dp.fd, &s);
	edge_dp_close(&dp);
	if (rc)
		return rc;
	if (json) {
		printf("{");
		for (int r = 0; r < BF_R_MAX; r++)
			printf("%s\"%s\":{\"packets\":%llu,\"bytes\":%llu}", r ? "," : "",
			       reason_names[r], (unsigned long long)c[r].packets,
			       (unsigned long long)c[r].bytes);
		printf(",\"connections\":[");
	} else {
		printf("%-16s %14s %16s\n", "REASON", "PACKETS", "BYTES");
		for (int r = 0; r < BF_R_MAX; r++)
			printf("%-16s %14llu %16llu\n", reason_names[r],
			       (unsigned long long)c[r].packets, (unsigned long long)c[r].bytes);
		printf("\n%-5s %-22s %12s %12s %12s %12s %10s %12s\n", "PROTO", "BIND", "IN_PKTS",
		       "OUT_PKTS", "HANDSHAKE", "UNVALIDATED", "VALIDATED", "IN_BYTES");
	}
	for (size_t i = 0; i < s.n_conns; i++) {
		const struct edge_conn_sample *cs = &s.conns[i];
		char b[BF_ADDR_STRLEN];

		bf_ipv4_str(cs->key.bind_ip, b);
		if (json)
			printf("%s{\"proto\":\"%s\",\"bind\":\"%s:%u\",\"in_packets\":%llu,"
			       "\"in_bytes\":%llu,\"out_packets\":%llu,\"out_bytes\":%llu,"
			       "\"handshake_packets\":%llu,\"unvalidated_drops\":%llu,"
			       "\"validated\":%llu}",
			       i ? "," : "", bf_proto_name(cs->key.proto), b, ntohs(cs->key.bind_port),
			       (unsigned long long)cs->c.in_packets, (unsigned long long)cs->c.in_bytes,
			       (unsigned long long)cs->c.out_packets, (unsigned long long)cs->c.out_bytes,
			       (unsigned long long)cs->c.hs_packets, (unsigned long long)cs->c.unvalidated,
			       (unsigned long long)cs->c.validated);
		else {
			char bind[32];

			snprintf(bind, sizeof(bind), "%s:%u", b, ntohs(cs->key.bind_port));
			printf("%-5s %-22s %12llu %12llu %12llu %12llu %10llu %12llu\n",
			       bf_proto_name(cs->key.proto), bind, (unsigned long long)cs->c.in_packets,
			       (unsigned long long)cs->c.out_packets, (unsigned long long)cs->c.hs_packets,
			       (unsigned long long)cs->c.unvalidated, (unsigned long long)cs->c.validated,
			       (unsigned long long)cs->c.in_bytes);
		}
	}
	if (json)
		printf("]}\n");
	edge_stats_sample_free(&s);
	return 0;
}

static double secs_left(uint64_t expires_ns, uint64_t now)
{
	if (!expires_ns)
		return -1;
	return expires_ns > now ? (double)(expires_ns - now) / 1e9 : 0;
}

/* One printer per map: a header for tables, then one call per entry. */
struct dumper {
	const char *name;
	size_t ksz, vsz;
	int (*fd)(const struct edge_map_fds *fd);
	const char *header;  /* table header, NULL for none */
	void (*row)(const void *k, const void *v, int json, uint64_t now,
		    const struct edge_map_fds *fd);
};

static void list_row(const void *kp, const void *vp, int json, uint64_t now,
		     const struct edge_map_fds *fd)
{
	const struct bf_cidr_key *k = kp;
	const struct bf_list_val *v = vp;
	struct bf_cidr c = { .addr = k->addr, .plen = (uint8_t)k->plen };
	char s[BF_CIDR_STRLEN];
	double left = secs_left(v->expires_ns, now);

	if (json)
		printf("{\"cidr\":\"%s\",\"expires_in_s\":%.3f,\"src\":%u}\n", bf_cidr_str(&c, s),
		       left, v->src);
	else
		printf("%-20s %10.1f %s%s%s\n", bf_cidr_str(&c, s), left,
		       v->src & BF_SRC_CONFIG ? "config " : "", v->src & BF_SRC_FLEET ? "fleet " : "",
		       v->src & BF_SRC_LOCAL ? "local" : "");
}

static void blocklist_row(const void *kp, const void *vp, int json, uint64_t now,
			  const struct edge_map_fds *fd)
{
	const struct bf_list_val *v = vp;
	char a[BF_ADDR_STRLEN];

	bf_ipv4_str(*(const uint32_t *)kp, a);
	if (json)
		printf("{\"addr\":\"%s\",\"expires_in_s\":%.3f}\n", a, secs_left(v->expires_ns, now));
	else
		printf("%-16s %10.1f\n", a, secs_left(v->expires_ns, now));
}

static void punch_row(const void *kp, const void *vp, int json, uint64_t now,
		      const struct edge_map_fds *fd)
{
	const struct bf_punch_val *v = vp;
	char s[96];

	if (v->expires_ns <= now)
		return; /* expired, waiting for the sweeper */
	edge_punch_str(kp, v->machine_ip, s, sizeof(s));
	if (json)
		printf("{\"punch\":\"%s\",\"expires_in_s\":%.3f}\n", s, secs_left(v->expires_ns, now));
	else
		printf("%-64s %8.1f\n", s, secs_left(v->expires_ns, now));
}

static void valid_row(const void *kp, const void *vp, int json, uint64_t now,
		      const struct edge_map_fds *fd)
{
	const struct bf_valid_val *v = vp;
	char s[64];

	if (v->expires_ns <= now)
		return; /* expired, waiting for the sweeper */
	edge_valid_str(kp, s, sizeof(s));
	if (json)
		printf("{\"valid\":\"%s\",\"expires_in_s\":%.3f,\"here\":%s,\"fleet\":%s}\n", s,
		       secs_left(v->expires_ns, now), v->src & BF_SRC_LOCAL ? "true" : "false",
		       v->src & BF_SRC_FLEET ? "true" : "false");
	else
		printf("%-44s %10.1f %s%s\n", s, secs_left(v->expires_ns, now),
		       v->src & BF_SRC_LOCAL ? "here " : "", v->src & BF_SRC_FLEET ? "fleet" : "");
}

static void conn_row(const void *kp, const void *vp, int json, uint64_t now,
		     const struct edge_map_fds *fd)
{
	const struct bf_conn_key *k = kp;
	const struct bf_conn_val *v = vp;
	char b[BF_ADDR_STRLEN], m[BF_ADDR_STRLEN];
	unsigned mp = ntohs(v->machine_port) ? ntohs(v->machine_port) : ntohs(k->bind_port);

	bf_ipv4_str(k->bind_ip, b);
	bf_ipv4_str(v->machine_ip, m);
	if (json)
		printf("{\"proto\":\"%s\",\"bind\":\"%s:%u\",\"machine\":\"%s:%u\",\"pps\":%u,"
		       "\"bps\":%llu,\"block_ms\":%u,\"share_bans\":%s,\"validate\":\"%s\"}\n",
		       bf_proto_name(k->proto), b, ntohs(k->bind_port), m, mp, v->pps,
		       (unsigned long long)v->bps, v->block_ms,
		       v->flags & BF_CONN_F_SHARE_BANS ? "true" : "false",
		       v->flags & BF_CONN_F_VALID_SRCDS	 ? "srcds" :
		       v->flags & BF_CONN_F_VALID_RAKNET ? "raknet" :
							   "none");
	else if (v->pps || v->bps)
		printf("%-5s %s:%u -> %s:%u  pps %u bps %llu block %.3gs%s\n", bf_proto_name(k->proto),
		       b, ntohs(k->bind_port), m, mp, v->pps, (unsigned long long)v->bps,
		       v->block_ms / 1e3, v->flags & BF_CONN_F_SHARE_BANS ? " shared" : "");
	else
		printf("%-5s %s:%u -> %s:%u\n", bf_proto_name(k->proto), b, ntohs(k->bind_port), m, mp);
}

/* The game machines: where their return path is accepted, their punch budget. */
static void machine_row(const void *kp, const void *vp, int json, uint64_t now,
			const struct edge_map_fds *fd)
{
	const struct bf_machine *v = vp;
	char a[BF_ADDR_STRLEN], ifn[IF_NAMESIZE] = "-";
	uint64_t live = 0;

	bf_ipv4_str(*(const uint32_t *)kp, a);
	if (v->ifindex && !if_indextoname(v->ifindex, ifn))
		snprintf(ifn, sizeof(ifn), "#%u", v->ifindex);
	bpf_map_lookup_elem(fd->punch_quota, &v->slot, &live);
	if ((int64_t)live < 0)
		live = 0;
	if (json)
		printf("{\"machine\":\"%s\",\"accepted_on\":%s%s%s,\"punches\":%llu,"
		       "\"punch_max\":%u}\n",
		       a, v->ifindex ? "\"" : "", v->ifindex ? ifn : "null", v->ifindex ? "\"" : "",
		       (unsigned long long)live, v->punch_max);
	else
		printf("%-16s %-16s %10llu %10u\n", a, ifn, (unsigned long long)live, v->punch_max);
}

static int fd_whitelist(const struct edge_map_fds *fd) { return fd->whitelist; }
static int fd_blacklist(const struct edge_map_fds *fd) { return fd->blacklist; }
static int fd_protected(const struct edge_map_fds *fd) { return fd->protected; }
static int fd_blocklist(const struct edge_map_fds *fd) { return fd->blocklist; }
static int fd_punches(const struct edge_map_fds *fd) { return fd->punches; }
static int fd_conns(const struct edge_map_fds *fd) { return fd->conns; }
static int fd_machines(const struct edge_map_fds *fd) { return fd->machines; }
static int fd_valid(const struct edge_map_fds *fd) { return fd->valid; }

#define LIST_HEADER "CIDR                  EXPIRES_S SOURCES"

static const struct dumper dumpers[] = {
	{ "conns", sizeof(struct bf_conn_key), sizeof(struct bf_conn_val), fd_conns, NULL, conn_row },
	{ "whitelist", sizeof(struct bf_cidr_key), sizeof(struct bf_list_val), fd_whitelist,
	  LIST_HEADER, list_row },
	{ "blacklist", sizeof(struct bf_cidr_key), sizeof(struct bf_list_val), fd_blacklist,
	  LIST_HEADER, list_row },
	{ "blocklist", sizeof(uint32_t), sizeof(struct bf_list_val), fd_blocklist, NULL,
	  blocklist_row },
	{ "punches", sizeof(struct bf_punch_key), sizeof(struct bf_punch_val), fd_punches, NULL,
	  punch_row },
	{ "protected", sizeof(struct bf_cidr_key), sizeof(struct bf_list_val), fd_protected,
	  LIST_HEADER, list_row },
	{ "machines", sizeof(uint32_t), sizeof(struct bf_machine), fd_machines,
	  "MACHINE          ACCEPTED_ON         PUNCHES        MAX", machine_row },
	{ "valid", sizeof(struct bf_rl_key), sizeof(struct bf_valid_val), fd_valid,
	  "CLIENT AT CONNECTION                          EXPIRES_S VALIDATED", valid_row },
};
#define N_DUMPERS (sizeof(dumpers) / sizeof(dumpers[0]))

static int dump_rules(const struct edge_map_fds *fd, int json)
{
	struct edge_rule_stat *st;
	size_t n;
	int rc = edge_maps_rule_stats(fd, &st, &n);

	if (rc)
		return rc;
	if (!json)
		printf("%-8s %-6s %-8s %14s %16s\n", "ID", "ACTION", "DRY_RUN", "PACKETS", "BYTES");
	for (size_t i = 0; i < n; i++) {
		const char *act = st[i].action == BF_RULE_DROP ? "drop" : "pass";
		int dry = !!(st[i].flags & BF_RULE_F_DRY_RUN);

		if (json)
			printf("{\"id\":%u,\"action\":\"%s\",\"dry_run\":%s,\"packets\":%llu,"
			       "\"bytes\":%llu}\n",
			       st[i].id, act, dry ? "true" : "false",
			       (unsigned long long)st[i].packets, (unsigned long long)st[i].bytes);
		else
			printf("%-8u %-6s %-8s %14llu %16llu\n", st[i].id, act, dry ? "yes" : "no",
			       (unsigned long long)st[i].packets, (unsigned long long)st[i].bytes);
	}
	free(st);
	return 0;
}

static int dump_map(const struct dumper *d, const struct edge_map_fds *fd, int json)
{
	char *k, *v;
	size_t n;
	uint64_t now = bf_mono_ns();
	int rc = edge_map_dump(d->fd(fd), d->ksz, d->vsz, (void **)&k, (void **)&v, &n);

	if (rc)
		return rc;
	if (!json && d->header)
		printf("%s\n", d->header);
	for (size_t i = 0; i < n; i++)
		d->row(k + i * d->ksz, v + i * d->vsz, json, now, fd);
	free(k);
	free(v);
	return 0;
}

const char *edge_dump_names(void)
{
	return "conns, whitelist, blacklist, blocklist, punches, protected, rules, machines";
}

int edge_dump(const char *ifname, const char *what, int json)
{
	const struct dumper *d = NULL;
	struct edge_dp dp;
	int rc;

	for (size_t i = 0; i < N_DUMPERS; i++)
		if (!strcmp(what, dumpers[i].name))
			d = &dumpers[i];
	if (!d && strcmp(what, "rules")) {
		pr_err("--dump: unknown map '%s' (%s)", what, edge_dump_names());
		return -EINVAL;
	}
	rc = edge_dp_open_pinned(&dp, ifname);
	if (rc)
		return rc;
	rc = d ? dump_map(d, &dp.fd, json) : dump_rules(&dp.fd, json);
	edge_dp_close(&dp);
	return rc;
}
