/* query.c - bifrost-a2s-refresher's A2S queries of the game servers it won. */
/* Every reply is checked by the parser before it may be stored; a failing server logs
 * once per change of state, not once per interval. */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../common.h"
#include "log.h"
#include "refresher.h"

#define MAX_INFLIGHT 256   /* queries (sockets) open at once */
#define MAX_ROUNDS 3       /* challenges followed per kind before giving up */
#define STATE_SLOTS 8192   /* per-server last state, for one log line per change */

static const uint8_t reply_type[K_MAX] = { A2S_R_INFO, A2S_R_PLAYER, A2S_R_RULES };
static const char *kind_label[K_MAX] = { "info", "player", "rules" };

/* ---- per-server state, so a failing server logs once, not every interval ---- */

struct state_slot {
	uint32_t ip;
	uint16_t port;
	bool used;
	const char *fail, *detail;
};

static struct state_slot states[STATE_SLOTS];

static struct state_slot *state_of(uint32_t ip, uint16_t port)
{
	uint32_t h = ((ip * 2654435761u) ^ (port * 40503u)) & (STATE_SLOTS - 1);

	for (unsigned n = 0; n < STATE_SLOTS; n++, h = (h + 1) & (STATE_SLOTS - 1)) {
		struct state_slot *s = &states[h];

		if (!s->used) {
			*s = (struct state_slot){ .ip = ip, .port = port, .used = true };
			return s;
		}
		if (s->ip == ip && s->port == port)
			return s;
	}
	return NULL; /* full: MAX_TARGETS < STATE_SLOTS, so only after many config changes */
}

static void note_outcome(const struct target *t, const struct opts *o)
{
	struct state_slot *s = state_of(t->c.bind_ip, t->c.bind_port);
	char b[BF_ADDR_STRLEN], q[BF_ADDR_STRLEN];

	if (s && s->fail == t->fail && s->detail == t->detail)
		return;
	if (t->fail)
		pr_warn("a2s %s:%u (query %s:%u): %s %s%s%s", bf_ipv4_str(t->c.bind_ip, b),
			t->c.bind_port, bf_ipv4_str(t->ip, q), t->port, kind_label[t->fail_kind],
			t->fail, t->detail ? ": " : "", t->detail ? t->detail : "");
	else if (s && s->fail)
		pr_info("a2s %s:%u (query %s:%u): answering again", bf_ipv4_str(t->c.bind_ip, b),
			t->c.bind_port, bf_ipv4_str(t->ip, q), t->port);
	if (s) {
		s->fail = t->fail;
		s->detail = t->detail;
	}
}

static void job_fail(struct target *t, const char *fail, const char *detail)
{
	t->fail = fail;
	t->detail = detail;
	t->fail_kind = t->kind;
	close(t->fd);
	t->fd = -1;
}

static void job_send(struct target *t, const struct opts *o)
{
	uint8_t req[64];
	int n = t->kind == K_INFO   ? a2s_build_info_req(req, sizeof(req), t->with, t->ch) :
		t->kind == K_PLAYER ? a2s_build_player_req(req, sizeof(req),
							   t->with ? t->ch : A2S_ASK_CHALLENGE) :
				      a2s_build_rules_req(req, sizeof(req),
							  t->with ? t->ch : A2S_ASK_CHALLENGE);

	t->deadline = mono_ms() + o->timeout_ms;
	if (send(t->fd, req, (size_t)n, MSG_DONTWAIT) != n)
		job_fail(t, errno == ECONNREFUSED ? "unreachable" : "send failed", NULL);
}

static int job_start(struct target *t, const struct opts *o)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = t->ip,
				  .sin_port = htons(t->port) };

	t->nkinds = 1 + (o->player || o->rules);
	t->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (t->fd < 0)
		return -errno;
	/* Connected: only the server's datagrams arrive, and a closed port reports itself. */
	if (connect(t->fd, (struct sockaddr *)&sa, sizeof(sa))) {
		job_fail(t, "unreachable", NULL);
		return 0;
	}
	job_send(t, o);
	return 0;
}

/* The next kind to ask, after `kind`, or K_MAX. */
static int next_kind(int kind, const struct opts *o)
{
	if (kind == K_INFO && o->player)
		return K_PLAYER;
	if (kind != K_RULES && o->rules)
		return K_RULES;
	return K_MAX;
}

