#!/bin/bash
# test_deb.sh - the Debian package (make deb) in a clean Debian 12 container made
# from the local base image: it installs with apt (its Depends resolved from the
# archive), the programs run (--version, --help), the installed units pass
# systemd-analyze verify, nothing is enabled or started, the config files are
# conffiles, and purge (with its dependencies, autoremove) leaves the file system
# as it was before the install. Needs root and a running Docker engine.
set -u
. "$(dirname "$0")/../lib.sh" test_deb
need_root "docker"
need_tools docker
DEB=${DEB:-$(ls "$ROOT"/build/deb/bifrost_*.deb 2>/dev/null | head -1)}
[ -f "$DEB" ] || { echo "test_deb: no package in build/deb (make deb)" >&2; exit 1; }
"$ROOT/docker/base-image.sh" >/dev/null
NAME=bf-deb-test-$$
on_exit docker rm -f "$NAME"
cp "$DEB" "$TMP/"
echo "     package: $(basename "$DEB")"

# Everything runs in one container, step by step (docker exec).
docker run -d --name "$NAME" --cap-drop ALL --cap-add CHOWN --cap-add DAC_OVERRIDE \
	--cap-add FOWNER --cap-add SETUID --cap-add SETGID -v "$TMP:/pkg:ro" \
	bifrost-base:bookworm sleep 600 >/dev/null
in_c() { docker exec -e DEBIAN_FRONTEND=noninteractive "$NAME" "$@"; }
# snapshot: every file and directory outside the package manager's own state
snapshot() {
	in_c sh -c 'find / -xdev \( -path /proc -o -path /sys -o -path /dev -o -path /run -o -path /tmp \
		-o -path /var/lib/apt -o -path /var/cache -o -path /var/log -o -path /var/lib/dpkg \
		-o -path /var/lib/systemd/deb-systemd-helper-enabled \) -prune -o -print' | sort
}

begin "install"
check "apt-get update" in_c apt-get update -qq
# systemd first (for systemd-analyze), then the snapshot the purge must return to.
check "systemd installed (for systemd-analyze verify)" in_c apt-get install -y -qq systemd >/dev/null
snapshot >"$TMP/before"
out=$(in_c apt-get install -y -qq /pkg/"$(basename "$DEB")" 2>&1); rc=$?
eq "apt-get install ./$(basename "$DEB") exits 0" "$rc" 0
[ "$rc" = 0 ] || echo "$out" | tail -10
eq "dpkg says installed" "$(in_c dpkg-query -W -f='${Status}' bifrost)" "install ok installed"

begin "installed"
v=$(in_c bifrost-edge --version 2>&1); rc=$?
eq "bifrost-edge --version exits 0" "$rc" 0
check "and names a version ($v)" test -n "$v"
check "bifrost-gs --help" bash -c "docker exec $NAME bifrost-gs --help >/dev/null"
check "bifrost-a2s-refresher --help" bash -c "docker exec $NAME bifrost-a2s-refresher --help >/dev/null"
check "bifrostctl --help" bash -c "docker exec $NAME bifrostctl --help >/dev/null"
check "bifrost-flowspec --help" bash -c "docker exec $NAME bifrost-flowspec --help >/dev/null"
check "the BPF objects are there" in_c test -s /usr/lib/bifrost/bpf/edge.bpf.o -a -s /usr/lib/bifrost/bpf/gs.bpf.o
check "the default config passes --check" bash -c "docker exec $NAME bifrost-edge -c /etc/bifrost/edge.conf --check | grep -q 'configuration OK'"
out=$(in_c systemd-analyze verify /lib/systemd/system/bifrost-edge.service \
	/lib/systemd/system/bifrost-gs.service /lib/systemd/system/bifrost-a2s-refresher.service \
	/lib/systemd/system/bifrost-flowspec.service 2>&1)
eq "systemd-analyze verify of the installed units: no complaint" "$out" ""
for u in bifrost-edge bifrost-gs bifrost-a2s-refresher bifrost-flowspec; do
	eq "$u is not enabled by the install" "$(in_c systemctl is-enabled "$u.service" 2>/dev/null)" disabled
done
eq "the five config files are conffiles" \
	"$(in_c dpkg-query -W -f='${Conffiles}' bifrost | awk 'NF {print $1}' | sort | xargs)" \
	"/etc/bifrost/edge.conf /etc/bifrost/flowspec.conf /etc/bifrost/gobgpd.toml /etc/bifrost/gs.env /etc/bifrost/refresher.env"
eq "/etc/bifrost is root:bifrost 0750" "$(in_c stat -c '%U:%G %a' /etc/bifrost)" "root:bifrost 750"
check "the refresher's system user exists" bash -c "docker exec $NAME getent passwd bifrost >/dev/null"
check "the docs are installed" in_c test -s /usr/share/doc/bifrost/OPERATIONS.md

begin "purge"
in_c sh -c 'printf "user pop1\npassword x\n" > /etc/bifrost/redis-auth; mkdir -p /var/lib/bifrost; echo s > /var/lib/bifrost/edge.state'
out=$(in_c apt-get purge -y -qq --autoremove bifrost 2>&1); rc=$?
eq "apt-get purge --autoremove exits 0" "$rc" 0
[ "$rc" = 0 ] || echo "$out" | tail -10
eq "dpkg no longer knows it" "$(in_c dpkg-query -W -f='${Status}' bifrost 2>/dev/null)" ""
check "the system user is gone" bash -c "! docker exec $NAME getent passwd bifrost"
check "its group too" bash -c "! docker exec $NAME getent group bifrost"
snapshot >"$TMP/after"
diff "$TMP/before" "$TMP/after" >"$TMP/diff"
eq "the file system is as before the install (the operator's credentials file and state included)" \
	"$(wc -l <"$TMP/diff")" 0
[ -s "$TMP/diff" ] && head -20 "$TMP/diff"

summary
