#!/bin/bash
# test_acl.sh - the ACL layout in a real Redis: a private redis-server with the default user
# off and the users `bifrostctl acl` prints (two edges, ops, the refresher, an inspector),
# each logging in from a credentials file. Each may do its real job (bifrostctl as ops and
# as the inspector, bifrost-a2s-refresher against an A2S stand-in, an edge's own commands
# with redis-cli), and gets NOPERM for anything else: pop1 on pop2's and ops's keys, streams
# and channels, ops on pop1's origin, the refresher on the A2S key, the inspector on any
# write. Needs redis-server, redis-cli, jq.
set -u
. "$(dirname "$0")/../lib.sh" test_acl
need_tools redis-server redis-cli jq
need_bins bifrostctl bifrost-a2s-refresher bf-netprobe
CTL=$BIN/bifrostctl

RP=$(free_port) || exit 1
REDIS=127.0.0.1:$RP
ADMIN=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
REDIS_PASS=$ADMIN redis_start "$RP" 127.0.0.1 --requirepass "$ADMIN"
admin() { REDISCLI_AUTH=$ADMIN redis-cli -p "$RP" --user default "$@"; }

# A credentials file per user, mode 0600, a random password: never on a command line.
mkdir -m 700 "$TMP/creds"
for u in pop1 pop2 ops refresher inspector labpop1 fs1; do
	( umask 077; printf 'user %s\npassword %s\n' "$u" "$(head -c 24 /dev/urandom | base64)" \
		>"$TMP/creds/$u" )
done
pass() { sed -n 's/^password //p' "$TMP/creds/$1"; }
# as USER CMD...: redis-cli logged in as USER (the password from the environment)
as() { local u=$1; shift; REDISCLI_AUTH=$(pass "$u") redis-cli -p "$RP" --user "$u" "$@" 2>&1; }
# refused WHAT USER CMD...: the command draws NOPERM
refused() { local what=$1 out; shift; out=$(as "$@"); if has "$out" NOPERM; then ok "$what"
	else bad "$what (got '$out')"; fi; }
# allowed WHAT USER CMD...: the command draws no error
allowed() { local what=$1 out; shift; out=$(as "$@"); if has "$out" "NOPERM\|ERR\|NOAUTH"; then
	bad "$what (got '$out')"; else ok "$what"; fi; }
# sub USER (P)SUBSCRIBE CHANNEL: what half a second of the subscription printed
sub() { REDISCLI_AUTH=$(pass "$1") timeout 0.5 redis-cli -p "$RP" --user "$1" "$2" "$3" 2>&1; }
ctl_as() { local u=$1; shift; "$CTL" --redis "$REDIS" --auth-file "$TMP/creds/$u" "$@"; }

begin "the layout loads; the default user goes off"
{
	for e in pop1 pop2; do "$CTL" acl edge "$e" --auth-file "$TMP/creds/$e"; done
	for r in ops refresher inspector; do "$CTL" acl "$r" --auth-file "$TMP/creds/$r"; done
	"$CTL" acl edge pop1 --prefix lab: --auth-file "$TMP/creds/labpop1"
	"$CTL" acl flowspec pop1 --auth-file "$TMP/creds/fs1"
	echo "ACL SETUSER admin on >$ADMIN ~* &* +@all"
	echo "ACL SETUSER default off"
} >"$TMP/acl.txt"
check "no password in the lines" bash -c "! grep -qF '$(pass pop1)' '$TMP/acl.txt'"
eq "every line loads" "$(admin <"$TMP/acl.txt" | sort | uniq -c | tr -s ' ')" " 9 OK"
admin() { REDISCLI_AUTH=$ADMIN redis-cli -p "$RP" --user admin "$@"; }
check "a client without a login is refused" has "$(redis-cli -p "$RP" PING 2>&1)" NOAUTH
eq "the users" "$(admin ACL USERS | tr '\n' ' ')" \
	"admin default fs1 inspector labpop1 ops pop1 pop2 refresher "
check "the default user is off" has "$(admin ACL GETUSER default | tr '\n' ' ')" "flags off"
for u in pop1 ops refresher inspector; do
	eq "$u logs in" "$(as "$u" PING)" PONG
