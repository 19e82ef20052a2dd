/* conf.c - bifrost-flowspec's config file (docs/OPERATIONS.md "bifrost-flowspec"). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "fsd.h"

#define CONF_ERR(...)                                                   \
	do {                                                            \
		snprintf(err, errlen, "%s:%d: " __VA_ARGS__);           \
		goto fail;                                              \
	} while (0)

static int dur(const char *v, uint64_t lo, uint64_t hi, uint64_t *out)
{
	return bf_parse_duration_ms(v, out) || *out < lo || *out > hi ? -EINVAL : 0;
}

int fs_conf_load(const char *path, struct fs_conf *c, char *err, size_t errlen)
{
	char line[1024], redis[BF_ENDPOINT_STRLEN] = "127.0.0.1", auth[PATH_MAX] = "";
	FILE *f = fopen(path, "re");
	int ln = 0;
	bool dry = c->lim.dry_run;

	memset(c, 0, sizeof(*c));
	snprintf(c->prefix, sizeof(c->prefix), "%s", BF_PREFIX_DEFAULT);
	c->min_plen = 24;
	c->mtu = 1500;
	c->lim = (struct bf_fs_limits){ .max_rules = 10, .interval_ms = 1000, .ttl_ms = 3600000,
					.max_ttl_ms = 86400000, .dry_run = dry,
					.canary_hold_ms = 60000 };
	c->poll_ms = 250;
	snprintf(c->gobgpd, sizeof(c->gobgpd), "gobgpd");
	snprintf(c->gobgp, sizeof(c->gobgp), "gobgp");
	snprintf(c->gobgpd_conf, sizeof(c->gobgpd_conf), "/etc/bifrost/gobgpd.toml");
	snprintf(c->api_host, sizeof(c->api_host), "127.0.0.1");
	c->api_port = 50051;
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -EINVAL;
	}
	while (fgets(line, sizeof(line), f)) {
		char *k, *v, *end, *save = NULL;
		uint64_t x;
		uint32_t a;

		ln++;
		if (!strchr(line, '\n') && !feof(f))
			CONF_ERR("line longer than %zu bytes", path, ln, sizeof(line) - 2);
		if ((end = strchr(line, '#')))
			*end = '\0';
		k = strtok_r(line, " \t\r\n", &save);
		if (!k)
			continue;
		v = strtok_r(NULL, " \t\r\n", &save);
		if (!v)
			CONF_ERR("%s: has no value", path, ln, k);
		if (strtok_r(NULL, " \t\r\n", &save))
			CONF_ERR("%s: one value only", path, ln, k);
		if (!strcmp(k, "id")) {
			if (!bf_origin_valid(v) || !strcmp(v, "ops"))
				CONF_ERR("id: 1-63 of A-Z a-z 0-9 - _ . (not ops)", path, ln);
			snprintf(c->id, sizeof(c->id), "%s", v);
		} else if (!strcmp(k, "redis")) {
			snprintf(redis, sizeof(redis), "%s", v);
		} else if (!strcmp(k, "redis_auth_file")) {
			snprintf(auth, sizeof(auth), "%s", v);
		} else if (!strcmp(k, "prefix")) {
			if (!bf_prefix_valid(v))
				CONF_ERR("prefix: 1-32 of A-Z a-z 0-9 _ - . : ending in ':'", path, ln);
			snprintf(c->prefix, sizeof(c->prefix), "%s", v);
		} else if (!strcmp(k, "announce") || !strcmp(k, "protect")) {
			bool ann = k[0] == 'a';
			struct bf_cidr *to = ann ? &c->announce[c->n_announce] : &c->protect[c->n_protect];

			if ((ann ? c->n_announce : c->n_protect) == (ann ? FS_ANNOUNCE_MAX : FS_PROTECT_MAX))
				CONF_ERR("%s: too many lines", path, ln, k);
			if (bf_parse_cidr4(v, false, to))
				CONF_ERR("%s: '%s' is not an IPv4 CIDR (a.b.c.d/len, no host bits set)",
					 path, ln, k, v);
			if (ann && to->plen < 8)
				CONF_ERR("announce: %s is wider than /8", path, ln, v);
			ann ? c->n_announce++ : c->n_protect++;
		} else if (!strcmp(k, "peer") || !strcmp(k, "local")) {
			if (c->n_bgp == FS_BGP_MAX)
				CONF_ERR("%s: too many peer and local lines", path, ln, k);
			if (bf_parse_ipv4(v, &a))
				CONF_ERR("%s: '%s' is not an IPv4 address", path, ln, k, v);
			c->bgp[c->n_bgp++] = a;
			c->n_peers += k[0] == 'p';
		} else if (!strcmp(k, "min_prefix_len")) {
			if (bf_parse_u64(v, 32, &x) || x < 8)
				CONF_ERR("min_prefix_len: 8-32", path, ln);
			c->min_plen = (uint8_t)x;
		} else if (!strcmp(k, "mtu")) {
			if (bf_parse_u64(v, 9216, &x) || x < 68)
				CONF_ERR("mtu: 68-9216", path, ln);
			c->mtu = (uint16_t)x;
		} else if (!strcmp(k, "max_rules")) {
			if (bf_parse_u64(v, BF_FS_RULES_MAX, &x) || !x)
				CONF_ERR("max_rules: 1-%d", path, ln, BF_FS_RULES_MAX);
			c->lim.max_rules = (size_t)x;
		} else if (!strcmp(k, "rate")) {
			if (dur(v, 100, 3600000, &c->lim.interval_ms))
				CONF_ERR("rate: the time between two new routes, 100ms-1h", path, ln);
		} else if (!strcmp(k, "ttl") || !strcmp(k, "max_ttl")) {
			if (dur(v, BF_RULE_FS_TTL_MIN_MS, BF_RULE_FS_TTL_MAX_MS,
				k[0] == 't' ? &c->lim.ttl_ms : &c->lim.max_ttl_ms))
				CONF_ERR("%s: 1s-7d", path, ln, k);
		} else if (!strcmp(k, "canary")) {
			if (!bf_origin_valid(v))
				CONF_ERR("canary: a POP id", path, ln);
			snprintf(c->canary, sizeof(c->canary), "%s", v);
		} else if (!strcmp(k, "canary_hold")) {
			if (dur(v, 0, 86400000, &c->lim.canary_hold_ms))
				CONF_ERR("canary_hold: 0-1d", path, ln);
		} else if (!strcmp(k, "dry_run")) {
			if (strcmp(v, "yes") && strcmp(v, "no"))
				CONF_ERR("dry_run: yes or no", path, ln);
			c->lim.dry_run |= v[0] == 'y';
		} else if (!strcmp(k, "poll")) {
			if (dur(v, 50, 10000, &c->poll_ms))
				CONF_ERR("poll: 50ms-10s", path, ln);
		} else if (!strcmp(k, "speaker")) {
			if (!strcmp(v, "gobgpd"))
				c->speaker = FS_SPEAKER_SPAWN;
			else if (!strcmp(v, "external"))
				c->speaker = FS_SPEAKER_EXTERNAL;
			else
				CONF_ERR("speaker: gobgpd (run it as our child) or external", path, ln);
		} else if (!strcmp(k, "gobgpd") || !strcmp(k, "gobgp") || !strcmp(k, "gobgpd_config")) {
			char *to = !strcmp(k, "gobgpd") ? c->gobgpd : !strcmp(k, "gobgp") ? c->gobgp :
											     c->gobgpd_conf;

			if (strlen(v) >= PATH_MAX)
				CONF_ERR("%s: path too long", path, ln, k);
			snprintf(to, PATH_MAX, "%s", v);
		} else if (!strcmp(k, "gobgp_api") || !strcmp(k, "metrics")) {
			uint16_t port;

			if (bf_parse_endpoint(v, false, &a, &port))
				CONF_ERR("%s: want a.b.c.d:port", path, ln, k);
			if (k[0] == 'g') {
				bf_ipv4_str(a, c->api_host);
				c->api_port = port;
			} else {
				c->metrics_addr = a;
				c->metrics_port = port;
			}
		} else {
			CONF_ERR("unknown setting '%s'", path, ln, k);
		}
	}
	fclose(f);
	f = NULL;
	if (!c->id[0])
		CONF_ERR("id: missing (this POP's id, as its edge's)", path, ln);
	if (!c->n_announce)
		CONF_ERR("announce: at least one prefix this POP announces is needed", path, ln);
	if (!c->n_peers && !c->lim.dry_run)
		CONF_ERR("peer: at least one BGP peer address is needed (or dry_run yes)", path, ln);
	if (c->lim.ttl_ms > c->lim.max_ttl_ms)
		CONF_ERR("ttl is longer than max_ttl", path, ln);
	c->lim.follow_canary = c->canary[0] && strcmp(c->canary, c->id);
	if (bf_endpoint_parse(redis, &c->redis, err, errlen))
		return -EINVAL;
	if (bf_endpoint_credentials(&c->redis, auth[0] ? auth : NULL, err, errlen))
		return -EINVAL;
	bf_endpoint_str(&c->redis, c->where, sizeof(c->where));
	return 0;
fail:
	if (f)
		fclose(f);
	return -EINVAL;
}
