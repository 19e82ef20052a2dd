#!/bin/bash
# test_units.sh - the package's systemd units under a real systemd: a Debian 12
# container with systemd as PID 1, the package installed with apt, a veth pair
# inside. bifrost-edge, bifrost-gs and the refresher start as Type=notify units
# (active only once READY=1 came), with every sandboxing option of their unit in
# force; the edge's AF_XDP worker starts under them; reload is SIGHUP; a frozen
# edge is killed by the watchdog and restarted; stopping the units leaves the
# programs attached; purging the package detaches them.
#
# The container cannot hold CAP_BPF: Docker 20.10 does not know the name. A
# drop-in adds CAP_SYS_ADMIN to the edge's and bifrost-gs's bounding sets here;
# that their own set is enough is checked by tests/tools/test_systemd.sh.
# Needs root and a running Docker engine.
set -u
. "$(dirname "$0")/../lib.sh" test_units
need_root "docker"
need_tools docker
DEB=${DEB:-$(ls "$ROOT"/build/deb/bifrost_*.deb 2>/dev/null | head -1)}
[ -f "$DEB" ] || { echo "test_units: no package in build/deb (make deb)" >&2; exit 1; }
"$ROOT/docker/base-image.sh" >/dev/null
IMG=bifrost-systemd-test:bookworm-redis
NAME=bf-units-$$
PINS=/sys/fs/bpf/bifrost-units-$$
on_exit "[ -n \"${KEEP:-}\" ] || docker rm -f $NAME"
on_exit rm -rf "$PINS"
X() { docker exec -e DEBIAN_FRONTEND=noninteractive "$NAME" "$@"; }
sx() { X sh -c "$1"; }
prop() { X systemctl show -p "$2" --value "$1"; }
xdp_id() { X ip -o link show dev "$1" | grep -o 'prog/xdp id [0-9]*'; }

# The base with systemd and iproute2, made once.
if ! docker image inspect "$IMG" >/dev/null 2>&1; then
	docker rm -f "$NAME-mk" >/dev/null 2>&1
	docker run -d --name "$NAME-mk" bifrost-base:bookworm sleep 600 >/dev/null &&
		docker exec -e DEBIAN_FRONTEND=noninteractive "$NAME-mk" sh -c \
			'apt-get update -qq && apt-get install -y -qq systemd iproute2 redis-server >/dev/null' &&
		docker commit "$NAME-mk" "$IMG" >/dev/null
	rc=$?
	docker rm -f "$NAME-mk" >/dev/null
	[ "$rc" = 0 ] || { echo "test_units: could not make $IMG" >&2; exit 1; }
fi
mkdir -p "$PINS"
cp "$DEB" "$TMP/"
# systemd as PID 1 needs the cgroup tree and a tmpfs /run; no --privileged (the
# capabilities below, for systemd itself and for the units it starts).
docker run -d --name "$NAME" --cap-add SYS_ADMIN --cap-add NET_ADMIN --cap-add NET_RAW \
	--cap-add IPC_LOCK --cap-add SYS_PTRACE --cap-add DAC_READ_SEARCH \
	--security-opt seccomp=unconfined --cgroupns=host -v /sys/fs/cgroup:/sys/fs/cgroup:rw \
	--tmpfs /run --tmpfs /run/lock --sysctl net.ipv4.conf.all.forwarding=1 \
	--sysctl net.ipv4.conf.default.forwarding=1 -v "$PINS:/sys/fs/bpf" -v "$TMP:/pkg:ro" \
	"$IMG" /lib/systemd/systemd >/dev/null || { echo "test_units: systemd container did not start" >&2; exit 1; }
for _ in $(seq 50); do
	s=$(X systemctl is-system-running 2>/dev/null)
	[ "$s" = running ] || [ "$s" = degraded ] && break
	sleep 0.2
done

