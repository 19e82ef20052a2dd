#!/usr/bin/env bash
# test_sentinel.sh - the lab fleet on Redis Sentinel (BF_LAB_SENTINEL=1: a primary, a
# replica, three sentinels): the edges and bifrostctl find the primary through the
# sentinels; the primary is SIGKILLed while punches are made at pop1 and bans with
# bifrostctl; the sentinels promote the replica, every edge follows, and afterwards
# both POPs hold every punch and every ban whose write was acknowledged (0 lost); the
# old primary comes back as a replica and is never written to.
# lab: BF_LAB_SENTINEL=1
set -u
. "$(dirname "$0")/lib.sh"

if [ "$LAB_SENTINEL" != 1 ]; then # run alone, on a lab without sentinels
	"$LAB" down >/dev/null 2>&1
	BF_LAB_SENTINEL=1 "$LAB" up || { bad "lab up with sentinels"; summary; exit 1; }
	eval "$("$LAB" env)"
fi

sentinel() { in_ns redis redis-cli -h $REDIS_ADDR -p "$1" "${@:2}"; }
primary() { sentinel 26379 SENTINEL get-master-addr-by-name bifrost | sed -n 2p; }
admin_cli() { # PORT ARGS...: one data node, as the lab's administrator
	local port=$1; shift
	if [ "$LAB_ACL" = 1 ]; then
		REDISCLI_AUTH=$(sed -n 's/^password //p' "$CREDS/admin") in_ns redis redis-cli -h $REDIS_ADDR -p "$port" --user admin "$@" 2>/dev/null
	else
		in_ns redis redis-cli -h $REDIS_ADDR -p "$port" "$@" 2>/dev/null
	fi
}
role_of() { admin_cli "$1" ROLE | head -1; } # PORT
logged() { grep -c -- "$2" "$STATE/edge-$1.log"; }

begin "the fleet finds the primary through the sentinels"
eq "the lab's endpoint" "$LAB_REDIS_EP" "sentinel:bifrost@$REDIS_ADDR:26379,$REDIS_ADDR:26380,$REDIS_ADDR:26381"
eq "the sentinels name 6379" "$(primary)" 6379
for _ in $(seq 50); do [ "$(rcli SCARD bifrost:edges)" = 2 ] && break; sleep 0.1; done
eq "both edges joined" "$(rcli SCARD bifrost:edges)" 2
ge "pop1 connected to the primary of bifrost" "$(logged pop1 'connected to the primary of bifrost')" 1
for _ in $(seq 30); do [ "$(logged pop2 'sentinel .*connected, following bifrost')" -ge 1 ] && break; sleep 0.1; done
ge "pop2 follows a sentinel's +switch-master" "$(logged pop2 'sentinel .*connected, following bifrost')" 1
eq "bifrostctl through the sentinels" "$(ctl edges --json | jq -s length)" 2

