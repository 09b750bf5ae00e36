#!/usr/bin/env bash
# dgc-train's other failure modes, under mpirun -np 2 (docs/RELIABILITY.md):
#  1. a diverging dense baseline (lr 1e30): one error naming the problem, exit non-zero, and no
#     checkpoint of the non-finite model;
#  2. a bad config value: one error printed once, and no run directory left behind;
#  3. a run directory locked by another job: one error naming the holder;
#  4. a disk too small for one checkpoint set: refused at the start, no directory left behind;
#  5. a disk that fills up at the second epoch's save: one error naming the file, the previous
#     checkpoints intact, and a resume from them once there is room (root only: a tmpfs mount).
#   train_failures.sh MPIEXEC DGC_TRAIN CONFIGS_DIR
set -uo pipefail
source "$(dirname "$0")/common.sh" "$1" "$2" "$3"

# 1. NaN on the dense path.
run "$work/nan" 2 train.dgc=false train.optimizer.lr=1e30 > "$work/nan.log" 2>&1
expect_failure "$work/nan.log" "holds a NaN or an infinity"
! ls "$(run_dir "$work/nan")"/*.pt > /dev/null 2>&1 || fail "a checkpoint was saved for a diverged model"

# 2. A bad value: once, and nothing created.
run "$work/bad" 2 train.num_epochs=0 > "$work/bad.log" 2>&1
expect_failure "$work/bad.log" "train.num_epochs must be >= 1"
[ "$(grep -c "num_epochs" "$work/bad.log")" -eq 1 ] || { cat "$work/bad.log"; fail "the config error is not printed once"; }
[ -z "$(ls -A "$work/bad" 2>/dev/null)" ] || fail "a failed start left $(ls "$work/bad")"

# 3. Another job holds the directory.
run "$work/locked" 2 train.stop_after_epochs=1 > "$work/first.log" 2>&1 || { cat "$work/first.log"; fail "the first run failed"; }
dir=$(run_dir "$work/locked")
flock "$dir/.lock" sleep 60 &
holder=$!
sleep 0.5
run "$work/locked" 2 > "$work/locked.log" 2>&1
expect_failure "$work/locked.log" "is in use by another dgc-train job"
kill $holder; wait $holder 2>/dev/null

if [ "$(id -u)" -ne 0 ]; then echo "train_failures: ok (disk cases skipped: not root)"; exit 0; fi
mounted=()
cleanup() { for m in "${mounted[@]}"; do umount "$m"; done; rm -rf "$work"; }
trap cleanup EXIT

# 4. Too small for one checkpoint set.
mkdir -p "$work/tiny" && mount -t tmpfs -o size=4m tmpfs "$work/tiny" && mounted+=("$work/tiny")
run "$work/tiny" 2 > "$work/tiny.log" 2>&1
expect_failure "$work/tiny.log" "not enough free space in $work/tiny/"
[ -z "$(ls -A "$work/tiny")" ] || fail "a refused start left $(ls "$work/tiny")"

# 5. Room for the first epoch's checkpoints of both ranks (6 files) and the start's check (3 of
# its over-estimated files), not for the second epoch's.
NP=1 run "$work/sizing" 2 train.stop_after_epochs=1 > /dev/null 2>&1 || fail "the sizing run failed"
file_kib=$(( $(stat -c %s "$(run_dir "$work/sizing")/latest-r0.pt") / 1024 ))
mkdir -p "$work/small" && mount -t tmpfs -o size=$(( file_kib * 7 + 3072 ))k tmpfs "$work/small" && mounted+=("$work/small")
run "$work/small" 2 > "$work/small.log" 2>&1
expect_failure "$work/small.log" "No space left on device"
grep -q "cannot write .*-r[01].pt" "$work/small.log" || { cat "$work/small.log"; fail "the full disk's file is not named"; }
dir=$(run_dir "$work/small")
mount -o remount,size=$(( file_kib * 20 ))k "$work/small"
run "$work/small" 2 > "$work/small2.log" 2>&1 || { cat "$work/small2.log"; fail "no resume after the disk was enlarged"; }
grep -q "resumed from .* at epoch 2 (start)" "$work/small2.log" || { cat "$work/small2.log"; fail "not resumed from epoch 1's checkpoints"; }
echo "train_failures: ok"
