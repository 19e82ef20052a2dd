#!/usr/bin/env bash
# test_guard.sh - the guard rails at every edge, tried as anyone who reaches Redis would,
# with redis-cli: wl 0.0.0.0/0, bl 0.0.0.0/0 and a too wide ban, a drop rule that matches
# everything, more bans than a small cap, a member and a hash field far too big. Both POPs
# refuse each (players through pop1 and pop2 lose nothing), count it on /metrics and in
# the heartbeat, log it once, and apply the valid entries written alongside.
set -u
. "$(dirname "$0")/lib.sh"
metric() { in_ns "$1" curl -s --max-time 3 http://127.0.0.1:9477/metrics | awk -v m="$2" '$1 == m {print $2}'; }
refused() { metric "$1" "bifrost_bus_refused_total{kind=\"$2\",why=\"$3\"}"; }
# refused_both KIND WHY N: both POPs count N such refusals (3 s at most)
refused_both() {
	for _ in $(seq 30); do
		[ "$(refused pop1 "$1" "$2")" = "$3" ] && [ "$(refused pop2 "$1" "$2")" = "$3" ] && break
		sleep 0.1
	done
	eq "pop1 counts $1/$2" "$(refused pop1 "$1" "$2")" "$3"
	eq "pop2 counts $1/$2" "$(refused pop2 "$1" "$2")" "$3"
}
# logged POP TEXT: lines of that edge's log holding TEXT
logged() { grep -cF -- "$2" "$STATE/edge-$1.log"; }
# plays: c1 through pop1 and c2 through pop2 each get all 20 answers
plays() {
	local r1 r2
	read -r _ r1 _ <<<"$(udp_probe c1 --to $ANYCAST:$GAME_PORT --count 20 --interval-ms 2)"
	read -r _ r2 _ <<<"$(udp_probe c2 --to $ANYCAST:$GAME_PORT --count 20 --interval-ms 2)"
	eq "$1: c1 plays through pop1" "$r1" 20
	eq "$1: c2 plays through pop2" "$r2" 20
}
# next_seq KIND: the seq an ops record of KIND takes next (from the log's last record)
next_seq() {
	local last
	last=$(rcli --raw XREVRANGE "bifrost:log:$1:ops" + - COUNT 1 | awk 'p == "seq" {print; exit} {p = $0}')
	echo $(( ${last:-0} + 1 ))
}
# by_hand KIND ENTRY...: ZADD + XADD of each (permanent) as ops, in one MULTI/EXEC, with
# redis-cli reading the commands from stdin
by_hand() {
	local kind=$1 seq e; shift
	seq=$(next_seq "$kind")
	{ echo MULTI
	  for e in "$@"; do
		echo "ZADD bifrost:$kind:ops +inf $e"
		echo "XADD bifrost:log:$kind:ops * op add entry $e exp +inf seq $seq why manual"
		seq=$((seq + 1))
	  done
	  echo EXEC; } | rcli >/dev/null
}
quiet() { "$@" >/dev/null; }
in_map() { dump "$1" "$2" | grep -c "\"$3\""; }
# hb_is POP FIELD WANT: that heartbeat field says WANT (3 s at most)
hb_is() { for _ in $(seq 30); do [ "$(hb "$1" "$2")" = "$3" ] && break; sleep 0.1; done; hb "$1" "$2"; }
peak_kib() { awk '/^VmHWM/ {print $2}' "/proc/$(cat "$STATE/edge-$1.pid")/status"; }
peak_reset() { echo 5 >"/proc/$(cat "$STATE/edge-$1.pid")/clear_refs"; }

begin "both edges run with a small cap for the test"
for pop in pop1 pop2; do
	echo "max_per_origin bl 5 # test_guard" >>"$STATE/$pop.conf"
	lab edge-kill $pop >/dev/null 2>&1
	lab edge-start $pop >/dev/null 2>&1
done
for _ in $(seq 50); do [ -n "$(hb pop1 bus_refused)" ] && [ -n "$(hb pop2 bus_refused)" ] && break; sleep 0.1; done
eq "pop1's heartbeat: nothing refused yet" "$(hb pop1 bus_refused)" 0
eq "pop2's heartbeat: nothing refused yet" "$(hb pop2 bus_refused)" 0
plays "before"

begin "wl 0.0.0.0/0, bl 0.0.0.0/0 and bl 8.0.0.0/6 beside valid entries"
ctl bl add 0.0.0.0/0 >/dev/null 2>"$TMP/err"
eq "bifrostctl refuses bl 0.0.0.0/0 (exit 2)" "$?" 2
check "and says why" grep -q "wider than /8" "$TMP/err"
by_hand wl 0.0.0.0/0 198.18.99.0/24
by_hand bl 0.0.0.0/0 8.0.0.0/6 198.51.100.250/32
refused_both wl prefix 1
refused_both bl prefix 2
plays "after"
for pop in pop1 pop2; do
	eq "$pop holds the valid whitelist entry" "$(in_map $pop whitelist 198.18.99.0/24)" 1
	eq "$pop holds the valid ban" "$(in_map $pop blacklist 198.51.100.250/32)" 1
	eq "$pop holds no /0" "$(( $(in_map $pop whitelist 0.0.0.0/0) + $(in_map $pop blacklist 0.0.0.0/0) ))" 0
	eq "$pop logged the whitelist refusal once" "$(logged $pop "guard: refusing whitelist entries wider than /16")" 1
	eq "$pop logged the two bans once" "$(logged $pop "guard: refusing blacklist entries wider than /8")" 1
	check "$pop's line names the entry, the origin and what to do" grep -q \
		"first 0.0.0.0/0 of origin ops; the rest is applied. Have that origin remove it (ops: bifrostctl bl del 0.0.0.0/0)" \
		"$STATE/edge-$pop.log"
done
eq "pop1's heartbeat counts them" "$(hb_is pop1 bus_refused 3)" 3
eq "pop2's heartbeat, by kind and why" "$(hb_is pop2 bus_refused_by "wl/prefix=1 bl/prefix=2")" \
	"wl/prefix=1 bl/prefix=2"

begin "a drop rule that matches every packet"
ctl rule add 10 action drop >/dev/null 2>"$TMP/err"
eq "bifrostctl refuses it (exit 2)" "$?" 2
d1=$(counter pop1 rule_drop); d2=$(counter pop2 rule_drop)
rcli HSET bifrost:rules 10 "action drop" 20 "action drop src 0.0.0.0/0 ttl 0-255" \
	30 "action drop proto udp dport 27999" >/dev/null
rcli INCR bifrost:conf:version >/dev/null
check "both edges applied the config" applied
refused_both rule match_all 2
plays "with the rules"
udp_probe c1 --to $ANYCAST:27999 --count 10 --timeout-ms 100 >/dev/null
udp_probe c2 --to $ANYCAST:27999 --count 10 --timeout-ms 100 >/dev/null
eq "pop1 applies the valid rule written beside them" "$(( $(counter pop1 rule_drop) - d1 ))" 10
eq "pop2 too" "$(( $(counter pop2 rule_drop) - d2 ))" 10
for pop in pop1 pop2; do
	eq "$pop logged it once" "$(logged $pop "of the fleet: it matches every packet and drops it")" 1
	eq "$pop's rules in force" "$(dump $pop rules | jq -r '.id' | tr '\n' ' ')" "30 "
done
eq "the heartbeat's conf_refused counts them" "$(hb_is pop1 conf_refused 2)" 2
rcli HDEL bifrost:rules 10 20 >/dev/null
check "bifrostctl writes one marked all yes" quiet ctl rule add 10 action drop all yes dry_run yes
rcli HDEL bifrost:rules 10 >/dev/null
rcli INCR bifrost:conf:version >/dev/null

begin "more bans from one origin than max_per_origin bl (5)"
for i in 1 2 3 4 5 6; do ctl bl add 198.51.100.$((200 + i)) >/dev/null; done
refused_both bl cap 2
for pop in pop1 pop2; do
	eq "$pop holds 5 of ops's 7 bans" "$(dump $pop blacklist | grep -c '"198.51.100.2[0-9]*/32"')" 5
	eq "$pop logged it once" "$(logged $pop "guard: origin ops holds 5 bl entries here")" 1
done
plays "at the cap"

begin "a hash field of 32 MiB: refused unread, the valid connection beside it applied"
rcli HSET bifrost:conn:udp:$ANYCAST:$GAME_PORT machine $GS_ADDR >/dev/null
rcli HSET bifrost:conn:tcp:$ANYCAST:$GAME_PORT machine $GS_ADDR >/dev/null
peak_reset pop1; hw0=$(peak_kib pop1)
# Made inside Redis (by its administrator: the operator may not run scripts): nothing of it
# crosses the lab but what an edge would read.
rcli_as admin EVAL "redis.call('HSET', KEYS[1], 'machine', string.rep('9', ARGV[1])) return 1" 1 \
	bifrost:conn:udp:$ANYCAST:27016 33554432 >/dev/null
rcli INCR bifrost:conf:version >/dev/null
check "both edges applied the config" applied
refused_both conn too_big 1
ge "pop1's peak memory grew by less than 8 MiB" $(( 8192 - ($(peak_kib pop1) - hw0) )) 1
for pop in pop1 pop2; do
	eq "$pop serves the valid connection only" "$(dump $pop conns | jq -r '.bind' | sort -u | tr '\n' ' ')" "$ANYCAST:$GAME_PORT "
	eq "$pop logged it once" "$(logged $pop "guard: refusing bifrost:conn:udp:$ANYCAST:27016: field machine of at least 33554432 bytes, more than 256")" 1
done
plays "with the fleet's connections"

begin "pop1 restarts without its state: the ZSETs are read again, each within its caps"
# A member no CIDR can be, and bl:ops now holds 9 members (7 bans, 2 refused): more than 5.
rcli ZADD bifrost:wl:ops +inf "$(head -c 300 /dev/zero | tr '\0' 1)" >/dev/null
lab edge-kill pop1 >/dev/null 2>&1
rm -f /run/bifrost-edge-pop1.state
lab edge-start pop1 >/dev/null 2>&1
for _ in $(seq 50); do [ "$(refused pop1 bl too_many)" = 1 ] && break; sleep 0.1; done
eq "bl:ops is refused unread" "$(refused pop1 bl too_many)" 1
eq "the long member is left out of wl:ops" "$(refused pop1 wl too_big)" 1
eq "wl:ops's 0.0.0.0/0 is refused again" "$(refused pop1 wl prefix)" 1
eq "its valid entry is applied" "$(in_map pop1 whitelist 198.18.99.0/24)" 1
eq "logged once, with the cap to raise" "$(logged pop1 "guard: refusing bifrost:bl:ops: 9 members, more than max_per_origin bl (5)")" 1
check "the log of bl:ops is followed from its head" grep -q "resync of bl:ops skipped, following its log" "$STATE/edge-pop1.log"
plays "after the restart"

summary
