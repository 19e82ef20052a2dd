/* schema_acl.h - the fleet's Redis ACL layout: which keys, channels and commands each
 * role may use, as ACL SETUSER lines (docs/REDIS.md, "ACL users"). Pure. */
#ifndef BF_SCHEMA_ACL_H
#define BF_SCHEMA_ACL_H

#include <stddef.h>

#define BF_ACL_LINE_MAX 4096
#define BF_SHA256_HEX 64

enum bf_acl_role {
	BF_ACL_EDGE = 0,  /* one edge: writes only its own origin */
	BF_ACL_OPS,       /* bifrostctl: the ops origin and the fleet config */
	BF_ACL_REFRESHER, /* bifrost-a2s-refresher: the A2S cache */
	BF_ACL_INSPECTOR, /* read-only */
	BF_ACL_FLOWSPEC,  /* one POP's bifrost-flowspec: reads the rules, writes its state */
	BF_ACL_ROLE_MAX
};

/* "edge", "ops", "refresher", "inspector", "flowspec"; parse: the role or -EINVAL. */
const char *bf_acl_role_name(enum bf_acl_role r);
int bf_acl_role_parse(const char *s);

/* One line (no newline) that creates or replaces `user` with exactly the rights of role:
 * "ACL SETUSER <user> reset resetchannels on #<sha256_hex> ...". id is the edge id (an
 * origin, not "ops") for BF_ACL_EDGE and ignored otherwise; prefix a valid key prefix
 * (bf_prefix_valid: no glob characters); user 1-64 of A-Z a-z 0-9 - _ . @; sha256_hex the
 * password's SHA-256 as 64 lower-case hex digits, so the line never holds the password.
 * The line's length, -EINVAL (a bad argument) or -ENAMETOOLONG (buf too small). */
int bf_acl_setuser(char *buf, size_t len, enum bf_acl_role role, const char *id,
		   const char *prefix, const char *user, const char *sha256_hex);

#endif
