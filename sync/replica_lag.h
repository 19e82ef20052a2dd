/* replica_lag.h - whether a read replica keeps up with its primary: INFO
 * replication read on both, and the decision an edge makes from it (pure:
 * no I/O, unit-tested in tests/unit/test_replica_lag.c). */
#ifndef BF_REPLICA_LAG_H
#define BF_REPLICA_LAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What INFO replication says of one node. */
struct bf_repl_info {
	bool is_replica;   /* role:slave */
	bool link_up;      /* master_link_status:up (a replica only) */
	long long offset;  /* a replica's slave_repl_offset, a primary's master_repl_offset;
			    * -1 when absent */
	char replid[41];   /* master_replid: the history it holds ("" when absent) */
	char replid2[41];  /* master_replid2: the one before a failover ("" or zeros) */
};

/* Parses the text of INFO replication ("role:master\r\n..."); lines it does
 * not know are skipped. 0, or -EINVAL when there is no role line or an
 * offset is not a number. */
int bf_repl_info_parse(const char *text, size_t len, struct bf_repl_info *ri);

/* The primary's offsets as sampled over the last half minute (a ring). */
#define BF_LAG_SAMPLES 64
struct bf_lag {
	int64_t t[BF_LAG_SAMPLES];     /* monotonic ms the sample was asked for */
	long long off[BF_LAG_SAMPLES];
	unsigned head, n;              /* next slot, samples held */
};

void bf_lag_reset(struct bf_lag *l);
/* The primary's offset at t_ms. An offset lower than the last one is
 * another primary (a failover, a restart): what was held is forgotten. */
void bf_lag_primary(struct bf_lag *l, int64_t t_ms, long long off);
/* How far a replica at `off` is behind at now_ms: now_ms minus the time of
 * the oldest sample at which the primary held more than `off` (the replica
 * still lacks what the primary had then); 0 when it holds everything
 * sampled; -1 when there is no sample to judge by. A lower bound, exact to
 * the sampling period. */
int64_t bf_lag_ms(const struct bf_lag *l, int64_t now_ms, long long off);

enum bf_replica_verdict {
	BF_REPLICA_OK = 0,
	BF_REPLICA_DOWN,        /* not reachable, or INFO unanswered or unreadable */
	BF_REPLICA_NOT_REPLICA, /* role:master: promoted, or not a replica at all */
	BF_REPLICA_LINK_DOWN,   /* its link to its primary is down */
	BF_REPLICA_LAGGING,     /* further behind than the bound */
	BF_REPLICA_OTHER,       /* it replicates another history than the primary's (replid) */
	BF_REPLICA_UNKNOWN,     /* its lag cannot be judged: the primary refuses INFO */
	BF_REPLICA_VERDICTS
};

/* The verdict on a replica that answered INFO with ri (NULL: it did not), given
 * the primary's last INFO (NULL: none yet) and lag_ms as bf_lag_ms gives it (-1:
 * unknown, judged on the rest). A replica whose replid is neither of the
 * primary's copies another history (another fleet's Redis, a split brain). */
enum bf_replica_verdict bf_replica_judge(const struct bf_repl_info *ri,
					 const struct bf_repl_info *primary, int64_t lag_ms,
					 int64_t max_lag_ms);
/* "ok", "down", "not a replica", "link down", "lagging", "another primary's",
 * "lag unknown" */
const char *bf_replica_verdict_name(enum bf_replica_verdict v);

#endif
