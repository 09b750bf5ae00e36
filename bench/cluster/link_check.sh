#!/usr/bin/env bash
# What the emulated links carry without MPI (issue 15), as root: for each rate, two hosts of
# bench/cluster/cluster.sh and one TCP connection between them (tcp_probe.py), one way and then
# both ways at once, about 4 seconds of data each, then 20 round trips of one byte. It shows that
# the links give TCP their rate and delay, so that what MPI reaches below them
# (docs/PERFORMANCE.md, the scaling model) is MPI's.
#   bench/cluster/link_check.sh [--delay DELAY] [RATE...]   (default: 10mbit 100mbit 1gbit 10gbit)
# DELAY is cluster.sh's (one way per link: a round trip between two hosts crosses 4 of them).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../link_rate.sh"
delay_args=()
if [[ ${1:-} == --delay ]]; then
  [[ $# -ge 2 ]] || { echo "link_check.sh: --delay needs a value" >&2; exit 2; }
  delay_args=(--delay "$2")
  shift 2
fi
rates=("$@")
[[ ${#rates[@]} -gt 0 ]] || rates=(10mbit 100mbit 1gbit 10gbit)
for rate in "${rates[@]}"; do
  bits=$(rate_bits "$rate") ||
    { echo "link_check.sh: rates look like 10mbit or 1gbit, got $rate" >&2; exit 2; }
  bytes=$((bits / 2))  # 4 s at the rate
  echo "== $rate"
  # Inside the cluster (the head namespace): the server in host 1, the client in host 2.
  probe="/usr/bin/python3 $here/tcp_probe.py"
  "$here/cluster.sh" --hosts 2 --rate "$rate" "${delay_args[@]}" -- bash -c "for mode in one both rtt; do \
n=\$([ \$mode = rtt ] && echo 20 || echo $bytes); \
ip netns exec dgc-h1 $probe server 5599 \$n \$mode & \
ip netns exec dgc-h2 $probe client 10.99.0.1:5599 \$n \$mode; wait; done" 2>&1 |
    grep -v '^cluster.sh: 2 host'
done
