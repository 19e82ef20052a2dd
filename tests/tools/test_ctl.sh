#!/bin/bash
# test_ctl.sh - every bifrostctl command against its own redis-server on loopback: what it
# prints (text and --json), its exit status and what it leaves in Redis; bad usage; an
# unreachable Redis; --prefix; --redis over IPv6; a password from REDISCLI_AUTH, --auth-file
# (precedence, each refusal), an ACL user and NOPERM, and `acl`.
# Needs redis-server, redis-cli, jq. TRANSCRIPT=FILE also writes every command of the
# common part with its stdout, stderr and exit status there, to diff two builds.
set -u
. "$(dirname "$0")/../lib.sh" test_ctl
CTL=$BIN/bifrostctl
need_tools redis-server redis-cli jq ss
need_bins "$CTL"

# later CMD...: runs CMD in 0.4 s, in the background (while a watch runs); LATER is its pid.
later() { (sleep 0.4; "$@" >/dev/null) & LATER=$!; }
# again CMD...: like later, then again every 0.3 s until `done_again`: watch resubscribes
# every 200 ms, and an event published in that gap is not seen.
again() {
	rm -f "$TMP/again.stop"
	(sleep 0.4; for _ in $(seq 15); do
		[ -e "$TMP/again.stop" ] && break
		"$@" >/dev/null; sleep 0.3
	done) &
	LATER=$!
}
done_again() { touch "$TMP/again.stop"; wait $LATER; }

HAVE_V6=0
ip -6 addr show dev lo 2>/dev/null | grep -q 'inet6 ::1/' && HAVE_V6=1

RP=$(free_port) || exit 1
BIND=127.0.0.1
[ $HAVE_V6 = 1 ] && BIND="127.0.0.1 ::1"
redis_start "$RP" "$BIND"
REDIS=127.0.0.1:$RP
rcli() { redis-cli -p "$RP" "$@"; }

REC=1
# run ARGS...: bifrostctl --redis $REDIS ARGS; sets OUT, ERR and RC.
run() { runv --redis "$REDIS" "$@"; }
# runv ARGS...: bifrostctl ARGS, nothing added.
runv() {
	"$CTL" "$@" >"$TMP/out" 2>"$TMP/err" </dev/null
	RC=$?
	OUT=$(cat "$TMP/out")
	ERR=$(cat "$TMP/err")
	if [ -n "${TRANSCRIPT:-}" ] && [ $REC = 1 ]; then
		{ printf '$ bifrostctl %s\n' "$*"; cat "$TMP/out"; echo "--- stderr"; cat "$TMP/err"
		  echo "--- rc $RC"; } | sed "s#$CTL#bifrostctl#g" >>"$TRANSCRIPT"
	fi
}

echo "# usage"
runv --help
eq "--help exits 0" "$RC" 0
for w in "wl add" "bl del" "punch list" "conn add" "rule stats" "protect add|del" edges "a2s show" \
	watch "stats watch" top; do
	check "--help lists $w" has "$OUT" "^  $w "
done
runv
eq "no command exits 2" "$RC" 2
check "and prints the usage on stderr" has "$ERR" "^Usage: bifrostctl"
runv --bogus
eq "an unknown flag exits 2" "$RC" 2
run frobnicate
eq "an unknown command exits 2" "$RC" 2
eq "and is named" "$ERR" "bifrostctl: unknown command 'frobnicate' (see --help)"
run wl
eq "a group without its command exits 2" "$RC" 2
eq "and names the group" "$ERR" "bifrostctl: unknown command 'wl' (see --help)"
run wl add
eq "a command without its argument is unknown" "$ERR" "bifrostctl: unknown command 'wl add' (see --help)"
run wl list a b c d
eq "more than five words exits 2" "$RC" 2
eq "and says so" "$ERR" "bifrostctl: too many arguments (see --help)"
run stats foo
eq "stats with a stray word is unknown" "$ERR" "bifrostctl: unknown command 'stats foo' (see --help)"
run edges --count abc
eq "--count abc exits 2" "$RC" 2
run watch --timeout 999999
eq "--timeout beyond a day exits 2" "$RC" 2

