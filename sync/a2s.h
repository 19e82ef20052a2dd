/* a2s.h - Source-engine A2S queries as pure functions: request classification, the fleet's
 * challenge (SipHash-2-4 of client IP and time bucket), request and reply builders, strict
 * reply parsers and split (0xFFFFFFFE) replies. No I/O; nothing here allocates. */
#ifndef BF_A2S_H
#define BF_A2S_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- wire constants (all multi-byte fields are little endian) ---- */

#define A2S_HDR_SIMPLE 0xFFFFFFFFu /* one-packet message */
#define A2S_HDR_SPLIT 0xFFFFFFFEu  /* one part of a split reply */

#define A2S_T_INFO 0x54         /* 'T' A2S_INFO request */
#define A2S_T_PLAYER 0x55       /* 'U' A2S_PLAYER request */
#define A2S_T_RULES 0x56        /* 'V' A2S_RULES request */
#define A2S_T_GETCHALLENGE 0x57 /* 'W' legacy A2S_SERVERQUERY_GETCHALLENGE */
#define A2S_R_CHALLENGE 0x41    /* 'A' S2C_CHALLENGE */
#define A2S_R_INFO 0x49         /* 'I' */
#define A2S_R_PLAYER 0x44       /* 'D' */
#define A2S_R_RULES 0x45        /* 'E' */

#define A2S_INFO_PAYLOAD "Source Engine Query" /* with its NUL: 20 bytes */
#define A2S_INFO_REQ_LEN 25   /* FF FF FF FF 54 + payload, no challenge */
#define A2S_CHALLENGE_LEN 9   /* FF FF FF FF 41 + 4 bytes */
#define A2S_PLAYER_REQ_LEN 9  /* FF FF FF FF 55|56 + 4 bytes */
#define A2S_ASK_CHALLENGE 0xFFFFFFFFu /* the challenge a client sends to ask for one */

#define A2S_PACKET_MAX 1400     /* a reply longer than this is split */
#define A2S_SPLIT_PAYLOAD 1248  /* payload bytes per part (Source default) */
#define A2S_SPLIT_HDR_LEN 12    /* FE FF FF FF, id, total, number, size */
#define A2S_SPLIT_MAX_PARTS 64  /* more parts than this are refused */
#define A2S_REPLY_MAX 65536     /* largest (reassembled) reply built or accepted */

#define A2S_KEY_LEN 16
#define A2S_BUCKET_MS_DEFAULT 30000

#define A2S_APPID_THE_SHIP 2400

/* EDF (extra data flag) bits of an INFO reply, in the order their fields follow. */
#define A2S_EDF_PORT 0x80
#define A2S_EDF_STEAMID 0x10
#define A2S_EDF_TV 0x40
#define A2S_EDF_KEYWORDS 0x20
#define A2S_EDF_GAMEID 0x01

/* ---- requests ---- */

enum a2s_kind {
	A2S_NOT = 0,      /* not an A2S query (another datagram: forward it) */
	A2S_MALFORMED,    /* starts like an A2S query but is not a valid one */
	A2S_INFO,
	A2S_PLAYER,
	A2S_RULES,
	A2S_GETCHALLENGE, /* 'W' */
	A2S_KIND_MAX
};

const char *a2s_kind_name(enum a2s_kind k); /* "not", "malformed", "info", ... */

struct a2s_req {
	enum a2s_kind kind;
	bool has_challenge; /* false also for FFFFFFFF and 00000000 */
	uint32_t challenge; /* the 4 wire bytes read little endian */
};

/* Classifies a client datagram. INFO needs the full 25 bytes ("Source Engine Query\0");
 * a challenge is read from bytes 25..28 when all four are there; anything after is
 * ignored. PLAYER and RULES need their 4-byte challenge (9 bytes), trailing bytes are
 * ignored. Returns out->kind. */
enum a2s_kind a2s_classify(const uint8_t *pkt, size_t len, struct a2s_req *out);

enum a2s_action {
	A2S_ACT_FORWARD = 0, /* not ours to answer: pass it to the game server */
	A2S_ACT_DROP,        /* malformed, or an answer would be larger than the request */
	A2S_ACT_CHALLENGE,   /* send S2C_CHALLENGE */
	A2S_ACT_REPLY,       /* send the cached reply */
};

/* The edge's rule: a verified client (valid challenge) gets the reply of a cached kind;
 * any other A2S query gets a challenge, but only when the request is at least as long as
 * the 9-byte challenge (an unverified source never gets more bytes than it sent: a bare
 * 5-byte 'W' is dropped). With cached false (the edge answers nothing of this kind, or for
 * 'W' nothing at all for this connection) the query is forwarded untouched. */
