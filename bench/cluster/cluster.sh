#!/usr/bin/env bash
# An emulated cluster on one machine (issue 15), as root: N hosts, each a network namespace
# (dgc-h1 .. dgc-hN) with its own hostname for the processes started in it, joined by a bridge in a
# switch namespace (dgc-sw) on the private subnet 10.99.0.0/24, with a rate and a delay on every
# host's link (both directions: HTB for the rate, netem for the delay, or delay_forward.py where
# the kernel lacks netem); mpirun runs in a head namespace (dgc-head, 10.99.0.254, unshaped).
# Open MPI starts each host's daemon through bench/cluster/rsh_agent.sh, which enters
# the host's namespaces, so `mpirun -H` works as across real machines: TCP between hosts
# (restricted to the subnet), shared memory inside a host, one node per host. Nothing is
# routed: no namespace has a default route, and the root namespace is not attached, so no
# traffic leaves the namespaces this script makes. Everything it made (namespaces, links, qdiscs)
# goes on exit, on Ctrl-C and on failure.
#
#   bench/cluster/cluster.sh [--hosts N] [--rate RATE] [--delay DELAY] [--ranks R] [--queue BYTES]
#                            -- COMMAND...
#     RATE: tc units (10gbit, 1gbit, 100mbit, 10mbit; default 1gbit), by HTB; DELAY: one way per
#     link, tc units (us, ms, s; default 0.05ms), so 2 DELAY one way between two hosts; R: ranks
#     per host for $DGC_CLUSTER_MPIRUN (default 1); BYTES: the most each host's link holds
#     waiting, in bytes (a bfifo under HTB's class; with netem, netem's limit in packets of 1,514
#     bytes, rounded up), where the default is a queue of 1,000 packets (netem: 100,000).
#     The delay is netem's where the kernel has netem. Where it has not, a --delay given is
#     delay_forward.py's: each host's packets to the other hosts wait 2 DELAY in userspace on their
#     way out (the head's packets to the hosts do not wait), which carries about 200 Mbit/s, so
#     it needs RATE <= 100mbit; the default delay is then left out, with a warning.
# COMMAND runs in the head namespace with, in its environment:
#   DGC_CLUSTER_MPIRUN   mpirun with the hosts (-H h1:R,...), the rsh agent and the transports;
#                        append the program: $DGC_CLUSTER_MPIRUN build/bin/dgc-train ...
#   DGC_CLUSTER_HOSTS    the hosts' addresses, comma-separated
#   DGC_CLUSTER_NODES    the number of hosts (passed on to the ranks)
# The check that Open MPI, and dgc's Communicator, see one node per host (the test reads
# DGC_CLUSTER_NODES):
#   bench/cluster/cluster.sh --hosts 2 --ranks 2 -- bash -c '$DGC_CLUSTER_MPIRUN -x OMP_NUM_THREADS=1 \
#     build/bin/dgc-mpi-tests --gtest_filter=Topology.TheBinarysNodesFollowTheMachineOrTheEnvironment'
set -euo pipefail

hosts=2 rate=1gbit delay=0.05ms delay_given=0 ranks=1 queue=
while [[ $# -gt 0 ]]; do
  case $1 in
    --hosts) hosts=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --delay) delay=$2; delay_given=1; shift 2 ;;
    --ranks) ranks=$2; shift 2 ;;
    --queue) [[ $# -ge 2 && $2 != -- ]] || { echo "cluster.sh: --queue needs a number of bytes" >&2; exit 2; }
             queue=$2; shift 2 ;;
    --) shift; break ;;
    *) echo "cluster.sh: unknown option $1 (see the header for usage)" >&2; exit 2 ;;
  esac
