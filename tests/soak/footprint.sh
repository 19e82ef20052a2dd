#!/usr/bin/env bash
# footprint.sh - `make soak`: a steady-state soak of the lab fleet that asserts nothing
# grows for ever. For SOAK_SECONDS (default 240) the game machine opens a new punch
# through pop1 every 200 ms (each lives 60 s: ~300 live at once) and an operator bans a
# new /32 for 20 s every 500 ms; both edges keep their own logs to 500 records. Once
# warm (punches and bans expire as fast as they come), Redis's used_memory, every key's
# size and both edges' RSS are sampled every 10 s; the last sample must not exceed the
# warm one by more than a small margin, and the expired entries must have left Redis.
# Needs root; runs on a lab of its own (under the lab lock); bounded in count and time.
set -u
DIR=$(cd "$(dirname "$0")" && pwd)
. "$DIR/../integration/lib.sh"
SECONDS_TOTAL=${SOAK_SECONDS:-240}
WARM=${SOAK_WARM:-90} # punch_ttl 60 s + a margin: the expiry rate has met the add rate
[ "$SECONDS_TOTAL" -gt $((WARM + 60)) ] || { echo "SOAK_SECONDS must exceed $((WARM + 60))" >&2; exit 2; }

# The edges with short logs and a minute of stats history, so that their streams reach
# their bounds within the soak.
for pop in pop1 pop2; do
	lab edge-kill "$pop"
	printf 'log_max_records 500\nstats_history 60s\n' >>"$STATE/$pop.conf"
	lab edge-start "$pop"
done
for _ in $(seq 100); do [ "$(rcli SCARD bifrost:edges)" = 2 ] && break; sleep 0.1; done
udp_probe c1 --to $ANYCAST:$GAME_PORT --count 3 --interval-ms 1 >/dev/null # gs learns c1 -> pop1

# The churn, in the background, each bounded by the soak's end.
end=$((SECONDS + SECONDS_TOTAL))
(
	p=0
	while [ $SECONDS -lt $end ]; do
		in_ns gs "$BIN/bf-netprobe" udp --from $ANYCAST:$((20000 + p % 40000)) --to $C1_ADDR:9 \
			--count 1 --timeout-ms 1 >/dev/null 2>&1
		p=$((p + 1))
		sleep 0.2
	done
) &
PIDS+=($!)
(
	b=0
	while [ $SECONDS -lt $end ]; do
		ctl bl add "198.19.$((b / 256 % 256)).$((b % 256))/32" --ttl 20s --reason soak >/dev/null 2>&1
		b=$((b + 1))
		sleep 0.5
	done
) &
PIDS+=($!)

rss() { ps -o rss= -p "$(cat "$STATE/edge-$1.pid")" | tr -d ' '; }
used() { rcli_as admin INFO memory | sed -n 's/^used_memory:\([0-9]*\).*/\1/p'; }
# sizes: "key size" for every key under bifrost: (members, fields, records or bytes)
sizes() {
	local k t
	rcli_as admin --scan --pattern 'bifrost:*' | sort | while read -r k; do
		t=$(rcli_as admin TYPE "$k")
		case $t in
		zset) echo "$k $(rcli_as admin ZCARD "$k")" ;;
		stream) echo "$k $(rcli_as admin XLEN "$k")" ;;
		hash) echo "$k $(rcli_as admin HLEN "$k")" ;;
		set) echo "$k $(rcli_as admin SCARD "$k")" ;;
		*) echo "$k $(rcli_as admin MEMORY USAGE "$k")" ;;
		esac
	done
}

begin "warming up: ${WARM} s of churn before the first sample"
sleep "$WARM"
warm_used=$(used)
warm_rss1=$(rss pop1)
warm_rss2=$(rss pop2)
sizes >"$TMP/warm.sizes"
echo "     warm: used_memory $warm_used B, pop1 RSS $warm_rss1 KiB, pop2 RSS $warm_rss2 KiB, $(wc -l <"$TMP/warm.sizes") keys"
while [ $SECONDS -lt $((end - 5)) ]; do
	sleep 10
	echo "     t=$((SECONDS_TOTAL - (end - SECONDS))) s: used_memory $(used) B, punch:pop1 $(rcli ZCARD bifrost:punch:pop1), bl:ops $(rcli ZCARD bifrost:bl:ops), log:punch:pop1 $(rcli XLEN bifrost:log:punch:pop1), RSS $(rss pop1)/$(rss pop2) KiB"
