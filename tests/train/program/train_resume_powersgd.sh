#!/usr/bin/env bash
# dgc-train with train.exchange powersgd under mpirun -np 2 on a small synthetic dataset (8 steps
# an epoch; compression from step 3, rank 2): two epochs in one go, and the same run stopped after
# one epoch then resumed from `latest`, end with bitwise the same model (the PowerSGD hook's step
# count, errors and warm-started Q come back from each rank's checkpoint). Also: the traffic line
# shows the compression, and a bad train.powersgd value stops the job with one clear error.
#   train_resume_powersgd.sh MPIEXEC DGC_TRAIN CONFIGS_DIR
set -uo pipefail
source "$(dirname "$0")/common.sh" "$1" "$2" "$3"
powersgd=(train.dgc=false train.exchange=powersgd train.powersgd.start_iter=3 train.powersgd.rank=2
          dataset.synthetic_train_size=1024 dataset.synthetic_test_size=256)

run "$work/straight" 2 "${powersgd[@]}" > "$work/straight.log" 2>&1 ||
  { cat "$work/straight.log"; fail "the run failed"; }
# Epoch 2 compresses throughout: far fewer bytes than the convnet's 3.3M float32 gradients.
grep -q "sent [0-9]* bytes per step, [0-9.]*x less than dense" "$work/straight.log" ||
  { cat "$work/straight.log"; fail "no traffic line"; }

run "$work/resumed" 2 train.stop_after_epochs=1 "${powersgd[@]}" > "$work/first.log" 2>&1 ||
  { cat "$work/first.log"; fail "the first half failed"; }
run "$work/resumed" 2 "${powersgd[@]}" > "$work/second.log" 2>&1 ||
  { cat "$work/second.log"; fail "the resumed run failed"; }
grep -q "resumed from" "$work/second.log" || fail "the second run did not resume"
[ "$(digest "$work/straight.log")" = "$(digest "$work/second.log")" ] ||
  fail "the resumed run ends with other weights than the uninterrupted one"

run "$work/bad" 2 "${powersgd[@]}" train.powersgd.rank=0 > "$work/bad.log" 2>&1
expect_failure "$work/bad.log" "config: train.powersgd.rank must be >= 1, got 0"
echo "train_resume_powersgd: ok"
