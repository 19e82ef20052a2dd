#!/usr/bin/env bash
# fleet.sh - the fleet-sync benchmarks of `make bench`, each on a fresh lab:
# punch propagation with 2 and with 8 edges beside Redis's PING (8 also reading
# from two replicas, BF_LAB_REPLICAS=2), without a
# login (BF_LAB_ACL=0) and, with 8 edges, again with the ACL users (every
# edge logged in as its own user, Redis checking each command's keys and
# channels); into a peer behind the encrypted Redis link beside a plain one;
# the sustained apply rate of one edge beside redis-benchmark XADD, and a full
# resync of a million entries (both without ACLs: bf-bench writes a made-up
# origin's log there). Prints one JSON object per line:
#   {"bench":"propagation", ...} {"bench":"propagation_replicas[_wan]", ...}
#   {"bench":"failover", ...}
#   {"bench":"propagation_tunnel", ...}
#   {"bench":"apply", ...} {"bench":"xadd", ...} {"bench":"resync", ...}
# FLEET_ONLY=acl: only the 8-edge propagation, without and then with ACL users.
# Bounded: COUNT punches, APPLY entries, RESYNC entries; every wait times out.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$ROOT/build/bin
LAB=$ROOT/tools/lab/lab
COUNT=${PROP_COUNT:-10000}
APPLY=${APPLY_COUNT:-200000}
RESYNC=${RESYNC_COUNT:-1000000}
WAN_MS=${BENCH_WAN_MS:-30}
trap '"$LAB" down >/dev/null 2>&1 || true' EXIT
eval "$("$LAB" env)"
say() { echo "bench: $*" >&2; }
pid() { cat "$STATE/edge-$1.pid"; }

lab_up() { # POPS ACL [TUNNEL]: ACL 0 Redis without a login, 1 the ACL users; TUNNEL 1
	# puts pop2 behind the encrypted Redis link (default: plain)
	BF_LAB_POPS=$1 BF_LAB_ACL=$2 BF_LAB_TUNNEL=${3:-0} "$LAB" up >/dev/null 2>&1 ||
		{ echo "bench: lab up failed" >&2; exit 1; }
	# Every edge follows every other before anything is measured.
	for _ in $(seq 100); do
		[ "$("$LAB" redis-cli --as inspector SCARD bifrost:edges)" = "$1" ] && break
		sleep 0.1
	done
	sleep 2
}

propagation() { # POPS [NAME] [COUNT]: in the lab that is up (its PING baseline logs in as the inspector)
	local peers=() auth=() i f acl=false count=${3:-$COUNT}
	for ((i = 2; i <= $1; i++)); do peers+=(--peer "p$i-up"); done
	f=$("$LAB" auth-file inspector)
	[ -z "$f" ] || { auth=(--auth-file "$f"); acl=true; }
	say "propagation: $count punches made at pop1, $1 edges$([ $acl = true ] && echo ", ACL users")..."
	"$BIN/bf-bench" propagation --netns /run/netns/bf-pop1 --iface p1-bk "${peers[@]}" \
		--redis "$REDIS_ADDR:6379" "${auth[@]}" --machine "$GS_ADDR" --pop "$POP1_ADDR" \
		--bind "$ANYCAST" --remote 198.19.250.1 --count "$count" --pings "$count" |
		jq -c --arg b "${2:-propagation}" --argjson acl $acl '{bench: $b, acl: $acl} + .'
}

# The other edges sit still (SIGSTOP) while one edge is measured: on this
# two-core machine they would otherwise compete for its CPU, which POPs on
# their own machines never do.
others() { # SIG POP: signal every edge but POP
	local f
	for f in "$STATE"/edge-pop*.pid; do
		[ "$(basename "$f")" = "edge-$2.pid" ] || kill -"$1" "$(cat "$f")"
	done
}

if [ "${FLEET_ONLY:-}" = acl ]; then # tools/bench/fleet.sh alone: the ACL comparison only
	for a in 0 1; do lab_up 8 $a; propagation 8; "$LAB" down >/dev/null 2>&1; done
	exit 0
fi

lab_up 2 0
propagation 2
say "apply rate: $APPLY entries queued in a peer's log while pop2 is stopped..."
others STOP pop2
"$BIN/bf-bench" apply --netns /run/netns/bf-pop2 --redis "$REDIS_ADDR:6379" --iface p2-up \
	--origin bench-apply --edge-pid "$(pid pop2)" --count "$APPLY" | jq -c '{bench: "apply"} + .'
others CONT pop2
say "redis-benchmark XADD (50 clients, pipeline 16)..."
"$LAB" exec pop2 redis-benchmark -h "$REDIS_ADDR" -p 6379 -n "$APPLY" -P 16 --csv \
	XADD bench:xadd MAXLEN '~' 100000 '*' op add entry 240.0.0.1/32 exp 1 seq 1 why bench |
	awk -F'"' '/XADD/ {printf "{\"bench\":\"xadd\",\"per_s\":%.0f}\n", $4}'
