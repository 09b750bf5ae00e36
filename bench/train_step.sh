#!/usr/bin/env bash
# One training step of batch 128 on 1x28x28 inputs: dgc-train (np 1, all cores, dense and DGC)
# against the same step in PyTorch from Python (bench/pytorch_step.py, Debian's python3-torch:
# the same libtorch 1.13), for ResNet-20 and the Fashion-MNIST convnet. Rounds interleave the
# programs so that this machine's drift hits all of them alike; each figure is a median.
# dgc-train's figure is the median of its time/step_ms meter over one epoch of 32 steps on the
# synthetic dataset: the whole step, data loading and the DistributedOptimizer included.
# PyTorch runs twice: as users start it, and with the malloc thresholds dgc-train sets for itself
# (apps/train/main.cpp), which keep the freed memory of one step for the next; the second is the
# like-for-like comparison of the training code.
# Usage: bench/train_step.sh [BIN_DIR] [ROUNDS]   (BIN_DIR: build/bin, ROUNDS: 3)
set -euo pipefail
bin_dir=${1:-build/bin}
rounds=${2:-3}
here=$(cd "$(dirname "$0")" && pwd)
threads=$(nproc)

# The baseline needs PyTorch for Debian's Python (/usr/bin/python3: another python3 may come first
# in PATH); only this benchmark does, so it is installed here.
"$here/../scripts/install-deps.sh" python3-torch

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# --bind-to none: for np <= 2 mpirun binds each rank to one core, and the rank would get 1 thread.
mpirun_flags=(-np 1 --bind-to none)
[ "$(id -u)" -eq 0 ] && mpirun_flags+=(--allow-run-as-root)

dgc_train_ms() {  # MODEL_CONFIG [overrides...]: median step time of one epoch, in ms
  local log=$work/train.log
  mpirun "${mpirun_flags[@]}" "$bin_dir/dgc-train" --configs "$1" "${@:2}" dataset.name=synthetic \
    train.num_epochs=1 train.schedule.warmup_lr_epochs=0 logging.progress_bar=false \
    logging.tensorboard=false "logging.runs_dir=$work/runs" > "$log" 2>&1 || { cat "$log"; exit 1; }
  rm -rf "$work/runs"
  grep -o '^\[time/step_ms\] = [0-9.]*' "$log" | tail -1 | awk '{print $3}'
}

# glibc's names for dgc-train's mallopt(M_MMAP_THRESHOLD, 32 MiB) and mallopt(M_TRIM_THRESHOLD, 1 GiB).
same_malloc=glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=1073741824

median() { sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

models=(resnet20 fmnist_convnet)
declare -A config=([resnet20]=configs/fmnist/resnet20.yaml [fmnist_convnet]=configs/fmnist/convnet.yaml)
for round in $(seq "$rounds"); do
  for m in "${models[@]}"; do
    /usr/bin/python3 "$here/pytorch_step.py" "$m" "$threads" 30 >> "$work/$m.pytorch"
    GLIBC_TUNABLES=$same_malloc /usr/bin/python3 "$here/pytorch_step.py" "$m" "$threads" 30 \
      >> "$work/$m.pytorch_same_malloc"
    dgc_train_ms "${config[$m]}" >> "$work/$m.dense"
    dgc_train_ms "${config[$m]}" train.dgc=true >> "$work/$m.dgc"
    echo "round $round $m: pytorch $(tail -1 "$work/$m.pytorch") ms, with dgc-train's malloc" \
      "settings $(tail -1 "$work/$m.pytorch_same_malloc") ms, dgc-train dense" \
      "$(tail -1 "$work/$m.dense") ms, DGC $(tail -1 "$work/$m.dgc") ms"
  done
done

echo
echo "batch 128, $threads threads, medians of $rounds rounds (ms per step)"
echo "pytorch: as users start it; pytorch'': with dgc-train's malloc settings"
printf "%-16s %9s %9s %9s %9s %15s %13s %17s %15s\n" model pytorch "pytorch''" dense dgc \
  pytorch/dense pytorch/dgc "pytorch''/dense" "pytorch''/dgc"
for m in "${models[@]}"; do
  p=$(median < "$work/$m.pytorch") q=$(median < "$work/$m.pytorch_same_malloc")
  d=$(median < "$work/$m.dense") g=$(median < "$work/$m.dgc")
  awk -v m="$m" -v p="$p" -v q="$q" -v d="$d" -v g="$g" 'BEGIN {
    printf "%-16s %9.1f %9.1f %9.1f %9.1f %14.2fx %12.2fx %16.2fx %14.2fx\n",
      m, p, q, d, g, p / d, p / g, q / d, q / g }'
done
