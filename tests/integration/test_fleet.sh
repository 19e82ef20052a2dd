#!/usr/bin/env bash
# test_fleet.sh - two POPs sharing punches and bans through the lab's Redis:
# the anycast punch, an operator ban by plain redis-cli, expiry and delete,
# garbage on the bus, Redis killed and restarted empty.
set -u
. "$(dirname "$0")/lib.sh"

begin "both edges joined the fleet"
for _ in $(seq 50); do [ "$(rcli SCARD bifrost:edges)" = 2 ] && break; sleep 0.1; done
eq "bifrost:edges has both POPs" "$(rcli SMEMBERS bifrost:edges | sort | tr '\n' ' ')" "pop1 pop2 "
sleep 1.2
check "pop1 heartbeat hash is there" test -n "$(hb pop1 last_seen)"
check "the heartbeat expires by itself" bash -c "[ \$('$LAB' redis-cli --as ops PTTL bifrost:edge:pop2) -gt 0 ]"
eq "pop2 reports its XDP mode" "$(hb pop2 xdp_mode)" native

begin "the anycast punch: out through pop1, the reply in through pop2"
lab route remote pop2
hit0=$(counter pop2 punch_hit)
read -r s r l <<<"$(udp_probe gs --from $ANYCAST:40010 --to $REMOTE_ADDR:$REMOTE_PORT --count 50 --interval-ms 5)"
echo "     replies through pop2: $r of $s"
ge "the remote's replies reach the game server through pop2" "$r" 48
ge "pop2 forwarded them by pop1's punch" "$(( $(counter pop2 punch_hit) - hit0 ))" 48
check "pop2 holds pop1's punch" bash -c "'$LAB' exec pop2 '$BIN/bifrost-edge' -c '$STATE/pop2.conf' --dump punches | grep -q 'udp $REMOTE_ADDR:$REMOTE_PORT $ANYCAST:40010 via $GS_ADDR'"
check "the punch is in Redis under pop1" bash -c "'$LAB' redis-cli --as ops ZRANGE bifrost:punch:pop1 0 -1 | grep -q 'udp $REMOTE_ADDR:$REMOTE_PORT $ANYCAST:40010 via $GS_ADDR'"
lab route remote pop1

begin "an operator ban by plain redis-cli holds at every POP"
ban() { rcli FCALL bifrost_add 1 bifrost:bl:ops "$1" "$2" manual >/dev/null; } # ban CIDR TTL_MS
unban() { rcli FCALL bifrost_del 1 bifrost:bl:ops "$1" manual >/dev/null; }    # unban CIDR
ban $C1_ADDR/32 3600000
ban $C2_ADDR/32 3600000
sleep 0.1
read -r s r1 l <<<"$(udp_probe c1 --to $ANYCAST:$GAME_PORT --count 10 --interval-ms 1 --timeout-ms 200)"
read -r s r2 l <<<"$(udp_probe c2 --to $ANYCAST:$GAME_PORT --count 10 --interval-ms 1 --timeout-ms 200)"
eq "c1 dropped at pop1 100 ms after the ban" "$r1" 0
eq "c2 dropped at pop2 100 ms after the ban" "$r2" 0
check "pop1 holds the ban as a fleet entry" bash -c "'$LAB' exec pop1 '$BIN/bifrost-edge' -c '$STATE/pop1.conf' --dump blacklist | grep -q '$C1_ADDR/32.*fleet'"
unban $C1_ADDR/32
unban $C2_ADDR/32
sleep 0.1
read -r s r1 l <<<"$(udp_probe c1 --to $ANYCAST:$GAME_PORT --count 10 --interval-ms 1)"
read -r s r2 l <<<"$(udp_probe c2 --to $ANYCAST:$GAME_PORT --count 10 --interval-ms 1)"
eq "del lifts it at pop1" "$r1" 10
eq "del lifts it at pop2" "$r2" 10

