#!/bin/bash
# test_refresher.sh - bifrost-a2s-refresher against its own redis-server and bf-netprobe A2S
# stand-ins, all on loopback: stored bytes parse, failures are counted and never stored, the
# lock lets one of two refreshers query per interval. Needs redis-server, redis-cli, jq.
set -u
. "$(dirname "$0")/../lib.sh" test_refresher
need_tools redis-server redis-cli jq
need_bins bifrost-a2s-refresher bf-netprobe bifrostctl

# Ports: one random block per run, so parallel runs and earlier leftovers do not collide.
BASE=$((21000 + ($$ % 400) * 20))
RP=$BASE
REDIS="127.0.0.1:$RP"
rcli() { redis-cli -p "$RP" "$@"; }
ctl() { "$BIN/bifrostctl" --redis "$REDIS" "$@"; }
REFRESHER="$BIN/bifrost-a2s-refresher"
# Only in the foreground: a function sent to the background would be a subshell, and its
# pid not the refresher's.
refresher() { "$REFRESHER" --redis "$REDIS" --timeout 300ms "$@"; }

redis_start "$RP"

# Starts a stand-in on 127.0.0.X:PORT with the given flags; its counts go to $TMP/<name>.count.
standin() {
	local name=$1 ep=$2; shift 2
	rm -f "$TMP/$name.count"
	"$BIN/bf-netprobe" serve --udp "$ep" --count-file "$TMP/$name.count" "$@" 2>>"$TMP/netprobe.log" &
	PIDS+=($!)
	eval "PID_$name=$!"
	for _ in $(seq 100); do [ -s "$TMP/$name.count" ] && return 0; sleep 0.02; done
	echo "test_refresher: stand-in $name on $ep did not start" >&2
	exit 1
}
# A2S counter of a stand-in ("info", "player", "rules", "a2s_queries"), freshly written:
# SIGUSR1 makes it rewrite the file it counts in.
count() {
	local name=$1 field=$2 pid
	pid=$(eval echo "\$PID_$name")
	rm -f "$TMP/$name.count"
	kill -USR1 "$pid"
	for _ in $(seq 250); do [ -s "$TMP/$name.count" ] && break; sleep 0.02; done
	sed -n 's/.*\b'"$field"'=\([0-9]*\).*/\1/p' "$TMP/$name.count" | head -1
}

GS=$((BASE + 1)) GARBAGE=$((BASE + 2)) DEAD=$((BASE + 3)) MUTE=$((BASE + 4)) OLD=$((BASE + 5))
PAIR=$((BASE + 6)) LO2=$((BASE + 7)) PRE=$((BASE + 8))

echo "# a good server: INFO, PLAYER and a split RULES reply stored and parsable"
standin gs "127.0.0.1:$GS" --a2s-name 'Bifrost "A2S" test' --a2s-map cp_badlands --a2s-players 5 \
	--a2s-bots 1 --a2s-rules 200
ctl conn add udp "203.0.113.10:27015" "127.0.0.1:$GS" --a2s >/dev/null
rcli HSET bifrost:conn:udp:203.0.113.10:27099 machine 127.0.0.1 port "$GS" >/dev/null # a2s off
eq "conn list shows the a2s flag" "$(ctl --json conn list | jq -s -c 'map(.a2s)|sort')" '[false,true]'
timeout 10 redis-cli -p "$RP" SUBSCRIBE bifrost:a2s >"$TMP/sub.out" &
SUB=$!
PIDS+=($SUB)
sleep 0.2
out=$(refresher --once --json --player --rules --ttl 20s)
eq "refresher --once exits 0" "$?" 0
eq "one server due, refreshed" "$(jq -c '[.servers,.refreshed,.failed,.locked]' <<<"$out")" '[1,1,0,0]'
eq "three keys stored" "$(jq .stored <<<"$out")" 3
show=$(ctl --json a2s show 203.0.113.10:27015)
eq "stored INFO parses: name" "$(jq -r .name <<<"$show")" 'Bifrost "A2S" test'
eq "stored INFO parses: map" "$(jq -r .map <<<"$show")" cp_badlands
eq "stored INFO: players, bots" "$(jq -c '[.players,.bots]' <<<"$show")" '[5,1]'
eq "stored PLAYER parses" "$(jq .player_count <<<"$show")" 5
eq "stored RULES (reassembled from parts) parses" "$(jq .rule_count <<<"$show")" 200
check "RULES needed a split reply" [ "$(jq .rule_bytes <<<"$show")" -gt 1400 ]
ttl=$(jq .ttl_ms <<<"$show")
check "stored with a TTL of at most 20 s ($ttl ms)" [ "$ttl" -gt 15000 -a "$ttl" -le 20000 ]
eq "stand-in saw one INFO handshake" "$(count gs info)" 2
eq "PLAYER and RULES asked once each (INFO's challenge reused)" "$(count gs player),$(count gs rules)" 1,1
eq "INFO bytes are exactly what the server sends" \
	"$(rcli --raw STRLEN bifrost:a2s:203.0.113.10:27015)" \
	"$("$BIN/bf-netprobe" a2s --to "127.0.0.1:$GS" --json | jq '.received[-1]')"
