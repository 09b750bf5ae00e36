#!/usr/bin/env bash
# Resume the way real jobs break it (docs/RELIABILITY.md), dgc-train under mpirun -np 2:
#  1. rank 0 killed while writing latest: its latest is one epoch behind rank 1's, and the two
#     epochs have different compress ratios (different exchange layouts) -> both ranks resume from
#     the newest epoch both hold, with a warning, and end with the uninterrupted run's digest;
#  2. 16 flipped bytes in latest-r0.pt -> caught by the CRC, same fallback, same digest;
#  3. one rank's files deleted -> one clear error naming the ranks, no hang;
#  4. another world size on the same directory -> one clear refusal;
#  5. changed settings -> refused with the keys listed, config.yaml untouched; accepted with
#     --allow-changed;
#  6. kill -9 of the whole job inside epoch 2, then resume -> no duplicate rows in metrics.csv,
#     the event files (with their purge mark) still match it, the same digest;
#  7. kill -9 of rank 1 alone inside epoch 2 -> mpirun ends the job (no rank waits forever), and a
#     rerun resumes to the same digest;
#  8. kill -9 of mpirun alone -> its ranks end by themselves (no orphan left), and a rerun resumes
#     to the same digest.
#   train_resume_faults.sh MPIEXEC DGC_TRAIN CONFIGS_DIR EVENT_CHECK
set -uo pipefail
event_check=$4
source "$(dirname "$0")/common.sh" "$1" "$2" "$3"

run "$work/straight" 2 > "$work/straight.log" 2>&1 || { cat "$work/straight.log"; fail "the straight run failed"; }
expected=$(digest "$work/straight.log")

# A run stopped after each of its two epochs, as the base of each scenario.
run "$work/base" 2 train.stop_after_epochs=1 > "$work/base.log" 2>&1 || { cat "$work/base.log"; fail "epoch 1 failed"; }
base=$(run_dir "$work/base")
cp -a "$base" "$work/after-epoch-1"
run "$work/base" 2 > "$work/base2.log" 2>&1 || { cat "$work/base2.log"; fail "epoch 2 failed"; }
[ "$(digest "$work/base2.log")" = "$expected" ] || fail "a plain resume changed the result"
grep -q "resumed from .*latest-r0.pt at epoch 2 (start)" "$work/base2.log" || fail "the resume message does not count epochs from 1"

fresh_copy() {  # fresh_copy NAME: a copy of the run as it stood after epoch 1
  rm -rf "$work/$1"; mkdir -p "$work/$1"; cp -a "$work/after-epoch-1" "$work/$1/$(basename "$base")"
  run_dir "$work/$1"
}

# 1. Rank 1 finished epoch 2 while rank 0 died writing latest: rank 0's latest is epoch 1's.
dir=$(fresh_copy behind)
cp "$base"/e1-r1.pt "$base"/latest-r1.pt "$dir/"
run "$work/behind" 2 > "$work/behind.log" 2>&1 || { cat "$work/behind.log"; fail "scenario 1: the resume failed"; }
grep -q "latest checkpoints do not agree; every rank resumes from epoch 2 (start)" "$work/behind.log" ||
  { cat "$work/behind.log"; fail "scenario 1: no warning about the fallback"; }
[ "$(digest "$work/behind.log")" = "$expected" ] || fail "scenario 1: another result than the uninterrupted run"

# 2. 16 flipped bytes in the middle of rank 0's latest.
dir=$(fresh_copy flipped)
size=$(stat -c %s "$dir/latest-r0.pt")
head -c 16 /dev/urandom | dd of="$dir/latest-r0.pt" bs=1 seek=$((size / 2)) conv=notrunc status=none
run "$work/flipped" 2 > "$work/flipped.log" 2>&1 || { cat "$work/flipped.log"; fail "scenario 2: the resume failed"; }
grep -q "latest-r0.pt unusable (checkpoint .*latest-r0.pt is corrupt" "$work/flipped.log" ||
  { cat "$work/flipped.log"; fail "scenario 2: the corrupt file is not named"; }
grep -q "resumed from .*e0-r0.pt at epoch 2 (start)" "$work/flipped.log" || fail "scenario 2: not resumed from e0"
[ "$(digest "$work/flipped.log")" = "$expected" ] || fail "scenario 2: another result than the uninterrupted run"