begin "a ban's TTL ends it everywhere"
ban $C2_ADDR/32 1500
sleep 0.2
read -r s r l <<<"$(udp_probe c2 --to $ANYCAST:$GAME_PORT --count 5 --interval-ms 1 --timeout-ms 200)"
eq "banned while the TTL runs" "$r" 0
sleep 1.6
read -r s r l <<<"$(udp_probe c2 --to $ANYCAST:$GAME_PORT --count 5 --interval-ms 1)"
eq "passes once it expired" "$r" 5

begin "bifrostctl"
out=$(ctl bl add $C2_ADDR/32 --ttl 60s --reason test --json); rc=$?
eq "bl add exits 0" "$rc" 0
eq "bl add --json says ok" "$(jq -r .ok <<<"$out")" true
sleep 0.1
read -r s r l <<<"$(udp_probe c2 --to $ANYCAST:$GAME_PORT --count 10 --interval-ms 1 --timeout-ms 200)"
eq "c2 dropped 100 ms after bifrostctl bl add" "$r" 0
read -r s r l <<<"$(udp_probe c1 --to $ANYCAST:$GAME_PORT --count 10 --interval-ms 1)"
eq "c1 unaffected" "$r" 10
check "bl list shows the ban under ops with its reason's TTL" bash -c "'$LAB' exec redis '$BIN/bifrostctl' --redis $REDIS_ADDR:6379 $(auth ops) bl list --json | jq -e 'select(.origin==\"ops\" and .entry==\"$C2_ADDR/32\" and .expires_ms != null)' >/dev/null"
eq "edges --json: both alive" "$(ctl edges --json | jq -s '[.[] | select(.alive)] | length')" 2
ge "punch list shows the punches" "$(ctl punch list --json | wc -l)" 1
ctl watch --count 1 --timeout 5 --json >"$STATE/watch.out" &
w=$!
sleep 0.3
ctl bl del $C2_ADDR/32 >/dev/null
wait $w
eq "watch saw the del as it happened" "$(jq -r '"\(.origin) \(.op) \(.entry)"' "$STATE/watch.out")" "ops del $C2_ADDR/32"
sleep 0.1
read -r s r l <<<"$(udp_probe c2 --to $ANYCAST:$GAME_PORT --count 10 --interval-ms 1)"
eq "bl del lifts it" "$r" 10
ctl bl add 198.51.100.7/24 >/dev/null 2>&1
eq "a CIDR with host bits is refused with exit 2" "$?" 2
in_ns redis "$BIN/bifrostctl" --redis 127.0.0.1:1 edges >/dev/null 2>&1
eq "Redis unreachable exits 1" "$?" 1

begin "garbage on the bus is counted and skipped"
bad0=$(hb pop2 bad_records)
frames0=$(hb pop2 bad_frames)
rcli_as admin XADD bifrost:log:bl:pop1 '*' junk yes >/dev/null # (pop1's log: an attacker past the ACLs)
rcli XADD bifrost:log:bl:ops '*' op add entry 198.51.100.7/24 exp +inf seq 1000000 >/dev/null
rcli_as admin PUBLISH bifrost:evt:pop1 $'\xdd\xff\xff\xff\xff' >/dev/null # a 4 G-item array header
rcli_as admin PUBLISH bifrost:evt:pop1 'not msgpack at all' >/dev/null
rcli PUBLISH bifrost:evt:ops "$(printf '\x82\xa1t\xa2up\xa1o\xa4pop1')" >/dev/null # pop1's frame on ops' channel
rcli_as admin SADD bifrost:edges 'bad origin!' >/dev/null
sleep 1.5
ge "pop2 counted the bad records" "$(( $(hb pop2 bad_records) - bad0 ))" 2
eq "pop2 counted the three bad event frames" "$(( $(hb pop2 bad_frames) - frames0 ))" 3
check "and logged them in one line" bash -c "[ \$(grep -c 'bad event frame' '$STATE/edge-pop2.log') = 1 ]"
read -r s r l <<<"$(udp_probe c2 --to $ANYCAST:$GAME_PORT --count 10 --interval-ms 1)"
eq "and keeps forwarding" "$r" 10
rcli_as admin SREM bifrost:edges 'bad origin!' >/dev/null
rcli_as admin SADD bifrost:edges pop9 >/dev/null
rcli_as admin HSET bifrost:edge:pop9 last_seen 1 version $'v"1\\\x1b[2J' iface $'\n' >/dev/null
check "bifrostctl edges --json stays valid JSON with a hostile heartbeat" bash -c "'$LAB' exec redis '$BIN/bifrostctl' --redis $REDIS_ADDR:6379 $(auth ops) edges --json | jq -se 'length == 3' >/dev/null"
check "and the table shows no raw escape byte" bash -c "! '$LAB' exec redis '$BIN/bifrostctl' --redis $REDIS_ADDR:6379 $(auth ops) edges | grep -q \$'\\x1b'"
rcli_as admin SREM bifrost:edges pop9 >/dev/null
rcli_as admin DEL bifrost:edge:pop9 >/dev/null
sleep 1.2 # the edges' once-a-second peer refresh has seen pop9 come and go

