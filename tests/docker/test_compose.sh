#!/bin/bash
# test_compose.sh - the compose fleet (docker/compose.yml) from its images: the
# edges and the game machine run unprivileged (their capability sets read from
# the kernel and checked against the documented list), a player's traffic goes
# through a containerized edge to the containerized game server and back at both
# POPs, A2S is answered from the cache by the edge's AF_XDP worker, a ban made with
# the bifrostctl container holds at both edges, and an edge container restarted
# mid-flow loses no packet. `docker/fleet.sh down` at the end leaves nothing.
# Needs root and a running Docker engine (make docker-deps).
set -u
. "$(dirname "$0")/../lib.sh" test_compose
FLEET=$ROOT/docker/fleet.sh
P=${BF_DOCKER_PROJECT:-bifrost}
need_root "docker"
need_tools docker docker-compose jq
on_exit "$FLEET down"

c() { echo "${P}_$1_1"; }                        # container name of a service
probe() { # CLIENT COUNT [INTERVAL_MS]: "sent received lost"
	docker exec "$(c "$1")" bf-netprobe udp --to 10.98.0.100:27015 --count "$2" \
		--interval-ms "${3:-1}" --timeout-ms 500 --json | jq -r '"\(.sent) \(.received) \(.lost)"'
}
edge() { local pop=$1; shift; docker exec "$(c "$pop-edge")" bifrost-edge -c /etc/bifrost/edge.conf "$@"; }
# cap_names CONTAINER: the names of the capabilities in its PID 1's effective set
CAPS=(CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID SETPCAP
	LINUX_IMMUTABLE NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK IPC_OWNER
	SYS_MODULE SYS_RAWIO SYS_CHROOT SYS_PTRACE SYS_PACCT SYS_ADMIN SYS_BOOT SYS_NICE
	SYS_RESOURCE SYS_TIME SYS_TTY_CONFIG MKNOD LEASE AUDIT_WRITE AUDIT_CONTROL SETFCAP
	MAC_OVERRIDE MAC_ADMIN SYSLOG WAKE_ALARM BLOCK_SUSPEND AUDIT_READ PERFMON BPF
	CHECKPOINT_RESTORE)
cap_names() {
	local hex i out=()
	hex=$(docker exec "$1" awk '/^CapEff/ {print $2}' /proc/1/status)
	for i in "${!CAPS[@]}"; do (( (0x$hex >> i) & 1 )) && out+=("${CAPS[$i]}"); done
	echo "${out[*]}"
}

begin "up"
"$FLEET" up || { bad "docker/fleet.sh up failed"; summary; exit 1; }
ok "docker/fleet.sh up"
for s in redis pop1-host pop1-edge pop2-host pop2-edge gs-host gs gameserver refresher c1 c2; do
	eq "$s is running" "$(docker inspect -f '{{.State.Running}}' "$(c "$s")" 2>/dev/null)" true
done

begin "unprivileged"
v=$(docker version -f '{{.Server.Version}}')
if [ "${v%%.*}" -ge 23 ] 2>/dev/null; then bpfcaps="BPF PERFMON"; else bpfcaps="SYS_ADMIN"; fi
echo "     engine $v: the bpf() capabilities are $bpfcaps"
for s in pop1-edge pop2-edge gs; do
	eq "$s: not --privileged" "$(docker inspect -f '{{.HostConfig.Privileged}}' "$(c "$s")")" false
	eq "$s: Docker's seccomp filter in force (Seccomp: 2)" \
		"$(docker exec "$(c "$s")" awk '/^Seccomp:/ {print $2}' /proc/1/status)" 2
	got=$(cap_names "$(c "$s")")
	echo "     $s capabilities: $got"
	case $s in
	gs) want="NET_ADMIN $bpfcaps" ;;
	*) want="NET_ADMIN NET_RAW IPC_LOCK $bpfcaps" ;;
	esac
	eq "$s: exactly the documented capabilities" "$(tr ' ' '\n' <<<"$got" | sort | xargs)" \
		"$(tr ' ' '\n' <<<"$want" | sort | xargs)"
done
for s in redis refresher gameserver; do
	eq "$s: no capability at all" "$(cap_names "$(c "$s")")" ""
