#!/usr/bin/env bash
# base-image.sh - make the local Debian 12 base image the Dockerfiles start from
# (bifrost-base:bookworm) when it is missing. There is no registry to pull from:
# debootstrap builds a minimal bookworm from the Debian archive and `docker
# import` turns it into an image. Nothing else is added to it.
#
#   docker/base-image.sh [--force]      BF_DEBIAN_MIRROR=URL to use another mirror
set -euo pipefail

IMAGE=${BF_BASE_IMAGE:-bifrost-base:bookworm}
MIRROR=${BF_DEBIAN_MIRROR:-http://deb.debian.org/debian}

if [ "${1:-}" != --force ] && docker image inspect "$IMAGE" >/dev/null 2>&1; then
	echo "base-image: $IMAGE present"
	exit 0
fi
[ "$(id -u)" = 0 ] || { echo "base-image: debootstrap needs root" >&2; exit 1; }
command -v debootstrap >/dev/null || { echo "base-image: debootstrap missing (make docker-deps)" >&2; exit 1; }

dir=$(mktemp -d /var/tmp/bifrost-base.XXXXXX)
trap 'rm -rf "$dir"' EXIT
echo "base-image: debootstrap --variant=minbase bookworm from $MIRROR (about a minute)"
if ! debootstrap --variant=minbase bookworm "$dir/rootfs" "$MIRROR" >"$dir/log" 2>&1; then
	tail -20 "$dir/log" >&2
	echo "base-image: debootstrap failed (log above); check that $MIRROR is reachable" >&2
	exit 1
fi
# The image's apt should not keep package lists or caches in layers that use it.
rm -rf "$dir"/rootfs/var/cache/apt/archives/*.deb "$dir"/rootfs/var/lib/apt/lists/*
tar -C "$dir/rootfs" -c . | docker import \
	--change 'ENV LANG=C.UTF-8' --change 'CMD ["/bin/bash"]' - "$IMAGE" >/dev/null
echo "base-image: $IMAGE made ($(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%.0f MB", $1/1e6}'))"