# live_punches POP: the punches in that POP's map with more than 3 s to
# live, one per line (an entry at its expiry edge may be gone at one POP
# and not yet at the other: not a divergence).
live_punches() {
	in_ns "$1" "$BIN/bifrost-edge" -c "$STATE/$1.conf" --dump punches --json |
		jq -r 'select(.expires_in_s > 3) | .punch' | sort
}
all_punches() { dump "$1" punches | jq -r .punch | sort; }
blacklist_set() { dump "$1" blacklist | jq -r .cidr | sort; }
# converged: every live punch of either POP is in the other's map, and the
# blacklists hold the same entries
converged() {
	[ -z "$(comm -23 <(live_punches pop1) <(all_punches pop2))" ] &&
		[ -z "$(comm -23 <(live_punches pop2) <(all_punches pop1))" ] &&
		[ "$(blacklist_set pop1)" = "$(blacklist_set pop2)" ]
}

# outage MODE BASE: Redis is SIGKILLed while players' flows run and both
# POPs keep making punches (the game server calls c1 through pop1 and c2
# through pop2 from a new port every 40 ms), then restarted with its
# append-only file (persist) or empty.
outage() {
	local mode=$1 base=$2 flow1 flow2 gen t_kill t_start during r0 p via maker
	begin "Redis killed and restarted ($mode) while both POPs make punches"
	udp_probe c1 --to $ANYCAST:$GAME_PORT --count 3 --interval-ms 1 >/dev/null # gs learns c1 -> pop1
	udp_probe c2 --to $ANYCAST:$GAME_PORT --count 3 --interval-ms 1 >/dev/null # and c2 -> pop2
	r0=$(( $(hb pop1 resyncs) + $(hb pop2 resyncs) ))
	in_ns c1 "$BIN/bf-netprobe" udp --to $ANYCAST:$GAME_PORT --count 3000 --interval-ms 1 --timeout-ms 1500 --json >"$STATE/flow1.json" &
	flow1=$!
	in_ns c2 "$BIN/bf-netprobe" udp --to $ANYCAST:$GAME_PORT --count 3000 --interval-ms 1 --timeout-ms 1500 --json >"$STATE/flow2.json" &
	flow2=$!
	: >"$STATE/punch-ports"
	(
		for ((k = 0; k < 80; k++)); do
			p=$((base + k))
			for c in $C1_ADDR $C2_ADDR; do
				in_ns gs "$BIN/bf-netprobe" udp --from $ANYCAST:$p --to $c:9 --count 1 --timeout-ms 1 >/dev/null 2>&1
			done
			echo "$p $(now_ms)" >>"$STATE/punch-ports"
			sleep 0.04
		done
	) &
	gen=$!
	sleep 0.6
	t_kill=$(now_ms)
	lab redis-kill
	# The game machine reaches the remote through the POP it last heard it
	# from; the remote's replies are routed back through that same POP.
	via=$(in_ns gs "$BIN/bifrost-gs" status --iface gs-eth0 --json | jq -r ".clients[] | select(.client==\"$REMOTE_ADDR\") | .pop")
	if [ "$via" = "$POP2_BACKEND" ]; then maker=pop2; else maker=pop1; fi
	lab route remote $maker
	read -r s r l <<<"$(udp_probe gs --from $ANYCAST:$((base - 1)) --to $REMOTE_ADDR:$REMOTE_PORT --count 10 --interval-ms 2)"
	eq "a new punch works at $maker while Redis is down (its replies come back)" "$r" 10
	sleep 1.2
	# Down until the POPs have made punches it never saw (on a loaded
	# machine the generator is slower than its 40 ms pace; at most 10 s).
	for _ in $(seq 100); do
		[ "$(awk -v a=$t_kill '$2 > a' "$STATE/punch-ports" | wc -l)" -ge 12 ] && break
		sleep 0.1
	done
	t_start=$(now_ms)
	if [ "$mode" = empty ]; then lab redis-start --empty; else lab redis-start; fi
	wait $gen
	wait $flow1 $flow2
	eq "c1's flow lost nothing through the outage" "$(jq -r .lost "$STATE/flow1.json")" 0
	eq "c2's flow lost nothing through the outage" "$(jq -r .lost "$STATE/flow2.json")" 0
	during=$(awk -v a=$t_kill -v b=$t_start '$2 > a && $2 < b' "$STATE/punch-ports" | wc -l)
	ge "punches were made at both POPs during the outage" "$during" 10
	for _ in $(seq 100); do converged && break; sleep 0.1; done
	check "pop1 and pop2 hold the same punches and bans (map dumps)" converged
	local miss=0 pop c
	for pop in pop1 pop2; do
		all_punches $pop >"$STATE/$pop.punches"
		for p in $(awk '{print $1}' "$STATE/punch-ports"); do
			for c in $C1_ADDR $C2_ADDR; do
				grep -qxF "udp $c:9 $ANYCAST:$p via $GS_ADDR" "$STATE/$pop.punches" || miss=$((miss + 1))
			done
		done
		grep -qxF "udp $REMOTE_ADDR:$REMOTE_PORT $ANYCAST:$((base - 1)) via $GS_ADDR" "$STATE/$pop.punches" || miss=$((miss + 1))
	done
	eq "no punch made before, during or after the outage is missing at either POP" "$miss" 0
	check "pop1's punches are back in Redis" bash -c "[ \$('$LAB' redis-cli --as ops ZRANGE bifrost:punch:pop1 0 -1 | grep -c ' $ANYCAST:$base via') = 1 ]"
	check "pop2's punches are back in Redis" bash -c "[ \$('$LAB' redis-cli --as ops ZRANGE bifrost:punch:pop2 0 -1 | grep -c ' $ANYCAST:$base via') = 1 ]"
	eq "both edges are back in bifrost:edges" "$(rcli SCARD bifrost:edges)" 2
	lab route remote pop1
	if [ "$mode" = persist ]; then
		eq "with the log intact, the edges caught up from their cursors (no resync)" "$(( $(hb pop1 resyncs) + $(hb pop2 resyncs) - r0 ))" 0
	else
		ge "restarted empty, the edges saw the gap and resynced" "$(( $(hb pop1 resyncs) + $(hb pop2 resyncs) - r0 ))" 1
	fi
}
outage persist 41000
outage empty 42000

