#!/usr/bin/env bash
# logging.timeline (apps/train/step_timeline.h): rank 0's Chrome trace of the first
# timeline_steps steps of a DGC run at np 2, read back with Python's JSON parser: one "step" span
# per traced step and no more, in each the caller's forward, backward, wait, finish (with the
# DGC decode inside) and optimizer, and on the communication thread's lane every bucket's run with
# its compression and the MPI collectives inside, all within their step. A resumed run writes a
# file of its own and leaves the first one as it was; a timeline that cannot be written (a full
# disk) stops every rank with one error naming the file, and the checkpoints stay.
#   train_timeline.sh MPIEXEC DGC_TRAIN CONFIGS_DIR DGC_TIMELINE
set -uo pipefail
draw=$4
source "$(dirname "$0")/common.sh"

run "$work/runs" 2 train.stop_after_epochs=1 logging.timeline=true logging.timeline_steps=3 \
  > "$work/first.log" 2>&1 || { cat "$work/first.log"; fail "the run with a timeline failed"; }
dir=$(run_dir "$work/runs")
[ -f "$dir/timeline.0.json" ] || { ls "$dir"; fail "no timeline.0.json in the run directory"; }

/usr/bin/python3 - "$dir/timeline.0.json" <<'PY' || fail "the trace does not hold what it should"
import json, sys
events = json.load(open(sys.argv[1]))
lanes = {e["tid"]: e["args"]["name"] for e in events if e.get("name") == "thread_name"}
spans = [e for e in events if e.get("ph") == "X"]
main = [t for t, n in lanes.items() if n == "main"]
comm = [t for t, n in lanes.items() if n == "communication"]
assert len(main) == 1 and len(comm) == 1, f"lanes: {lanes}"
steps = sorted((e for e in spans if e["name"] == "step"), key=lambda e: e["ts"])
assert [e["args"]["step"] for e in steps] == [0, 1, 2], f"steps: {[e['args'] for e in steps]}"
def inside(e, s):
    return s["ts"] <= e["ts"] and e["ts"] + e["dur"] <= s["ts"] + s["dur"] + 0.01
for e in spans:
    assert e["dur"] >= 0, f"negative duration: {e}"
    # Every span lies in a step (the exchange of a step never outlives it), and none after the
    # last traced one.
    assert any(inside(e, s) for s in steps), f"span outside the traced steps: {e}"
for s in steps:
    mine = [e for e in spans if inside(e, s) and e is not s]
    names = lambda tid: [e["name"] for e in mine if e["tid"] == tid]
    for name in ["forward", "backward", "wait", "finish", "decode", "optimizer"]:
        assert name in names(main[0]), f"step {s['args']['step']}: no {name} on the main lane"
    buckets = [e for e in mine if e["name"] == "bucket"]
    finishes = [e for e in mine if e["name"] == "finish"]
    assert buckets and all(e["tid"] == comm[0] for e in buckets), "buckets not on their lane"
    assert sorted(e["args"]["bucket"] for e in buckets) == sorted(e["args"]["bucket"] for e in finishes)
    for b in buckets:
        inner = [e["name"] for e in mine if e["tid"] == comm[0] and e is not b and inside(e, b)]
        assert "compress" in inner, f"bucket {b['args']}: no compress inside: {inner}"
        assert any(n.startswith("MPI_") for n in inner), f"bucket {b['args']}: no collective: {inner}"
print(f"train_timeline: {len(spans)} spans in {len(steps)} steps on lanes {sorted(lanes.values())}")
PY

# dgc-timeline draws it: the main lane and the communication thread's, each with its spans.
"$draw" --out "$work/timeline.png" "$dir/timeline.0.json" --steps 1:2 > "$work/draw.log" 2>&1 ||
  { cat "$work/draw.log"; fail "dgc-timeline could not draw the trace"; }
