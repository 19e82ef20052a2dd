/* confload.c - the fleet's config as one snapshot: when
 * <prefix>conf:version changes, every <prefix>conn:* hash, the rules and
 * the protected prefixes, validated, delivered in one callback. */
#include <arpa/inet.h>
#include <errno.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bounded.h"
#include "client_int.h"
#include "clock.h"
#include "log.h"
#include "text.h"

struct conf_load {
	struct sync_client *c;
	struct sync_link *link; /* every read of this load goes through it */
	sync_conf_cb cb;
	void *ctx;
	char version[64];
	struct bf_conn *conns; /* [0, n) good, [next, sent) awaiting their HGETALL */
	size_t n, next, sent, waiting;
	unsigned bad;
	bool scanning, conns_refused;
	struct bf_rule_def *rules;
	size_t n_rules;
	unsigned bad_rules;
	struct bf_cidr *protect;
	size_t n_protect;
	unsigned bad_protect;
	bool protect_refused;
};

static void conf_free(struct conf_load *cl)
{
	cl->c->conf_loading = false;
	free(cl->conns);
	free(cl->rules);
	free(cl->protect);
	free(cl);
}

static void conf_abort(struct conf_load *cl)
{
	conf_free(cl);
}

static void conf_deliver(struct conf_load *cl)
{
	struct sync_client *c = cl->c;
	struct sync_fleet_conf fc = {
		.version = cl->version, .conns = cl->conns, .n_conns = cl->n, .bad_conns = cl->bad,
		.conns_refused = cl->conns_refused,
		.rules = cl->rules, .n_rules = cl->n_rules, .bad_rules = cl->bad_rules,
		.protect = cl->protect, .n_protect = cl->n_protect, .bad_protect = cl->bad_protect,
		.protect_refused = cl->protect_refused,
	};

	snprintf(c->conf_version, sizeof(c->conf_version), "%s", cl->version);
	c->conf_at_ms = bf_mono_ms();
	cl->cb(cl->ctx, &fc);
	conf_free(cl);
}

static void conf_protect(redisAsyncContext *ac, void *reply, void *priv)
{
	struct conf_load *cl = priv;
	const redisReply *r = reply;
	char key[BF_KEY_MAX];
	bool refused = false;

	bf_key_protect(key, sizeof(key), cl->c->prefix);
	if (!ac->data || !r ||
	    (!(r = sync_set_members(cl->c, "protect", key, r, BF_CIDR_STRLEN, &refused)) &&
	     !refused)) {
		conf_abort(cl);
		return;
	}
	/* More than the cap: not read; the edges keep the fleet's prefixes they hold. */
	cl->protect_refused = refused;
	if (r && r->elements && !(cl->protect = calloc(r->elements, sizeof(*cl->protect)))) {
		conf_abort(cl);
		return;
	}
	for (size_t i = 0; r && cl->protect && i < r->elements; i++) {
		const redisReply *m = r->element[i];
		char buf[BF_CIDR_STRLEN + 1], shown[BF_CIDR_STRLEN + 1];
		int rc;

		if (m->type != REDIS_REPLY_STRING || m->len >= sizeof(buf)) {
			cl->bad_protect++;
			continue;
		}
		memcpy(buf, m->str, m->len);
		buf[m->len] = '\0';
		rc = bf_parse_cidr4(buf, false, &cl->protect[cl->n_protect]);
		if (rc) {
			cl->bad_protect++;
			pr_warn("fleet config: protected prefix '%s' refused: %s",
				bf_printable(buf, strlen(buf), shown, sizeof(shown)),
				rc == -EAFNOSUPPORT ? "IPv6 is not supported yet" :
						      "not a CIDR with its host bits clear");
			continue;
		}
		cl->n_protect++;
	}
	conf_deliver(cl);
}

