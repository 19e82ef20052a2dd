/* conn.c - bifrostctl conn add|del|list: the services the fleet publishes, one HASH each. */
#include <errno.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"
#include "text.h"

#define LIMIT_FIELDS 8
#define LIMITS_TEXT 160

/* "preset rust block 60s" -> validated limits, written back as canonical text (every
 * value) into out; errors name the field. */
static int parse_limits(const char *text, struct bf_conn *cn, char *out, size_t len)
{
	struct bf_field f[LIMIT_FIELDS];
	char buf[LIMITS_TEXT], *save = NULL, *name, *val;
	const char *what = "";
	size_t n = 0;

	if (strlen(text) >= sizeof(buf)) {
		fprintf(stderr, CTL_PROG ": --limits: too long\n");
		return -EINVAL;
	}
	snprintf(buf, sizeof(buf), "%s", text);
	for (name = strtok_r(buf, " ", &save); name; name = strtok_r(NULL, " ", &save)) {
		val = strtok_r(NULL, " ", &save);
		if (!val || n == LIMIT_FIELDS) {
			fprintf(stderr,
				CTL_PROG ": --limits: want NAME VALUE pairs (pps, bps, block, "
					 "burst, preset, share_bans)\n");
			return -EINVAL;
		}
		f[n++] = (struct bf_field){ name, strlen(name), val, strlen(val) };
	}
	for (size_t i = 0; i < n; i++)
		if (!bf_field_is_limit(&f[i])) {
			fprintf(stderr,
				CTL_PROG ": --limits: unknown field '%s' (pps, bps, block, "
					 "burst, preset, share_bans)\n",
				f[i].name);
			return -EINVAL;
		}
	if (bf_limits_parse_fields(f, n, cn->proto, &cn->limits, &what)) {
		fprintf(stderr, CTL_PROG ": --limits: %s\n", what);
		return -EINVAL;
	}
	if (bf_limits_format(&cn->limits, out, len) < 0)
		return -EINVAL;
	return 0;
}

/* conn add (machine set) or conn del (machine NULL): the hash is replaced whole. */
static int conn_write(const struct ctl *c, const char *proto, const char *bind, const char *machine)
{
	char key[BF_KEY_MAX], err[128], mport[8] = "", lim[LIMITS_TEXT] = "", m[BF_ADDR_STRLEN];
	char what[BF_KEY_MAX + 16];
	struct ctl_argv cmd[2] = { { 2, { "DEL", key } }, { 4, { "HSET", key, "machine", m } } };
	struct bf_conn cn;
	char *save = NULL, *t;

	/* A del names no machine: parse with a placeholder one. */
	if (bf_conn_parse(proto, bind, machine ? machine : "192.0.2.1", &cn, err, sizeof(err))) {
		fprintf(stderr, CTL_PROG ": %s\n", err);
		return -EINVAL;
	}
	if (c->a2s && (!machine || cn.proto != IPPROTO_UDP)) {
		fprintf(stderr, CTL_PROG ": --a2s goes with conn add udp\n");
		return -EINVAL;
	}
	/* main.c took only a module's name: 0 none, else a module */
	int module = c->validate ? bf_validate_parse(c->validate, strlen(c->validate)) : 0;

	if (c->validate && (!machine || (module > 0 && cn.proto != IPPROTO_UDP))) {
		fprintf(stderr, CTL_PROG ": --validate goes with conn add udp\n");
		return -EINVAL;
	}
	if (c->limits && (!machine || parse_limits(c->limits, &cn, lim, sizeof(lim))))
		return -EINVAL;
	bf_key_conn(key, sizeof(key), c->prefix, cn.proto, cn.bind_ip, cn.bind_port);
	bf_ipv4_str(cn.machine_ip, m);
	if (cn.machine_port) {
		snprintf(mport, sizeof(mport), "%u", cn.machine_port);
		cmd[1].argv[cmd[1].argc++] = "port";
		cmd[1].argv[cmd[1].argc++] = mport;
	}
	if (c->a2s) {
		cmd[1].argv[cmd[1].argc++] = "a2s";
		cmd[1].argv[cmd[1].argc++] = "1";
	}
	if (module > 0) {
		cmd[1].argv[cmd[1].argc++] = "validate";
		cmd[1].argv[cmd[1].argc++] = c->validate;
	}
	/* The canonical limits are name/value pairs: one HSET field each. */
	for (t = strtok_r(lim, " ", &save); t && cmd[1].argc < CTL_ARGV_MAX;
	     t = strtok_r(NULL, " ", &save))
		cmd[1].argv[cmd[1].argc++] = t;
	snprintf(what, sizeof(what), "the change of %s", key);
	if (ctl_conf_change(c, cmd, machine ? 2 : 1, what))
		return -EIO;
	if (c->json)
		printf("{\"ok\":true,\"key\":\"%s\",\"op\":\"%s\"}\n", key,
		       machine ? "add" : "del");
	else
		printf("%s %s (edges apply it within a second)\n", machine ? "set" : "removed",
		       key);
	return 0;
}

