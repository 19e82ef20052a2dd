#!/usr/bin/env bash
# run.sh [TEST...] - runs every tests/integration/test_*.sh (or the tests named, e.g.
# tests/soak/footprint.sh) each against a fresh lab, and always tears the lab down.
# Needs root.
set -u
DIR=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$DIR/../.." && pwd)
[ "$(id -u)" = 0 ] || { echo "integration tests need root (namespaces, XDP)" >&2; exit 1; }
# One lab per machine (namespaces and pins are global): wait for another run.
exec 9>/run/bifrost-lab.lock
flock 9
trap '"$ROOT/tools/lab/lab" down >/dev/null 2>&1' EXIT
rc=0
tests=("$@")
[ ${#tests[@]} -gt 0 ] || tests=("$DIR"/test_*.sh)
for t in "${tests[@]}"; do
	echo "=== $(basename "$t")"
	# A test that wants the lab on Redis Sentinel says so in a line of its own.
	sentinel=0
	grep -qx '# lab: BF_LAB_SENTINEL=1' "$t" && sentinel=1
	BF_LAB_SENTINEL=$sentinel "$ROOT/tools/lab/lab" up || { echo "lab up failed"; rc=1; continue; }
	bash "$t" || rc=1
	"$ROOT/tools/lab/lab" down >/dev/null 2>&1
done
exit $rc
