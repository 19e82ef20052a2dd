#!/usr/bin/env bash
# test_valid.sh - handshake validation (validate srcds) in the lab: a player does the
# real Source handshake (q/A/k/B) with the game server's stand-in and plays; game
# traffic without it is dropped at the POP; a spoofed flood of game-port junk from many
# sources never reaches the game server; the player's route moves from pop1 to pop2
# mid-game and it keeps playing with no new handshake (pop1 shared the validation).
set -u
. "$(dirname "$0")/lib.sh"

forge() { in_ns remote "$BIN/bf-netprobe" forge --dev rm-eth0 "$@" >/dev/null; }
gs_field() { tr ' ' '\n' <"$STATE/gs-count" | awk -F= -v k="$1" '$1 == k {print $2}'; }
conn_counter() { # POP FIELD: that edge's counter of the game connection
	in_ns "$1" "$BIN/bifrost-edge" -c "$STATE/$1.conf" --stats --json |
		jq -r ".connections[] | select(.bind == \"$ANYCAST:$GAME_PORT\" and .proto == \"udp\") | .$2"
}

begin "a connection with validate srcds"
ctl conn add udp $ANYCAST:$GAME_PORT $GS_ADDR --validate srcds >/dev/null
ctl conn add tcp $ANYCAST:$GAME_PORT $GS_ADDR >/dev/null
check "both edges applied it" applied
eq "the hash says so" "$(rcli HGET bifrost:conn:udp:$ANYCAST:$GAME_PORT validate)" srcds
eq "pop1's data plane has it" "$(dump pop1 conns | jq -r "select(.bind == \"$ANYCAST:$GAME_PORT\" and .proto == \"udp\") | .validate")" srcds

begin "no handshake, no game"
read -r s r l <<<"$(udp_probe c1 --to $ANYCAST:$GAME_PORT --count 20 --interval-ms 2 --timeout-ms 300)"
eq "game packets without a handshake: none reach the game server" "$r" 0
ge "pop1 counted them as unvalidated" "$(counter pop1 unvalidated)" 20
check "the game server never heard from c1" bash -c "! grep -qx 'peer $C1_ADDR' '$STATE/gs-count'"

begin "the Source handshake validates the player"
acc0=$(gs_field srcds_accepted)
read -r s r l <<<"$(udp_probe c1 --srcds --to $ANYCAST:$GAME_PORT --count 50 --interval-ms 2)"
eq "after q/A/k/B every game packet is answered" "$r 50" "$s 50"
eq "the game server accepted one connection" "$(( $(gs_field srcds_accepted) - acc0 ))" 1
ge "pop1 validated it (counter)" "$(counter pop1 validated)" 1
ge "pop1 passed the handshake packets" "$(conn_counter pop1 handshake_packets)" 2
eq "pop1 counted the validation on the connection" "$(conn_counter pop1 validated)" 1
check "pop1 holds c1 as validated here" bash -c "'$LAB' exec pop1 '$BIN/bifrost-edge' -c '$STATE/pop1.conf' --dump valid --json | jq -e 'select(.valid == \"udp $C1_ADDR $ANYCAST:$GAME_PORT\" and .here)' >/dev/null"
for _ in $(seq 20); do dump pop2 valid | grep -q "$C1_ADDR" && break; sleep 0.05; done
check "pop2 holds it from the fleet" bash -c "'$LAB' exec pop2 '$BIN/bifrost-edge' -c '$STATE/pop2.conf' --dump valid --json | jq -e 'select(.valid == \"udp $C1_ADDR $ANYCAST:$GAME_PORT\" and .fleet)' >/dev/null"
check "bifrost:valid:pop1 has it, by redis-cli" bash -c "'$LAB' redis-cli --as ops ZRANGE bifrost:valid:pop1 0 -1 | grep -qx 'udp $C1_ADDR $ANYCAST:$GAME_PORT'"
eq "bifrostctl valid list" "$(ctl valid list --json | jq -r 'select(.origin == "pop1") | .entry')" "udp $C1_ADDR $ANYCAST:$GAME_PORT"
eq "bifrostctl valid count" "$(ctl valid count --json | jq -r 'select(.origin == "pop1") | "\(.conn) \(.clients)"')" "udp $ANYCAST:$GAME_PORT 1"
read -r s r l <<<"$(udp_probe c1 --to $ANYCAST:$GAME_PORT --count 20 --interval-ms 2)"
eq "c1 plays on from a new port without a new handshake" "$r" 20

begin "a spoofed junk flood never reaches the game server, the player keeps playing"
lab route remote pop1
peers0=$(gs_field peers)
drops0=$(counter pop1 unvalidated)
in_ns remote "$BIN/bf-netprobe" udp --json --srcds --to $ANYCAST:$GAME_PORT --count 400 \
	--interval-ms 10 --timeout-ms 500 >"$STATE/valid-player.json" &
player=$!
sleep 0.5
for i in $(seq 10 29); do
	forge --src 198.51.100.$((100 + i)) --sport $((40000 + i)) --to $ANYCAST:$GAME_PORT --size 200 --count 100 --pps 2000 &
