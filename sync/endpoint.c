/* endpoint.c - parsing an endpoint and a key prefix once, and the
 * credentials (pure: connecting is sync/connect.c). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int bf_endpoint_parse(const char *s, struct bf_endpoint *ep, char *err, size_t errlen)
{
	char host[BF_HOST_MAX + 1];
	const char *port = NULL;
	uint64_t p = BF_REDIS_PORT;
	size_t hl;

	memset(ep, 0, sizeof(*ep));
	if (!s || !*s) {
		bf_seterr(err, errlen, "empty Redis endpoint (want host[:port])");
		return -EINVAL;
	}
	if (s[0] == '[') { /* [v6]:port */
		const char *end = strchr(s, ']');

		if (!end || (end[1] && end[1] != ':')) {
			bf_seterr(err, errlen, "bad Redis endpoint '%.80s' (want [IPv6]:port)", s);
			return -EINVAL;
		}
		hl = (size_t)(end - s - 1);
		if (hl >= sizeof(host)) {
			bf_seterr(err, errlen, "bad Redis endpoint '%.80s': address too long", s);
			return -EINVAL;
		}
		memcpy(host, s + 1, hl);
		host[hl] = '\0';
		if (!is_v6(host)) {
			bf_seterr(err, errlen, "bad Redis endpoint '%.80s': '%s' is not an IPv6 address", s,
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
			bf_seterr(err, errlen, "bad Redis endpoint: host name longer than %d", BF_HOST_MAX);
			return -EINVAL;
		}
		memcpy(host, s, hl);
		host[hl] = '\0';
		if (!host_ok(host)) {
			bf_seterr(err, errlen,
			       "bad Redis endpoint '%.80s' (want host[:port]: a name, a.b.c.d or [IPv6])",
			       s);
			return -EINVAL;
		}
		port = colon ? colon + 1 : NULL;
	}
	if (port && (bf_parse_u64(port, 65535, &p) || p == 0)) {
		bf_seterr(err, errlen, "bad Redis endpoint '%.80s': port must be 1-65535", s);
		return -EINVAL;
	}
	snprintf(ep->host, sizeof(ep->host), "%s", host);
	ep->port = (uint16_t)p;
	return 0;
}

const char *bf_endpoint_str(const struct bf_endpoint *ep, char *buf, size_t len)
{
	if (strchr(ep->host, ':'))
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

int bf_endpoint_credentials(struct bf_endpoint *ep, char *err, size_t errlen)
{
	const char *pass = getenv("REDISCLI_AUTH");

	if (!pass || !*pass)
		return 0;
	if (strlen(pass) > BF_PASS_MAX) {
		bf_seterr(err, errlen, "REDISCLI_AUTH: longer than %d bytes", BF_PASS_MAX);
		return -EINVAL;
	}
	snprintf(ep->pass, sizeof(ep->pass), "%s", pass);
	ep->has_pass = true;
	return 0;
}