begin "install under systemd"
check "apt-get install the package" sx "apt-get update -qq && apt-get install -y -qq /pkg/$(basename "$DEB") >/dev/null 2>&1"
eq "systemd knows the edge unit, not started" "$(X systemctl is-active bifrost-edge)" inactive
sx 'ip link add ve0 type veth peer name ve1 && ip addr add 192.0.2.1/24 dev ve0 &&
	ip addr add 192.0.2.2/24 dev ve1 && ip link set ve0 up && ip link set ve1 up'
# Redis (Debian's unit) with the refresher's ACL user; the edge logs in as default.
sx 'for _ in $(seq 50); do redis-cli PING 2>/dev/null | grep -q PONG && break; sleep 0.1; done
redis-cli ACL SETUSER refresher on ">refresher-secret-0123456789abcdef" "~*" "&*" "+@all" >/dev/null'
sx 'cat >/etc/bifrost/edge.conf <<CONF
id u1
iface ve0
addr 192.0.2.1
redis 127.0.0.1:6379
state_file /var/lib/bifrost/edge.state
a2s_workers yes
conn udp 203.0.113.10:27015 192.0.2.2 a2s yes
CONF
echo BIFROST_GS_OPTS=\"--iface ve1 --machine 192.0.2.2 --pop 192.0.2.1 --anycast 203.0.113.10\" >/etc/bifrost/gs.env
echo BIFROST_REFRESHER_OPTS=\"--redis 127.0.0.1:6379 --interval 1s\" >/etc/bifrost/refresher.env
(umask 077; printf "user refresher\npassword refresher-secret-0123456789abcdef\n" >/etc/bifrost/refresher.auth)
chown bifrost: /etc/bifrost/refresher.auth
for u in bifrost-edge bifrost-gs; do
	mkdir -p /etc/systemd/system/$u.service.d
	printf "[Service]\nCapabilityBoundingSet=CAP_SYS_ADMIN\n" >/etc/systemd/system/$u.service.d/container.conf
done
systemctl daemon-reload'

begin "bifrost-edge.service"
check "systemctl start returns (READY=1 received)" X systemctl start bifrost-edge
eq "active" "$(X systemctl is-active bifrost-edge)" active
eq "its status line came by the notification socket" "$(prop bifrost-edge StatusText)" \
	"running on 1 interface(s), following the fleet"
check "attached to ve0" bash -c "$(declare -f X xdp_id); NAME=$NAME; xdp_id ve0 >/dev/null"
check "its AF_XDP worker started inside the unit's sandbox" \
	bash -c "docker exec $NAME journalctl -u bifrost-edge --no-pager | grep -q 'a2s: worker on ve0'"
check "the state file went to its StateDirectory" bash -c "sleep 1.2; docker exec $NAME test -s /var/lib/bifrost/edge.state"
check "systemctl reload: SIGHUP" X systemctl reload bifrost-edge
check "logged by the edge" bash -c "docker exec $NAME journalctl -u bifrost-edge --no-pager | grep -q 'SIGHUP: reloading'"
eq "still active after the reload" "$(X systemctl is-active bifrost-edge)" active
# The watchdog, shortened to 2 s: a frozen edge is killed and restarted.
sx 'printf "[Service]\nWatchdogSec=2s\n" >/etc/systemd/system/bifrost-edge.service.d/wd.conf; systemctl daemon-reload'
X systemctl restart bifrost-edge
pid=$(prop bifrost-edge MainPID)
X kill -STOP "$pid"
for _ in $(seq 60); do [ "$(prop bifrost-edge NRestarts)" -ge 1 ] 2>/dev/null && break; sleep 0.1; done
check "frozen: the watchdog fired" bash -c "docker exec $NAME journalctl -u bifrost-edge --no-pager | grep -q 'Watchdog timeout'"
ge "and systemd restarted it" "$(prop bifrost-edge NRestarts)" 1
for _ in $(seq 50); do [ "$(X systemctl is-active bifrost-edge)" = active ] && break; sleep 0.1; done
check "a new process ($(prop bifrost-edge MainPID), was $pid), active" test "$(prop bifrost-edge MainPID)" != "$pid"
id0=$(xdp_id ve0)
X systemctl stop bifrost-edge
eq "stopped" "$(X systemctl is-active bifrost-edge)" inactive
eq "its program stays attached" "$(xdp_id ve0)" "$id0"

