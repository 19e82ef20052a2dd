# lib.sh - the one shell library of the test scripts (sourced): assertions, a
# temporary directory, what to stop on exit, tool checks, a redis-server of the
# test's own on a free loopback port.
#
#   . "$(dirname "$0")/../lib.sh" NAME
#   begin "a section"            # optional: prefixes the lines that follow
#   eq "what" "$got" "$want"; check "what" CMD...; ge "what" "$n" MIN
#   cmd & PIDS+=($!)             # stopped (and waited for) on exit
#   on_exit "ip netns del x"     # run on exit, in order, before the PIDS stop
#   summary                      # last line: exits 0 only if nothing failed
#
# Every script prints one "ok - ..." or "FAIL - ..." line per check and ends
# with "NAME: P passed, F failed".
TEST_NAME=${1:?lib.sh: name the test}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${BIN:-$ROOT/build/bin}
TMP=$(mktemp -d "/tmp/bf-$TEST_NAME.XXXXXX")
PIDS=()
ON_EXIT=()
CURRENT=""
pass=0
fail=0

t_cleanup() {
	local c p
	for c in "${ON_EXIT[@]}"; do eval "$c" >/dev/null 2>&1; done
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$TMP"
}
trap t_cleanup EXIT
trap 'exit 1' INT TERM
on_exit() { ON_EXIT+=("$*"); }

begin() { CURRENT=$1; echo "--- $1"; }
ok() { pass=$((pass + 1)); echo "ok - ${CURRENT:+$CURRENT: }$*"; }
bad() { fail=$((fail + 1)); echo "FAIL - ${CURRENT:+$CURRENT: }$*"; }
# eq WHAT GOT WANT
eq() { if [ "$2" = "$3" ]; then ok "$1"; else bad "$1 (got '$2', want '$3')"; fi; }
# ge WHAT GOT MIN: a number at least MIN
ge() { if [ "$2" -ge "$3" ] 2>/dev/null; then ok "$1 ($2 >= $3)"; else bad "$1 (got '$2', want >= $3)"; fi; }
# check WHAT CMD...: passes when CMD exits 0
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
# has TEXT PATTERN: TEXT has a line matching the grep PATTERN
has() { grep -q -- "$2" <<<"$1"; }
now_ms() { date +%s%3N; }

summary() {
	echo "$TEST_NAME: $pass passed, $fail failed"
	[ "$fail" -eq 0 ]
}

# need_tools CMD...: commands that must exist (make deps installs them)
need_tools() {
	local t
	for t in "$@"; do
		command -v "$t" >/dev/null ||
			{ echo "$TEST_NAME: $t missing (make deps, make deps-node)" >&2; exit 1; }
	done
}
# need_bins NAME...: our binaries in $BIN (or paths) that must be built
need_bins() {
	local b
	for b in "$@"; do
		[[ $b == */* ]] || b=$BIN/$b
		[ -x "$b" ] || { echo "$TEST_NAME: $b missing (make all)" >&2; exit 1; }
	done
}
# npm_deps: the third-party test clients of tests/tools (package-lock.json) installed with
# npm ci when one is missing. 0; 2 when npm cannot reach its registry at all (the caller
# skips, saying so); 1 when npm ci failed although the registry answers (shown).
npm_deps() {
	local d=$ROOT/tests/tools
	[ -f "$d/node_modules/gamedig/package.json" ] && [ -f "$d/node_modules/jsp-raknet/package.json" ] &&
		return 0
	(cd "$d" && timeout 300 npm ci --no-audit --no-fund) >"$TMP/npm.log" 2>&1 && return 0
	if ! timeout 30 npm ping >>"$TMP/npm.log" 2>&1; then
		tail -3 "$TMP/npm.log"
		return 2
	fi
	cat "$TMP/npm.log" >&2
	return 1
}
need_root() {
	[ "$(id -u)" = 0 ] || { echo "$TEST_NAME: needs root ($1)" >&2; exit 1; }
}

# free_port: a loopback TCP port nothing listens on (either family)
free_port() {
	local p
	for p in $(shuf -i 20000-29999 -n 50); do
		[ -z "$(ss -ltnH "sport = :$p")" ] && { echo "$p"; return 0; }
	done
	echo "$TEST_NAME: no free port" >&2
	return 1
}

# redis_start PORT [BIND [ARGS...]]: a redis-server of this test (no persistence,
# stopped on exit), waited for until it answers PING. $REDIS_PASS, when set, is
# the password it is asked with.
redis_start() {
	local port=$1 bind=${2:-127.0.0.1}
	shift 2 2>/dev/null || shift $#
	redis-server --bind "$bind" --port "$port" --save "" --appendonly no --loglevel warning \
		--logfile "$TMP/redis-$port.log" --dir "$TMP" "$@" &
	PIDS+=($!)
	for _ in $(seq 100); do
		[ "$(redis-cli -p "$port" ${REDIS_PASS:+--no-auth-warning -a "$REDIS_PASS"} PING 2>/dev/null)" = PONG ] &&
			return 0
		sleep 0.05
	done
	echo "$TEST_NAME: redis-server on port $port did not start" >&2
	exit 1
}
