/* netprobe.h - what bf-netprobe's roles share: limits, sockets, entry points, usage. */
#ifndef BF_NETPROBE_H
#define BF_NETPROBE_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "../common.h"

#define PROG "bf-netprobe"
#define LINE_LEN 1024 /* longest TCP line */
#define EP_STRLEN 32

/* ---- shared.c ---- */

/* "a.b.c.d:port" into buf. */
const char *ep_str(uint32_t addr, uint16_t port, char buf[EP_STRLEN]);
/* A transient socket error: try again later. */
bool again(int err);
/* Polls fd until `end` (monotonic ms), a second at most. 1 ready, 0 not yet, -ETIMEDOUT, -errno. */
int wait_fd(int fd, short events, uint64_t end);
/* An IPv4 socket with SO_REUSEADDR and IP_FREEBIND, bound when bind_it. fd or -errno. */
int open_sock(int type, uint32_t addr, uint16_t port, bool bind_it);
/* A decimal in min..max. 0, -EINVAL or -ERANGE. */
int parse_num(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* After the options of a client command: nothing may be left and --to must have been
 * given. 0, or -EINVAL with the complaint on stderr. */
int args_done(int argc, char **argv, bool have_to);
/* The end of a client's option switch: 'h' (--help) prints the usage and exits 0; any
 * other is an option getopt refused (and named): the usage on stderr, -EINVAL. */
int help_or_bad_option(int opt);

/* ---- the roles: each returns the exit status (0 fine, 1 loss or failure, 2 bad usage) ---- */

int cmd_serve(int argc, char **argv);                /* serve.c */
int cmd_probe(int argc, char **argv, bool tcp);      /* probe.c: udp, tcp */
int cmd_a2s(int argc, char **argv);                  /* a2s_client.c */
int cmd_forge(int argc, char **argv);                /* forge.c; exit 2 also: no destination MAC */

/* ---- forge_dmac.c: where forge's frames go ---- */

#define FORGE_PROG PROG " forge"

/* dev's index and MAC; refuses what has no Ethernet header. 0 or -errno, the reason printed. */
int forge_dev(const char *dev, int *ifindex, uint8_t smac[6]);
/* The MAC of the next hop of the kernel's route to dst, which must leave through dev: the
 * gateway's, or dst's own when it is on the link, from the neighbour table. 0 or -errno,
 * the reason printed with what to do (--dmac, or ping the hop first). */
int forge_dmac(const char *dev, int ifindex, uint32_t dst, uint8_t dmac[6]);

/* ---- usage: main.c prints every role's part in turn ---- */

void netprobe_usage(FILE *f);
void serve_usage(FILE *f);
void serve_a2s_usage(FILE *f);                       /* serve_a2s.c: the responder's options */
void probe_usage(FILE *f);
void a2s_client_usage(FILE *f);
void forge_usage_brief(FILE *f);

#endif