echo "# wl, bl"
run wl add 198.51.100.0/28
eq "wl add exits 0" "$RC" 0
eq "wl add says so" "$OUT" "added to whitelist: 198.51.100.0/28"
run wl add 198.51.100.16/28 --ttl 1h --reason test --json
eq "wl add --json" "$(jq -c . <<<"$OUT")" '{"ok":true,"kind":"wl","op":"add","entry":"198.51.100.16/28"}'
run bl add 198.19.1.0/24 --ttl 1h --reason flood
eq "bl add --ttl exits 0" "$RC" 0
eq "bl add says so" "$OUT" "added to blacklist: 198.19.1.0/24"
ttl=$(rcli ZSCORE bifrost:bl:ops 198.19.1.0/24)
now=$(date +%s%3N)
check "the ban expires in an hour" [ $((ttl - now)) -gt 3590000 -a $((ttl - now)) -le 3600000 ]
eq "the reason is logged" "$(rcli XREVRANGE bifrost:log:bl:ops + - COUNT 1 | grep -A1 '^why$' | tail -1)" flood
run bl add 203.0.113.9
eq "bl add of a bare address" "$OUT" "added to blacklist: 203.0.113.9"
eq "is a permanent /32" "$(rcli ZSCORE bifrost:bl:ops 203.0.113.9/32)" inf
run bl add 198.51.100.7/24
eq "host bits set: exit 2" "$RC" 2
eq "host bits set: says why" "$ERR" "bifrostctl: '198.51.100.7/24' is not a CIDR (a.b.c.d/len, host bits clear)"
run bl add 2001:db8::/48
eq "IPv6: exit 2" "$RC" 2
eq "IPv6: says why" "$ERR" "bifrostctl: '2001:db8::/48' is not usable: the data plane filters IPv4 only"
run bl add 1.2.3.4 --ttl 0
eq "--ttl 0 exits 2" "$RC" 2
eq "--ttl 0 says why" "$ERR" "bifrostctl: --ttl: bad duration '0' (30s, 5m, 2h, 1d)"
run bl add 1.2.3.4 --reason "two words"
eq "--reason of two words exits 2" "$RC" 2
run wl list
eq "wl list exits 0" "$RC" 0
eq "wl list: header" "$(head -1 <<<"$OUT" | tr -s ' ')" "ORIGIN ENTRY EXPIRES"
check "wl list: the permanent entry" has "$OUT" "^ops  *198.51.100.0/28  *never$"
check "wl list: the one with a TTL" has "$OUT" "^ops  *198.51.100.16/28  *in 3[0-9]*s$"
eq "wl list: count" "$(tail -1 <<<"$OUT")" "(2 live entries)"
run bl list --json
eq "bl list --json: two lines" "$(jq -s length <<<"$OUT")" 2
eq "bl list --json: the permanent one" "$(jq -c 'select(.entry == "203.0.113.9/32")' <<<"$OUT")" \
	'{"origin":"ops","entry":"203.0.113.9/32","expires_ms":null}'
run bl del 198.19.1.0/24
eq "bl del says so" "$OUT" "removed from blacklist: 198.19.1.0/24"
eq "bl del removed it" "$(rcli ZSCORE bifrost:bl:ops 198.19.1.0/24)" ""
run bl list
eq "bl list after del" "$(tail -1 <<<"$OUT")" "(1 live entries)"

echo "# the bus's functions"
run functions status
eq "functions status after the first write loaded them" "$OUT" "loaded, the same as this bifrostctl's"
eq "an ops write is one FCALL an operator can type" \
	"$(rcli FCALL bifrost_add 1 bifrost:bl:ops 198.18.77.0/24 60000 typed)" "$(( $(rcli XLEN bifrost:log:bl:ops) ))"
eq "and the log's seq follows on" "$(rcli XREVRANGE bifrost:log:bl:ops + - COUNT 1 | grep -A1 '^seq$' | tail -1)" \
	"$(rcli XLEN bifrost:log:bl:ops)"
check "FCALL refuses a malformed entry" has "$(rcli FCALL bifrost_add 1 bifrost:bl:ops 1.2.3.4/8 0 2>&1)" "malformed bl entry"
echo "# expired entries leave Redis"
rcli ZADD bifrost:bl:ops 1000 198.18.90.0/24 2000 198.18.91.0/24 >/dev/null # long expired
run prune --json
eq "prune removes the ops lists' expired entries" "$RC $OUT" '0 {"wl":0,"bl":2}'
eq "they are gone from the ZSET" "$(rcli ZSCORE bifrost:bl:ops 198.18.90.0/24)" ""
eq "each leaves as a del record, why expired" \
	"$(rcli XREVRANGE bifrost:log:bl:ops + - COUNT 2 | grep -c '^expired$')" 2
run prune
eq "prune with nothing to do" "$OUT" "removed 0 expired ops entries from Redis (wl 0, bl 0)"
rcli ZADD bifrost:wl:ops 1000 198.18.92.0/24 >/dev/null
rcli FCALL bifrost_add 1 bifrost:wl:ops 198.18.93.0/24 60000 t >/dev/null
eq "an ops write prunes its list first" "$(rcli ZSCORE bifrost:wl:ops 198.18.92.0/24)" ""
rcli ZADD bifrost:bl:ops 5 198.18.94.0/24 >/dev/null
eq "FCALL bifrost_prune answers how many left" "$(rcli FCALL bifrost_prune 1 bifrost:bl:ops)" 1
check "bifrost_prune refuses a bad limit" has "$(rcli FCALL bifrost_prune 1 bifrost:bl:ops 0 2>&1)" "LIMIT"
check "and a key that is not a list" has "$(rcli FCALL bifrost_prune 1 bifrost:conf:version 2>&1)" "not a list key"
rcli FUNCTION DELETE bifrost >/dev/null
run functions status --json
eq "functions status --json when absent" "$OUT" '{"library":"bifrost","loaded":false,"current":false}'
run bl del 198.18.77.0/24
eq "a write loads them again when Redis lost them" "$RC $(rcli FUNCTION LIST LIBRARYNAME bifrost | grep -c bifrost_add)" "0 1"
run functions load
eq "functions load" "$RC" 0
rcli FUNCTION DELETE bifrost >/dev/null
rcli ACL SETUSER default -function >/dev/null
run bl add 198.18.78.0/24
rcli ACL SETUSER default +function >/dev/null
check "a user that may not load them is told what to run ($ERR)" has "$ERR" "bifrostctl functions load"
run functions load

