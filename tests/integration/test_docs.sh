#!/usr/bin/env bash
# test_docs.sh - docs/REDIS.md cannot drift: every redis-cli and bifrostctl line of its sh
# blocks is run as written, in order, against the lab's Redis (redis-cli and bifrostctl
# pointed at it, with the lab's credentials), and must exit 0 without an error reply.
# Lines that wait for messages ((P)SUBSCRIBE) are stopped after 2 s; lines marked
# "(admin)" run as Redis's administrator, the others as the operator (ops).
set -u
. "$(dirname "$0")/lib.sh"
DOC="$ROOT/docs/REDIS.md"

redis-cli() { rcli "$@"; }
bifrostctl() { ctl "$@"; }

# The credentials files the doc names, where it names them: in the current directory.
cd "$TMP" || exit 1
for u in pop1 ops; do
	if [ "$LAB_ACL" = 0 ]; then
		printf 'user %s\npassword doc-test\n' "$u" >"$TMP/$u.cred"; chmod 600 "$TMP/$u.cred"
	else
		install -m 0600 "$CREDS/$u" "$TMP/$u.cred"
	fi
done

mapfile -t lines < <(awk '/^```sh$/ {on = 1; next} /^```$/ {on = 0}
	on && /^(redis-cli|bifrostctl) / {print}' "$DOC")
begin "docs/REDIS.md: ${#lines[@]} lines"
ge "the doc has commands to run" "${#lines[@]}" 40
for line in "${lines[@]}"; do
	case "$line" in
	*"(admin)"*)
		# (a pipe into redis-cli: any failing stage fails the line)
		out=$(set -o pipefail; redis-cli() { rcli_as admin "$@"; }; eval "$line" 2>&1 </dev/null)
		rc=$? ;;
	*SUBSCRIBE*)
		out=$(eval "timeout 2 \"\${RCLI[@]}\" ${line#redis-cli }" 2>&1); rc=$?
		[ "$rc" = 124 ] && rc=0 ;;
	*) out=$(eval "$line" 2>&1 </dev/null); rc=$? ;;
	esac
	if [ "$rc" != 0 ]; then
		bad "exit $rc: $line ($(head -c 300 <<<"$out"))"
	elif grep -qE '^(\(error\) )?(ERR|WRONGTYPE|NOPERM|NOSCRIPT|OOM) ' <<<"$out"; then
		bad "an error reply: $line ($(grep -m1 -E 'ERR|WRONGTYPE|NOPERM|NOSCRIPT|OOM' <<<"$out"))"
	else
		ok "$line"
	fi
done

summary
