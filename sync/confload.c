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

#include "client_int.h"
#include "log.h"
#include "text.h"

#define MAX_CONNS 65536

struct conf_load {
	struct sync_client *c;
	sync_conf_cb cb;
	void *ctx;
	char version[64];
	struct bf_conn *conns; /* [0, n) good, [next, sent) awaiting their HGETALL */
	size_t n, next, sent, waiting;
	unsigned bad;
	bool scanning;
	struct bf_rule_def *rules;
	size_t n_rules;
	unsigned bad_rules;
	struct bf_cidr *protect;
	size_t n_protect;
	unsigned bad_protect;
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
		.rules = cl->rules, .n_rules = cl->n_rules, .bad_rules = cl->bad_rules,
		.protect = cl->protect, .n_protect = cl->n_protect, .bad_protect = cl->bad_protect,
	};

	snprintf(c->conf_version, sizeof(c->conf_version), "%s", cl->version);
	cl->cb(cl->ctx, &fc);
	conf_free(cl);
}

#define MAX_PROTECT 65536

static void conf_protect(redisAsyncContext *ac, void *reply, void *priv)
{
	struct conf_load *cl = priv;
	const redisReply *r = reply;

	if (!ac->data || !r || r->type != REDIS_REPLY_ARRAY) {
		conf_abort(cl);
		return;
	}
	if (r->elements > MAX_PROTECT) {
		pr_warn("fleet config: %zu protected prefixes is more than %d; none applied",
			r->elements, MAX_PROTECT);
		cl->bad_protect = (unsigned)r->elements;
	} else if (r->elements && !(cl->protect = calloc(r->elements, sizeof(*cl->protect)))) {
		conf_abort(cl);
		return;
	}
	for (size_t i = 0; cl->protect && i < r->elements; i++) {
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

	if (!ac->data || !r || (r->type != REDIS_REPLY_ARRAY && r->type != REDIS_REPLY_NIL)) {
		conf_abort(cl);
		return;
	}
	if (r->type == REDIS_REPLY_ARRAY && r->elements / 2 > BF_RULES_MAX) {
		/* More than XDP holds: refuse the set rather than cut it. */
		pr_warn("fleet config: %zu rules is more than %d; the rules are not applied",
			r->elements / 2, BF_RULES_MAX);
		cl->bad_rules = (unsigned)(r->elements / 2);
	} else if (r->type == REDIS_REPLY_ARRAY && r->elements &&
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
	sync_link_cmd(&cl->c->cmd, conf_protect, cl, "SMEMBERS %s", key);
}

/* Connections are in: the rules next, then the protected prefixes. */
static void conf_done(struct conf_load *cl)
{
	char key[BF_KEY_MAX];

	bf_key_rules(key, sizeof(key), cl->c->prefix);
	sync_link_cmd(&cl->c->cmd, conf_rules, cl, "HGETALL %s", key);
}

static void conf_hash(redisAsyncContext *ac, void *reply, void *priv)
{
	struct conf_load *cl = priv;
	const redisReply *r = reply;
	struct bf_field f[SYNC_MAX_FIELDS];
	struct bf_conn *cn;
	const char *what = "not a hash";
	size_t nf = 0;

	if (!ac->data || !r) {
		if (--cl->waiting == 0 && !cl->scanning)
			conf_abort(cl);
		return;
	}
	/* Replies come in the order of the HGETALLs: slot `next` holds what
	 * this one's key said; good ones are packed down to `n`. */
	cn = &cl->conns[cl->next++];
	if (r->type == REDIS_REPLY_ARRAY && r->elements <= 2 * SYNC_MAX_FIELDS) {
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
	char cursor[32], match[BF_KEY_MAX];

	if (!ac->data || !r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    r->element[0]->type != REDIS_REPLY_STRING || r->element[0]->len >= sizeof(cursor) ||
	    r->element[1]->type != REDIS_REPLY_ARRAY) {
		cl->scanning = false;
		if (!cl->waiting)
			conf_abort(cl);
		return;
	}
	for (size_t i = 0; i < r->element[1]->elements; i++) {
		const redisReply *k = r->element[1]->element[i];
		struct bf_conn *cn;

		if (k->type != REDIS_REPLY_STRING)
			continue;
		if (cl->sent >= MAX_CONNS) {
			cl->bad++;
			continue;
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
		sync_link_cmd(&cl->c->cmd, conf_hash, cl, "HGETALL %b", k->str, k->len);
	}
	memcpy(cursor, r->element[0]->str, r->element[0]->len);
	cursor[r->element[0]->len] = '\0';
	if (!strcmp(cursor, "0")) {
		cl->scanning = false;
		if (!cl->waiting)
			conf_done(cl);
		return;
	}
	snprintf(match, sizeof(match), "%sconn:*", cl->c->prefix);
	sync_link_cmd(&cl->c->cmd, conf_scan, cl, "SCAN %s MATCH %s COUNT 1000", cursor, match);
}

static void conf_version(redisAsyncContext *ac, void *reply, void *priv)
{
	struct conf_load *cl = priv;
	const redisReply *r = reply;
	char match[BF_KEY_MAX];

	if (!ac->data || !r || r->type != REDIS_REPLY_STRING || r->len >= sizeof(cl->version) ||
	    (cl->c->conf_version[0] && strlen(cl->c->conf_version) == r->len &&
	     !memcmp(cl->c->conf_version, r->str, r->len))) {
		conf_abort(cl); /* absent, unchanged or lost */
		return;
	}
	memcpy(cl->version, r->str, r->len);
	cl->version[r->len] = '\0';
	cl->conns = calloc(MAX_CONNS, sizeof(*cl->conns));
	if (!cl->conns) {
		conf_abort(cl);
		return;
	}
	cl->scanning = true;
	snprintf(match, sizeof(match), "%sconn:*", cl->c->prefix);
	sync_link_cmd(&cl->c->cmd, conf_scan, cl, "SCAN 0 MATCH %s COUNT 1000", match);
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
	cl->cb = cb;
	cl->ctx = ctx;
	c->conf_loading = true;
	bf_key_conf_version(key, sizeof(key), c->prefix);
	sync_link_cmd(&c->cmd, conf_version, cl, "GET %s", key);
	return 0;
}

void confload_down(struct sync_client *c)
{
	c->conf_loading = false; /* its callbacks saw NULL replies and gave up */
}
