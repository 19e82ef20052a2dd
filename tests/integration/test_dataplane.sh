#!/usr/bin/env bash
# test_dataplane.sh - the edge data plane on real veths in the lab: forwarding
# through each POP and back, real client addresses, lists, expiry, punches,
# and a SIGKILLed edge that loses no packet.
set -u
. "$(dirname "$0")/lib.sh"

begin "udp through each POP"
p1_fwd=$(counter pop1 forward); p2_fwd=$(counter pop2 forward)
p1_ret=$(counter pop1 return_path); p2_ret=$(counter pop2 return_path)
read -r s r l <<<"$(udp_probe c1 --to $ANYCAST:$GAME_PORT --count 200 --interval-ms 1)"
eq "c1: all 200 echoed" "$r" 200
eq "c1 traffic did not touch pop2" "$(counter pop2 forward)" "$p2_fwd"
ge "pop1 forwarded c1's packets" "$(( $(counter pop1 forward) - p1_fwd ))" 200
ge "pop1 carried the replies back" "$(( $(counter pop1 return_path) - p1_ret ))" 200
p1_fwd=$(counter pop1 forward)
read -r s r l <<<"$(udp_probe c2 --to $ANYCAST:$GAME_PORT --count 200 --interval-ms 1)"
eq "c2: all 200 echoed" "$r" 200
eq "c2 traffic did not touch pop1" "$(counter pop1 forward)" "$p1_fwd"
ge "pop2 forwarded c2's packets" "$(( $(counter pop2 forward) - p2_fwd ))" 200
ge "pop2 carried the replies back" "$(( $(counter pop2 return_path) - p2_ret ))" 200

begin "the game server sees real client addresses"
eq "udp whoami from c1" "$(in_ns c1 "$BIN/bf-netprobe" udp --to $ANYCAST:$GAME_PORT --from $C1_ADDR:41000 --whoami)" "YOU $C1_ADDR:41000"
eq "udp whoami from c2" "$(in_ns c2 "$BIN/bf-netprobe" udp --to $ANYCAST:$GAME_PORT --from $C2_ADDR:41000 --whoami)" "YOU $C2_ADDR:41000"
got=$(in_ns c2 "$BIN/bf-netprobe" tcp --to $ANYCAST:$GAME_PORT --whoami)
check "tcp whoami from c2 shows $C2_ADDR ($got)" grep -q "^YOU $C2_ADDR:" <<<"$got"
check "bifrost-gs learned c1 -> pop1" bash -c "'$LAB' exec gs '$BIN/bifrost-gs' status --iface gs-eth0 --json | jq -e '.clients[] | select(.client==\"$C1_ADDR\" and .pop==\"$POP1_ADDR\")' >/dev/null"
check "bifrost-gs learned c2 -> pop2" bash -c "'$LAB' exec gs '$BIN/bifrost-gs' status --iface gs-eth0 --json | jq -e '.clients[] | select(.client==\"$C2_ADDR\" and .pop==\"$POP2_BACKEND\")' >/dev/null"

begin "tcp through each POP"
for c in c1 c2; do
	out=$(in_ns $c "$BIN/bf-netprobe" tcp --to $ANYCAST:$GAME_PORT --count 100 --json)
	eq "$c: 100 tcp lines echoed" "$(jq -r .received <<<"$out")" 100
done

begin "blacklist drops at the POP, whitelist wins"
echo "blacklist $C2_ADDR/32" >>"$STATE/pop2.conf"
lab edge-reload pop2; sleep 0.5
bl0=$(counter pop2 blacklist); gs0=$(gs_packets)
read -r s r l <<<"$(udp_probe c2 --to $ANYCAST:$GAME_PORT --count 50 --interval-ms 2 --timeout-ms 300)"
eq "blacklisted c2 gets no echo" "$r" 0
eq "pop2 blacklist counter rose by 50" "$(( $(counter pop2 blacklist) - bl0 ))" 50
sleep 0.2
eq "nothing from c2 reached the game server" "$(gs_packets)" "$gs0"
echo "whitelist $C2_ADDR/32" >>"$STATE/pop2.conf"
lab edge-reload pop2; sleep 0.5
wl0=$(counter pop2 whitelist)
read -r s r l <<<"$(udp_probe c2 --to $ANYCAST:$GAME_PORT --count 50 --interval-ms 1)"
eq "whitelisted c2 passes despite the blacklist" "$r" 50
ge "pop2 whitelist counter" "$(( $(counter pop2 whitelist) - wl0 ))" 50
sed -i "/^blacklist $C2_ADDR/d; /^whitelist $C2_ADDR/d" "$STATE/pop2.conf"
lab edge-reload pop2; sleep 0.5
eq "removed entries are gone from the map" "$(in_ns pop2 "$BIN/bifrost-edge" -c "$STATE/pop2.conf" --dump blacklist --json | wc -l)" 0