echo "# punches and edges"
rcli SADD bifrost:edges pop1 pop2 'bad origin!' >/dev/null
rcli ZADD bifrost:punch:pop1 +inf "udp 198.51.100.34:5000 203.0.113.10:40000 via 198.18.3.2" \
	+inf "garbage" >/dev/null
rcli HSET bifrost:edge:pop1 last_seen 1000 version v1.2 xdp_mode native iface eth0 pending 0 >/dev/null
rcli HSET bifrost:edge:pop2 last_seen 1 version $'v"1\\\x1b[2J' iface $'\n' >/dev/null
run punch list
eq "punch list: one valid punch" "$(tail -1 <<<"$OUT")" "(1 live entries)"
check "punch list: under pop1" has "$OUT" "^pop1 *udp 198.51.100.34:5000 203.0.113.10:40000 via 198.18.3.2 *never"
run punch list --json
eq "punch list --json" "$OUT" \
	'{"origin":"pop1","entry":"udp 198.51.100.34:5000 203.0.113.10:40000 via 198.18.3.2","expires_ms":null}'
run edges
eq "edges exits 0" "$RC" 0
check "edges: pop1 dead, with its heartbeat" has "$OUT" "^pop1  *NO  *[0-9.]*s ago  *v1.2  *native  *eth0  *0$"
check "edges: no raw escape byte" bash -c "! grep -q $'\\x1b' '$TMP/out'"
run edges --json
eq "edges --json: valid JSON, two edges" "$(jq -s length <<<"$OUT")" 2
eq "edges --json: the hostile version survives" "$(jq -r 'select(.edge == "pop2") | .version' <<<"$OUT")" \
	$'v"1\\\x1b[2J'

echo "# conn"
run conn add udp 203.0.113.10:27015 198.18.3.2
eq "conn add exits 0" "$RC" 0
eq "conn add says so" "$OUT" "set bifrost:conn:udp:203.0.113.10:27015 (edges apply it within a second)"
eq "conn add bumped the version" "$(rcli GET bifrost:conf:version)" 1
run conn add udp 203.0.113.10:27016 198.18.3.2:27015 --a2s --json
eq "conn add --a2s --json" "$OUT" '{"ok":true,"key":"bifrost:conn:udp:203.0.113.10:27016","op":"add"}'
eq "the hash" "$(rcli HGETALL bifrost:conn:udp:203.0.113.10:27016 | tr '\n' ' ')" "machine 198.18.3.2 port 27015 a2s 1 "
run conn add udp 203.0.113.10:28015 198.18.3.2 --limits "pps 5000 block 60s"
eq "conn add --limits exits 0" "$RC" 0
eq "the limits are stored canonical" "$(rcli HMGET bifrost:conn:udp:203.0.113.10:28015 pps block burst | tr '\n' ' ')" \
	"5000 60s 100ms "
run conn add udp 203.0.113.10:28016 198.18.3.2 --limits "preset source"
eq "conn add --limits preset exits 0" "$RC" 0
run conn add udp 203.0.113.10:28017 198.18.3.2 --limits "pps"
eq "--limits without a value exits 2" "$RC" 2
check "and says what it wants" has "$ERR" "want NAME VALUE pairs"
run conn add udp 203.0.113.10:28017 198.18.3.2 --limits "foo 1"
eq "--limits foo exits 2" "$RC" 2
eq "and names it" "$ERR" "bifrostctl: --limits: unknown field 'foo' (pps, bps, block, burst, preset, share_bans)"
run conn add tcp 203.0.113.10:27015 198.18.3.2 --a2s
eq "--a2s on tcp exits 2" "$RC" 2
eq "and says why" "$ERR" "bifrostctl: --a2s goes with conn add udp"
run conn add tcp 203.0.113.10:27015 198.18.3.2 --validate srcds
eq "--validate on tcp exits 2" "$RC" 2
eq "and says why" "$ERR" "bifrostctl: --validate goes with conn add udp"
run conn add udp 203.0.113.10:27015 198.18.3.2 --validate quake
eq "--validate quake exits 2" "$RC" 2
eq "and names the modules" "$ERR" "bifrostctl: --validate: none, srcds or raknet"
run conn add udp 203.0.113.10:28018 198.18.3.2 --validate raknet
eq "conn add --validate raknet exits 0" "$RC" 0
eq "the hash says validate raknet" "$(rcli HGET bifrost:conn:udp:203.0.113.10:28018 validate)" raknet
run conn add icmp 203.0.113.10 198.18.3.2
eq "conn add icmp" "$OUT" "set bifrost:conn:icmp:203.0.113.10:0 (edges apply it within a second)"
run conn add udp bad 198.18.3.2
eq "a bad bind exits 2" "$RC" 2
rcli HSET bifrost:conn:udp:203.0.113.10:27017 machine nope >/dev/null
run conn list
eq "conn list exits 0" "$RC" 0
eq "conn list: count" "$(tail -1 <<<"$OUT")" "(7 connections)"
check "conn list: the validation module" has "$OUT" "^udp   203.0.113.10:28018  *198.18.3.2:28018  *-  *raknet  *-$"
check "conn list: the mapped port and a2s" has "$OUT" "^udp   203.0.113.10:27016  *198.18.3.2:27015  *yes  *-  *-$"
check "conn list: the invalid hash is flagged" has "$OUT" "27017: INVALID"
run conn list --json
eq "conn list --json: seven lines" "$(jq -s length <<<"$OUT")" 7
eq "conn list --json: validate" "$(jq -r 'select(.bind == "203.0.113.10:28018") | .validate' <<<"$OUT")" raknet
eq "conn list --json: the limits" "$(jq -r 'select(.bind == "203.0.113.10:28015") | .limits' <<<"$OUT")" \
	"pps 5000 bps 0 block 60s burst 100ms share_bans no"
