#!/usr/bin/env bash
# run.sh - `make bench`: every figure beside a baseline measured in the same
# run, written to docs/BENCHMARKS.md with the machine it ran on. Needs root.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$ROOT/build/bin
OUT=${BENCH_OUT:-$ROOT/docs/BENCHMARKS.md}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
[ "$(id -u)" = 0 ] || { echo "make bench needs root" >&2; exit 1; }
exec 9>/run/bifrost-lab.lock # one lab per machine: wait for a test run to finish
flock 9

echo "bench: per-path cost (live frames)..." >&2
"$BIN/bf-bench" paths 2000000 5 >"$TMP/paths.json"
echo "bench: firewall rules, rate limits, echo (live frames)..." >&2
"$BIN/bf-bench" rules 1000000 5 >"$TMP/rules.json"
echo "bench: cost of the counters (stats on vs off)..." >&2
"$BIN/bf-bench" stats 2000000 5 >"$TMP/stats.json"
echo "bench: cost of the trust checks (on vs off)..." >&2
"$BIN/bf-bench" trust 2000000 5 >"$TMP/trust.json"
for n in 10000 100000 1000000; do
	echo "bench: blacklist look-up, $n entries..." >&2
	"$BIN/bf-bench" lookup $n 2000000 3 >>"$TMP/lookup.json"
done
echo "bench: live traffic on veth..." >&2
COUNT=${LIVE_COUNT:-20000000} ROUNDS=${LIVE_ROUNDS:-3} "$ROOT/tools/bench/live.sh" >"$TMP/live.json"
echo "bench: scaling across cores, one vs two queues and cores (veth)..." >&2
COUNT=${LIVE_COUNT:-20000000} ROUNDS=${LIVE_ROUNDS:-3} "$ROOT/tools/bench/scale.sh" >"$TMP/scale.json"
echo "bench: fleet sync (three labs in turn)..." >&2
"$ROOT/tools/bench/fleet.sh" >"$TMP/fleet.json"
echo "bench: the convergence digest, 10 vs 1000000 entries (private Redis)..." >&2
DPORT=$((26000 + $$ % 1000))
redis-server --bind 127.0.0.1 --port $DPORT --save "" --appendonly no --loglevel warning \
	--logfile "$TMP/digest-redis.log" --dir "$TMP" &
dredis=$!
for _ in $(seq 100); do redis-cli -p $DPORT PING >/dev/null 2>&1 && break; sleep 0.05; done
"$BIN/bf-bench" digest --redis 127.0.0.1:$DPORT >"$TMP/digest.json" || true
kill $dredis; wait $dredis 2>/dev/null || true
echo "bench: fan-out, one writer to 200 and 1000 followers, one Redis vs two replicas (private Redis)..." >&2
"$ROOT/tools/bench/fanout.sh" >"$TMP/fanout.json" || true
echo "bench: Redis memory of the lists and logs (private Redis)..." >&2
"$ROOT/tools/bench/redis_memory.sh" >"$TMP/memory.json"
echo "bench: A2S replies, AF_XDP workers vs recvmmsg (veth)..." >&2
"$BIN/bf-bench" a2s --count 200000 --window 128 --latency 5000 --rounds 5 >"$TMP/a2s.json"
echo "bench: A2S load on the game server, cache on vs off (lab)..." >&2
"$ROOT/tools/bench/a2s_load.sh" >"$TMP/a2s_load.json"

