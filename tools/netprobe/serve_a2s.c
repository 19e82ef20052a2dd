/* serve_a2s.c - bf-netprobe serve's A2S responder: answers like a Source server. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>

#include "addr.h"
#include "netprobe.h"
#include "serve.h"

#define A2S_MAX_RULES 2000

void serve_a2s_usage(FILE *f)
{
	fprintf(f,
		"      A2S options (any of them turns the responder on; UDP sockets only):\n"
		"        --a2s                  answer A2S queries like a Source server, with its own\n"
		"                               challenge (S2C_CHALLENGE first, then the reply)\n"
		"        --a2s-name NAME        server name (default 'bf-netprobe')\n"
		"        --a2s-map MAP          map (default 'de_dust2')\n"
		"        --a2s-game GAME        game (default 'Counter-Strike: Global Offensive')\n"
		"        --a2s-folder DIR       game folder (default 'csgo')\n"
		"        --a2s-appid N          Steam app id (default 730)\n"
		"        --a2s-players N        players 'player1'..'playerN' (0..255, default 0)\n"
		"        --a2s-max-players N    max players (default 32, or N players if more)\n"
		"        --a2s-bots N           how many of the players are bots (default 0)\n"
		"        --a2s-rules N          rules 'bf_rule_000'='value_0'.. (0..2000, default 0);\n"
		"                               replies above 1400 bytes go out split (200 need 4 parts)\n"
		"        --a2s-no-challenge     answer A2S_INFO without a challenge (pre-2020 servers);\n"
		"                               PLAYER and RULES still need one\n"
		"        --a2s-mute             count A2S queries, answer none (a server that times out)\n");
}

void serve_a2s_init(struct a2s_srv *a)
{
	a->name = "bf-netprobe";
	a->map = "de_dust2";
	a->folder = "csgo";
	a->game = "Counter-Strike: Global Offensive";
	a->appid = 730;
	a->max_players = 32;
}

static void a2s_send(int fd, const void *b, size_t n, const struct sockaddr_in *sa)
{
	sendto(fd, b, n, MSG_DONTWAIT, (const struct sockaddr *)sa, sizeof(*sa));
}

/* Sends a reply, split into parts when it is longer than one packet. */
static void a2s_send_reply(struct a2s_srv *a, int fd, const uint8_t *reply, int len,
			   const struct sockaddr_in *sa)
{
	uint8_t part[A2S_SPLIT_HDR_LEN + A2S_SPLIT_PAYLOAD];
	int parts = a2s_split_count((size_t)len);
	uint32_t id = ++a->split_id;

	a->replies++;
	for (int i = 0; i < parts; i++) {
		int n = parts == 1 ? len :
				     a2s_split_build(reply, (size_t)len, id, (unsigned)i, part, sizeof(part));

		if (n < 0)
			return;
		a2s_send(fd, parts == 1 ? reply : part, (size_t)n, sa);
		a->parts += parts > 1;
	}
}

/* The way a Source server does: a challenge first (for INFO unless --a2s-no-challenge),
 * the reply once the client repeats the query with it. */
void serve_a2s_answer(struct a2s_srv *a, int fd, uint16_t port, const struct a2s_req *q,
		      const struct sockaddr_in *sa)
{
	uint64_t now = (uint64_t)time(NULL) * 1000;
	bool ok = q->has_challenge && a2s_challenge_ok(&a->keys, sa->sin_addr.s_addr, q->challenge, now);
	uint8_t ch[A2S_CHALLENGE_LEN];
	int n;

	if (q->kind == A2S_MALFORMED || a->mute)
		return; /* a real server ignores malformed queries too */
	if (q->kind == A2S_INFO && (ok || a->no_challenge)) {
		struct a2s_info i = {
			.protocol = 17, .name = a->name, .map = a->map, .folder = a->folder,
			.game = a->game, .appid = (uint16_t)a->appid, .players = (uint8_t)a->players,
			.max_players = (uint8_t)a->max_players, .bots = (uint8_t)a->bots,
			.server_type = 'd', .environment = 'l', .visibility = 0, .vac = 1,
			.version = "1.0.0." BIFROST_VERSION, .has_edf = true,
			.edf = A2S_EDF_PORT | A2S_EDF_STEAMID | A2S_EDF_KEYWORDS | A2S_EDF_GAMEID,
			.port = port, .steamid = 85568392920039000ULL, .keywords = "bifrost,stand-in",
			.gameid = a->appid,
		};

		n = a2s_build_info(a->reply, sizeof(a->reply), &i);
		if (n > 0)
			a2s_send_reply(a, fd, a->reply, n, sa);
		return;
	}
	if (ok && q->kind == A2S_PLAYER) {
		a2s_send_reply(a, fd, a->player_reply, a->player_len, sa);
		return;
	}
	if (ok && q->kind == A2S_RULES) {
		a2s_send_reply(a, fd, a->rules_reply, a->rules_len, sa);
		return;
	}
	/* No (valid) challenge, or W: hand out the current one. */
	n = a2s_build_challenge(ch, sizeof(ch), a2s_challenge_now(&a->keys, sa->sin_addr.s_addr, now));
	a2s_send(fd, ch, (size_t)n, sa);
	a->challenges++;
}

