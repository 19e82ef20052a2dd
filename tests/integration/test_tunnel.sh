#!/usr/bin/env bash
# test_tunnel.sh - pop2 reaches Redis only through the encrypted link (stunnel,
# TLS 1.3, a pre-shared key of its own; docs/OPERATIONS.md, "Encrypting the
# Redis link"): it is connected through it, a ban made at pop1 holds at pop2 and
# a punch made at pop2 reaches pop1, nothing readable crosses the wire, a wrong
# key is refused without harm, and a tunnel killed and restarted is caught up.
set -u
. "$(dirname "$0")/lib.sh"
need_tools tcpdump stunnel4 curl openssl
grep -qx pop2 "$STATE/tunnel/pops" 2>/dev/null ||
	{ echo "test_tunnel: the lab is up without the tunnel (BF_LAB_TUNNEL=0?)" >&2; exit 1; }

edge_log() { tail -c +$(($1 + 1)) "$STATE/edge-pop2.log"; } # pop2's log from byte $1 on
log_size() { stat -c %s "$STATE/edge-pop2.log"; }
logged() { edge_log "$1" | grep -q -- "$2"; } # logged MARK TEXT
not() { ! "$@"; }
# wait_for SECONDS CMD...: CMD succeeds within SECONDS (polled every 0.1 s)
wait_for() {
	local n=$(($1 * 10)) i; shift
	for ((i = 0; i < n; i++)); do "$@" && return 0; sleep 0.1; done
	"$@"
}
pop2_has_ban() { dump pop2 blacklist | jq -se --arg c "$1" 'any(.[]; .cidr == $c)' >/dev/null; }
# pop2_synced 0|1: what pop2's /metrics says of its Redis link
pop2_synced() {
	[ "$(in_ns pop2 curl -s --max-time 2 http://127.0.0.1:9477/metrics |
		awk '$1 == "bifrost_sync_connected" {print $2}')" = "$1" ]
}
# shellcheck disable=SC2046
bl_pop1() { in_ns pop1 "$BIN/bifrostctl" --redis "$REDIS_ADDR:6379" $(auth ops) bl "$@" >/dev/null; }
# pop2_cli ARGS...: redis-cli in pop2 through its tunnel end, logged in as pop2 (if ACLs are on)
pop2_cli() {
	if [ "$LAB_ACL" = 0 ]; then in_ns pop2 redis-cli -h 127.0.0.1 -p 6379 "$@"
	else in_ns pop2 env REDISCLI_AUTH="$(sed -n 's/^password //p' "$CREDS/pop2")" redis-cli -h 127.0.0.1 -p 6379 --user pop2 "$@"; fi
}
psk() { od -An -tx1 -N32 /dev/urandom | tr -d ' \n'; }
redis_end_log() { tail -c +$(($1 + 1)) "$STATE/tunnel-redis.log"; }
# tls_hello HOST VERSION: a TLS client with no key at all reaches the Redis end
tls_hello() {
	timeout 5 "$LAB" exec "$1" openssl s_client -connect "$REDIS_ADDR:$TUNNEL_PORT" "-$2" \
		</dev/null >/dev/null 2>&1
}

begin "pop2 is connected through the tunnel, and only through it"
for _ in $(seq 50); do [ "$(rcli SCARD bifrost:edges)" = 2 ] && break; sleep 0.1; done
eq "bifrost:edges has both POPs" "$(rcli SMEMBERS bifrost:edges | sort | tr '\n' ' ')" "pop1 pop2 "
eq "pop2's edge is configured with its local tunnel end" \
	"$(awk '$1 == "redis" {print $2}' "$STATE/pop2.conf")" 127.0.0.1:6379
eq "pop2 reaches Redis through it" "$(pop2_cli PING)" PONG
check "pop2 cannot reach Redis's plain port" not timeout 3 "$LAB" exec pop2 redis-cli -h "$REDIS_ADDR" PING
check "the key files are 0600 in a 0700 directory" bash -c \
	"[ \$(stat -c %a '$STATE/tunnel') = 700 ] && [ -z \"\$(find '$STATE/tunnel' -name '*.psk' ! -perm 600)\" ]"