done
printf 'user pop1\npassword nope\n' >"$TMP/creds/wrong"; chmod 600 "$TMP/creds/wrong"
"$CTL" --redis "$REDIS" --auth-file "$TMP/creds/wrong" edges >/dev/null 2>"$TMP/err"
eq "a wrong password: bifrostctl exits 1" "$?" 1
check "and says the login was refused" has "$(cat "$TMP/err")" "refused the login as pop1 (credentials from $TMP/creds/wrong): WRONGPASS"

begin "ops does its job with bifrostctl"
ctl_as ops conn add udp 203.0.113.10:27015 198.18.3.2 >/dev/null
eq "conn add" "$?" 0
ctl_as ops rule add 10 action drop proto udp dport 53 >/dev/null
eq "rule add" "$?" 0
ctl_as ops protect add 192.0.2.0/24 >/dev/null
eq "protect add" "$?" 0
ctl_as ops bl add 198.19.1.0/24 --ttl 1h --reason test >/dev/null
eq "bl add (the sync client's MULTI ZADD XADD PUBLISH EXEC)" "$?" 0
eq "the ban is in Redis" "$(admin ZCARD bifrost:bl:ops) $(admin XLEN bifrost:log:bl:ops)" "1 1"
ctl_as ops wl add 198.51.100.0/28 >/dev/null
eq "wl add" "$?" 0
ctl_as ops bl del 198.19.1.0/24 >/dev/null
eq "bl del" "$?" 0
eq "conn list" "$(ctl_as ops conn list --json | jq -r .bind)" 203.0.113.10:27015
eq "watch" "$(ctl_as ops watch --count 0 --timeout 1 >/dev/null 2>&1; echo $?)" 0
eq "stats watch" "$(ctl_as ops stats watch --count 0 --timeout 1 >/dev/null 2>&1; echo $?)" 0
allowed "ops forces an A2S key rotation (HSET since 0)" ops HSET bifrost:a2s:key since 0
allowed "ops trims its own log" ops XTRIM bifrost:log:bl:ops MAXLEN 100
allowed "ops may load a function library" ops FUNCTION LIST

begin "an edge's own commands, as pop1 (what sync/ and edge/ send)"
allowed "SADD <p>edges" pop1 SADD bifrost:edges pop1
out=$(printf '%s\n' MULTI "ZADD bifrost:punch:pop1 +inf x" \
	"XADD bifrost:log:punch:pop1 MINID ~ 0-0 * op add entry x exp +inf seq 1" \
	"PUBLISH bifrost:evt:pop1 frame" EXEC | as pop1)
check "its write transaction runs ($(tr '\n' ' ' <<<"$out"))" bash -c "! grep -q 'NOPERM\|ERR\|EXECABORT' <<<'$out'"
allowed "heartbeat HSET" pop1 HSET bifrost:edge:pop1 last_seen 1
allowed "heartbeat PEXPIRE" pop1 PEXPIRE bifrost:edge:pop1 15000
allowed "stats HSET" pop1 HSET bifrost:stats:pop1 rx_pps 1
allowed "stats PUBLISH" pop1 PUBLISH bifrost:stats:pop1 frame
allowed "stats XADD" pop1 XADD bifrost:log:stats:pop1 MINID '~' 0 '*' rx_pps 1
allowed "rule counters DEL + HSET" pop1 DEL bifrost:rulestats:pop1
allowed "the instance lock" pop1 SET bifrost:lock:pop1 tok NX GET PX 15000
allowed "and its PEXPIRE" pop1 PEXPIRE bifrost:lock:pop1 15000
allowed "the A2S key rotation script" pop1 EVAL \
	"local c = redis.call('HGET', KEYS[1], 'cur') redis.call('HSET', KEYS[1], 'cur', ARGV[1]) return 1" \
	1 bifrost:a2s:key 00112233445566778899aabbccddeeff
