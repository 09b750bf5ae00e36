#!/usr/bin/env bash
# dgc-train end to end under mpirun -np 2 on the synthetic dataset with DGC (a sparsity warm-up
# epoch, then 99.9%): 1. two epochs in one go; 2. the same run stopped after one epoch
# (train.stop_after_epochs), then a second run that resumes from `latest` and does the second
# epoch. The resumed run must end with bitwise the same model as the uninterrupted one, compared
# through the digest rank 0 prints: the weights after epoch 2 depend on the restored optimizer
# state, DGC memory, progress and random state. Also checks the run directory's files, reads the
# TensorBoard event files back against metrics.csv (event_check), and that a bad key, and a bad
# value of the stall check, stop the job with one clear error.
#   train_resume.sh MPIEXEC DGC_TRAIN CONFIGS_DIR EVENT_CHECK
set -euo pipefail
mpiexec=$1 train=$2 configs=$3 event_check=$4
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "train_resume: FAIL: $*"; exit 1; }

run() {  # run RUNS_DIR EPOCHS [more args]
  local runs=$1 epochs=$2
  shift 2
  OMP_NUM_THREADS=1 "$mpiexec" --allow-run-as-root --oversubscribe -np 2 "$train" \
    --configs "$configs/fmnist/convnet.yaml" "$configs/dgc/wm5.yaml" \
    dataset.name=synthetic train.batch_size=64 train.compression.warmup_epochs=1 \
    "train.compression.warmup_coeff=[0.1]" train.schedule.warmup_lr_epochs=1 \
    logging.progress_bar=false "logging.runs_dir=$runs" "train.num_epochs=$epochs" "$@"
}

run "$work/straight" 2 > "$work/straight.log" 2>&1 || { cat "$work/straight.log"; fail "the run failed"; }
grep -q "^\[acc/test_top1\] = " "$work/straight.log" || fail "no accuracy line"
dir=$(echo "$work"/straight/*)
for f in config.yaml metrics.csv e0-r0.pt e1-r1.pt latest-r0.pt latest-r1.pt best-r0.pt; do
  [ -f "$dir/$f" ] || fail "no $f in $dir"
done
ls "$dir"/events.out.tfevents.* > /dev/null || fail "no TensorBoard event file"
grep -q "^[0-9]*,loss/train," "$dir/metrics.csv" || fail "no loss/train in metrics.csv"
# Traffic every step: as many rows as steps (2 epochs of this run's steps).
steps=$(grep -c ",loss/train," "$dir/metrics.csv")
sent=$(grep -c ",traffic/bytes_sent," "$dir/metrics.csv")
[ "$sent" -gt "$steps" ] || fail "traffic/bytes_sent in $sent rows, not every step ($steps loss rows)"
tags=(loss/train lr traffic/bytes_sent traffic/bytes_received traffic/intra_node_bytes
      dgc/compress_ratio acc/test_top1 acc/test_top5 acc/test_top1_best time/step_ms
      time/step_mean_ms)
"$event_check" "$dir" "${tags[@]}" || fail "the event file does not match metrics.csv"
# The check can fail: one flipped byte in a copy of the event file must be caught.
cp -r "$dir" "$work/corrupt"
events=$(echo "$work"/corrupt/events.out.tfevents.*)
printf '\xff' | dd of="$events" bs=1 seek=$(( $(stat -c %s "$events") - 9 )) conv=notrunc status=none
if "$event_check" "$work/corrupt" 2> /dev/null; then fail "event_check missed a corrupt record"; fi

run "$work/resumed" 2 train.stop_after_epochs=1 > "$work/first.log" 2>&1 || { cat "$work/first.log"; fail "the first half failed"; }
run "$work/resumed" 2 > "$work/second.log" 2>&1 || { cat "$work/second.log"; fail "the resumed run failed"; }
grep -q "resumed from" "$work/second.log" || fail "the second run did not resume"
"$event_check" "$work"/resumed/* "${tags[@]}" || fail "the resumed run's event files do not match"
digest() { grep -o "model digest [0-9a-f]*" "$1" || fail "no model digest in $1"; }
[ "$(digest "$work/straight.log")" = "$(digest "$work/second.log")" ] ||
  fail "the resumed run ends with other weights than the uninterrupted one"

if run "$work/bad" 2 train.bogus=1 > "$work/bad.log" 2>&1; then fail "a bad key was accepted"; fi
grep -q "unknown key 'train.bogus'" "$work/bad.log" || { cat "$work/bad.log"; fail "no clear error"; }
if run "$work/bad" 2 distributed.stall_timeout_seconds=-1 > "$work/bad.log" 2>&1; then
  fail "a negative stall timeout was accepted"
fi
grep -q "distributed.stall_timeout_seconds must be a number of seconds >= 0, got -1" "$work/bad.log" ||
  { cat "$work/bad.log"; fail "no clear error for the stall timeout"; }
echo "train_resume: ok"
