#!/bin/bash
# test_gamedig.sh - conformance of the bf-netprobe A2S responder (sync/a2s.c builders, challenge,
# split replies) with gamedig, a third-party client, on loopback. Installs gamedig (pinned in
# package-lock.json) with npm ci when it is missing; skips only when npm cannot reach its
# registry at all.
set -u
. "$(dirname "$0")/../lib.sh" test_gamedig
cd "$ROOT/tests/tools"
need_tools node npm jq
need_bins bf-netprobe

npm_deps
case $? in
2)
	echo "test_gamedig: SKIPPED: npm cannot reach its registry to install gamedig"
	echo "test_gamedig: 0 passed, 0 failed, 1 skipped"
	exit 0 ;;
1)
	echo "test_gamedig: npm ci failed although the registry answers (above)" >&2
	exit 1 ;;
esac

BASE=$((23000 + ($$ % 400) * 5))

# Starts a stand-in on 127.0.0.1:$1 with the remaining flags.
standin() {
	local port=$1; shift
	"$BIN/bf-netprobe" serve --udp "127.0.0.1:$port" --count-file "$TMP/$port.count" "$@" \
		2>>"$TMP/netprobe.log" &
	PIDS+=($!)
	for _ in $(seq 100); do [ -s "$TMP/$port.count" ] && return 0; sleep 0.02; done
	echo "test_gamedig: stand-in on $port did not start" >&2
	exit 1
}

gamedig() { timeout 20 node gamedig_query.js 127.0.0.1 "$1" csgo; }

echo "# gamedig (csgo type) against the stand-in with challenge: INFO, PLAYER, split RULES"
P1=$BASE
NAME='Bifrost ✓ "gamedig" test'
standin $P1 --a2s-name "$NAME" --a2s-map de_inferno --a2s-players 4 --a2s-bots 1 --a2s-max-players 24 \
	--a2s-rules 200
out=$(gamedig $P1)
eq "gamedig succeeds" "$?" 0
[ -n "$out" ] || out='{}'
eq "name (UTF-8, quotes)" "$(jq -r .name <<<"$out")" "$NAME"
eq "map" "$(jq -r .map <<<"$out")" de_inferno
eq "players / max" "$(jq -c '[.numplayers,.maxplayers]' <<<"$out")" '[4,24]'
eq "player names, the bot apart" "$(jq -c '[(.players|sort), .bots]' <<<"$out")" \
	'[["player1","player2","player3"],["player4"]]'
eq "rules: all 200 from the split reply" "$(jq '.rules|length' <<<"$out")" 200
eq "rules: a value" "$(jq -r '.rules.bf_rule_123' <<<"$out")" value_123
eq "EDF: game port, steam id, keywords, app id" \
	"$(jq -c '[.connect,.steamid,(.tags|join(",")),.appId]' <<<"$out")" \
	"[\"127.0.0.1:$P1\",\"85568392920039000\",\"bifrost,stand-in\",730]"
counts=$(sed -n 2p "$TMP/$P1.count")
[[ $counts =~ challenges_sent=([0-9]+) ]] && ch=${BASH_REMATCH[1]} || ch=0
[ "$ch" -ge 1 ] && ok "the client went through the challenge ($ch sent)" || bad "no challenge was sent"

echo "# no challenge for INFO (pre-2020 servers), PLAYER/RULES still with one"
P2=$((BASE + 1))
standin $P2 --a2s-no-challenge --a2s-name old --a2s-players 2 --a2s-rules 3
out=$(gamedig $P2)
eq "gamedig succeeds" "$?" 0
[ -n "$out" ] || out='{}'
eq "name, players, rules" "$(jq -c '[.name,.numplayers,(.rules|length)]' <<<"$out")" '["old",2,3]'

echo "# bf-netprobe a2s agrees with gamedig on the same server"
mine=$("$BIN/bf-netprobe" a2s --to 127.0.0.1:$P1 --kind rules --json)
eq "bf-netprobe a2s: 200 rules" "$(jq .rule_count <<<"$mine")" 200
eq "bf-netprobe a2s: never more bytes than sent before the challenge" \
	"$(jq '.received[0] <= .sent[0]' <<<"$mine")" true

summary