# 3. Rank 1's files are gone: all or none.
dir=$(fresh_copy missing)
rm "$dir"/*-r1.pt
run "$work/missing" 2 > "$work/missing.log" 2>&1
expect_failure "$work/missing.log" "rank 0 has checkpoint files and rank 1 has none"
[ "$(grep -c "dgc-train:" "$work/missing.log")" -eq 1 ] || { cat "$work/missing.log"; fail "scenario 3: the error is not printed once"; }

# 4. The same directory at np 1 (renamed, as the directory name carries the world size).
dir=$(fresh_copy np1)
mv "$dir" "${dir%.np2}.np1"
NP=1 run "$work/np1" 2 > "$work/np1.log" 2>&1
expect_failure "$work/np1.log" "was written by a job of 2 ranks and this job has 1"

# 5. Changed settings: refused, and the run's record untouched; then accepted explicitly.
dir=$(fresh_copy changed)
before=$(md5sum < "$dir/config.yaml")
run "$work/changed" 2 train.dgc=false train.optimizer.lr=0.5 > "$work/changed.log" 2>&1
expect_failure "$work/changed.log" "these settings differ from the checkpoint's"
grep -qF "train.dgc: true -> false" "$work/changed.log" || fail "scenario 5: train.dgc not listed"
grep -qF "train.optimizer.lr: 0.02 -> 0.5" "$work/changed.log" || fail "scenario 5: the lr not listed"
[ "$(md5sum < "$dir/config.yaml")" = "$before" ] || fail "scenario 5: config.yaml was rewritten by a refused resume"
run "$work/changed" 2 train.optimizer.lr=0.05 logging.log_every_steps=5 --allow-changed train.optimizer.lr \
  > "$work/allowed.log" 2>&1 || { cat "$work/allowed.log"; fail "scenario 5: --allow-changed did not resume"; }
grep -qF "changed since the checkpoint: train.optimizer.lr: 0.02 -> 0.05" "$work/allowed.log" || fail "scenario 5: the accepted change is not logged"
grep -qF "lr: 0.05" "$dir/config.yaml" || fail "scenario 5: config.yaml does not hold the settings the run resumed with"

# 6. kill -9 of every process inside epoch 2, then a resume.
rm -rf "$work/killed"
run "$work/killed" 2 logging.log_every_steps=1 > "$work/killed.log" 2>&1 &
job=$!
wait_for "$work/killed.log" "epoch 2/2  step"
kill -9 $(descendants $job); wait $job 2>/dev/null
dir=$(run_dir "$work/killed")
rows_before=$(wc -l < "$dir/metrics.csv")
run "$work/killed" 2 logging.log_every_steps=1 > "$work/killed2.log" 2>&1 || { cat "$work/killed2.log"; fail "scenario 6: the resume failed"; }
[ "$(digest "$work/killed2.log")" = "$expected" ] || fail "scenario 6: another result than the uninterrupted run"
duplicates=$(tail -n +2 "$dir/metrics.csv" | cut -d, -f1,2 | sort | uniq -d | head -3)
[ -z "$duplicates" ] || fail "scenario 6: duplicate (step, tag) rows after the resume: $duplicates (had $rows_before rows before)"
"$event_check" "$dir" loss/train acc/test_top1 || fail "scenario 6: the event files do not match metrics.csv"

# 7. kill -9 of one rank.
run "$work/one" 2 > "$work/one.log" 2>&1 &
job=$!
wait_for "$work/one.log" "epoch 2/2  step"
kill -9 $(ranks_of $job | tail -1)
killed_at=$SECONDS
wait $job
rc=$?
# mpirun exits 137 itself (its rank died of signal 9); the bound tells it from a hang.
[ "$rc" -ne 0 ] && [ $((SECONDS - killed_at)) -lt 60 ] ||
  { cat "$work/one.log"; fail "scenario 7: the job did not end by itself (exit $rc after $((SECONDS - killed_at)) s)"; }
run "$work/one" 2 > "$work/one2.log" 2>&1 || { cat "$work/one2.log"; fail "scenario 7: the resume failed"; }
[ "$(digest "$work/one2.log")" = "$expected" ] || fail "scenario 7: another result than the uninterrupted run"

# 8. kill -9 of mpirun.
run "$work/launcher" 2 > "$work/launcher.log" 2>&1 &
job=$!
wait_for "$work/launcher.log" "epoch 2/2  step"
ranks=$(ranks_of $job)
launcher=$(basename "$mpiexec")
kill -9 $(for p in $(descendants $job); do [ "$(ps -o comm= -p "$p")" = "$launcher" ] && echo "$p"; done)
wait $job
for _ in $(seq 300); do kill -0 $ranks 2>/dev/null || break; sleep 0.1; done
! kill -0 $ranks 2>/dev/null || { kill -9 $ranks; fail "scenario 8: ranks still alive 30 s after mpirun was killed"; }
run "$work/launcher" 2 > "$work/launcher2.log" 2>&1 || { cat "$work/launcher2.log"; fail "scenario 8: the resume failed"; }
[ "$(digest "$work/launcher2.log")" = "$expected" ] || fail "scenario 8: another result than the uninterrupted run"

echo "train_resume_faults: ok"
