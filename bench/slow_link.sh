#!/usr/bin/env bash
# The exchange benchmarks of issue 3 over an emulated slow network link: runs dgc-bench-exchange
# (built beforehand, e.g. `make build`) under mpirun -np 2 inside a network namespace of its own,
# where the TCP traffic between the two ranks is rate-limited to RATE in each direction, as
# between two hosts joined by a full-duplex link of that speed.
# Usage: bench/slow_link.sh [BIN_DIR] [RATE] [DELAY] [-- dgc-bench-exchange arguments...]
#   BIN_DIR: build/bin. RATE: 1gbit (tc units: bit, kbit, mbit, gbit, tbit). DELAY: 0.2ms, one
#   way; emulated only where the kernel has netem (see below), 0 for none. Fewer steps than
#   dgc-bench-exchange's defaults are passed first (see steps= below); arguments after -- come
#   later and win.
# Needs root, iproute2 (ip, tc) and a kernel with network namespaces, veth, HTB and u32.
#
# Why: with both ranks on one host the exchange runs at memory speed (shared memory or loopback
# TCP), so DGC's smaller payload saves little and overlapping the exchange with backward shows no
# gain (bench/exchange.sh). Over a real link the transfer is waiting time; this puts it back.
#
# How, and why not simply `tc qdisc add dev lo root netem rate RATE`:
# - Loopback is one device for both directions, so one qdisc on it is a half-duplex link: measured
#   here, two 50 MB transfers in opposite directions under `tbf rate 1gbit` got 494 Mbit/s each.
#   So each rank gets an address of its own, on a veth end in the namespace (dgc0: 10.201.0.1,
#   dgc1: 10.201.0.2), and lo carries an HTB with one class per direction, chosen by destination
#   address, each at RATE. Traffic between two local addresses still crosses lo, not the veth.
# - Open MPI's TCP BTL selects interfaces, not addresses (a CIDR in btl_tcp_if_include is mapped
#   to its interface, and then every address of lo is used, ::1 too). Hence the veth ends, one
#   per rank, each rank told its own through an app context of its own (mpirun ... : ...), and
#   no IPv6 in the namespace.
# - netem is not built into every kernel (this development VM: no CONFIG_NET_SCH_NETEM and no
#   module support), so the delay is a netem leaf under each class when netem exists, and
#   otherwise left out with a warning. The rate alone is what moving 100 MB costs; the delay adds
#   to each message's latency only.
# - Everything stays inside the namespace: it has no route out, and it is deleted on exit.
#
# Reading the numbers (measured here at 1gbit with 26 MB messages): Open MPI moves ~0.93 Gbit/s
# one way, but only ~0.5 Gbit/s each way when both ranks send at once (MPI_Sendrecv, and so every
# allreduce algorithm), where plain TCP on the same emulated link reaches 0.83 each way. That is
# Open MPI over one TCP connection per pair of ranks, not the emulation:
# OMPI_MCA_btl_tcp_links=2 in the environment (mpirun passes it on) gave 0.83-0.86 each way. At
# 10gbit this 2-core VM cannot fill the link: loopback TCP alone tops out at ~3-4 Gbit/s.
set -euo pipefail