begin "an edge killed and restarted catches up from its cursors"
dump2() { in_ns pop2 "$BIN/bifrost-edge" -c "$STATE/pop2.conf" --dump blacklist; }
ctl bl add 198.19.77.0/24 >/dev/null
for _ in $(seq 30); do dump2 | grep -q 198.19.77.0/24 && break; sleep 0.1; done
check "pop2 has a ban before it dies" bash -c "'$LAB' exec pop2 '$BIN/bifrost-edge' -c '$STATE/pop2.conf' --dump blacklist | grep -q 198.19.77.0/24"
sleep 1.2 # its state file is written within a second
lab edge-kill pop2 KILL
ctl bl add $C2_ADDR/32 --ttl 1h >/dev/null
ctl bl del 198.19.77.0/24 >/dev/null
lab edge-start pop2
for _ in $(seq 30); do dump2 | grep -q "$C2_ADDR/32" && break; sleep 0.1; done
check "the ban made while pop2 was dead is applied" bash -c "'$LAB' exec pop2 '$BIN/bifrost-edge' -c '$STATE/pop2.conf' --dump blacklist | grep -q '$C2_ADDR/32'"
check "the del made while it was dead is applied" bash -c "! '$LAB' exec pop2 '$BIN/bifrost-edge' -c '$STATE/pop2.conf' --dump blacklist | grep -q 198.19.77.0/24"
check "it caught up from its cursor, without a resync of bl:ops" bash -c "! grep -q 'resync of bl:ops' '$STATE/edge-pop2.log'"
read -r s r l <<<"$(udp_probe c2 --to $ANYCAST:$GAME_PORT --count 5 --interval-ms 1 --timeout-ms 200)"
eq "c2 is dropped at the restarted pop2" "$r" 0

