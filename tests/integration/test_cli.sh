#!/usr/bin/env bash
# test_cli.sh - what an operator sees when something is wrong: bad flags, bad
# config lines, a missing interface, missing privilege; and --check/--help.
set -u
. "$(dirname "$0")/lib.sh"
E="$BIN/bifrost-edge"

run() { # run CMD...: sets OUT (stdout+stderr) and RC
	OUT=$("$@" 2>&1)
	RC=$?
}

begin "flags and config errors"
run "$E" --bogus
eq "unknown flag exits 2" "$RC" 2
check "unknown flag prints usage" grep -q "Usage: bifrost-edge" <<<"$OUT"
run "$E" --help
eq "--help exits 0" "$RC" 0
check "--help documents --detach" grep -q -- "--detach" <<<"$OUT"
printf 'id pop9\niface lo\naddr 192.0.2.99\nconn udp 203.0.113.10:27015 198.18.3.2\nblacklist 198.51.100.7/24\n' >"$TMP/bad.conf"
run "$E" -c "$TMP/bad.conf"
eq "bad config line exits 2" "$RC" 2
check "the error names file and line ($OUT)" grep -q "$TMP/bad.conf:5: bad CIDR '198.51.100.7/24'" <<<"$OUT"
run "$E" -c "$TMP/missing.conf"
eq "missing config file exits 2" "$RC" 2
check "says it cannot open it" grep -q "cannot open" <<<"$OUT"
run "$E" --id pop9 --addr 192.0.2.99
check "no interface is named ($OUT)" grep -q "no interface" <<<"$OUT"
run "$E" --id pop9 --iface lo --addr 192.0.2.999
check "a bad --addr is named ($OUT)" grep -q "bad address '192.0.2.999'" <<<"$OUT"
sed -i '$d' "$TMP/bad.conf"
run "$E" -c "$TMP/bad.conf" --check --json
eq "--check on a good file exits 0" "$RC" 0
eq "--check --json counts the connections" "$(jq -r .conns <<<"$OUT")" 1

begin "environment errors"
run in_ns pop2 "$E" --id pop9 --iface nosuch0 --addr 192.0.2.99
eq "missing interface exits 1" "$RC" 1
check "missing interface is named ($OUT)" grep -q "interface 'nosuch0' does not exist" <<<"$OUT"
run in_ns pop2 setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all --bounding-set=-all \
	"$E" --id pop9 --iface p2-up --addr 192.0.2.99
eq "without privilege exits 1" "$RC" 1
check "says what privilege is missing ($OUT)" grep -q "missing privilege" <<<"$OUT"
run in_ns pop2 sysctl -qw net.ipv4.conf.p2-up.forwarding=0
run in_ns pop2 "$E" --id pop9 --iface p2-up --addr 192.0.2.99
in_ns pop2 sysctl -qw net.ipv4.conf.p2-up.forwarding=1
check "forwarding off is refused with the fix ($OUT)" grep -q "sysctl -w net.ipv4.conf.p2-up.forwarding=1" <<<"$OUT"
run in_ns pop2 "$E" --iface p2-up --stats --json
eq "--stats of the running edge exits 0" "$RC" 0
check "--stats --json has every reason" bash -c "jq -e 'has(\"default_drop\") and has(\"punch_new\")' <<<'$OUT' >/dev/null"
run "$E" --iface nosuch0 --stats
eq "--stats without a running edge exits 1" "$RC" 1
check "and says which pins are missing" grep -q "cannot open /sys/fs/bpf/bifrost/nosuch0" <<<"$OUT"

begin "a foreign XDP program is left alone"
in_ns c1 ip link set dev c1-eth0 xdpdrv obj "$ROOT/build/bpf/xdp_pass.bpf.o" sec xdp
in_ns c1 sysctl -qw net.ipv4.conf.c1-eth0.forwarding=1
run in_ns c1 "$E" --id c1 --iface c1-eth0 --addr $C1_ADDR
eq "refuses to replace it" "$RC" 1
check "names the program ($OUT)" grep -q "another XDP program ('xdp_pass'" <<<"$OUT"
check "the foreign program is still attached" bash -c "'$LAB' exec c1 ip link show c1-eth0 | grep -q prog/xdp"
check "the failed first start left no pins behind" test ! -e /sys/fs/bpf/bifrost/c1-eth0

begin "map sizes from the config: a pinned map keeps its size until --detach"
check "pop2 said what its maps cost at start" grep -q "maps: [0-9.]* MiB of kernel memory (largest: " \
	"$STATE/edge-pop2.log"
pinned_entries() { bpftool -j map show pinned /sys/fs/bpf/bifrost/p2-up/bf_punches | jq -r .max_entries; }
eq "bf_punches at its default size" "$(pinned_entries)" 262144
lab edge-kill pop2
cp "$STATE/pop2.conf" "$TMP/pop2.conf.orig"
echo "map_entries punches 4096" >>"$STATE/pop2.conf"
run in_ns pop2 "$E" -c "$STATE/pop2.conf"
eq "a size the pinned map does not have is refused" "$RC" 1
check "with what to do ($OUT)" grep -q "bf_punches is pinned with 262144 entries and the config asks for 4096 (map_entries punches).*--detach" <<<"$OUT"
in_ns pop2 "$E" -c "$STATE/pop2.conf" --detach >/dev/null 2>&1
lab edge-start pop2
eq "after --detach the map is made at the configured size" "$(pinned_entries)" 4096
run "$E" -c "$STATE/pop2.conf" --check
eq "--check takes map_entries" "$RC" 0
printf 'id p\niface lo\naddr 192.0.2.9\nmap_entries punch 4096\n' >"$TMP/m.conf"
run "$E" -c "$TMP/m.conf" --check
check "a wrong map name is named ($OUT)" grep -q "map_entries: no map 'punch' (punches, ratelimit" <<<"$OUT"
printf 'id p\niface lo\naddr 192.0.2.9\nmap_entries blacklist 10\n' >"$TMP/m.conf"
run "$E" -c "$TMP/m.conf" --check
check "and a size out of range ($OUT)" grep -q "map_entries blacklist: bad '10' (1024 to 16777216" <<<"$OUT"
# Back as the other tests left it.
lab edge-kill pop2
cp "$TMP/pop2.conf.orig" "$STATE/pop2.conf"
in_ns pop2 "$E" -c "$STATE/pop2.conf" --detach >/dev/null 2>&1
lab edge-start pop2
eq "and back at its default" "$(pinned_entries)" 262144

begin "bifrost-gs usage"
run "$BIN/bifrost-gs" attach --iface gs-eth0
eq "attach without --machine exits 2" "$RC" 2
check "says what attach needs" grep -q "attach needs --iface, --machine" <<<"$OUT"
run "$BIN/bifrost-gs" attach --pop 1.2.3
eq "bad --pop exits 2" "$RC" 2

summary
