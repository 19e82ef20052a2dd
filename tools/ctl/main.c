/* main.c - bifrostctl's global flags, its command table (--help comes from it) and dispatch. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

#define MAX_WORDS 5 /* group, name and operands; a rule's words are not counted */
#define HELP_COL 47 /* where --help's descriptions start, after two spaces */

/* The order is --help's. */
static const struct ctl_cmd cmds[] = {
	{ "wl", "add", ctl_list_write, 1, 1, "CIDR [--ttl DURATION] [--reason TEXT] [--force]",
	  "whitelist for every POP (at most /16 wide\nunless --force)" },
	{ "wl", "del", ctl_list_write, 1, 1, "CIDR", "" },
	{ "wl", "list", ctl_list_show, 0, 0, "", "every origin's live entries" },
	{ "bl", "add", ctl_list_write, 1, 1, "CIDR [--ttl DURATION] [--reason TEXT] [--force]",
	  "blacklist for every POP (at most /8 wide\nunless --force)" },
	{ "bl", "del", ctl_list_write, 1, 1, "CIDR", "" },
	{ "bl", "list", ctl_list_show, 0, 0, "", "" },
	{ "punch", "list", ctl_list_show, 0, 0, "", "live port punches of every POP" },
	{ "valid", "list", ctl_list_show, 0, 0, "",
	  "clients validated by a game handshake\n(validate srcds|raknet), by POP" },
	{ "valid", "count", ctl_valid_count, 0, 0, "", "validated clients per POP and connection" },
	{ "conn", "add", ctl_conn_add, 3, 3,
	  "PROTO BIND MACHINE[:PORT] [--a2s] [--validate MODULE] [--limits TEXT]",
	  "publish a service, e.g.\n"
	  "conn add udp 203.0.113.10:27015 198.18.3.2\n"
	  "--a2s: answer A2S_INFO from the fleet cache\n"
	  "--validate srcds|raknet: only clients that\n"
	  "completed the game's handshake play\n"
	  "--limits: per-source limits, e.g.\n"
	  "\"preset source\" or \"pps 2000 block 30s\"" },
	{ "conn", "del", ctl_conn_del, 2, 2, "PROTO BIND", "" },
	{ "conn", "list", ctl_conn_list, 0, 0, "", "" },
	{ "rule", "add", ctl_rule_add, 2, -1, "ID FIELD VALUE...",
	  "firewall rule, priority = ID (lower first),\n"
	  "e.g. rule add 10 action drop proto udp dport 53;\n"
	  "one that drops every packet needs 'all yes'" },
	{ "rule", "del", ctl_rule_del, 1, 1, "ID", "" },
	{ "rule", "list", ctl_rule_list, 0, 0, "", "the rules, and any that do not validate" },
	{ "rule", "stats", ctl_rule_stats, 0, 0, "", "packets/bytes each rule matched, per edge" },
	{ "protect", "add|del", ctl_protect_write, 1, 1, "CIDR [--force]",
	  "prefixes no ban or drop rule may block\n(at most /8 wide unless --force)" },
	{ "protect", "list", ctl_protect_list, 0, 0, "", "" },
	{ "flowspec", "list", ctl_flowspec_list, 0, 0, "",
	  "per POP: the rules its bifrost-flowspec\n"
	  "announces, waits on or refused (and why)" },
	{ "edges", NULL, ctl_edges, 0, 0, "", "POPs: alive, last seen, version, XDP mode" },
	{ "a2s", "list", ctl_a2s_list, 0, 0, "", "the A2S cache: name, map, players, TTL" },
	{ "a2s", "show", ctl_a2s_show, 1, 1, "BIND", "one server's cached replies, parsed" },
	{ "watch", NULL, ctl_watch, 0, 0, "[--count N] [--timeout SECONDS]",
	  "decoded event channel, live" },
	{ "stats", NULL, ctl_stats, 0, 0, "", "per-edge rates, drops, sync: one shot" },
	{ "stats", "watch", ctl_stats_watch, 0, 0, "[--count N] [--timeout SECONDS]",
	  "decoded stats frames of every edge, live" },
	{ "top", NULL, ctl_top, 0, 0, "", "stats live, 80 columns (q or Ctrl-C quits)" },
	{ "functions", "load", ctl_functions, 0, 0, "",
	  "load the bus's Redis Functions (bifrost_add, ...)\n"
	  "into Redis; again after every upgrade" },
	{ "functions", "status", ctl_functions, 0, 0, "", "loaded, and the same as this build's?" },
	{ "prune", NULL, ctl_prune, 0, 0, "",
	  "remove the ops lists' expired entries from Redis\n"
	  "(the edges prune their own each second)" },
	{ "acl", "edge|flowspec", ctl_acl, 1, 1, "ID",
	  "the ACL SETUSER line of a user (| redis-cli):\n"
	  "name and password from --auth-file, the\n"
	  "password as its SHA-256 (docs/REDIS.md)" },
	{ "acl", "ops|refresher|inspector", ctl_acl, 0, 0, "", "" },
};
#define N_CMDS (sizeof(cmds) / sizeof(cmds[0]))

