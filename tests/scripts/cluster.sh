#!/usr/bin/env bash
# bench/cluster's scripts: e2e.sh, cluster.sh and link_check.sh refuse bad arguments (e2e.sh also
# a steps.csv of other columns) with one error (exit 2); as root, cluster.sh builds two hosts that
# one TCP connection crosses both ways and with the delay asked for (link_check.sh), runs MPI
# across them with one node per host, gives the links the queue asked for, passes its command's
# failure on, refuses to start beside namespaces of its name, and leaves no namespace behind in
# each case; collective_wire.sh reads the bytes an allreduce and an allgatherv put on the links
# off the hosts' interfaces, and times the calls at the rate given. No rate or time is asserted
# (tests never assert on time). Exits 77 (ctest's SKIP_RETURN_CODE) after the argument checks
# where this is not root or network namespaces cannot be made: a skip is reported, not a pass.
#   cluster.sh BENCH_CLUSTER_DIR DGC_MPI_TESTS
set -uo pipefail
dir=${1:?usage: cluster.sh BENCH_CLUSTER_DIR DGC_MPI_TESTS}
mpi_tests=${2:?usage: cluster.sh BENCH_CLUSTER_DIR DGC_MPI_TESTS}
work=$(mktemp -d)
made_sw=0  # the namespace dgc-sw this test made itself, to remove on any exit
trap 'rm -rf "$work"; [ "$made_sw" -eq 0 ] || ip netns delete dgc-sw 2>/dev/null' EXIT
fail() { echo "cluster: FAIL: $*"; exit 1; }

# expect_error CODE MESSAGE COMMAND...: COMMAND exits with CODE and prints MESSAGE on stderr.
expect_error() {
  local code=$1 message=$2
  shift 2
  "$@" > "$work/out" 2> "$work/err"
  local got=$?
  [ "$got" -eq "$code" ] || fail "'$*' exited $got, not $code: $(cat "$work/err")"
  grep -qF "$message" "$work/err" || fail "'$*' did not say '$message': $(cat "$work/err")"
}

expect_error 2 "e2e.sh: --mca needs a parameter name and a value, got 'Bad-Name' '1'" \
  "$dir/e2e.sh" --mca Bad-Name 1
expect_error 2 "e2e.sh: --mca needs a parameter name and a value, got 'btl_tcp_eager_limit' ''" \
  "$dir/e2e.sh" --mca btl_tcp_eager_limit
expect_error 2 "got 'btl_tcp_eager_limit' '8;true'" "$dir/e2e.sh" --mca btl_tcp_eager_limit '8;true'
expect_error 2 "link_check.sh: rates look like 10mbit or 1gbit, got fast" "$dir/link_check.sh" fast
expect_error 2 "e2e.sh: --delay needs a value" "$dir/e2e.sh" --delay
expect_error 2 "e2e.sh: --compute-cpus needs a list of cores such as 0 or 0,2-3, got '0;true'" \
  "$dir/e2e.sh" --compute-cpus '0;true'
expect_error 2 "e2e.sh: --compute-cpus needs a list of cores such as 0 or 0,2-3, got ''" \
  "$dir/e2e.sh" --compute-cpus
expect_error 2 "e2e.sh: --slow-steps must be a number >= 3, got '2'" "$dir/e2e.sh" --slow-steps 2
expect_error 2 "e2e.sh: --steps must be a number >= 3, got ''" "$dir/e2e.sh" --steps
# A steps.csv from an e2e.sh of other columns is refused before any run, and left as it was. (The
# dgc-train here only has to exist: nothing runs it.)
mkdir -p "$work/bin" "$work/old"
printf '#!/bin/sh\nexit 1\n' > "$work/bin/dgc-train" && chmod +x "$work/bin/dgc-train"
old_header=model,layout,hosts,ranks_per_host,np,rate,exchange,variant,epoch,setting,step_ms,images_per_s,bytes_sent,bytes_received
echo "$old_header" > "$work/old/steps.csv"
expect_error 2 "e2e.sh: $work/old/steps.csv has other columns than this e2e.sh writes" \
  "$dir/e2e.sh" --bin "$work/bin" --out "$work/old"
[ "$(cat "$work/old/steps.csv")" = "$old_header" ] || fail "e2e.sh changed a steps.csv it refused"
expect_error 2 "cluster.sh: --queue must be a number of bytes >= 1514 (one full packet), got '100'" \
  "$dir/cluster.sh" --queue 100 -- true
expect_error 2 "cluster.sh: --queue needs a number of bytes" "$dir/cluster.sh" --queue -- true
expect_error 2 "collective_wire.sh: sizes are bytes, multiples of 4, got '10'" "$dir/collective_wire.sh" 10
expect_error 2 "collective_wire.sh: --algorithms takes default and 1..6 for the allreduce, comma-separated, got '7'" \
  "$dir/collective_wire.sh" --algorithms 7 1024
