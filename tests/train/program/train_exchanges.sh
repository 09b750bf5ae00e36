#!/usr/bin/env bash
# Every exchange (comm hook) of dgc-train resumes exactly (PowerSGD: its errors, warm-started Q and
# step count): for each, under mpirun -np 2 on a small
# synthetic dataset, two epochs in one go and the same run stopped after one epoch then resumed
# end with the same model digest. Also: a checkpoint without the state the exchange needs (a
# dense run resumed as DGC with --allow-changed) is one clear error, and the traffic line names
# the dense fallback when DGC's warm-up ratio makes the sparse message the larger.
#   train_exchanges.sh MPIEXEC DGC_TRAIN CONFIGS_DIR
set -uo pipefail
mpiexec=$1 train=$2 configs=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "train_exchanges: FAIL: $*"; exit 1; }

run() {  # run RUNS_DIR [more args]
  local runs=$1
  shift
  OMP_NUM_THREADS=1 "$mpiexec" --allow-run-as-root --oversubscribe -np 2 "$train" \
    --configs "$configs/fmnist/convnet.yaml" dataset.name=synthetic \
    dataset.synthetic_train_size=512 dataset.synthetic_test_size=128 train.batch_size=32 \
    train.num_epochs=2 train.schedule.warmup_lr_epochs=0 logging.progress_bar=false \
    logging.tensorboard=false "logging.runs_dir=$runs" "$@"
}
digest() { grep -o "model digest [0-9a-f]*" "$1" || fail "no model digest in $1"; }

for exchange in allreduce fp16 bf16 powersgd dgc dgc_hierarchical dgc_reduce_scatter dgc_auto; do
  args=("train.exchange=$exchange")
  [[ $exchange = dgc* ]] && args+=(train.dgc=true)
  # Configured links, so that both runs choose alike (measured ones differ from run to run).
  [ "$exchange" = dgc_auto ] && args+=(train.exchange_cost.network_latency_us=50
    train.exchange_cost.network_gbit_s=1 train.exchange_cost.node_latency_us=1
    train.exchange_cost.node_gbit_s=100)
  # One rank per node, so that the hierarchical exchange compresses between the two "nodes".
  export DGC_EMULATED_NODE_SIZE=$([ "$exchange" = dgc_hierarchical ] && echo 1)
  # 8 steps an epoch: compress from step 3, so that the errors and the warm-started Q must resume.
  [ "$exchange" = powersgd ] && args+=(train.powersgd.start_iter=3 train.powersgd.rank=2)
  run "$work/$exchange-straight" "${args[@]}" > "$work/$exchange-straight.log" 2>&1 ||
    { cat "$work/$exchange-straight.log"; fail "$exchange: the run failed"; }
  run "$work/$exchange-resumed" "${args[@]}" train.stop_after_epochs=1 > "$work/$exchange-first.log" 2>&1 ||
    { cat "$work/$exchange-first.log"; fail "$exchange: the first half failed"; }
  run "$work/$exchange-resumed" "${args[@]}" > "$work/$exchange-second.log" 2>&1 ||
    { cat "$work/$exchange-second.log"; fail "$exchange: the resumed run failed"; }
  grep -q "resumed from" "$work/$exchange-second.log" || fail "$exchange: the second run did not resume"
  [ "$(digest "$work/$exchange-straight.log")" = "$(digest "$work/$exchange-second.log")" ] ||
    fail "$exchange: the resumed run ends with other weights than the uninterrupted one"
  echo "train_exchanges: $exchange resumes exactly ($(digest "$work/$exchange-second.log"))"
done
grep -q "dgc_auto's schemes" "$work/dgc_auto-straight.log" ||
  { cat "$work/dgc_auto-straight.log"; fail "dgc_auto does not report its choices"; }
unset DGC_EMULATED_NODE_SIZE
# With one rank per node the hierarchical exchange is dgc.
[ "$(digest "$work/dgc-straight.log")" = "$(digest "$work/dgc_hierarchical-straight.log")" ] ||
  fail "dgc_hierarchical with one rank per node ends elsewhere than dgc"
# The exchanges really differ: fp16 and float32 end elsewhere; PowerSGD compresses.
[ "$(digest "$work/allreduce-straight.log")" != "$(digest "$work/fp16-straight.log")" ] ||
  fail "fp16 ends with the same weights as float32"
grep -q "sent [0-9]* bytes per step, [0-9.]*x less than dense" "$work/powersgd-straight.log" ||
  { cat "$work/powersgd-straight.log"; fail "powersgd: no compressed traffic line"; }
if run "$work/bad" train.exchange=powersgd train.powersgd.rank=0 > "$work/bad.log" 2>&1; then
  fail "train.powersgd.rank=0 was accepted"
fi
grep -q "config: train.powersgd.rank must be >= 1, got 0" "$work/bad.log" ||
  { cat "$work/bad.log"; fail "no clear error for train.powersgd.rank"; }

# A dense run's checkpoint holds no DGC memory: resuming it as DGC is one error naming it.
if run "$work/allreduce-resumed" train.dgc=true train.num_epochs=3 --allow-changed all \
    > "$work/foreign.log" 2>&1; then
  fail "a dense checkpoint resumed as DGC"
fi
grep -q "the checkpoint holds no state of the 'dgc' exchange" "$work/foreign.log" ||
  { cat "$work/foreign.log"; fail "no clear error for a checkpoint without the DGC state"; }

# Ratio 0.5 at np 2: two encoded messages of about 4.25 bytes per entry (half the elements)
# outweigh 4 bytes per element dense.
run "$work/fallback" train.dgc=true train.compression.compress_ratio=0.5 train.num_epochs=1 \
  > "$work/fallback.log" 2>&1 || { cat "$work/fallback.log"; fail "the fallback run failed"; }
grep -q "bucket(s) sent dense: smaller than sparse" "$work/fallback.log" ||
  { cat "$work/fallback.log"; fail "the fallback is not reported"; }
run "$work/no-fallback" train.dgc=true train.compression.compress_ratio=0.5 train.num_epochs=1 \
  train.compression.dense_fallback=false > "$work/no-fallback.log" 2>&1 ||
  { cat "$work/no-fallback.log"; fail "the run without fallback failed"; }
if grep -q "sent dense" "$work/no-fallback.log"; then fail "dense_fallback=false fell back"; fi
echo "train_exchanges: ok"
