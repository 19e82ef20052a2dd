#!/bin/bash
# test_flowspec.sh - bifrost-flowspec against a real upstream: two network namespaces of
# this test (an upstream router running gobgpd, AS 65000, and a POP, AS 65001, with its own
# redis-server and the exporter, which runs the POP's gobgpd), removed on exit. A rule
# marked `flowspec yes` reaches the upstream's ipv4-flowspec RIB with the right match and
# action within 2 s, leaves it on delete, on TTL expiry, on SIGTERM and when the exporter
# is killed; what a rail refuses never reaches it (TCP/179, a protected or whitelisted
# prefix, a destination outside the POP's prefixes, no protocol, a session address); the
# 11th rule is refused when the cap is 10, and new routes go out one a second; Redis
# hanging keeps the routes; a restart keeps each route's expiry; dry-run and canary
# modes; the BGP session stays up from the first rule to the SIGTERM. Needs root, gobgpd,
# jq.
set -u
. "$(dirname "$0")/../lib.sh" test_flowspec
need_root "it makes network namespaces"
need_tools gobgpd gobgp jq redis-server redis-cli curl
need_bins bifrost-flowspec bifrostctl
UP=fsu-$$
POP=fsp-$$
UP_IP=10.179.0.1
POP_IP=10.179.0.2
RPORT=6391
MPORT=9391
on_exit ip netns del "$UP"
on_exit ip netns del "$POP"
ip netns add "$UP" && ip netns add "$POP" || { echo "test_flowspec: cannot make namespaces" >&2; exit 1; }
ip -n "$UP" link add fsu type veth peer name fsp netns "$POP"
ip -n "$UP" addr add $UP_IP/24 dev fsu
ip -n "$POP" addr add $POP_IP/24 dev fsp
for ns in "$UP" "$POP"; do ip -n "$ns" link set lo up; done
ip -n "$UP" link set fsu up
ip -n "$POP" link set fsp up
in_up() { ip netns exec "$UP" "$@"; }
in_pop() { ip netns exec "$POP" "$@"; }
ctl() { in_pop env BIFROST_REDIS=127.0.0.1:$RPORT "$BIN/bifrostctl" "$@"; }
rcli() { in_pop redis-cli -p $RPORT "$@"; }

# (Background processes are started with ip netns exec itself, not in_up/in_pop: $! is
# then the process, which exit stops.)
# bgp_conf AS ADDR PEER_AS PEER_ADDR: a gobgpd config with one ipv4-flowspec session.
bgp_conf() {
	cat <<EOF
[global.config]
  as = $1
  router-id = "$2"
  local-address-list = ["$2"]
[[neighbors]]
  [neighbors.config]
    neighbor-address = "$4"
    peer-as = $3
  [neighbors.timers.config]
    connect-retry = 1
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-flowspec"
EOF
}
# The upstream: a route server that takes Flowspec from the POP; the POP's speaker, which
# the exporter runs.
bgp_conf 65000 $UP_IP 65001 $POP_IP >"$TMP/up.toml"
bgp_conf 65001 $POP_IP 65000 $UP_IP >"$TMP/pop.toml"
cat >"$TMP/flowspec.conf" <<EOF
# pop1: announces two prefixes, peers with the upstream
id pop1
redis 127.0.0.1:$RPORT
announce 192.0.2.0/24
announce 203.0.113.0/24
announce 10.50.0.0/16
peer $UP_IP
local $POP_IP
protect 192.0.2.250/32
max_rules 10
gobgpd_config $TMP/pop.toml
gobgp_api 127.0.0.1:50051
metrics 127.0.0.1:$MPORT
EOF

ip netns exec "$UP" gobgpd -f "$TMP/up.toml" --api-hosts 127.0.0.1:50051 --pprof-disable -l warn -p \
	>"$TMP/up.log" 2>&1 &
PIDS+=($!)
ip netns exec "$POP" redis-server --bind 127.0.0.1 --port $RPORT --save "" --appendonly no --loglevel warning \
	--logfile "$TMP/redis.log" --dir "$TMP" &
REDIS_PID=$!
PIDS+=($REDIS_PID)
for _ in $(seq 100); do [ "$(rcli PING 2>/dev/null)" = PONG ] && break; sleep 0.05; done

