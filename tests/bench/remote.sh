#!/usr/bin/env bash
# make bench, section 6: the modules on remote hosts over SSH. Prints the section's markdown.
#
# A network namespace of its own with Debian's sshd, reached from the controller through a veth
# pair shaped with tc tbf (at 1 Gbit/s, then 100 Mbit/s), 20 addresses on its side (the 20 hosts of
# the fleet case), a plain user whose login shell reads no start-up files, and SSH multiplexing as
# ansible configures it (-C -o ControlMaster=auto -o ControlPersist=60s). tests/bench/remote.py
# runs the plays, times them and counts the bytes on the veth. Needs root.
#
# usage: tests/bench/remote.sh <raw output dir> <summary file>
set -euo pipefail
raw=$1
summary=$2
here=$(cd "$(dirname "$0")" && pwd)
[ "$(id -u)" -eq 0 ] || { echo "needs root (network namespace, sshd, users)" >&2; exit 1; }
# shellcheck source=../integration/utils/sshd_host.sh
. "$here/../integration/utils/sshd_host.sh"

id=$$
ns=rops-bench$id
veth_c=rops-b${id}c # the controller's end
veth_h=rops-b${id}h # the host's end
user=rops-bench$id
work=$(mktemp -d /tmp/rops-bench.XXXXXX)
# A /24 of 10.0.0.0/8 that no route on this machine uses yet.
net=""
for o in $(seq $((id % 200 + 20)) 250) $(seq 20 $((id % 200 + 19))); do
  if ! ip route | grep -q "^10\.213\.$o\."; then
    net=10.213.$o
    break
  fi
done
[ -n "$net" ] || { echo "no free 10.213.x.0/24" >&2; exit 1; }

cleanup() {
  sshd_host_cleanup
  ip link del "$veth_c" 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

ip netns add "$ns"
ip link add "$veth_c" type veth peer name "$veth_h"
ip link set "$veth_h" netns "$ns"
ip addr add "$net.1/24" dev "$veth_c"
ip link set "$veth_c" up
ip netns exec "$ns" ip link set lo up
for i in $(seq 10 29); do
  ip netns exec "$ns" ip addr add "$net.$i/24" dev "$veth_h"
done
ip netns exec "$ns" ip link set "$veth_h" up

sshd_host_init "$work"
sshd_host_user "$user"
sshd_host_start 0.0.0.0 22 "$ns" "$user"

shape() { # shape <rate> <burst>: both directions of the link
  tc qdisc replace dev "$veth_c" root tbf rate "$1" burst "$2" latency 20ms
  ip netns exec "$ns" tc qdisc replace dev "$veth_h" root tbf rate "$1" burst "$2" latency 20ms
}

home=$(getent passwd "$user" | cut -d: -f6)
fleet=--fleet # the 20-host plays on the first link only
for link in "1gbit 1mb" "100mbit 256kb"; do
  set -- $link
  shape "$1" "$2"
  /usr/bin/python3 "$here/remote.py" --link "$1" --net "$net" --user "$user" --home "$home" \
    --key "$work/id_ed25519" --veth "$veth_c" --work "$work" --raw "$raw" --runs "${BENCH_RUNS:-3}" \
    --json "$raw/remote-$1.json" $fleet
  fleet=
done
/usr/bin/python3 "$here/remote.py" --report "$raw/remote-1gbit.json" "$raw/remote-100mbit.json" --summary "$summary"
