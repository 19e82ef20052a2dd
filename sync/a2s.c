/* a2s.c - A2S request classification, builders and strict parsers of the
 * replies (docs/ARCHITECTURE.md, "A2S"); the challenge is a2s_challenge.c,
 * split replies a2s_split.c. Pure: no I/O, no allocation. */
#include <errno.h>
#include <string.h>

#include "a2s_wire.h"

/* ---- requests ---- */

static const char *kind_names[A2S_KIND_MAX] = { "not", "malformed", "info", "player", "rules",
						"getchallenge" };

const char *a2s_kind_name(enum a2s_kind k)
{
	return (unsigned)k < A2S_KIND_MAX ? kind_names[k] : "?";
}

static void take_challenge(struct a2s_req *r, const uint8_t *p)
{
	r->challenge = le32(p);
	r->has_challenge = r->challenge != 0 && r->challenge != A2S_ASK_CHALLENGE;
}

enum a2s_kind a2s_classify(const uint8_t *pkt, size_t len, struct a2s_req *out)
{
	memset(out, 0, sizeof(*out));
	if (len < 5 || !simple_hdr(pkt))
		return out->kind = A2S_NOT;
	switch (pkt[4]) {
	case A2S_T_INFO:
		/* sizeof includes the NUL: 20 bytes. */
		if (len < A2S_INFO_REQ_LEN ||
		    memcmp(pkt + 5, A2S_INFO_PAYLOAD, sizeof(A2S_INFO_PAYLOAD)))
			return out->kind = A2S_MALFORMED;
		if (len >= A2S_INFO_REQ_LEN + 4)
			take_challenge(out, pkt + A2S_INFO_REQ_LEN);
		return out->kind = A2S_INFO;
	case A2S_T_PLAYER:
	case A2S_T_RULES:
		if (len < A2S_PLAYER_REQ_LEN)
			return out->kind = A2S_MALFORMED;
		take_challenge(out, pkt + 5);
		return out->kind = pkt[4] == A2S_T_PLAYER ? A2S_PLAYER : A2S_RULES;
	case A2S_T_GETCHALLENGE:
		return out->kind = A2S_GETCHALLENGE;
	default:
		return out->kind = A2S_NOT;
	}
}

enum a2s_action a2s_decide(const struct a2s_req *r, size_t req_len, bool challenge_ok,
			   bool cached)
{
	switch (r->kind) {
	case A2S_NOT:
		return A2S_ACT_FORWARD;
	case A2S_INFO:
	case A2S_PLAYER:
	case A2S_RULES:
	case A2S_GETCHALLENGE:
		/* Our challenge means nothing to the game server: what we cannot answer goes
		 * to it untouched, so it runs its own handshake. */
		if (!cached)
			return A2S_ACT_FORWARD;
		if (r->kind != A2S_GETCHALLENGE && r->has_challenge && challenge_ok)
			return A2S_ACT_REPLY;
		break;
	default:
		return A2S_ACT_DROP;
	}
	return req_len >= A2S_CHALLENGE_LEN ? A2S_ACT_CHALLENGE : A2S_ACT_DROP;
}

int a2s_build_info_req(uint8_t *buf, size_t cap, bool with_challenge, uint32_t challenge)
{
	size_t n = A2S_INFO_REQ_LEN + (with_challenge ? 4 : 0);

	if (cap < n)
		return -ENOSPC;
	put32(buf, A2S_HDR_SIMPLE);
	buf[4] = A2S_T_INFO;
	memcpy(buf + 5, A2S_INFO_PAYLOAD, sizeof(A2S_INFO_PAYLOAD));
	if (with_challenge)
		put32(buf + A2S_INFO_REQ_LEN, challenge);
	return (int)n;
}

static int build_9(uint8_t *buf, size_t cap, uint8_t type, uint32_t v)
{
	if (cap < 9)
		return -ENOSPC;
	put32(buf, A2S_HDR_SIMPLE);
	buf[4] = type;
	put32(buf + 5, v);
	return 9;
}

int a2s_build_player_req(uint8_t *buf, size_t cap, uint32_t challenge)
{
	return build_9(buf, cap, A2S_T_PLAYER, challenge);
}

int a2s_build_rules_req(uint8_t *buf, size_t cap, uint32_t challenge)
{
	return build_9(buf, cap, A2S_T_RULES, challenge);
}

int a2s_build_getchallenge_req(uint8_t *buf, size_t cap)
{
	if (cap < 5)
		return -ENOSPC;
	put32(buf, A2S_HDR_SIMPLE);
	buf[4] = A2S_T_GETCHALLENGE;
	return 5;
}

/* ---- replies: challenge, type ---- */

int a2s_build_challenge(uint8_t *buf, size_t cap, uint32_t challenge)
{
	return build_9(buf, cap, A2S_R_CHALLENGE, challenge);
}

int a2s_challenge_parse(const uint8_t *buf, size_t len, uint32_t *challenge)
{
	if (len != A2S_CHALLENGE_LEN || !simple_hdr(buf) || buf[4] != A2S_R_CHALLENGE)
		return -EBADMSG;
	*challenge = le32(buf + 5);
	return 0;
}

