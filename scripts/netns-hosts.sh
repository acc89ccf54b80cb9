#!/usr/bin/env bash
# Throwaway "hosts" for the remote-agent tests: network namespaces with a network stack of their
# own, each joined to this machine by a veth pair. Host I reaches this machine at 10.213.I.1 and
# has the address 10.213.I.2; nothing else is routed. Needs root (CI runs as root).
#
#   scripts/netns-hosts.sh up 1 2     # namespaces batonag1, batonag2
#   ip netns exec batonag1 CMD        # CMD runs "on" host 1 (same files, its own network)
#   scripts/netns-hosts.sh down 1 2
set -euo pipefail
action=${1:?usage: netns-hosts.sh up|down I...}
shift
for i in "$@"; do
  ns="batonag$i" outer="vbag$i" inner="vbag${i}n"
  case "$action" in
    up)
      ip netns add "$ns"
      ip link add "$outer" type veth peer name "$inner"
      ip link set "$inner" netns "$ns"
      ip addr add "10.213.$i.1/24" dev "$outer"
      ip link set "$outer" up
      ip -n "$ns" addr add "10.213.$i.2/24" dev "$inner"
      ip -n "$ns" link set "$inner" up
      ip -n "$ns" link set lo up
      ;;
    down)
      ip netns delete "$ns" 2>/dev/null || true
      ip link delete "$outer" 2>/dev/null || true
      ;;
    *) echo "netns-hosts.sh: unknown action $action (up or down)" >&2; exit 2 ;;
  esac
done