grep -q "main: .* spans" "$work/draw.log" && grep -q "communication: .* spans" "$work/draw.log" ||
  { cat "$work/draw.log"; fail "dgc-timeline's summary lacks a lane"; }

# distributed.bucket_mb and distributed.overlap, seen in the trace: small buckets make several
# per step, launched during backward with overlap and only after it without; neither changes the
# training (the same digest).
for overlap in true false; do
  run "$work/buckets-$overlap" 1 train.schedule.warmup_lr_epochs=0 distributed.bucket_mb=0.5 \
    distributed.overlap=$overlap \
    logging.timeline=true logging.timeline_steps=2 > "$work/buckets-$overlap.log" 2>&1 ||
    { cat "$work/buckets-$overlap.log"; fail "the run with bucket_mb 0.5, overlap $overlap failed"; }
  /usr/bin/python3 - "$(run_dir "$work/buckets-$overlap")/timeline.0.json" $overlap <<'PY' ||
import json, sys
events, overlap = json.load(open(sys.argv[1])), sys.argv[2] == "true"
spans = [e for e in events if e.get("ph") == "X"]
for s in (e for e in spans if e["name"] == "step"):
    within = [e for e in spans if s["ts"] <= e["ts"] <= s["ts"] + s["dur"]]
    backward = next(e for e in within if e["name"] == "backward")
    buckets = [e for e in within if e["name"] == "bucket"]
    assert len(buckets) >= 3, f"{len(buckets)} buckets in a step with bucket_mb 0.5"
    early = [b for b in buckets if b["ts"] < backward["ts"] + backward["dur"]]
    assert bool(early) == overlap, f"overlap {overlap}: {len(early)} buckets began during backward"
PY
    fail "the trace does not show bucket_mb 0.5 with overlap $overlap"
done
[ "$(digest "$work/buckets-true.log")" = "$(digest "$work/buckets-false.log")" ] ||
  fail "overlap changes the training"

# The resumed run traces from where it starts, into a file of its own.
before=$(md5sum < "$dir/timeline.0.json")
run "$work/runs" 2 logging.timeline=true logging.timeline_steps=2 > "$work/second.log" 2>&1 ||
  { cat "$work/second.log"; fail "the resumed run with a timeline failed"; }
grep -q "resumed from" "$work/second.log" || fail "the second run did not resume"
resumed=$(ls "$dir" | grep -v '^timeline\.0\.json$' | grep '^timeline\..*\.json$')
[ "$(echo "$resumed" | wc -l)" = 1 ] && [ -n "$resumed" ] ||
  { ls "$dir"; fail "the resumed run wrote no timeline of its own"; }
[ "$(grep -o '"name":"step"' "$dir/$resumed" | wc -l)" = 2 ] || fail "$resumed does not hold 2 steps"
[ "$(md5sum < "$dir/timeline.0.json")" = "$before" ] || fail "the resumed run changed timeline.0.json"

# A timeline that cannot be written: every rank stops with one error naming the file.
run "$work/full" 2 train.stop_after_epochs=1 > "$work/full-first.log" 2>&1 ||
  { cat "$work/full-first.log"; fail "the first half of the full-disk run failed"; }
full=$(run_dir "$work/full")
inputs=$(tail -1 "$full/metrics.csv" | cut -d, -f1)
ln -s /dev/full "$full/timeline.$inputs.json"
checkpoints=$(cd "$full" && md5sum -- *.pt 2>/dev/null | sort)
run "$work/full" 2 logging.timeline=true > "$work/full.log" 2>&1
expect_failure "$work/full.log" "timeline: writing '$full/timeline.$inputs.json' failed: No space left on device"
[ "$(grep -c "No space left on device" "$work/full.log")" = 1 ] ||
  { cat "$work/full.log"; fail "the error is not printed once"; }
[ "$(cd "$full" && md5sum -- *.pt 2>/dev/null | sort)" = "$checkpoints" ] ||
  fail "the failed run changed the checkpoints"
echo "train_timeline: passed"
