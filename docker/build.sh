#!/usr/bin/env bash
# build.sh - build Bifrost's images from this tree (docs/OPERATIONS.md, "Containers"):
# bifrost-edge, bifrost-gs, bifrost-a2s-refresher, bifrostctl, bifrost-redis and
# bifrost-lab (the compose fleet's test hosts), each tagged :VERSION and :latest.
# The local base image is made first when it is missing (docker/base-image.sh).
#
#   docker/build.sh [--no-cache] [TARGET...]   TARGET: edge gs refresher ctl redis lab
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=$(git describe --always --dirty 2>/dev/null || echo dev)
args=()
if [ "${1:-}" = --no-cache ]; then args+=(--no-cache); shift; fi
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(edge gs refresher ctl redis lab)

docker/base-image.sh
name_of() {
	case $1 in
	edge) echo bifrost-edge ;; gs) echo bifrost-gs ;; refresher) echo bifrost-a2s-refresher ;;
	ctl) echo bifrostctl ;; redis) echo bifrost-redis ;; lab) echo bifrost-lab ;;
	*) echo "build: unknown target '$1' (edge gs refresher ctl redis lab)" >&2; return 1 ;;
	esac
}
for t in "${targets[@]}"; do
	name=$(name_of "$t")
	echo "build: $name:$VERSION"
	docker build -q "${args[@]}" -f docker/Dockerfile --target "$t" --build-arg VERSION="$VERSION" \
		-t "$name:$VERSION" -t "$name:latest" . >/dev/null
done
docker image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep -E "^bifrost(ctl|-[a-z0-9-]+):latest" | sort