done
[[ $# -gt 0 ]] || { echo "cluster.sh: no command after --" >&2; exit 2; }
[[ $hosts =~ ^[0-9]+$ && $hosts -ge 1 && $hosts -le 64 ]] || { echo "cluster.sh: --hosts must be 1..64, got $hosts" >&2; exit 2; }
[[ $ranks =~ ^[0-9]+$ && $ranks -ge 1 ]] || { echo "cluster.sh: --ranks must be >= 1, got $ranks" >&2; exit 2; }
[[ -z $queue || ($queue =~ ^[0-9]{1,12}$ && $queue -ge 1514) ]] ||
  { echo "cluster.sh: --queue must be a number of bytes >= 1514 (one full packet), got '$queue'" >&2; exit 2; }
[[ $(id -u) -eq 0 ]] || { echo "cluster.sh: needs root (network namespaces, tc)" >&2; exit 1; }

here=$(cd "$(dirname "$0")" && pwd)
subnet=10.99.0
map=$(mktemp /tmp/dgc-cluster-map.XXXXXX)
namespaces=() forwarders=()

cleanup() {
  for pid in "${forwarders[@]}"; do kill "$pid" 2>/dev/null || true; done
  for ns in "${namespaces[@]}"; do ip netns delete "$ns" 2>/dev/null || true; done
  rm -f "$map" "$map".*
}
trap cleanup EXIT
trap 'exit 130' INT TERM  # until the command runs (then: below)

for ns in dgc-sw dgc-head $(seq -f 'dgc-h%g' 1 "$hosts"); do
  if ip netns list | grep -qw "$ns"; then
    echo "cluster.sh: namespace $ns exists already (another cluster running?); remove it with 'ip netns delete $ns'" >&2
    exit 1
  fi
done

source "$here/../link_rate.sh"
link_bits=$(rate_bits "$rate") ||
  { echo "cluster.sh: --rate must look like 100mbit or 1gbit, got $rate" >&2; exit 2; }
[[ ${delay,,} =~ ^([0-9]+(\.[0-9]+)?)(us|ms|s)$ ]] ||
  { echo "cluster.sh: --delay must look like 0.05ms, 10ms or 200us, got $delay" >&2; exit 2; }
delay_seconds=$(awk -v v="${BASH_REMATCH[1]}" -v u="${BASH_REMATCH[3]}" \
  'BEGIN { printf "%.9f", v * (u == "us" ? 1e-6 : u == "ms" ? 1e-3 : 1) }')

add_ns() { ip netns add "$1"; namespaces+=("$1"); ip -n "$1" link set lo up; }
add_ns dgc-sw
ip -n dgc-sw link add br0 type bridge
ip -n dgc-sw link set br0 up

# attach NS ADDRESS [shaped]: a veth from NS to the switch, the address on NS's end.
attach() {
  local ns=$1 address=$2 shaped=${3:-}
  local port="p-${ns#dgc-}"
  ip link add eth0 netns "$ns" type veth peer name "$port" netns dgc-sw
  # Below 1 Gbit/s, packets of one MTU (no segmentation offload): HTB lets a packet pass whenever
  # its bucket holds any credit, so a 64 KiB offloaded segment crossed a 10 Mbit/s link at once
  # after a pause (20 kB in 0 ms instead of 16). At 1 Gbit/s and above that segment is worth
  # 0.5 ms or less, and without offload this VM's TCP stops at ~0.4 Gbit/s, so offload stays.
  if ((link_bits < 1000000000)); then
    ip -n "$ns" link set dev eth0 gso_max_size 1514 gso_max_segs 1
    ip -n dgc-sw link set dev "$port" gso_max_size 1514 gso_max_segs 1
  fi
  ip -n dgc-sw link set "$port" master br0 up
  ip -n "$ns" addr add "$address/24" dev eth0
  ip -n "$ns" link set eth0 up
  if [[ -n $shaped ]]; then
    # Both directions of the host's link: its sending side, and the switch's side towards it.
    shape "$ns" eth0
    shape dgc-sw "$port"
    ((!use_forwarder)) || forward_with_delay "$ns" "$address"
  fi
}

# forward_with_delay NS ADDRESS: NS's packets to the subnet through delay_forward.py's device
# (table 200), which sends them on with mark 1, routed by the main table out of eth0.
forward_with_delay() {
  local ns=$1 address=$2 log=$map.$1.delay
  ip netns exec "$ns" /usr/bin/python3 "$here/delay_forward.py" dly0 \
    "$(awk -v d="$delay_seconds" 'BEGIN { printf "%.9f", 2 * d }')" > "$log" 2>&1 &
  forwarders+=($!)
  for _ in $(seq 50); do grep -qs ready "$log" && break; sleep 0.1; done
  grep -qs ready "$log" ||
    { echo "cluster.sh: delay_forward.py did not start in $ns: $(cat "$log")" >&2; exit 1; }
  ip -n "$ns" link set dly0 up
  ip -n "$ns" rule add fwmark 1 lookup main pref 100
  ip -n "$ns" route add "$subnet.0/24" dev dly0 src "$address" table 200
  ip -n "$ns" rule add to "$subnet.0/24" lookup 200 pref 200
}

# shape NS DEVICE: HTB at the link's rate for everything leaving DEVICE (one default class), and
# netem's delay under it where the kernel has netem.
shape() {
  local ns=$1 dev=$2
  tc -n "$ns" qdisc add dev "$dev" root handle 1: htb default 10
  # burst: the credit the link saves while idle, which a real link does not have: 2 ms at the
  # rate (HTB then holds 1 Gbit/s with 64 KiB segments), at least 3 KiB. A fixed 64 KiB let every
  # message of DGC or PowerSGD below ~64 kB cross a 10 Mbit/s link free after a step's compute
  # (PowerSGD's 102 kB allreduce cost 6 ms instead of ~80).
  tc -n "$ns" class add dev "$dev" parent 1: classid 1:10 htb rate "$rate" ceil "$rate" \
    burst "$burst" cburst "$burst" quantum 65536
  if ((use_netem)); then
    # limit: netem's default of 1000 packets would drop at high rate times delay.
    local limit=100000
    [[ -n $queue ]] && limit=$(((queue + 1513) / 1514))
    tc -n "$ns" qdisc add dev "$dev" parent 1:10 handle 10: netem delay "$delay" limit "$limit"
  elif [[ -n $queue ]]; then
    tc -n "$ns" qdisc add dev "$dev" parent 1:10 handle 10: bfifo limit "$queue"
  fi
}

burst=$(awk -v r="$link_bits" 'BEGIN { b = r / 8 * 0.002; if (b < 3072) b = 3072; printf "%.0f", b }')

# netem for the delay, where the kernel has it. This development VM's has not: then a delay given
# goes through delay_forward.py, and the default one is left out (the script says so).
use_netem=1 use_forwarder=0 delay_by="netem"
if ! netem_error=$(tc -n dgc-sw qdisc add dev lo root netem delay 1ms 2>&1); then
  use_netem=0
  if ((delay_given)); then
    ((link_bits <= 100000000)) || {
      echo "cluster.sh: without netem ($netem_error) the delay is delay_forward.py's, which" \
        "carries about 200 Mbit/s: use --rate 100mbit or less, or no --delay" >&2
      exit 2
    }
    use_forwarder=1 delay_by="delay_forward.py"
  else
    delay_by="none: netem unavailable"
    echo "cluster.sh: WARNING: netem unavailable ($netem_error); the default delay of $delay is" \
      "NOT emulated, only the rate (give --delay for delay_forward.py's)" >&2
  fi
else
  tc -n dgc-sw qdisc delete dev lo root
fi

add_ns dgc-head
attach dgc-head "$subnet.254"
addresses=()
for h in $(seq 1 "$hosts"); do
  add_ns "dgc-h$h"
  attach "dgc-h$h" "$subnet.$h" shaped
  echo "$subnet.$h dgc-h$h" >> "$map"
  addresses+=("$subnet.$h")
done

host_list=$(printf "%s:$ranks," "${addresses[@]}")
export DGC_CLUSTER_MAP=$map
export DGC_CLUSTER_HOSTS=$(IFS=,; echo "${addresses[*]}")
export DGC_CLUSTER_NODES=$hosts
# --bind-to none: every emulated host shares this machine's cores, and Open MPI's default binding
# (to core 0 of each "host" at np <= 2) stacked all ranks on one core, leaving the other idle.
export DGC_CLUSTER_MPIRUN="mpirun --allow-run-as-root --oversubscribe --bind-to none -H ${host_list%,} \
--mca plm_rsh_agent $here/rsh_agent.sh --mca pml ob1 --mca btl tcp,vader,self \
--mca btl_tcp_if_include $subnet.0/24 --mca oob_tcp_if_include $subnet.0/24 -x DGC_CLUSTER_MAP \
-x DGC_CLUSTER_NODES"
echo "cluster.sh: $hosts host(s) at ${DGC_CLUSTER_HOSTS}, links $rate with $delay each way (delay by" \
  "$delay_by); running: $*" >&2
# In the background and waited for, so that a signal to this script alone (not only Ctrl-C to the
# whole process group) stops the command and still removes the cluster.
ip netns exec dgc-head "$@" &
child=$!
trap 'kill -TERM "$child" 2>/dev/null; wait "$child"; exit 130' INT TERM
status=0
wait "$child" || status=$?
exit "$status"
