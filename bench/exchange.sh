#!/usr/bin/env bash
# The exchange benchmarks of issue 3 at np 2, over shared memory and over TCP: runs
# dgc-bench-exchange (built beforehand, e.g. `make build`) under mpirun, each of its two parts
# once per transport.
# Usage: bench/exchange.sh [BIN_DIR] [dgc-bench-exchange arguments...]   (BIN_DIR: build/bin)
#
# Two ranks share this machine's cores, one thread each: OMP_NUM_THREADS=1 reaches every thread
# of a rank (the communication thread included), and the program sets at::set_num_threads(1).
# `--mca pml ob1` keeps the UCX PML out: it would carry the messages itself and ignore the BTL
# choice, and then "tcp" would not be TCP.
set -euo pipefail

bin_dir=${1:-build/bin}
shift || true
exe=$bin_dir/dgc-bench-exchange
if [[ ! -x $exe ]]; then
  echo "exchange.sh: $exe not found; build it first (make build)" >&2
  exit 1
fi

# Each part runs in a fresh process: after the first part has freed its ~2.5 GB, the allocator
# mapped a fresh 25 MB buffer at every dense step of the second (6,100 page faults, ~150 ms
# here), which a process of its own does not do.
export OMP_NUM_THREADS=1
for btl in vader,self tcp,self; do
  for part in exchange overlap; do
    echo
    echo "######## mpirun -np 2 --mca pml ob1 --mca btl $btl dgc-bench-exchange --only $part"
    mpirun --allow-run-as-root --oversubscribe -np 2 -x OMP_NUM_THREADS \
      --mca pml ob1 --mca btl "$btl" "$exe" --only "$part" "$@"
  done
done