/* A whole answer of the current kind: a challenge to follow, or the reply to keep. */
static void job_answer(struct target *t, const struct opts *o, const uint8_t *b, size_t len)
{
	const char *what = NULL;
	size_t n;
	int rc;

	if (b[4] == A2S_R_CHALLENGE) {
		if (a2s_challenge_parse(b, len, &t->ch)) {
			job_fail(t, "garbage", "S2C_CHALLENGE not 9 bytes");
			return;
		}
		if (++t->rounds > MAX_ROUNDS) {
			job_fail(t, "garbage", "a new challenge every time");
			return;
		}
		t->with = true;
		job_send(t, o);
		return;
	}
	if (b[4] != reply_type[t->kind]) {
		job_fail(t, "garbage", "unexpected answer type");
		return;
	}
	rc = t->kind == K_INFO	 ? a2s_info_parse(b, len, NULL, &what) :
	     t->kind == K_PLAYER ? a2s_player_parse(b, len, NULL, 0, &n, &what) :
				   a2s_rules_parse(b, len, NULL, 0, &n, &what);
	if (rc) {
		job_fail(t, "garbage", what);
		return;
	}
	t->reply[t->kind] = malloc(len); /* len <= A2S_REPLY_MAX: one datagram or a checked assembly */
	if (!t->reply[t->kind]) {
		job_fail(t, "out of memory", NULL);
		return;
	}
	memcpy(t->reply[t->kind], b, len);
	t->reply_len[t->kind] = len;
	free(t->as_buf);
	t->as_buf = NULL;
	t->kind = next_kind(t->kind, o);
	t->rounds = 0;
	if (t->kind == K_MAX) {
		close(t->fd);
		t->fd = -1;
		return;
	}
	job_send(t, o); /* with the challenge INFO needed, if any: servers share it per client */
}

/* Reads what arrived for a query (a bounded number of datagrams). */
static void job_read(struct target *t, const struct opts *o)
{
	static uint8_t pkt[65536];

	for (int k = 0; k < 16 && t->fd >= 0; k++) {
		ssize_t r = recv(t->fd, pkt, sizeof(pkt), MSG_DONTWAIT);
		struct a2s_split_hdr h;
		const char *what = NULL;
		int type, rc;
		long need;

		if (r < 0) {
			if (errno == ECONNREFUSED)
				job_fail(t, "unreachable", "port unreachable");
			return;
		}
		type = a2s_reply_type(pkt, (size_t)r);
		if (type < 0) {
			job_fail(t, "garbage", "not an A2S answer");
			return;
		}
		if (type != A2S_PKT_SPLIT) {
			job_answer(t, o, pkt, (size_t)r);
			continue;
		}
		if (!t->as_buf) {
			/* The first part says how large the answer can be: checked, then allocated. */
			rc = a2s_split_hdr_parse(pkt, (size_t)r, &h, &what);
			need = rc ? rc : a2s_split_need(&h);
			if (need < 0) {
				job_fail(t, "garbage", need == -EMSGSIZE ? "split answer over 64 KiB" :
									     what);
				return;
			}
			t->as_buf = malloc((size_t)need);
			if (!t->as_buf) {
				job_fail(t, "out of memory", NULL);
				return;
			}
			a2s_asm_init(&t->as, t->as_buf, (size_t)need);
		}
		rc = a2s_asm_add(&t->as, pkt, (size_t)r, &what);
		if (rc == 1)
			job_answer(t, o, t->as.buf, t->as.len);
		else if (rc < 0 && rc != -EALREADY && rc != -ESTALE)
			job_fail(t, "garbage", what);
	}
}

/* Queries every target this refresher won, MAX_INFLIGHT at a time; each step waits at most
 * timeout_ms, so a round ends within (kinds x (MAX_ROUNDS + 1)) timeouts per batch. */
void run_queries(struct target *ts, size_t n, const struct opts *o)
{
	static struct pollfd pfd[MAX_INFLIGHT];
	static struct target *who[MAX_INFLIGHT];
	size_t next = 0;
	int live = 0;

	for (;;) {
		uint64_t t, soonest = UINT64_MAX;
		int np = 0;

		while (live < MAX_INFLIGHT && next < n) {
			struct target *x = &ts[next++];

			if (!x->won)
				continue;
			if (job_start(x, o)) {
				x->fd = -1;
				x->fail = "socket failed";
				continue;
			}
			live++;
		}
		t = mono_ms();
		live = 0;
		for (size_t i = 0; i < next; i++) {
			struct target *x = &ts[i];

			if (!x->won || x->fd < 0)
				continue;
			if (t >= x->deadline) {
				job_fail(x, "timeout", x->as_buf ? "parts missing" : "no answer");
				continue;
			}
			if (x->deadline < soonest)
				soonest = x->deadline;
			pfd[np] = (struct pollfd){ .fd = x->fd, .events = POLLIN };
			who[np++] = x;
			live++;
		}
		if (!np && next >= n)
			break;
		if (np && poll(pfd, (nfds_t)np, (int)(soonest - t)) > 0)
			for (int i = 0; i < np; i++)
				if (pfd[i].revents)
					job_read(who[i], o);
	}
}

void free_round(struct target *ts, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		for (int k = 0; k < K_MAX; k++)
			free(ts[i].reply[k]);
		free(ts[i].as_buf);
		if (ts[i].fd >= 0 && ts[i].won)
			close(ts[i].fd);
	}
}

void tally(struct target *ts, size_t n, const struct opts *o, struct stats *st)
{
	for (size_t i = 0; i < n; i++) {
		struct target *t = &ts[i];

		if (!t->won)
			continue;
		if (t->reply[K_INFO])
			st->refreshed++;
		else
			st->failed++;
		if (t->fail && t->reply[K_INFO])
			st->partial++;
		if (t->fail) {
			st->timeouts += !strcmp(t->fail, "timeout");
			st->garbage += !strcmp(t->fail, "garbage");
			st->unreachable += !strcmp(t->fail, "unreachable");
		}
		note_outcome(t, o);
	}
}
