#!/usr/bin/env bash
# test_sentinel.sh - the lab fleet on Redis Sentinel (BF_LAB_SENTINEL=1: a primary, a
# replica, three sentinels): the edges and bifrostctl find the primary through the
# sentinels; the primary is SIGKILLed while punches are made at pop1 and bans with
# bifrostctl; the sentinels promote the replica, every edge follows, and afterwards
# both POPs hold every punch and every ban whose write was acknowledged (0 lost); the
# old primary comes back as a replica and is never written to.
set -u
. "$(dirname "$0")/lib.sh"

"$LAB" down >/dev/null 2>&1
BF_LAB_SENTINEL=1 "$LAB" up || { bad "lab up with sentinels"; summary; exit 1; }
eval "$("$LAB" env)"

sentinel() { in_ns redis redis-cli -h $REDIS_ADDR -p "$1" "${@:2}"; }
primary() { sentinel 26379 SENTINEL get-master-addr-by-name bifrost | sed -n 2p; }
role_of() { # PORT
	if [ "$LAB_ACL" = 1 ]; then
		REDISCLI_AUTH=$(sed -n 's/^password //p' "$CREDS/admin") in_ns redis redis-cli -h $REDIS_ADDR -p "$1" --user admin ROLE 2>/dev/null | head -1
	else
		in_ns redis redis-cli -h $REDIS_ADDR -p "$1" ROLE 2>/dev/null | head -1
	fi
}
logged() { grep -c -- "$2" "$STATE/edge-$1.log"; }

begin "the fleet finds the primary through the sentinels"
eq "the lab's endpoint" "$LAB_REDIS_EP" "sentinel:bifrost@$REDIS_ADDR:26379,$REDIS_ADDR:26380,$REDIS_ADDR:26381"
eq "the sentinels name 6379" "$(primary)" 6379
for _ in $(seq 50); do [ "$(rcli SCARD bifrost:edges)" = 2 ] && break; sleep 0.1; done
eq "both edges joined" "$(rcli SCARD bifrost:edges)" 2
ge "pop1 connected to the primary of bifrost" "$(logged pop1 'connected to the primary of bifrost')" 1
ge "pop2 follows a sentinel" "$(logged pop2 'sentinel .*connected, following bifrost')" 1
eq "bifrostctl through the sentinels" "$(ctl edges --json | jq -s length)" 2

begin "SIGKILL the primary while punches and bans are made"
banned=()
(
	# Punches: pop1's game server calls out from a new port every 50 ms (each flow a punch).
	for i in $(seq 0 119); do
		in_ns gs "$BIN/bf-netprobe" udp --from $ANYCAST:$((42000 + i)) --to $REMOTE_ADDR:$REMOTE_PORT \
			--count 1 --timeout-ms 200 >/dev/null 2>&1
		sleep 0.05
	done
) &
punchers=$!
t0=$(now_ms)
killed=0
for i in $(seq 1 80); do
	if ctl bl add 198.19.77.$i/32 --ttl 1h --reason sentinel-test >/dev/null 2>&1; then
		banned+=("198.19.77.$i/32")
	fi
	if [ "$i" = 20 ]; then
		"$LAB" redis-kill KILL
		tk=$(now_ms)
		killed=1
	fi
	sleep 0.1
done
wait $punchers
promoted=-1
for _ in $(seq 100); do [ "$(primary)" = 6381 ] && { promoted=$(( $(now_ms) - tk )); break; }; sleep 0.1; done
echo "     ${#banned[@]} of 80 bans acknowledged; the replica promoted ${promoted} ms after SIGKILL"
check "the sentinels promoted the replica" test "$promoted" -ge 0
eq "6381 says master" "$(role_of 6381)" master
# every edge writes again: its heartbeat moves on the new primary
for pop in pop1 pop2; do
	a=$(hb $pop last_seen); ok=0
	for _ in $(seq 100); do b=$(hb $pop last_seen); [ -n "$b" ] && [ "$b" != "$a" ] && { ok=1; break; }; sleep 0.1; done
	eq "$pop writes to the new primary" "$ok" 1
done
echo "     every edge writing again $(( $(now_ms) - tk )) ms after SIGKILL"
sleep 2
# 0 lost: every acknowledged ban at both POPs, and every punch pop1 holds is at pop2 too
lost=0
for pop in pop1 pop2; do
	d=$(dump $pop blacklist)
	for c in "${banned[@]}"; do grep -q "\"cidr\":\"$c\"" <<<"$d" || { lost=$((lost + 1)); echo "     $pop lacks $c"; }; done
done
eq "acknowledged bans missing at a POP" "$lost" 0
p1=$(dump pop1 punches | jq -r .punch | sort)
p2=$(dump pop2 punches | jq -r .punch | sort)
n1=$(grep -c "$ANYCAST:4[0-9]*" <<<"$p1")
ge "pop1 made the punches" "$n1" 100
eq "pop1's punches missing at pop2" "$(comm -23 <(grep "$ANYCAST:4" <<<"$p1") <(grep "$ANYCAST:4" <<<"$p2") | wc -l)" 0
eq "pop1's punches missing in Redis" "$(comm -23 <(grep "$ANYCAST:4" <<<"$p1") <(rcli ZRANGE bifrost:punch:pop1 0 -1 | sort) | wc -l)" 0

begin "the old primary comes back as a replica"
"$LAB" redis-start
r=""
for _ in $(seq 250); do r=$(role_of 6379); [ "$r" = slave ] && break; sleep 0.1; done
eq "6379 is a replica of the new primary" "$r" slave
eq "the sentinels still name 6381" "$(primary)" 6381
ctl bl add 198.19.78.1/32 --ttl 1h >/dev/null
sleep 0.3
check "a ban made now holds at pop2" bash -c "'$LAB' exec pop2 '$BIN/bifrost-edge' -c '$STATE/pop2.conf' --dump blacklist --json | grep -q '198.19.78.1/32'"

summary