run conn del udp 203.0.113.10:27016
eq "conn del says so" "$OUT" "removed bifrost:conn:udp:203.0.113.10:27016 (edges apply it within a second)"
eq "conn del removed it" "$(rcli EXISTS bifrost:conn:udp:203.0.113.10:27016)" 0
run conn del udp 203.0.113.10:27015 --limits "pps 1"
eq "conn del --limits exits 2" "$RC" 2

echo "# rules and protect"
run rule add 10 action drop proto udp dport 53
eq "rule add exits 0" "$RC" 0
eq "rule add says so" "$OUT" "rule 10 set (edges apply it within a second)"
run rule add 5 action drop proto udp dport 27015 payload_len 0-3 --json
eq "rule add --json" "$OUT" '{"ok":true,"change":"rule 5 set"}'
run rule add 20 action drop proto udp dport 1-80x
eq "a bad rule exits 2" "$RC" 2
check "and names the field" has "$ERR" "dport"
run rule add 0 action drop
eq "rule id 0 exits 2" "$RC" 2
run rule add 10
eq "rule add without fields is unknown" "$ERR" "bifrostctl: unknown command 'rule add' (see --help)"
rcli HSET bifrost:rules 11 garbage >/dev/null
run rule list
eq "rule list: sorted, the bad one flagged" "$OUT" "$(printf '%s\n' \
	"5        action drop proto udp dport 27015 payload_len 0-3" \
	"10       action drop proto udp dport 53" \
	"11       INVALID (garbage: has no value): edges keep their previous rules until it is fixed" \
	"(3 rules)")"
run rule list --json
eq "rule list --json: the bad one" "$(jq -c 'select(.id == "11") | keys' <<<"$OUT")" '["error","id","text"]'
run rule del 10
eq "rule del" "$OUT" "rule 10 removed (edges apply it within a second)"
run rule del abc
eq "rule del abc exits 2" "$RC" 2
rcli HSET bifrost:rulestats:pop1 5 "100 6400" 7 garbage >/dev/null
run rule stats
eq "rule stats" "$(tail -1 <<<"$OUT" | tr -s ' ')" "pop1 5 100 6400"
run rule stats --json
eq "rule stats --json" "$OUT" '{"edge":"pop1","rule":5,"packets":100,"bytes":6400}'
run protect add 198.18.4.2/32
eq "protect add" "$OUT" "198.18.4.2/32 protected added (edges apply it within a second)"
run protect add 1.2.3.4/24
eq "protect add with host bits exits 2" "$RC" 2
rcli SADD bifrost:protect garbage >/dev/null
run protect add 2001:db8::/32
eq "protect add IPv6 exits 2" "$RC" 2
check "protect add IPv6 says why" has "$ERR" "filters IPv4 only"
run protect list
check "protect list: the prefix" has "$OUT" "^198.18.4.2/32$"
check "protect list: garbage flagged" has "$OUT" "^garbage: INVALID (edges skip it)$"
run protect list --json
eq "protect list --json" "$(jq -s -c 'sort_by(.prefix)' <<<"$OUT")" \
	'[{"prefix":"","valid":false},{"prefix":"198.18.4.2/32","valid":true}]'
run protect del 198.18.4.2/32
eq "protect del" "$OUT" "198.18.4.2/32 protected removed (edges apply it within a second)"