enum a2s_action a2s_decide(const struct a2s_req *r, size_t req_len, bool challenge_ok,
			   bool cached);

/* Request builders; each returns the length written or -ENOSPC. */
int a2s_build_info_req(uint8_t *buf, size_t cap, bool with_challenge, uint32_t challenge);
int a2s_build_player_req(uint8_t *buf, size_t cap, uint32_t challenge); /* or A2S_ASK_CHALLENGE */
int a2s_build_rules_req(uint8_t *buf, size_t cap, uint32_t challenge);
int a2s_build_getchallenge_req(uint8_t *buf, size_t cap); /* 5 bytes */

/* ---- the challenge ---- */

/* SipHash-2-4 (Aumasson, Bernstein 2012) of msg under a 128-bit key. */
uint64_t a2s_siphash24(const uint8_t key[A2S_KEY_LEN], const void *msg, size_t len);

/* The challenge of a client address (network order) in a time bucket: SipHash-2-4 over the
 * 4 address bytes and the bucket as 8 bytes little endian, folded to 32 bits. Never
 * 0x00000000 or 0xFFFFFFFF (those mean "no challenge" on the wire). */
uint32_t a2s_challenge(const uint8_t key[A2S_KEY_LEN], uint32_t client_ip, uint64_t bucket);

/* Bucket of a wall-clock time: now_ms / bucket_ms (bucket_ms 0 means the default). */
uint64_t a2s_bucket(uint64_t now_ms, uint32_t bucket_ms);

/* The fleet's challenge keys: the current one and, for a while after a rotation, the
 * previous one, so challenges handed out just before a rotation still pass. */
struct a2s_keys {
	uint8_t cur[A2S_KEY_LEN];
	uint8_t prev[A2S_KEY_LEN];
	bool has_prev;
	uint32_t bucket_ms; /* 0 = A2S_BUCKET_MS_DEFAULT */
};

/* The challenge to hand a client now (current key, current bucket). */
uint32_t a2s_challenge_now(const struct a2s_keys *k, uint32_t client_ip, uint64_t now_ms);
/* True when challenge is the client's for the current or the previous bucket, under the
 * current key or (if set) the previous one. */
bool a2s_challenge_ok(const struct a2s_keys *k, uint32_t client_ip, uint32_t challenge,
		      uint64_t now_ms);
/* Exactly 32 hex digits. 0 or -EINVAL. */
int a2s_key_parse(const char *hex, uint8_t key[A2S_KEY_LEN]);

/* ---- replies ---- */

/* The 9-byte S2C_CHALLENGE. Returns 9 or -ENOSPC. */
int a2s_build_challenge(uint8_t *buf, size_t cap, uint32_t challenge);
/* An S2C_CHALLENGE of exactly 9 bytes. 0 or -EBADMSG. */
int a2s_challenge_parse(const uint8_t *buf, size_t len, uint32_t *challenge);

#define A2S_PKT_SPLIT 0x100
/* The type byte of a one-packet reply (0..255: 'I', 'D', 'E', 'A', ...), A2S_PKT_SPLIT for
 * a split part, or -EBADMSG when the datagram is neither. */
int a2s_reply_type(const uint8_t *buf, size_t len);

/* Strings point into the buffer that was parsed (each ends at its NUL there), so a parsed
 * struct lives only as long as that buffer. Builders read the same structs; a NULL string
 * is written as "". */
struct a2s_info {
	uint8_t protocol;
	const char *name, *map, *folder, *game;
	uint16_t appid;
	uint8_t players, max_players, bots;
	uint8_t server_type; /* 'd' dedicated, 'l' listen, 'p' SourceTV */
	uint8_t environment; /* 'l', 'w', 'm' or 'o' */
	uint8_t visibility;  /* 0 public, 1 password */
	uint8_t vac;
	uint8_t ship_mode, ship_witnesses, ship_duration; /* appid 2400 (The Ship) only */
	const char *version;
	bool has_edf;        /* false: the reply ends after version */
	uint8_t edf;
	uint16_t port;       /* A2S_EDF_PORT */
	uint64_t steamid;    /* A2S_EDF_STEAMID */
	uint16_t tv_port;    /* A2S_EDF_TV */
	const char *tv_name; /* A2S_EDF_TV */
	const char *keywords; /* A2S_EDF_KEYWORDS */
	uint64_t gameid;     /* A2S_EDF_GAMEID */
};

