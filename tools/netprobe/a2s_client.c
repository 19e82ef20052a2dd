/* a2s_client.c - bf-netprobe a2s: one A2S query, handshake followed, answer printed. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "a2s.h"
#include "addr.h"
#include "netprobe.h"
#include "text.h"

void a2s_client_usage(FILE *f)
{
	fprintf(f,
		"  " PROG " a2s --to A.B.C.D:PORT [--from A.B.C.D[:PORT]] [--kind info|player|rules|\n"
		"                  getchallenge] [--challenge auto|none|HEX] [--timeout-ms T] [--json]\n"
		"      One A2S query (default info). auto (default): ask without a challenge and\n"
		"      repeat with the one the server sends (at most 3 rounds); none: send once\n"
		"      without a challenge and show the answer; HEX: send once with these 4 bytes\n"
		"      (8 hex digits, in wire order). Split replies are reassembled. Prints the\n"
		"      parsed answer and every datagram's size, sent and received. Exit 0 when a\n"
		"      well-formed answer (reply, or challenge unless auto) came within T ms\n"
		"      (default 1000) of each send, 1 otherwise.\n");
}

#define A2S_MAX_ROUNDS 4   /* first send + up to 3 with a fresh challenge */
#define A2S_MAX_SIZES 300  /* datagram sizes remembered for the report */

enum { CH_AUTO, CH_NONE, CH_GIVEN };

struct a2s_cli {
	uint32_t to, from;
	uint16_t to_port, from_port;
	bool has_from;
	enum a2s_kind kind;
	int mode, json;
	uint32_t challenge;       /* CH_GIVEN */
	uint64_t timeout_ms;
	int sent[A2S_MAX_ROUNDS], n_sent;
	int recvd[A2S_MAX_SIZES], n_recvd;
	unsigned long long sent_bytes, recvd_bytes, recvd_count;
	bool got_challenge;
	uint32_t last_challenge;
};

static void json_char(uint8_t c)
{
	char s[2] = { (char)c, 0 };

	bf_json_fput(stdout, s);
}

static void json_float(float f)
{
	if (f != f || f > 1e30f || f < -1e30f) /* NaN or absurd: not a JSON number */
		fputs("null", stdout);
	else
		printf("%.3f", (double)f);
}

static void print_info(const struct a2s_info *i, bool json)
{
	if (!json) {
		printf("info: name=");
		bf_json_fput(stdout, i->name);
		printf(" map=");
		bf_json_fput(stdout, i->map);
		printf(" folder=");
		bf_json_fput(stdout, i->folder);
		printf(" game=");
		bf_json_fput(stdout, i->game);
		printf(" appid=%u players=%u/%u bots=%u type=%c env=%c visibility=%u vac=%u version=",
		       i->appid, i->players, i->max_players, i->bots,
		       isprint(i->server_type) ? i->server_type : '?',
		       isprint(i->environment) ? i->environment : '?', i->visibility, i->vac);
		bf_json_fput(stdout, i->version);
		if (i->has_edf)
			printf(" edf=0x%02x", i->edf);
		if (i->edf & A2S_EDF_PORT)
			printf(" port=%u", i->port);
		if (i->edf & A2S_EDF_STEAMID)
			printf(" steamid=%llu", (unsigned long long)i->steamid);
		if (i->edf & A2S_EDF_TV) {
			printf(" tv_port=%u tv_name=", i->tv_port);
			bf_json_fput(stdout, i->tv_name);
		}
		if (i->edf & A2S_EDF_KEYWORDS) {
			printf(" keywords=");
			bf_json_fput(stdout, i->keywords);
		}
		if (i->edf & A2S_EDF_GAMEID)
			printf(" gameid=%llu", (unsigned long long)i->gameid);
		putchar('\n');
		return;
	}
	printf("\"info\":{\"protocol\":%u,\"name\":", i->protocol);
	bf_json_fput(stdout, i->name);
	printf(",\"map\":");
	bf_json_fput(stdout, i->map);
	printf(",\"folder\":");
	bf_json_fput(stdout, i->folder);
	printf(",\"game\":");
	bf_json_fput(stdout, i->game);
	printf(",\"appid\":%u,\"players\":%u,\"max_players\":%u,\"bots\":%u,\"server_type\":",
	       i->appid, i->players, i->max_players, i->bots);
	json_char(i->server_type);
	printf(",\"environment\":");
	json_char(i->environment);
	printf(",\"visibility\":%u,\"vac\":%u,\"version\":", i->visibility, i->vac);
	bf_json_fput(stdout, i->version);
	if (i->appid == A2S_APPID_THE_SHIP)
		printf(",\"ship_mode\":%u,\"ship_witnesses\":%u,\"ship_duration\":%u", i->ship_mode,
		       i->ship_witnesses, i->ship_duration);
	if (i->has_edf)
		printf(",\"edf\":%u", i->edf);
	if (i->edf & A2S_EDF_PORT)
		printf(",\"port\":%u", i->port);
	if (i->edf & A2S_EDF_STEAMID) /* strings: 64 bits do not survive a JSON number */
		printf(",\"steamid\":\"%llu\"", (unsigned long long)i->steamid);
	if (i->edf & A2S_EDF_TV) {
		printf(",\"tv_port\":%u,\"tv_name\":", i->tv_port);
		bf_json_fput(stdout, i->tv_name);
	}
	if (i->edf & A2S_EDF_KEYWORDS) {
		printf(",\"keywords\":");
		bf_json_fput(stdout, i->keywords);
	}
	if (i->edf & A2S_EDF_GAMEID)
		printf(",\"gameid\":\"%llu\"", (unsigned long long)i->gameid);
	putchar('}');
}