begin "a timed blacklist entry expires"
echo "blacklist $C1_ADDR/32 ttl 2s" >>"$STATE/pop1.conf"
lab edge-reload pop1; sleep 0.3
read -r s r l <<<"$(udp_probe c1 --to $ANYCAST:$GAME_PORT --count 10 --interval-ms 1 --timeout-ms 200)"
eq "c1 dropped while the entry lives" "$r" 0
sleep 2.2
read -r s r l <<<"$(udp_probe c1 --to $ANYCAST:$GAME_PORT --count 10 --interval-ms 1)"
eq "c1 passes after expiry" "$r" 10
sleep 1.2
eq "the sweeper removed the entry" "$(in_ns pop1 "$BIN/bifrost-edge" -c "$STATE/pop1.conf" --dump blacklist --json | wc -l)" 0
sed -i "/^blacklist $C1_ADDR/d" "$STATE/pop1.conf"
lab edge-reload pop1

begin "a flow opened by the game server punches a hole"
dd0=$(counter pop1 default_drop)
read -r s r l <<<"$(udp_probe remote --from $REMOTE_ADDR:5002 --to $ANYCAST:40000 --count 5 --interval-ms 1 --timeout-ms 200)"
eq "the remote cannot reach the anycast port before the punch" "$r" 0
ge "pop1 dropped it by default" "$(( $(counter pop1 default_drop) - dd0 ))" 5
lab route remote pop1
hit0=$(counter pop1 punch_hit)
read -r s r l <<<"$(udp_probe gs --from $ANYCAST:40000 --to $REMOTE_ADDR:$REMOTE_PORT --count 20 --interval-ms 2)"
eq "the game server's flow to the remote gets all replies" "$r" 20
ge "the replies entered through the punch" "$(( $(counter pop1 punch_hit) - hit0 ))" 20
check "pop1 lists the punch" bash -c "'$LAB' exec pop1 '$BIN/bifrost-edge' -c '$STATE/pop1.conf' --dump punches | grep -q 'udp $REMOTE_ADDR:$REMOTE_PORT $ANYCAST:40000 via $GS_ADDR'"
read -r s r l <<<"$(udp_probe remote --from $REMOTE_ADDR:5001 --to $ANYCAST:40000 --count 5 --interval-ms 1 --timeout-ms 200)"
eq "another remote port is still dropped" "$r" 0

begin "SIGKILL and restart of bifrost-edge during a flow"
in_ns c1 "$BIN/bf-netprobe" udp --to $ANYCAST:$GAME_PORT --count 3000 --interval-ms 1 --timeout-ms 1500 --json >"$STATE/restart-flow.json" &
flow=$!
sleep 0.8
old_pid=$(cat "$STATE/edge-pop1.pid")
lab edge-kill pop1 KILL
check "the old daemon is gone" bash -c "! kill -0 $old_pid 2>/dev/null"
check "pop1's XDP program stays attached with the daemon dead" bash -c "'$LAB' exec pop1 ip link show p1-up | grep -q 'prog/xdp'"
sleep 0.4
lab edge-start pop1
wait $flow
lost=$(jq -r .lost "$STATE/restart-flow.json")
echo "     restart during flow: sent $(jq -r .sent "$STATE/restart-flow.json"), lost $lost"
eq "no packet of the flow was lost" "$lost" 0
check "the restarted edge replaced the program in place" grep -q "replaced the running Bifrost program" "$STATE/edge-pop1.log"
read -r s r l <<<"$(udp_probe gs --from $ANYCAST:40000 --to $REMOTE_ADDR:$REMOTE_PORT --count 5 --interval-ms 2)"
eq "the punch survived the restart (pinned map)" "$r" 5

begin "detach removes everything"
lab edge-kill pop2
in_ns pop2 "$BIN/bifrost-edge" -c "$STATE/pop2.conf" --detach 2>/dev/null
check "no XDP program on p2-up" bash -c "! '$LAB' exec pop2 ip link show p2-up | grep -q 'prog/xdp'"
check "no pins for p2-up" test ! -e /sys/fs/bpf/bifrost/p2-up

summary
