/* bounded.c - reads from Redis whose replies cannot grow without bound (bounded.h). */
#include <errno.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bounded.h"
#include "log.h"
#include "text.h"

/* The scripts are read-only (EVAL_RO): they run on a replica too, and an ACL may allow them
 * to a user that writes nothing. Each measures before it reads. */

/* KEYS[1] a stream, KEYS[2] (optional) a ZSET. Only the id and the first `seq` and `card`
 * fields of the last entry leave Redis (20 bytes each at most), whatever else it carries. */
static const char head_script[] =
	"local h = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1) "
	"local out = {} "
	"if h[1] then "
	"  local kept, seen, f = {}, {}, h[1][2] "
	"  for i = 1, #f - 1, 2 do "
	"    local n = f[i] "
	"    if (n == 'seq' or n == 'card') and not seen[n] and #f[i + 1] <= 20 then "
	"      seen[n] = true kept[#kept + 1] = n kept[#kept + 1] = f[i + 1] "
	"    end "
	"  end "
	"  out[1] = {h[1][1], kept} "
	"end "
	"if KEYS[2] then return {out, redis.call('ZCARD', KEYS[2])} end "
	"return out";

/* ARGV: 'Z' (ZSCAN of KEYS[1]: member, score pairs) or 'S' (SCAN MATCH ARGV[4]: keys),
 * cursor, the longest member sent. What is longer is counted, not sent. */
static const char page_script[] =
	"local r, step "
	"if ARGV[1] == 'Z' then "
	"  r = redis.call('ZSCAN', KEYS[1], ARGV[2], 'COUNT', 1000) step = 2 "
	"else "
	"  r = redis.call('SCAN', ARGV[2], 'MATCH', ARGV[4], 'COUNT', 1000) step = 1 "
	"end "
	"local out, big, max = {}, 0, tonumber(ARGV[3]) "
	"for i = 1, #r[2], step do "
	"  if #r[2][i] <= max then "
	"    for j = 0, step - 1 do out[#out + 1] = r[2][i + j] end "
	"  else big = big + 1 end "
	"end "
	"return {r[1], out, big}";

/* KEYS[1] a SET; ARGV: most members, longest member sent. */
static const char set_script[] =
	"local n = redis.call('SCARD', KEYS[1]) "
	"if n > tonumber(ARGV[1]) then "
	"  return redis.error_reply('BFREFUSED too_many ' .. n .. ' ' .. ARGV[1]) "
	"end "
	"local out, big, max = {}, 0, tonumber(ARGV[2]) "
	"for _, m in ipairs(redis.call('SMEMBERS', KEYS[1])) do "
	"  if #m <= max then out[#out + 1] = m else big = big + 1 end "
	"end "
	"return {out, big}";

/* KEYS[1] a HASH; ARGV: most fields, longest name, longest value. All of it or nothing. */
static const char hash_script[] =
	"local n = redis.call('HLEN', KEYS[1]) "
	"if n > tonumber(ARGV[1]) then "
	"  return redis.error_reply('BFREFUSED too_many ' .. n .. ' ' .. ARGV[1]) "
	"end "
	"local names = redis.call('HKEYS', KEYS[1]) "
	"for _, f in ipairs(names) do "
	"  if #f > tonumber(ARGV[2]) then "
	"    return redis.error_reply('BFREFUSED too_big ' .. #f .. ' ' .. ARGV[2] .. "
	"                             ' a field name') "
	"  end "
	"  local v = redis.call('HSTRLEN', KEYS[1], f) "
	"  if v > tonumber(ARGV[3]) then "
	"    return redis.error_reply('BFREFUSED too_big ' .. v .. ' ' .. ARGV[3] .. "
	"                             ' field ' .. f) "
	"  end "
	"end "
	"return redis.call('HGETALL', KEYS[1])";

#define DEF_CAP(v, d) ((v) ? (v) : (d))

uint32_t sync_cap_origin(const struct sync_client *c, enum bf_kind k)
{
	return DEF_CAP(c->cfg.caps.per_origin[k], bf_kinds[k].max_per_origin);
}

uint32_t sync_cap_conns(const struct sync_client *c) { return DEF_CAP(c->cfg.caps.conns, 65536); }

uint32_t sync_cap_rules(const struct sync_client *c)
{
	return DEF_CAP(c->cfg.caps.rules, BF_RULES_MAX);
}

uint32_t sync_cap_protect(const struct sync_client *c)
{
	return DEF_CAP(c->cfg.caps.protect, 65536);
}

void sync_refused(struct sync_client *c, const char *what, const char *why, const char *key,
		  uint64_t size, uint64_t limit, const char *detail)
{
	struct sync_refusal r = {.what = what,
				 .why = why,
				 .key = key,
				 .size = size,
				 .limit = limit,
				 .detail = detail ? detail : ""};

	if (c->h.on_refused)
		c->h.on_refused(c->h.ctx, &r);
	else
		pr_warn("%s: refused, not read: %s %llu, more than %llu %s", key, why,
			(unsigned long long)size, (unsigned long long)limit, r.detail);
}

