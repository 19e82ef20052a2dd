#!/usr/bin/env bash
# fleet.sh - the compose fleet (docker/compose.yml; docs/OPERATIONS.md, "Containers").
#
#   docker/fleet.sh up        build missing images, make credentials, start, publish
#                             the game server, wait until both edges follow Redis
#   docker/fleet.sh down      stop it and remove its containers, volumes, pins, secrets
#   docker/fleet.sh status    containers, edges as Redis sees them
#   docker/fleet.sh ctl ARGS  bifrostctl (its image) as the ops user, e.g. ctl bl list
#   docker/fleet.sh compose ARGS   docker-compose with this fleet's project and files
#   docker/fleet.sh demo      up, show a player's traffic, A2S and a ban at both
#                             POPs, then down (make docker-demo)
#
# Credentials: one random password per ACL user (pop1, pop2, ops, refresher,
# inspector) in $BF_DOCKER_STATE/creds (default /run/bifrost-docker, mode 0700, files
# 0600): made at `up`, mounted read-only into the container that logs in with it,
# never in an image, a command line or this repository; deleted at `down`.
set -euo pipefail
cd "$(dirname "$0")"
export BF_DOCKER_STATE=${BF_DOCKER_STATE:-/run/bifrost-docker}
STATE=$BF_DOCKER_STATE
PROJECT=${BF_DOCKER_PROJECT:-bifrost}
BPFFS=/sys/fs/bpf/bifrost-compose
REDIS=10.99.0.30:6379
USERS=(pop1 pop2 ops refresher inspector)

# The capabilities bpf() needs, by the names this engine knows: CAP_BPF and
# CAP_PERFMON (Linux 5.8) from Docker 23 on; Docker 20.10 (Debian 12's docker.io)
# refuses those names and gets CAP_SYS_ADMIN, which the kernel accepts for both.
CAPS_FILE=compose.caps-bpf.yml
v=$(docker version -f '{{.Server.Version}}' 2>/dev/null || echo 0)
[ "${v%%.*}" -ge 23 ] 2>/dev/null || CAPS_FILE=compose.caps-docker20.yml
compose() { docker-compose -p "$PROJECT" -f compose.yml -f "$CAPS_FILE" "$@"; }
log() { echo "fleet: $*" >&2; }

# ctl ARGS: bifrostctl in its own container on the backbone, logged in as ops
ctl() {
	docker run --rm -i --network "${PROJECT}_backbone" --cap-drop ALL \
		-v "$STATE/creds/ops:/etc/bifrost/ops.auth:ro" \
		bifrostctl:latest --redis "$REDIS" --auth-file /etc/bifrost/ops.auth "$@"
}

make_creds() {
	local u
	rm -rf "$STATE/creds"
	mkdir -p -m 0700 "$STATE" "$STATE/creds"
	for u in "${USERS[@]}"; do
		(umask 077; printf 'user %s\npassword %s\n' "$u" \
			"$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')" >"$STATE/creds/$u")
	done
	# The ACL file Redis loads: the default user off, one user per role as
	# `bifrostctl acl` prints them (passwords as SHA-256 only).
	{
		echo "user default off resetpass ~* &* +@all"
		for u in pop1 pop2; do
			docker run --rm --cap-drop ALL -v "$STATE/creds/$u:/a:ro" bifrostctl:latest acl edge "$u" --auth-file /a
		done
		for u in ops refresher inspector; do
			docker run --rm --cap-drop ALL -v "$STATE/creds/$u:/a:ro" bifrostctl:latest acl "$u" --auth-file /a
		done
	} | sed 's/^ACL SETUSER /user /' >"$STATE/users.acl"
	# Readable by the user each container runs as, by no one else.
	chmod 600 "$STATE/users.acl"
	chown "$(docker run --rm --entrypoint id bifrost-redis:latest -u)" "$STATE/users.acl"
	chown 65534:65534 "$STATE/creds/refresher"
}