int ctl_conn_add(const struct ctl *c, int argc, char **argv)
{
	return conn_write(c, argv[2], argv[3], argv[4]);
}

int ctl_conn_del(const struct ctl *c, int argc, char **argv)
{
	return conn_write(c, argv[2], argv[3], NULL);
}

/* One connection hash, or why edges ignore it. */
static int conn_one(const struct ctl *c, redisContext *rc, const redisReply *k, void *shown)
{
	redisReply *h = redisCommand(rc, "HGETALL %b", k->str, k->len);
	struct bf_field f[16];
	struct bf_conn cn;
	const char *what = "not a hash";
	char b[BF_ADDR_STRLEN], m[BF_ADDR_STRLEN], kbuf[BF_KEY_MAX * 6], lim[LIMITS_TEXT] = "";
	size_t nf = 0;
	int bad = bf_conn_parse_key(k->str, k->len, c->prefix, &cn);

	for (size_t j = 0;
	     !bad && h && h->type == REDIS_REPLY_ARRAY && j + 1 < h->elements && nf < 16; j += 2)
		f[nf++] = (struct bf_field){ h->element[j]->str, h->element[j]->len,
					     h->element[j + 1]->str, h->element[j + 1]->len };
	if (!bad)
		bad = bf_conn_parse_fields(f, nf, &cn, &what);
	if (!bad)
		bf_limits_format(&cn.limits, lim, sizeof(lim));
	if (bad && c->json)
		printf("{\"key\":\"%s\",\"error\":\"%s\"}\n",
		       ctl_safe(c, k->str, k->len, kbuf, sizeof(kbuf)), what);
	else if (bad)
		printf("%s: INVALID (%s): edges ignore it\n",
		       ctl_safe(c, k->str, k->len, kbuf, sizeof(kbuf)), what);
	else if (c->json)
		printf("{\"proto\":\"%s\",\"bind\":\"%s:%u\",\"machine\":\"%s\",\"port\":%u,"
		       "\"a2s\":%s,\"validate\":\"%s\",\"limits\":\"%s\"}\n",
		       bf_proto_name(cn.proto), bf_ipv4_str(cn.bind_ip, b), cn.bind_port,
		       bf_ipv4_str(cn.machine_ip, m),
		       cn.machine_port ? cn.machine_port : cn.bind_port, cn.a2s ? "true" : "false",
		       bf_validate_name(cn.validate), lim);
	else {
		char bind[32], mach[32];

		snprintf(bind, sizeof(bind), "%s:%u", bf_ipv4_str(cn.bind_ip, b), cn.bind_port);
		snprintf(mach, sizeof(mach), "%s:%u", bf_ipv4_str(cn.machine_ip, m),
			 cn.machine_port ? cn.machine_port : cn.bind_port);
		printf("%-5s %-22s %-22s %-4s %-8s %s\n", bf_proto_name(cn.proto), bind, mach,
		       cn.a2s ? "yes" : "-", cn.validate ? bf_validate_name(cn.validate) : "-",
		       lim[0] ? lim : "-");
	}
	(*(size_t *)shown)++;
	freeReplyObject(h);
	return 0;
}

int ctl_conn_list(const struct ctl *c, int argc, char **argv)
{
	redisContext *rc = ctl_connect(c);
	size_t shown = 0;

	if (!rc)
		return -EIO;
	ctl_text(c, "%-5s %-22s %-22s %-4s %-8s %s\n", "PROTO", "BIND", "MACHINE", "A2S",
		 "VALIDATE", "LIMITS");
	ctl_scan(c, rc, "conn:*", conn_one, &shown);
	ctl_text(c, "(%zu connections)\n", shown);
	redisFree(rc);
	return 0;
}
