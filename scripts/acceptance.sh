#!/usr/bin/env bash
# The acceptance runs of docs/RESULTS.md: Fashion-MNIST at np 4, DGC at 99.9% sparsity (with the
# 2-epoch sparsity warm-up of configs/dgc/wm2.yaml) against the dense baseline, same schedule and
# seed, one pair per MODEL:EPOCHS argument (by default those of docs/RESULTS.md: the convnet over
# 8, 12 and 24 epochs, ResNet-20 over 10). Then the learning curves of each pair into one PNG in
# the runs directory.
# Usage: scripts/acceptance.sh [BIN_DIR] [RUNS_DIR] [MODEL:EPOCHS...]
#        (build/bin, runs/acceptance; the default pairs take ~3 h on 2 cores)
set -euo pipefail
bin=${1:-build/bin}
runs=${2:-runs/acceptance}
shift $(( $# < 2 ? $# : 2 ))
pairs=("$@")
[ ${#pairs[@]} -gt 0 ] || pairs=(convnet:8 resnet20:10 convnet:12 convnet:24)
mpirun_flags=(--oversubscribe -np 4)
[ "$(id -u)" -eq 0 ] && mpirun_flags+=(--allow-run-as-root)

pair() {  # MODEL EPOCHS: the dense run, the DGC run, and their curves in MODEL.eEPOCHS.png
  local model=$1 epochs=$2
  for dgc in "" configs/dgc/wm2.yaml; do
    OMP_NUM_THREADS=1 mpirun "${mpirun_flags[@]}" "$bin/dgc-train" \
      --configs "configs/fmnist/$model.yaml" $dgc --configs.train.num_epochs "$epochs" \
      --suffix ".e$epochs" logging.runs_dir="$runs" logging.progress_bar=false
  done
  "$bin/dgc-plot" --out "$runs/$model.e$epochs.png" \
    --title "Fashion-MNIST, $model, np 4, $epochs epochs: dense against DGC at 99.9%" \
    "$runs/fmnist.$model.e$epochs.np4" "$runs/[fmnist.$model+dgc.wm2].e$epochs.np4"
}

for p in "${pairs[@]}"; do
  pair "${p%%:*}" "${p##*:}"
done