static void print_players(const struct a2s_player *p, size_t n, bool json)
{
	if (json)
		printf("\"player_count\":%zu,\"players\":[", n);
	else
		printf("players: %zu\n", n);
	for (size_t i = 0; i < n; i++) {
		if (json) {
			printf("%s{\"index\":%u,\"name\":", i ? "," : "", p[i].index);
			bf_json_fput(stdout, p[i].name);
			printf(",\"score\":%d,\"duration\":", p[i].score);
			json_float(p[i].duration);
			putchar('}');
		} else {
			printf("  %3u ", p[i].index);
			bf_json_fput(stdout, p[i].name);
			printf(" score=%d duration=", p[i].score);
			json_float(p[i].duration);
			putchar('\n');
		}
	}
	if (json)
		putchar(']');
}

static void print_rules(const struct a2s_rule *r, size_t n, bool json)
{
	if (json)
		printf("\"rule_count\":%zu,\"rules\":{", n);
	else
		printf("rules: %zu\n", n);
	for (size_t i = 0; i < n; i++) {
		if (json) {
			if (i)
				putchar(',');
			bf_json_fput(stdout, r[i].name);
			putchar(':');
			bf_json_fput(stdout, r[i].value);
		} else {
			printf("  ");
			bf_json_fput(stdout, r[i].name);
			putchar('=');
			bf_json_fput(stdout, r[i].value);
			putchar('\n');
		}
	}
	if (json)
		putchar('}');
}

static void note_recv(struct a2s_cli *c, ssize_t r)
{
	if (c->n_recvd < A2S_MAX_SIZES)
		c->recvd[c->n_recvd++] = (int)r;
	c->recvd_bytes += (unsigned long long)r;
	c->recvd_count++;
}

/* Waits for one whole answer within the timeout: a one-packet reply, or every part of a
 * split one, into buf. Its length, or -ETIMEDOUT, -ECONNREFUSED (port unreachable),
 * -EBADMSG / -EOPNOTSUPP / -EMSGSIZE with *what set. */
static int a2s_recv_answer(int fd, struct a2s_cli *c, uint8_t *buf, size_t cap, const char **what)
{
	static uint8_t pkt[65536];
	uint64_t end = mono_ms() + c->timeout_ms;
	struct a2s_asm a;
	int err;

	a2s_asm_init(&a, buf, cap);
	while ((err = wait_fd(fd, POLLIN, end)) >= 0) {
		ssize_t r = err ? recv(fd, pkt, sizeof(pkt), MSG_DONTWAIT) : -1;
		int t, rc;

		if (r < 0) {
			if (!err || again(errno))
				continue;
			return -errno;
		}
		note_recv(c, r);
		t = a2s_reply_type(pkt, (size_t)r);
		if (t < 0) {
			*what = "not an A2S answer";
			return -EBADMSG;
		}
		if (t != A2S_PKT_SPLIT) {
			if ((size_t)r > cap) {
				*what = "answer too long";
				return -EMSGSIZE;
			}
			memcpy(buf, pkt, (size_t)r);
			return (int)r;
		}
		rc = a2s_asm_add(&a, pkt, (size_t)r, what);
		if (rc == 1)
			return (int)a.len;
		if (rc < 0 && rc != -EALREADY && rc != -ESTALE)
			return rc;
	}
	*what = a.started ? "parts missing" : "no answer";
	return err;
}

static int a2s_request(const struct a2s_cli *c, uint8_t *b, size_t cap, bool with, uint32_t ch)
{
	switch (c->kind) {
	case A2S_INFO:
		return a2s_build_info_req(b, cap, with, ch);
	case A2S_PLAYER:
		return a2s_build_player_req(b, cap, with ? ch : A2S_ASK_CHALLENGE);
	case A2S_RULES:
		return a2s_build_rules_req(b, cap, with ? ch : A2S_ASK_CHALLENGE);
	default:
		return a2s_build_getchallenge_req(b, cap);
	}
}

