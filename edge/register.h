/* register.h - the fleet's entries as this edge knows them: for each entry
 * (a CIDR of a list kind, or a punch's flow) the expiry each origin gave it.
 * An entry lives until the latest expiry over its owners (a max register):
 * replays, duplicates and reordering never shorten it. Pure: no Redis, no
 * maps; what changed is handed to a callback (the apply layer). */
#ifndef EDGE_REGISTER_H
#define EDGE_REGISTER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "guard.h"
#include "schema.h"

struct edge_register;

/* An entry's state after a change, for the maps: held by some peer origin
 * (`peers`, until `exp_ms`, BF_EXP_INF = permanent) and/or by this edge
 * itself (`mine`: XDP made it, it is in the maps already). */
struct reg_effect {
	struct bf_entry e; /* a punch names the machine its latest writer named */
	bool peers;
	bool mine;
	int64_t exp_ms;
};

typedef void (*reg_effect_cb)(void *ctx, const struct reg_effect *fx);

/* The guard judges what peers make it hold: prefixes, and the entries per (origin, kind)
 * (edge_guard_cap); it counts and logs what it refuses. It must outlive the register. */
struct edge_register *reg_new(struct edge_guard *g, reg_effect_cb cb, void *ctx);
void reg_free(struct edge_register *r);

/* A peer's record (seq 0: read from its ZSET by a resync, which is that
 * origin's truth and may shorten an expiry). Not registered (the guard counted
 * it): -EPERM for a CIDR shorter than its kind's min_prefix, -EDQUOT for a new
 * entry past the origin's cap of that kind. */
int reg_record(struct edge_register *r, const char *origin, const struct bf_log_rec *rec);

/* A full resync of (kind, origin): entries it did not re-announce between
 * begin and end are gone at that origin. */
void reg_resync_begin(struct edge_register *r, enum bf_kind k);
void reg_resync_end(struct edge_register *r, enum bf_kind k, const char *origin);

/* One of our own entries (made by XDP or by this edge), until exp_ms. */
void reg_own(struct edge_register *r, const struct bf_entry *e, int64_t exp_ms);
/* Our own expiry of e, or 0 when it is not ours. */
int64_t reg_own_exp(struct edge_register *r, const struct bf_entry *e);
/* Calls fn for every own entry still live at now_ms (re-assertion after a
 * reconnect: Redis may have come back empty). Returns how many. */
unsigned reg_own_each(struct edge_register *r, int64_t now_ms,
		      void (*fn)(void *ctx, const struct bf_entry *e, int64_t exp_ms), void *ctx);

/* Forgets the claims whose expiry is past (the maps expire by themselves). */
void reg_expire(struct edge_register *r, int64_t now_ms);

/* The register in the state file, beside the sync client's cursors:
 * "owner <origin|@self> <exp ms|+inf> <kind> <entry>" lines. Peers' punches
 * are left out (they are the bulk, nobody deletes them, and their map
 * entries outlive a restart anyway). */
void reg_state_save(struct edge_register *r, FILE *out);
/* One such line back; damaged or expired lines are skipped (the next
 * resync or record restores them). */
void reg_state_line(struct edge_register *r, const char *line, int64_t now_ms);

struct reg_stats {
	uint64_t entries;
};
void reg_stats(const struct edge_register *r, struct reg_stats *st);

#endif
