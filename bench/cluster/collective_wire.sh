#!/usr/bin/env bash
# What one MPI collective carries over each host's link on the emulated cluster, and how long it
# takes, as root, with Open MPI's default choice of algorithm and with each algorithm forced: the
# check of the bytes that the scaling model (scripts/dgc-scaling: allreduce_wire,
# allgatherv_wire) puts on a host link, and of the part of the link's rate they get (the model's
# efficiency, there fitted to training steps). Compiles collective_wire.c with mpicc into a
# temporary directory and runs it on cluster.sh's hosts at RATE (default 10gbit; the bytes do not
# depend on it, the time does).
#
#   bench/cluster/collective_wire.sh [--collective allreduce|allgatherv] [--hosts H] [--ranks R]
#                                    [--rate RATE] [--reps N] [--algorithms LIST] BYTES...
#     BYTES: the allreduce's buffer, or what each rank brings to the allgatherv (DGC's message);
#     what a rank receives must stay within 512 MiB (the hosts share this machine's memory).
#     H hosts of R ranks (default 2 x 2), N calls per size (default 20), LIST of Open MPI's
#     coll_tuned_<collective>_algorithm numbers or "default" (default: default). Allreduce:
#     1 basic linear, 2 nonoverlapping, 3 recursive doubling, 4 ring, 5 segmented ring,
#     6 Rabenseifner's; allgatherv: 1 gatherv and broadcast, 2 Bruck's, 3 ring, 4 neighbour
#     exchange, 5 two processes.
# Prints CSV: collective,hosts,ranks_per_host,algorithm,node,bytes,tx_per_call,rx_per_call,
# seconds_median,seconds_mean,seconds_back_to_back,rate: the bytes each host's interfaces counted
# per call (TCP/IP headers and acknowledgements in), and the seconds of a call (the slowest
# rank's), each after a barrier or back to back (collective_wire.c says why both).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
collective=allreduce hosts=2 ranks=2 rate=10gbit reps=20 algorithms=default
while [[ $# -gt 0 ]]; do
  case $1 in
    --collective) collective=${2:-}; shift 2 ;;
    --hosts) hosts=${2:-}; shift 2 ;;
    --ranks) ranks=${2:-}; shift 2 ;;
    --rate) rate=${2:-}; shift 2 ;;
    --reps) reps=${2:-}; shift 2 ;;
    --algorithms) algorithms=${2:-}; shift 2 ;;
    -*) echo "collective_wire.sh: unknown option $1 (see the header for usage)" >&2; exit 2 ;;
    *) break ;;
  esac
done
[[ $collective == allreduce || $collective == allgatherv ]] ||
  { echo "collective_wire.sh: --collective takes allreduce or allgatherv, got '$collective'" >&2; exit 2; }
for n in "$hosts" "$ranks" "$reps"; do
  [[ $n =~ ^[1-9][0-9]{0,4}$ ]] || { echo "collective_wire.sh: --hosts, --ranks and --reps take a number >= 1, got '$n'" >&2; exit 2; }
done
last=6
[[ $collective == allreduce ]] || last=5
[[ $algorithms =~ ^(default|[1-$last])(,(default|[1-$last]))*$ ]] ||
  { echo "collective_wire.sh: --algorithms takes default and 1..$last for the $collective, comma-separated, got '$algorithms'" >&2; exit 2; }
[[ $rate =~ ^[1-9][0-9]{0,5}[kmg]?bit$ ]] ||
  { echo "collective_wire.sh: --rate takes a rate such as 10mbit or 1gbit, got '$rate'" >&2; exit 2; }
[[ $# -gt 0 ]] || { echo "collective_wire.sh: no sizes (bytes, multiples of 4) given" >&2; exit 2; }
for bytes in "$@"; do
  [[ $bytes =~ ^[1-9][0-9]{0,9}$ && $((bytes % 4)) -eq 0 ]] ||
    { echo "collective_wire.sh: sizes are bytes, multiples of 4, got '$bytes'" >&2; exit 2; }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mpicc -O2 -o "$work/collective_wire" "$here/collective_wire.c"
# The cluster's commands run in the head namespace; the program's output is collected there, and
# any run's failure is the script's.
runs="set -o pipefail; "
for algorithm in ${algorithms//,/ }; do
  mca=
  [[ $algorithm == default ]] ||
    mca="--mca coll_tuned_use_dynamic_rules 1 --mca coll_tuned_${collective}_algorithm $algorithm"
  for bytes in "$@"; do
    runs+="\$DGC_CLUSTER_MPIRUN $mca $work/collective_wire $collective $bytes $reps | "
    runs+="sed 's/^/$collective,$hosts,$ranks,$algorithm,/; s/\$/,$rate/' && "
  done
done
echo "collective,hosts,ranks_per_host,algorithm,node,bytes,tx_per_call,rx_per_call,seconds_median,seconds_mean,seconds_back_to_back,rate"
"$here/cluster.sh" --hosts "$hosts" --ranks "$ranks" --rate "$rate" -- bash -c "${runs}true"
