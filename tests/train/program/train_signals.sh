#!/usr/bin/env bash
# Stopping dgc-train with signals, under mpirun -np 2 (docs/TRAINING.md, "Stopping a run"):
#  1. SIGTERM to every rank inside epoch 2 (what a batch scheduler does): the ranks stop at the
#     same step boundary, each saves latest there (inside the epoch), rank 0 says so, the job
#     exits 128+15; a rerun resumes at that step and ends with the uninterrupted run's digest;
#  2. SIGUSR1 to mpirun (which forwards it): the same, exit 128+10;
#  3. SIGTERM to one rank alone: the other stops at the same step all the same (the ranks agree on the
#     stop after every step), exit 143;
#  4. a second SIGTERM stops at once, without a checkpoint.
#   train_signals.sh MPIEXEC DGC_TRAIN CONFIGS_DIR
set -uo pipefail
source "$(dirname "$0")/common.sh" "$1" "$2" "$3"

run "$work/straight" 2 > "$work/straight.log" 2>&1 || { cat "$work/straight.log"; fail "the straight run failed"; }
expected=$(digest "$work/straight.log")

# stopped NAME SIGNAL TARGET: starts a run, sends SIGNAL to TARGET (ranks | one | mpirun) inside
# epoch 2, waits for the job; echoes its exit code.
stopped() {
  local name=$1 signal=$2 target=$3
  run "$work/$name" 2 > "$work/$name.log" 2>&1 &
  local job=$!
  wait_for "$work/$name.log" "epoch 2/2  step"
  if [ "$target" = ranks ]; then
    kill -"$signal" $(ranks_of $job)
  elif [ "$target" = one ]; then
    kill -"$signal" $(ranks_of $job | tail -1)
  else
    local launcher=$(basename "$mpiexec")
    kill -"$signal" $(for p in $(descendants $job); do [ "$(ps -o comm= -p "$p")" = "$launcher" ] && echo "$p"; done)
  fi
  wait $job
}

for case in "TERM ranks 143" "USR1 mpirun 138" "TERM one 143"; do
  set -- $case
  name=stop-$1-$2
  stopped "$name" "$1" "$2"
  rc=$?
  [ "$rc" -eq "$3" ] || { cat "$work/$name.log"; fail "SIG$1 to $2: exit $rc, not $3"; }
  grep -q "stopped by signal .* at epoch 2 after step [0-9]*; every rank saved its checkpoint" "$work/$name.log" ||
    { cat "$work/$name.log"; fail "SIG$1 to $2: no stop message"; }
  dir=$(run_dir "$work/$name")
  [ ! -e "$dir/e1-r0.pt" ] || fail "SIG$1 to $2: epoch 2 was finished anyway"
  run "$work/$name" 2 > "$work/$name.resume.log" 2>&1 || { cat "$work/$name.resume.log"; fail "SIG$1: the resume failed"; }
  grep -q "resumed from .*latest-r0.pt at epoch 2 after step" "$work/$name.resume.log" || fail "SIG$1: not resumed inside epoch 2"
  [ "$(digest "$work/$name.resume.log")" = "$expected" ] || fail "SIG$1: the resumed run ends with other weights"
done

# A second SIGTERM: at once. Steps of 1024 images (about a second here), so that both signals
# land inside the same step: the first asks for a stop at its end, the second ends the job first.
run "$work/twice" 2 train.batch_size=1024 > "$work/twice.log" 2>&1 &
job=$!
wait_for "$work/twice.log" "epoch 1/2  step 1/2"
ranks=$(ranks_of $job)
kill -TERM $ranks; sleep 0.3; kill -TERM $ranks
wait $job
rc=$?
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || fail "a second SIGTERM: exit $rc"
grep -q "SIGTERM received: stopping at the end of this step" "$work/twice.log" || { cat "$work/twice.log"; fail "the first SIGTERM was not seen"; }
! grep -q "every rank saved its checkpoint" "$work/twice.log" || fail "a second SIGTERM still saved"
! ls "$(run_dir "$work/twice")"/*.pt > /dev/null 2>&1 || fail "a second SIGTERM still left a checkpoint"
echo "train_signals: ok"