int a2s_reply_type(const uint8_t *buf, size_t len)
{
	if (len >= 5 && simple_hdr(buf))
		return buf[4];
	if (len >= A2S_SPLIT_HDR_LEN && le32(buf) == A2S_HDR_SPLIT)
		return A2S_PKT_SPLIT;
	return -EBADMSG;
}

/* ---- parsing: a cursor that fails with the name of the field it could not read ---- */

struct cur {
	const uint8_t *p, *end;
	const char **what;
};

static int fail(struct cur *c, const char *field)
{
	*c->what = field;
	return -EBADMSG;
}

static int rd(struct cur *c, void *v, size_t n, const char *field)
{
	uint8_t *o = v;

	if ((size_t)(c->end - c->p) < n)
		return fail(c, field);
	/* Little endian on the wire and in the integer filled (checked at the top). */
	for (size_t i = 0; i < n; i++)
		o[i] = c->p[i];
	c->p += n;
	return 0;
}

static int rd_u8(struct cur *c, uint8_t *v, const char *field)
{
	return rd(c, v, 1, field);
}

static int rd_str(struct cur *c, const char **s, const char *field)
{
	const uint8_t *nul = memchr(c->p, 0, (size_t)(c->end - c->p));

	if (!nul)
		return fail(c, field);
	*s = (const char *)c->p;
	c->p = nul + 1;
	return 0;
}

static int rd_head(struct cur *c, uint8_t type)
{
	if (c->end - c->p < 4 || !simple_hdr(c->p))
		return fail(c, "header (not FF FF FF FF)");
	c->p += 4;
	if (c->p == c->end || *c->p != type)
		return fail(c, "type byte");
	c->p++;
	return 0;
}

int a2s_info_parse(const uint8_t *buf, size_t len, struct a2s_info *out, const char **what)
{
	struct cur c = { buf, buf + len, what };
	struct a2s_info i;

	memset(&i, 0, sizeof(i));
	if (rd_head(&c, A2S_R_INFO) || rd_u8(&c, &i.protocol, "protocol") ||
	    rd_str(&c, &i.name, "name") || rd_str(&c, &i.map, "map") ||
	    rd_str(&c, &i.folder, "folder") || rd_str(&c, &i.game, "game") ||
	    rd(&c, &i.appid, 2, "id") || rd_u8(&c, &i.players, "players") ||
	    rd_u8(&c, &i.max_players, "max players") || rd_u8(&c, &i.bots, "bots") ||
	    rd_u8(&c, &i.server_type, "server type") || rd_u8(&c, &i.environment, "environment") ||
	    rd_u8(&c, &i.visibility, "visibility") || rd_u8(&c, &i.vac, "vac"))
		return -EBADMSG;
	if (i.appid == A2S_APPID_THE_SHIP &&
	    (rd_u8(&c, &i.ship_mode, "ship mode") || rd_u8(&c, &i.ship_witnesses, "ship witnesses") ||
	     rd_u8(&c, &i.ship_duration, "ship duration")))
		return -EBADMSG;
	if (rd_str(&c, &i.version, "version"))
		return -EBADMSG;
	if (c.p < c.end) { /* the EDF byte is optional: present when bytes remain */
		i.has_edf = true;
		i.edf = *c.p++;
		if ((i.edf & A2S_EDF_PORT && rd(&c, &i.port, 2, "edf port")) ||
		    (i.edf & A2S_EDF_STEAMID && rd(&c, &i.steamid, 8, "edf steamid")) ||
		    (i.edf & A2S_EDF_TV && (rd(&c, &i.tv_port, 2, "edf spectator port") ||
					    rd_str(&c, &i.tv_name, "edf spectator name"))) ||
		    (i.edf & A2S_EDF_KEYWORDS && rd_str(&c, &i.keywords, "edf keywords")) ||
		    (i.edf & A2S_EDF_GAMEID && rd(&c, &i.gameid, 8, "edf gameid")))
			return -EBADMSG;
	}
	if (c.p != c.end)
		return fail(&c, "trailing bytes");
	if (out)
		*out = i;
	return 0;
}

int a2s_player_parse(const uint8_t *buf, size_t len, struct a2s_player *out, size_t max,
		     size_t *n, const char **what)
{
	struct cur c = { buf, buf + len, what };
	uint8_t count;

	if (rd_head(&c, A2S_R_PLAYER) || rd_u8(&c, &count, "player count"))
		return -EBADMSG;
	/* Each player takes at least 10 bytes (index, empty name, score, duration). */
	if ((size_t)count * 10 > (size_t)(c.end - c.p))
		return fail(&c, "player count larger than the reply");
	for (unsigned k = 0; k < count; k++) {
		struct a2s_player p;

		if (rd_u8(&c, &p.index, "player index") || rd_str(&c, &p.name, "player name") ||
		    rd(&c, &p.score, 4, "player score") || rd(&c, &p.duration, 4, "player duration"))
			return -EBADMSG;
		if (out && k < max)
			out[k] = p;
	}
	if (c.p != c.end)
		return fail(&c, "trailing bytes");
	*n = count;
	return 0;
}

