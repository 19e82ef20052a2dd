#!/usr/bin/env bash
# build.sh BUILD OUTDIR - the Debian package of this tree (make deb): the programs,
# the BPF objects, the systemd units, a default configuration (conffiles) and the
# docs, with dpkg-deb. Depends: is computed by dpkg-shlibdeps from the binaries.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
cd "$ROOT"
BUILD=$(cd "${1:?BUILD}" && pwd)
mkdir -p "${2:?OUTDIR}"
OUT=$(cd "$2" && pwd)
DEPLOY=$ROOT/tools/deploy
STAGE=$BUILD/deb/stage

# A Debian version from git: 0.<commits>+g<hash>, "+dirty" for uncommitted changes.
n=$(git rev-list --count HEAD 2>/dev/null || echo 0)
h=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
VERSION="0.$n+g$h"
git diff --quiet HEAD 2>/dev/null || VERSION="$VERSION+dirty"
ARCH=$(dpkg --print-architecture)

rm -rf "$STAGE"
install -d "$STAGE/DEBIAN" "$STAGE/usr/sbin" "$STAGE/usr/bin" "$STAGE/usr/lib/bifrost/bpf" \
	"$STAGE/lib/systemd/system" "$STAGE/etc/bifrost" "$STAGE/usr/share/doc/bifrost"
install -m 0755 "$BUILD/bin/bifrost-edge" "$BUILD/bin/bifrost-gs" "$BUILD/bin/bifrost-a2s-refresher" \
	"$BUILD/bin/bifrost-flowspec" "$STAGE/usr/sbin/"
install -m 0755 "$BUILD/bin/bifrostctl" "$STAGE/usr/bin/"
install -m 0644 "$BUILD/bpf/edge.bpf.o" "$BUILD/bpf/gs.bpf.o" "$STAGE/usr/lib/bifrost/bpf/"
install -m 0644 "$DEPLOY"/systemd/*.service "$STAGE/lib/systemd/system/"
install -m 0644 "$DEPLOY/edge.conf" "$DEPLOY/gs.env" "$DEPLOY/refresher.env" "$DEPLOY/flowspec.conf" \
	"$DEPLOY/gobgpd.toml" "$STAGE/etc/bifrost/"
install -m 0644 README.md docs/ARCHITECTURE.md docs/OPERATIONS.md docs/REDIS.md \
	docs/grafana-bifrost.json "$STAGE/usr/share/doc/bifrost/"
strip --strip-unneeded "$STAGE"/usr/sbin/* "$STAGE"/usr/bin/*
chmod 0750 "$STAGE/etc/bifrost" # group bifrost, set by postinst

# Depends from the binaries' libraries (dpkg-shlibdeps wants a debian/control).
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/debian"
printf 'Source: bifrost\n\nPackage: bifrost\nArchitecture: any\n' >"$tmp/debian/control"
DEPENDS=$(cd "$tmp" && dpkg-shlibdeps -O "$STAGE"/usr/sbin/* "$STAGE"/usr/bin/* 2>/dev/null |
	sed -n 's/^shlibs:Depends=//p')
[ -n "$DEPENDS" ] || { echo "deb: dpkg-shlibdeps found no dependencies" >&2; exit 1; }
# And what the units and scripts run besides our programs: /bin/kill (ExecReload),
# useradd/userdel (the refresher's system user).
DEPENDS="$DEPENDS, procps, passwd"
SIZE=$(du -sk --exclude=DEBIAN "$STAGE" | cut -f1)
sed "s|@VERSION@|$VERSION|; s|@ARCH@|$ARCH|; s|@DEPENDS@|$DEPENDS|; s|@SIZE@|$SIZE|" \
	"$DEPLOY/deb/control.in" >"$STAGE/DEBIAN/control"
(cd "$STAGE" && find etc -type f | sed 's|^|/|' | sort) >"$STAGE/DEBIAN/conffiles"
install -m 0755 "$DEPLOY/deb/postinst" "$DEPLOY/deb/prerm" "$DEPLOY/deb/postrm" "$STAGE/DEBIAN/"
deb="$OUT/bifrost_${VERSION}_${ARCH}.deb"
rm -f "$OUT"/bifrost_*.deb
dpkg-deb --root-owner-group -Zxz --build "$STAGE" "$deb" >/dev/null
echo "$deb"
