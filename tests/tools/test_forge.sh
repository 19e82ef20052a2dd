#!/bin/bash
# test_forge.sh - bf-netprobe forge in a private network namespace (fg-<pid>, removed on exit):
# frames sent on one end of a veth pair are captured on the other by forge_capture and
# checked field by field: addresses, checksums right unless asked wrong, IPIP, VLAN and QinQ
# tags, the destination MAC from the route and neighbour tables, pacing, the time bound,
# bad usage. Needs root and jq.
set -u
. "$(dirname "$0")/../lib.sh" test_forge
CAPTURE=${CAPTURE:-$ROOT/build/tests/forge_capture}
NS=fg-$$
CAPPID=
need_root "it makes a network namespace"
need_tools jq
need_bins bf-netprobe "$CAPTURE"
on_exit '[ -n "$CAPPID" ] && kill "$CAPPID" && wait "$CAPPID"'
on_exit ip netns del "$NS"

in_ns() { ip netns exec "$NS" "$@"; }
ip netns add "$NS" || { echo "test_forge: cannot create namespace $NS" >&2; exit 1; }
# No IPv6: its router solicitations would only be noise on the wire (the capture skips
# non-IPv4 frames anyway).
in_ns sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
in_ns ip link add fa type veth peer name fb
in_ns ip link set fa up
in_ns ip link set fb up
in_ns ip addr add 192.0.2.1/24 dev fa
# A resolved gateway, an unresolved one, and nothing for the rest of 192.0.2.0/24.
in_ns ip route add 198.51.100.0/24 via 192.0.2.254 dev fa
in_ns ip route add 203.0.113.0/24 via 192.0.2.253 dev fa
in_ns ip neigh add 192.0.2.254 lladdr 02:00:00:00:00:fe dev fa nud permanent
GW_MAC=02:00:00:00:00:fe
FA_MAC=$(in_ns cat /sys/class/net/fa/address)

forge() { in_ns "$BIN/bf-netprobe" forge --dev fa "$@"; }

# capture N FORGE-ARGS...: runs forge while capturing N frames on fb. Sets $out and $rc
# (forge's), the frames' JSON lines are in $TMP/cap.
capture() {
	local n=$1; shift
	rm -f "$TMP/ready" "$TMP/cap"
	ip netns exec "$NS" "$CAPTURE" --dev fb --count "$n" --timeout-ms 3000 --ready "$TMP/ready" \
		>"$TMP/cap" 2>"$TMP/cap.err" &
	CAPPID=$!
	for _ in $(seq 150); do [ -e "$TMP/ready" ] && break; sleep 0.02; done
	out=$(forge "$@" 2>"$TMP/forge.err")
	rc=$?
	wait "$CAPPID"
	CAPPID=
	[ -s "$TMP/forge.err" ] && sed 's/^/# forge: /' "$TMP/forge.err"
}
# first JQ: JQ over the first captured frame, compact.
first() { head -1 "$TMP/cap" | jq -c "$1"; }

echo "# UDP: exact payload, destination MAC from the gateway's neighbour entry"
capture 1 --src 203.0.113.5 --to 198.51.100.7:27015 --payload ffffffff54
eq "exit 0, sent=1" "$rc $out" "0 sent=1"
eq "MACs: the gateway's, fa's own" "$(first '[.dmac,.smac]')" "[\"$GW_MAC\",\"$FA_MAC\"]"
eq "no tags" "$(first .tags)" '""'
eq "IPv4: forged source, destination, udp, checksum ok" \
	"$(first '.ip|map([.src,.dst,.proto,.ttl,.df,.csum])')" \
	'[["203.0.113.5","198.51.100.7",17,64,true,"ok"]]'
eq "UDP: ports, length, checksum ok" "$(first '.l4|[.sport,.dport,.ulen,.csum]')" '[40000,27015,13,"ok"]'
eq "payload exact" "$(first .payload)" '"ffffffff54"'
eq "frame length" "$(first .len)" 47

