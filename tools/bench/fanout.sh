#!/usr/bin/env bash
# fanout.sh - the fan-out benchmark of `make bench`: one writer's records into N followers
# (bf-bench fanout: each follower a real sync client, read_peers, all in one process on two
# event loops), (a) every follower reading from one Redis, (b) a primary and two replicas
# (--replicaof), the followers spread over the replicas through sync_config.replica, writes
# on the primary. Private redis-servers on loopback (ports from 16400 up, whichever four in a
# row are free), started here with `timeout` (they die after FANOUT_REDIS_LIFETIME_S even if
# this script is killed hard) and killed by pid on exit. Prints one JSON object per run,
# bf-bench fanout's (tools/bench_fanout.c), in the order a N1, b N1, a N2, b N2, so the
# first follower count is compared even if the section runs out of time.
# Pacing: every record is one delivery per follower, and the followers, the writer and Redis
# share this machine's two cores: 100 followers at one record every 5 ms (20,000 deliveries
# a second) took 74% of a core in bf-bench and 59% in Redis, so 200 at 5 ms would need more
# than the two cores and would time the run queue, not the fan-out. The writer is paced to
# FANOUT_RATE (10000) deliveries a second instead: one record every N * 1000 / RATE ms, at
# least 5 (20 ms for 200 followers, 100 ms for 1000). FANOUT_RECORDS records (default 300,
# fewer when paced slower, so that a run writes for at most 15 s); FANOUT_INTERVAL_MS forces
# one interval on every run. A run that would start after FANOUT_BUDGET_S (75) is skipped
# (said in its JSON). Needs redis-server, redis-cli, ss; not root, nor the lab.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$ROOT/build/bin
FOLLOWERS=${FANOUT_FOLLOWERS:-200 1000}
RATE=${FANOUT_RATE:-10000}
BUDGET=${FANOUT_BUDGET_S:-75}
LIFETIME=${FANOUT_REDIS_LIFETIME_S:-300}
TMP=$(mktemp -d)
pids=()
stop_all() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	pids=()
}
trap 'stop_all; rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM HUP
say() { echo "bench: $*" >&2; }

# A thousand followers hold 3000-4000 connections: the servers and bf-bench need the room.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

free_base() { # four ports in a row nobody listens on
	local p
	for ((p = 16400; p < 17400; p += 4)); do
		ss -Hltn "( sport = :$p or sport = :$((p + 1)) or sport = :$((p + 2)) or sport = :$((p + 3)) )" |
			grep -q . || { echo $p; return 0; }
	done
	return 1
}

start_redis() { # PORT [--replicaof 127.0.0.1 PORT]
	local port=$1
	shift
	mkdir -p "$TMP/$port"
	# As the lab's (tools/lab/lab), without the append-only file: keyspace notifications of
	# the lists and logs, no eviction.
	timeout -k 5 "$LIFETIME" redis-server --bind 127.0.0.1 --port "$port" --save "" \
		--appendonly no --protected-mode no --notify-keyspace-events Kgzxte \
		--maxmemory-policy noeviction --maxclients 10000 --repl-diskless-sync-delay 0 \
		--loglevel warning \
		--logfile "$TMP/$port/redis.log" --dir "$TMP/$port" "$@" &
	pids+=($!)
	for _ in $(seq 100); do
		redis-cli -p "$port" PING >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	say "fanout: redis-server on $port did not start: $(tail -3 "$TMP/$port/redis.log")"
	return 1
}

synced() { # PORT: the replica's link to its primary is up
	redis-cli -p "$1" INFO replication 2>/dev/null | grep -q '^master_link_status:up'
}

base=$(free_base) || { say "fanout: no four free ports in 16400-17399"; exit 1; }
# (the WAN relays take base+11 and base+12)
SINGLE=$base PRIMARY=$((base + 1)) R1=$((base + 2)) R2=$((base + 3))
start_redis $SINGLE
start_redis $PRIMARY
start_redis $R1 --replicaof 127.0.0.1 $PRIMARY
start_redis $R2 --replicaof 127.0.0.1 $PRIMARY
for _ in $(seq 100); do synced $R1 && synced $R2 && break; sleep 0.1; done
synced $R1 && synced $R2 || { say "fanout: the replicas did not sync with $PRIMARY"; exit 1; }

run() { # CONFIG N: one bf-bench fanout, its JSON line (one even when it printed none)
	local config=$1 n=$2 out rc=0 args interval records
	interval=${FANOUT_INTERVAL_MS:-$(((n * 1000 + RATE - 1) / RATE))}
	((interval >= 5)) || interval=5
	records=${FANOUT_RECORDS:-$((15000 / interval < 300 ? 15000 / interval : 300))}
	if [ "$config" = single ]; then
		args=(--redis 127.0.0.1:$SINGLE)
	else
		args=(--redis 127.0.0.1:$PRIMARY --replica 127.0.0.1:$R1 --replica 127.0.0.1:$R2)
	fi
	if ((SECONDS > BUDGET)); then
		say "fanout: $n followers, $config: skipped (the section has run ${SECONDS} s)"
		printf '{"config":"%s","followers":%d,"ok":false,"why":"skipped: the fan-out section had run %d s of its %d"}\n' \
			"$config" "$n" "$SECONDS" "$BUDGET"
		return
	fi
	say "fanout: $n followers, $([ "$config" = single ] && echo "one Redis" || echo "a primary and 2 replicas"), $records records one every $interval ms..."
	out=$("$BIN/bf-bench" fanout "${args[@]}" --followers "$n" --records "$records" \
		--interval-ms "$interval") || rc=$?
	if [ -n "$out" ]; then
		echo "$out"
	else
		printf '{"config":"%s","followers":%d,"ok":false,"why":"bf-bench fanout exited %d without a result"}\n' \
			"$config" "$n" "$rc"
	fi
}

# (c) the replicas in regions of their own: each replicates through a relay holding every
# byte WAN ms each way (tests/tools/delay_relay: this kernel has no netem). REPLICAOF to
# the relay continues the replication where it stands (PSYNC), no full copy.
wan() { # ON|OFF
	local i r port
	for i in 1 2; do
		r=R$i port=$((RELAY_BASE + i))
		if [ "$1" = ON ]; then
			redis-cli -p "${!r}" REPLICAOF 127.0.0.1 "$port" >/dev/null
		else
			redis-cli -p "${!r}" REPLICAOF 127.0.0.1 "$PRIMARY" >/dev/null
		fi
	done
	for _ in $(seq 100); do synced $R1 && synced $R2 && return 0; sleep 0.1; done
	say "fanout: the replicas did not sync again"
	return 1
}
WAN=${FANOUT_WAN_MS:-30}
RELAY=$ROOT/build/tests/delay_relay
RELAY_BASE=$((base + 10))
if ((WAN > 0)) && [ -x "$RELAY" ]; then
	for i in 1 2; do
		timeout -k 5 "$LIFETIME" "$RELAY" 127.0.0.1:$((RELAY_BASE + i)) 127.0.0.1:$PRIMARY "$WAN" "$WAN" \
			>>"$TMP/relay.log" 2>&1 &
		pids+=($!)
	done
fi

for n in $FOLLOWERS; do
	run single "$n"
	run replicas "$n"
	if [ "$n" = "${FANOUT_WAN_FOLLOWERS:-200}" ] && ((WAN > 0)) && [ -x "$RELAY" ] && wan ON; then
		run replicas "$n" | jq -c --argjson w "$WAN" '. + {config: "replicas_wan", wan_ms: $w}'
		wan OFF || exit 1
	fi
done
