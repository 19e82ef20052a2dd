#!/usr/bin/env bash
# test_limits.sh - issue 5 in the lab: ICMP echo answered at the edge,
# firewall rules from Redis at every POP (with their counters, and a
# malformed rule refused), protected prefixes, and a flood banned at its POP
# and, through the fleet, at every other while another player keeps playing.
set -u
. "$(dirname "$0")/lib.sh"

begin "a first fleet config without connections keeps the file's"
ctl protect add $POP1_ADDR/32 >/dev/null
check "both edges applied it" applied
read -r s r l <<<"$(udp_probe c1 --to $ANYCAST:$GAME_PORT --count 10 --interval-ms 2)"
eq "c1 still plays on the file's connection" "$r" 10
check "pop1 said why" grep -q "has no connections; keeping the 2 of the config file" "$STATE/edge-pop1.log"

begin "the fleet config takes over, with a limit on the game port"
ctl conn add udp $ANYCAST:$GAME_PORT $GS_ADDR --limits "pps 300 burst 100ms block 4s share_bans yes" >/dev/null
ctl conn add tcp $ANYCAST:$GAME_PORT $GS_ADDR >/dev/null
ctl conn add icmp $ANYCAST $GS_ADDR >/dev/null
check "both edges applied it" applied
eq "the limit is in the hash" "$(rcli HGET bifrost:conn:udp:$ANYCAST:$GAME_PORT pps)" 300
read -r s r l <<<"$(udp_probe c1 --to $ANYCAST:$GAME_PORT --count 20 --interval-ms 5)"
eq "c1 plays under the limit" "$r" 20

begin "ICMP echo to the anycast address is answered at the edge"
e0=$(counter pop1 icmp_echo)
f0=$(counter pop1 forward)
got=$(in_ns c1 ping -c 3 -i 0.2 -W 1 $ANYCAST | awk '/received/ {print $4}')
eq "c1's pings are answered" "$got" 3
eq "by pop1 itself" "$(( $(counter pop1 icmp_echo) - e0 ))" 3
eq "none went on to the game machine" "$(( $(counter pop1 forward) - f0 ))" 0

begin "a rule added with bifrostctl drops at every POP and counts"
out=$(ctl rule add 10 action drop proto udp dport $GAME_PORT ip_len 120-140 --json); rc=$?
eq "rule add exits 0" "$rc" 0
check "both edges applied it" applied
check "it is in bifrost:rules as canonical text" bash -c "'$LAB' redis-cli --as ops HGET bifrost:rules 10 | grep -q 'action drop'"
for c in c1 c2; do
	read -r s r l <<<"$(udp_probe $c --to $ANYCAST:$GAME_PORT --count 20 --interval-ms 2 --size 100 --timeout-ms 300)"
	eq "$c's 128-byte datagrams are dropped" "$r" 0
	read -r s r l <<<"$(udp_probe $c --to $ANYCAST:$GAME_PORT --count 20 --interval-ms 2 --size 32)"
	eq "$c's 60-byte datagrams pass" "$r" 20
done
sleep 1.3 # the edges write their rule counters each second
stats=$(ctl rule stats --json)
eq "pop1 counted its 20 drops under rule 10" "$(jq -s '[.[] | select(.edge=="pop1" and .rule==10)][0].packets' <<<"$stats")" 20
eq "pop2 counted its 20" "$(jq -s '[.[] | select(.edge=="pop2" and .rule==10)][0].packets' <<<"$stats")" 20
ctl rule add 5 action drop proto udp dport 1-80x >/dev/null 2>&1
eq "bifrostctl refuses a bad rule with exit 2" "$?" 2
check "and says which field" bash -c "'$LAB' exec redis '$BIN/bifrostctl' --redis $REDIS_ADDR:6379 $(auth ops) rule add 5 action drop proto udp dport 1-80x 2>&1 | grep -q 'dport'"