/* EVAL_RO script nkeys keys... args...: every argument a string. */
static int eval_ro(struct sync_link *l, sync_link_cb fn, void *priv, const char *script,
		   int nkeys, const char *const *args, int nargs)
{
	const char *argv[12];
	size_t lens[12];
	char nk[4];
	int argc = 0;

	if (3 + nargs > 12)
		return -E2BIG;
	snprintf(nk, sizeof(nk), "%d", nkeys);
	argv[argc++] = "EVAL_RO";
	argv[argc++] = script;
	argv[argc++] = nk;
	for (int i = 0; i < nargs; i++)
		argv[argc++] = args[i];
	for (int i = 0; i < argc; i++)
		lens[i] = strlen(argv[i]);
	return sync_link_cmd_argv(l, 0, fn, priv, argc, argv, lens);
}

int sync_read_head(struct sync_link *l, sync_link_cb fn, void *priv, const char *log,
		   const char *zset)
{
	const char *args[] = {log, zset};

	return eval_ro(l, fn, priv, head_script, zset ? 2 : 1, args, zset ? 2 : 1);
}

int sync_read_zpage(struct sync_link *l, sync_link_cb fn, void *priv, const char *key,
		    const char *cursor)
{
	char max[16];
	const char *args[] = {key, "Z", cursor, max};

	snprintf(max, sizeof(max), "%d", BF_ENTRY_MAX);
	return eval_ro(l, fn, priv, page_script, 1, args, 4);
}

int sync_read_scan(struct sync_link *l, sync_link_cb fn, void *priv, const char *match,
		   const char *cursor)
{
	char max[16];
	const char *args[] = {"S", cursor, max, match};

	snprintf(max, sizeof(max), "%d", BF_KEY_MAX - 1);
	return eval_ro(l, fn, priv, page_script, 0, args, 4);
}

int sync_read_set(struct sync_link *l, sync_link_cb fn, void *priv, const char *key,
		  uint32_t max, size_t max_len)
{
	char n[16], len[24];
	const char *args[] = {key, n, len};

	snprintf(n, sizeof(n), "%u", max);
	snprintf(len, sizeof(len), "%zu", max_len);
	return eval_ro(l, fn, priv, set_script, 1, args, 3);
}

int sync_read_hash(struct sync_link *l, sync_link_cb fn, void *priv, const char *key,
		   uint32_t max, size_t max_name, size_t max_val)
{
	char n[16], name[24], val[24];
	const char *args[] = {key, n, name, val};

	snprintf(n, sizeof(n), "%u", max);
	snprintf(name, sizeof(name), "%zu", max_name);
	snprintf(val, sizeof(val), "%zu", max_val);
	return eval_ro(l, fn, priv, hash_script, 1, args, 4);
}

bool sync_read_refused(struct sync_client *c, const char *what, const char *key,
		       const redisReply *r)
{
	unsigned long long size, limit;
	char why[16], detail[40] = "";
	int n = 0;

	if (!r || r->type != REDIS_REPLY_ERROR ||
	    sscanf(r->str, "BFREFUSED %15s %llu %llu%n", why, &size, &limit, &n) != 3 || !n)
		return false;
	if (r->str[n] == ' ')
		bf_printable(r->str + n + 1, strlen(r->str + n + 1), detail, sizeof(detail));
	sync_refused(c, what, !strcmp(why, "too_many") ? "too_many" : "too_big", key, size, limit,
		     detail);
	return true;
}

int sync_head_parse(struct sync_client *c, const redisReply *r, const char *what, const char *zkey,
		    uint32_t cap, char *id, size_t idlen, uint64_t *seq)
{
	const redisReply *h, *e;

	if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    r->element[0]->type != REDIS_REPLY_ARRAY || r->element[1]->type != REDIS_REPLY_INTEGER)
		return -EINVAL;
	h = r->element[0];
	snprintf(id, idlen, "0-0");
	*seq = 0;
	if (h->elements == 1 && (e = h->element[0])->type == REDIS_REPLY_ARRAY &&
	    e->elements == 2 && e->element[0]->type == REDIS_REPLY_STRING &&
	    e->element[0]->len < idlen) {
		memcpy(id, e->element[0]->str, e->element[0]->len);
		id[e->element[0]->len] = '\0';
		*seq = sync_field_seq(e->element[1]);
	}
	if (r->element[1]->integer > (long long)cap) {
		sync_refused(c, what, "too_many", zkey, (uint64_t)r->element[1]->integer, cap, "");
		return -E2BIG;
	}
	return 0;
}

/* n (an integer reply) members of key left out for being longer than max_len. */
static void dropped(struct sync_client *c, const char *what, const char *key, const redisReply *n,
		    size_t max_len)
{
	char detail[40];

	if (n->type != REDIS_REPLY_INTEGER || n->integer <= 0)
		return;
	snprintf(detail, sizeof(detail), "%lld member%s", n->integer, n->integer == 1 ? "" : "s");
	sync_refused(c, what, "too_big", key, max_len + 1, max_len, detail);
}

void sync_page_dropped(struct sync_client *c, const char *what, const char *key,
		       const redisReply *r, size_t max_len)
{
	if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 3)
		dropped(c, what, key, r->element[2], max_len);
}

const redisReply *sync_set_members(struct sync_client *c, const char *what, const char *key,
				   const redisReply *r, size_t max_len, bool *refused)
{
	*refused = sync_read_refused(c, what, key, r);
	if (*refused || !r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    r->element[0]->type != REDIS_REPLY_ARRAY)
		return NULL;
	dropped(c, what, key, r->element[1], max_len);
	return r->element[0];
}
