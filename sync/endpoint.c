/* endpoint.c - parsing an endpoint and a key prefix once, and the
 * credentials: a credentials file (checked before it is read) or the
 * environment. Connecting is sync/connect.c. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addr.h"
#include "endpoint.h"
#include "text.h"

/* A host name (RFC 1123 labels) or an IPv4 literal. */
static bool host_ok(const char *h)
{
	size_t n = strlen(h), label = 0;

	if (!n || n > BF_HOST_MAX || h[0] == '.' || h[0] == '-')
		return false;
	for (const char *c = h; *c; c++) {
		if (*c == '.') {
			if (!label)
				return false;
			label = 0;
			continue;
		}
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || *c == '-' || *c == '_'))
			return false;
		if (++label > 63)
			return false;
	}
	return true;
}

static bool is_v6(const char *s)
{
	struct in6_addr a;

	return inet_pton(AF_INET6, s, &a) == 1;
}

/* One "host[:port]" (or "[v6]:port", a bare IPv6 literal) into out; `what` names it in
 * messages ("Redis endpoint", "sentinel"). 0 or -EINVAL with err set. */
static int parse_hostport(const char *s, uint16_t dflt, const char *what, struct bf_hostport *out,
			  char *err, size_t errlen)
{
	char host[BF_HOST_MAX + 1];
	const char *port = NULL;
	uint64_t p = dflt;
	size_t hl;

	if (!s || !*s) {
		bf_seterr(err, errlen, "empty %s (want host[:port])", what);
		return -EINVAL;
	}
	if (s[0] == '[') { /* [v6]:port */
		const char *end = strchr(s, ']');

		if (!end || (end[1] && end[1] != ':')) {
			bf_seterr(err, errlen, "bad %s '%.80s' (want [IPv6]:port)", what, s);
			return -EINVAL;
		}
		hl = (size_t)(end - s - 1);
		if (hl >= sizeof(host)) {
			bf_seterr(err, errlen, "bad %s '%.80s': address too long", what, s);
			return -EINVAL;
		}
		memcpy(host, s + 1, hl);
		host[hl] = '\0';
		if (!is_v6(host)) {
			bf_seterr(err, errlen, "bad %s '%.80s': '%s' is not an IPv6 address", what, s,
				  host);
			return -EINVAL;
		}
		port = end[1] ? end + 2 : NULL;
	} else if (is_v6(s)) { /* a bare IPv6 literal: its colons are not a port */
		snprintf(host, sizeof(host), "%s", s);
	} else {
		const char *colon = strrchr(s, ':');

		hl = colon ? (size_t)(colon - s) : strlen(s);
		if (hl >= sizeof(host)) {
			bf_seterr(err, errlen, "bad %s: host name longer than %d", what, BF_HOST_MAX);
			return -EINVAL;
		}
		memcpy(host, s, hl);
		host[hl] = '\0';
		if (!host_ok(host)) {
			bf_seterr(err, errlen,
				  "bad %s '%.80s' (want host[:port]: a name, a.b.c.d or [IPv6])", what,
				  s);
			return -EINVAL;
		}
		port = colon ? colon + 1 : NULL;
	}
	if (port && (bf_parse_u64(port, 65535, &p) || p == 0)) {
		bf_seterr(err, errlen, "bad %s '%.80s': port must be 1-65535", what, s);
		return -EINVAL;
	}
	snprintf(out->host, sizeof(out->host), "%s", host);
	out->port = (uint16_t)p;
	return 0;
}

/* 1-max of A-Z a-z 0-9 and the characters of `extra`: a user name, a Sentinel master
 * name (nothing a shell, an ACL file or redis-cli would read as a quote, a space or a
 * rule). */
static bool name_ok(const char *s, size_t n, size_t max, const char *extra)
{
	if (!n || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || (s[i] && strchr(extra, s[i]))))
			return false;
	return true;
}

static bool master_ok(const char *m, size_t n)
{
	return name_ok(m, n, BF_MASTER_MAX, "-_.");
}

