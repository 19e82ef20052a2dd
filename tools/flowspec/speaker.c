/* speaker.c - the BGP speaker: gobgpd, run as our child so it dies with us, and its
 * Flowspec RIB, changed through gobgp, its own API client (docs/ARCHITECTURE.md says why). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../common.h"
#include "fsd.h"
#include "log.h"

#define CLI_TIMEOUT_MS 5000
#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 30000
#define ARGV_MAX 96

/* Waits for pid up to timeout_ms; kills it past that. Its exit status, -1 when a signal
 * ended it, -2 past the deadline (then killed). */
static int wait_deadline(pid_t pid, uint64_t timeout_ms)
{
	uint64_t end = mono_ms() + timeout_ms;
	int st;

	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
		if (r < 0 && errno != EINTR)
			return -1;
		if (mono_ms() >= end) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return -2;
		}
		nanosleep(&(struct timespec){ 0, 5000000 }, NULL);
	}
}

/* Runs argv with stdout to /dev/null and stderr's first line kept in msg. Exit status,
 * or -1 (could not run, killed, or past the deadline). */
static int run(char *const *argv, char *msg, size_t msglen)
{
	int p[2], rc;
	pid_t pid;
	ssize_t got = 0, n;

	msg[0] = '\0';
	if (pipe2(p, O_CLOEXEC))
		return -1;
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (!pid) {
		int null = open("/dev/null", O_RDWR);

		dup2(null, 0);
		dup2(null, 1);
		dup2(p[1], 2);
		execvp(argv[0], argv);
		dprintf(2, "cannot run %s: %s", argv[0], strerror(errno));
		_exit(127);
	}
	close(p[1]);
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	rc = wait_deadline(pid, CLI_TIMEOUT_MS);
	while (got < (ssize_t)msglen - 1 &&
	       (n = read(p[0], msg + got, msglen - 1 - (size_t)got)) > 0)
		got += n;
	close(p[0]);
	msg[got > 0 ? got : 0] = '\0';
	for (char *c = msg; *c; c++)
		if (*c == '\n' || *c == '\r')
			*c = *(c + 1) ? ' ' : '\0';
	return rc;
}

static void api_args(const struct fs_speaker *s, char **argv, int *n, char *port)
{
	snprintf(port, 8, "%u", s->c->api_port);
	argv[(*n)++] = (char *)s->c->gobgp;
	argv[(*n)++] = "-u";
	argv[(*n)++] = (char *)s->c->api_host;
	argv[(*n)++] = "-p";
	argv[(*n)++] = port;
}

#define HUNG_PROBES 3 /* failed probes after which a gobgpd of ours is killed */

static void failed(struct fs_speaker *s, uint64_t now_ms, const char *what)
{
	s->ready = false;
	/* A gobgpd of ours whose API stopped answering may still keep its sessions and
	 * routes: killed, its sessions close and the upstreams withdraw; then started
	 * again. */
	if (s->c->speaker == FS_SPEAKER_SPAWN && s->pid && ++s->fails >= HUNG_PROBES) {
		pr_err("speaker: gobgpd (pid %d) failed %d probes in a row: killed", (int)s->pid,
		       s->fails);
		kill(s->pid, SIGKILL);
		s->fails = 0;
	}
	s->next_try_ms = now_ms + s->backoff_ms;
	s->backoff_ms = s->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : s->backoff_ms * 2;
	if (strcmp(what, s->said))
		pr_err("speaker: %s; retrying with back-off", what);
	snprintf(s->said, sizeof(s->said), "%s", what);
}

static pid_t spawn_gobgpd(const struct fs_conf *c)
{
	char api[80];
	pid_t parent = getpid(), pid;

	snprintf(api, sizeof(api), "%s:%u", c->api_host, c->api_port);
	pid = fork();
	if (pid)
		return pid;
	/* Dies with us, whatever kills us: its sessions then close and every upstream
	 * withdraws what it learned from this POP. */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) || getppid() != parent)
		_exit(1);
	/* its own process group: a Ctrl-C or `timeout` meant for us stops us, and we
	 * withdraw before we stop it */
	setpgid(0, 0);
	execlp(c->gobgpd, c->gobgpd, "-f", c->gobgpd_conf, "--api-hosts", api, "--pprof-disable",
	       "-l", "warn", "-p", (char *)NULL);
	dprintf(2, PROG ": cannot run %s: %s\n", c->gobgpd, strerror(errno));
	_exit(127);
}

