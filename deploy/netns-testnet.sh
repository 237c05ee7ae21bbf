#!/usr/bin/env bash
# A testnet in which every node has its own network namespace and address (10.77.0.0/24), joined
# by veth pairs to a bridge in a namespace of its own: nothing outside the namespaces is touched.
# Needs root (ip netns). Usage:
#   sudo deploy/netns-testnet.sh up DIR [NODES]   # create, initialise and start (default 3 nodes)
#   sudo deploy/netns-testnet.sh down DIR         # stop the nodes and remove every namespace
# The node directories stay in DIR; `hotline --home DIR/alpha status` works from the host (the
# operator API is a Unix socket). Set HOTLINE=/path/to/hotline if it is not on PATH.
set -euo pipefail

HOTLINE=${HOTLINE:-hotline}
NAMES=(alpha bravo charlie delta echo foxtrot golf hotel)
SWITCH=hl-switch

usage() {
  sed -n '2,9p' "$0" >&2
  exit 2
}

down() {
  local dir=$1
  if [ -f "$dir/pids" ]; then
    while read -r pid; do kill "$pid" 2>/dev/null || true; done < "$dir/pids"
    rm -f "$dir/pids"
  fi
  for ns in $(ip netns list | awk '{print $1}' | grep '^hl-' || true); do
    ip netns delete "$ns"
  done
}

up() {
  local dir=$1 n=$2
  if [ "$n" -lt 2 ] || [ "$n" -gt ${#NAMES[@]} ]; then
    echo "NODES must be 2 to ${#NAMES[@]}" >&2
    exit 2
  fi
  command -v "$HOTLINE" >/dev/null || { echo "hotline not found; set HOTLINE=/path/to/hotline" >&2; exit 1; }
  mkdir -p "$dir"
  trap 'echo "failed; cleaning up" >&2; down "$dir"' ERR
  ip netns add "$SWITCH"
  ip -n "$SWITCH" link add hl-br0 type bridge
  ip -n "$SWITCH" link set hl-br0 up
  local cards=()
  for i in $(seq 0 $((n - 1))); do
    local name=${NAMES[$i]} ns="hl-${NAMES[$i]}" addr="10.77.0.$((i + 1))"
    ip netns add "$ns"
    ip link add "hl-v$i" netns "$SWITCH" type veth peer name eth0 netns "$ns"
    ip -n "$SWITCH" link set "hl-v$i" master hl-br0 up
    ip -n "$ns" addr add "$addr/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" link set lo up
    "$HOTLINE" --home "$dir/$name" init --name "$name" --listen "$addr:4733" --language en >/dev/null
    cards+=(--card "$dir/$name/card.json")
  done
  "$HOTLINE" roster build --network netns-testnet "${cards[@]}" --out "$dir/roster.bin"
  : > "$dir/pids"
  for i in $(seq 0 $((n - 1))); do
    local name=${NAMES[$i]}
    "$HOTLINE" --home "$dir/$name" roster install "$dir/roster.bin" >/dev/null
    ip netns exec "hl-$name" "$HOTLINE" --home "$dir/$name" run >"$dir/$name.log" 2>&1 &
    echo $! >> "$dir/pids"
  done
  trap - ERR
  echo "started $n nodes on 10.77.0.1-$n:4733; logs in $dir/*.log; stop with: $0 down $dir"
}

[ "$(id -u)" -eq 0 ] || { echo "needs root (ip netns)" >&2; exit 1; }
case ${1:-} in
  up) [ $# -ge 2 ] || usage; up "$2" "${3:-3}" ;;
  down) [ $# -ge 2 ] || usage; down "$2" ;;
  *) usage ;;
esac