/* "sentinel:MASTER@HOST[:PORT],..." (the prefix already skipped). */
static int parse_sentinel(const char *s, struct bf_endpoint *ep, char *err, size_t errlen)
{
	const char *at = strchr(s, '@'), *p;
	char one[BF_HOST_MAX + 16];

	if (!at || !master_ok(s, (size_t)(at - s))) {
		bf_seterr(err, errlen,
			  "bad Sentinel endpoint (want sentinel:MASTER@HOST[:PORT],HOST[:PORT],...; "
			  "MASTER 1-%d of A-Z a-z 0-9 - _ .)",
			  BF_MASTER_MAX);
		return -EINVAL;
	}
	memcpy(ep->master, s, (size_t)(at - s));
	ep->master[at - s] = '\0';
	for (p = at + 1;;) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);

		if (ep->n_sentinels == BF_SENTINELS_MAX) {
			bf_seterr(err, errlen, "more than %d sentinels", BF_SENTINELS_MAX);
			return -EINVAL;
		}
		if (n >= sizeof(one)) {
			bf_seterr(err, errlen, "bad sentinel: host name longer than %d", BF_HOST_MAX);
			return -EINVAL;
		}
		memcpy(one, p, n);
		one[n] = '\0';
		if (parse_hostport(one, BF_SENTINEL_PORT, "sentinel", &ep->sentinels[ep->n_sentinels],
				   err, errlen))
			return -EINVAL;
		ep->n_sentinels++;
		if (!comma)
			return 0;
		p = comma + 1;
	}
}

int bf_endpoint_parse(const char *s, struct bf_endpoint *ep, char *err, size_t errlen)
{
	struct bf_hostport hp;

	memset(ep, 0, sizeof(*ep));
	if (!s || !*s) {
		bf_seterr(err, errlen, "empty Redis endpoint (want host[:port])");
		return -EINVAL;
	}
	if (!strncmp(s, "sentinel:", 9))
		return parse_sentinel(s + 9, ep, err, errlen) ? (memset(ep, 0, sizeof(*ep)), -EINVAL) :
								 0;
	if (parse_hostport(s, BF_REDIS_PORT, "Redis endpoint", &hp, err, errlen))
		return -EINVAL;
	snprintf(ep->host, sizeof(ep->host), "%s", hp.host);
	ep->port = hp.port;
	return 0;
}

const char *bf_endpoint_str(const struct bf_endpoint *ep, char *buf, size_t len)
{
	if (bf_endpoint_is_sentinel(ep) && !ep->host[0])
		snprintf(buf, len, "%s via %d sentinel%s", ep->master, ep->n_sentinels,
			 ep->n_sentinels == 1 ? "" : "s");
	else if (strchr(ep->host, ':'))
		snprintf(buf, len, "[%s]:%u", ep->host, ep->port);
	else
		snprintf(buf, len, "%s:%u", ep->host, ep->port);
	return buf;
}

bool bf_prefix_valid(const char *p)
{
	size_t n = p ? strlen(p) : 0;

	if (n == 0 || n > 32 || p[n - 1] != ':')
		return false;
	for (; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
		      *p == '_' || *p == '-' || *p == '.' || *p == ':'))
			return false;
	return true;
}

/* ---- credentials ---- */

static bool user_ok(const char *u, size_t n)
{
	return name_ok(u, n, BF_USER_MAX, "-_.@");
}

bool bf_user_valid(const char *s)
{
	return s && user_ok(s, strlen(s));
}

/* One "KEY VALUE" line (no newline) into out; 0 or -EINVAL with err set. */
static int auth_line(const char *l, size_t n, const char *name, unsigned ln,
		     struct bf_endpoint *out, bool *seen_user, char *err, size_t errlen)
{
	size_t k = 0, v;
	bool is_user;