begin "with its cursor trimmed away it resyncs fully"
sleep 1.2
lab edge-kill pop2 KILL
ctl bl add 198.19.78.0/24 >/dev/null
rcli XTRIM bifrost:log:bl:ops MAXLEN 0 >/dev/null
ctl bl add 198.19.79.0/24 >/dev/null
lab edge-start pop2
for _ in $(seq 50); do dump2 | grep -q 198.19.78.0/24 && break; sleep 0.1; done
check "pop2 saw the gap and resynced bl:ops" grep -q "resync of bl:ops from its ZSET (gap in seq)" "$STATE/edge-pop2.log"
check "the entry only the ZSET still knew is applied" bash -c "'$LAB' exec pop2 '$BIN/bifrost-edge' -c '$STATE/pop2.conf' --dump blacklist | grep -q 198.19.78.0/24"
check "and the one after the trim" bash -c "'$LAB' exec pop2 '$BIN/bifrost-edge' -c '$STATE/pop2.conf' --dump blacklist | grep -q 198.19.79.0/24"
ctl bl del $C2_ADDR/32 >/dev/null
sleep 0.2
read -r s r l <<<"$(udp_probe c2 --to $ANYCAST:$GAME_PORT --count 5 --interval-ms 1)"
eq "the ban lifted after all that" "$r" 5

begin "fleet config: connections from Redis, applied as a diff"
read -r s r l <<<"$(udp_probe c1 --to $ANYCAST:27016 --count 5 --interval-ms 1 --timeout-ms 200)"
eq "port 27016 is closed before" "$r" 0
ctl conn add udp $ANYCAST:$GAME_PORT $GS_ADDR >/dev/null
ctl conn add tcp $ANYCAST:$GAME_PORT $GS_ADDR >/dev/null
ctl conn add udp $ANYCAST:27016 $GS_ADDR:$GAME_PORT >/dev/null
eq "conn list shows three" "$(ctl conn list --json | jq -s 'length')" 3
sleep 1.5
for c in c1 c2; do
	read -r s r l <<<"$(udp_probe $c --to $ANYCAST:27016 --count 20 --interval-ms 1)"
	eq "$c reaches 27016 (mapped to the machine's $GAME_PORT) through its POP" "$r" 20
