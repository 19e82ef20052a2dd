/* ctl.h - what bifrostctl's files share: struct ctl, the command table's shape, the helpers. */
#ifndef BF_CTL_H
#define BF_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "endpoint.h"
#include "schema.h"

struct redisContext;
struct redisReply;

#define CTL_PROG "bifrostctl"
#define CTL_TIMEOUT_MS 2000 /* connecting, and each command of a blocking connection */

/* Exit statuses: --help lists them. */
enum { CTL_EXIT_OK = 0, CTL_EXIT_FAIL = 1, CTL_EXIT_USAGE = 2 };

/* The command line, parsed once; commands only read it. */
struct ctl {
	struct bf_endpoint ep;		/* --redis or $BIFROST_REDIS, and the credentials */
	const char *auth_file;		/* --auth-file (NULL: from the environment) */
	char where[BF_ENDPOINT_STRLEN]; /* ep as host:port, for messages */
	char prefix[BF_PREFIX_MAX + 1]; /* --prefix: every key starts with it */
	bool json;
	uint64_t ttl_ms;    /* --ttl; 0 = permanent */
	const char *reason; /* --reason */
	long count;	    /* --count; 0 = no limit */
	int timeout_s;	    /* --timeout; 0 = none */
	bool a2s;	    /* conn add --a2s */
	const char *validate; /* conn add --validate none|srcds|raknet */
	const char *limits; /* conn add --limits "preset rust block 60s" */
	bool force;	    /* --force: write a wl/bl/protect prefix wider than edges take */
};

/* One command of the table in main.c. argv holds every word that is not a flag: the
 * group, the name (when there is one), then the operands. run returns 0, -EINVAL for
 * bad usage (exit 2) or another -errno (exit 1), having said why on stderr. */
struct ctl_cmd {
	const char *group;
	const char *name; /* NULL: the group alone is the command; "add|del": either word */
	int (*run)(const struct ctl *c, int argc, char **argv);
	int min_args, max_args; /* operands; max_args -1: any number (a rule's words) */
	const char *usage;	/* operands and flags, as --help shows them after group and name */
	const char *help;	/* for --help; each '\n' starts a line of its own under the first */
};

/* ---- the commands, by file ---- */

/* lists.c */
int ctl_list_write(const struct ctl *c, int argc, char **argv); /* wl|bl add|del CIDR */
int ctl_list_show(const struct ctl *c, int argc, char **argv);	/* wl|bl|punch|valid list */
int ctl_valid_count(const struct ctl *c, int argc, char **argv);
/* conn.c */
int ctl_conn_add(const struct ctl *c, int argc, char **argv);
int ctl_conn_del(const struct ctl *c, int argc, char **argv);
int ctl_conn_list(const struct ctl *c, int argc, char **argv);
/* rules.c */
int ctl_rule_add(const struct ctl *c, int argc, char **argv);
int ctl_rule_del(const struct ctl *c, int argc, char **argv);
int ctl_rule_list(const struct ctl *c, int argc, char **argv);
int ctl_rule_stats(const struct ctl *c, int argc, char **argv);
int ctl_protect_write(const struct ctl *c, int argc, char **argv); /* protect add|del CIDR */
int ctl_protect_list(const struct ctl *c, int argc, char **argv);
/* flowspec.c */
int ctl_flowspec_list(const struct ctl *c, int argc, char **argv);
/* edges.c */
int ctl_edges(const struct ctl *c, int argc, char **argv);
int ctl_watch(const struct ctl *c, int argc, char **argv);
/* stats.c */
int ctl_stats(const struct ctl *c, int argc, char **argv);
int ctl_stats_watch(const struct ctl *c, int argc, char **argv);
int ctl_top(const struct ctl *c, int argc, char **argv);
/* functions.c */
/* wl|bl add|del through FCALL bifrost_add|bifrost_del (the library is loaded when missing).
 * 0, or -EIO once stderr said why. */
int ctl_fcall_write(const struct ctl *c, enum bf_op op, const struct bf_entry *e);
int ctl_functions(const struct ctl *c, int argc, char **argv); /* functions load|status */
int ctl_prune(const struct ctl *c, int argc, char **argv);     /* prune */
/* a2s.c */
int ctl_a2s_list(const struct ctl *c, int argc, char **argv);
int ctl_a2s_show(const struct ctl *c, int argc, char **argv);
/* acl.c */
int ctl_acl(const struct ctl *c, int argc, char **argv); /* acl edge|flowspec ID, acl ops|... */

