#!/usr/bin/env bash
# redis_memory.sh - what the fleet's lists and change logs cost in Redis memory, measured
# (MEMORY USAGE ... SAMPLES 0: every element counted) on a private redis-server on
# loopback, written the way the fleet writes them (FCALL bifrost_add: the ZSET member, its
# log record with seq and card, the event). Prints one JSON object:
#   {"punch":{"n":1000,"zset":B,"log":B}, "bl":{...}, "punch_full":{"n":50000,...},
#    "redis":"7.0.15"}
# Bounded: N entries per kind, FULL for the full-log case. Needs redis-server, redis-cli.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$ROOT/build/bin
N=${MEM_N:-1000}
FULL=${MEM_FULL:-50000}
TMP=$(mktemp -d)
PORT=$((27000 + $$ % 1000))
redis-server --bind 127.0.0.1 --port $PORT --save "" --appendonly no --loglevel warning \
	--logfile "$TMP/redis.log" --dir "$TMP" &
rpid=$!
trap 'kill $rpid 2>/dev/null; wait $rpid 2>/dev/null; rm -rf "$TMP"' EXIT
rcli() { redis-cli -p $PORT "$@"; }
for _ in $(seq 100); do rcli PING >/dev/null 2>&1 && break; sleep 0.05; done
"$BIN/bifrostctl" --redis 127.0.0.1:$PORT functions load >/dev/null

# resp ARGS...: one command in Redis's protocol (entries hold spaces)
resp() { printf '*%d\r\n' $#; for a in "$@"; do printf '$%d\r\n%s\r\n' "${#a}" "$a"; done; }
# fill KIND ORIGIN COUNT: COUNT distinct entries added for an hour through the functions
fill() {
	local kind=$1 key=bifrost:$1:$2 i
	for ((i = 0; i < $3; i++)); do
		if [ "$kind" = punch ]; then
			resp FCALL bifrost_add 1 "$key" \
				"udp 198.51.$((100 + i / 65536 % 4)).$((i / 256 % 256)):$((1024 + i % 256)) 203.0.113.10:$((10000 + i % 50000)) via 198.18.3.2" \
				3600000 learned
		else
			resp FCALL bifrost_add 1 "$key" "10.$((i / 65536 % 256)).$((i / 256 % 256)).$((i % 256))/32" 3600000 flood
		fi
	done | rcli --pipe >/dev/null
}
mem() { rcli MEMORY USAGE "$1" SAMPLES 0; }
# measure KIND ORIGIN COUNT: {"n":..,"zset":..,"log":..,"log_records":..,"text":..} (text:
# the members' bytes alone, the baseline)
measure() {
	fill "$1" "$2" "$3"
	local text
	text=$(rcli ZRANGE "bifrost:$1:$2" 0 -1 | awk '{n += length($0)} END {print n + 0}')
	printf '{"n":%d,"zset":%d,"log":%d,"log_records":%d,"text":%d}' "$3" "$(mem "bifrost:$1:$2")" \
		"$(mem "bifrost:log:$1:$2")" "$(rcli XLEN "bifrost:log:$1:$2")" "$text"
}
printf '{"punch":%s,"bl":%s,"punch_full":%s,"redis":"%s"}\n' "$(measure punch m1 "$N")" \
	"$(measure bl m2 "$N")" "$(measure punch m3 "$FULL")" \
	"$(rcli INFO server | sed -n 's/^redis_version:\([0-9.]*\).*/\1/p')"
