/* serve.h - what bf-netprobe serve shares with its A2S responder (serve_a2s.c). */
#ifndef BF_NETPROBE_SERVE_H
#define BF_NETPROBE_SERVE_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "a2s.h"

/* The long options serve hands to serve_a2s_opt. */
#define SERVE_A2S_OPTS "ANMGFIPXBRCZ"

/* The A2S responder's settings and what it has counted. */
struct a2s_srv {
	bool on, no_challenge, mute;
	const char *name, *map, *game, *folder;
	uint64_t appid, players, max_players, bots, rules;
	struct a2s_keys keys;
	uint32_t split_id;
	uint8_t *player_reply, *rules_reply; /* built once at start */
	int player_len, rules_len;
	uint64_t received[A2S_KIND_MAX], challenges, replies, parts;
	uint8_t reply[A2S_REPLY_MAX];        /* the INFO reply being sent */
};

/* The defaults of a zeroed responder: off, a CS:GO server named bf-netprobe. */
void serve_a2s_init(struct a2s_srv *a);
/* One of SERVE_A2S_OPTS (any turns the responder on). 0 or -EINVAL with a message. */
int serve_a2s_opt(struct a2s_srv *a, int opt, const char *arg, bool *max_given);
/* After the options: settings that depend on each other. 0 or -EINVAL with a message. */
int serve_a2s_check(struct a2s_srv *a, bool max_given);
/* Builds the PLAYER and RULES replies the responder serves. 0 or -errno. */
int serve_a2s_prepare(struct a2s_srv *a);
void serve_a2s_free(struct a2s_srv *a);
/* Answers one A2S query received on fd (bound to port) from sa. */
void serve_a2s_answer(struct a2s_srv *a, int fd, uint16_t port, const struct a2s_req *q,
		      const struct sockaddr_in *sa);

#endif
