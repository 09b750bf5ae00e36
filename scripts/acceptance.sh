#!/usr/bin/env bash
# The acceptance runs of docs/RESULTS.md: Fashion-MNIST at np 4, DGC at 99.9% sparsity (with the
# 2-epoch sparsity warm-up of configs/dgc/wm2.yaml) against the dense baseline, same schedule and
# seed: the convnet over 8 epochs and ResNet-20 over 10. Then the learning curves into one PNG.
# Usage: scripts/acceptance.sh [bin dir] [runs dir]    (about 1.5 hours on 2 cores)
set -euo pipefail
bin=${1:-build/bin}
runs=${2:-runs/acceptance}
ranks=${RANKS:-4}
mpirun_flags=(--oversubscribe -np "$ranks")
[ "$(id -u)" -eq 0 ] && mpirun_flags+=(--allow-run-as-root)

train() {
  OMP_NUM_THREADS=1 mpirun "${mpirun_flags[@]}" "$bin/dgc-train" --configs "$@" \
    logging.runs_dir="$runs" logging.progress_bar=false
}

train configs/fmnist/convnet.yaml --configs.train.num_epochs 8 --suffix .e8
train configs/fmnist/convnet.yaml configs/dgc/wm2.yaml --configs.train.num_epochs 8 --suffix .e8
train configs/fmnist/resnet20.yaml --configs.train.num_epochs 10 --suffix .e10
train configs/fmnist/resnet20.yaml configs/dgc/wm2.yaml --configs.train.num_epochs 10 --suffix .e10
