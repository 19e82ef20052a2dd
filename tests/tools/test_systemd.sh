#!/bin/bash
# test_systemd.sh - what the systemd units rely on, checked without a systemd
# (CI machines run none): systemd-analyze verify of the units with their
# programs in place, and the notification protocol spoken to a real unix socket
# as systemd would listen on it (NOTIFY_SOCKET, WATCHDOG_USEC): bifrost-edge,
# `bifrost-gs run` and the refresher say READY=1, ping the watchdog at half its
# interval (and not at all when WATCHDOG_PID names another process), say
# RELOADING=1/READY=1 on SIGHUP and STOPPING=1 on SIGTERM, running with nothing
# but the unit's CapabilityBoundingSet (setpriv); after the stop the
# edge's and the game machine's programs are still attached (a unit restart loses
# no traffic); `bifrost-gs run` re-attaches a program someone removed.
# In a private network namespace (sd-<pid>, removed on exit). Needs root.
set -u
. "$(dirname "$0")/../lib.sh" test_systemd
LISTEN=${LISTEN:-$ROOT/build/tests/notify_listen}
UNITS=$ROOT/tools/deploy/systemd
NS=sd-$$
need_root "it makes a network namespace and attaches XDP"
need_tools systemd-analyze
need_bins bifrost-edge bifrost-gs bifrost-a2s-refresher bifrost-flowspec "$LISTEN"
# nsenter execs the program: a background job's $! is the daemon itself.
in_ns() { nsenter --net="/run/netns/$NS" "$@"; }
on_exit ip netns del "$NS"
on_exit "in_ns $BIN/bifrost-edge -c $TMP/edge.conf --detach"
on_exit "in_ns $BIN/bifrost-gs detach --iface sg"