struct a2s_player {
	uint8_t index;
	const char *name;
	int32_t score;
	float duration; /* seconds connected */
};

struct a2s_rule {
	const char *name, *value;
};

/* Parsers take a whole one-packet reply, FF FF FF FF and type byte included (a reassembled
 * split reply is one). Every field is bounds checked; counts are checked against the bytes
 * present before anything is read for them; trailing bytes are an error. On error they
 * return -EBADMSG and set *what to the field at fault ("name", "edf keywords",
 * "rule value", "trailing bytes", ...), a static string. */
int a2s_info_parse(const uint8_t *buf, size_t len, struct a2s_info *out, const char **what);
/* Fills out[0..min(count, max)) (out may be NULL to only validate); *n = the count. */
int a2s_player_parse(const uint8_t *buf, size_t len, struct a2s_player *out, size_t max,
		     size_t *n, const char **what);
int a2s_rules_parse(const uint8_t *buf, size_t len, struct a2s_rule *out, size_t max, size_t *n,
		    const char **what);

/* Reply builders: the whole one-packet reply (it may exceed A2S_PACKET_MAX; split it then).
 * Return the length or -ENOSPC, -EINVAL (more than 255 players, 65535 rules). */
int a2s_build_info(uint8_t *buf, size_t cap, const struct a2s_info *in);
int a2s_build_player(uint8_t *buf, size_t cap, const struct a2s_player *p, size_t n);
int a2s_build_rules(uint8_t *buf, size_t cap, const struct a2s_rule *r, size_t n);

/* ---- split replies (Source variant: FE FF FF FF, id, total, number, size) ---- */

struct a2s_split_hdr {
	uint32_t id;     /* bit 31 set = bzip2-compressed (refused) */
	uint8_t total;   /* parts in the answer */
	uint8_t number;  /* 0 .. total-1 */
	uint16_t size;   /* largest payload of a part */
};

/* Parts a reply of len bytes is sent in: 1 (not split) up to A2S_PACKET_MAX bytes,
 * else ceil(len / A2S_SPLIT_PAYLOAD); -EMSGSIZE above A2S_REPLY_MAX. */
int a2s_split_count(size_t len);
/* Part `number` of reply split under id (bit 31 is cleared: no compression). Returns the
 * datagram length, -EINVAL for a number out of range, -ENOSPC, -EMSGSIZE. */
int a2s_split_build(const uint8_t *reply, size_t len, uint32_t id, unsigned number, uint8_t *out,
		    size_t cap);
/* The header of a split part, checked on its own: total 1..A2S_SPLIT_MAX_PARTS, number <
 * total, size 1..A2S_PACKET_MAX, payload no longer than size, no compression.
 * 0, -EBADMSG or -EOPNOTSUPP (compressed), with *what set. */
int a2s_split_hdr_parse(const uint8_t *pkt, size_t len, struct a2s_split_hdr *h,
			const char **what);
/* Bytes a reassembly of h's answer may need: total * size, or -EMSGSIZE above
 * A2S_REPLY_MAX. Callers size (or allocate) the assembly buffer from this. */
long a2s_split_need(const struct a2s_split_hdr *h);

/* Reassembly into a caller's buffer. Parts may come in any order. */
struct a2s_asm {
	uint8_t *buf;
	size_t cap;
	bool started;
	struct a2s_split_hdr first; /* id, total and size every part must repeat */
	unsigned have;
	uint64_t seen;              /* bit i: part i stored (A2S_SPLIT_MAX_PARTS <= 64) */
	uint16_t part_len[A2S_SPLIT_MAX_PARTS];
	size_t len;                 /* the reply's length once complete */
};

void a2s_asm_init(struct a2s_asm *a, uint8_t *buf, size_t cap);
/* Adds one split part. Returns 1 when the reply is complete (a->buf[0..a->len), starting
 * FF FF FF FF), 0 when more parts are needed, -EALREADY for a duplicate part and -ESTALE
 * for a part of another answer (both ignored: the assembly goes on), -EBADMSG for a
 * malformed part or one contradicting the first (total, size), -EOPNOTSUPP for a
 * compressed answer, -EMSGSIZE when the answer cannot fit cap or A2S_REPLY_MAX.
 * *what says why. */
int a2s_asm_add(struct a2s_asm *a, const uint8_t *pkt, size_t len, const char **what);
/* Parts still missing (total - have), or -1 before the first part. */
int a2s_asm_missing(const struct a2s_asm *a);

#endif
