/* dump.h - bifrost-edge's read-only modes: the counters and maps of the
 * running edge whose first interface is ifname (from its pins). */
#ifndef EDGE_DUMP_H
#define EDGE_DUMP_H

/* --stats: the verdict counters. 0 or -errno. */
int edge_dump_stats(const char *ifname, int json);
/* --dump MAP. -EINVAL for an unknown map (logged with the known ones). */
int edge_dump(const char *ifname, const char *what, int json);
/* "conns, whitelist, ...": the maps --dump knows, for messages. */
const char *edge_dump_names(void);

#endif
