# lib.sh - assertions and lab helpers for the integration tests (sourced).
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LAB="$ROOT/tools/lab/lab"
BIN="$ROOT/build/bin"
eval "$("$LAB" env)"
PASSED=0
FAILED=0
CURRENT=""

lab() { "$LAB" "$@"; }
in_ns() { local h=$1; shift; "$LAB" exec "$h" "$@"; }

begin() { CURRENT=$1; echo "--- $1"; }
ok() { PASSED=$((PASSED + 1)); echo "ok   $CURRENT: $*"; }
bad() { FAILED=$((FAILED + 1)); echo "FAIL $CURRENT: $*"; }
check() { # check DESCRIPTION CMD...: passes when CMD exits 0
	local d=$1; shift
	if "$@"; then ok "$d"; else bad "$d"; fi
}
eq() { # eq DESCRIPTION GOT WANT
	if [ "$2" = "$3" ]; then ok "$1 ($2)"; else bad "$1: got '$2', want '$3'"; fi
}
ge() { # ge DESCRIPTION GOT MIN
	if [ "$2" -ge "$3" ] 2>/dev/null; then ok "$1 ($2 >= $3)"; else bad "$1: got '$2', want >= $3"; fi
}

# counter POP REASON: packets counted under REASON by that edge
counter() {
	in_ns "$1" "$BIN/bifrost-edge" -c "$STATE/$1.conf" --stats --json | jq -r ".$2.packets"
}

# gs_udp_from ADDR: datagrams the game server answered for ADDR... the count file
gs_packets() { awk -F'[ =]' '/^udp_packets/ {print $2}' "$STATE/gs-count"; }
gs_saw_peer() { grep -qx "peer $1" "$STATE/gs-count"; }

# udp_probe HOST ARGS...: prints "sent received lost"
udp_probe() {
	local h=$1; shift
	in_ns "$h" "$BIN/bf-netprobe" udp --json "$@" | jq -r '"\(.sent) \(.received) \(.lost)"'
}

summary() {
	echo
	echo "$PASSED passed, $FAILED failed"
	[ "$FAILED" -eq 0 ]
}
