#!/usr/bin/env bash
# live.sh - live traffic on veth: a live-frames XDP sender in one namespace,
# the receiver in another running (a) bare XDP_DROP, (b) Bifrost's edge
# program on its default-drop path, (c) nftables dropping at netdev ingress.
# Prints one JSON line per receiver with the packets it handled per second.
# Bounded: COUNT frames per run, ROUNDS runs per receiver.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$ROOT/build/bin
COUNT=${COUNT:-20000000}
ROUNDS=${ROUNDS:-3}
S=bfb-send
R=bfb-recv

. "$ROOT/tools/bench/veth.sh"
trap 'bench_pair_down $S $R bfb-r0' EXIT
bench_pair $S $R bfb-s0 bfb-r0 1
nsenter --net=/run/netns/$R sysctl -qw net.ipv4.conf.all.forwarding=1 net.ipv4.conf.bfb-r0.forwarding=1
# Sender and receiver share CPU 0: veth runs the receiver's NAPI in the
# sender's softirq, so the rate is 1 / (sender cost + receiver cost). (A
# threaded NAPI on the other core measures page-pool lock contention between
# the cores instead of the programs.)
pin_napi() { :; }

xdp_rx() { # packets the receiver's XDP program handled (veth's own counters)
	nsenter --net=/run/netns/$R ethtool -S bfb-r0 | awk -F: '/rx_queue_0_xdp_packets/ {gsub(/ /,"",$2); print $2}'
}

DST=203.0.113.99
send() {
	nsenter --net=/run/netns/$S taskset -c 0 "$BIN/bf-bench" send bfb-s0 "$COUNT" 198.51.100.77 $DST | jq -r .seconds
}

measure() { # NAME COUNTER-CMD
	local name=$1 counter=$2 best=0
	for _ in $(seq "$ROUNDS"); do
		local a b secs pps
		a=$($counter)
		secs=$(send)
		sleep 0.2
		b=$($counter)
		pps=$(awk -v d=$((b - a)) -v s="$secs" 'BEGIN { printf "%.0f", d / s }')
		echo "  $name: handled $((b - a)) of $COUNT in ${secs}s" >&2
		[ "$pps" -gt "$best" ] && best=$pps
	done
	echo "{\"receiver\":\"$name\",\"pps\":$best}"
}

# (a) bare XDP_DROP
ip -n $R link set dev bfb-r0 xdpdrv obj "$ROOT/build/bpf/bench.bpf.o" program bench_drop
pin_napi
measure xdp_drop xdp_rx
ip -n $R link set dev bfb-r0 xdpdrv off

# (b) Bifrost: the frames match nothing, so they take the full default-drop path.
cat >/tmp/bfb-edge.conf <<CONF
id bench
iface bfb-r0
addr 198.18.0.1
conn udp 203.0.113.10:27016 198.18.3.2
blacklist 198.19.1.0/24
whitelist 198.51.100.128/28
CONF
bench_edge $R /tmp/bfb-edge.conf /tmp/bfb-edge.log
bifrost_rx() { nsenter --net=/run/netns/$R "$BIN/bifrost-edge" -i bfb-r0 --stats --json | jq .default_drop.packets; }
pin_napi
# junk at an address this POP does not serve
measure bifrost_drop_unserved_addr bifrost_rx
# junk at the anycast address, a port nothing opens: dropped after the whitelist
DST=203.0.113.10
measure bifrost_drop_closed_port bifrost_rx
# the same flood with N firewall rules, each on a UDP port of its own (30000 + i), none
# the flood's (27015): they open only their own ports
for n in ${RULE_COUNTS:-10 100 1000}; do
	{ cat /tmp/bfb-edge.conf; for i in $(seq "$n"); do
		echo "rule $i action drop proto udp dport $((30000 + i))"; done; } >/tmp/bfb-edge-rules.conf
	bench_edge $R /tmp/bfb-edge-rules.conf /tmp/bfb-edge.log
	measure "bifrost_closed_port_${n}_port_rules" bifrost_rx
done
# junk at a game port whose connection validates (validate srcds), from a source that
# did no handshake: dropped as unvalidated before any limit state is made
DST=203.0.113.10
{ cat /tmp/bfb-edge.conf; echo "conn udp 203.0.113.10:27015 198.18.3.2 validate srcds"; } >/tmp/bfb-edge-valid.conf
# A connection's packets must be addressed to the interface's MAC (the sender's frames go to
# 02:02:02:02:02:02): the edge learns the MAC at start, so it is set first, and put back.
mac=$(ip -n $R -j link show dev bfb-r0 | jq -r '.[0].address')
ip -n $R link set dev bfb-r0 address 02:02:02:02:02:02
bench_edge $R /tmp/bfb-edge-valid.conf /tmp/bfb-edge.log
bifrost_unval() { nsenter --net=/run/netns/$R "$BIN/bifrost-edge" -i bfb-r0 --stats --json | jq .unvalidated.packets; }
measure bifrost_drop_unvalidated bifrost_unval
ip -n $R link set dev bfb-r0 address "$mac"
DST=203.0.113.99
nsenter --net=/run/netns/$R "$BIN/bifrost-edge" -c /tmp/bfb-edge.conf --detach >/dev/null 2>&1

# (c) nftables: the frames enter the stack (GRO on the veth lets XDP_TX'd
# frames in without a program) and are dropped at netdev ingress.
nsenter --net=/run/netns/$R ethtool -K bfb-r0 gro on >/dev/null
nsenter --net=/run/netns/$R nft -f - <<NFT
table netdev bfb {
	chain in {
		type filter hook ingress device "bfb-r0" priority -500;
		ip daddr 203.0.113.99 counter drop
	}
}
NFT
nft_rx() { nsenter --net=/run/netns/$R nft -j list table netdev bfb | jq '[.nftables[] | select(.rule) | .rule.expr[] | select(.counter) | .counter.packets] | add'; }
pin_napi
measure nftables_drop nft_rx
# nftables with the same N port rules as a set (its fastest form), then the same drop
for n in ${RULE_COUNTS:-10 100 1000}; do
	nsenter --net=/run/netns/$R nft delete table netdev bfb
	{ echo "table netdev bfb {"
	  echo "	set ports { type inet_service; elements = { $(seq -s, 30001 $((30000 + n))) } }"
	  echo "	chain in {"
	  echo "		type filter hook ingress device \"bfb-r0\" priority -500;"
	  echo "		udp dport @ports drop"
	  echo "		ip daddr 203.0.113.99 counter drop"
	  echo "	}"
	  echo "}"; } | nsenter --net=/run/netns/$R nft -f -
	measure "nftables_${n}_port_set" nft_rx
done