done
for _ in $(seq 30); do [ "$(hb pop1 conf_version)" = 3 ] && break; sleep 0.1; done
check "pop1's heartbeat reports conf_version 3" bash -c "[ \"\$('$LAB' redis-cli --as ops HGET bifrost:edge:pop1 conf_version)\" = 3 ]"
rcli HSET bifrost:conn:udp:$ANYCAST:27017 machine nonsense >/dev/null
ctl conn del udp $ANYCAST:27016 >/dev/null
sleep 1.5
read -r s r l <<<"$(udp_probe c1 --to $ANYCAST:27016 --count 5 --interval-ms 1 --timeout-ms 200)"
eq "a deleted connection is gone from pop1's map" "$r" 0
check "pop2's map no longer has it" bash -c "! '$LAB' exec pop2 '$BIN/bifrost-edge' -c '$STATE/pop2.conf' --dump conns | grep -q ':27016'"
check "the malformed hash is refused and logged by name" grep -q "27017 refused: machine is not an address" "$STATE/edge-pop1.log"
check "bifrostctl conn list flags it" bash -c "'$LAB' exec redis '$BIN/bifrostctl' --redis $REDIS_ADDR:6379 $(auth ops) conn list | grep -q '27017: INVALID'"
read -r s r l <<<"$(udp_probe c2 --to $ANYCAST:$GAME_PORT --count 20 --interval-ms 1)"
eq "the good connections keep working" "$r" 20

begin "a restart keeps the fleet's connections, even with Redis away"
# A connection only Redis knows (pop1's config file has $GAME_PORT, not 27018), with
# limits: a restarted edge must serve it from its first moment, as it was.
ctl conn add udp $ANYCAST:27018 $GS_ADDR:$GAME_PORT --limits "pps 2000 burst 200ms block 5s" >/dev/null
dumpconns() { "$LAB" exec pop1 "$BIN/bifrost-edge" -c "$STATE/pop1.conf" --dump conns | sort; }
for _ in $(seq 30); do dumpconns | grep -q ":27018" && break; sleep 0.1; done
before=$(dumpconns)
check "pop1 serves 27018 from the fleet config" has "$before" ":27018"
udp_probe c1 --to $ANYCAST:27018 --count 5 --interval-ms 1 >/dev/null # neighbours resolved
udp_probe c1 --to $ANYCAST:27018 --count 3000 --interval-ms 1 >"$TMP/restart-flow" &
flow=$!
sleep 0.5
lab edge-kill pop1
lab edge-start pop1
wait $flow
read -r s r l <"$TMP/restart-flow"
eq "a 3 s flow to 27018 across pop1's restart loses nothing" "$l" 0
check "the restarted edge kept the running connections" grep -q "kept the 3 connection(s) the running data plane serves" "$STATE/edge-pop1.log"
for _ in $(seq 50); do grep -q "replaces the 3 connection(s)" "$STATE/edge-pop1.log" && break; sleep 0.1; done
check "then the fleet's config replaced them" grep -q "replaces the 3 connection(s) kept from the last run" "$STATE/edge-pop1.log"
eq "the same connections, limits included, after the restart" "$(dumpconns)" "$before"
lab redis-kill
lab edge-kill pop1
lab edge-start pop1
read -r s r l <<<"$(udp_probe c1 --to $ANYCAST:27018 --count 50 --interval-ms 1)"
eq "Redis down, pop1 restarted: 27018 still served" "$r" 50
eq "with the same limits" "$(dumpconns)" "$before"
check "not replaced while Redis is away" bash -c "! grep -q 'replaces the' '$STATE/edge-pop1.log'"
lab redis-start
for _ in $(seq 150); do grep -q "replaces the 3 connection(s)" "$STATE/edge-pop1.log" && break; sleep 0.1; done
check "Redis back: the fleet's config replaced them" grep -q "replaces the 3 connection(s) kept" "$STATE/edge-pop1.log"
ctl conn del udp $ANYCAST:27018 >/dev/null
sleep 1.5
read -r s r l <<<"$(udp_probe c1 --to $ANYCAST:27018 --count 5 --interval-ms 1 --timeout-ms 200)"
eq "deleted from the fleet: gone again" "$r" 0

summary
