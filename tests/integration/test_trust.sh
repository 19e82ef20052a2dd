#!/usr/bin/env bash
# test_trust.sh - the data plane's trust boundary in the lab, tried as an
# attacker on the Internet: IPIP forged with the game machine's address is
# relayed nowhere and punches nothing at any POP (nor in Redis) while real
# players and real punches lose nothing; a spoofed flood of a player's address
# at pop1 leaves him playing through pop2; a protected source over its limit is
# policed; bad checksums and amplifying queries are dropped.
set -u
. "$(dirname "$0")/lib.sh"
forge() { in_ns remote "$BIN/bf-netprobe" forge --dev rm-eth0 "$@" >/dev/null; }
remote_packets() { awk -F'[ =]' '/^udp_packets/ {print $2}' "$STATE/remote-count"; }
# punches_on PORT: punches for bind port PORT at pop1, pop2 and in Redis
punches_on() {
	{ dump pop1 punches; dump pop2 punches; ctl punch list; } | grep -c "$ANYCAST:$1[ \"]"
}

begin "forged IPIP from the Internet: relayed nowhere, no punch anywhere"
# c1 plays through pop1 and c2 through pop2 the whole time.
in_ns c1 "$BIN/bf-netprobe" udp --to $ANYCAST:$GAME_PORT --count 1500 --interval-ms 2 --timeout-ms 1000 --json >"$STATE/c1-play.json" &
p1=$!
in_ns c2 "$BIN/bf-netprobe" udp --to $ANYCAST:$GAME_PORT --count 1500 --interval-ms 2 --timeout-ms 1000 --json >"$STATE/c2-play.json" &
p2=$!
sleep 0.3
rm0=$(remote_packets)
s1=$(counter pop1 return_spoofed); s2=$(counter pop2 return_spoofed)
# The attacker names the game machine as the outer source and asks for a
# relay to the remote (a victim) from the anycast address, port 22 (udp and
# tcp): at pop1's public address, at the anycast address (both through
# pop1's uplink), then through pop2 at its public address.
lab route remote pop1 >/dev/null 2>&1
forge --src $ANYCAST --sport 22 --to $REMOTE_ADDR:$REMOTE_PORT --ipip-src $GS_ADDR --ipip-dst $POP1_ADDR --count 300
forge --src $ANYCAST --sport 22 --to $REMOTE_ADDR:$REMOTE_PORT --proto tcp --ipip-src $GS_ADDR --ipip-dst $POP1_ADDR --count 300
forge --src $ANYCAST --sport 22 --to $REMOTE_ADDR:$REMOTE_PORT --ipip-src $GS_ADDR --ipip-dst $ANYCAST --count 300
eq "pop1 dropped all 900 as return_spoofed" "$(( $(counter pop1 return_spoofed) - s1 ))" 900
lab route remote pop2 >/dev/null 2>&1
forge --src $ANYCAST --sport 22 --to $REMOTE_ADDR:$REMOTE_PORT --ipip-src $GS_ADDR --ipip-dst $POP2_ADDR --count 300
eq "pop2 dropped all 300 sent to its public address as return_spoofed" "$(( $(counter pop2 return_spoofed) - s2 ))" 300
# pop2's backend address and the game machine are inside the backbone: the
# border does not route there from the Internet.
sp2=$(counter pop2 return_spoofed); rp2=$(counter pop2 return_path)
forge --src $ANYCAST --sport 22 --to $REMOTE_ADDR:$REMOTE_PORT --ipip-src $GS_ADDR --ipip-dst $POP2_BACKEND --count 300
forge --src 198.51.100.99 --sport 4444 --to $ANYCAST:$GAME_PORT --ipip-src $POP1_ADDR --ipip-dst $GS_ADDR --count 300
sleep 0.3
eq "nothing reached pop2's backend address from outside" "$(counter pop2 return_spoofed)" "$sp2"
check "the game server never saw the forged inner source" bash -c "! grep -qx 'peer 198.51.100.99' '$STATE/gs-count'"
eq "the victim (remote) received nothing relayed" "$(remote_packets)" "$rm0"
eq "no punch for port 22 at pop1, pop2 or in Redis" "$(punches_on 22)" 0
lab route remote pop1 >/dev/null 2>&1
wait $p1 $p2
eq "c1 lost nothing through pop1 meanwhile" "$(jq -r .lost "$STATE/c1-play.json")" 0
eq "c2 lost nothing through pop2 meanwhile" "$(jq -r .lost "$STATE/c2-play.json")" 0

begin "the real return path and real punches keep working"
hit0=$(counter pop1 punch_hit)
read -r s r l <<<"$(udp_probe gs --from $ANYCAST:40500 --to $REMOTE_ADDR:$REMOTE_PORT --count 50 --interval-ms 2)"
eq "the game server's flow to the remote gets every reply" "$r" 50
ge "through the punch" "$(( $(counter pop1 punch_hit) - hit0 ))" 50
sleep 0.2
eq "the punch is at pop1, at pop2 and in Redis" "$(punches_on 40500)" 3