kill "$SUB" 2>/dev/null
wait "$SUB" 2>/dev/null
eq "every stored key was announced on bifrost:a2s" \
	"$(grep -c '^bifrost:a2s:.*203.0.113.10:27015$' "$TMP/sub.out")" 3
check "the a2s-off connection was not cached" [ -z "$(rcli EXISTS bifrost:a2s:203.0.113.10:27099 | grep 1)" ]
eq "bifrostctl a2s list shows one server" "$(ctl --json a2s list | jq -s length)" 1

echo "# failures: garbage, a closed port, a server that never answers - counted, nothing stored"
rcli FLUSHALL >/dev/null
standin garbage "127.0.0.1:$GARBAGE"      # plain echo: the query comes back as garbage
standin mute "127.0.0.1:$MUTE" --a2s-mute # counts queries, answers none
ctl conn add udp 203.0.113.11:27015 "127.0.0.1:$GARBAGE" --a2s >/dev/null
ctl conn add udp 203.0.113.12:27015 "127.0.0.1:$DEAD" --a2s >/dev/null
ctl conn add udp 203.0.113.13:27015 "127.0.0.1:$MUTE" --a2s >/dev/null
rcli HSET bifrost:conn:udp:203.0.113.14:27015 machine 127.0.0.1 a2s maybe >/dev/null
out=$(refresher --once --json 2>"$TMP/fail.log")
eq "refresher --once exits 1 when a server failed" "$?" 1
eq "failures counted by kind" "$(jq -c '[.servers,.refreshed,.failed,.garbage,.unreachable,.timeouts,.bad_conns]' <<<"$out")" \
	'[3,0,3,1,1,1,1]'
eq "nothing stored" "$(rcli --scan --pattern 'bifrost:a2s:*' | grep -vc ':lock:')" 0
eq "one log line per failed server" "$(grep -c WARN "$TMP/fail.log")" 3
check "the log names the cause" grep -q "203.0.113.11:27015.*garbage" "$TMP/fail.log"
eq "the garbage server got one query" "$(count garbage info)" 1
eq "the mute server got one query" "$(count mute info)" 1

echo "# a server that answers INFO without a challenge (pre-2020)"
rcli FLUSHALL >/dev/null
standin old "127.0.0.1:$OLD" --a2s-no-challenge --a2s-name oldtimer
ctl conn add udp 203.0.113.15:27015 "127.0.0.1:$OLD" --a2s >/dev/null
out=$(refresher --once --json)
eq "refreshed" "$(jq .refreshed <<<"$out")" 1
eq "one query was enough" "$(count old info)" 1
eq "name stored" "$(ctl --json a2s show 203.0.113.15:27015 | jq -r .name)" oldtimer

echo "# --target bind queries the bind address, not the machine"
rcli FLUSHALL >/dev/null
standin lo2 "127.0.0.2:$LO2" --a2s-name on-the-anycast
ctl conn add udp "127.0.0.2:$LO2" "127.0.0.3:$LO2" --a2s >/dev/null # nothing on 127.0.0.3
out=$(refresher --once --json --target bind)
eq "--target bind: refreshed" "$(jq -c '[.refreshed,.failed]' <<<"$out")" '[1,0]'
eq "--target bind: stored under the bind address" \
	"$(ctl --json a2s show "127.0.0.2:$LO2" | jq -r .name)" on-the-anycast
rcli DEL "bifrost:a2s:lock:127.0.0.2:$LO2" >/dev/null
out=$(refresher --once --json 2>/dev/null)
eq "--target machine (default): the machine port is closed" "$(jq -c '[.refreshed,.unreachable]' <<<"$out")" '[0,1]'

echo "# two refreshers: one queries each server per interval"
rcli FLUSHALL >/dev/null
standin pair "127.0.0.1:$PAIR" --a2s
ctl conn add udp 203.0.113.16:27015 "127.0.0.1:$PAIR" --a2s >/dev/null
"$REFRESHER" --redis "$REDIS" --once --json --id r1 >"$TMP/r1.once" &
p1=$!
"$REFRESHER" --redis "$REDIS" --once --json --id r2 >"$TMP/r2.once" &
p2=$!
wait $p1 $p2
eq "--once together: one refreshed, one found the lock" \
	"$(jq -s -c 'map([.refreshed,.locked])|sort' "$TMP/r1.once" "$TMP/r2.once")" '[[0,1],[1,0]]'