echo "# --size, --sport, --dmac, --json"
capture 1 --src 10.1.2.3 --to 198.51.100.8:53 --sport 0 --size 40 --dmac 0a:0b:0c:0d:0e:0f --json
eq "exit 0" "$rc" 0
eq "json: sent, bytes" "$(jq -c '[.sent,.bytes]' <<<"$out")" '[1,82]'
check "json: seconds" jq -e '.seconds >= 0' <<<"$out" >/dev/null
eq "--dmac used as given" "$(first .dmac)" '"0a:0b:0c:0d:0e:0f"'
eq "source port 0 forged" "$(first .l4.sport)" 0
eq "40 pattern bytes" "$(first '.payload|length')" 80
check "pattern is abc..z" [ "$(first .payload)" = "\"$(printf abcdefghijklmnopqrstuvwxyzabcdefghijklmn | od -An -tx1 | tr -d ' \n')\"" ]
eq "checksums ok" "$(first '[.ip[0].csum,.l4.csum]')" '["ok","ok"]'

echo "# wrong checksums on request"
capture 1 --src 203.0.113.5 --to 198.51.100.7:27015 --bad-ip-csum
eq "--bad-ip-csum: IPv4 bad, UDP ok" "$(first '[.ip[0].csum,.l4.csum]')" '["bad","ok"]'
capture 1 --src 203.0.113.5 --to 198.51.100.7:27015 --bad-l4-csum
eq "--bad-l4-csum: IPv4 ok, UDP bad (not 0, 'no checksum')" "$(first '[.ip[0].csum,.l4.csum]')" '["ok","bad"]'
capture 1 --src 203.0.113.5 --to 198.51.100.7:27015 --bad-ip-csum --bad-l4-csum
eq "both: both bad" "$(first '[.ip[0].csum,.l4.csum]')" '["bad","bad"]'

echo "# TCP"
capture 1 --src 203.0.113.6 --to 198.51.100.7:443 --proto tcp
eq "default flags S, checksums ok" "$(first '[.ip[0].proto,.l4.flags,.l4.sport,.l4.dport,.ip[0].csum,.l4.csum]')" \
	'[6,"S",40000,443,"ok","ok"]'
capture 1 --src 203.0.113.6 --to 198.51.100.7:443 --proto tcp --tcp-flags SA --bad-l4-csum
eq "--tcp-flags SA --bad-l4-csum" "$(first '[.l4.flags,.ip[0].csum,.l4.csum]')" '["SA","ok","bad"]'
capture 1 --src 203.0.113.6 --to 198.51.100.7:443 --proto tcp --tcp-flags none
eq "--tcp-flags none, checksum still ok" "$(first '[.l4.flags,.l4.csum]')" '["none","ok"]'
capture 1 --src 203.0.113.6 --to 198.51.100.7:443 --proto tcp --tcp-flags FSRPAUEC --size 0
eq "every flag, no payload" "$(first '[.l4.flags,.l4.csum,.payload]')" '["FSRPAUEC","ok",""]'

echo "# ICMP echo requests"
capture 3 --src 203.0.113.7 --to 198.51.100.9 --proto icmp --count 3
eq "exit 0, sent=3" "$rc $out" "0 sent=3"
eq "type 8, id 1, sequence 1..3, checksums ok" \
	"$(jq -s -c 'map([.l4.type,.l4.code,.l4.id,.l4.seq,.l4.csum,.ip[0].csum])' "$TMP/cap")" \
	'[[8,0,1,1,"ok","ok"],[8,0,1,2,"ok","ok"],[8,0,1,3,"ok","ok"]]'
capture 1 --src 203.0.113.7 --to 198.51.100.9 --proto icmp --sport 4242 --bad-l4-csum
eq "--sport is the id; --bad-l4-csum" "$(first '[.l4.id,.l4.csum,.ip[0].csum]')" '[4242,"bad","ok"]'