check "no key appears on a command line" not grep -qF -f <(cut -d: -f2 "$STATE/tunnel/pop2.psk") <(ps -eo args)
clients=$(rcli_as admin CLIENT LIST)
eq "Redis sees no client at pop2's own address" "$(grep -c "addr=$POP2_BACKEND:" <<<"$clients")" 0
# The Redis end's connections into Redis, by their local ports: that is where
# pop2's clients come from, as Redis sees them.
ports=$(in_ns redis ss -tnpH state established "( dport = :6379 )" |
	awk '/stunnel/ {sub(/.*:/, "", $3); print $3}')
tunneled=$(for p in $ports; do grep "addr=$REDIS_ADDR:$p " <<<"$clients"; done)
echo "     clients through the tunnel: $(grep -c . <<<"$tunneled")"
ge "Redis sees pop2's three connections at the tunnel's address" "$(grep -c . <<<"$tunneled")" 3
check "one of them is the edge's blocking XREAD" has "$tunneled" "cmd=xread"
check "one is its event subscription" has "$tunneled" "sub=[1-9]"
check "the Redis end logged pop2's key identity" grep -q 'PSK identity "pop2"' "$STATE/tunnel-redis.log"
check "pop2's /metrics says it is connected" pop2_synced 1
check "a TLS 1.2 client is refused" not tls_hello pop1 tls1_2
check "a TLS 1.3 client without a key is refused" not tls_hello pop1 tls1_3

begin "a ban made at pop1 holds at pop2, a punch made at pop2 reaches pop1; the wire is unreadable"
nsenter --net=/run/netns/bf-redis timeout 60 tcpdump -i rd-eth0 -U -s 0 -c 200000 -w "$TMP/wire.pcap" \
	"tcp and (port 6379 or port $TUNNEL_PORT)" 2>"$TMP/tcpdump.err" &
cap=$!
PIDS+=($cap)
wait_for 5 grep -q "listening on" "$TMP/tcpdump.err"
udp_probe c2 --to $ANYCAST:$GAME_PORT --count 3 --interval-ms 1 >/dev/null # gs learns c2 -> pop2
in_ns gs "$BIN/bf-netprobe" udp --from $ANYCAST:43001 --to $C2_ADDR:9 --count 1 --timeout-ms 1 \
	>/dev/null 2>&1
punch="udp $C2_ADDR:9 $ANYCAST:43001 via $GS_ADDR"
punch_in_redis() { rcli ZRANGE bifrost:punch:pop2 0 -1 | grep -qxF "$punch"; }
pop1_has_punch() { dump pop1 punches | jq -se --arg p "$punch" 'any(.[]; .punch == $p)' >/dev/null; }
check "the punch made at pop2 is in Redis under pop2" wait_for 2 punch_in_redis
check "and in pop1's map" wait_for 2 pop1_has_punch
bl_pop1 add $C2_ADDR/32 --ttl 1h --reason tunnel
check "pop2 holds the ban made at pop1 within a second" wait_for 1 pop2_has_ban $C2_ADDR/32
read -r s r l <<<"$(udp_probe c2 --to $ANYCAST:$GAME_PORT --count 10 --interval-ms 1 --timeout-ms 200)"
eq "c2 is dropped at pop2" "$r" 0
bl_pop1 del $C2_ADDR/32
sleep 1.5 # heartbeats and stats cross both links meanwhile
kill -INT $cap 2>/dev/null
wait $cap 2>/dev/null
tcpdump -r "$TMP/wire.pcap" -w "$TMP/plain.pcap" "host 198.18.5.2 and port 6379" 2>/dev/null
tcpdump -r "$TMP/wire.pcap" -w "$TMP/tls.pcap" "host $POP2_BACKEND and port $TUNNEL_PORT" 2>/dev/null
count() { grep -a -o -F -- "$2" "$TMP/$1.pcap" | wc -l; }
tls_pkts=$(tcpdump -r "$TMP/tls.pcap" "greater 100" 2>/dev/null | wc -l)
echo "     captured: $(tcpdump -r "$TMP/plain.pcap" 2>/dev/null | wc -l) packets on pop1's link, $(tcpdump -r "$TMP/tls.pcap" 2>/dev/null | wc -l) on pop2's"
ge "the tunnel carried pop2's traffic meanwhile (packets with data)" "$tls_pkts" 10
for text in "bifrost:" "$C2_ADDR/32" "$ANYCAST:43001"; do
	ge "'$text' is readable on pop1's plain link" "$(count plain "$text")" 1
	eq "'$text' never appears on pop2's encrypted link" "$(count tls "$text")" 0