int serve_a2s_prepare(struct a2s_srv *a)
{
	static struct a2s_player pl[255];
	static struct a2s_rule ru[A2S_MAX_RULES];
	static char pname[255][16], rname[A2S_MAX_RULES][16], rval[A2S_MAX_RULES][16];

	if (getrandom(a->keys.cur, sizeof(a->keys.cur), 0) != (ssize_t)sizeof(a->keys.cur))
		return -errno;
	for (unsigned i = 0; i < a->players; i++) {
		snprintf(pname[i], sizeof(pname[i]), "player%u", i + 1);
		pl[i] = (struct a2s_player){ .index = 0, .name = pname[i], .score = (int32_t)(i * 3),
					     .duration = 60.5f * (float)(i + 1) };
	}
	for (unsigned i = 0; i < a->rules; i++) {
		snprintf(rname[i], sizeof(rname[i]), "bf_rule_%03u", i);
		snprintf(rval[i], sizeof(rval[i]), "value_%u", i);
		ru[i] = (struct a2s_rule){ rname[i], rval[i] };
	}
	a->player_reply = malloc(A2S_REPLY_MAX);
	a->rules_reply = malloc(A2S_REPLY_MAX);
	if (!a->player_reply || !a->rules_reply)
		return -ENOMEM;
	a->player_len = a2s_build_player(a->player_reply, A2S_REPLY_MAX, pl, a->players);
	a->rules_len = a2s_build_rules(a->rules_reply, A2S_REPLY_MAX, ru, a->rules);
	return a->player_len < 0 ? a->player_len : a->rules_len < 0 ? a->rules_len : 0;
}

void serve_a2s_free(struct a2s_srv *a)
{
	free(a->player_reply);
	free(a->rules_reply);
}

static int a2s_num(const char *opt, const char *arg, uint64_t max, uint64_t *out)
{
	if (bf_parse_u64(arg, max, out)) {
		fprintf(stderr, PROG ": --%s: want 0..%llu, got '%s'\n", opt, (unsigned long long)max,
			arg);
		return -EINVAL;
	}
	return 0;
}

static int a2s_text(const char *opt, const char *arg, const char **out)
{
	if (strlen(arg) > 255) {
		fprintf(stderr, PROG ": --%s: at most 255 bytes\n", opt);
		return -EINVAL;
	}
	*out = arg;
	return 0;
}

int serve_a2s_opt(struct a2s_srv *a, int opt, const char *arg, bool *max_given)
{
	a->on = true;
	switch (opt) {
	case 'A':
		return 0;
	case 'C':
		a->no_challenge = true;
		return 0;
	case 'Z':
		a->mute = true;
		return 0;
	case 'N':
		return a2s_text("a2s-name", arg, &a->name);
	case 'M':
		return a2s_text("a2s-map", arg, &a->map);
	case 'G':
		return a2s_text("a2s-game", arg, &a->game);
	case 'F':
		return a2s_text("a2s-folder", arg, &a->folder);
	case 'I':
		return a2s_num("a2s-appid", arg, 65535, &a->appid);
	case 'P':
		return a2s_num("a2s-players", arg, 255, &a->players);
	case 'X':
		*max_given = true;
		return a2s_num("a2s-max-players", arg, 255, &a->max_players);
	case 'B':
		return a2s_num("a2s-bots", arg, 255, &a->bots);
	case 'R':
		return a2s_num("a2s-rules", arg, A2S_MAX_RULES, &a->rules);
	}
	return -EINVAL;
}

int serve_a2s_check(struct a2s_srv *a, bool max_given)
{
	if (!max_given && a->players > a->max_players)
		a->max_players = a->players;
	if (a->bots > a->players) {
		fprintf(stderr, PROG ": --a2s-bots is more than --a2s-players\n");
		return -EINVAL;
	}
	return 0;
}