/* ---- common.c ---- */

/* 1-BF_PREFIX_MAX of A-Z a-z 0-9 _ : . -, ending in ':' (none of them special in a SCAN
 * or PSUBSCRIBE pattern). */
bool ctl_prefix_valid(const char *s);

/* The exit status for what a command returned. */
int ctl_exit_status(int err);
/* Says why TEXT is not a usable CIDR (err from bf_parse_cidr4 / bf_entry_parse); returns err. */
int ctl_cidr_error(const char *text, int err);
/* A prefix wider than /min, which every edge with the default min_prefix KEY refuses:
 * -EINVAL once stderr said so, unless --force; 0 otherwise. */
int ctl_prefix_check(const struct ctl *c, const struct bf_cidr *p, unsigned min, const char *key);

/* The blocking connection every read and config write uses: connected and logged in
 * within CTL_TIMEOUT_MS, or NULL once stderr says why ("cannot reach Redis at ..."). */
struct redisContext *ctl_connect(const struct ctl *c);

/* A key with no builder in schema.h: the prefix, then fmt. Its length, or -ENAMETOOLONG. */
int ctl_key(const struct ctl *c, char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The origins that may hold entries: "ops" first, then every valid id of <prefix>edges.
 * 0 or -EIO/-ENOMEM; ctl_origins_free frees them. */
int ctl_origins(const struct ctl *c, struct redisContext *rc, char ***out, size_t *n);
void ctl_origins_free(char **o, size_t n);
/* ctl_connect, then ctl_origins: 0 with both, or neither and -ENOTCONN (stderr said why)
 * or -EIO (nothing said: the caller may). */
int ctl_connect_origins(const struct ctl *c, struct redisContext **rc, char ***o, size_t *n);

/* Connected and subscribed to the channels <prefix><match> (PSUBSCRIBE), each read then
 * waiting read_timeout_ms at most; NULL once stderr said why. */
struct redisContext *ctl_psubscribe(const struct ctl *c, const char *match, int read_timeout_ms);
/* Whether r is a message of such a subscription with a string payload (element 2 is the
 * channel, 3 the payload). */
bool ctl_is_pmessage(const struct redisReply *r);

/* Calls each(c, rc, key, ctx) for every key matching <prefix><match> (SCAN, so Redis is
 * never blocked by KEYS); stops early when each returns < 0, returning that. -EIO when
 * a SCAN fails. */
typedef int (*ctl_scan_cb)(const struct ctl *c, struct redisContext *rc,
			   const struct redisReply *key, void *ctx);
int ctl_scan(const struct ctl *c, struct redisContext *rc, const char *match, ctl_scan_cb each,
	     void *ctx);

/* MULTI on rc: 0, or -ENOTSUP once stderr said why Redis refused it (then nothing may be
 * sent that was meant for the transaction: it would run at once). */
int ctl_multi(const struct ctl *c, struct redisContext *rc);

/* One change of the fleet's config: the commands (each an argument vector), then INCR
 * <prefix>conf:version, in one MULTI/EXEC, so edges pick the change up within a second.
 * 0, or -EIO once stderr said "Redis refused <what>". */
#define CTL_ARGV_MAX 24
struct ctl_argv {
	int argc;
	const char *argv[CTL_ARGV_MAX];
};
int ctl_conf_change(const struct ctl *c, const struct ctl_argv *cmds, size_t n, const char *what);
/* After a write, on a Sentinel endpoint: WAIT for one replica, and say so on stderr when
 * none confirmed it (the write stands). */
void ctl_replicated(const struct ctl *c, struct redisContext *rc, const char *what);

/* printf to stdout in text mode only: table headers and footers, which --json leaves out. */
void ctl_text(const struct ctl *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Untrusted bytes from Redis made safe for the output: the body of a JSON string with
 * --json, printable ASCII on a terminal. Returns buf. */
const char *ctl_safe(const struct ctl *c, const char *s, size_t n, char *buf, size_t cap);

#endif
