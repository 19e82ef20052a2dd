#!/usr/bin/env bash
# lab-host - a host of the compose fleet (docker/compose.yml): it owns a network
# namespace that the fleet's other containers join (network_mode: service:...),
# names its interfaces by the subnet they are on, adds addresses and routes, then
# waits until it is stopped. An edge container restarted inside such a host keeps
# its interfaces, so its XDP program stays attached (docs/OPERATIONS.md).
#
#   lab-host [--iface SUBNET=NAME]... [--lo ADDR/LEN]... [--route DEST=GW]...
#            [--ping ADDR]... [--gro NAME]... [-- CMD ARGS...]
#
# --iface 10.98.0.0/24=up0  renames the interface whose address is in that subnet
# --route DEST=GW           ip route replace DEST via GW
# --ping ADDR               one ping, so the neighbour is resolved before traffic
# With a CMD it is exec'd once the host is set up; without, lab-host sleeps.
set -euo pipefail
rm -f /run/lab-host.ready

die() { echo "lab-host: $*" >&2; exit 2; }
in_subnet() { # ADDR NET/LEN
	local a=$1 net=${2%/*} len=${2#*/} ai ni
	IFS=. read -r a1 a2 a3 a4 <<<"$a"; IFS=. read -r n1 n2 n3 n4 <<<"$net"
	ai=$(((a1 << 24) | (a2 << 16) | (a3 << 8) | a4)); ni=$(((n1 << 24) | (n2 << 16) | (n3 << 8) | n4))
	[ "$len" -eq 0 ] && return 0
	(((ai ^ ni) >> (32 - len) == 0))
}

ifaces=() los=() routes=() pings=()
while [ $# -gt 0 ]; do
	case $1 in
	--iface) ifaces+=("${2:?--iface SUBNET=NAME}"); shift 2 ;;
	--lo) los+=("${2:?--lo ADDR/LEN}"); shift 2 ;;
	--route) routes+=("${2:?--route DEST=GW}"); shift 2 ;;
	--ping) pings+=("${2:?--ping ADDR}"); shift 2 ;;
	--) shift; break ;;
	-h | --help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown option '$1' (see --help)" ;;
	esac
done

for spec in "${ifaces[@]}"; do
	subnet=${spec%%=*} name=${spec#*=} found=
	while read -r dev addr; do
		if in_subnet "${addr%/*}" "$subnet"; then found=${dev%@*}; break; fi
	done < <(ip -o -4 addr show | awk '$2 != "lo" {print $2, $4}')
	[ -n "$found" ] || die "no interface with an address in $subnet"
	if [ "$found" != "$name" ]; then
		ip link set dev "$found" down
		ip link set dev "$found" name "$name"
		ip link set dev "$name" up
	fi
	# Software checksums: a veth hands partially checksummed packets to XDP.
	ethtool -K "$name" tx off >/dev/null 2>&1 || true
	echo "lab-host: $name is on $subnet"
done
for a in "${los[@]}"; do ip addr replace "$a" dev lo; done
for r in "${routes[@]}"; do ip route replace "${r%%=*}" via "${r#*=}"; done
for p in "${pings[@]}"; do ping -c1 -W1 "$p" >/dev/null 2>&1 || echo "lab-host: $p did not answer a ping" >&2; done
echo "lab-host: ready"
: >/run/lab-host.ready
if [ $# -gt 0 ]; then exec "$@"; fi
trap 'exit 0' TERM INT
while :; do sleep 3600 & wait $!; done
