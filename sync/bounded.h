/* bounded.h - reads from Redis whose replies cannot grow without bound. */
/* hiredis 0.14 buffers a reply whole before anyone sees it, so a 512 MB member
 * or hash field, or a set of ten million members, would be in our memory
 * before any check could refuse it. Each read here is a read-only script
 * (EVAL_RO) that measures the key on the Redis side first (ZCARD, SCARD,
 * HLEN, the length of each member or field) and sends only what fits, or the
 * error "BFREFUSED <why> <size> <limit> [detail]" instead. The checks of the
 * replies report refusals to the owner (sync_handlers.on_refused). Private to
 * sync/: no redisReply leaves it. */
#ifndef BF_SYNC_BOUNDED_H
#define BF_SYNC_BOUNDED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client_int.h"
#include "link.h"

/* Fixed by what a valid value can be (docs/REDIS.md, "What an edge refuses"). */
#define SYNC_CONN_NAME_MAX 32	/* a connection hash's field name */
#define SYNC_CONN_VALUE_MAX 256 /* and value */
#define SYNC_EDGES_MAX 4096	/* ids in <prefix>edges */

/* The caps in force: the owner's (sync_config.caps) or the defaults. */
uint32_t sync_cap_origin(const struct sync_client *c, enum bf_kind k);
uint32_t sync_cap_conns(const struct sync_client *c);
uint32_t sync_cap_rules(const struct sync_client *c);
uint32_t sync_cap_protect(const struct sync_client *c);

/* Tells the owner (on_refused; without one, the log) that a key, or members of it, were
 * refused. */
void sync_refused(struct sync_client *c, const char *what, const char *why, const char *key,
		  uint64_t size, uint64_t limit, const char *detail);

/* ---- the reads, each through a link with its deadline; each returns what
 * sync_link_cmd_argv does (0, -ENOTCONN: cb is not called, -ENOMEM) ---- */

/* The last entry of the stream `log` as XREVRANGE log + - COUNT 1 gives it, with its seq
 * and card fields alone ([[id, ["seq", seq, "card", card]]] or []); with zset, [that,
 * ZCARD zset], atomically (what MULTI XREVRANGE ZCARD EXEC answers). */
int sync_read_head(struct sync_link *l, sync_link_cb fn, void *priv, const char *log,
		   const char *zset);
/* A ZSCAN page of key: [cursor, [member, score, ...], n], the n members longer than
 * BF_ENTRY_MAX left out. */
int sync_read_zpage(struct sync_link *l, sync_link_cb fn, void *priv, const char *key,
		    const char *cursor);
/* A SCAN page of the keys matching `match`: [cursor, [key, ...], n], the n keys longer than
 * BF_KEY_MAX left out. */
int sync_read_scan(struct sync_link *l, sync_link_cb fn, void *priv, const char *match,
		   const char *cursor);
/* SMEMBERS of key: [[member, ...], n], the n members longer than max_len left out; refused
 * when it has more than max members. */
int sync_read_set(struct sync_link *l, sync_link_cb fn, void *priv, const char *key,
		  uint32_t max, size_t max_len);
/* HGETALL of key; refused when it has more than max fields, a name longer than max_name
 * or a value longer than max_val (the detail names that field, cut to 24 bytes). */
int sync_read_hash(struct sync_link *l, sync_link_cb fn, void *priv, const char *key,
		   uint32_t max, size_t max_name, size_t max_val);

/* ---- their replies ---- */

/* Whether r is the refusal of a bounded read; if so it is reported as (what, key). */
bool sync_read_refused(struct sync_client *c, const char *what, const char *key,
		       const struct redisReply *r);
/* sync_read_head's reply with a ZSET: the log's last id ("0-0" when empty) and seq (0 when
 * absent or bad) into id and *seq. 0; -E2BIG when the ZSET holds more than cap members
 * (reported: it is not to be read); -EINVAL when r is no such reply. */
int sync_head_parse(struct sync_client *c, const struct redisReply *r, const char *what,
		    const char *zkey, uint32_t cap, char *id, size_t idlen, uint64_t *seq);
/* A page's members left out (its third element), reported as too_big; max_len for the
 * message. */
void sync_page_dropped(struct sync_client *c, const char *what, const char *key,
		       const struct redisReply *r, size_t max_len);
/* sync_read_set's reply: the members (an array of strings), or NULL when it was refused
 * (reported) or is no such reply (*refused tells which). */
const struct redisReply *sync_set_members(struct sync_client *c, const char *what, const char *key,
					  const struct redisReply *r, size_t max_len,
					  bool *refused);

#endif