static void conf_rules(redisAsyncContext *ac, void *reply, void *priv)
{
	struct conf_load *cl = priv;
	const redisReply *r = reply;
	char key[BF_KEY_MAX];
	bool refused;

	bf_key_rules(key, sizeof(key), cl->c->prefix);
	/* Too many rules, or one too long: the set is refused rather than cut (not read). */
	refused = ac->data && sync_read_refused(cl->c, "rule", key, r);
	if (!refused &&
	    (!ac->data || !r || (r->type != REDIS_REPLY_ARRAY && r->type != REDIS_REPLY_NIL))) {
		conf_abort(cl);
		return;
	}
	cl->bad_rules = refused;
	if (!refused && r->type == REDIS_REPLY_ARRAY && r->elements &&
	    !(cl->rules = calloc(r->elements / 2, sizeof(*cl->rules)))) {
		conf_abort(cl);
		return;
	}
	for (size_t i = 0; cl->rules && i + 1 < r->elements; i += 2) {
		const redisReply *id = r->element[i], *text = r->element[i + 1];
		char err[160], shown[24];
		uint32_t rid;

		if (id->type != REDIS_REPLY_STRING || text->type != REDIS_REPLY_STRING)
			continue;
		if (bf_rule_id_parse(id->str, id->len, &rid)) {
			cl->bad_rules++;
			pr_warn("fleet config: rule id '%s' refused: not 1-%d",
				bf_printable(id->str, id->len, shown, sizeof(shown)), BF_RULE_ID_MAX);
			continue;
		}
		if (text->len > BF_RULE_TEXT_MAX ||
		    bf_rule_parse(rid, text->str, text->len, &cl->rules[cl->n_rules], err,
				  sizeof(err))) {
			cl->bad_rules++;
			pr_warn("fleet config: rule %u refused: %s", rid,
				text->len > BF_RULE_TEXT_MAX ? "longer than 1024 bytes" : err);
			continue;
		}
		cl->n_rules++;
	}
	bf_key_protect(key, sizeof(key), cl->c->prefix);
	sync_read_set(cl->link, conf_protect, cl, key, sync_cap_protect(cl->c), BF_CIDR_STRLEN);
}

/* Connections are in: the rules next, then the protected prefixes. */
static void conf_done(struct conf_load *cl)
{
	char key[BF_KEY_MAX];

	bf_key_rules(key, sizeof(key), cl->c->prefix);
	/* Ids are 1-1000000: 7 bytes. */
	sync_read_hash(cl->link, conf_rules, cl, key, sync_cap_rules(cl->c), 7,
		       BF_RULE_TEXT_MAX);
}

static void conf_hash(redisAsyncContext *ac, void *reply, void *priv)
{
	struct conf_load *cl = priv;
	const redisReply *r = reply;
	struct bf_field f[SYNC_MAX_FIELDS];
	struct bf_conn *cn;
	const char *what = "not a hash";
	char key[BF_KEY_MAX];
	size_t nf = 0;

	if (!ac->data || !r) {
		if (--cl->waiting == 0 && !cl->scanning)
			conf_abort(cl);
		return;
	}
	/* Replies come in the order of the HGETALLs: slot `next` holds what
	 * this one's key said; good ones are packed down to `n`. */
	cn = &cl->conns[cl->next++];
	bf_key_conn(key, sizeof(key), cl->c->prefix, cn->proto, cn->bind_ip, cn->bind_port);
	if (sync_read_refused(cl->c, "conn", key, r)) {
		cl->bad++; /* logged by the owner, with the cap */
	} else if (r->type == REDIS_REPLY_ARRAY && r->elements <= 2 * SYNC_MAX_FIELDS) {
		for (size_t i = 0; i + 1 < r->elements; i += 2)
			if (r->element[i]->type == REDIS_REPLY_STRING &&
			    r->element[i + 1]->type == REDIS_REPLY_STRING)
				f[nf++] = (struct bf_field){ r->element[i]->str, r->element[i]->len,
							     r->element[i + 1]->str,
							     r->element[i + 1]->len };
		if (!bf_conn_parse_fields(f, nf, cn, &what))
			cl->conns[cl->n++] = *cn;
		else
			goto bad;
	} else {
	bad:
		cl->bad++;
		pr_warn("fleet config: connection %s %s:%u refused: %s", bf_proto_name(cn->proto),
			inet_ntoa((struct in_addr){ .s_addr = cn->bind_ip }), cn->bind_port, what);
	}
	if (--cl->waiting == 0 && !cl->scanning)
		conf_done(cl);
}