	while (k < n && l[k] != ' ' && l[k] != '\t')
		k++;
	if (k == 4 && !memcmp(l, "user", 4)) {
		is_user = true;
	} else if (k == 8 && !memcmp(l, "password", 8)) {
		is_user = false;
	} else {
		bf_seterr(err, errlen, "%s:%u: unknown key (want 'user NAME' or 'password SECRET')",
			  name, ln);
		return -EINVAL;
	}
	for (v = k; v < n && (l[v] == ' ' || l[v] == '\t'); v++)
		;
	if (v == n) {
		bf_seterr(err, errlen, "%s:%u: %s has no value", name, ln,
			  is_user ? "user" : "password");
		return -EINVAL;
	}
	if (l[n - 1] == ' ' || l[n - 1] == '\t') {
		bf_seterr(err, errlen, "%s:%u: the value ends in a space or tab (remove it)", name,
			  ln);
		return -EINVAL;
	}
	for (size_t i = v; i < n; i++)
		if ((unsigned char)l[i] < 0x20 || l[i] == 0x7f) {
			bf_seterr(err, errlen, "%s:%u: a control character in the value", name, ln);
			return -EINVAL;
		}
	if (is_user ? *seen_user : out->has_pass) {
		bf_seterr(err, errlen, "%s:%u: a second %s line", name, ln,
			  is_user ? "user" : "password");
		return -EINVAL;
	}
	if (is_user) {
		if (!user_ok(l + v, n - v)) {
			bf_seterr(err, errlen, "%s:%u: a user name is 1-%d of A-Z a-z 0-9 - _ . @",
				  name, ln, BF_USER_MAX);
			return -EINVAL;
		}
		memcpy(out->user, l + v, n - v);
		out->user[n - v] = '\0';
		*seen_user = true;
	} else {
		if (n - v > BF_PASS_MAX) {
			bf_seterr(err, errlen, "%s:%u: the password is longer than %d bytes", name,
				  ln, BF_PASS_MAX);
			return -EINVAL;
		}
		memcpy(out->pass, l + v, n - v);
		out->pass[n - v] = '\0';
		out->has_pass = true;
	}
	return 0;
}

int bf_auth_parse(const char *text, size_t n, const char *name, struct bf_endpoint *ep,
		  char *err, size_t errlen)
{
	struct bf_endpoint c = { 0 };
	bool seen_user = false;
	unsigned ln = 0;
	int rc = 0;

	if (memchr(text, '\0', n)) {
		bf_seterr(err, errlen, "%s: a NUL byte (not a text file)", name);
		return -EINVAL;
	}
	for (size_t at = 0; at < n && !rc;) {
		const char *l = text + at, *nl = memchr(l, '\n', n - at);
		size_t len = nl ? (size_t)(nl - l) : n - at;

		at += len + 1;
		ln++;
		if (len && l[len - 1] == '\r') /* a file saved with CR LF line ends */
			len--;
		while (len && (*l == ' ' || *l == '\t')) {
			l++;
			len--;
		}
		if (len && *l != '#')
			rc = auth_line(l, len, name, ln, &c, &seen_user, err, errlen);
	}
	if (!rc && !c.has_pass) {
		bf_seterr(err, errlen, "%s: no 'password' line", name);
		rc = -EINVAL;
	}
	if (!rc) {
		memcpy(ep->user, c.user, sizeof(ep->user));
		memcpy(ep->pass, c.pass, sizeof(ep->pass));
		ep->has_pass = true;
	}
	explicit_bzero(&c, sizeof(c));
	return rc;
}