allowed "reads the A2S key" pop1 HGETALL bifrost:a2s:key
allowed "reads ops's log" pop1 XREVRANGE bifrost:log:bl:ops + - COUNT 1
allowed "XREAD of peers' logs" pop1 XREAD COUNT 10 STREAMS bifrost:log:bl:ops bifrost:log:bl:pop2 0 0
allowed "ZSCAN of a peer's ZSET" pop1 ZSCAN bifrost:bl:pop2 0
allowed "SCAN of conn hashes" pop1 SCAN 0 MATCH 'bifrost:conn:*'
allowed "HGETALL of a conn hash" pop1 HGETALL bifrost:conn:udp:203.0.113.10:27015
allowed "GET conf:version" pop1 GET bifrost:conf:version
allowed "CLIENT ID" pop1 CLIENT ID
allowed "CLIENT UNBLOCK (its reader's XREAD)" pop1 CLIENT UNBLOCK 999999
check "PSUBSCRIBE <p>evt:*" has "$(sub pop1 PSUBSCRIBE 'bifrost:evt:*')" "^psubscribe"
check "SUBSCRIBE <p>a2s" has "$(sub pop1 SUBSCRIBE bifrost:a2s)" "^subscribe"
check "PSUBSCRIBE a keyspace pattern" has "$(sub pop1 PSUBSCRIBE '__keyspace@0__:bifrost:bl:*')" "^psubscribe"
check "PSUBSCRIBE a log's keyspace pattern" has "$(sub pop1 PSUBSCRIBE '__keyspace@0__:bifrost:log:punch:*')" "^psubscribe"

begin "pop1 gets NOPERM outside its own origin"
refused "ZADD pop2's blacklist" pop1 ZADD bifrost:bl:pop2 1 198.51.100.7/32
refused "ZADD ops's whitelist" pop1 ZADD bifrost:wl:ops 1 0.0.0.0/0
refused "XADD pop2's log" pop1 XADD bifrost:log:bl:pop2 '*' op add entry 198.51.100.7/32 seq 1
refused "XADD ops's log" pop1 XADD bifrost:log:wl:ops '*' op add entry 0.0.0.0/0 seq 1
refused "XADD pop2's stats stream" pop1 XADD bifrost:log:stats:pop2 '*' rx_pps 1
refused "XTRIM pop2's log" pop1 XTRIM bifrost:log:bl:pop2 MAXLEN 0
refused "DEL ops's whitelist" pop1 DEL bifrost:wl:ops
refused "HSET pop2's heartbeat" pop1 HSET bifrost:edge:pop2 last_seen 1
refused "SET pop2's lock" pop1 SET bifrost:lock:pop2 tok NX PX 15000
refused "HSET a conn hash" pop1 HSET bifrost:conn:udp:203.0.113.10:27015 machine 1.2.3.4
refused "HSET the rules" pop1 HSET bifrost:rules 1 'action drop'
refused "SET an A2S cache entry" pop1 SET bifrost:a2s:203.0.113.10:27015 x
refused "DEL the edges set" pop1 DEL bifrost:edges
refused "DEL the A2S key" pop1 DEL bifrost:a2s:key
refused "PUBLISH on pop2's channel" pop1 PUBLISH bifrost:evt:pop2 frame
refused "PUBLISH on ops's channel" pop1 PUBLISH bifrost:evt:ops frame
refused "PUBLISH pop2's stats" pop1 PUBLISH bifrost:stats:pop2 frame
refused "PUBLISH an A2S announcement" pop1 PUBLISH bifrost:a2s bifrost:a2s:1.2.3.4:5
check "PSUBSCRIBE a pattern it was not given: NOPERM" has "$(sub pop1 PSUBSCRIBE 'bifrost:evt:pop*')" NOPERM
refused "EVAL writing pop2's ZSET" pop1 EVAL "return redis.call('ZADD', KEYS[1], 1, 'x')" 1 bifrost:bl:pop2
out=$(as pop1 EVAL "return redis.call('ZADD', 'bifrost:bl:pop2', 1, 'x')" 0)
check "EVAL with a key it does not declare is refused too ($out)" has "$out" "can't access at least one of the keys"
refused "FLUSHALL" pop1 FLUSHALL
refused "KEYS" pop1 KEYS '*'
refused "CONFIG" pop1 CONFIG GET maxmemory
refused "FUNCTION LOAD" pop1 FUNCTION LOAD "#!lua name=x
redis.register_function('f', function() return 1 end)"
refused "a key outside the prefix" pop1 SET other:x 1
eq "nothing of that landed" "$(admin EXISTS bifrost:bl:pop2 bifrost:log:bl:pop2 bifrost:edge:pop2 bifrost:lock:pop2)" 0
eq "ops's whitelist is intact" "$(admin ZCARD bifrost:wl:ops)" 1
ctl_as pop1 bl add 192.0.2.9 >/dev/null 2>"$TMP/err"
eq "bifrostctl bl add as pop1 (writes as ops): exit 1" "$?" 1
check "with Redis's reason" has "$(cat "$TMP/err")" "refused the write: NOPERM"