# wait_ready: both edges logged "running on", bifrost-gs "running:" (its programs
# attached). Logs are read whole, then searched:
# grep -q closing a pipe early would fail the pipeline under pipefail.
wait_ready() {
	local svc pat logs
	for svc in pop1-edge:"running on" pop2-edge:"running on" gs:"running: checking"; do
		pat=${svc#*:} svc=${svc%%:*}
		for _ in $(seq 60); do
			logs=$(compose logs --no-color "$svc" 2>/dev/null || true)
			grep -q "$pat" <<<"$logs" && break
			sleep 0.5
		done
		grep -q "$pat" <<<"$logs" ||
			{ tail -20 <<<"$logs" >&2; log "$svc did not start"; return 1; }
	done
}

cmd_up() {
	[ "$(id -u)" = 0 ] || { log "needs root (docker, /sys/fs/bpf)"; exit 1; }
	local img missing=()
	for img in bifrost-edge bifrost-gs bifrost-a2s-refresher bifrostctl bifrost-redis bifrost-lab; do
		docker image inspect "$img:latest" >/dev/null 2>&1 || missing+=("$img")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		log "building the images (${missing[*]} missing)"
		./build.sh
	fi
	cmd_down >/dev/null 2>&1 || true
	mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
	mkdir -p -m 0700 "$BPFFS" "$BPFFS/pop1" "$BPFFS/pop2" "$BPFFS/gs"
	make_creds
	compose up -d --quiet-pull 2>&1 | grep -v "^Creating\|^Starting" >&2 || true
	# Redis is up when the functions load (as ops: the login works too).
	for i in $(seq 30); do
		ctl functions load >/dev/null 2>&1 && break
		[ "$i" -lt 30 ] || { compose logs redis | tail -5 >&2; log "redis did not come up"; exit 1; }
		sleep 0.5
	done
	ctl conn add udp 10.98.0.100:27015 10.99.0.20 --a2s >/dev/null
	wait_ready
	log "up: pop1 10.98.0.11, pop2 10.98.0.12, game server 10.98.0.100:27015 on 10.99.0.20, redis $REDIS (ACL users, credentials in $STATE/creds)"
}

cmd_down() {
	compose down -v --remove-orphans 2>&1 | grep -v "^Stopping\|^Removing" >&2 || true
	rm -rf "$BPFFS" "$STATE"
	log "down"
}

cmd_status() {
	compose ps
	ctl edges || true
}

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
probe() { docker exec "${PROJECT}_$1_1" bf-netprobe udp --to 10.98.0.100:27015 --count "$2" --interval-ms 1 --timeout-ms 500; }

cmd_demo() {
	trap 'cmd_down' EXIT
	say "the fleet comes up: Redis, pop1 and pop2 (bifrost-edge), a game machine (bifrost-gs)"
	cmd_up
	compose ps
	say "the edges, as Redis sees them (bifrostctl in its container)"
	ctl edges
	say "c1 plays through pop1, c2 through pop2 (200 datagrams each, echoed by the game server)"
	# The first datagrams resolve the neighbours; a probe that lost some exits 1.
	probe c1 5 >/dev/null || true
	probe c2 5 >/dev/null || true
	probe c1 200 || true
	probe c2 200 || true
	say "A2S_INFO from c1, answered from the fleet's cache by pop1's AF_XDP worker"
	for _ in $(seq 50); do grep -q "compose fleet" <<<"$(ctl a2s list 2>/dev/null)" && break; sleep 0.2; done
	docker exec "${PROJECT}_c1_1" bf-netprobe a2s --to 10.98.0.100:27015 | sed -n '1p;$p' || true
	say "a ban of c1 (10.98.0.2) with bifrostctl: held at both POPs"
	ctl bl add 10.98.0.2/32 --reason demo
	sleep 0.3
	probe c1 20 || true
	for pop in pop1 pop2; do
		echo "$pop:"; docker exec "${PROJECT}_$pop-edge_1" bifrost-edge -c /etc/bifrost/edge.conf --dump blacklist
	done
	ctl bl del 10.98.0.2/32
	say "pop1's edge container restarted while c1 plays (the XDP program stays attached)"
	probe c1 3000 &
	sleep 1
	compose restart pop1-edge
	wait || true
	say "pop1's counters"
	docker exec "${PROJECT}_pop1-edge_1" bifrost-edge -c /etc/bifrost/edge.conf --stats | awk 'NR == 1 || $2 > 0'
	say "down"
}

case "${1:-}" in
up) cmd_up ;;
demo) cmd_demo ;;
down) cmd_down ;;
status) cmd_status ;;
ctl) shift; ctl "$@" ;;
compose) shift; compose "$@" ;;
-h | --help | help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//' ;;
*) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
