#!/usr/bin/env bash
# Open MPI's rsh agent for the emulated cluster (bench/cluster/cluster.sh): instead of ssh, run the
# command inside the network namespace of the host it names, with a UTS namespace of its own whose
# hostname is the host's, so that Open MPI sees one node per emulated host.
#   rsh_agent.sh [ssh options...] HOST COMMAND...
# Hosts are the cluster's addresses; cluster.sh writes the address -> namespace map it reads.
set -euo pipefail
map=${DGC_CLUSTER_MAP:?DGC_CLUSTER_MAP is not set (run through bench/cluster/cluster.sh)}
# Open MPI may pass ssh-style options (-x, -o ...) before the host.
while [[ $# -gt 0 && $1 == -* ]]; do
  case $1 in
    -o | -l | -p) shift 2 ;;
    *) shift ;;
  esac
done
host=${1:?no host}
shift
ns=$(awk -v h="$host" '$1 == h { print $2 }' "$map")
[[ -n $ns ]] || { echo "rsh_agent: $host is not a host of the emulated cluster ($map)" >&2; exit 1; }
exec ip netns exec "$ns" unshare --uts -- /bin/sh -c 'hostname "$0"; exec /bin/sh -c "$1"' "$ns" "$*"