eq "--once together: the server saw one handshake" "$(count pair info)" 2
eq "the lock names its owner" "$(rcli GET bifrost:a2s:lock:203.0.113.16:27015)" \
	"$(jq -r 'select(.refreshed==1).id' "$TMP/r1.once" "$TMP/r2.once")"
rcli DEL bifrost:a2s:lock:203.0.113.16:27015 >/dev/null
before=$(count pair info)
"$REFRESHER" --redis "$REDIS" --interval 500ms --timeout 300ms --json --id d1 >"$TMP/d1.out" 2>/dev/null &
d1=$!
PIDS+=($d1)
"$REFRESHER" --redis "$REDIS" --interval 500ms --timeout 300ms --json --id d2 >"$TMP/d2.out" 2>/dev/null &
d2=$!
PIDS+=($d2)
sleep 2.3
kill -TERM $d1 $d2
wait $d1
eq "daemon exits 0 on SIGTERM" "$?" 0
wait $d2
r1=$(tail -1 "$TMP/d1.out")
r2=$(tail -1 "$TMP/d2.out")
rounds=$(jq -s 'map(.rounds)|max' <<<"$r1$r2")
won=$(jq -s 'map(.refreshed)|add' <<<"$r1$r2")
queries=$((($(count pair info) - before) / 2))
check "both refreshers ran several rounds ($rounds)" [ "$rounds" -ge 3 ]
eq "one handshake at the server per refresh" "$queries" "$won"
check "never two refreshes in one interval ($won refreshes, $rounds rounds)" \
	[ "$won" -le "$rounds" -a "$won" -ge $((rounds - 1)) ]
eq "every round of each: refreshed or locked" \
	"$(jq -s -c 'map(.refreshed + .locked == .rounds)|unique' <<<"$r1$r2")" '[true]'

echo "# --prefix: another fleet's keys in the same Redis, reached by name"
rcli FLUSHALL >/dev/null
standin pre "127.0.0.1:$PRE" --a2s --a2s-name prefixed
rcli HSET bf-test:conn:udp:203.0.113.17:27015 machine 127.0.0.1 port "$PRE" a2s 1 >/dev/null
ctl conn add udp 203.0.113.18:27015 "127.0.0.1:$PRE" --a2s >/dev/null # bifrost:, not ours
out=$("$REFRESHER" --redis "localhost:$RP" --timeout 300ms --once --json --prefix bf-test:)
eq "--prefix: only the connections under it" "$(jq -c '[.servers,.refreshed]' <<<"$out")" '[1,1]'
eq "--prefix: reply and lock stored under it" \
	"$(rcli --scan --pattern 'bf-test:a2s:*' | sort | tr '\n' ' ')" \
	"bf-test:a2s:203.0.113.17:27015 bf-test:a2s:lock:203.0.113.17:27015 "
eq "--prefix: nothing under bifrost:a2s" "$(rcli --scan --pattern 'bifrost:a2s*' | wc -l)" 0
"$REFRESHER" --prefix 'bf*' --once 2>/dev/null
eq "--prefix with a pattern character: exit 2" "$?" 2

echo "# a password from REDISCLI_AUTH"
rcli CONFIG SET requirepass "s3 cret" >/dev/null
out=$(REDISCLI_AUTH="s3 cret" refresher --once --json --prefix bf-test: 2>/dev/null)
eq "the right password: a round done" "$(jq .rounds <<<"$out")" 1
REDISCLI_AUTH=wrong refresher --once 2>"$TMP/auth.log" >/dev/null
eq "a wrong password: exit 1" "$?" 1
check "a wrong password: the log says the login was refused" grep -q "refused the login" "$TMP/auth.log"
REDISCLI_AUTH="s3 cret" rcli CONFIG SET requirepass "" >/dev/null

echo "# errors"
"$BIN/bifrost-a2s-refresher" --redis 127.0.0.1:$((BASE + 19)) --once 2>/dev/null
eq "Redis unreachable: exit 1" "$?" 1
"$BIN/bifrost-a2s-refresher" --interval 1s --timeout 2s 2>/dev/null
eq "timeout longer than interval: exit 2" "$?" 2
"$BIN/bifrost-a2s-refresher" --target somewhere 2>/dev/null
eq "bad --target: exit 2" "$?" 2
"$BIN/bifrost-a2s-refresher" --help | grep -q -- "--target bind"
eq "--help documents --target" "$?" 0

summary