int bf_auth_file_safe(const struct stat *st, unsigned euid, const char *path, char *err,
		      size_t errlen)
{
	if (!S_ISREG(st->st_mode)) {
		bf_seterr(err, errlen, "%.200s: not a regular file (want a file of 'user NAME' and "
			  "'password SECRET' lines)", path);
		return -EINVAL;
	}
	if (st->st_uid != euid && st->st_uid != 0) {
		bf_seterr(err, errlen,
			  "%.200s: owned by uid %u, not by this user (uid %u) or root; run: "
			  "chown %u %.200s", path, (unsigned)st->st_uid, euid, euid, path);
		return -EPERM;
	}
	if (st->st_mode & (S_IRWXG | S_IRWXO)) {
		bf_seterr(err, errlen, "%.200s: group or others may read or write it (mode %04o); "
			  "run: chmod 600 %.200s", path, (unsigned)(st->st_mode & 07777), path);
		return -EPERM;
	}
	if (st->st_size > BF_AUTH_FILE_MAX) {
		bf_seterr(err, errlen, "%.200s: %lld bytes, more than %d: not a credentials file? "
			  "(want 'user NAME' and 'password SECRET' lines)", path,
			  (long long)st->st_size, BF_AUTH_FILE_MAX);
		return -EFBIG;
	}
	return 0;
}

int bf_auth_file_read(const char *path, struct bf_endpoint *ep, char *err, size_t errlen)
{
	char buf[BF_AUTH_FILE_MAX + 1];
	struct stat st;
	ssize_t got = 0, r;
	int fd, rc;

	/* O_NONBLOCK: a FIFO must not hang the open; fstat then refuses it. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		rc = -errno;
		bf_seterr(err, errlen, "cannot open the credentials file %.200s: %s", path,
			  strerror(-rc));
		return rc;
	}
	if (fstat(fd, &st)) {
		rc = -errno;
		bf_seterr(err, errlen, "%.200s: %s", path, strerror(-rc));
	} else {
		rc = bf_auth_file_safe(&st, (unsigned)geteuid(), path, err, errlen);
	}
	while (!rc && (r = read(fd, buf + got, sizeof(buf) - (size_t)got)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			bf_seterr(err, errlen, "cannot read %.200s: %s", path, strerror(-rc));
		} else if ((got += r) > BF_AUTH_FILE_MAX) { /* it grew since fstat */
			bf_seterr(err, errlen, "%.200s: more than %d bytes", path,
				  BF_AUTH_FILE_MAX);
			rc = -EFBIG;
		}
	}
	close(fd);
	if (!rc)
		rc = bf_auth_parse(buf, (size_t)got, path, ep, err, errlen);
	if (!rc)
		snprintf(ep->auth_src, sizeof(ep->auth_src), "%.200s", path);
	explicit_bzero(buf, sizeof(buf));
	return rc;
}

int bf_endpoint_credentials(struct bf_endpoint *ep, const char *auth_file, char *err,
			    size_t errlen)
{
	const char *user, *pass;

	if (auth_file && *auth_file)
		return bf_auth_file_read(auth_file, ep, err, errlen);
	user = getenv("BIFROST_REDIS_USER");
	pass = getenv("REDISCLI_AUTH");
	if (!pass || !*pass) {
		if (user && *user) {
			bf_seterr(err, errlen, "BIFROST_REDIS_USER is set but REDISCLI_AUTH (its "
				  "password) is not: set both, or name a credentials file");
			return -EINVAL;
		}
		return 0;
	}
	if (strlen(pass) > BF_PASS_MAX) {
		bf_seterr(err, errlen, "REDISCLI_AUTH: longer than %d bytes", BF_PASS_MAX);
		return -EINVAL;
	}
	if (user && *user && !user_ok(user, strlen(user))) {
		bf_seterr(err, errlen,
			  "BIFROST_REDIS_USER: a user name is 1-%d of A-Z a-z 0-9 - _ . @",
			  BF_USER_MAX);
		return -EINVAL;
	}
	snprintf(ep->user, sizeof(ep->user), "%s", user && *user ? user : "");
	snprintf(ep->pass, sizeof(ep->pass), "%s", pass);
	ep->has_pass = true;
	snprintf(ep->auth_src, sizeof(ep->auth_src), "%s",
		 ep->user[0] ? "BIFROST_REDIS_USER and REDISCLI_AUTH" : "REDISCLI_AUTH");
	return 0;
}
