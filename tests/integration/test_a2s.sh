#!/usr/bin/env bash
# test_a2s.sh - the A2S cache in the lab: bifrost-a2s-refresher fills Redis
# from the game server, both POPs answer gamedig (a real third-party client)
# from it through AF_XDP, the game server sees no client query while the
# cache is ready, a challenge from pop1 is good at pop2, an unverified
# source never gets more than 9 bytes, junk does not hurt a worker, and with
# the refresher stopped the cache lapses and queries reach the server again.
set -u
. "$(dirname "$0")/lib.sh"
# gamedig HOST: one query of the anycast game port from that client's namespace
gamedig() { in_ns "$1" node "$ROOT/tests/tools/gamedig_query.js" $ANYCAST $GAME_PORT 2>/dev/null; }
# a2s_from IP: A2S queries the game server received from that address
a2s_from() { awk -v ip="$1" '$1 == "a2s_peer" && $2 == ip {n = $3} END {print n + 0}' "$STATE/gs-count"; }
a2s_probe() { local h=$1; shift; in_ns "$h" "$BIN/bf-netprobe" a2s --to $ANYCAST:$GAME_PORT --json "$@"; }
ready() { grep -q "A2S cache ready for udp $ANYCAST:$GAME_PORT" "$STATE/edge-$1.log"; }

if [ ! -d "$ROOT/tests/tools/node_modules" ]; then
	(cd "$ROOT/tests/tools" && npm ci --silent >/dev/null 2>&1) ||
		{ echo "SKIP test_a2s: gamedig could not be installed (npm registry unreachable)"; exit 0; }
fi

begin "the refresher fills the cache and both POPs get ready"
ctl conn add udp $ANYCAST:$GAME_PORT $GS_ADDR --a2s >/dev/null
ctl conn add tcp $ANYCAST:$GAME_PORT $GS_ADDR >/dev/null
# shellcheck disable=SC2046
nsenter --net=/run/netns/bf-gs "$BIN/bifrost-a2s-refresher" --redis $REDIS_ADDR:6379 $(auth refresher) --id lab \
	--target bind --interval 2s --player --rules >"$STATE/refresher.log" 2>&1 &
refresher=$!
PIDS+=($refresher)
for _ in $(seq 50); do ready pop1 && ready pop2 && break; sleep 0.1; done
check "the reply is in Redis" bash -c "'$LAB' exec redis '$BIN/bifrostctl' --redis $REDIS_ADDR:6379 $(auth ops) a2s list | grep -q 'Bifrost lab'"
check "pop1 answers from its cache" ready pop1
check "pop2 answers from its cache" ready pop2
check "the fleet's challenge key is in Redis" test "$(rcli_as pop1 HGET bifrost:a2s:key cur | wc -c)" -eq 33

begin "gamedig through each POP: the game server's answers, from the cache"
c1q=$(a2s_from $C1_ADDR)
c2q=$(a2s_from $C2_ADDR)
r0=$(counter pop1 a2s_redirect)
for c in c1 c2; do
	out=$(gamedig $c)
	eq "$c: name" "$(jq -r .name <<<"$out")" "Bifrost lab"
	eq "$c: map" "$(jq -r .map <<<"$out")" de_dust2
	eq "$c: players" "$(jq -r '.players | length' <<<"$out")" 3
	eq "$c: rules (a split reply)" "$(jq -r '.rules | length' <<<"$out")" 200
