# veth.sh - sourced by live.sh and scale.sh: the sender's and receiver's namespaces
# with a veth pair between them, and the edge loaded on the receiver's end.
# Needs BIN (build/bin).

# bench_pair S R SEND_IF RECV_IF QUEUES: namespaces S and R (made afresh), SEND_IF in
# S and RECV_IF in R, QUEUES queues each way, both up, RECV_IF 198.18.0.1/24.
bench_pair() {
	bench_pair_down "$1" "$2" "$4"
	mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
	ip netns add "$1"
	ip netns add "$2"
	ip link add "$3" numtxqueues "$5" numrxqueues "$5" netns "$1" type veth \
		peer name "$4" numtxqueues "$5" numrxqueues "$5" netns "$2"
	ip -n "$1" link set "$3" up
	ip -n "$2" link set "$4" up
	ip -n "$2" addr add 198.18.0.1/24 dev "$4"
}

# bench_pair_down S R RECV_IF: the namespaces and the edge's pins of RECV_IF gone.
bench_pair_down() {
	ip netns del "$1" 2>/dev/null || true
	ip netns del "$2" 2>/dev/null || true
	rm -rf "/sys/fs/bpf/bifrost/$3"
}

# bench_edge NETNS CONF LOG: bifrost-edge started on CONF in NETNS until it runs, then
# stopped: its program stays attached with the config applied (no daemon beside the
# measure).
bench_edge() {
	local edge
	nsenter --net="/run/netns/$1" "$BIN/bifrost-edge" -c "$2" >"$3" 2>&1 &
	edge=$!
	for _ in $(seq 50); do grep -q "running on" "$3" && break; sleep 0.1; done
	kill $edge
	wait $edge 2>/dev/null || true
}