echo "# guard rails: what every edge refuses is refused here first"
n0=$(rcli ZCARD bifrost:bl:ops)
run bl add 0.0.0.0/0
eq "bl add 0.0.0.0/0 exits 2" "$RC" 2
eq "and says why and what to do" "$ERR" "bifrostctl: 0.0.0.0/0 is wider than /8: every edge with the default 'min_prefix bl 8' refuses it (counted, logged, nothing applied). Pass --force to write it anyway (only edges configured with a lower min_prefix bl apply it)"
run wl add 10.0.0.0/15
eq "wl add wider than /16 exits 2" "$RC" 2
check "and names min_prefix wl" has "$ERR" "min_prefix wl 16"
run wl add 10.0.0.0/16
eq "wl add of a /16 is fine" "$RC" 0
run wl del 10.0.0.0/15
eq "a wide prefix may always be deleted" "$RC" 0
eq "nothing was written to bl:ops" "$(rcli ZCARD bifrost:bl:ops)" "$n0"
run bl add 8.0.0.0/6 --force
eq "--force writes it" "$RC $OUT" "0 added to blacklist: 8.0.0.0/6"
run bl del 8.0.0.0/6
run rule add 30 action drop
eq "a rule that drops every packet exits 2" "$RC" 2
check "and says what to do" has "$ERR" "add 'all yes' if the fleet must really drop everything"
run rule add 31 action drop src 0.0.0.0/0 dport 0-65535 proto udp
eq "one with a real match field is fine" "$RC" 0
run rule add 32 action drop src 0.0.0.0/0 ttl 0-255 pps 10k
eq "only no-op match fields: refused too" "$RC" 2
run rule add 33 action drop dry_run yes
eq "a dry run drops nothing: fine" "$RC" 0
run rule add 34 action drop all yes
eq "all yes: written" "$RC" 0
eq "as all yes" "$(rcli HGET bifrost:rules 34)" "action drop all yes"
run rule add 35 action drop all yes proto udp
eq "all yes on a rule that selects: exits 2" "$RC $ERR" "2 bifrostctl: rule 35 refused: all: yes only on a rule that matches every packet; this one matches on proto"
for id in 31 33 34; do run rule del $id; done
run protect add 0.0.0.0/0
eq "protect add 0.0.0.0/0 exits 2" "$RC" 2
check "and names min_prefix protect" has "$ERR" "min_prefix protect 8"
eq "nothing protected" "$(rcli SCARD bifrost:protect)" 1

echo "# a2s"
run a2s list
eq "a2s list, nothing cached" "$(tail -1 <<<"$OUT")" "(0 servers cached)"
# An INFO reply: header, 'I', protocol, name, map, folder, game, appid, players, max, bots,
# type, environment, visibility, VAC, version.
printf '\xff\xff\xff\xffI\x11Test "one"\0de_dust2\0cstrike\0Counter-Strike\0\x0a\0\x05\x20\x01dl\0\x011.0\0' |
	rcli -x SET bifrost:a2s:203.0.113.10:27015 >/dev/null
rcli PEXPIRE bifrost:a2s:203.0.113.10:27015 60000 >/dev/null
printf '\xff\xff\xff\xffD\x01\x00alice\0\x07\0\0\0\0\0\x80\x3f' | rcli -x SET bifrost:a2s:player:203.0.113.10:27015 >/dev/null
rcli SET bifrost:a2s:rules:203.0.113.10:27015 garbage >/dev/null
rcli SET bifrost:a2s:203.0.113.11:27015 garbage >/dev/null
run a2s list
eq "a2s list exits 0" "$RC" 0
eq "a2s list: count" "$(tail -1 <<<"$OUT")" "(2 servers cached)"
check "a2s list: the parsed one" has "$OUT" '^203.0.113.10:27015  *[0-9.]*s  *62   5/32       1    BAD "de_dust2" "Test \\"one\\""$'
check "a2s list: the unparsable one" has "$OUT" "^203.0.113.11:27015 .*UNPARSABLE (header (not FF FF FF FF))$"
run a2s show 203.0.113.10:27015 --json
eq "a2s show --json" "$(jq -c 'del(.ttl_ms)' <<<"$OUT")" \
	'{"bind":"203.0.113.10:27015","cached":true,"bytes":62,"name":"Test \"one\"","map":"de_dust2","game":"Counter-Strike","appid":10,"players":5,"max_players":32,"bots":1,"player_count":1,"player_bytes":21,"rule_count":null,"rule_error":"header (not FF FF FF FF)"}'
run a2s show 203.0.113.99:27015
eq "a2s show of nothing exits 1" "$RC" 1
eq "and says so" "$(tail -1 <<<"$OUT")" "203.0.113.99:27015: nothing cached"
run a2s show bad
eq "a2s show bad exits 2" "$RC" 2

echo "# stats, watch, top"
run stats --json
eq "stats --json exits 0" "$RC" 0
eq "stats --json: pop1 and pop2, no stats" "$(jq -c '[.edges[] | [.edge, .stats]] | sort' <<<"$OUT")" '[["pop1",false],["pop2",false]]'
rcli HSET bifrost:stats:pop1 ts_ms 1700000000000 rx_pps 12345 rx_bps 99999999 fwd_pps 12000 drop_pps 345 \
	sync_up 1 sync_pending 2 bl_entries 3 default_drop_pps 300 ratelimit_pps 45 ratelimit_packets 9000 \
	forward_packets 77 punch_new_pps 2 >/dev/null