echo "# IPIP"
# The inner destination's gateway is unresolved: the MAC must come from the outer one's.
capture 1 --src 198.18.0.9 --to 203.0.113.50:27015 --ipip-src 192.0.2.1 --ipip-dst 198.51.100.77
eq "exit 0 (MAC from the outer destination's route)" "$rc" 0
eq "outer: addresses, protocol 4, checksum ok; inner: udp, checksum ok" \
	"$(first '.ip|map([.src,.dst,.proto,.csum])')" \
	'[["192.0.2.1","198.51.100.77",4,"ok"],["198.18.0.9","203.0.113.50",17,"ok"]]'
eq "outer length = 20 + inner" "$(first '[.ip[0].len - .ip[1].len]')" '[20]'
eq "inner UDP ok, MAC the gateway's" "$(first '[.l4.csum,.dmac]')" "[\"ok\",\"$GW_MAC\"]"
capture 1 --src 198.18.0.9 --to 203.0.113.50:27015 --ipip-src 192.0.2.1 --ipip-dst 198.51.100.77 \
	--bad-ip-csum
eq "--bad-ip-csum: the outer header's" "$(first '[.ip[0].csum,.ip[1].csum,.l4.csum]')" '["bad","ok","ok"]'
capture 1 --src 198.18.0.9 --to 203.0.113.50:80 --ipip-src 192.0.2.1 --ipip-dst 198.51.100.77 \
	--proto tcp --bad-l4-csum
eq "--bad-l4-csum: the inner TCP's" "$(first '[.ip[0].csum,.ip[1].csum,.l4.csum]')" '["ok","ok","bad"]'

echo "# VLAN and QinQ"
capture 1 --src 203.0.113.5 --to 198.51.100.7:27015 --vlan 100
eq "--vlan 100: one 802.1Q tag" "$(first '[.tags,.ip[0].csum,.l4.csum,.len]')" '["8100/100","ok","ok",78]'
capture 1 --src 203.0.113.5 --to 198.51.100.7 --proto icmp --qinq 10,4095
eq "--qinq 10,4095: 802.1ad then 802.1Q" "$(first '[.tags,.ip[0].csum,.l4.csum]')" '["88a8/10,8100/4095","ok","ok"]'
capture 1 --src 203.0.113.5 --to 198.51.100.7:27015 --qinq 1,2 --ipip-src 192.0.2.1 \
	--ipip-dst 198.51.100.1 --proto tcp --size 1400
eq "the largest frame: QinQ, IPIP, TCP, 1400 bytes" \
	"$(first '[.len,.tags,(.ip|map(.csum)),.l4.csum,(.payload|length)]')" \
	'[1482,"88a8/1,8100/2",["ok","ok"],"ok",2800]'

echo "# counts and pacing"
capture 500 --src 203.0.113.5 --to 198.51.100.7:27015 --count 500 --json
eq "500 as fast as possible: all sent" "$(jq -c '[.sent,.bytes]' <<<"$out")" '[500,37000]'
eq "500 captured, IP IDs 1..500" "$(jq -s -c '[length,(map(.ip[0].id)|sort|.[0],.[-1]),(map(.ip[0].id)|unique|length)]' "$TMP/cap")" \
	'[500,1,500,500]'
out=$(forge --src 203.0.113.5 --to 198.51.100.7:27015 --count 21 --pps 100 --json)
eq "--pps 100 --count 21: exit 0" "$?" 0
check "--pps 100: 21 frames take about 0.2 s ($(jq .seconds <<<"$out") s)" \
	jq -e '.sent == 21 and .seconds >= 0.19 and .seconds < 1' <<<"$out" >/dev/null
# Not through in_ns: a function sent to the background is a subshell, and $! not the tool's
# pid (ip netns exec execs the command, so its pid is).
ip netns exec "$NS" "$BIN/bf-netprobe" forge --dev fa --src 203.0.113.5 --to 198.51.100.7:27015 \
	--count 1000 --pps 20 >"$TMP/term.out" 2>"$TMP/term.err" &
