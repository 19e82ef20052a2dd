# lib.sh - shared by the loopback tool tests (sourced): a temporary
# directory, the processes to stop on exit, TAP-like assertions.
# Usage: . lib.sh NAME; start processes with `PIDS+=($!)`; end with `summary`.
TEST_NAME=$1
TMP=$(mktemp -d "/tmp/bf-$TEST_NAME.XXXXXX")
PIDS=()
pass=0
fail=0

cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$TMP"
}
trap cleanup EXIT

ok() { echo "ok - $1"; pass=$((pass + 1)); }
bad() { echo "not ok - $1"; fail=$((fail + 1)); }
eq() { if [ "$2" = "$3" ]; then ok "$1"; else bad "$1 (got '$2', want '$3')"; fi; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }

# need_tools WHAT...: commands that must exist (installed by make deps)
need_tools() {
	for t in "$@"; do
		command -v "$t" >/dev/null || { echo "$TEST_NAME: $t missing (make deps, make deps-node)" >&2; exit 1; }
	done
}

summary() {
	echo "$TEST_NAME: $pass passed, $fail failed"
	[ "$fail" -eq 0 ]
}