/* Prints the reply of the kind asked for. 0, or -EBADMSG with *what set. */
static int a2s_print_reply(const struct a2s_cli *c, const uint8_t *b, size_t len, const char **what)
{
	static struct a2s_player pl[255];
	static struct a2s_rule ru[65535];
	struct a2s_info info;
	size_t n;

	if (c->kind == A2S_INFO && !a2s_info_parse(b, len, &info, what)) {
		print_info(&info, c->json);
		return 0;
	}
	if (c->kind == A2S_PLAYER && !a2s_player_parse(b, len, pl, 255, &n, what)) {
		print_players(pl, n, c->json);
		return 0;
	}
	if (c->kind == A2S_RULES && !a2s_rules_parse(b, len, ru, 65535, &n, what)) {
		print_rules(ru, n, c->json);
		return 0;
	}
	return -EBADMSG;
}

static void print_sizes(const char *name, const int *v, int n, unsigned long long bytes,
			unsigned long long count, bool json)
{
	if (json) {
		printf(",\"%s\":[", name);
		for (int i = 0; i < n; i++)
			printf("%s%d", i ? "," : "", v[i]);
		printf("],\"%s_bytes\":%llu", name, bytes);
		return;
	}
	printf("%s %llu datagram%s, %llu bytes (", name, count, count == 1 ? "" : "s", bytes);
	for (int i = 0; i < n; i++)
		printf("%s%d", i ? " " : "", v[i]);
	printf("%s)\n", (unsigned long long)n < count ? " ..." : "");
}