expect_error 2 "collective_wire.sh: --algorithms takes default and 1..5 for the allgatherv, comma-separated, got '6'" \
  "$dir/collective_wire.sh" --collective allgatherv --algorithms 6 1024
expect_error 2 "collective_wire.sh: --collective takes allreduce or allgatherv, got 'bcast'" \
  "$dir/collective_wire.sh" --collective bcast 1024
expect_error 2 "collective_wire.sh: no sizes (bytes, multiples of 4) given" "$dir/collective_wire.sh"
expect_error 2 "collective_wire.sh: --rate takes a rate such as 10mbit or 1gbit, got '10 mbit'" \
  "$dir/collective_wire.sh" --rate "10 mbit" 1024

leftovers() { ip netns list 2>/dev/null | grep -E '^dgc-(sw|head|h[0-9]+)\b'; }
if [ "$(id -u)" -ne 0 ] || ! ip netns add dgc-test-probe 2> /dev/null; then
  echo "cluster: argument checks passed; SKIP the namespaces (needs root and ip netns)"
  exit 77
fi
# The probe namespace also says whether this kernel has netem (the delay checks below).
has_netem=0
tc -n dgc-test-probe qdisc add dev lo root netem delay 1ms 2> /dev/null && has_netem=1
ip netns delete dgc-test-probe
[ -z "$(leftovers)" ] || fail "dgc namespaces exist before the test (another cluster running?): $(leftovers)"

# One TCP connection each way and both ways at once: the receiving sides report a rate.
"$dir/link_check.sh" 100mbit > "$work/out" 2>&1 || fail "link_check.sh failed: $(cat "$work/out")"
[ "$(grep -cE '^(server|client) \((one way|both ways)\): 50\.0 MB in [0-9.]+ s, [0-9.]+ Mbit/s$' "$work/out")" -eq 3 ] ||
  fail "link_check.sh did not report one receiver one way and two both ways: $(cat "$work/out")"
[ -z "$(leftovers)" ] || fail "link_check.sh left namespaces behind: $(leftovers)"

# The delay (netem's, or delay_forward.py's where the kernel lacks netem): a round trip between
# two hosts crosses 4 links of 5 ms, and no packet leaves before its time, so no round trip takes
# less than 20 ms (a bound, not a measured speed).
expect_error 2 "cluster.sh: --delay must look like 0.05ms, 10ms or 200us, got 5" \
  "$dir/cluster.sh" --delay 5 -- true
if [ "$has_netem" -eq 0 ] && [ ! -c /dev/net/tun ]; then
  echo "cluster: SKIP the delay checks: neither netem nor /dev/net/tun on this machine"
else
  "$dir/link_check.sh" --delay 5ms 10mbit > "$work/out" 2>&1 ||
    fail "link_check.sh --delay failed: $(cat "$work/out")"
  rtt=$(sed -n 's/^client (rtt): 20 round trips, min \([0-9.]*\) ms.*/\1/p' "$work/out")
  [ -n "$rtt" ] || fail "link_check.sh --delay printed no round trips: $(cat "$work/out")"
  awk -v r="$rtt" 'BEGIN { exit !(r >= 20) }' || fail "a round trip took $rtt ms, less than 4 x 5 ms"
  [ -z "$(leftovers)" ] || fail "link_check.sh --delay left namespaces behind: $(leftovers)"
  ! pgrep -f delay_forward.py > /dev/null || fail "delay_forward.py still runs after the cluster went"
fi
# Without netem the forwarder carries about 200 Mbit/s: a delay on a faster link is refused.
if [ "$has_netem" -eq 0 ]; then
  expect_error 2 "which carries about 200 Mbit/s: use --rate 100mbit or less" \
    "$dir/cluster.sh" --rate 1gbit --delay 1ms -- true
  [ -z "$(leftovers)" ] || fail "a refused delay left namespaces behind: $(leftovers)"
fi

# MPI across the hosts, with ranks not numbered host by host (--map-by node: ranks 0 and 2 on the
# first host, 1 and 3 on the second). The Communicator sees one node per host, and the allgather
# through the node leaders puts every message back in world rank order: training (the allgather
# scheme's messages, the reduce-scatter's kept sums) is bitwise the flat allgather's, and the
# leaders' blocks are read by world rank.
"$dir/cluster.sh" --hosts 2 --ranks 2 --rate 1gbit -- bash -c "\$DGC_CLUSTER_MPIRUN --map-by node \
  -x OMP_NUM_THREADS=1 $mpi_tests --gtest_color=no \
  '--gtest_filter=Topology.TheBinarysNodesFollowTheMachineOrTheEnvironment:HierarchicalAllgather.*:\
Topology.AllgathervThroughTheLeadersIsTheWorldsAllgatherv:CommHook.RanksMustAgreeOnTheHierarchicalAllgather'" \
  > "$work/out" 2>&1 || fail "the MPI tests across the hosts failed: $(tail -40 "$work/out")"