run stats
eq "stats exits 0" "$RC" 0
check "stats: pop1's row" has "$OUT" "^pop1      12.3k 100.0M  12.0k      0      0    345 defaul 300        3    2 >99$"
check "stats: pop2 is not publishing" has "$OUT" "^pop2  *(no stats: not publishing)  *? >99$"
check "stats: the fleet row" has "$OUT" "^FLEET     12.3k"
check "stats: drops by reason" has "$OUT" "^drops/s: default_drop 300 ratelimit 45$"
run stats --json
eq "stats --json: the fleet's ratelimit packets" "$(jq .fleet.reasons.ratelimit.packets <<<"$OUT")" 9000
eq "stats --json: pop1's forward packets" "$(jq '.edges[] | select(.edge == "pop1") | .reasons.forward.packets' <<<"$OUT")" 77
run top
eq "top without a terminal: one frame" "$(head -1 <<<"$OUT" | cut -c1-4)" "EDGE"
run stats watch --count 0 --timeout 1
eq "stats watch --timeout 1 exits 0" "$RC" 0
later rcli PUBLISH bifrost:stats:pop1 garbage
run stats watch --count 1 --timeout 1
wait $LATER
eq "stats watch --count 1 with no frame exits 1" "$RC" 1
check "a bad frame is named" has "$ERR" "bad stats frame on bifrost:stats:pop1"
run watch --count 0 --timeout 1
eq "watch --timeout 1 exits 0" "$RC" 0
again "$CTL" --redis "$REDIS" bl add 192.0.2.0/24 --reason seen
run watch --count 1 --timeout 5 --json
done_again
eq "watch --json saw the add" "$(jq -c 'del(.seq)' <<<"$OUT")" \
	'{"origin":"ops","kind":"bl","op":"add","entry":"192.0.2.0/24","why":"seen"}'
again "$CTL" --redis "$REDIS" bl del 192.0.2.0/24
run watch --count 1 --timeout 5
done_again
eq "watch saw the del" "$OUT" "ops      bl    del 192.0.2.0/24 (manual)"
again rcli PUBLISH bifrost:evt:pop1 'not msgpack'
run watch --count 1 --timeout 5
done_again
check "watch names an undecodable frame" has "$OUT" "^bifrost:evt:pop1 *undecodable frame"

echo "# Redis unreachable"
run --redis 127.0.0.1:1 edges
eq "edges with Redis unreachable exits 1" "$RC" 1
check "and says where ($ERR)" has "$ERR" "cannot reach Redis at 127.0.0.1:1"
run --redis 127.0.0.1:1 bl list
eq "bl list with Redis unreachable exits 1" "$RC" 1
run --redis 127.0.0.1:99999 edges
eq "--redis with a bad port exits 2" "$RC" 2
REC=0

echo "# --redis: names, IPv6; --prefix"
runv --redis "localhost:$RP" edges --json
eq "--redis localhost:PORT" "$(jq -s length <<<"$OUT")" 2
if [ $HAVE_V6 = 1 ]; then
	runv --redis "[::1]:$RP" edges --json
	eq "--redis [::1]:PORT reads" "$(jq -s length <<<"$OUT")" 2
	runv --redis "[::1]:$RP" bl add 192.0.2.66
	eq "--redis [::1]:PORT writes" "$RC $(rcli ZSCORE bifrost:bl:ops 192.0.2.66/32)" "0 inf"
else
	echo "# skipped: --redis [::1]:PORT (no IPv6 loopback on this machine)"
fi
run --help
check "--help documents --prefix" has "$OUT" "--prefix PREFIX"
check "--help: the login comes from --auth-file or the environment" has "$OUT" '^--auth-file: the login'
check "--help: never a password flag" has "$OUT" 'A password is never read from a flag'
run --prefix lab: bl add 198.51.100.99
eq "--prefix: bl add exits 0" "$RC" 0
eq "--prefix: under the prefix" "$(rcli ZSCORE lab:bl:ops 198.51.100.99/32)" inf
eq "--prefix: and not under bifrost:" "$(rcli ZSCORE bifrost:bl:ops 198.51.100.99/32)" ""
run --prefix lab: bl list --json
eq "--prefix: bl list reads it" "$(jq -r .entry <<<"$OUT")" 198.51.100.99/32
run --prefix lab: conn add udp 203.0.113.20:27015 198.18.3.2
eq "--prefix: conn add" "$OUT" "set lab:conn:udp:203.0.113.20:27015 (edges apply it within a second)"
eq "--prefix: its config version" "$(rcli GET lab:conf:version)" 1
run --prefix lab: conn list --json
eq "--prefix: conn list" "$(jq -r .bind <<<"$OUT")" 203.0.113.20:27015
run --prefix lab: rule add 3 action drop proto udp dport 9
eq "--prefix: rule add" "$(rcli HGET lab:rules 3)" "action drop proto udp dport 9"
run --prefix lab: edges --json
eq "--prefix: no edges under lab:" "$OUT" ""
rcli SADD lab:edges pop1 >/dev/null
rcli HSET lab:stats:pop1 rx_pps 7 >/dev/null
run --prefix lab: stats --json
eq "--prefix: stats" "$(jq -c '[.edges[].edge, .fleet.rx_pps]' <<<"$OUT")" '["pop1",7]'
for p in lab x:y "bad prefix:" "$(printf 'a%.0s' $(seq 32)):" 'a*:' ''; do
	run --prefix "$p" edges
	eq "--prefix '$p' exits 2" "$RC" 2