/* "  group name usage", then the help, its first line beside (or under a long usage),
 * the others under it. */
static void usage_cmd(FILE *f, const struct ctl_cmd *cmd)
{
	char line[128];
	const char *h = cmd->help, *nl;
	int n = snprintf(line, sizeof(line), "%s%s%s%s%s", cmd->group, cmd->name ? " " : "",
			 cmd->name ? cmd->name : "", cmd->usage[0] ? " " : "", cmd->usage);

	if (!h[0]) {
		fprintf(f, "  %s\n", line);
		return;
	}
	if (n < HELP_COL)
		fprintf(f, "  %-*s", HELP_COL, line);
	else
		fprintf(f, "  %s\n%*s", line, HELP_COL + 2, "");
	while ((nl = strchr(h, '\n'))) {
		fprintf(f, "%.*s\n%*s", (int)(nl - h), h, HELP_COL + 2, "");
		h = nl + 1;
	}
	fprintf(f, "%s\n", h);
}

/* Everything goes through Redis (docs/REDIS.md shows the same with redis-cli); writes go
 * out as origin "ops". */
static void usage(FILE *f)
{
	fprintf(f, "Usage: " CTL_PROG " [--redis HOST:PORT] [--auth-file FILE] [--prefix PREFIX]\n"
		   "       [--json] COMMAND ...\n"
		   "Steers the Bifrost fleet through Redis (default 127.0.0.1:6379, or "
		   "$BIFROST_REDIS).\n\n");
	for (size_t i = 0; i < N_CMDS; i++)
		usage_cmd(f, &cmds[i]);
	fprintf(f,
		"\n"
		"DURATION: 30s, 5m, 2h, 1d (no --ttl: permanent). --json prints one JSON object per\n"
		"line. Exit status: 0 done, 1 Redis unreachable or refused (the login, or a\n"
		"command: NOPERM), 2 bad usage or an unusable credentials file.\n"
		"--redis: a name, a.b.c.d or [IPv6], then :PORT (default 6379); or Redis\n"
		"Sentinel: sentinel:MASTER@HOST[:PORT],... (port 26379 unless given).\n"
		"--auth-file: the login, a file of 'user NAME' and 'password SECRET' lines, mode\n"
		"0600; without it $BIFROST_REDIS_USER and $REDISCLI_AUTH (the password) are used.\n"
		"A password is never read from a flag.\n"
		"--prefix: what every key starts with (default " BF_PREFIX_DEFAULT "): 1-%d "
		"characters of\n"
		"A-Z a-z 0-9 _ : . - ending in ':'.\n",
		BF_PREFIX_MAX);
}

/* Whether word is name or one of its '|' alternatives ("add|del"). */
static bool name_is(const char *name, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = name; p; p = strchr(p, '|') ? strchr(p, '|') + 1 : NULL)
		if (!strncmp(p, word, n) && (p[n] == '\0' || p[n] == '|'))
			return true;
	return false;
}

/* The command the words name, with as many operands as it takes; NULL if none. With
 * variadic, only a command whose operands are not counted (rule add), however many. */
static const struct ctl_cmd *find(int nw, char **w, bool variadic)
{
	for (size_t i = 0; i < N_CMDS; i++) {
		const struct ctl_cmd *cmd = &cmds[i];
		int used = cmd->name ? 2 : 1, ops = nw - used;

		if (strcmp(w[0], cmd->group) || nw < used ||
		    (cmd->name && !name_is(cmd->name, w[1])))
			continue;
		if (variadic ? cmd->max_args < 0
			     : ops >= cmd->min_args && (cmd->max_args < 0 || ops <= cmd->max_args))
			return cmd;
	}
	return NULL;
}

/* A whole number flag up to max; -EINVAL once stderr said what it wants. */
static int number_flag(const char *flag, const char *arg, uint64_t max, uint64_t *out)
{
	if (bf_parse_u64(arg, max, out)) {
		fprintf(stderr, CTL_PROG ": %s\n", flag);
		return -EINVAL;
	}
	return 0;
}