# ---- the units ----
begin "units"
# Verified as installed: the programs where the units name them (a private root
# under $TMP), the config files they read present.
mkdir -p "$TMP/root/usr/sbin" "$TMP/root/etc/bifrost" "$TMP/root/etc/systemd/system"
for b in bifrost-edge bifrost-gs bifrost-a2s-refresher bifrost-flowspec; do cp "$BIN/$b" "$TMP/root/usr/sbin/"; done
cp "$ROOT"/tools/deploy/{edge.conf,gs.env,refresher.env,flowspec.conf,gobgpd.toml} "$TMP/root/etc/bifrost/"
echo "user refresher" >"$TMP/root/etc/bifrost/refresher.auth"
for u in "$UNITS"/*.service; do
	# Absolute paths inside the units point into the private root.
	sed "s|/usr/sbin/|$TMP/root/usr/sbin/|g; s|/etc/bifrost/|$TMP/root/etc/bifrost/|g" "$u" \
		>"$TMP/root/etc/systemd/system/$(basename "$u")"
done
out=$(cd "$TMP/root/etc/systemd/system" && systemd-analyze verify ./*.service 2>&1)
eq "systemd-analyze verify: no complaint" "$out" ""
eq "four units" "$(ls "$UNITS"/*.service | wc -l)" 4
for u in "$UNITS"/*.service; do
	n=$(basename "$u")
	check "$n: Type=notify" grep -qx 'Type=notify' "$u"
	check "$n: WatchdogSec" grep -q '^WatchdogSec=[0-9]' "$u"
	check "$n: Restart=always" grep -qx 'Restart=always' "$u"
	check "$n: NoNewPrivileges" grep -qx 'NoNewPrivileges=yes' "$u"
	check "$n: capabilities bounded" grep -q '^CapabilityBoundingSet=' "$u"
	check "$n: no CAP_SYS_ADMIN" bash -c "! grep -q CAP_SYS_ADMIN '$u'"
done
# The unit's systemd-analyze verify catches a typo: a broken copy must complain.
sed 's/^Type=notify/Type=notfy/' "$TMP/root/etc/systemd/system/bifrost-edge.service" >"$TMP/bad.service"
out=$(cd "$TMP" && systemd-analyze verify ./bad.service 2>&1)
check "a broken unit is reported" has "$out" "service type"

# ---- a namespace with a veth pair ----
ip netns add "$NS" || { echo "test_systemd: cannot create namespace $NS" >&2; exit 1; }
in_ns ip link set lo up
in_ns ip link add se type veth peer name sg
in_ns ip addr add 192.0.2.1/24 dev se
in_ns ip addr add 192.0.2.2/24 dev sg
in_ns ip link set se up
in_ns ip link set sg up
in_ns sysctl -qw net.ipv4.conf.sg.forwarding=1
cat >"$TMP/edge.conf" <<CONF
id sdtest
iface se
addr 192.0.2.1
state_file $TMP/edge.state
a2s_workers yes
conn udp 203.0.113.10:27015 192.0.2.2 a2s yes
CONF
# caps_of UNIT: its CapabilityBoundingSet as setpriv's list (+bpf,+perfmon,...)
caps_of() {
	sed -n 's/^CapabilityBoundingSet=//p' "$UNITS/$1" | tr ' ' '\n' | sed -n 's/^CAP_//p' |
		tr 'A-Z' 'a-z' | sed 's/^/+/' | paste -sd, -
}
# has_cap PID BIT: that capability is in the process's effective set
has_cap() { (( (0x$(awk '/^CapEff/ {print $2}' "/proc/$1/status") >> $2) & 1 )); }
EDGE_CAPS=$(caps_of bifrost-edge.service)
GS_CAPS=$(caps_of bifrost-gs.service)

# notify_start NAME SECONDS: a listener at $TMP/NAME.sock writing $TMP/NAME.out
notify_start() {
	rm -f "$TMP/$1.out"
	"$LISTEN" "$TMP/$1.sock" "$TMP/$1.out" "$2" & PIDS+=($!)
	for _ in $(seq 50); do [ -S "$TMP/$1.sock" ] && return 0; sleep 0.02; done
	echo "test_systemd: the listener did not start" >&2
	exit 1
}
# wait_line NAME PATTERN [SECONDS]: until $TMP/NAME.out has a line matching PATTERN
wait_line() {
	local i
	for ((i = 0; i < ${3:-5} * 20; i++)); do
		grep -q -- "$2" "$TMP/$1.out" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}
count() { grep -c -- "$2" "$TMP/$1.out" 2>/dev/null; }
xdp_prog() { in_ns ip -d link show dev "$1" | grep -o 'prog/xdp id [0-9]*'; }

# ---- bifrost-edge ----
begin "bifrost-edge"
notify_start edge 30
NOTIFY_SOCKET=$TMP/edge.sock WATCHDOG_USEC=400000 nsenter --net="/run/netns/$NS" \
	setpriv --bounding-set "-all,$EDGE_CAPS" --inh-caps=-all -- "$BIN/bifrost-edge" -c "$TMP/edge.conf" \
	>"$TMP/edge.log" 2>&1 & EPID=$!
PIDS+=($EPID)
check "READY=1 once attached" wait_line edge '^READY=1'
# Run as the unit runs it: root with only the unit's CapabilityBoundingSet.
check "with only the unit's capabilities ($EDGE_CAPS): attached" grep -q "se: attached" "$TMP/edge.log"
check "and its AF_XDP worker started" grep -q "a2s: worker on se" "$TMP/edge.log"
check "no CAP_SYS_ADMIN in its effective set" bash -c "$(declare -f has_cap); ! has_cap $EPID 21"
check "CAP_BPF (39) in it" bash -c "$(declare -f has_cap); has_cap $EPID 39"
check "a STATUS line" wait_line edge '^STATUS=running on 1 interface'
check "the program is attached when READY=1 comes" bash -c "$(declare -f in_ns xdp_prog); NS=$NS; xdp_prog se >/dev/null"
sleep 1.2
ge "watchdog pinged at half of 400 ms (1.2 s)" "$(count edge '^WATCHDOG=1$')" 4
kill -HUP $EPID
check "SIGHUP: RELOADING=1" wait_line edge '^RELOADING=1'
check "then READY=1 again" bash -c "sleep 0.3; [ \$(grep -c '^READY=1' '$TMP/edge.out') -ge 2 ]"
before=$(xdp_prog se)
kill -TERM $EPID
check "SIGTERM: STOPPING=1" wait_line edge '^STOPPING=1'
wait $EPID; eq "the edge exits 0" "$?" 0
eq "its program stays attached after the stop" "$(xdp_prog se)" "$before"
# A restart (what Restart=always does) takes the pinned maps over.
notify_start edge2 10
NOTIFY_SOCKET=$TMP/edge2.sock WATCHDOG_USEC=400000 WATCHDOG_PID=1 nsenter --net="/run/netns/$NS" "$BIN/bifrost-edge" \
	-c "$TMP/edge.conf" >"$TMP/edge2.log" 2>&1 & EPID=$!
PIDS+=($EPID)
check "restarted: READY=1" wait_line edge2 '^READY=1'
sleep 0.6
eq "WATCHDOG_PID of another process: no pings" "$(count edge2 '^WATCHDOG=1$')" 0
kill -TERM $EPID; wait $EPID
in_ns "$BIN/bifrost-edge" -c "$TMP/edge.conf" --detach >/dev/null 2>&1
eq "--detach removes it" "$(xdp_prog se)" ""

# ---- bifrost-gs run ----
begin "bifrost-gs run"
notify_start gs 30
NOTIFY_SOCKET=$TMP/gs.sock WATCHDOG_USEC=400000 nsenter --net="/run/netns/$NS" \
	setpriv --bounding-set "-all,$GS_CAPS" --inh-caps=-all -- "$BIN/bifrost-gs" run --iface sg \
	--machine 192.0.2.2 --pop 192.0.2.1 --anycast 203.0.113.10 >"$TMP/gs.log" 2>&1 & GPID=$!
PIDS+=($GPID)
check "READY=1 once attached, with only the unit's capabilities ($GS_CAPS)" wait_line gs '^READY=1'
check "no CAP_SYS_ADMIN in its effective set" bash -c "$(declare -f has_cap); ! has_cap $GPID 21"
check "XDP attached" bash -c "$(declare -f in_ns xdp_prog); NS=$NS; xdp_prog sg >/dev/null"
check "TC egress attached" bash -c "nsenter --net=/run/netns/$NS tc filter show dev sg egress | grep -q bifrost_gs_egr"
sleep 1
ge "watchdog pinged (1 s)" "$(count gs '^WATCHDOG=1$')" 3
in_ns ip link set dev sg xdp off 2>/dev/null
in_ns ip link set dev sg xdpgeneric off 2>/dev/null
check "a removed program is noticed" bash -c "for i in \$(seq 60); do grep -q 'missing' '$TMP/gs.log' && exit 0; sleep 0.05; done; exit 1"
check "and attached again within 2 s" bash -c "$(declare -f in_ns xdp_prog); NS=$NS; for i in \$(seq 40); do xdp_prog sg >/dev/null && exit 0; sleep 0.05; done; exit 1"
kill -HUP $GPID
check "SIGHUP: RELOADING=1" wait_line gs '^RELOADING=1'
before=$(xdp_prog sg)
kill -TERM $GPID
check "SIGTERM: STOPPING=1" wait_line gs '^STOPPING=1'
wait $GPID; eq "bifrost-gs run exits 0" "$?" 0
eq "its program stays attached" "$(xdp_prog sg)" "$before"
in_ns "$BIN/bifrost-gs" detach --iface sg >/dev/null 2>&1
eq "detach removes it" "$(xdp_prog sg)" ""

# ---- the refresher ----
begin "bifrost-a2s-refresher"
notify_start ref 30
port=$(free_port)
NOTIFY_SOCKET=$TMP/ref.sock WATCHDOG_USEC=400000 "$BIN/bifrost-a2s-refresher" \
	--redis 127.0.0.1:"$port" --interval 1s >"$TMP/ref.log" 2>&1 & RPID=$!
PIDS+=($RPID)
check "READY=1" wait_line ref '^READY=1'
sleep 1.5
ge "watchdog pinged through the interval's sleep, Redis down (1.5 s)" "$(count ref '^WATCHDOG=1$')" 5
kill -TERM $RPID
check "SIGTERM: STOPPING=1" wait_line ref '^STOPPING=1'
wait $RPID; eq "the refresher exits 0" "$?" 0

summary