begin "a malformed rule written by hand is refused; the rules in force stay"
rcli HSET bifrost:rules 11 "action explode proto udp" >/dev/null
rcli INCR bifrost:conf:version >/dev/null
check "both edges saw the new version" applied
check "pop1 logged the refusal with the rule's id and field" grep -q "rule 11 refused: action" "$STATE/edge-pop1.log"
ge "the heartbeat counts it" "$(hb pop2 conf_refused)" 1
check "bifrostctl rule list flags it" bash -c "'$LAB' exec redis '$BIN/bifrostctl' --redis $REDIS_ADDR:6379 $(auth ops) rule list | grep -q '^11 .*INVALID'"
read -r s r l <<<"$(udp_probe c2 --to $ANYCAST:$GAME_PORT --count 10 --interval-ms 2 --size 100 --timeout-ms 300)"
eq "rule 10 still drops at pop2" "$r" 0
rcli HDEL bifrost:rules 11 >/dev/null
ctl rule del 10 >/dev/null
check "both edges applied the fix" applied
eq "nothing refused any more" "$(hb pop1 conf_refused)" 0
read -r s r l <<<"$(udp_probe c2 --to $ANYCAST:$GAME_PORT --count 10 --interval-ms 2 --size 100)"
eq "without rule 10, c2's large datagrams pass" "$r" 10

begin "a protected prefix cannot be blacklisted"
ctl protect add $C2_ADDR/32 >/dev/null
check "both edges applied it" applied
ctl bl add $C2_ADDR/32 --ttl 1m --reason test >/dev/null
sleep 0.2
read -r s r l <<<"$(udp_probe c2 --to $ANYCAST:$GAME_PORT --count 10 --interval-ms 2)"
eq "c2 still plays through pop2" "$r" 10
check "pop2 refused the ban and said why" grep -q "refusing to add $C2_ADDR/32 to the blacklist: it is protected" "$STATE/edge-pop2.log"
ctl bl del $C2_ADDR/32 >/dev/null
ctl protect del $C2_ADDR/32 >/dev/null
check "both edges applied the removal" applied

begin "a flood is banned at its POP and, within 100 ms, at every other"
# c2 keeps playing at 50 pps through pop2 the whole time.
b0=$(counter pop1 blocklist)
in_ns c2 "$BIN/bf-netprobe" udp --to $ANYCAST:$GAME_PORT --count 150 --interval-ms 20 --timeout-ms 1000 --json >"$STATE/c2-play.json" &
play=$!
# Watch for the ban at pop1 (its blocklist) and at pop2 (the fleet's blacklist).
(
	t1="" t2=""
	for _ in $(seq 300); do
		t=$(now_ms)
		[ -z "$t1" ] && dump pop1 blocklist | grep -q "\"$C1_ADDR\"" && t1=$t
		[ -z "$t2" ] && dump pop2 blacklist | grep -q "\"$C1_ADDR/32\"" && t2=$((t))
		[ -n "$t1" ] && [ -n "$t2" ] && break
	done
	echo "${t1:-0} ${t2:-0}" >"$STATE/ban-times"
) &
watcher=$!
sleep 0.3
# 2000 datagrams as fast as c1 can send them: far over 300 pps.
in_ns c1 "$BIN/bf-netprobe" udp --to $ANYCAST:$GAME_PORT --count 2000 --interval-ms 0 --timeout-ms 300 --json >"$STATE/c1-flood.json"
wait $watcher
read -r t1 t2 <"$STATE/ban-times"
ge "pop1 blocked c1 when it went over (ratelimit)" "$(counter pop1 ratelimit)" 1
ge "and dropped the rest of the flood as blocked (blocklist)" "$(( $(counter pop1 blocklist) - b0 ))" 1500
check "pop1's blocklist holds c1" test "$t1" -gt 0
check "pop2 holds the ban as a fleet blacklist entry" test "$t2" -gt 0
echo "     seen at pop1 at $t1, at pop2 at $t2 (ms, polled)"
check "at pop2 within 100 ms of pop1" test $((t2 - t1)) -le 100
check "the ban is in Redis under pop1 with why ratelimit" bash -c "'$LAB' redis-cli --as ops XREVRANGE bifrost:log:bl:pop1 + - COUNT 5 | grep -q ratelimit"
wait $play
eq "c2's game traffic kept flowing through the flood" "$(jq -r .lost "$STATE/c2-play.json")" 0
lost=$(jq -r .lost "$STATE/c1-flood.json")
ge "most of c1's flood died at pop1" "$lost" 1500

begin "the ban ends everywhere with its block time"
sleep 4.5
read -r s r l <<<"$(udp_probe c1 --to $ANYCAST:$GAME_PORT --count 10 --interval-ms 5)"
eq "c1 plays again through pop1" "$r" 10
eq "pop2 holds no live ban for c1" "$(dump pop2 blacklist | jq -s "[.[] | select(.cidr==\"$C1_ADDR/32\" and .expires_in_s > 0)] | length")" 0

summary