done
run --prefix "$(printf 'a%.0s' $(seq 31)):" edges
eq "--prefix of 32 bytes is fine" "$RC" 0

echo "# a password from REDISCLI_AUTH"
AP=$(free_port) || exit 1
REDIS_PASS=s3cret redis_start "$AP" 127.0.0.1 --requirepass s3cret
REDISCLI_AUTH=wrong runv --redis "127.0.0.1:$AP" edges
eq "a wrong password exits 1" "$RC" 1
check "and says the login was refused ($ERR)" has "$ERR" "Redis at 127.0.0.1:$AP refused the login"
REDISCLI_AUTH=s3cret runv --redis "127.0.0.1:$AP" conn add udp 203.0.113.30:27015 198.18.3.2
eq "the right password: conn add exits 0" "$RC" 0
REDISCLI_AUTH=s3cret runv --redis "127.0.0.1:$AP" conn list --json
eq "the right password: conn list" "$(jq -r .bind <<<"$OUT")" 203.0.113.30:27015
REDISCLI_AUTH=wrong runv --redis "127.0.0.1:$AP" bl add 192.0.2.1
eq "a wrong password: bl add exits 1" "$RC" 1
check "and says the login was refused ($ERR)" has "$ERR" "refused the login"
runv --redis "127.0.0.1:$AP" edges
eq "no password for a Redis that wants one: exit 1" "$RC" 1
eq "and says what to give" "$ERR" "bifrostctl: Redis at 127.0.0.1:$AP wants a login: give a credentials file, or set REDISCLI_AUTH (and BIFROST_REDIS_USER for an ACL user)"

echo "# --auth-file"
# cred NAME TEXT [MODE]: a credentials file in $TMP (mode 0600 unless given)
cred() { printf '%s' "$2" >"$TMP/$1"; chmod "${3:-600}" "$TMP/$1"; }
cred good $'# the lab\npassword s3cret\n'
runv --redis "127.0.0.1:$AP" --auth-file "$TMP/good" conn list --json
eq "--auth-file: conn list" "$RC $(jq -r .bind <<<"$OUT")" "0 203.0.113.30:27015"
REDISCLI_AUTH=wrong runv --redis "127.0.0.1:$AP" --auth-file "$TMP/good" bl add 192.0.2.2
eq "--auth-file wins over REDISCLI_AUTH" "$RC" 0
cred wrong $'password hunter2\n'
runv --redis "127.0.0.1:$AP" --auth-file "$TMP/wrong" edges
eq "a wrong password in the file: exit 1" "$RC" 1
check "and names the file ($ERR)" has "$ERR" "refused the login (credentials from $TMP/wrong): WRONGPASS"
check "never the password" bash -c "! grep -q hunter2 '$TMP/err'"
cred open $'password s3cret\n' 640
runv --redis "127.0.0.1:$AP" --auth-file "$TMP/open" edges
eq "a group-readable file: exit 2" "$RC" 2
eq "and says how to fix it" "$ERR" "bifrostctl: $TMP/open: group or others may read or write it (mode 0640); run: chmod 600 $TMP/open"
cred world $'password s3cret\n' 602
runv --redis "127.0.0.1:$AP" --auth-file "$TMP/world" edges
eq "a world-writable file: exit 2" "$RC" 2
runv --redis "127.0.0.1:$AP" --auth-file "$TMP/nonesuch" edges
eq "a missing file: exit 2" "$RC" 2
check "and says so" has "$ERR" "cannot open the credentials file $TMP/nonesuch: No such file"
runv --redis "127.0.0.1:$AP" --auth-file "$TMP" edges
eq "a directory: exit 2" "$RC" 2
check "and says so" has "$ERR" "not a regular file"
cred bad $'user pop1\npasswd s3cret\n'
runv --redis "127.0.0.1:$AP" --auth-file "$TMP/bad" edges
eq "an unknown key: exit 2" "$RC" 2
eq "and names the line, not the text" "$ERR" "bifrostctl: $TMP/bad:2: unknown key (want 'user NAME' or 'password SECRET')"
head -c 5000 /dev/zero | tr '\0' '#' >"$TMP/big"; chmod 600 "$TMP/big"
runv --redis "127.0.0.1:$AP" --auth-file "$TMP/big" edges
eq "a file over 4096 bytes: exit 2" "$RC" 2