begin "bifrost-gs.service"
check "systemctl start (READY=1)" X systemctl start bifrost-gs
eq "active" "$(X systemctl is-active bifrost-gs)" active
check "attached to ve1" bash -c "$(declare -f X xdp_id); NAME=$NAME; xdp_id ve1 >/dev/null"
X systemctl stop bifrost-gs
check "stopped, the program stays" bash -c "$(declare -f X xdp_id); NAME=$NAME; xdp_id ve1 >/dev/null"

begin "bifrost-a2s-refresher.service"
check "systemctl start (READY=1)" X systemctl start bifrost-a2s-refresher
eq "active" "$(X systemctl is-active bifrost-a2s-refresher)" active
check "logged in to Redis as refresher with its file" bash -c "for i in \$(seq 30); do docker exec $NAME redis-cli CLIENT LIST | grep -q 'user=refresher' && exit 0; sleep 0.1; done; exit 1"
uid=$(X sh -c 'awk "/^Uid:/ {print \$2}" /proc/$(systemctl show -p MainPID --value bifrost-a2s-refresher)/status')
eq "runs as the system user bifrost, not root" "$uid" "$(X id -u bifrost)"
eq "with no capability" "$(X sh -c 'awk "/^CapEff/ {print \$2}" /proc/$(systemctl show -p MainPID --value bifrost-a2s-refresher)/status')" 0000000000000000
X systemctl stop bifrost-a2s-refresher

begin "bifrost-flowspec.service (dry run: no speaker in this container)"
sx 'cat >/etc/bifrost/flowspec.conf <<CONF
id u1
redis 127.0.0.1:6379
announce 203.0.113.0/24
peer 192.0.2.9
dry_run yes
CONF
redis-cli HSET bifrost:rules 5 "action drop proto udp dst 203.0.113.10/32 dport 27015 flowspec yes" >/dev/null
redis-cli INCR bifrost:conf:version >/dev/null'
check "systemctl start (READY=1)" X systemctl start bifrost-flowspec
eq "active" "$(X systemctl is-active bifrost-flowspec)" active
check "the rule's state in Redis: dry-run" bash -c "for i in \$(seq 30); do docker exec $NAME redis-cli HGET bifrost:flowspec:u1 5 | grep -q '^dry-run ' && exit 0; sleep 0.1; done; exit 1"
uid=$(X sh -c 'awk "/^Uid:/ {print \$2}" /proc/$(systemctl show -p MainPID --value bifrost-flowspec)/status')
eq "runs as the system user bifrost" "$uid" "$(X id -u bifrost)"
eq "its one capability: NET_BIND_SERVICE (for gobgpd's port 179)" "$(X sh -c 'awk "/^CapEff/ {print \$2}" /proc/$(systemctl show -p MainPID --value bifrost-flowspec)/status')" 0000000000000400
X systemctl stop bifrost-flowspec
eq "stopped: its liveness key is gone" "$(X redis-cli EXISTS bifrost:flowspec-alive:u1)" 0

begin "purge"
check "apt-get purge" sx "apt-get purge -y -qq bifrost >/dev/null 2>&1"
eq "the edge's program is detached by the package's prerm" "$(xdp_id ve0)" ""
eq "bifrost-gs's too" "$(xdp_id ve1)" ""
eq "no pin left" "$(ls -A "$PINS" | wc -l)" 0
check "/etc/bifrost is gone" X test ! -e /etc/bifrost

summary