static int parse_a2s_cli(int argc, char **argv, struct a2s_cli *c)
{
	static const struct option lo[] = {
		{ "to", required_argument, NULL, 't' },
		{ "from", required_argument, NULL, 'f' },
		{ "kind", required_argument, NULL, 'k' },
		{ "challenge", required_argument, NULL, 'c' },
		{ "timeout-ms", required_argument, NULL, 'w' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool have_to = false;
	int opt, idx = 0, err;

	c->kind = A2S_INFO;
	c->timeout_ms = 1000;
	while ((opt = getopt_long(argc, argv, "h", lo, &idx)) != -1) {
		err = 0;
		switch (opt) {
		case 't':
			err = bf_parse_endpoint(optarg, false, &c->to, &c->to_port);
			have_to = !err;
			break;
		case 'f':
			c->has_from = true;
			if (strchr(optarg, ':'))
				err = bf_parse_endpoint(optarg, true, &c->from, &c->from_port);
			else
				err = bf_parse_ipv4(optarg, &c->from);
			break;
		case 'k':
			c->kind = !strcmp(optarg, "info")   ? A2S_INFO :
				  !strcmp(optarg, "player") ? A2S_PLAYER :
				  !strcmp(optarg, "rules")  ? A2S_RULES :
				  !strcmp(optarg, "getchallenge") ? A2S_GETCHALLENGE : A2S_NOT;
			err = c->kind == A2S_NOT ? -EINVAL : 0;
			break;
		case 'c':
			if (!strcmp(optarg, "auto")) {
				c->mode = CH_AUTO;
			} else if (!strcmp(optarg, "none")) {
				c->mode = CH_NONE;
			} else {
				/* 8 hex digits, the 4 bytes in wire order; read little endian */
				err = strlen(optarg) == 8 ? 0 : -EINVAL;
				for (int i = 0; !err && i < 8; i++)
					err = isxdigit((unsigned char)optarg[i]) ? 0 : -EINVAL;
				if (!err)
					c->challenge = __builtin_bswap32(
						(uint32_t)strtoul(optarg, NULL, 16));
				c->mode = CH_GIVEN;
			}
			break;
		case 'w':
			err = parse_num(optarg, 1, 600000, &c->timeout_ms);
			break;
		case 'j':
			c->json = 1;
			break;
		default:
			return help_or_bad_option(opt);
		}
		if (err) {
			fprintf(stderr, PROG ": --%s %s: bad value (see --help)\n", lo[idx].name, optarg);
			return -EINVAL;
		}
	}
	if (args_done(argc, argv, have_to))
		return -EINVAL;
	if (c->kind == A2S_GETCHALLENGE && c->mode == CH_GIVEN) {
		fprintf(stderr, PROG ": --kind getchallenge carries no challenge\n");
		return -EINVAL;
	}
	return 0;
}

/* The query: send, read the whole answer, follow a challenge (auto), print. Exit status. */
static int a2s_query(int fd, struct a2s_cli *c, uint8_t *buf, size_t cap, const char **result,
		     const char **what)
{
	static const uint8_t want[A2S_KIND_MAX] = { [A2S_INFO] = A2S_R_INFO,
						    [A2S_PLAYER] = A2S_R_PLAYER,
						    [A2S_RULES] = A2S_R_RULES };
	bool with = c->mode == CH_GIVEN;
	uint32_t ch = c->challenge;
	uint8_t req[64];

	for (int round = 0; round < A2S_MAX_ROUNDS; round++) {
		int n = a2s_request(c, req, sizeof(req), with, ch), len;

		if (send(fd, req, (size_t)n, 0) != n) {
			*result = "send failed";
			*what = strerror(errno);
			return -EIO;
		}
		c->sent[c->n_sent++] = n;
		c->sent_bytes += (unsigned long long)n;
		len = a2s_recv_answer(fd, c, buf, cap, what);
		if (len < 0) {
			*result = len == -ETIMEDOUT ? "timeout" :
				  len == -ECONNREFUSED ? "unreachable" : "garbage";
			if (len == -ECONNREFUSED)
				*what = "port unreachable";
			return len;
		}
		if (buf[4] == A2S_R_CHALLENGE) {
			if (a2s_challenge_parse(buf, (size_t)len, &ch)) {
				*result = "garbage";
				*what = "S2C_CHALLENGE not 9 bytes";
				return -EBADMSG;
			}
			c->got_challenge = true;
			c->last_challenge = ch;
			if (c->kind == A2S_GETCHALLENGE || c->mode != CH_AUTO) {
				*result = "challenge";
				*what = NULL;
				return 0;
			}
			with = true;
			continue;
		}
		if (c->kind == A2S_GETCHALLENGE || buf[4] != want[c->kind]) {
			*result = "garbage";
			*what = "unexpected answer type";
			return -EBADMSG;
		}
		*result = "reply";
		*what = NULL; /* a duplicate part on the way is no error */
		return len;
	}
	*result = "garbage";
	*what = "a new challenge every time";
	return -EPROTO;
}

int cmd_a2s(int argc, char **argv)
{
	static uint8_t buf[A2S_REPLY_MAX];
	struct a2s_cli c = { .mode = CH_AUTO };
	struct sockaddr_in to = { .sin_family = AF_INET };
	const char *result = "", *what = NULL;
	char ep[EP_STRLEN];
	int fd, len, ok;

	if (parse_a2s_cli(argc, argv, &c))
		return 2;
	to.sin_addr.s_addr = c.to;
	to.sin_port = htons(c.to_port);
	fd = open_sock(SOCK_DGRAM, c.from, c.from_port, c.has_from);
	if (fd < 0) {
		fprintf(stderr, PROG ": bind %s: %s\n", ep_str(c.from, c.from_port, ep), strerror(-fd));
		return 1;
	}
	/* Connected: only the server's datagrams are read, and ICMP errors are reported. */
	if (connect(fd, (struct sockaddr *)&to, sizeof(to))) {
		fprintf(stderr, PROG ": connect: %s\n", strerror(errno));
		close(fd);
		return 1;
	}
	len = a2s_query(fd, &c, buf, sizeof(buf), &result, &what);
	ok = len >= 0;
	ep_str(c.to, c.to_port, ep);
	if (c.json) {
		printf("{\"to\":\"%s\",\"kind\":\"%s\",\"result\":\"%s\"", ep, a2s_kind_name(c.kind),
		       result);
		if (c.got_challenge)
			printf(",\"challenge\":\"%08x\"", __builtin_bswap32(c.last_challenge));
		print_sizes("sent", c.sent, c.n_sent, c.sent_bytes, (unsigned long long)c.n_sent, true);
		print_sizes("received", c.recvd, c.n_recvd, c.recvd_bytes, c.recvd_count, true);
	} else {
		printf("%s %s: %s%s%s\n", ep, a2s_kind_name(c.kind), result, what ? ": " : "",
		       what ? what : "");
		print_sizes("sent", c.sent, c.n_sent, c.sent_bytes, (unsigned long long)c.n_sent, false);
		print_sizes("received", c.recvd, c.n_recvd, c.recvd_bytes, c.recvd_count, false);
		if (c.got_challenge)
			printf("challenge %08x\n", __builtin_bswap32(c.last_challenge));
	}
	if (len > 0) {
		if (c.json)
			putchar(',');
		if (a2s_print_reply(&c, buf, (size_t)len, &what)) {
			ok = 0;
			if (c.json)
				printf("\"error\":");
			else
				printf("reply does not parse: ");
			bf_json_fput(stdout, what);
			if (!c.json)
				putchar('\n');
		}
	} else if (!ok && c.json) {
		printf(",\"error\":");
		bf_json_fput(stdout, what);
	}
	if (c.json)
		printf("}\n");
	close(fd);
	return ok ? 0 : 1;
}