begin "pop1 reads from the replica near it, pop2 from the primary"
metric() { in_ns "$1" curl -s --max-time 3 http://127.0.0.1:9477/metrics | awk -v m="$2" '$1 == m {print $2}'; }
reads_now() { rcli HGET bifrost:edge:$1 reads; }
wait_reads() { # POP VALUE: until its heartbeat says it reads there (15 s at most)
	for _ in $(seq 150); do [ "$(reads_now $1)" = "$2" ] && return 0; sleep 0.1; done
	return 1
}
replica_blocked_xreads() { admin_cli 6381 CLIENT LIST | grep 'flags=b' | grep -c 'cmd=xread'; }
wait_reads pop1 replica
eq "pop1's heartbeat: reads replica" "$(reads_now pop1)" replica
eq "pop2's heartbeat: reads primary" "$(reads_now pop2)" primary
eq "pop1's /metrics: reading the replica" "$(metric pop1 bifrost_sync_replica_reading)" 1
eq "pop2 shows no replica metrics" "$(metric pop2 bifrost_sync_replica_reading)" ""
for _ in $(seq 30); do [ "$(replica_blocked_xreads)" = 1 ] && break; sleep 0.1; done
eq "pop1's blocking read runs on the replica" "$(replica_blocked_xreads)" 1
ctl bl add 198.19.76.1/32 --ttl 1h >/dev/null
for _ in $(seq 30); do dump pop1 blacklist | grep -q '198.19.76.1/32' && break; sleep 0.1; done
check "a ban reaches pop1 through the replica" bash -c "'$LAB' exec pop1 '$BIN/bifrost-edge' -c '$STATE/pop1.conf' --dump blacklist | grep -q 198.19.76.1/32"

begin "the replica killed: pop1 reads from the primary, and goes back"
"$LAB" replica-kill KILL
wait_reads pop1 primary:down
eq "pop1's heartbeat: reads primary:down" "$(reads_now pop1)" primary:down
ctl bl add 198.19.76.2/32 --ttl 1h >/dev/null
for _ in $(seq 30); do dump pop1 blacklist | grep -q '198.19.76.2/32' && break; sleep 0.1; done
check "a ban made with the replica dead reaches pop1" bash -c "'$LAB' exec pop1 '$BIN/bifrost-edge' -c '$STATE/pop1.conf' --dump blacklist | grep -q 198.19.76.2/32"
eq "pop1's /metrics: one fallback" "$(metric pop1 bifrost_sync_replica_fallbacks_total)" 1
eq "pop1's /metrics: not reading the replica" "$(metric pop1 bifrost_sync_replica_reading)" 0
ge "pop1 logged it once" "$(logged pop1 'read replica .*down.*reading from the primary')" 1
"$LAB" replica-start
wait_reads pop1 replica
eq "back on the replica once it keeps up" "$(reads_now pop1)" replica
ctl bl add 198.19.76.3/32 --ttl 1h >/dev/null
for _ in $(seq 30); do dump pop1 blacklist | grep -q '198.19.76.3/32' && break; sleep 0.1; done
check "and bans reach pop1 through it again" bash -c "'$LAB' exec pop1 '$BIN/bifrost-edge' -c '$STATE/pop1.conf' --dump blacklist | grep -q 198.19.76.3/32"
# The failover below needs the sentinels to see the replica healthy again.
for _ in $(seq 150); do
	sentinel 26379 SENTINEL replicas bifrost | paste - - | awk '$1 == "flags" && $2 == "slave" {ok = 1} END {exit !ok}' && break
	sleep 0.1
done

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
# watch: when the sentinels name the replica, and when each edge's heartbeat (written
# every second) moves on it; every 50 ms, from the SIGKILL on, for 30 s at most
watch_failover() {
	local tk=$1 hb1="" hb2="" p=0 d1=0 d2=0 v
	rm -f "$STATE/fo-promoted" "$STATE/fo-pop1" "$STATE/fo-pop2"
	for _ in $(seq 600); do
		if [ "$p" = 0 ] && [ "$(primary)" = 6381 ]; then
			echo $(( $(now_ms) - tk )) >"$STATE/fo-promoted"; p=1
			hb1=$(admin_cli 6381 HGET bifrost:edge:pop1 last_seen)
			hb2=$(admin_cli 6381 HGET bifrost:edge:pop2 last_seen)
		fi
		if [ "$p" = 1 ]; then
			for pop in pop1 pop2; do
				[ -f "$STATE/fo-$pop" ] && continue
				v=$(hb $pop last_seen)
				{ [ $pop = pop1 ] && [ "$v" != "$hb1" ]; } || { [ $pop = pop2 ] && [ "$v" != "$hb2" ]; } &&
					echo $(( $(now_ms) - tk )) >"$STATE/fo-$pop"
			done
			[ -f "$STATE/fo-pop1" ] && [ -f "$STATE/fo-pop2" ] && return 0
		fi
		sleep 0.05
	done
}
# (once the replica is promoted it has no replica of its own: each bifrostctl write then
# waits its second for one, says none confirmed it, and stands)
unconfirmed=0
for i in $(seq 1 20); do
	if out=$(ctl bl add 198.19.77.$i/32 --ttl 1h --reason sentinel-test 2>&1); then
		banned+=("198.19.77.$i/32")
		grep -q "no replica confirmed" <<<"$out" && unconfirmed=$((unconfirmed + 1))
	fi
	if [ "$i" = 8 ]; then
		tk=$(now_ms) # before the kill: every figure below includes the lab's own delay
		"$LAB" redis-kill KILL
		watch_failover "$tk" &
		watcher=$!
	fi
	sleep 0.1
done
wait $punchers
wait $watcher
promoted=$(cat "$STATE/fo-promoted" 2>/dev/null || echo -1)
echo "     ${#banned[@]} of 20 bans acknowledged ($unconfirmed with no replica to confirm them); the replica promoted ${promoted} ms after SIGKILL"
ge "writes without a replica say so" "$unconfirmed" 1
check "the sentinels promoted the replica" test "$promoted" -ge 0
eq "6381 says master" "$(role_of 6381)" master
for pop in pop1 pop2; do
	f=$(cat "$STATE/fo-$pop" 2>/dev/null || echo -1)
	echo "     $pop's heartbeat on the new primary $f ms after SIGKILL"
	check "$pop writes to the new primary" test "$f" -ge 0
done
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

wait_reads pop1 "primary:not a replica"
eq "pop1 no longer reads from 6381: it is the primary now" "$(reads_now pop1)" "primary:not a replica"

begin "the old primary comes back as a replica"
"$LAB" redis-start
r=""
for _ in $(seq 250); do r=$(role_of 6379); [ "$r" = slave ] && break; sleep 0.1; done
eq "6379 is a replica of the new primary" "$r" slave
eq "the sentinels still name 6381" "$(primary)" 6381
ctl bl add 198.19.78.1/32 --ttl 1h >/dev/null
sleep 0.3
check "a ban made now holds at pop2" bash -c "'$LAB' exec pop2 '$BIN/bifrost-edge' -c '$STATE/pop2.conf' --dump blacklist --json | grep -q '198.19.78.1/32'"

begin "bifrostctl waits for a replica, and says when none confirms"
for _ in $(seq 100); do admin_cli 6379 INFO replication | grep -q '^master_link_status:up' && break; sleep 0.1; done
out=$(ctl bl add 198.19.78.2/32 --ttl 1h 2>&1); rc=$?
eq "with a replica: exit 0" "$rc" 0
check "and no warning" bash -c "! grep -q 'no replica confirmed' <<<'$out'"
"$LAB" redis-kill KILL # 6379, a replica now
t=$(now_ms)
out=$(ctl bl add 198.19.78.3/32 --ttl 1h 2>&1); rc=$?
eq "without one: the write stands (exit 0)" "$rc" 0
check "and says no replica confirmed it" has "$out" "no replica confirmed it within 1000 ms"
ge "after waiting about a second" "$(( $(now_ms) - t ))" 1000

summary