"$LAB" down >/dev/null 2>&1

lab_up 8 0
propagation 8
"$LAB" down >/dev/null 2>&1

reading_replica() { # POPS: how many edges read from their replica (each waited for, 15 s at most)
	local i n=0
	for ((i = 1; i <= $1; i++)); do
		for _ in $(seq 150); do
			[ "$("$LAB" redis-cli --as inspector HGET bifrost:edge:pop$i reads)" = replica ] &&
				{ n=$((n + 1)); break; }
			sleep 0.1
		done
	done
	echo $n
}

# The same 8 edges, each reading from one of two replicas of the primary (redis_replica),
# writing to the primary: the read-replica path, compared with the run above.
BF_LAB_REPLICAS=2 lab_up 8 0
reading=$(reading_replica 8)
propagation 8 propagation_replicas | jq -c --argjson r "$reading" '. + {replicas: 2, reading_replica: $r}'
"$LAB" down >/dev/null 2>&1

# Again with the replicas in regions of their own, WAN_MS away (each way) from the primary.
BF_LAB_REPLICAS=2 BF_LAB_WAN_MS=$WAN_MS lab_up 8 0
reading=$(reading_replica 8)
# (one punch at a time, each over the WAN: 1000 of them take ~35 s where 10000 took 6 min)
propagation 8 propagation_replicas_wan "${PROP_WAN_COUNT:-1000}" |
	jq -c --argjson r "$reading" --argjson w "$WAN_MS" '. + {replicas: 2, reading_replica: $r, wan_ms: $w}'
"$LAB" down >/dev/null 2>&1

# Failover on Sentinel in regions (the lab's timings: down-after 1 s, failover-timeout 3 s;
# two replicas WAN_MS away, each POP reading from one): the primary SIGKILLed; when a
# write is accepted again (SET through the sentinels' primary, every 50 ms), and when a
# ban made at that moment is in both POPs' maps.
BF_LAB_SENTINEL=1 BF_LAB_REPLICAS=2 BF_LAB_WAN_MS=$WAN_MS lab_up 2 1
eval "$("$LAB" env)" # the lab's endpoint is the sentinels now
say "failover: the primary SIGKILLed..."
t0=$(date +%s%3N)
"$LAB" redis-kill KILL
tw=-1
for _ in $(seq 600); do
	if "$LAB" redis-cli SET bifrost:bench:failover 1 2>/dev/null | grep -q OK; then tw=$(date +%s%3N); break; fi
	sleep 0.05
done
ta=-1
if [ "$tw" != -1 ]; then
	"$LAB" exec redis "$BIN/bifrostctl" --redis "$LAB_REDIS_EP" --auth-file "$("$LAB" auth-file ops)" \
		bl add 198.19.99.1/32 --ttl 1h >/dev/null 2>&1 &
	# (in the background: with no replica yet it then waits its second for one)
	for _ in $(seq 600); do
		n=0
		for pop in pop1 pop2; do
			"$LAB" exec $pop "$BIN/bifrost-edge" -c "$STATE/$pop.conf" --dump blacklist |
				grep -q 198.19.99.1/32 && n=$((n + 1))
		done
		[ "$n" = 2 ] && { ta=$(date +%s%3N); break; }
		sleep 0.05
	done
fi
jq -nc --argjson w "$([ "$tw" = -1 ] && echo -1 || echo $((tw - t0)))" \
	--argjson a "$([ "$ta" = -1 ] && echo -1 || echo $((ta - t0)))" \
	--argjson wan "$WAN_MS" 	'{bench: "failover", down_after_ms: 1000, failover_timeout_ms: 3000, replicas: 2, wan_ms: $wan, write_ms: $w, every_edge_ms: $a}'
wait
"$LAB" down >/dev/null 2>&1

lab_up 8 1
propagation 8
"$LAB" down >/dev/null 2>&1

# The same punches into a peer behind the encrypted link (pop2: stunnel, TLS 1.3,
# PSK) and a plain one (pop3), each timed on its own, with the ACL users.
lab_up 3 1 1
say "through the encrypted link: pop2 behind stunnel, pop3 plain..."
propagation 3 propagation_tunnel
"$LAB" down >/dev/null 2>&1

lab_up 2 0
say "full resync of $RESYNC entries at pop2..."
others STOP pop2
out=$("$BIN/bf-bench" resync --netns /run/netns/bf-pop2 --redis "$REDIS_ADDR:6379" --iface p2-up \
	--origin bench-resync --log "$STATE/edge-pop2.log" --count "$RESYNC")
others CONT pop2
jq -c --argjson rss "$(ps -o rss= -p "$(pid pop2)")" '{bench: "resync", rss_kib: $rss} + .' <<<"$out"