FS_PID=
start_fs() {
	ip netns exec "$POP" "$BIN/bifrost-flowspec" --config "$TMP/flowspec.conf" "$@" \
		>>"$TMP/fs.log" 2>&1 &
	FS_PID=$!
	PIDS+=($FS_PID)
}
# The upstream's Flowspec RIB: one route a line, as gobgp names it.
up_rib() { in_up gobgp -u 127.0.0.1 -p 50051 global rib -a ipv4-flowspec -j 2>/dev/null | jq -r 'keys[]' 2>/dev/null; }
up_count() { up_rib | grep -c .; }
# wait_for SECONDS CMD...: polls CMD every 50 ms; the time it took (ms) in $took
wait_for() {
	local end=$(($(now_ms) + $1 * 1000)) t0; t0=$(now_ms)
	shift
	while [ "$(now_ms)" -lt $end ]; do
		"$@" && { took=$(($(now_ms) - t0)); return 0; }
		sleep 0.05
	done
	took=-1
	return 1
}
in_rib() { up_rib | grep -qF -- "$1"; }
not_in_rib() { ! in_rib "$1"; }
session_up() { [ "$(in_up gobgp -u 127.0.0.1 -p 50051 neighbor $POP_IP -j 2>/dev/null | jq .state.session_state)" = 6 ]; }
session_since() { in_up gobgp -u 127.0.0.1 -p 50051 neighbor $POP_IP -j | jq .timers.state.uptime.seconds; }
state_of() { rcli HGET bifrost:flowspec:pop1 "$1" | cut -d' ' -f1,4; }
metric() { in_pop curl -s "127.0.0.1:$MPORT/metrics" | awk -v k="$1" '$1 == k { print $2 }'; }

begin "config"
printf 'id pop1\nannounce 192.0.2.0/24\n' >"$TMP/bad1.conf"
out=$("$BIN/bifrost-flowspec" --config "$TMP/bad1.conf" --check 2>&1); rc=$?
eq "no peer: exit 2" "$rc" 2
check "says a peer is needed" has "$out" "peer: at least one BGP peer"
printf 'id pop1\nannounce 192.0.2.0/24\npeer 10.0.0.1\nmax_rules 0\n' >"$TMP/bad2.conf"
out=$("$BIN/bifrost-flowspec" --config "$TMP/bad2.conf" --check 2>&1)
check "max_rules 0 refused with the line" has "$out" "bad2.conf:4: max_rules"
out=$("$BIN/bifrost-flowspec" --config "$TMP/flowspec.conf" --check 2>&1); rc=$?
eq "the test's config: exit 0" "$rc" 0
check "--check shows the rails" has "$out" "^max_rules 10$"
out=$("$BIN/bifrost-flowspec" --help)
check "--help says what dies with it" has "$out" "gobgpd dies with it"

begin "session"
start_fs
check "the exporter's gobgpd peers with the upstream (<= 20 s)" wait_for 20 session_up
SINCE=$(session_since)

begin "announce"
t0=$(now_ms)
ctl rule add 100 action drop proto udp dst 192.0.2.10/32 dport 27015 flowspec yes >/dev/null
ROUTE100="[destination: 192.0.2.10/32][protocol: ==udp][destination-port: ==27015][source-port: !=179]"
wait_for 5 in_rib "$ROUTE100"
lat=$(($(now_ms) - t0))
check "rule 100 reaches the upstream within 2 s (took ${lat} ms)" [ "$took" -ge 0 ] && [ "$lat" -le 2000 ]
eq "its action is discard" \
	"$(in_up gobgp -u 127.0.0.1 -p 50051 global rib -a ipv4-flowspec -j | jq -r --arg k "$ROUTE100" '.[$k][0].attrs[] | select(.type == 16) | .value[0].rate')" "0"
check "the upstream shows it as discard" has "$(in_up gobgp -u 127.0.0.1 -p 50051 global rib -a ipv4-flowspec)" "Extcomms: \[discard\]"
eq "state: announced" "$(state_of 100)" "announced -"

