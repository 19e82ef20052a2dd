#!/usr/bin/env bash
# test_bus.sh - the bus with the tools an operator has: a ban written with a bare redis-cli
# ZADD, lifted with ZREM, DEL or EXPIRE, holds and ends at both POPs within a second
# (keyspace notifications); one FCALL writes a ban with its log record and seq; the edges
# count the divergence and report each connection's state in the heartbeat and /metrics;
# a second edge with pop1's id publishes nothing.
set -u
. "$(dirname "$0")/lib.sh"
metric() { in_ns "$1" curl -s --max-time 3 http://127.0.0.1:9477/metrics | awk -v m="$2" '$1 == m {print $2}'; }
# blocked HOST: 1 when HOST's game traffic gets no reply now, else 0
blocked() {
	local s r l
	read -r s r l <<<"$(udp_probe "$1" --to $ANYCAST:$GAME_PORT --count 5 --interval-ms 1 --timeout-ms 150)"
	[ "$r" = 0 ] && echo 1 || echo 0
}
# within MS HOST WANT: polls blocked until it says WANT; prints the ms it took, or "never"
within() {
	local t0 end
	t0=$(now_ms); end=$((t0 + $1))
	while [ "$(now_ms)" -lt "$end" ]; do
		[ "$(blocked "$2")" = "$3" ] && { echo $(($(now_ms) - t0)); return 0; }
	done
	echo never
	return 1
}

begin "both edges are up on all three links"
for _ in $(seq 50); do [ "$(hb pop2 link_events)" = up ] && break; sleep 0.1; done
eq "pop1 reads" "$(hb pop1 link_reads)" up
eq "pop2 events" "$(hb pop2 link_events)" up
eq "/metrics: pop1's commands link" "$(metric pop1 'bifrost_sync_link_up{link="commands"}')" 1
eq "/metrics: pop1's events link" "$(metric pop1 'bifrost_sync_link_up{link="events"}')" 1
check "Redis sends the keyspace notifications the edges use" has \
	"$(rcli_as admin CONFIG GET notify-keyspace-events)" "z"

begin "a bare ZADD bans at both POPs within a second"
d0=$(metric pop2 'bifrost_sync_divergence_total{found_by="notification"}')
rcli ZADD bifrost:bl:ops +inf $C1_ADDR/32 +inf $C2_ADDR/32 >/dev/null
ms1=$(within 1000 c1 1); ms2=$(within 1000 c2 1)
echo "     c1 dropped at pop1 after ${ms1} ms, c2 at pop2 after ${ms2} ms"
check "c1 dropped at pop1 within 1 s" [ "$ms1" != never ]
check "c2 dropped at pop2 within 1 s" [ "$ms2" != never ]
ge "pop2 counted the divergence" "$(metric pop2 'bifrost_sync_divergence_total{found_by="notification"}')" $((d0 + 1))
check "bifrostctl bl list shows what is enforced" has "$(ctl bl list)" "$C1_ADDR/32"

begin "a bare ZREM, DEL and EXPIRE lift it within a second"
rcli ZREM bifrost:bl:ops $C1_ADDR/32 >/dev/null
ms=$(within 1000 c1 0); echo "     lifted for c1 after $ms ms"
check "ZREM lifts c1's ban" [ "$ms" != never ]
eq "c2 still banned" "$(blocked c2)" 1
rcli DEL bifrost:bl:ops >/dev/null
ms=$(within 1000 c2 0); echo "     lifted for c2 after $ms ms"
check "DEL lifts c2's ban" [ "$ms" != never ]
rcli ZADD bifrost:bl:ops +inf $C2_ADDR/32 >/dev/null
check "banned again" [ "$(within 1000 c2 1)" != never ]
rcli PEXPIRE bifrost:bl:ops 300 >/dev/null
ms=$(within 1500 c2 0); echo "     the key expired, lifted after $ms ms"
check "the key's expiry lifts it" [ "$ms" != never ]

begin "one FCALL: the ban, its log record, the next seq"
seq0=$(rcli XREVRANGE bifrost:log:bl:ops + - COUNT 1 | grep -A1 '^seq$' | tail -1)
seq1=$(rcli FCALL bifrost_add 1 bifrost:bl:ops $C1_ADDR/32 60000 test)
eq "the seq follows the log's" "$seq1" "$(( ${seq0:-0} + 1 ))"
check "c1 dropped" [ "$(within 1000 c1 1)" != never ]
rcli FCALL bifrost_del 1 bifrost:bl:ops $C1_ADDR/32 test >/dev/null
check "and lifted" [ "$(within 1000 c1 0)" != never ]
d1=$(metric pop1 'bifrost_sync_divergence_total{found_by="notification"}')
sleep 0.5
eq "no divergence counted for writes through the functions" \
	"$(metric pop1 'bifrost_sync_divergence_total{found_by="notification"}')" "$d1"

begin "a second edge with pop1's id publishes nothing"
# Another machine given the id pop1: its own state file (its own instance), its own
# interface (pinned maps are per interface), pop1's Redis id.
{ grep -vE '^(iface|backend_iface|metrics|a2s_workers) ' "$STATE/pop1.conf"
  printf 'iface lo\nmetrics 127.0.0.1:9478\nstate_file %s/dup.state\n' "$TMP"; } >"$TMP/dup.conf"
on_exit "'$LAB' exec pop1 '$BIN/bifrost-edge' -c '$TMP/dup.conf' --detach"
nsenter --net=/run/netns/bf-pop1 "$BIN/bifrost-edge" -c "$TMP/dup.conf" >"$TMP/dup.log" 2>&1 &
dup=$!
PIDS+=($dup)
for _ in $(seq 30); do grep -q "another edge is running with the id pop1" "$TMP/dup.log" && break; sleep 0.1; done
check "it says so" grep -q "another edge is running with the id pop1" "$TMP/dup.log"
eq "/metrics: id conflict" "$(in_ns pop1 curl -s --max-time 3 http://127.0.0.1:9478/metrics | awk '$1 == "bifrost_sync_id_conflict" {print $2}')" 1
eq "the first one's heartbeat is still its own" "$(hb pop1 iface)" "p1-up,p1-bk"
kill $dup; wait $dup 2>/dev/null

summary