usage="usage: bench/slow_link.sh [BIN_DIR] [RATE] [DELAY] [-- dgc-bench-exchange arguments...]"
positional=()
while (($# > 0)); do
  if [[ $1 == -- ]]; then
    shift
    break
  fi
  positional+=("$1")
  shift
done
extra=("$@")
if ((${#positional[@]} > 3)); then
  echo "slow_link.sh: too many arguments; $usage" >&2
  exit 2
fi
bin_dir=${positional[0]:-build/bin}
rate=${positional[1]:-1gbit}
delay=${positional[2]:-0.2ms}
exe=$bin_dir/dgc-bench-exchange

fail() {
  echo "slow_link.sh: $*" >&2
  exit 1
}

[[ $EUID -eq 0 ]] || fail "needs root (network namespaces and tc)"
for tool in ip tc mpirun; do
  command -v "$tool" >/dev/null || fail "$tool not found (ip and tc: Debian package iproute2)"
done
[[ -x $exe ]] || fail "$exe not found; build it first (make build)"

# RATE in bit/s, for the HTB burst and for the lower bound on the transfer time printed below.
source "$(dirname "$0")/link_rate.sh"
rate_bps=$(rate_bits "$rate") || fail "RATE must look like 100mbit, 1gbit or 2.5gbit, got $rate"
# HTB's burst: 2 ms at RATE, at least 256 KiB. With its default (one MTU's worth, ~1.4 kB) lo's
# 64 KiB packets each overdraw the bucket, and 1 Gbit/s measured ~800 Mbit/s; with 256 KiB, 950.
burst=$(awk -v r="$rate_bps" 'BEGIN { b = r / 8 * 0.002; if (b < 262144) b = 262144; printf "%.0f", b }')

ns=dgc-slowlink-$$
cleanup() {
  # Processes still in the namespace (mpirun and the ranks, after a failure or ^C) are ours.
  local pids
  pids=$(ip netns pids "$ns" 2>/dev/null || true)
  if [[ -n $pids ]]; then
    # shellcheck disable=SC2086  # one pid per word
    kill $pids 2>/dev/null || true
  fi
  # Deleting the namespace deletes its veth pair and qdiscs with it.
  ip netns delete "$ns" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ip netns add "$ns"
# Before the veth exists, so that its ends get no IPv6 link-local address for Open MPI to use.
ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
ip -n "$ns" link set lo up
ip -n "$ns" link add dgc0 type veth peer name dgc1
ip -n "$ns" addr add 10.201.0.1/32 dev dgc0
ip -n "$ns" addr add 10.201.0.2/32 dev dgc1
ip -n "$ns" link set dgc0 up
ip -n "$ns" link set dgc1 up

# netem for the delay, where the kernel has it: tried once on a throwaway qdisc.
use_netem=0
if [[ $delay != 0 && $delay != 0ms && $delay != 0us ]]; then
  if netem_error=$(tc -n "$ns" qdisc add dev dgc0 root netem delay "$delay" 2>&1); then
    use_netem=1
    tc -n "$ns" qdisc delete dev dgc0 root
  else
    echo "slow_link.sh: WARNING: netem unavailable ($netem_error); the delay of $delay is NOT" \
      "emulated, only the rate" >&2
  fi
fi

# A fresh HTB on lo, so that each part's counters are its own. Class 1:10 carries what goes to
# rank 1 (10.201.0.2), 1:20 what goes to rank 0; the rest (Open MPI's out-of-band traffic over
# 127.0.0.1) is unclassified and passes unshaped (HTB's direct queue).
shape_lo() {
  tc -n "$ns" qdisc delete dev lo root 2>/dev/null || true
  tc -n "$ns" qdisc add dev lo root handle 1: htb
  local class dst
  for class in 10 20; do
    if [[ $class == 10 ]]; then dst=10.201.0.2; else dst=10.201.0.1; fi
    # quantum: only for sharing between classes, which these do not; given to silence HTB's
    # "quantum is big" warning at high rates.
    tc -n "$ns" class add dev lo parent 1: classid "1:$class" htb rate "$rate" ceil "$rate" \
      burst "$burst" cburst "$burst" quantum 65536
    tc -n "$ns" filter add dev lo parent 1: protocol ip prio 1 u32 match ip dst "$dst/32" \
      flowid "1:$class"
    if ((use_netem)); then
      # limit: netem's default of 1000 packets would drop at high rate times delay.
      tc -n "$ns" qdisc add dev lo parent "1:$class" handle "$class:" netem delay "$delay" \
        limit 100000
    fi
  done
}

# Bytes counted by `tc -s` for the class or qdisc whose line starts with $1.
sent_bytes() {
  awk -v head="$1" 'index($0, head) == 1 { found = 1; next }
                    found && $1 == "Sent" { print $2; exit }'
}

# Prints lo's counters and fails unless the shaped classes carried the MPI traffic: the check
# that the emulation applies, not merely that it was configured.
check_shaping() {
  local part=$1 seconds=$2 qdiscs classes total to1 to0
  qdiscs=$(tc -n "$ns" -s qdisc show dev lo)
  classes=$(tc -n "$ns" -s class show dev lo)
  echo
  echo "---- tc -s qdisc/class show dev lo in $ns, after --only $part"
  echo "$qdiscs"
  echo "$classes"
  total=$(sent_bytes "qdisc htb 1: " <<<"$qdiscs")
  to1=$(sent_bytes "class htb 1:10 " <<<"$classes")
  to0=$(sent_bytes "class htb 1:20 " <<<"$classes")
  awk -v total="$total" -v to1="$to1" -v to0="$to0" -v r="$rate_bps" -v s="$seconds" 'BEGIN {
    max = to1 > to0 ? to1 : to0
    printf "---- shaped at %.3g Gbit/s each way: to rank 1 %.1f MB, to rank 0 %.1f MB, %.1f%% of " \
           "the %.1f MB that crossed lo; at least %.1f s of transfer, the part took %.1f s\n",
           r / 1e9, to1 / 1e6, to0 / 1e6, 100 * (to1 + to0) / total, total / 1e6, max * 8 / r, s
    exit !(to1 > 1e6 && to0 > 1e6 && to1 + to0 >= 0.9 * total)
  }' || fail "the MPI traffic did not go through the shaped classes (see the counters above)"
}

echo "slow_link.sh: namespace $ns, $rate each way (HTB burst $burst B)," \
  "delay $( ((use_netem)) && echo "$delay (netem)" || echo "none")"

# As in bench/exchange.sh: one thread per rank (two ranks on this machine's cores), `--mca pml
# ob1` so that UCX does not carry the messages past the TCP BTL, each part in a fresh process.
# The out-of-band channel stays on lo's 127.0.0.1, unshaped.
# Fewer steps than the program's defaults (3 + 25 and 3 + 40): at 1 Gbit/s a dense ResNet-50
# step is ~2 s and an overlap round ~4 s, and the defaults took 8.7 minutes on the loaded 2-core
# VM. Steps that long are mostly transfer; medians over 15 and 20 of them.
steps=(--warmup 2 --steps 15 --overlap-warmup 2 --overlap-steps 20)
export OMP_NUM_THREADS=1
for part in exchange overlap; do
  shape_lo
  args=(--only "$part" "${steps[@]}" "${extra[@]}")
  echo
  echo "######## ip netns exec $ns mpirun -np 2 --mca pml ob1 --mca btl tcp,self" \
    "dgc-bench-exchange ${args[*]}   (rank 0 on dgc0, rank 1 on dgc1)"
  start=$SECONDS
  # In the background and waited for, so that a SIGTERM to this script runs the cleanup at once
  # (bash defers traps until a foreground child exits); ^C reaches mpirun all the same.
  ip netns exec "$ns" mpirun --allow-run-as-root --oversubscribe -x OMP_NUM_THREADS \
    --mca pml ob1 --mca btl tcp,self --mca oob_tcp_if_include lo \
    -np 1 -x OMPI_MCA_btl_tcp_if_include=dgc0 "$exe" "${args[@]}" : \
    -np 1 -x OMPI_MCA_btl_tcp_if_include=dgc1 "$exe" "${args[@]}" &
  wait $!
  check_shaping "$part" $((SECONDS - start))
done