begin "rails"
ctl protect add 192.0.2.128/28 >/dev/null
ctl wl add 203.0.113.64/26 >/dev/null
ctl rule add 101 action drop proto tcp dst 192.0.2.11/32 dport 179 flowspec yes >/dev/null
ctl rule add 102 action drop proto tcp dst 192.0.2.12/32 dport 100-200 flowspec yes >/dev/null
ctl rule add 103 action drop proto udp dst 192.0.2.250/32 flowspec yes >/dev/null
ctl rule add 104 action drop proto udp dst 192.0.2.130/32 flowspec yes >/dev/null
ctl rule add 105 action drop proto udp dst 203.0.113.70/32 flowspec yes >/dev/null
ctl rule add 106 action drop proto udp dst 198.51.100.0/24 flowspec yes >/dev/null
ctl rule add 107 action drop dst 192.0.2.13/32 flowspec yes >/dev/null
ctl rule add 108 action drop proto udp dst 10.50.0.0/20 flowspec yes >/dev/null
ctl rule add 109 action drop proto udp dst 192.0.2.14/32 src $UP_IP/32 flowspec yes >/dev/null
ctl rule add 110 action drop proto udp dst 192.0.2.15/32 payload 0:ffffffff flowspec yes >/dev/null
ctl rule add 111 action drop proto udp dst 192.0.2.16/32 ttl 1-3 flowspec yes >/dev/null
ctl rule add 112 action drop proto udp dst 192.0.2.17/32 ip_len 20-9000 flowspec yes >/dev/null
sleep 1.5
for want in "101 refused port_179" "102 refused port_179" "103 refused protected" \
	"104 refused protected" "105 refused whitelisted" "106 refused dst_outside" \
	"107 refused no_proto" "108 refused dst_wide" "109 refused bgp_peer" "110 refused payload" \
	"111 refused field" "112 refused length"; do
	id=${want%% *}
	eq "rule $id" "$id $(state_of "$id")" "$want"
done
rib=$(up_rib)
eq "the upstream holds only rule 100" "$rib" "$ROUTE100"
eq "refusals counted by rail (port_179)" "$(metric 'bifrost_flowspec_refused_total{id="pop1",why="port_179"}')" 2
eq "refusals counted by rail (protected)" "$(metric 'bifrost_flowspec_refused_total{id="pop1",why="protected"}')" 2
check "each refusal logged with what to change" has "$(cat "$TMP/fs.log")" "rule 101: refused (port_179): dport 179-179 holds port 179"
out=$(ctl flowspec list)
check "flowspec list shows the refusal and why" has "$out" "105 *refused *whitelisted"
eq "flowspec list: by rule" "$(grep -oE '^  1[0-9][0-9] ' <<<"$out" | tr -d ' ' | tr '\n' ' ')" "100 101 102 103 104 105 106 107 108 109 110 111 112 "
out=$(ctl flowspec list --json | jq -r 'select(.rule == 100) | "\(.pop) \(.state) \(.exporter)"')
eq "flowspec list --json" "$out" "pop1 announced true"
# Forged rule text straight into the hash: the same rails, whatever wrote it.
rcli HSET bifrost:rules 113 "action drop proto tcp dst 192.0.2.18/32 sport 179 flowspec yes" >/dev/null
rcli HSET bifrost:rules 114 "action drop proto udp dst 192.0.2.19/32 flowspec yes flowspec maybe" >/dev/null
rcli INCR bifrost:conf:version >/dev/null
sleep 1
eq "redis-cli rule with sport 179: refused" "$(state_of 113)" "refused port_179"
eq "garbage rule: not offered" "$(rcli HEXISTS bifrost:flowspec:pop1 114)" 0
eq "still only rule 100 upstream" "$(up_count)" 1
for id in $(seq 101 114); do ctl rule del "$id" >/dev/null; done

begin "withdraw on delete"
t0=$(now_ms)
ctl rule del 100 >/dev/null
wait_for 5 not_in_rib "$ROUTE100"
lat=$(($(now_ms) - t0))
check "rule 100 withdrawn within 2 s of its delete (took ${lat} ms)" [ "$took" -ge 0 ] && [ "$lat" -le 2000 ]

begin "TTL"
ctl rule add 120 action drop proto icmp dst 192.0.2.20/32 flowspec yes flowspec_ttl 3s >/dev/null
R120="[destination: 192.0.2.20/32][protocol: ==icmp]"
check "announced" wait_for 3 in_rib "$R120"
t0=$(now_ms)
check "withdrawn when its 3 s TTL runs out" wait_for 6 not_in_rib "$R120"
eq "state: expired" "$(state_of 120)" "expired ttl"
sleep 1
check "not announced again while the rule is unchanged" not_in_rib "$R120"
ctl rule del 120 >/dev/null