begin "the game machine refuses IPIP it cannot have come from a POP for"
# From inside the backbone (the Redis host), a POP's source, an inner
# destination the machine does not serve: dropped, and no client recorded.
sp=$(in_ns gs "$BIN/bifrost-gs" status --iface gs-eth0 --json | jq -r '.counters.spoofed.packets')
in_ns redis "$BIN/bf-netprobe" forge --dev rd-eth0 --src 198.51.100.97 --sport 5 --to 203.0.113.77:$GAME_PORT --ipip-src $POP1_ADDR --ipip-dst $GS_ADDR --count 100 >/dev/null
sleep 0.2
eq "the game machine dropped all 100 as spoofed" "$(( $(in_ns gs "$BIN/bifrost-gs" status --iface gs-eth0 --json | jq -r '.counters.spoofed.packets') - sp ))" 100
check "and recorded no client for them" bash -c "! '$LAB' exec gs '$BIN/bifrost-gs' status --iface gs-eth0 --json | jq -e '.clients[] | select(.client==\"198.51.100.97\")' >/dev/null"

begin "a spoofed flood of c2's address at pop1 leaves c2 playing through pop2"
ctl conn add udp $ANYCAST:$GAME_PORT $GS_ADDR --limits "pps 1000 burst 100ms block 10s" >/dev/null
ctl conn add tcp $ANYCAST:$GAME_PORT $GS_ADDR >/dev/null
check "both edges applied the limit" applied
in_ns c2 "$BIN/bf-netprobe" udp --to $ANYCAST:$GAME_PORT --count 200 --interval-ms 10 --timeout-ms 1000 --json >"$STATE/c2-play.json" &
p2=$!
sleep 0.3
b0=$(counter pop1 blocklist)
forge --src $C2_ADDR --sport 40000 --to $ANYCAST:$GAME_PORT --count 5000
sleep 0.3
check "pop1 blocked c2's address (a local ban)" bash -c "'$LAB' exec pop1 '$BIN/bifrost-edge' -c '$STATE/pop1.conf' --dump blocklist --json | grep -q '\"$C2_ADDR\"'"
ge "and dropped the rest of the forged flood" "$(( $(counter pop1 blocklist) - b0 ))" 4000
eq "pop2 holds no ban for c2" "$(dump pop2 blacklist | grep -c "\"$C2_ADDR/32\"")" 0
eq "nothing was published to Redis" "$(rcli ZSCORE bifrost:bl:pop1 $C2_ADDR/32)" ""
wait $p2
eq "c2 lost nothing through pop2" "$(jq -r .lost "$STATE/c2-play.json")" 0

begin "a protected source over its limit is policed, never banned"
ctl protect add $C1_ADDR/32 >/dev/null
check "both edges applied it" applied
rl0=$(counter pop1 ratelimit)
out=$(in_ns c1 "$BIN/bf-netprobe" udp --to $ANYCAST:$GAME_PORT --count 5000 --interval-ms 0 --timeout-ms 300 --json)
got=$(jq -r .received <<<"$out")
echo "     5000 back to back at a 1000 pps limit: $got answered"
check "most of the excess was dropped (policed: $got of 5000)" test "$got" -lt 2500
ge "counted as ratelimit at pop1" "$(( $(counter pop1 ratelimit) - rl0 ))" 2500
eq "c1 is in no blocklist" "$(dump pop1 blocklist | grep -c "\"$C1_ADDR\"")" 0
eq "and banned nowhere" "$(rcli ZSCORE bifrost:bl:pop1 $C1_ADDR/32)" ""
sleep 1.2
read -r s r l <<<"$(udp_probe c1 --to $ANYCAST:$GAME_PORT --count 20 --interval-ms 5)"
eq "c1 plays on right after" "$r" 20
ctl protect del $C1_ADDR/32 >/dev/null

begin "checksums: nothing the receiver would refuse is forwarded or answered"
mac=$(in_ns pop1 ip -o link show p1-up | grep -o 'link/ether [0-9a-f:]*' | cut -d' ' -f2)
bc0=$(counter pop1 bad_csum); f0=$(counter pop1 forward)
in_ns router "$BIN/bf-netprobe" forge --dev r-pop1 --dmac "$mac" --src 198.51.100.96 --to $ANYCAST:$GAME_PORT --bad-ip-csum --count 50 >/dev/null
eq "a bad IPv4 header checksum is dropped (bad_csum)" "$(( $(counter pop1 bad_csum) - bc0 ))" 50
eq "none forwarded" "$(counter pop1 forward)" "$f0"
check "the game server never saw them" bash -c "! grep -qx 'peer 198.51.100.96' '$STATE/gs-count'"
e0=$(counter pop1 icmp_echo); bc0=$(counter pop1 bad_csum)
forge --src 198.51.100.95 --to $ANYCAST --proto icmp --bad-l4-csum --count 5
eq "an echo request with a bad ICMP checksum gets no reply (bad_csum)" "$(( $(counter pop1 bad_csum) - bc0 ))" 5
eq "no echo answered" "$(counter pop1 icmp_echo)" "$e0"

begin "no amplification: a bare W to a Source server never reaches it"
ctl conn add udp $ANYCAST:$GAME_PORT $GS_ADDR --a2s --limits "pps 1000 burst 100ms block 10s" >/dev/null
check "both edges applied it" applied
w0=$(awk -F'getchallenge=' '/^a2s_queries/ {split($2, a, " "); print a[1]}' "$STATE/gs-count")
a0=$(counter pop1 amplifier)
# Forged from a victim's address: the game server's 9-byte answer would go there.
forge --src 198.51.100.94 --sport 27005 --to $ANYCAST:$GAME_PORT --payload ffffffff57 --count 20
sleep 0.3
eq "pop1 dropped all 20 (amplifier)" "$(( $(counter pop1 amplifier) - a0 ))" 20
eq "the game server got no W" "$(awk -F'getchallenge=' '/^a2s_queries/ {split($2, a, " "); print a[1]}' "$STATE/gs-count")" "$w0"

summary
