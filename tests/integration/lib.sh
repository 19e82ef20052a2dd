# lib.sh - the lab helpers of the integration tests (sourced after tests/lib.sh,
# which it sources itself): the lab's addresses, commands in its namespaces,
# Redis and bifrostctl from the redis namespace (logged in as the lab's ACL
# users), an edge's counters and dumps.
# shellcheck source=../lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh" "$(basename "$0" .sh)"
LAB="$ROOT/tools/lab/lab"
eval "$("$LAB" env)"

lab() { "$LAB" "$@"; }
in_ns() { local h=$1; shift; "$LAB" exec "$h" "$@"; }
# Redis has ACL users in the lab (LAB_ACL=1, tools/lab/lab): each caller logs in as
# one. auth USER: the --auth-file flag for our tools, nothing without ACLs (unquoted).
auth() { [ "$LAB_ACL" = 0 ] || echo "--auth-file $CREDS/$1"; }
# rcli: redis-cli as the operator (ops: reads everything but the A2S key, writes the
# ops origin and the fleet config); rcli_as USER: as another user (admin: the lab's
# Redis administrator, for what no Bifrost user may do, like writing another origin's
# log as an attacker would).
RCLI=("$LAB" redis-cli --as ops) # the lab's redis-cli as the operator, as a command
rcli() { "${RCLI[@]}" "$@"; }
rcli_as() { "$LAB" redis-cli --as "$@"; }
# shellcheck disable=SC2046
ctl() { in_ns redis "$BIN/bifrostctl" --redis "$LAB_REDIS_EP" $(auth ops) "$@"; }
# hb POP FIELD: a field of that edge's heartbeat hash
hb() { rcli HGET "bifrost:edge:$1" "$2"; }
# dump POP WHAT: bifrost-edge --dump WHAT --json of that edge
dump() { in_ns "$1" "$BIN/bifrost-edge" -c "$STATE/$1.conf" --dump "$2" --json; }

# counter POP REASON: packets counted under REASON by that edge
counter() {
	in_ns "$1" "$BIN/bifrost-edge" -c "$STATE/$1.conf" --stats --json | jq -r ".$2.packets"
}

# applied: both edges report the fleet config version now in Redis (4 s at most)
applied() {
	local v
	v=$(rcli GET bifrost:conf:version)
	for _ in $(seq 40); do
		[ "$(hb pop1 conf_version)" = "$v" ] && [ "$(hb pop2 conf_version)" = "$v" ] && return 0
		sleep 0.1
	done
	return 1
}

# gs_packets: datagrams the game server answered; gs_saw_peer ADDR: it heard from ADDR
gs_packets() { awk -F'[ =]' '/^udp_packets/ {print $2}' "$STATE/gs-count"; }
gs_saw_peer() { grep -qx "peer $1" "$STATE/gs-count"; }

# udp_probe HOST ARGS...: prints "sent received lost"
udp_probe() {
	local h=$1; shift
	in_ns "$h" "$BIN/bf-netprobe" udp --json "$@" | jq -r '"\(.sent) \(.received) \(.lost)"'
}