done
sleep 0.3 # the stand-in writes its counts at most every 100 ms
eq "the game server got no A2S query from c1" "$(( $(a2s_from $C1_ADDR) - c1q ))" 0
eq "nor from c2" "$(( $(a2s_from $C2_ADDR) - c2q ))" 0
ge "pop1 sent them to its A2S workers" "$(( $(counter pop1 a2s_redirect) - r0 ))" 3
metrics=$(in_ns pop1 curl -s http://127.0.0.1:9477/metrics)
ge "pop1's workers served them (/metrics)" "$(awk '/^bifrost_a2s_requests_total\{outcome="served"\}/ {print $2}' <<<"$metrics")" 3
check "and /metrics shows the cache's age" grep -q "^bifrost_a2s_cache_age_seconds{bind=\"$ANYCAST:$GAME_PORT\",kind=\"info\"}" <<<"$metrics"

begin "an unverified source never gets more than 9 bytes"
out=$(a2s_probe c1 --kind info --challenge none)
eq "INFO without a challenge: a 9-byte challenge" "$(jq -c '.received' <<<"$out")" "[9]"
out=$(a2s_probe c1 --kind info --challenge deadbeef)
eq "INFO with a wrong challenge: 9 bytes again" "$(jq -c '.received' <<<"$out")" "[9]"
out=$(a2s_probe c1 --kind rules --challenge none)
eq "RULES without a challenge: 9 bytes" "$(jq -c '.received' <<<"$out")" "[9]"

begin "a challenge handed out at pop1 is good at pop2"
lab route remote pop1
ch=$(a2s_probe remote --kind info --challenge none | jq -r .challenge)
check "pop1 handed the remote a challenge ($ch)" test -n "$ch" -a "$ch" != null
lab route remote pop2
out=$(a2s_probe remote --kind info --challenge "$ch")
eq "pop2 answers the remote's INFO with it" "$(jq -r .info.name <<<"$out")" "Bifrost lab"
lab route remote pop1

begin "with Redis gone the edges keep answering from their cache"
lab redis-kill
sleep 2
c1q=$(a2s_from $C1_ADDR)
out=$(gamedig c1)
eq "gamedig through pop1 while Redis is down" "$(jq -r .name <<<"$out")" "Bifrost lab"
sleep 0.3
eq "still from pop1's cache: the game server saw no query from c1" "$(( $(a2s_from $C1_ADDR) - c1q ))" 0
lab redis-start
for _ in $(seq 50); do ready pop1 && grep -q "connected; re-asserted" "$STATE/edge-pop1.log" && break; sleep 0.1; done
sleep 1.5

begin "junk after the magic header never hurts a worker"
for junk in '\xff\xff\xff\xffT' '\xff\xff\xff\xffTSource Engine Quer' '\xff\xff\xff\xffU' \
	'\xff\xff\xff\xffV\x01' '\xff\xff\xff\xffW' '\xff\xff\xff\xffTSource Engine Query\x00\xff'; do
	in_ns c1 bash -c "printf '$junk' > /dev/udp/$ANYCAST/$GAME_PORT" 2>/dev/null
done
out=$(gamedig c1)
eq "gamedig still gets its answer at pop1" "$(jq -r .name <<<"$out")" "Bifrost lab"
check "pop1's edge is still running" kill -0 "$(cat "$STATE/edge-pop1.pid")"

begin "with the refresher stopped the cache lapses and queries reach the game server"
# The lapse counted is the one after this kill, not one from Redis's restart above.
gone() { grep -c "A2S cache gone for udp $ANYCAST:$GAME_PORT" "$STATE/edge-pop1.log"; }
gone0=$(gone)
kill $refresher
wait $refresher 2>/dev/null
for _ in $(seq 120); do
	[ "$(gone)" -gt "$gone0" ] && break
	sleep 0.1
done
ge "pop1 dropped the lapsed cache" "$(gone)" $((gone0 + 1))
c1q=$(a2s_from $C1_ADDR)
out=$(gamedig c1)
eq "gamedig gets the game server's own answer" "$(jq -r .name <<<"$out")" "Bifrost lab"
for _ in $(seq 20); do [ "$(a2s_from $C1_ADDR)" -gt "$c1q" ] && break; sleep 0.1; done
ge "which now saw c1's queries" "$(( $(a2s_from $C1_ADDR) - c1q ))" 1

begin "a cached reply that does not parse is refused, never served, never fatal"
rcli_as refresher SET bifrost:a2s:$ANYCAST:$GAME_PORT "$(printf '\xff\xff\xff\xffIgarbage')" PX 5000 >/dev/null
rcli_as refresher PUBLISH bifrost:a2s bifrost:a2s:$ANYCAST:$GAME_PORT >/dev/null
sleep 1.5
check "pop1 refused it and said so" grep -q "a2s: refused a info reply" "$STATE/edge-pop1.log"
check "pop1's edge is still running" kill -0 "$(cat "$STATE/edge-pop1.pid")"
check "pop2's edge is still running" kill -0 "$(cat "$STATE/edge-pop2.pid")"
out=$(gamedig c2)
eq "gamedig through pop2 is answered by the game server" "$(jq -r .name <<<"$out")" "Bifrost lab"

summary