begin "cap and rate"
for i in $(seq 1 11); do
	ctl rule add $((200 + i)) action drop proto icmp dst 192.0.2.$((100 + i))/32 flowspec yes >/dev/null
done
check "10 routes out (<= 15 s)" wait_for 15 bash -c "[ \$(ip netns exec $UP gobgp -u 127.0.0.1 -p 50051 global rib -a ipv4-flowspec -j | jq 'keys|length') = 10 ]"
sleep 1.5
eq "still 10: the cap holds" "$(up_count)" 10
eq "the 11th is refused, with the reason" "$(state_of 211)" "refused cap"
check "the reason names max_rules" has "$(rcli HGET bifrost:flowspec:pop1 211)" "max_rules 10"
check "the 11th never reached the upstream" not_in_rib "192.0.2.111/32"
gap=$(rcli HGETALL bifrost:flowspec:pop1 | paste - - | awk '$2 == "announced" { print $3 }' | sort -n |
	awk 'NR > 1 { d = $1 - p; if (min == "" || d < min) min = d } { p = $1 } END { print min }')
ge "new routes at least 1 s apart (closest: ${gap} ms)" "$gap" 1000
ctl rule del 201 >/dev/null
check "a freed place goes to the 11th" wait_for 4 in_rib "192.0.2.111/32"

eq "the BGP session stayed up through announces, refusals, withdrawals, expiry, the cap" \
	"$(session_since)" "$SINCE"

begin "speaker killed"
GB=$(pgrep -f "[g]obgpd -f $TMP/pop.toml")
kill -9 "$GB"
check "the upstream withdraws what the dead speaker announced" wait_for 3 bash -c "[ \$(ip netns exec $UP gobgp -u 127.0.0.1 -p 50051 global rib -a ipv4-flowspec -j | jq 'keys|length') = 0 ]"
check "the exporter starts gobgpd again and announces everything again (<= 20 s)" wait_for 20 bash -c "[ \$(ip netns exec $UP gobgp -u 127.0.0.1 -p 50051 global rib -a ipv4-flowspec -j | jq 'keys|length') = 10 ]"
check "and says why" has "$(cat "$TMP/fs.log")" "gobgpd exited (signal 9): every route is withdrawn"
eq "counted" "$(metric 'bifrost_flowspec_speaker_restarts_total{id="pop1"}')" 1
SINCE=$(session_since) # a new session: from here it must stay up

begin "Redis hangs"
kill -STOP "$REDIS_PID"
sleep 4
eq "routes stay out while Redis does not answer" "$(up_count)" 10
kill -CONT "$REDIS_PID"
check "the exporter said so, once" [ "$(grep -c "keeping the routes out" "$TMP/fs.log")" -ge 1 ]
ctl rule del 202 >/dev/null
check "it follows the rules again after Redis answers" wait_for 8 not_in_rib "192.0.2.102/32"

begin "a canary that is not running releases nothing (pop3)"
# pop9's lines say it announced rule 203 long ago, but pop9 has no liveness key
rcli HSET bifrost:flowspec:pop9 203 "$(rcli HGET bifrost:flowspec:pop1 203 | sed 's/^announced [0-9]* /announced 1 /')" >/dev/null
sed -e 's/^id pop1/id pop3/' -e "s/^metrics .*/canary pop9\ncanary_hold 0s\nrate 100ms/" "$TMP/flowspec.conf" >"$TMP/pop3.conf"
ip netns exec "$POP" "$BIN/bifrost-flowspec" --config "$TMP/pop3.conf" --dry-run \
	>"$TMP/pop3.log" 2>&1 &
P3=$!
PIDS+=($P3)
sleep 1.5
eq "a dead canary's word: still pending" "$(rcli HGET bifrost:flowspec:pop3 203 | cut -d' ' -f1,4)" "pending canary"
rcli SET bifrost:flowspec-alive:pop9 1 PX 60000 >/dev/null
check "a live one's: released" wait_for 4 bash -c "[ \"\$(ip netns exec $POP redis-cli -p $RPORT HGET bifrost:flowspec:pop3 203 | cut -d' ' -f1)\" = dry-run ]"
kill "$P3"; wait "$P3" 2>/dev/null
rcli DEL bifrost:flowspec:pop9 bifrost:flowspec-alive:pop9 bifrost:flowspec:pop3 >/dev/null