echo "# an ACL user"
UP=$(free_port) || exit 1
REDIS_PASS=adm redis_start "$UP" 127.0.0.1 --requirepass adm
redis-cli -p "$UP" --no-auth-warning -a adm ACL SETUSER ctl on '>ctl pw' '~*' '&*' '+@all' >/dev/null
cred ctl $'user ctl\npassword ctl pw\n'
runv --redis "127.0.0.1:$UP" --auth-file "$TMP/ctl" bl add 192.0.2.3
eq "user and password from the file: bl add" "$RC" 0
BIFROST_REDIS_USER=ctl REDISCLI_AUTH="ctl pw" runv --redis "127.0.0.1:$UP" bl list --json
eq "user and password from the environment: bl list" "$(jq -r .entry <<<"$OUT")" 192.0.2.3/32
BIFROST_REDIS_USER=ctl runv --redis "127.0.0.1:$UP" bl list
eq "a user without a password: exit 2" "$RC" 2
cred ctlwrong $'user ctl\npassword nope\n'
runv --redis "127.0.0.1:$UP" --auth-file "$TMP/ctlwrong" bl add 192.0.2.4
eq "a refused ACL login: exit 1" "$RC" 1
check "and names the user and the file ($ERR)" has "$ERR" "refused the login as ctl (credentials from $TMP/ctlwrong)"
redis-cli -p "$UP" --no-auth-warning -a adm ACL SETUSER ro on '>ro' '%R~*' '+@read' >/dev/null
cred ro $'user ro\npassword ro\n'
runv --redis "127.0.0.1:$UP" --auth-file "$TMP/ro" bl add 192.0.2.5
eq "a write the user may not make: exit 1" "$RC" 1
check "Redis's reason is shown ($ERR)" has "$ERR" "NOPERM"
runv --redis "127.0.0.1:$UP" --auth-file "$TMP/ro" conn add udp 203.0.113.40:27015 198.18.3.2
eq "a config write the user may not make: exit 1" "$RC" 1
check "Redis's reason is shown" has "$ERR" "NOPERM"
runv --redis "127.0.0.1:$UP" --auth-file "$TMP/ro" watch --count 1 --timeout 1
eq "a watch the user may not make: exit 1" "$RC" 1
check "Redis's reason is shown" has "$ERR" "refused PSUBSCRIBE bifrost:evt:\*: NOPERM"

echo "# acl"
cred pop1 $'user pop1\npassword pop1 secret\n'
hash=$(printf '%s' 'pop1 secret' | sha256sum | cut -d' ' -f1)
runv acl edge pop1 --auth-file "$TMP/pop1"
eq "acl edge exits 0" "$RC" 0
eq "one line" "$(wc -l <"$TMP/out")" 1
check "ACL SETUSER of the file's user, the password as its SHA-256" has "$OUT" "^ACL SETUSER pop1 reset resetchannels on #$hash -@all "
check "never the password" bash -c "! grep -q 'pop1 secret' '$TMP/out'"
check "its own origin" has "$OUT" " ~bifrost:wl:pop1 "
runv acl edge pop1 --prefix lab: --auth-file "$TMP/pop1"
check "--prefix: keys under lab:" has "$OUT" " ~lab:wl:pop1 "
check "--prefix: nothing under bifrost:" bash -c "! grep -q bifrost: '$TMP/out'"
runv acl inspector --auth-file "$TMP/pop1"
check "acl inspector" has "$OUT" "^ACL SETUSER pop1 .* +@read -@dangerous "
runv acl edge ops --auth-file "$TMP/pop1"
eq "acl edge ops: exit 2" "$RC" 2
check "and says why" has "$ERR" "acl edge: 'ops' is not a POP id"
runv acl flowspec ops --auth-file "$TMP/pop1"
eq "acl flowspec ops: exit 2" "$RC" 2
runv acl flowspec pop1 --auth-file "$TMP/pop1"
check "acl flowspec pop1: its own state key only" has "$OUT" "~bifrost:flowspec:pop1 "
runv acl edge --auth-file "$TMP/pop1"
eq "acl edge without an id: exit 2" "$RC" 2
runv acl admin --auth-file "$TMP/pop1"
eq "acl admin is no role: exit 2" "$RC" 2
env -u REDISCLI_AUTH -u BIFROST_REDIS_USER "$CTL" acl ops >"$TMP/out" 2>"$TMP/err"
eq "acl without credentials: exit 2" "$?" 2
check "and says what it needs" has "$(cat "$TMP/err")" "needs the user's name and password: --auth-file FILE"
cred nouser $'password x\n'
runv acl ops --auth-file "$TMP/nouser"
eq "acl with a file without a user: exit 2" "$RC" 2
BIFROST_REDIS_USER=envops REDISCLI_AUTH=pw runv acl ops
check "acl from the environment" has "$OUT" "^ACL SETUSER envops reset resetchannels on #$(printf pw | sha256sum | cut -d' ' -f1) "
runv acl ops --auth-file "$TMP/pop1"
redis-cli -p "$UP" --no-auth-warning -a adm <"$TMP/out" >"$TMP/load"
eq "the line loads with redis-cli" "$(cat "$TMP/load")" OK
REDISCLI_AUTH="pop1 secret" BIFROST_REDIS_USER=pop1 runv --redis "127.0.0.1:$UP" conn add udp 203.0.113.41:27015 198.18.3.2
eq "and the user it made logs in and writes the config" "$RC" 0

summary