# Rank 0 reports; every rank exits non-zero if any rank failed (tests/mpi/mpi_test_main.cpp).
grep -q '^\[  PASSED  \] 9 tests' "$work/out" ||
  fail "the 9 tests did not all pass across the hosts: $(grep -E 'PASSED|SKIPPED|FAILED' "$work/out")"
! grep -q 'SKIPPED' "$work/out" ||
  fail "a test was skipped across the hosts: $(grep SKIPPED "$work/out")"
[ -z "$(leftovers)" ] || fail "the MPI run left namespaces behind: $(leftovers)"

# What a collective puts on each host's link at 2 hosts of 2 ranks, read off the interfaces: the
# bytes scripts/dgc-scaling counts for the algorithm Open MPI picks (allreduce_wire and
# allgatherv_wire there). By default an allreduce of 4,096 bytes goes by recursive doubling (twice
# the buffer) and of 1 MiB by Rabenseifner's (once); the ring, forced, carries 1 MiB 1.5 times. An
# allgatherv of 22,000 bytes a rank goes by Bruck's: 5 blocks. Within 10%: TCP/IP's headers and
# acknowledgements count too.
{ "$dir/collective_wire.sh" --algorithms default,4 --reps 5 4096 1048576 &&
  "$dir/collective_wire.sh" --collective allgatherv --reps 5 --rate 100mbit 22000 | tail -n +2; } > "$work/out" 2> "$work/err" ||
  fail "collective_wire.sh failed: $(tail -5 "$work/err")"
# Each line also times the calls (median and mean seconds after a barrier each, the mean back to
# back) and names the link's rate.
head -1 "$work/out" | grep -qx "collective,hosts,ranks_per_host,algorithm,node,bytes,tx_per_call,rx_per_call,seconds_median,seconds_mean,seconds_back_to_back,rate" ||
  fail "collective_wire.sh's header is not its columns: $(head -1 "$work/out")"
[ "$(awk -F, 'NR > 1 { n++; if (NF != 12 || !($9 > 0) || !($10 > 0) || !($11 > 0) || $12 != ($1 == "allgatherv" ? "100mbit" : "10gbit")) bad++ }
      END { print (n == 10 && !bad) ? "ok" : "no" }' "$work/out")" = ok ] ||
  fail "collective_wire.sh did not time every call at its rate: $(cat "$work/out")"
for expected in "allreduce,default,4096,2" "allreduce,default,1048576,1" "allreduce,4,1048576,1.5" \
                "allgatherv,default,22000,5"; do
  IFS=, read -r collective algorithm bytes times <<< "$expected"
  [ "$(awk -F, -v c="$collective" -v a="$algorithm" -v b="$bytes" -v t="$times" '$1 == c && $4 == a && $6 == b {
         n++; if ($7 < t * b || $7 > 1.1 * t * b || $8 < t * b || $8 > 1.1 * t * b) bad++ }
       END { print (n == 2 && !bad) ? "ok" : "no" }' "$work/out")" = ok ] ||
    fail "an $collective of $bytes bytes ($algorithm) did not carry $times times them each way on each host's link: $(cat "$work/out")"
done
[ -z "$(leftovers)" ] || fail "collective_wire.sh left namespaces behind: $(leftovers)"

# The command's failure is cluster.sh's, and the cluster goes with it.
expect_error 3 "cluster.sh: 2 host(s)" "$dir/cluster.sh" --hosts 2 --rate 10mbit -- bash -c 'exit 3'
[ -z "$(leftovers)" ] || fail "a failed command left namespaces behind: $(leftovers)"

# --queue: each host's link holds at most that many bytes waiting: a bfifo under HTB's class, or
# netem's limit in full packets where netem gives the delay.
"$dir/cluster.sh" --hosts 1 --rate 10mbit --queue 30000 -- tc -n dgc-h1 qdisc show > "$work/out" 2>&1 ||
  fail "cluster.sh --queue failed: $(cat "$work/out")"
if [ "$has_netem" -eq 1 ]; then
  grep -qE '^qdisc netem 10: .*parent 1:10 limit 20 ' "$work/out" ||
    fail "--queue 30000 did not give netem a limit of 20 packets: $(cat "$work/out")"
else
  grep -qE '^qdisc bfifo 10: .*parent 1:10 limit 30000b' "$work/out" ||
    fail "--queue 30000 did not put a 30000-byte bfifo under the link's class: $(cat "$work/out")"
fi
[ -z "$(leftovers)" ] || fail "cluster.sh --queue left namespaces behind: $(leftovers)"

# Beside a namespace of its name it refuses to start, and removes nothing it did not make.
ip netns add dgc-sw && made_sw=1
expect_error 1 "cluster.sh: namespace dgc-sw exists already" "$dir/cluster.sh" -- true
ip netns list | grep -qw dgc-sw || fail "cluster.sh removed a namespace it did not make"
ip netns delete dgc-sw && made_sw=0
echo "cluster: all checks passed"