begin "ops gets NOPERM on an edge's origin"
refused "ZADD pop1's blacklist" ops ZADD bifrost:bl:pop1 1 198.51.100.7/32
refused "XADD pop1's log" ops XADD bifrost:log:bl:pop1 '*' op add entry 198.51.100.7/32 seq 1
refused "DEL pop1's punches" ops DEL bifrost:punch:pop1
refused "HSET pop1's heartbeat" ops HSET bifrost:edge:pop1 last_seen 1
refused "SADD the edges set" ops SADD bifrost:edges pop9
refused "PUBLISH on pop1's channel" ops PUBLISH bifrost:evt:pop1 frame
refused "read the A2S key" ops HGETALL bifrost:a2s:key
refused "KEYS" ops KEYS '*'
refused "FLUSHALL" ops FLUSHALL

begin "the refresher does its job and never reads the A2S key"
GS=$(free_port) || exit 1
"$BIN/bf-netprobe" serve --udp "127.0.0.1:$GS" --count-file "$TMP/gs.count" --a2s \
	--a2s-name "ACL test" 2>/dev/null &
PIDS+=($!)
for _ in $(seq 100); do [ -s "$TMP/gs.count" ] && break; sleep 0.02; done
ctl_as ops conn add udp 203.0.113.10:27016 "127.0.0.1:$GS" --a2s >/dev/null
out=$("$BIN/bifrost-a2s-refresher" --redis "$REDIS" --auth-file "$TMP/creds/refresher" --once \
	--json --timeout 500ms --player 2>"$TMP/refresher.err")
eq "bifrost-a2s-refresher --once as refresher: exit 0 ($(head -c 200 "$TMP/refresher.err"))" "$?" 0
eq "it refreshed the server with no Redis error" "$(jq -c '[.refreshed, .redis_errors]' <<<"$out")" "[1,0]"
eq "the reply is stored" "$(admin EXISTS bifrost:a2s:203.0.113.10:27016 bifrost:a2s:player:203.0.113.10:27016 bifrost:a2s:lock:203.0.113.10:27016)" 3
check "the inspector sees it" has "$(ctl_as inspector a2s list)" "ACL test"
refused "HGETALL the A2S key" refresher HGETALL bifrost:a2s:key
refused "HGET the A2S key" refresher HGET bifrost:a2s:key cur
refused "GET the A2S key" refresher GET bifrost:a2s:key
refused "DUMP the A2S key" refresher DUMP bifrost:a2s:key
refused "SET over the A2S key" refresher SET bifrost:a2s:key x
refused "read a ZSET" refresher ZRANGE bifrost:wl:ops 0 -1
refused "write a conn hash" refresher HSET bifrost:conn:udp:203.0.113.10:27016 a2s 0
refused "PUBLISH on an edge's channel" refresher PUBLISH bifrost:evt:pop1 x

begin "bifrost-flowspec does its job as the flowspec user of pop1"
need_bins bifrost-flowspec
ctl_as ops rule add 40 action drop proto udp dst 203.0.113.10/32 dport 27016 flowspec yes >/dev/null
ctl_as ops rule add 41 action drop proto udp dst 203.0.113.20/32 flowspec yes >/dev/null
ctl_as ops protect add 203.0.113.20/32 >/dev/null
ctl_as ops wl add 198.18.0.0/16 >/dev/null
admin HSET bifrost:flowspec:pop2 40 "announced 1 9999999999999 - destination 203.0.113.10/32" >/dev/null
printf 'id pop1\nredis %s\nredis_auth_file %s\nannounce 203.0.113.0/24\npeer 192.0.2.9\ncanary pop2\ncanary_hold 0s\n' \
	"$REDIS" "$TMP/creds/fs1" >"$TMP/fs.conf"
