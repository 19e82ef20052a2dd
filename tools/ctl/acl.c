/* acl.c - bifrostctl acl: the ACL SETUSER line of one user of the fleet's layout
 * (sync/schema_acl.c), with the password as its SHA-256, so the plaintext never leaves
 * the credentials file. Talks to no Redis: the line is for `| redis-cli`. */
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"

/* SHA-256 of s as lower-case hex (what ACL SETUSER takes after '#'). */
static int sha256_hex(const char *s, char out[BF_SHA256_HEX + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (!EVP_Digest(s, strlen(s), md, &n, EVP_sha256(), NULL) || n * 2 != BF_SHA256_HEX)
		return -EIO;
	for (unsigned int i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return 0;
}

int ctl_acl(const struct ctl *c, int argc, char **argv)
{
	int role = bf_acl_role_parse(argv[1]), n;
	const char *id = argc > 2 ? argv[2] : NULL;
	char line[BF_ACL_LINE_MAX], hex[BF_SHA256_HEX + 1];

	if ((role == BF_ACL_EDGE || role == BF_ACL_FLOWSPEC) &&
	    (!bf_origin_valid(id) || !strcmp(id, "ops"))) {
		fprintf(stderr,
			CTL_PROG ": acl %s: '%s' is not a POP id (1-%d of A-Z a-z 0-9 - _ ., "
				 "not ops)\n",
			argv[1], id, BF_ORIGIN_MAX);
		return -EINVAL;
	}
	if (!c->ep.has_pass || !c->ep.user[0]) {
		fprintf(stderr, CTL_PROG ": acl: needs the user's name and password: --auth-file "
				"FILE with 'user NAME' and 'password SECRET' lines (or "
				"$BIFROST_REDIS_USER and $REDISCLI_AUTH)\n");
		return -EINVAL;
	}
	if (sha256_hex(c->ep.pass, hex)) {
		fprintf(stderr, CTL_PROG ": acl: SHA-256 failed (libcrypto)\n");
		return -EIO;
	}
	n = bf_acl_setuser(line, sizeof(line), (enum bf_acl_role)role, id, c->prefix, c->ep.user,
			   hex);
	if (n < 0) {
		fprintf(stderr, CTL_PROG ": acl: %s\n",
			n == -ENAMETOOLONG ? "the line is too long" : "cannot build the line");
		return -EIO;
	}
	printf("%s\n", line);
	return 0;
}