done
# mid-game, the player's route moves to pop2 (anycast does this)
sleep 1
lab route remote pop2 >/dev/null
wait $(jobs -p | grep -vx "$player") 2>/dev/null
wait $player
read -r s r l <<<"$(jq -r '"\(.sent) \(.received) \(.lost)"' "$STATE/valid-player.json")"
echo "     player through the flood and the route move: $r of $s answered"
eq "the player lost nothing across the route move" "$r" 400
spoofed=0
for i in $(seq 10 29); do grep -qx "peer 198.51.100.$((100 + i))" "$STATE/gs-count" && spoofed=$((spoofed + 1)); done
eq "spoofed sources the game server heard from" "$spoofed" 0
eq "the game server's peers grew by the player only" "$(gs_field peers)" "$((peers0 + 1))"
ge "pop1 dropped the flood as unvalidated" "$(( $(counter pop1 unvalidated) - drops0 ))" 1000
ge "pop2 forwarded the player's packets (a peer's validation)" "$(counter pop2 forward)" 100
eq "no new handshake at pop2" "$(conn_counter pop2 handshake_packets)" 0
for _ in $(seq 30); do ctl valid list --json | jq -e "select(.origin == \"pop2\" and .entry == \"udp $REMOTE_ADDR $ANYCAST:$GAME_PORT\")" >/dev/null && break; sleep 0.1; done
check "pop2 now publishes the player too (it plays there)" bash -c "'$LAB' redis-cli --as ops ZRANGE bifrost:valid:pop2 0 -1 | grep -qx 'udp $REMOTE_ADDR $ANYCAST:$GAME_PORT'"
lab route remote pop1 >/dev/null

begin "RakNet: a third-party client and server (jsp-raknet) through pop1 with validate raknet"
npm_deps
case $? in
0)
	RK=28015
	conn_rk() { # POP FIELD
		in_ns "$1" "$BIN/bifrost-edge" -c "$STATE/$1.conf" --stats --json |
			jq -r ".connections[] | select(.bind == \"$ANYCAST:$RK\" and .proto == \"udp\") | .$2"
	}
	ctl conn add udp $ANYCAST:$RK $GS_ADDR --validate raknet >/dev/null
	check "both edges applied it" applied
	in_ns gs bash -c "echo \$\$ >'$STATE/raknet-server.pid'; exec timeout 120 node '$ROOT/tests/tools/raknet_peer.js' server $ANYCAST $RK" \
		>"$STATE/raknet-server.log" 2>&1 &
	rk_server=$!
	on_exit "kill \$(cat '$STATE/raknet-server.pid') $rk_server"
	for _ in $(seq 50); do grep -q listening "$STATE/raknet-server.log" && break; sleep 0.1; done
	drops0=$(conn_rk pop1 unvalidated_drops); drops0=${drops0:-0}
	for i in $(seq 10 29); do
		forge --src 198.51.100.$((150 + i)) --sport $((41000 + i)) --to $ANYCAST:$RK --payload 84000000aabbccdd --count 100 --pps 1000 &
	done
	out=$(in_ns c1 timeout 40 node "$ROOT/tests/tools/raknet_peer.js" client $ANYCAST $RK 200 10)
	rc=$?
	wait $(jobs -p | grep -vx "$rk_server") 2>/dev/null
	echo "     jsp-raknet client through the flood: $out"
	eq "the client connected and every game message came back" "$rc $(jq -r '"\(.connected) \(.sent) \(.received)"' <<<"$out")" "0 true 200 200"
	check "the server saw the connection" grep -q "^open $C1_ADDR:" "$STATE/raknet-server.log"
	eq "pop1 validated it on Open Connection Reply 2" "$(conn_rk pop1 validated)" 1
	ge "pop1 passed its handshake packets" "$(conn_rk pop1 handshake_packets)" 2
	ge "pop1 dropped the forged frame sets (2000) as unvalidated" "$(( $(conn_rk pop1 unvalidated_drops) - drops0 ))" 2000
	check "bifrost:valid:pop1 has the client on the RakNet connection" bash -c "'$LAB' redis-cli --as ops ZRANGE bifrost:valid:pop1 0 -1 | grep -qx 'udp $C1_ADDR $ANYCAST:$RK'"
	kill "$(cat "$STATE/raknet-server.pid")" 2>/dev/null ;;
2) echo "SKIPPED: npm cannot reach its registry to install jsp-raknet" ;;
*) bad "npm ci failed although the registry answers" ;;
esac

begin "garbage on the bus"
rcli_as admin ZADD bifrost:valid:pop9 9999999999999 "udp 10.0.0.1/8 $ANYCAST:$GAME_PORT" >/dev/null
rcli_as admin ZADD bifrost:valid:pop9 9999999999999 "tcp 10.0.0.1 $ANYCAST:$GAME_PORT" >/dev/null
sleep 0.3
check "pop1 is alive" bash -c "[ \"\$('$LAB' redis-cli --as ops EXISTS bifrost:edge:pop1)\" = 1 ]"
check "nothing of it in pop1's table" bash -c "! '$LAB' exec pop1 '$BIN/bifrost-edge' -c '$STATE/pop1.conf' --dump valid | grep -q '10.0.0.1'"
out=$(rcli_as admin FCALL bifrost_add 1 bifrost:valid:pop9 "udp 10.0.0.1/8 $ANYCAST:$GAME_PORT" 1000 2>&1)
check "bifrost_add refuses a malformed validated client" has "$out" "malformed valid entry"
out=$(rcli_as admin FCALL bifrost_add 1 bifrost:valid:pop9 "udp 10.0.0.1 $ANYCAST:$GAME_PORT" 1000 2>&1)
eq "and takes a well-formed one" "$out" 1

summary