"$BIN/bifrost-flowspec" --config "$TMP/fs.conf" --dry-run >"$TMP/fs.log" 2>&1 &
FSP=$!
PIDS+=($FSP)
for _ in $(seq 60); do [ "$(admin HLEN bifrost:flowspec:pop1)" = 2 ] && break; sleep 0.05; done
eq "it read the rules, protect and whitelists, and wrote its state" \
	"$(admin HGET bifrost:flowspec:pop1 41 | cut -d' ' -f1,4)" "refused protected"
eq "it read the canary's state" "$(admin HGET bifrost:flowspec:pop1 40 | cut -d' ' -f1)" "pending"
eq "its alive key" "$(admin EXISTS bifrost:flowspec-alive:pop1)" 1
check "no Redis error in its log" bash -c "! grep -qi 'noperm\|redis.*fail' '$TMP/fs.log'"
kill "$FSP"; wait "$FSP" 2>/dev/null
sed "s/^/# /" "$TMP/fs.log" | tail -4
refused "write the rules" fs1 HSET bifrost:rules 42 "action drop"
refused "write the protected set" fs1 SREM bifrost:protect 203.0.113.20/32
refused "write another POP's flowspec state" fs1 HSET bifrost:flowspec:pop2 40 x
refused "write a whitelist" fs1 ZADD bifrost:wl:ops 1 10.0.0.0/24
refused "read the A2S key" fs1 HGETALL bifrost:a2s:key
refused "PUBLISH" fs1 PUBLISH bifrost:evt:pop1 x
refused "FLUSHALL" fs1 FLUSHALL
ctl_as ops rule del 40 >/dev/null
ctl_as ops rule del 41 >/dev/null

begin "the inspector reads everything but the A2S key and writes nothing"
for c in "bl list" "wl list" "punch list" "conn list" "rule list" "rule stats" "protect list" \
	edges stats "a2s list"; do
	# shellcheck disable=SC2086
	ctl_as inspector $c >/dev/null 2>"$TMP/err"
	eq "bifrostctl $c" "$?:$(cat "$TMP/err")" "0:"
done
eq "bifrostctl watch" "$(ctl_as inspector watch --count 0 --timeout 1 >/dev/null 2>&1; echo $?)" 0
eq "bifrostctl stats watch" "$(ctl_as inspector stats watch --count 0 --timeout 1 >/dev/null 2>&1; echo $?)" 0
allowed "reads pop1's heartbeat" inspector HGETALL bifrost:edge:pop1
allowed "reads an A2S cache entry" inspector PTTL bifrost:a2s:203.0.113.10:27016
refused "reads the A2S key" inspector HGETALL bifrost:a2s:key
set -f # the commands' words are not file globs
for cmd in "ZADD bifrost:bl:ops 1 x" "XADD bifrost:log:bl:ops * op add" "HSET bifrost:edge:pop1 a 1" \
	"SET bifrost:a2s:1.2.3.4:5 x" "DEL bifrost:wl:ops" "INCR bifrost:conf:version" \
	"SADD bifrost:protect 0.0.0.0/0" "PUBLISH bifrost:evt:ops x" "EVAL return 1 0" \
	"FCALL f 0" "FLUSHALL" "XTRIM bifrost:log:bl:ops MAXLEN 0"; do
	# shellcheck disable=SC2086
	refused "$cmd" inspector $cmd
done
set +f
ctl_as inspector bl add 192.0.2.9 >/dev/null 2>"$TMP/err"
eq "bifrostctl bl add as the inspector: exit 1" "$?" 1
check "with Redis's reason" has "$(cat "$TMP/err")" "refused the write: NOPERM"
ctl_as inspector conn add udp 203.0.113.10:27017 198.18.3.2 >/dev/null 2>&1
eq "bifrostctl conn add as the inspector: exit 1" "$?" 1
eq "nothing landed" "$(admin EXISTS bifrost:conn:udp:203.0.113.10:27017)" 0

begin "--prefix lab: confines the same user to lab:"
allowed "labpop1 writes lab:wl:pop1" labpop1 ZADD lab:wl:pop1 1 x
refused "labpop1 may not write bifrost:wl:pop1" labpop1 ZADD bifrost:wl:pop1 1 x
refused "nor read under bifrost:" labpop1 ZRANGE bifrost:wl:ops 0 -1

summary