done
eq "nor pop2's heartbeat key" "$(count tls bifrost:edge:pop2)" 0

begin "the tunnel killed: pop2 keeps its tables, says so once, and retries"
mark=$(log_size)
edge_pid=$(cat "$STATE/edge-pop2.pid")
lab tunnel-kill pop2
bl_pop1 add 198.19.61.0/24 --reason while-down
check "pop2's edge logged the lost connection" wait_for 3 logged "$mark" "connection lost"
check "pop2's /metrics says it is not connected" wait_for 3 pop2_synced 0
check "the ban made while the tunnel was down has not reached pop2" not pop2_has_ban 198.19.61.0/24

begin "a wrong key is refused; the edge logs it once and keeps retrying"
cp "$STATE/tunnel/pop2.psk" "$TMP/pop2.psk.good"
(umask 077 && echo "pop2:$(psk)" >"$STATE/tunnel/pop2.psk")
rmark=$(stat -c %s "$STATE/tunnel-redis.log")
mark=$(log_size)
lab tunnel-start pop2
bl_pop1 add 198.19.62.0/24 --reason wrong-key
sleep 4
refusals=$(redis_end_log "$rmark" | grep -c -i -E "SSL_accept|bad|decrypt|alert")
echo "     the Redis end: $(redis_end_log "$rmark" | grep -i -m1 -E "SSL_accept|bad|decrypt|alert")"
ge "the Redis end refused the handshakes" "$refusals" 1
unanswered=$(edge_log "$mark" | grep -c "closed before Redis answered")
echo "     pop2's edge: $(edge_log "$mark" | grep -m1 "closed before Redis answered" | cut -c26-)"
ge "pop2's edge logged the refusal" "$unanswered" 1
check "once per link, not once per attempt" test "$unanswered" -le 3
check "and never called the link connected" not logged "$mark" ": connected"
ge "it kept retrying (the Redis end saw several attempts)" \
	"$(redis_end_log "$rmark" | grep -c 'accepted connection')" 3
check "pop2's edge is still running" kill -0 "$edge_pid"
check "pop2's /metrics still says not connected" pop2_synced 0
check "the bans made meanwhile are not at pop2" not pop2_has_ban 198.19.62.0/24
read -r s r l <<<"$(udp_probe c2 --to $ANYCAST:$GAME_PORT --count 10 --interval-ms 1)"
eq "pop2 keeps forwarding on its tables" "$r" 10

begin "the right key back: pop2 reconnects and catches up"
mark=$(log_size)
lab tunnel-kill pop2
cp "$TMP/pop2.psk.good" "$STATE/tunnel/pop2.psk"
t0=$(now_ms)
lab tunnel-start pop2
check "the ban made while the tunnel was down is applied" wait_for 10 pop2_has_ban 198.19.61.0/24
check "and the one made while the key was wrong" pop2_has_ban 198.19.62.0/24
echo "     caught up $(($(now_ms) - t0)) ms after the tunnel came back"
check "pop2's edge logged its links connected again" wait_for 5 logged "$mark" "(commands): connected"
check "it caught up from its cursors, without a resync" not logged "$mark" "resync of bl:"
check "pop2's /metrics says connected again" wait_for 3 pop2_synced 1
eq "the same edge process throughout" "$(cat "$STATE/edge-pop2.pid")" "$edge_pid"

begin "rotating pop2's key"
cp "$STATE/tunnel/pop2.psk" "$TMP/pop2.psk.old"
lab tunnel-rotate pop2
check "pop2 has a new key" not cmp -s "$STATE/tunnel/pop2.psk" "$TMP/pop2.psk.old"
check "the Redis end's list has it" grep -qxF -f "$STATE/tunnel/pop2.psk" "$STATE/tunnel/redis.psk"
check "and no longer the old one" not grep -qxF -f "$TMP/pop2.psk.old" "$STATE/tunnel/redis.psk"
bl_pop1 add 198.19.63.0/24 --reason rotated
check "a ban after the rotation reaches pop2" wait_for 10 pop2_has_ban 198.19.63.0/24
eq "pop1, on the plain link, never lost its connection" "$(grep -c 'connection lost' "$STATE/edge-pop1.log")" 0

summary