done
eq "the refresher runs as nobody" "$(docker exec "$(c refresher)" awk '/^Uid:/ {print $2}' /proc/1/status)" 65534
# The passwords made at `up`: in no image layer, no container's config or environment,
# no process's command line on this host.
leaks=0
for f in /run/bifrost-docker/creds/*; do
	pw=$(sed -n 's/^password //p' "$f")
	[ ${#pw} -ge 32 ] || { leaks=$((leaks + 1)); continue; }
	for img in bifrost-edge bifrost-gs bifrost-a2s-refresher bifrostctl bifrost-redis bifrost-lab; do
		# grep -f: the password is searched for without being on grep's own command line
		docker history --no-trunc "$img:latest" | grep -qFf <(echo "$pw") && leaks=$((leaks + 1))
	done
	docker inspect $(docker ps -q --filter "label=com.docker.compose.project=$P") |
		grep -qFf <(echo "$pw") && leaks=$((leaks + 1))
	cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\0' ' ' | grep -qFf <(echo "$pw") && leaks=$((leaks + 1))
done
eq "the $(ls /run/bifrost-docker/creds | wc -l) passwords: in no image, container config or command line" "$leaks" 0

begin "traffic through the containerized edges"
probe c1 5 >/dev/null; probe c2 5 >/dev/null # neighbours resolved
read -r s r l <<<"$(probe c1 500)"
eq "c1 -> pop1 -> game server and back: 500 of 500" "$r" 500
read -r s r l <<<"$(probe c2 500)"
eq "c2 -> pop2 -> game server and back: 500 of 500" "$r" 500
ge "pop1 forwarded them" "$(edge pop1 --stats --json | jq -r .forward.packets)" 500
ge "pop2 forwarded them" "$(edge pop2 --stats --json | jq -r .forward.packets)" 500
ge "pop1 carried the replies back from bifrost-gs's IPIP (return_path)" "$(edge pop1 --stats --json | jq -r .return_path.packets)" 500
ge "pop2 too" "$(edge pop2 --stats --json | jq -r .return_path.packets)" 500
if [ "$fail" -gt 0 ]; then # what to look at when the path was not the expected one
	for pop in pop1 pop2; do echo "     $pop:"; edge $pop --stats | awk '$2 > 0' | sed 's/^/       /'; done
	docker exec "$(c gs)" bifrost-gs status --iface gs0 | sed 's/^/       /'
	"$FLEET" compose logs --no-color gs | tail -5
fi
for _ in $(seq 50); do "$FLEET" ctl a2s list 2>/dev/null | grep -q "Bifrost compose fleet" && break; sleep 0.2; done
check "the refresher filled the A2S cache" bash -c "'$FLEET' ctl a2s list | grep -q 'Bifrost compose fleet'"
a0=$(edge pop1 --stats --json | jq -r '.a2s_redirect.packets // 0')
out=$(docker exec "$(c c1)" bf-netprobe a2s --to 10.98.0.100:27015)
check "A2S_INFO through pop1 answers" has "$out" 'name="Bifrost compose fleet"'
ge "answered by pop1's AF_XDP worker (a2s_redirect)" "$(( $(edge pop1 --stats --json | jq -r '.a2s_redirect.packets // 0') - a0 ))" 1

begin "a ban with the bifrostctl container holds at both edges"
"$FLEET" ctl bl add 10.98.0.2/32 --reason compose-test >/dev/null
sleep 0.3
read -r s r l <<<"$(probe c1 20)"
eq "c1 dropped at pop1" "$r" 0
for pop in pop1 pop2; do
	check "$pop holds it" bash -c "$(declare -f edge c); P=$P; edge $pop --dump blacklist | grep -q '10.98.0.2/32'"
done
docker exec "$(c c1)" ip route replace 10.98.0.100/32 via 10.98.0.12
read -r s r l <<<"$(probe c1 20)"
eq "c1 moved to pop2: dropped there too" "$r" 0
"$FLEET" ctl bl del 10.98.0.2/32 >/dev/null
sleep 0.3
read -r s r l <<<"$(probe c1 20)"
eq "lifted: c1 plays through pop2" "$r" 20
docker exec "$(c c1)" ip route replace 10.98.0.100/32 via 10.98.0.11

begin "an edge container restarted mid-flow"
probe c1 5 >/dev/null
t0=$(docker inspect -f '{{.State.StartedAt}}' "$(c pop1-edge)")
probe c1 4000 1 >"$TMP/flow" &
flow=$!
sleep 1
"$FLEET" compose restart pop1-edge >/dev/null 2>&1
wait $flow
read -r s r l <"$TMP/flow"
check "the container was restarted" test "$(docker inspect -f '{{.State.StartedAt}}' "$(c pop1-edge)")" != "$t0"
eq "a 4 s flow through pop1 across its edge's restart: $s sent, 0 lost" "$l" 0
check "the new edge took over the running data plane" bash -c "'$FLEET' compose logs pop1-edge | grep -q 'kept the 1 connection(s) the running data plane serves'"
for _ in $(seq 50); do [ "$(docker inspect -f '{{.State.Health.Status}}' "$(c pop1-edge)")" = healthy ] && break; sleep 0.2; done
eq "and reports healthy" "$(docker inspect -f '{{.State.Health.Status}}' "$(c pop1-edge)")" healthy

begin "down"
"$FLEET" down >/dev/null 2>&1
eq "no container of the fleet left" "$(docker ps -aq --filter "label=com.docker.compose.project=$P" | wc -l)" 0
check "no pinned map left" test ! -e /sys/fs/bpf/bifrost-compose
check "no credentials left" test ! -e /run/bifrost-docker

summary