begin "canary and dry run (pop2)"
sed -e 's/^id pop1/id pop2/' -e "s/^metrics .*/canary pop1\ncanary_hold 2s\nrate 200ms/" "$TMP/flowspec.conf" >"$TMP/pop2.conf"
ip netns exec "$POP" "$BIN/bifrost-flowspec" --config "$TMP/pop2.conf" --dry-run \
	>"$TMP/pop2.log" 2>&1 &
P2=$!
PIDS+=($P2)
pop2_state() { rcli HGET bifrost:flowspec:pop2 "$1" | cut -d' ' -f1,4; }
check "routes the canary has announced for 2 s: dry-run at pop2" wait_for 4 bash -c "[ \"\$(ip netns exec $POP redis-cli -p $RPORT HGET bifrost:flowspec:pop2 203 | cut -d' ' -f1)\" = dry-run ]"
ctl rule del 203 >/dev/null
ctl rule add 230 action drop proto icmp dst 192.0.2.230/32 flowspec yes >/dev/null
sleep 0.7
eq "a new rule waits for the canary at pop2" "$(pop2_state 230)" "pending canary"
check "then follows it once pop1 held it 2 s" wait_for 5 bash -c "[ \"\$(ip netns exec $POP redis-cli -p $RPORT HGET bifrost:flowspec:pop2 230 | cut -d' ' -f1)\" = dry-run ]"
check "a dry run starts no speaker" has "$(cat "$TMP/pop2.log")" "DRY RUN"
check "and logs what it would announce" has "$(cat "$TMP/pop2.log")" "rule 230: dry-run"
kill "$P2"; wait "$P2" 2>/dev/null

begin "session"
eq "the BGP session stayed up through Redis hanging and a second exporter" "$(session_since)" "$SINCE"

begin "exporter killed"
before=$(up_count)
ge "routes out before" "$before" 9
until_230=$(rcli HGET bifrost:flowspec:pop1 230 | cut -d' ' -f3)
kill -9 "$FS_PID"
t0=$(now_ms)
wait_for 5 bash -c "[ -z \"\$(ip netns exec $UP gobgp -u 127.0.0.1 -p 50051 global rib -a ipv4-flowspec -j | jq -r 'keys[]')\" ]"
lat=$(($(now_ms) - t0))
check "every route withdrawn upstream within 2 s of the kill (took ${lat} ms)" [ "$took" -ge 0 ] && [ "$lat" -le 2000 ]
check "its gobgpd died with it" wait_for 3 bash -c "! pgrep -f '[g]obgpd -f $TMP/pop.toml' >/dev/null"

begin "restart"
start_fs
check "routes back after a restart (<= 20 s)" wait_for 20 bash -c "[ \$(ip netns exec $UP gobgp -u 127.0.0.1 -p 50051 global rib -a ipv4-flowspec -j | jq 'keys|length') = $before ]"
eq "with the expiry they had" "$(rcli HGET bifrost:flowspec:pop1 230 | cut -d' ' -f3)" "$until_230"

begin "SIGHUP"
kill -HUP "$FS_PID"
sleep 0.5
check "a HUP leaves it running" kill -0 "$FS_PID"
check "and says the file is read at start" has "$(cat "$TMP/fs.log")" "SIGHUP: the rules are followed live"
eq "routes still out" "$(up_count)" "$before"

begin "SIGTERM"
SINCE=$(session_since)
kill -TERM "$FS_PID"
wait "$FS_PID"
eq "exit status 0" "$?" 0
eq "every route withdrawn" "$(up_count)" 0
eq "withdrawn one by one before gobgpd stopped" "$(grep -c "withdrawn (stopping)" "$TMP/fs.log")" "$before"
eq "state: stopped" "$(state_of 230)" "stopped -"
eq "the liveness key is gone" "$(rcli EXISTS bifrost:flowspec-alive:pop1)" 0
check "flowspec list says the exporter is not running" has "$(ctl flowspec list)" "pop1 (exporter not running"

sed 's/^/# /' "$TMP/fs.log" | grep -v 'level=' | tail -5
summary