static void conf_scan(redisAsyncContext *ac, void *reply, void *priv)
{
	struct conf_load *cl = priv;
	const redisReply *r = reply;
	char cursor[32], match[BF_KEY_MAX], key[BF_KEY_MAX];

	if (!ac->data || !r || r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
	    r->element[0]->type != REDIS_REPLY_STRING || r->element[0]->len >= sizeof(cursor) ||
	    r->element[1]->type != REDIS_REPLY_ARRAY) {
		cl->scanning = false;
		if (!cl->waiting)
			conf_abort(cl);
		return;
	}
	snprintf(match, sizeof(match), "%sconn:*", cl->c->prefix);
	sync_page_dropped(cl->c, "conn", match, r, BF_KEY_MAX - 1);
	for (size_t i = 0; i < r->element[1]->elements && !cl->conns_refused; i++) {
		const redisReply *k = r->element[1]->element[i];
		struct bf_conn *cn;

		if (k->type != REDIS_REPLY_STRING || k->len >= sizeof(key))
			continue; /* the page's script leaves longer keys out */
		if (cl->sent >= sync_cap_conns(cl->c)) {
			/* Which ones to leave out? None can be chosen: keep those in force. */
			cl->conns_refused = true;
			sync_refused(cl->c, "conn", "too_many", match, cl->sent + 1ULL,
				     sync_cap_conns(cl->c), "connection hashes, at least");
			break;
		}
		/* Parse the key now; the HGETALL reply fills the rest in order. */
		cn = &cl->conns[cl->sent];
		if (bf_conn_parse_key(k->str, k->len, cl->c->prefix, cn)) {
			cl->bad++;
			pr_warn("fleet config: bad connection key '%.*s' skipped", (int)k->len, k->str);
			continue;
		}
		cl->sent++;
		cl->waiting++;
		memcpy(key, k->str, k->len);
		key[k->len] = '\0';
		sync_read_hash(cl->link, conf_hash, cl, key, SYNC_MAX_FIELDS,
			       SYNC_CONN_NAME_MAX, SYNC_CONN_VALUE_MAX);
	}
	memcpy(cursor, r->element[0]->str, r->element[0]->len);
	cursor[r->element[0]->len] = '\0';
	if (!strcmp(cursor, "0") || cl->conns_refused) {
		cl->scanning = false;
		if (!cl->waiting)
			conf_done(cl);
		return;
	}
	sync_read_scan(cl->link, conf_scan, cl, match, cursor);
}

/* A replica behind the primary may still hold the version before the one
 * applied: an INCRed version lower than ours, read from it within 10 s of
 * that load (a replica is never that far behind while reads are on it), is
 * that, not a change; later it is (a primary restored with a lower count).
 * A version some tool SET to text is compared for equality only. */
static bool version_older(const char *v, size_t n, const char *ours)
{
	size_t m = strlen(ours);

	if (!n || !m || n > 18 || m > 18 || strspn(v, "0123456789") < n ||
	    strspn(ours, "0123456789") != m)
		return false;
	return n < m || (n == m && memcmp(v, ours, n) < 0);
}

static void conf_version(redisAsyncContext *ac, void *reply, void *priv)
{
	struct conf_load *cl = priv;
	struct sync_client *c = cl->c;
	const redisReply *r = reply;
	char match[BF_KEY_MAX];
	bool big = ac->data && r && r->type == REDIS_REPLY_STRING && r->len >= sizeof(cl->version);

	/* GETRANGE sent 64 bytes at most: 64 is a version too long. Reported once. */
	if (big && !c->conf_too_big) {
		bf_key_conf_version(match, sizeof(match), c->prefix);
		sync_refused(c, "conf", "too_big", match, r->len, sizeof(cl->version) - 1,
			     "the version (no fleet config loads until it is fixed)");
	}
	if (ac->data && r)
		c->conf_too_big = big;
	if (!ac->data || !r || r->type != REDIS_REPLY_STRING || !r->len || big ||
	    (c->conf_version[0] && strlen(c->conf_version) == r->len &&
	     !memcmp(c->conf_version, r->str, r->len)) ||
	    (cl->link != &c->cmd && bf_mono_ms() - c->conf_at_ms < 10000 &&
	     version_older(r->str, r->len, c->conf_version))) {
		conf_abort(cl); /* absent, too long, unchanged or lost */
		return;
	}
	memcpy(cl->version, r->str, r->len);
	cl->version[r->len] = '\0';
	cl->conns = calloc(sync_cap_conns(c), sizeof(*cl->conns));
	if (!cl->conns) {
		conf_abort(cl);
		return;
	}
	cl->scanning = true;
	snprintf(match, sizeof(match), "%sconn:*", c->prefix);
	sync_read_scan(cl->link, conf_scan, cl, match, "0");
}

int sync_client_poll_conf(struct sync_client *c, sync_conf_cb cb, void *ctx)
{
	struct conf_load *cl;
	char key[BF_KEY_MAX];

	if (c->conf_loading || !sync_link_up(&c->cmd))
		return -EBUSY;
	cl = calloc(1, sizeof(*cl));
	if (!cl)
		return -ENOMEM;
	cl->c = c;
	/* The whole load on one link: the read replica while reads go there. */
	cl->link = sync_read_link(c);
	c->conf_link = cl->link;
	cl->cb = cb;
	cl->ctx = ctx;
	c->conf_loading = true;
	bf_key_conf_version(key, sizeof(key), c->prefix);
	sync_link_cmd(cl->link, conf_version, cl, "GETRANGE %s 0 %llu", key,
		      (unsigned long long)sizeof(cl->version) - 1);
	return 0;
}

void confload_down(struct sync_client *c, const struct sync_link *l)
{
	if (c->conf_link != l)
		return;
	c->conf_loading = false; /* its callbacks saw NULL replies and gave up */
}