/* One flag into c; -EINVAL once stderr said why. */
static int set_flag(struct ctl *c, int opt, const char *arg, const char **redis)
{
	uint64_t v;

	switch (opt) {
	case 'r':
		*redis = arg;
		return 0;
	case 'p':
		if (!ctl_prefix_valid(arg)) {
			fprintf(stderr, CTL_PROG ": --prefix: want 1-%d of A-Z a-z 0-9 _ : . - ending in "
					 "':', got '%s'\n", BF_PREFIX_MAX, arg);
			return -EINVAL;
		}
		snprintf(c->prefix, sizeof(c->prefix), "%s", arg);
		return 0;
	case 'j':
		c->json = true;
		return 0;
	case 't':
		if (bf_parse_duration_ms(arg, &c->ttl_ms) || !c->ttl_ms) {
			fprintf(stderr, CTL_PROG ": --ttl: bad duration '%s' (30s, 5m, 2h, 1d)\n",
				arg);
			return -EINVAL;
		}
		return 0;
	case 'w':
		if (strlen(arg) > BF_WHY_MAX || strpbrk(arg, " \t\n")) {
			fprintf(stderr, CTL_PROG ": --reason: one word of at most %d bytes\n",
				BF_WHY_MAX);
			return -EINVAL;
		}
		c->reason = arg;
		return 0;
	case 'n':
		if (number_flag("--count: a number", arg, 1000000, &v))
			return -EINVAL;
		c->count = (long)v;
		return 0;
	case 'T':
		if (number_flag("--timeout: seconds", arg, 86400, &v))
			return -EINVAL;
		c->timeout_s = (int)v;
		return 0;
	case 'a':
		c->a2s = true;
		return 0;
	case 'l':
		c->limits = arg;
		return 0;
	case 'V':
		if (bf_validate_parse(arg, strlen(arg)) < 0) {
			fprintf(stderr, CTL_PROG ": --validate: none, srcds or raknet\n");
			return -EINVAL;
		}
		c->validate = arg;
		return 0;
	case 'f':
		c->force = true;
		return 0;
	case 'A':
		c->auth_file = arg;
		return 0;
	}
	return -EINVAL;
}

/* --redis (or $BIFROST_REDIS) and the credentials (--auth-file, else the environment) into
 * c->ep. */
static int set_endpoint(struct ctl *c, const char *redis)
{
	char err[BF_ENDPOINT_STRLEN + 512];

	if (bf_endpoint_parse(redis ? redis : "127.0.0.1:6379", &c->ep, err, sizeof(err))) {
		fprintf(stderr, CTL_PROG ": --redis: %s\n", err);
		return -EINVAL;
	}
	if (bf_endpoint_credentials(&c->ep, c->auth_file, err, sizeof(err))) {
		fprintf(stderr, CTL_PROG ": %s\n", err);
		return -EINVAL;
	}
	bf_endpoint_str(&c->ep, c->where, sizeof(c->where));
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "redis", required_argument, NULL, 'r' }, { "json", no_argument, NULL, 'j' },
		{ "ttl", required_argument, NULL, 't' },   { "reason", required_argument, NULL, 'w' },
		{ "count", required_argument, NULL, 'n' }, { "timeout", required_argument, NULL, 'T' },
		{ "a2s", no_argument, NULL, 'a' },	   { "help", no_argument, NULL, 'h' },
		{ "limits", required_argument, NULL, 'l' }, { "prefix", required_argument, NULL, 'p' },
		{ "auth-file", required_argument, NULL, 'A' }, { "force", no_argument, NULL, 'f' },
		{ "validate", required_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct ctl c = { .prefix = BF_PREFIX_DEFAULT };
	const char *redis = getenv("BIFROST_REDIS");
	const struct ctl_cmd *cmd;
	char **w;
	int opt, nw;

	/* GNU getopt permutes: flags may come anywhere ("bl add X --ttl 1h"). */
	while ((opt = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		if (opt == 'h') {
			usage(stdout);
			return CTL_EXIT_OK;
		}
		if (opt == '?') {
			usage(stderr);
			return CTL_EXIT_USAGE;
		}
		if (set_flag(&c, opt, optarg, &redis))
			return CTL_EXIT_USAGE;
	}
	w = argv + optind;
	nw = argc - optind;
	/* "rule add ID FIELD VALUE...": the words of the rule are not counted. */
	if (nw > MAX_WORDS && !find(nw, w, true)) {
		fprintf(stderr, CTL_PROG ": too many arguments (see --help)\n");
		return CTL_EXIT_USAGE;
	}
	if (set_endpoint(&c, redis))
		return CTL_EXIT_USAGE;
	if (!nw) {
		usage(stderr);
		return CTL_EXIT_USAGE;
	}
	cmd = find(nw, w, false);
	if (!cmd) {
		fprintf(stderr, CTL_PROG ": unknown command '%s%s%s' (see --help)\n", w[0],
			nw > 1 ? " " : "", nw > 1 ? w[1] : "");
		return CTL_EXIT_USAGE;
	}
	return ctl_exit_status(cmd->run(&c, nw, w));
}
