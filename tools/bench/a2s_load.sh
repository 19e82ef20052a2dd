#!/usr/bin/env bash
# a2s_load.sh - the game server's A2S load with the edge's cache on vs off, on a fresh
# lab: the same paced INFO queries from c1 (bf-bench a2s-load), counted at the game
# server per source (a2s_peer lines of its count file), once while the refresher keeps
# the cache ready and once after it has lapsed. Prints one JSON object.
# Run under the lab lock (run.sh holds it; alone: flock /run/bifrost-lab.lock ...).
# Bounded: COUNT queries at RATE per phase; every wait times out.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$ROOT/build/bin
LAB=$ROOT/tools/lab/lab
COUNT=${A2S_COUNT:-5000}
RATE=${A2S_RATE:-500}
refresher=
cleanup() {
	[ -n "$refresher" ] && kill "$refresher" 2>/dev/null && wait "$refresher" 2>/dev/null
	"$LAB" down >/dev/null 2>&1 || true
}
trap cleanup EXIT
eval "$("$LAB" env)"
say() { echo "bench: $*" >&2; }
# auth USER: --auth-file and USER's credentials file of the lab's Redis (none without ACLs)
auth() { local f; f=$("$LAB" auth-file "$1"); [ -z "$f" ] || echo "--auth-file $f"; }
# shellcheck disable=SC2046
ctl() { "$LAB" exec redis "$BIN/bifrostctl" --redis "$REDIS_ADDR:6379" $(auth ops) "$@"; }
# a2s_from IP: A2S queries the game server received from that address
a2s_from() { awk -v ip="$1" '$1 == "a2s_peer" && $2 == ip {n = $3} END {print n + 0}' "$STATE/gs-count"; }
wait_log() { # TEXT: up to 12 s for pop1's edge to log it
	for _ in $(seq 120); do grep -q "$1" "$STATE/edge-pop1.log" && return 0; sleep 0.1; done
	echo "bench: pop1 never logged '$1'" >&2
	return 1
}
# phase: sends the load from c1; prints "replies queries_at_gs"
phase() {
	local before out
	before=$(a2s_from "$C1_ADDR")
	out=$("$LAB" exec c1 "$BIN/bf-bench" a2s-load --to "$ANYCAST:$GAME_PORT" --count "$COUNT" --rate "$RATE")
	sleep 0.3 # the stand-in writes its counts at most every 100 ms
	echo "$(jq -r .info_replies <<<"$out") $(($(a2s_from "$C1_ADDR") - before))"
}

"$LAB" up >/dev/null 2>&1 || { echo "bench: lab up failed" >&2; exit 1; }
ctl conn add udp "$ANYCAST:$GAME_PORT" "$GS_ADDR" --a2s >/dev/null
ctl conn add tcp "$ANYCAST:$GAME_PORT" "$GS_ADDR" >/dev/null
# shellcheck disable=SC2046
nsenter --net=/run/netns/bf-gs "$BIN/bifrost-a2s-refresher" --redis "$REDIS_ADDR:6379" $(auth refresher) --id lab \
	--target bind --interval 2s --player --rules >"$STATE/refresher.log" 2>&1 &
refresher=$!
wait_log "A2S cache ready for udp $ANYCAST:$GAME_PORT"

say "A2S load: $COUNT INFO queries at $RATE/s from c1, cache on..."
read -r on_replies on_gs < <(phase)

kill "$refresher"
wait "$refresher" 2>/dev/null || true
refresher=
wait_log "A2S cache gone for udp $ANYCAST:$GAME_PORT"

say "A2S load: the same, cache off..."
read -r off_replies off_gs < <(phase)

jq -cn --argjson n "$COUNT" --argjson r "$RATE" --argjson onr "$on_replies" --argjson ong "$on_gs" \
	--argjson offr "$off_replies" --argjson offg "$off_gs" \
	'{bench: "a2s_load", sent: $n, rate: $r,
	  cache_on: {replies: $onr, at_game_server: $ong},
	  cache_off: {replies: $offr, at_game_server: $offg},
	  on_over_off: (if $offg > 0 then ($ong / $offg * 10000 | round / 10000) else null end)}'