cpu=$(lscpu | awk -F: '/Model name/ {gsub(/^ +/, "", $2); print $2; exit}')
{
	echo "# Benchmarks"
	echo
	echo "Written by \`make bench\` ($(date -u +%Y-%m-%dT%H:%MZ), commit $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown))."
	echo "Machine: $cpu, $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, kernel $(uname -r)."
	echo "Every ratio is to a baseline measured in the same run. No hardware counters on this VM:"
	echo "times are wall-clock, best of several interleaved rounds."
	echo
	echo "## Cost per verdict path (bpf_prog_test_run, live frames)"
	echo
	echo "Each frame really leaves by XDP_TX into a veth whose peer drops it, so encapsulation"
	echo "and decapsulation are measured as they run. Baseline: a bare XDP_DROP program."
	echo
	echo "| path | ns/packet | × bare XDP_DROP |"
	echo "|---|---:|---:|"
	jq -r '.[] | "| \(.path) | \(.ns_per_pkt) | \(.ratio_to_xdp_drop) |"' "$TMP/paths.json"
	echo
	echo "\`default_drop\` is traffic to an address this POP does not serve (one look-up);"
	echo "\`blacklist_drop\` goes through the whitelist, blocklist and blacklist look-ups."
	echo
	echo "## Firewall rules, rate limits, ICMP echo (bpf_prog_test_run, live frames)"
	echo
	echo "\`closed_port_nothing_open\` is UDP to a port of a bind address that nothing opens:"
	echo "dropped right after the whitelist (docs/ARCHITECTURE.md, \"Closed ports\")."
	echo "\`closed_port_rules\` is UDP to a bind address on a port no connection has, held open"
	echo "by a punch of another remote, so it goes the whole way: every list, then N rules of"
	echo "the UDP class that each compare five fields and fail on the last (so all N are"
	echo "evaluated in full), then the default drop. The forward rows send"
	echo "the frame to the game machine (XDP_TX), once without a per-source limit, once with"
	echo "one that is never reached (the GCRA check of every packet). \`ratelimit_over_limit\`"
	echo "is a source over a police-only limit (full check, then drop); \`ratelimit_blocked\`"
	echo "a source already in the blocklist (every packet of a flood after its first)."
	echo "Baseline: an empty XDP program (XDP_DROP) in the same run."
	echo
	echo "| path | rules | ns/packet | × empty XDP_DROP |"
	echo "|---|---:|---:|---:|"
	jq -r '.[] | "| \(.path) | \(.rules) | \(.ns_per_pkt) | \(.ratio_to_empty_xdp_drop) |"' "$TMP/rules.json"
	echo
	jq -r '[.[] | select(.path=="closed_port_rules")] as $r | ($r[] | select(.rules==0) | .ns_per_pkt) as $z | ($r[] | select(.rules==1000) | .ns_per_pkt) as $k | "Each rule costs about \((($k - $z) / 1000) * 10 | round / 10) ns when none matches (1000 rules vs none)."' "$TMP/rules.json"
	echo
	echo "\`closed_port_port_rules\` is the same N rules, each naming a port of its own (30000 + i),"
	echo "none the packet's: the port index (docs/ARCHITECTURE.md, \"Firewall rules\") skips them."
	jq -r '[.[] | select(.path=="closed_port_port_rules")] as $r | ($r[] | select(.rules==10) | .ns_per_pkt) as $a | ($r[] | select(.rules==1000) | .ns_per_pkt) as $b | "1000 rules on distinct ports cost \(($b / $a * 100 | round) / 100)× what 10 do (goal: at most 2×)."' "$TMP/rules.json"
	echo
	echo "\`forward_validated\` is a client's packet to a connection with \`validate srcds\` that the"
	echo "client has validated (one more look-up, \`bf_valid\`); \`unvalidated_junk\` game-port junk"
	echo "from a source that has not (dropped as \`unvalidated\`)."
	jq -r '(.[] | select(.path=="forward_validated") | .ns_per_pkt) as $v | (.[] | select(.path=="forward_no_limit") | .ns_per_pkt) as $f | (.[] | select(.path=="unvalidated_junk") | .ns_per_pkt) as $u | (.[] | select(.path=="closed_port_rules" and .rules==0) | .ns_per_pkt) as $c | "A validated client'"'"'s packet costs \(($v / $f * 100 | round) / 100)× the same forward without validation; junk from an unvalidated source \(($u / $c * 100 | round) / 100)× a closed-port drop."' "$TMP/rules.json"
	echo
	echo "## Cost of the counters"
	echo
	echo "The same edge program loaded twice, with its per-reason counters (\`bf_stats\`) and"
	echo "per-connection counters (\`bf_conn_stats\`) and with both compiled out by the verifier"
	echo "(rodata \`bf_stats_off\`, set only by bf-bench); live frames, interleaved rounds, best of each."
	echo
	echo "| path | counters on ns | counters off ns | on ÷ off |"
	echo "|---|---:|---:|---:|"
	jq -r '.[] | "| \(.path) | \(.with_ns) | \(.without_ns) | \(.ratio) |"' "$TMP/stats.json"
	echo
	echo "## Cost of the trust checks"
	echo
	echo "The same edge program loaded twice: as it runs, and with the checks the trust"
	echo "boundary added to these paths compiled out (rodata \`bf_bench_unchecked\`, set only by"
	echo "bf-bench): the return path's interface and outer-destination test, and the IPv4 header"
	echo "checksum before encapsulation. Live frames, interleaved rounds, best of each."
	echo
	echo "| path | checks on ns | checks off ns | on ÷ off |"
	echo "|---|---:|---:|---:|"
	jq -r '.[] | "| \(.path) | \(.with_ns) | \(.without_ns) | \(.ratio) |"' "$TMP/trust.json"
	echo
	echo "Goal (trust-boundary issue): ≤ 1.10 on the forward and return paths."
	echo
	echo "## Blacklist look-up: hash per prefix length vs LPM trie"
	echo
	echo "Same entries in both (90% /32, 10% /24, random addresses); each look-up is a random"
	echo "source drawn from inside the entries. Baseline: the same program without the look-up"
	echo "(random draw + array read), subtracted."
	echo
	echo "| entries | hash ns | LPM trie ns | LPM / hash |"
	echo "|---:|---:|---:|---:|"
	jq -r '"| \(.entries) | \(.hash_lookup_ns) | \(.lpm_lookup_ns) | \(.lpm_over_hash) |"' "$TMP/lookup.json"
	echo
	echo "## Live traffic on veth"
	echo
	echo "A live-frames XDP sender (bf-bench send) pushes 64-byte UDP frames into a veth; the"
	echo "peer drops them. Sender and receiver share one core (veth runs the receiver's NAPI in"
	echo "the sender's softirq), so each rate is 1 / (sender + receiver cost)."
	echo
	base=$(jq -r 'select(.receiver=="xdp_drop") | .pps' "$TMP/live.json")
	nft=$(jq -r 'select(.receiver=="nftables_drop") | .pps' "$TMP/live.json")
	echo "| receiver | Mpps | × bare XDP_DROP | × nftables |"
	echo "|---|---:|---:|---:|"
	jq -r --argjson b "$base" --argjson n "$nft" \
		'"| \(.receiver) | \(.pps / 1e6 * 100 | round / 100) | \(.pps / $b * 100 | round / 100) | \(.pps / $n * 100 | round / 100) |"' "$TMP/live.json"
	echo
	echo "Goal (issue 2): Bifrost ≥ 0.6× bare XDP_DROP and ≥ 3× nftables on the default-drop path; (speed issue) the closed-port flood ≥ 0.75× and the unserved-address flood ≥ 0.85× bare XDP_DROP."
	echo "\`bifrost_drop_unserved_addr\` is a flood at an address the POP does not serve;"
	echo "\`bifrost_drop_closed_port\` a flood at the anycast address on a port nothing opens,"
	echo "dropped right after the whitelist (closed ports). nftables drops at the netdev ingress hook."
	echo "\`bifrost_closed_port_N_port_rules\` is that flood with N firewall rules, each dropping"
	echo "UDP to a port of its own (30000 + i), none the flood's: they open their own ports only"
	echo "(bf-bench rules above measures the rules' port index on a port held open)."
	echo "\`nftables_N_port_set\` is nftables with the same N ports as a set"
	echo "(\`udp dport @ports drop\`, its fastest form) before the same drop."
	echo "\`bifrost_drop_unvalidated\` is the flood at the game port of a connection with"
	echo "\`validate srcds\`, from a source that did no handshake: dropped as \`unvalidated\`."
	jq -rs '(map(select(.receiver == "bifrost_drop_unvalidated"))[0].pps) as $u | (map(select(.receiver == "xdp_drop"))[0].pps) as $b | (map(select(.receiver == "nftables_drop"))[0].pps) as $n | if $u then "A junk flood at a validating connection is dropped at \(($u / $b * 100 | round) / 100)× the rate of bare XDP_DROP and \(($u / $n * 100 | round) / 100)× nftables'"'"' (handshake-validation issue)." else empty end' "$TMP/live.json"
	jq -rs '(map(select(.receiver | test("^bifrost_closed_port_[0-9]+_port_rules$"))) | sort_by(.receiver | capture("_(?<n>[0-9]+)_").n | tonumber)) as $r | if ($r | length) > 1 then "Bifrost with \($r[-1].receiver | capture("_(?<n>[0-9]+)_").n) port rules handles \(($r[-1].pps / $r[0].pps * 100 | round) / 100)× the rate it handles with \($r[0].receiver | capture("_(?<n>[0-9]+)_").n) (goal: the cost at most 2×)." else empty end' "$TMP/live.json"
	echo
	echo "### Scaling across cores"
	echo
	echo "The same floods on a veth pair with two queues each way (tools/bench/scale.sh): one"
	echo "sender on CPU 0, then one on CPU 0 and one on CPU 1 at once. veth puts a frame on the"
	echo "receive queue of the CPU that sends it and runs that queue on the same CPU, so each"
	echo "core carries one sender and one queue, as a NIC's RSS spreads a flood over its queues."
	echo "Two cores' rate is what both queues handled over the longer of the two runs (the"
	echo "senders start a few ms apart, which counts against it)."
	echo
	echo "| receiver | Mpps, CPU 0 alone | Mpps, CPU 1 alone | Mpps, both | both ÷ CPU 0 | both ÷ (CPU 0 + CPU 1) |"
	echo "|---|---:|---:|---:|---:|---:|"
	jq -r '"| \(.receiver) | \(.pps_1_core / 1e6 * 100 | round / 100) | \(.pps_1_core_cpu1 / 1e6 * 100 | round / 100) | \(.pps_2_cores / 1e6 * 100 | round / 100) | \(.ratio) | \(.efficiency) |"' "$TMP/scale.json"
	echo
	echo "Goal (speed issue): ≥ 1.8× with two cores. The VM's two vCPUs are not always equally"
	echo "fast (the host's load lands on one at times): the last column is what two cores do over"
	echo "what each does alone, measured in the same rounds. The A2S bench is not run this way:"
	echo "its client needs a core of its own, and this machine has two."
	echo
	echo "## Fleet sync over Redis"
	echo
	echo "Each on a fresh lab (tools/lab/lab): edges in namespaces, one redis-server (append-only"
	echo "file, fsync every second), all on this machine's two cores."
	echo
	echo "### Punch propagation"
	echo
	echo "bf-bench runs the edge program attached to pop1's uplink (bpf_prog_test_run) on an IPIP"
	echo "return-path packet that opens a new flow, then polls the peers' pinned \`bf_punches\` maps"
	echo "(every 20 µs) until the punch is in each. Path: XDP learns it → ring buffer → pop1's"
	echo "daemon → MULTI ZADD/XADD/PUBLISH/EXEC → each peer's blocking XREAD → its map. One punch"
	echo "at a time, each a new flow. Baseline: PING from pop1's namespace to the same Redis, same run."
	echo "Redis login: *none* is the lab with \`BF_LAB_ACL=0\` (the default user, no password); *ACL*"
	echo "is the lab as it normally runs: the default user off, every edge logged in as its own ACL"
	echo "user (\`bifrostctl acl\`, docs/REDIS.md), so Redis checks each command's keys and channels"
	echo "against the user's patterns and selectors; its PING logs in as the inspector."
	echo
	echo "| edges | Redis login | punches | PING p50 / p99 µs | first peer p50 / p99 / max µs | every peer p50 / p99 / max µs | last peer p50 / p99 / max µs | last-peer p50 ÷ PING p50 | lost |"
	echo "|---:|---|---:|---:|---:|---:|---:|---:|---:|"
	jq -r 'select(.bench=="propagation") | "| \(.edges) | \(if .acl then "ACL" else "none" end) | \(.punches) | \(.ping.p50_us) / \(.ping.p99_us) | \(.first_peer.p50_us) / \(.first_peer.p99_us) / \(.first_peer.max_us) | \(.every_peer.p50_us) / \(.every_peer.p99_us) / \(.every_peer.max_us) | \(.last_peer.p50_us) / \(.last_peer.p99_us) / \(.last_peer.max_us) | \(.last_peer.p50_us / .ping.p50_us * 10 | round / 10) | \(.lost) |"' "$TMP/fleet.json"
	echo
	echo "Goal (issue 3): p99 < 5 ms with 8 edges (the *last peer* column: the punch is in every POP)."
	echo "ACL users, 8 edges, last peer, ACL minus none (same run): $(jq -rs '[.[] | select(.bench=="propagation" and .edges==8)] as $r | ($r | map(select(.acl)) | .[0]) as $a | ($r | map(select(.acl | not)) | .[0]) as $n | if $a and $n then "p50 \($a.last_peer.p50_us - $n.last_peer.p50_us) µs, p99 \($a.last_peer.p99_us - $n.last_peer.p99_us) µs" else "not measured" end' "$TMP/fleet.json")."
	echo
	echo "With read replicas (\`BF_LAB_REPLICAS=2\`: pop1, pop3, ... read from 198.18.4.2:6381, the others"
	echo "from :6382, every edge writes to the primary; no login), same run (across the WAN 1,000 punches):"
	echo
	echo "| edges | reading from a replica | PING p50 / p99 µs | every peer p50 / p99 / max µs | last peer p50 / p99 / max µs | last peer p99 ÷ one Redis's | lost |"
	echo "|---:|---:|---:|---:|---:|---:|---:|"
	jq -rs '([.[] | select(.bench=="propagation" and .edges==8 and (.acl | not))] | .[0]) as $n | .[] | select(.bench=="propagation_replicas" or .bench=="propagation_replicas_wan") | "| \(.edges)\(if .wan_ms then ", replicas \(.wan_ms) ms away" else "" end) | \(.reading_replica) of \(.edges) | \(.ping.p50_us) / \(.ping.p99_us) | \(.every_peer.p50_us) / \(.every_peer.p99_us) / \(.every_peer.max_us) | \(.last_peer.p50_us) / \(.last_peer.p99_us) / \(.last_peer.max_us) | \(if $n then (.last_peer.p99_us / $n.last_peer.p99_us * 100 | round / 100) else "-" end) | \(.lost) |"' "$TMP/fleet.json"
	echo
	echo "A replica adds one hop (primary → replica → edge): what it buys is the primary's load and,"
	echo "across regions, the round trip to a replica nearby. *Replicas N ms away*: \`BF_LAB_WAN_MS\`,"
	echo "each replica replicating through a relay that holds every byte N ms each way (this kernel"
	echo "has no netem); the punch is made at pop1 and written to the primary directly, so the"
	echo "WAN is crossed once on its way to the others."
	echo
	echo "### Failover (Redis Sentinel)"
	echo
	echo "The lab on Sentinel in regions (\`BF_LAB_SENTINEL=1 BF_LAB_REPLICAS=2 BF_LAB_WAN_MS\`: a"
	echo "primary, two replicas each behind its own WAN, three sentinels, \`down-after-milliseconds"
	echo "1000\`, \`failover-timeout 3000\`, ACL users; pop1 reads from one replica, pop2 from the"
	echo "other): the primary SIGKILLed; then a SET through the primary the sentinels name every"
	echo "50 ms until one is accepted, and at that moment a ban with bifrostctl, until it is in both"
	echo "POPs' maps."
	echo
	echo "| down-after ms | WAN ms | first write accepted after ms | in every edge's map after ms |"
	echo "|---:|---:|---:|---:|"
	jq -r 'select(.bench=="failover") | "| \(.down_after_ms) | \(.wan_ms) | \(.write_ms) | \(.every_edge_ms) |"' "$TMP/fleet.json"
	echo
	echo "With Sentinel's default \`down-after-milliseconds 5000\` add the 4 s; -1 means not within 30 s."
	echo
	echo "### Punch propagation through the encrypted Redis link"
	echo
	echo "A lab of 3 edges: pop2 reaches Redis only through stunnel (TLS 1.3, a pre-shared key;"
	echo "docs/OPERATIONS.md, \"Encrypting the Redis link\"), pop3 on the plain link like pop1. The"
	echo "same punches, made at pop1 as above, are timed into each peer's map on its own. Baseline:"
	echo "the plain peer, same punches."
	echo
	echo "| peer | link | punches | p50 µs | p99 µs | max µs |"
	echo "|---|---|---:|---:|---:|---:|"
	jq -r 'select(.bench=="propagation_tunnel") | (["pop3", "plain", .peers["p3-up"]], ["pop2", "stunnel (TLS 1.3, PSK)", .peers["p2-up"]]) | . as [$n, $l, $d] | "| \($n) | \($l) | \($d.n) | \($d.p50_us) | \($d.p99_us) | \($d.max_us) |"' "$TMP/fleet.json"
	echo
	jq -r 'select(.bench=="propagation_tunnel") | .peers["p3-up"] as $p | .peers["p2-up"] as $t | "The tunnel adds \($t.p50_us - $p.p50_us) µs at p50 and \($t.p99_us - $p.p99_us) µs at p99 (tunnel ÷ plain at p50: \($t.p50_us / $p.p50_us * 100 | round / 100))."' "$TMP/fleet.json"
	echo
	echo "### Sustained apply rate of one edge"
	echo
	echo "pop2 is stopped (SIGSTOP) while bf-bench queues blacklist records in a peer's log, then"
	echo "continued: the time until the last entry is in its map gives the rate at which it reads"
	echo "(XREAD COUNT 1000), validates and applies. The other edges are stopped meanwhile, so"
	echo "they do not take its CPU (each POP has its own machine). Baseline: redis-benchmark XADD"
	echo "against the same Redis (50 clients, pipeline 16), the rate Redis ingests such records."
	echo
	xadd=$(jq -r 'select(.bench=="xadd") | .per_s' "$TMP/fleet.json")
	echo "| what | entries/s | × redis-benchmark XADD |"
	echo "|---|---:|---:|"
	jq -r --argjson x "$xadd" 'select(.bench=="apply") | "| edge applies a peer'"'"'s log (\(.entries) records, \(.in_map) in the map after) | \(.per_s) | \(.per_s / $x * 100 | round / 100) |"' "$TMP/fleet.json"
	echo "| redis-benchmark XADD | $xadd | 1 |"
	echo
	echo "Goal (issue 3): ≥ 50,000 entries/s; (speed issue) ≥ 1× redis-benchmark XADD."
	echo
	echo "### Full resync"
	echo
	echo "A new origin with a million blacklist entries in its ZSET joins \`bifrost:edges\`; pop2 finds"
	echo "it on its next peer refresh (≤ 1 s), has no cursor, and reads the ZSET with ZSCAN COUNT"
	echo "1000, applying every entry: the next page is asked for before a page is applied, and a"
	echo "page's list entries go to the map in one run of the batch writer (bifrost_list_batch)."
	echo "Timed by pop2's own log lines (resync begin → done); the other edges stopped meanwhile,"
	echo "as above."
	echo
	echo "| entries | found after ms | resync s | entries/s | in the map after | edge RSS MiB |"
	echo "|---:|---:|---:|---:|---:|---:|"
	jq -r 'select(.bench=="resync") | "| \(.entries) | \(.found_after_ms) | \(.resync_s) | \(.per_s) | \(.in_map) | \(.rss_kib / 1024 | round) |"' "$TMP/fleet.json"
	echo
	echo "Goal (issue 3): < 10 s; (speed issue) ≤ 3 s."
	echo
	echo "### The convergence digest"
	echo
	echo "Every 10 s an edge compares, for each list it follows, ZCARD with the count its log's"
	echo "newest record carries (one MULTI of XREVRANGE COUNT 1 + ZCARD per list). bf-bench digest"
	echo "runs the real sync client against a private redis-server following one origin from a"
	echo "cursor at its log's end, twice for $(jq -r .seconds "$TMP/digest.json") s: with the digest at every tick and with it"
	echo "off; the difference is the digest's. Redis's time is its own command accounting (INFO"
	echo "commandstats), its CPU INFO's used_cpu, the client's getrusage. Baseline: Redis's"
	echo "round trip (PING), $(jq -r .ping_us "$TMP/digest.json") µs, same run."
	echo
	echo "| entries in the list | lists followed | rounds | Redis µs / round | Redis CPU µs / round | edge CPU µs / round | Redis µs per edge per second (10 s interval) | Redis µs / round ÷ PING |"
	echo "|---:|---:|---:|---:|---:|---:|---:|---:|"
	jq -r '.ping_us as $p | .phases[] | "| \(.entries) | \(.lists) | \(.rounds) | \(.redis_cmd_us_per_round) | \(.redis_cpu_us_per_round) | \(.client_cpu_us_per_round) | \(.redis_cmd_us_per_round / 10 * 10 | round / 10) | \(.redis_cmd_us_per_round / $p * 100 | round / 100) |"' "$TMP/digest.json"
	echo
	echo "The cost does not grow with the list: ZCARD and XREVRANGE COUNT 1 are O(1). CPU"
	echo "figures are differences of two runs on a shared machine: noisy, small."
	echo
	echo "### Fan-out: one writer, many followers, one Redis vs a primary and two replicas"
	echo
	echo "tools/bench/fanout.sh: private redis-servers on loopback (no append-only file; keyspace"
	echo "notifications and no eviction, as in the lab): (a) one Redis; (b) a primary and two"
	echo "replicas (\`--replicaof\`). bf-bench fanout runs N followers in one process, each a real"
	echo "sync client (\`read_peers\`: the reader every edge runs, with its three connections, blocking"
	echo "XREAD, event channels and keyspace notifications), on two event loops (a thread each), and"
	echo "a writer, a sync client of its own origin, writing blacklist entries at a fixed pace. A"
	echo "record's time runs from just before the writer queues it (\`sync_client_write\`) to each"
	echo "follower's \`on_record\` (one process, one monotonic clock), over every (follower, record)"
	echo "pair; *last follower* is, per record, the time until every follower has it. In (b) the"
	echo "followers are spread evenly over the two replicas (\`sync_config.replica\`: reads there"
	echo "while it keeps up) and the writer writes to the primary. The followers follow the writer"
	echo "only (and ops): each logs in as a user without SADD, so none joins \`bifrost:edges\`."
	echo "Timing starts once every follower has its three links up, has read the writer's log"
	echo "through its blocking XREAD and is past its first digest round (which all followers run"
	echo "together a second after they start; later ones are 10-11 s apart, spread)."
	echo "Baseline: PING from the same process to the same Redis, same run. Redis, the followers and"
	echo "the writer share this machine's two cores, so the writer is paced to about 10,000"
	echo "deliveries (records × followers) a second, a load the two cores carry on average (one"
	echo "record every 5 ms to 200 followers would be 40,000, more than they can); each record"
	echo "still reaches all N followers at once. The CPU columns are % of one core over the"
	echo "writing and catching up."
	echo
	echo "| Redis | followers | records, one every | PING p50 / p99 µs | every (follower, record) p50 / p99 / max µs | last follower p50 / p99 / max µs | records at the follower with fewest | reading from a replica, start / end | bf-bench CPU % | Redis CPU % | missing |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
	jq -r 'select(.latency) | "| \(if .config == "single" then "(a) one" elif .config == "replicas_wan" then "(c) primary + \(.replicas) replicas, \(.wan_ms) ms WAN" else "(b) primary + \(.replicas) replicas" end) | \(.followers) | \(.records), \(.interval_ms) ms | \(.ping.p50_us) / \(.ping.p99_us)\(if .ping_replica then " (replicas \(.ping_replica.p50_us) / \(.ping_replica.p99_us))" else "" end) | \(.latency.p50_us) / \(.latency.p99_us) / \(.latency.max_us) | \(.last_follower.p50_us) / \(.last_follower.p99_us) / \(.last_follower.max_us) | \(.got_min) of \(.records) | \(if .config == "single" then "–" else "\(.on_replica_at_start) / \(.on_replica_at_end) of \(.followers)" end) | \(.bench_cpu_pct) | \(.redis_cpu_pct | map(tostring) | join(" + ")) | \(.missing) |"' "$TMP/fanout.json"
	echo
	jq -r 'select(.latency and (.duplicates + .resyncs + .gaps + .disconnects > 0)) | "\(if .config == "single" then "(a)" else "(b)" end), \(.followers) followers, from the priming record on: \(.resyncs) resyncs (\(.digest_mismatches) found by the digest, \(.gaps) gaps), \(.duplicates) records delivered again, \(.disconnects) links lost\(if .replica_fallbacks then ", \(.replica_fallbacks) reads moved off a replica" else "" end)."' "$TMP/fanout.json"
	jq -r 'select(.latency | not) | "Not measured, \(.followers) followers, \(if .config == "single" then "(a)" else "(b)" end): \(.why)."' "$TMP/fanout.json"
	jq -rs 'map(select(.config == "replicas_wan" and .latency))[] | "(c), \(.followers) followers, replicas \(.wan_ms) ms away (each way): last follower p99 \(.last_follower.p99_us) µs = \(.wan_ms) ms of WAN + \(.last_follower.p99_us - .wan_ms * 1000) µs (goal: p99 < 20 ms plus the WAN delay); \(.on_replica_at_end) of \(.followers) on their replica at the end."' "$TMP/fanout.json"
	jq -rs 'group_by(.followers)[] | (map(select(.config == "single" and .latency))[0]) as $a | (map(select(.config == "replicas" and .latency))[0]) as $b | if $a and $b then "\($a.followers) followers, (b) ÷ (a) at p99: \(($b.latency.p99_us / $a.latency.p99_us * 100 | round) / 100) over every pair, \(($b.last_follower.p99_us / $a.last_follower.p99_us * 100 | round) / 100) for the last follower; in (b) \($b.on_replica_at_end) of \($b.followers) followers read from their replica at the end\(if $b.on_replica_at_end < $b.followers then " (the others from the primary: \"\($b.replica_why)\")" else "" end). Last follower p50 ÷ PING p50 in (a): \(($a.last_follower.p50_us / $a.ping.p50_us * 10 | round) / 10)." else empty end' "$TMP/fanout.json"
	echo
	echo "### Redis memory of the lists and change logs"
	echo
	echo "tools/bench/redis_memory.sh: a private redis-server $(jq -r .redis "$TMP/memory.json"), entries written as the fleet writes"
	echo "them (FCALL bifrost_add: the ZSET member, its log record with seq and card), then"
	echo "MEMORY USAGE ... SAMPLES 0 (every element counted). Baseline: the same entries' text alone"
	echo "(what any store must keep), so the ratio is Redis's overhead. docs/OPERATIONS.md, \"Redis"
	echo "memory\", builds the fleet's budget from these."
	echo
	echo "| what | entries | ZSET bytes | log bytes (records) | bytes per entry, ZSET + log | text bytes per entry | × text |"
	echo "|---|---:|---:|---:|---:|---:|---:|"
	jq -r '(["punches", .punch], ["blacklist /32", .bl], ["punches, a full default log", .punch_full]) | . as [$n, $m] | "| \($n) | \($m.n) | \($m.zset) | \($m.log) (\($m.log_records)) | \(($m.zset + $m.log) / $m.n | round) | \($m.text / $m.n | round) | \(($m.zset + $m.log) / $m.text * 10 | round / 10) |"' "$TMP/memory.json"
	echo
	echo "## A2S cache"
	echo
	echo "### Replies per second: AF_XDP workers vs a recvmmsg server"
	echo
	echo "bf-bench a2s: a veth pair between two private namespaces. The server end runs either"
	echo "the edge program with the AF_XDP A2S workers (copy mode: veth has no zero-copy) and a"
	echo "cached INFO reply of $(jq -r .info_bytes "$TMP/a2s.json") bytes, or (baseline) no Bifrost: a plain UDP server on"
	echo "the same address and port, recvmmsg/sendmmsg in batches of 64, doing the same work"
	echo "(classify, check the challenge, copy the cached reply; software UDP checksums on both)."
	echo "The worker thread and the baseline's loop are pinned to CPU $(jq -r .server_cpu "$TMP/a2s.json"), the client to CPU $(jq -r .client_cpu "$TMP/a2s.json")."
	echo "The client gets a challenge, then keeps $(jq -r .window "$TMP/a2s.json") INFO requests in flight for"
	echo "$(jq -r .count "$TMP/a2s.json") replies (best of $(jq -r .rounds "$TMP/a2s.json") interleaved rounds); then one request at a time"
	echo "for the round-trip latency (all rounds' samples pooled). veth would run a receiver's"
	echo "softirq on the sender's core; instead each side's receive path is put on its own core"
	echo "as a NIC queue would be: the requests' on the server core (RPS for the socket server,"
	echo "ba0's threaded NAPI pinned there for XDP), the replies' on the client core (RPS)."
	echo "The busy columns show how loaded each core was during the best pass."
	echo
	echo "| server | replies/s | × recvmmsg | p50 µs | p99 µs | server CPU busy | client CPU busy | lost |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|"
	jq -r '.recvmmsg as $b | (["af_xdp", .af_xdp], ["recvmmsg", .recvmmsg]) | . as [$n, $m] | "| \($n) | \($m.replies_per_s) | \($m.replies_per_s / $b.replies_per_s * 100 | round / 100) | \($m.p50_us) | \($m.p99_us) | \($m.server_cpu_busy) | \($m.client_cpu_busy) | \($m.lost + $m.latency_lost) |"' "$TMP/a2s.json"
	echo
	echo "Goal (A2S issue): AF_XDP ≥ 1.5× the recvmmsg server; (speed issue) ≥ 2×."
	echo
	echo "Round by round (the two servers' window passes of a round run back to back):"
	echo
	echo "| round | af_xdp replies/s | recvmmsg replies/s | ratio |"
	echo "|---:|---:|---:|---:|"
	jq -r '[.af_xdp.round_replies_per_s, .recvmmsg.round_replies_per_s, .round_ratios] | transpose | to_entries[] | "| \(.key + 1) | \(.value[0]) | \(.value[1]) | \(.value[2]) |"' "$TMP/a2s.json"
	echo
	jq -r '.round_ratios | sort | "Ratio over the \(length) rounds: min \(.[0]), median \(.[(length / 2 | floor)]), max \(.[-1])."' "$TMP/a2s.json"
	echo
	echo "### Game-server A2S load, cache on vs off"
	echo
	echo "tools/bench/a2s_load.sh on a fresh lab: the A2S connection added with \`--a2s\`,"
	echo "bifrost-a2s-refresher filling the cache from the game server; c1 sends INFO queries with"
	echo "a valid challenge at a fixed rate (bf-bench a2s-load), and the game server counts the"
	echo "A2S queries it receives from c1. Then the refresher is stopped, the edge drops the"
	echo "lapsed cache, and the same load runs again. Baseline: the cache off, same run."
	echo "The queries at the game server include the one that fetched the challenge."
	echo
	echo "| cache | queries sent | rate /s | replies at c1 | queries at the game server |"
	echo "|---|---:|---:|---:|---:|"
	jq -r '"| on | \(.sent) | \(.rate) | \(.cache_on.replies) | \(.cache_on.at_game_server) |", "| off | \(.sent) | \(.rate) | \(.cache_off.replies) | \(.cache_off.at_game_server) |"' "$TMP/a2s_load.json"
	echo
	jq -r '"Load on the game server with the cache on ÷ off: \(.on_over_off)."' "$TMP/a2s_load.json"
} >"$OUT"
echo "bench: wrote $OUT" >&2
cat "$OUT"