bool fs_speaker_poll(struct fs_speaker *s, uint64_t now_ms)
{
	char *argv[ARGV_MAX], port[8], msg[160], what[320];
	int n = 0, st;

	if (!s->backoff_ms)
		s->backoff_ms = BACKOFF_MIN_MS;
	if (s->pid && waitpid(s->pid, &st, WNOHANG) == s->pid) {
		s->pid = 0;
		s->restarts++;
		snprintf(what, sizeof(what), "gobgpd exited (%s %d): every route is withdrawn",
			 WIFEXITED(st) ? "status" : "signal",
			 WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
		failed(s, now_ms, what);
		return false;
	}
	if (s->ready || now_ms < s->next_try_ms)
		return false;
	if (s->c->speaker == FS_SPEAKER_SPAWN && !s->pid) {
		s->pid = spawn_gobgpd(s->c);
		if (s->pid < 0) {
			s->pid = 0;
			failed(s, now_ms, "cannot fork gobgpd");
			return false;
		}
		pr_info("speaker: started %s -f %s (pid %d), API %s:%u", s->c->gobgpd,
			s->c->gobgpd_conf, (int)s->pid, s->c->api_host, s->c->api_port);
		s->fresh = true;
		s->next_try_ms = now_ms + 200; /* its API is up in a moment */
		return false;
	}
	api_args(s, argv, &n, port);
	argv[n++] = "global";
	argv[n] = NULL;
	if (run(argv, msg, sizeof(msg))) {
		/* a gobgpd just started needs a moment: probe again soon, log only later */
		if (s->pid && s->backoff_ms < 4 * BACKOFF_MIN_MS) {
			s->next_try_ms = now_ms + 200;
			s->backoff_ms += 200;
			return false;
		}
		snprintf(what, sizeof(what), "API %s:%u does not answer: %s", s->c->api_host,
			 s->c->api_port, msg[0] ? msg : "no reply");
		failed(s, now_ms, what);
		return false;
	}
	if (s->c->speaker == FS_SPEAKER_EXTERNAL && !s->cleared) {
		/* what an exporter before us left there is ours: start from nothing */
		n = 0;
		api_args(s, argv, &n, port);
		argv[n++] = "global";
		argv[n++] = "rib";
		argv[n++] = "-a";
		argv[n++] = "ipv4-flowspec";
		argv[n++] = "del";
		argv[n++] = "all";
		argv[n] = NULL;
		if (run(argv, msg, sizeof(msg))) {
			snprintf(what, sizeof(what), "clearing the Flowspec RIB of %s:%u failed: %s",
				 s->c->api_host, s->c->api_port, msg[0] ? msg : "no reply");
			failed(s, now_ms, what);
			return false;
		}
		s->cleared = s->fresh = true;
	}
	pr_info("speaker: API %s:%u answers%s", s->c->api_host, s->c->api_port,
		s->said[0] ? " again" : "");
	s->said[0] = '\0';
	s->ready = true;
	s->fails = 0;
	s->backoff_ms = BACKOFF_MIN_MS;
	if (!s->fresh)
		return false;
	s->fresh = false;
	return true;
}

int fs_speaker_route(struct fs_speaker *s, bool add, const char *match)
{
	char *argv[ARGV_MAX], port[8], words[BF_FS_MATCH_MAX], msg[160], *save = NULL, *t;
	int n = 0;

	api_args(s, argv, &n, port);
	argv[n++] = "global";
	argv[n++] = "rib";
	argv[n++] = "-a";
	argv[n++] = "ipv4-flowspec";
	argv[n++] = add ? "add" : "del";
	argv[n++] = "match";
	snprintf(words, sizeof(words), "%s", match);
	for (t = strtok_r(words, " ", &save); t && n < ARGV_MAX - 3; t = strtok_r(NULL, " ", &save))
		argv[n++] = t;
	if (add) {
		argv[n++] = "then";
		argv[n++] = "discard";
	}
	argv[n] = NULL;
	if (!run(argv, msg, sizeof(msg)))
		return 0;
	s->errors++;
	pr_err("speaker: %s %s failed: %s", add ? "announce" : "withdraw", match,
	       msg[0] ? msg : "no reply");
	s->ready = false; /* probed again before the next change */
	return -EIO;
}

void fs_speaker_stop(struct fs_speaker *s)
{
	if (!s->pid)
		return;
	kill(s->pid, SIGTERM);
	if (wait_deadline(s->pid, 5000) == -2)
		pr_warn("speaker: gobgpd (pid %d) did not stop in 5 s: killed", (int)s->pid);
	s->pid = 0;
	s->ready = false;
}
