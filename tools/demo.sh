#!/usr/bin/env bash
# demo.sh - `make demo`: builds the lab fleet (two POPs, a game machine,
# clients, a remote host, Redis), shows players' traffic, a ban and a port
# punch working, and tears everything down again.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
LAB="$ROOT/tools/lab/lab"
BIN="$ROOT/build/bin"
exec 9>/run/bifrost-lab.lock # one lab per machine: wait for a test run to finish
flock 9
trap '"$LAB" down >/dev/null 2>&1 || true' EXIT
eval "$("$LAB" env)"
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
# auth USER: --auth-file and USER's credentials file of the lab's Redis (none without ACLs)
auth() { local f; f=$("$LAB" auth-file "$1"); [ -z "$f" ] || echo "--auth-file $f"; }
x() { echo "\$ $*"; "$@"; }

say "Starting the lab: router, pop1 + pop2 (anycast $ANYCAST), game machine $GS_ADDR, clients, Redis"
"$LAB" up

say "c1 (routed to pop1) and c2 (routed to pop2) play: 100 UDP packets each, echoed by the game server"
x "$LAB" exec c1 "$BIN/bf-netprobe" udp --to $ANYCAST:$GAME_PORT --count 100 --interval-ms 1
x "$LAB" exec c2 "$BIN/bf-netprobe" udp --to $ANYCAST:$GAME_PORT --count 100 --interval-ms 1
say "The game server sees the players' real addresses"
x "$LAB" exec c1 "$BIN/bf-netprobe" udp --to $ANYCAST:$GAME_PORT --whoami
x "$LAB" exec c2 "$BIN/bf-netprobe" tcp --to $ANYCAST:$GAME_PORT --whoami
x "$LAB" exec gs "$BIN/bifrost-gs" status --iface gs-eth0

say "Ban c2 at pop2 (config + SIGHUP): its packets die in XDP"
echo "blacklist $C2_ADDR/32" >>"$STATE/pop2.conf"
"$LAB" edge-reload pop2
sleep 0.5
x "$LAB" exec c2 "$BIN/bf-netprobe" udp --to $ANYCAST:$GAME_PORT --count 20 --interval-ms 1 --timeout-ms 300 || true

say "The game server calls out to a remote host; the reply comes in through the port punch"
x "$LAB" exec gs "$BIN/bf-netprobe" udp --from $ANYCAST:40000 --to $REMOTE_ADDR:$REMOTE_PORT --count 10 --interval-ms 2
x "$LAB" exec pop1 "$BIN/bifrost-edge" -c "$STATE/pop1.conf" --dump punches

say "The fleet: both POPs report to Redis; an operator ban reaches every POP"
# shellcheck disable=SC2046
CTL=("$LAB" exec redis "$BIN/bifrostctl" --redis $REDIS_ADDR:6379 $(auth ops))
x "${CTL[@]}" edges
x "${CTL[@]}" bl add $C1_ADDR/32 --ttl 10m --reason demo
sleep 0.1
x "$LAB" exec c1 "$BIN/bf-netprobe" udp --to $ANYCAST:$GAME_PORT --count 20 --interval-ms 1 --timeout-ms 300 || true
x "${CTL[@]}" bl list
x "${CTL[@]}" punch list

say "A firewall rule for the whole fleet: drop 128-byte UDP datagrams to the game port"
x "${CTL[@]}" rule add 10 action drop proto udp dport $GAME_PORT ip_len 128
sleep 1.5
echo "(c1 and c2 are banned by now: the remote host, routed through pop1, tries)"
x "$LAB" exec remote "$BIN/bf-netprobe" udp --to $ANYCAST:$GAME_PORT --count 10 --interval-ms 1 --size 100 --timeout-ms 300 || true
x "$LAB" exec remote "$BIN/bf-netprobe" udp --to $ANYCAST:$GAME_PORT --count 10 --interval-ms 1 --size 32
sleep 1.2
x "${CTL[@]}" rule stats

say "The fleet's live stats (bifrost:stats:<id>, also on /metrics of each POP)"
x "${CTL[@]}" stats

if [ -n "$("$LAB" auth-file pop1)" ]; then
	say "Redis ACL users: each edge logs in as its own user and may write only its own origin"
	x "$LAB" redis-cli --as pop1 ZADD bifrost:bl:pop2 +inf 198.51.100.0/24 || true
	x "$LAB" redis-cli --as pop1 PUBLISH bifrost:evt:ops frame || true
	x "$LAB" redis-cli --as inspector HGETALL bifrost:a2s:key || true
	echo "pop1's connections to Redis, logged in as pop1: $("$LAB" redis-cli CLIENT LIST | grep -c ' user=pop1 ')"
fi

say "Counters"
for pop in pop1 pop2; do
	echo "-- $pop"
	"$LAB" exec $pop "$BIN/bifrost-edge" -c "$STATE/$pop.conf" --stats | awk 'NR == 1 || $2 > 0'
done

say "Tearing the lab down"
"$LAB" down
trap - EXIT
echo "demo done"
