#!/usr/bin/env bash
# test_acl.sh - the lab's Redis with ACL users: the default user is off, pop1's edge logs in
# as its own user from its credentials file (mode 0600) and its writes land and reach pop2,
# the operator's ban (bifrostctl as ops) reaches both POPs, redis-cli as pop1 gets NOPERM on
# pop2's and ops's keys and channels, and when Redis refuses one of pop1's commands (XADD,
# its stats history) the edge stays healthy: the heartbeat goes on, the refusal is logged
# once and counted, and it is over once the right is back. An empty restart of Redis
# recreates the users.
set -u
. "$(dirname "$0")/lib.sh"
[ "$LAB_ACL" = 1 ] || { echo "SKIP test_acl: the lab runs without ACLs (BF_LAB_ACL=0)"; exit 0; }
admin() { rcli_as admin "$@"; }
metric() { in_ns pop1 curl -s --max-time 2 http://127.0.0.1:9477/metrics | awk -v m="$1" '$1 == m {print $2}'; }

begin "the lab's Redis: default user off, one user per edge, credentials in files of mode 0600"
check "a client without a login gets NOAUTH" has "$(in_ns redis redis-cli -h "$REDIS_ADDR" PING 2>&1)" NOAUTH
check "the default user is off" has "$(admin ACL GETUSER default | tr '\n' ' ')" "flags off"
eq "the users" "$(admin ACL USERS | tr '\n' ' ')" "admin default inspector ops pop1 pop2 refresher "
eq "pop1's credentials file: mode 600, owned by root" "$(stat -c '%a %u' "$CREDS/pop1")" "600 0"
check "pop1's config names it" grep -qx "redis_auth_file $CREDS/pop1" "$STATE/pop1.conf"
check "and holds no password" bash -c "! grep -qF '$(sed -n 's/^password //p' "$CREDS/pop1")' '$STATE/pop1.conf'"
check "nor does the ACL file Redis loads" bash -c "! grep -qF '$(sed -n 's/^password //p' "$CREDS/pop1")' '$STATE/users.acl'"

begin "pop1's edge runs as its ACL user and its writes land"
for _ in $(seq 50); do [ "$(rcli SCARD bifrost:edges)" = 2 ] && break; sleep 0.1; done
ge "pop1's links are logged in as pop1" "$(admin CLIENT LIST | grep -c ' user=pop1 ')" 3
ge "and pop2's as pop2" "$(admin CLIENT LIST | grep -c ' user=pop2 ')" 3
check "no refused login in pop1's log" bash -c "! grep -q 'login refused\|NOPERM\|NOAUTH' '$STATE/edge-pop1.log'"
eq "bifrost:edges has both POPs (SADD through pop1's selector)" "$(rcli SMEMBERS bifrost:edges | sort | tr '\n' ' ')" "pop1 pop2 "
check "pop1's heartbeat" test -n "$(hb pop1 last_seen)"
check "pop1's stats" test -n "$(rcli HGET bifrost:stats:pop1 ts_ms)"
eq "/metrics: pop1's sync is connected" "$(metric bifrost_sync_connected)" 1
read -r s r l <<<"$(udp_probe gs --from $ANYCAST:40030 --to $REMOTE_ADDR:$REMOTE_PORT --count 5 --interval-ms 5)"
ge "the game server's flow out through pop1 is answered" "$r" 4
for _ in $(seq 30); do
	rcli ZRANGE bifrost:punch:pop1 0 -1 | grep -q " $ANYCAST:40030 via" && break
	sleep 0.1
done
check "pop1's punch is in Redis (MULTI ZADD XADD PUBLISH EXEC as pop1)" bash -c \
	"'$LAB' redis-cli --as ops ZRANGE bifrost:punch:pop1 0 -1 | grep -q ' $ANYCAST:40030 via'"
for _ in $(seq 30); do dump pop2 punches | grep -q "$ANYCAST:40030" && break; sleep 0.1; done
check "pop2 (as pop2) read it from pop1's log" bash -c "'$LAB' exec pop2 '$BIN/bifrost-edge' -c '$STATE/pop2.conf' --dump punches | grep -q '$ANYCAST:40030'"
ctl bl add $C2_ADDR/32 --ttl 1h --reason acl >/dev/null
eq "bifrostctl bl add as ops" "$?" 0
sleep 0.2
read -r s r l <<<"$(udp_probe c2 --to $ANYCAST:$GAME_PORT --count 10 --interval-ms 1 --timeout-ms 200)"
eq "the ban holds at pop2" "$r" 0
for p in pop1 pop2; do
	check "$p applied it" bash -c "'$LAB' exec $p '$BIN/bifrost-edge' -c '$STATE/$p.conf' --dump blacklist | grep -q '$C2_ADDR/32'"
done
ctl bl del $C2_ADDR/32 >/dev/null

begin "redis-cli as pop1 gets NOPERM outside pop1's origin"
p1() { rcli_as pop1 "$@" 2>&1; }
set -f # the commands' words are not file globs
for cmd in "ZADD bifrost:bl:pop2 +inf 198.51.100.0/24" "ZADD bifrost:wl:ops +inf 0.0.0.0/0" \
	"XADD bifrost:log:bl:pop2 * op add entry 198.51.100.0/24 exp +inf seq 1" \
	"HSET bifrost:edge:pop2 last_seen 1" "DEL bifrost:punch:pop2" "SET bifrost:lock:pop2 x" \
	"PUBLISH bifrost:evt:pop2 x" "PUBLISH bifrost:evt:ops x" "PUBLISH bifrost:stats:pop2 x" \
	"HSET bifrost:conn:udp:203.0.113.10:27015 machine 198.18.3.99" "FLUSHALL" "KEYS bifrost:x"; do
	# shellcheck disable=SC2086
	check "$cmd" has "$(p1 $cmd)" NOPERM
done
set +f
eq "pop2's blacklist is untouched" "$(rcli ZCARD bifrost:bl:pop2)" 0
check "the inspector may not read the A2S key" has "$(rcli_as inspector HGETALL bifrost:a2s:key 2>&1)" NOPERM
check "nor may ops" has "$(rcli HGETALL bifrost:a2s:key 2>&1)" NOPERM

begin "Redis refuses one of pop1's commands: the edge stays healthy"
refused0=$(metric bifrost_stats_frames_refused_total)
hb0=$(hb pop1 last_seen)
eq "nothing refused yet" "$refused0" 0
eq "ACL SETUSER pop1 -xadd (its stats history)" "$(admin ACL SETUSER pop1 -xadd)" OK
sleep 4
ge "the heartbeat goes on" "$(( $(hb pop1 last_seen) - hb0 ))" 3000
check "the edge is alive" kill -0 "$(cat "$STATE/edge-pop1.pid")"
ge "refused frames are counted (bifrost_stats_frames_refused_total)" "$(metric bifrost_stats_frames_refused_total)" 3
eq "the refusal is logged once" "$(grep -c 'stats: Redis did not take a stats frame' "$STATE/edge-pop1.log")" 1
eq "the stats hash still comes (HSET is allowed)" "$(( $(now_ms) - $(rcli HGET bifrost:stats:pop1 ts_ms) < 3000 ))" 1
eq "/metrics: still connected" "$(metric bifrost_sync_connected)" 1
eq "ACL SETUSER pop1 +xadd" "$(admin ACL SETUSER pop1 +xadd)" OK
sleep 3
check "the end is logged once" grep -q 'stats: Redis refusing stats commands: over after' "$STATE/edge-pop1.log"
n=$(metric bifrost_stats_frames_refused_total)
sleep 2
eq "nothing more refused" "$(metric bifrost_stats_frames_refused_total)" "$n"
eq "and still one line about it" "$(grep -c 'stats: Redis did not take a stats frame' "$STATE/edge-pop1.log")" 1

begin "a restart from the append-only file keeps every transaction"
# Redis 7.0 replays MULTI/EXEC from the AOF with the default user's permissions
# (redis/redis#14541): the default user is off but keeps them, or these would be lost.
ctl bl add 198.51.100.77/32 --reason aof >/dev/null
sleep 1.2 # appendfsync everysec
before="$(rcli ZCARD bifrost:punch:pop1) $(rcli XLEN bifrost:log:bl:ops)"
log0=$(rcli XLEN bifrost:log:punch:pop1)
lab redis-kill
lab redis-start
eq "pop1's punches and ops's log, as before the kill" \
	"$(rcli ZCARD bifrost:punch:pop1) $(rcli XLEN bifrost:log:bl:ops)" "$before"
# (pop1 re-asserts its punches when it reconnects: its log may have grown since)
ge "pop1's log, all of it" "$(rcli XLEN bifrost:log:punch:pop1)" "$log0"
check "no transaction refused while loading" bash -c "! grep -q 'NOPERM' '$STATE/redis.log'"

begin "an empty Redis restart recreates the users"
lab redis-kill
lab redis-start --empty
for _ in $(seq 100); do [ "$(rcli SCARD bifrost:edges 2>/dev/null)" = 2 ] && break; sleep 0.1; done
eq "both edges logged in again and rejoined" "$(rcli SMEMBERS bifrost:edges | sort | tr '\n' ' ')" "pop1 pop2 "
check "the default user is still off" has "$(in_ns redis redis-cli -h "$REDIS_ADDR" PING 2>&1)" NOAUTH
check "pop1 still may not write pop2's origin" has "$(p1 ZADD bifrost:bl:pop2 +inf 198.51.100.0/24)" NOPERM

summary