pid=$!
sleep 0.5
kill -TERM "$pid"
wait "$pid"
eq "SIGTERM stops a paced run: exit 1" "$?" 1
check "... having sent some, not all ($(cat "$TMP/term.out"))" \
	grep -Eq '^sent=([1-9]|1[0-9])$' "$TMP/term.out"
check "... and says why" grep -q "stopped by signal" "$TMP/term.err"

echo "# refusals (exit 2)"
usage() {
	local what=$1 pattern=$2; shift 2
	forge "$@" >/dev/null 2>"$TMP/usage.err"
	local r=$?
	if [ "$r" = 2 ] && grep -q -- "$pattern" "$TMP/usage.err"; then ok "$what"
	else bad "$what (exit $r: $(head -1 "$TMP/usage.err"))"; fi
}
usage "a name for --src" "never resolved" --src localhost --to 198.51.100.7:1
usage "a name for --to" "never resolved" --src 1.2.3.4 --to example.com:1
usage "a name for --ipip-dst" "never resolved" --src 1.2.3.4 --to 198.51.100.7:1 \
	--ipip-src 1.2.3.4 --ipip-dst gw.example
usage "udp without a port" "needs a :PORT" --src 1.2.3.4 --to 198.51.100.7
usage "icmp with a port" "no :PORT" --src 1.2.3.4 --to 198.51.100.7:1 --proto icmp
usage "odd hex payload" "hex digits" --src 1.2.3.4 --to 198.51.100.7:1 --payload abc
usage "payload above 1400" "1400" --src 1.2.3.4 --to 198.51.100.7:1 --payload "$(printf 'ab%.0s' $(seq 1401))"
usage "--size 1401" "bad value" --src 1.2.3.4 --to 198.51.100.7:1 --size 1401
usage "--payload with --size" "exclude" --src 1.2.3.4 --to 198.51.100.7:1 --payload ab --size 1
usage "--vlan with --qinq" "one of" --src 1.2.3.4 --to 198.51.100.7:1 --vlan 1 --qinq 2,3
usage "--vlan 4096" "bad value" --src 1.2.3.4 --to 198.51.100.7:1 --vlan 4096
usage "--ipip-src alone" "go together" --src 1.2.3.4 --to 198.51.100.7:1 --ipip-src 1.2.3.4
usage "--tcp-flags with udp" "needs --proto tcp" --src 1.2.3.4 --to 198.51.100.7:1 --tcp-flags S
usage "bad tcp flag" "bad value" --src 1.2.3.4 --to 198.51.100.7:1 --proto tcp --tcp-flags SX
usage "--count 0" "bad value" --src 1.2.3.4 --to 198.51.100.7:1 --count 0
usage "--count above 10000000" "bad value" --src 1.2.3.4 --to 198.51.100.7:1 --count 10000001
usage "longer than 60 s at --pps" "60 s" --src 1.2.3.4 --to 198.51.100.7:1 --count 700 --pps 10
usage "unresolved gateway" "ping 192.0.2.253" --src 1.2.3.4 --to 203.0.113.9:1
usage "unresolved on-link destination" "pass --dmac" --src 1.2.3.4 --to 192.0.2.77:1
in_ns "$BIN/bf-netprobe" forge --dev nope0 --src 1.2.3.4 --to 198.51.100.7:1 2>/dev/null
eq "unknown --dev: exit 2" "$?" 2
in_ns "$BIN/bf-netprobe" forge --src 1.2.3.4 --to 198.51.100.7:1 2>/dev/null
eq "no --dev: exit 2" "$?" 2
check "forge --help says where it may be used" \
	bash -c "'$BIN/bf-netprobe' forge --help | grep -q 'use only on networks you own'"
check "bf-netprobe --help lists forge" bash -c "'$BIN/bf-netprobe' --help | grep -q ' forge --dev'"

summary