done
for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
PIDS=()
# The ops list is pruned at each ops write: right after the last ban, only the bans that
# expired since (one every 500 ms) are left, which bifrostctl prune takes.
pruned=$(ctl prune --json | jq -r .bl)
sleep 2 # our edges' last prunes

# What the memory budget of docs/OPERATIONS.md is made of, as this soak saw it.
for k in bifrost:punch:pop1 bifrost:log:punch:pop1 bifrost:log:stats:pop1 bifrost:bl:ops; do
	n=$(rcli_as admin TYPE "$k" | sed 's/zset/ZCARD/; s/stream/XLEN/')
	echo "     $k: $(rcli_as admin "$n" "$k") elements, $(rcli_as admin MEMORY USAGE "$k" SAMPLES 0) B"
done
begin "after $SECONDS_TOTAL s of churn nothing grew past its steady state"
last_used=$(used)
sizes >"$TMP/last.sizes"
# A key may grow by 10% and 120 elements past its warm size: the churn is not perfectly
# even, and streams are trimmed by whole nodes of up to 100 records. The ops logs are
# left out: bounded by the functions' 50,000 records and a day, which 4 minutes of bans
# do not reach (checked below).
grown=$(join "$TMP/warm.sizes" "$TMP/last.sizes" | grep -v '^bifrost:log:[a-z]*:ops ' |
	awk '$3 > $2 * 1.1 + 120 {print $1 " " $2 " -> " $3}')
eq "no key of the fleet grew past its warm size" "$grown" ""
check "the ops ban log is within its bound" test "$(rcli XLEN bifrost:log:bl:ops)" -le 50100
new_keys=$(join -v 2 "$TMP/warm.sizes" "$TMP/last.sizes" | awk '{print $1}' | tr '\n' ' ')
eq "no key appeared but the churn's own" "$(tr ' ' '\n' <<<"$new_keys" | grep -v '^$' | grep -cv '^bifrost:\(evt\|a2s\)')" 0
check "Redis used_memory is flat: $warm_used -> $last_used B (at most +10% +512 KiB)" \
	test "$last_used" -le $((warm_used * 11 / 10 + 524288))
for pop in pop1 pop2; do
	w=$([ $pop = pop1 ] && echo "$warm_rss1" || echo "$warm_rss2")
	l=$(rss $pop)
	check "$pop's RSS is flat: $w -> $l KiB (at most +5% +2 MiB)" test "$l" -le $((w * 105 / 100 + 2048))
done
now=$(now_ms)
eq "no expired punch is left in Redis" "$(rcli ZCOUNT bifrost:punch:pop1 -inf $((now - 2000)))" 0
check "right after the last ban, few expired ops bans were left ($pruned)" test "$pruned" -le 4
ctl prune >/dev/null
eq "and bifrostctl prune takes what expired since" "$(rcli ZCOUNT bifrost:bl:ops -inf "$(now_ms)")" 0
ge "pop1 pruned its expired punches (bifrost_sync_pruned_total)" \
	"$(in_ns pop1 curl -s http://127.0.0.1:9477/metrics | awk '$1 == "bifrost_sync_pruned_total" {print $2}')" \
	$(((SECONDS_TOTAL - 70) * 2))
check "pop1's own punch log stays near its 500 records" test "$(rcli XLEN bifrost:log:punch:pop1)" -lt 700
lines=$(grep -c "expired in the last" "$STATE/edge-pop2.log")
check "expiry is logged once a minute, not every second ($lines lines)" test "$lines" -le $((SECONDS_TOTAL / 60 + 1))
summary