int a2s_rules_parse(const uint8_t *buf, size_t len, struct a2s_rule *out, size_t max, size_t *n,
		    const char **what)
{
	struct cur c = { buf, buf + len, what };
	uint16_t count;

	if (rd_head(&c, A2S_R_RULES) || rd(&c, &count, 2, "rule count"))
		return -EBADMSG;
	/* Each rule takes at least 2 bytes (two empty strings). */
	if ((size_t)count * 2 > (size_t)(c.end - c.p))
		return fail(&c, "rule count larger than the reply");
	for (unsigned k = 0; k < count; k++) {
		struct a2s_rule r;

		if (rd_str(&c, &r.name, "rule name") || rd_str(&c, &r.value, "rule value"))
			return -EBADMSG;
		if (out && k < max)
			out[k] = r;
	}
	if (c.p != c.end)
		return fail(&c, "trailing bytes");
	*n = count;
	return 0;
}

/* ---- building: a writer that only remembers it ran out of room ---- */

struct wr {
	uint8_t *p, *end;
	bool full;
};

static void w_bytes(struct wr *w, const void *v, size_t n)
{
	if (w->full || (size_t)(w->end - w->p) < n) {
		w->full = true;
		return;
	}
	memcpy(w->p, v, n);
	w->p += n;
}

static void w_u8(struct wr *w, uint8_t v)
{
	w_bytes(w, &v, 1);
}

static void w_u16(struct wr *w, uint16_t v)
{
	uint8_t b[2];

	put16(b, v);
	w_bytes(w, b, 2);
}

static void w_u32(struct wr *w, uint32_t v)
{
	uint8_t b[4];

	put32(b, v);
	w_bytes(w, b, 4);
}

static void w_u64(struct wr *w, uint64_t v)
{
	uint8_t b[8];

	put64(b, v);
	w_bytes(w, b, 8);
}

static void w_str(struct wr *w, const char *s)
{
	w_bytes(w, s ? s : "", s ? strlen(s) + 1 : 1);
}

static int w_done(const struct wr *w, const uint8_t *start)
{
	return w->full ? -ENOSPC : (int)(w->p - start);
}

int a2s_build_info(uint8_t *buf, size_t cap, const struct a2s_info *in)
{
	struct wr w = { buf, buf + cap, false };

	w_u32(&w, A2S_HDR_SIMPLE);
	w_u8(&w, A2S_R_INFO);
	w_u8(&w, in->protocol);
	w_str(&w, in->name);
	w_str(&w, in->map);
	w_str(&w, in->folder);
	w_str(&w, in->game);
	w_u16(&w, in->appid);
	w_u8(&w, in->players);
	w_u8(&w, in->max_players);
	w_u8(&w, in->bots);
	w_u8(&w, in->server_type);
	w_u8(&w, in->environment);
	w_u8(&w, in->visibility);
	w_u8(&w, in->vac);
	if (in->appid == A2S_APPID_THE_SHIP) {
		w_u8(&w, in->ship_mode);
		w_u8(&w, in->ship_witnesses);
		w_u8(&w, in->ship_duration);
	}
	w_str(&w, in->version);
	if (in->has_edf) {
		w_u8(&w, in->edf);
		if (in->edf & A2S_EDF_PORT)
			w_u16(&w, in->port);
		if (in->edf & A2S_EDF_STEAMID)
			w_u64(&w, in->steamid);
		if (in->edf & A2S_EDF_TV) {
			w_u16(&w, in->tv_port);
			w_str(&w, in->tv_name);
		}
		if (in->edf & A2S_EDF_KEYWORDS)
			w_str(&w, in->keywords);
		if (in->edf & A2S_EDF_GAMEID)
			w_u64(&w, in->gameid);
	}
	return w_done(&w, buf);
}

int a2s_build_player(uint8_t *buf, size_t cap, const struct a2s_player *p, size_t n)
{
	struct wr w = { buf, buf + cap, false };

	if (n > 255)
		return -EINVAL;
	w_u32(&w, A2S_HDR_SIMPLE);
	w_u8(&w, A2S_R_PLAYER);
	w_u8(&w, (uint8_t)n);
	for (size_t i = 0; i < n; i++) {
		w_u8(&w, p[i].index);
		w_str(&w, p[i].name);
		w_u32(&w, (uint32_t)p[i].score);
		w_bytes(&w, &p[i].duration, 4);
	}
	return w_done(&w, buf);
}

int a2s_build_rules(uint8_t *buf, size_t cap, const struct a2s_rule *r, size_t n)
{
	struct wr w = { buf, buf + cap, false };

	if (n > 65535)
		return -EINVAL;
	w_u32(&w, A2S_HDR_SIMPLE);
	w_u8(&w, A2S_R_RULES);
	w_u16(&w, (uint16_t)n);
	for (size_t i = 0; i < n; i++) {
		w_str(&w, r[i].name);
		w_str(&w, r[i].value);
	}
	return w_done(&w, buf);
}

