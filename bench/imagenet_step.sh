#!/usr/bin/env bash
# One training step of batch 32 on 3x224x224 inputs with 1000 classes (forward, cross-entropy,
# backward, SGD momentum 0.9, weight decay 1e-4) of torchvision's ImageNet models, ResNet-18,
# ResNet-50 and VGG-16-BN: dgc-train (np 1, all cores, dense and DGC) against the same step in
# PyTorch from Python (bench/pytorch_step.py with python3-torchvision's models: the same libtorch
# 1.13), in the same run, as bench/train_step.sh does for the small models.
# These steps take seconds on a small CPU machine (VGG-16 tens of seconds), so the step counts are
# small: dgc-train runs one epoch of STEPS + 1 steps on the synthetic dataset and reports the
# median of its time/step_ms meter (with an odd count the first step, which allocates the
# optimizer's state, lies above the median); PyTorch runs 1 warm-up step and reports the median
# of STEPS. The PyTorch figure is taken as users start it and with dgc-train's malloc settings
# (pytorch'', the like-for-like comparison: see train_step.sh).
# Usage: bench/imagenet_step.sh [BIN_DIR] [ROUNDS] [STEPS] [MODELS...]
#   (BIN_DIR: build/bin, ROUNDS: 1, STEPS: 3, MODELS: resnet18 resnet50 vgg16_bn)
set -euo pipefail
bin_dir=${1:-build/bin}
rounds=${2:-1}
steps=${3:-3}
shift $(($# < 3 ? $# : 3))
models=("$@")
[ ${#models[@]} -gt 0 ] || models=(resnet18 resnet50 vgg16_bn)
here=$(cd "$(dirname "$0")" && pwd)
threads=$(nproc)

# The baseline needs torchvision for Debian's Python (/usr/bin/python3: another python3 may come
# first in PATH); only the benchmarks do, so it is installed here.
"$here/../scripts/install-deps.sh" python3-torchvision

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# --bind-to none: for np <= 2 mpirun binds each rank to one core, and the rank would get 1 thread.
mpirun_flags=(-np 1 --bind-to none)
[ "$(id -u)" -eq 0 ] && mpirun_flags+=(--allow-run-as-root)

dgc_train_ms() {  # MODEL [overrides...]: median step time of one epoch, in ms
  local log=$work/train.log
  # No augmentation and no normalization: the background loader only batches the images.
  mpirun "${mpirun_flags[@]}" "$bin_dir/dgc-train" --configs configs/default.yaml \
    "model.name=$1" "${@:2}" dataset.name=synthetic dataset.image_size=224 \
    dataset.num_channels=3 dataset.num_classes=1000 \
    "dataset.synthetic_train_size=$((32 * (steps + 1)))" dataset.synthetic_test_size=32 \
    train.batch_size=32 evaluate.batch_size=32 train.num_epochs=1 \
    train.schedule.warmup_lr_epochs=0 logging.progress_bar=false logging.tensorboard=false \
    "logging.runs_dir=$work/runs" > "$log" 2>&1 || { cat "$log"; exit 1; }
  rm -rf "$work/runs"
  # %.4g: from 10 s on the meter reads like 1.095e+04 (4 digits, 10 ms at 10 s).
  grep -o '^\[time/step_ms\] = [0-9.e+]*' "$log" | tail -1 | awk '{printf "%.0f\n", $3}'
}

# glibc's names for dgc-train's mallopt(M_MMAP_THRESHOLD, 32 MiB) and mallopt(M_TRIM_THRESHOLD, 1 GiB).
same_malloc=glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=1073741824

median() { sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

for round in $(seq "$rounds"); do
  for m in "${models[@]}"; do
    /usr/bin/python3 "$here/pytorch_step.py" "$m" "$threads" "$steps" 1 >> "$work/$m.pytorch"
    GLIBC_TUNABLES=$same_malloc /usr/bin/python3 "$here/pytorch_step.py" "$m" "$threads" "$steps" 1 \
      >> "$work/$m.pytorch_same_malloc"
    dgc_train_ms "$m" >> "$work/$m.dense"
    dgc_train_ms "$m" train.dgc=true >> "$work/$m.dgc"
    echo "round $round $m: pytorch $(tail -1 "$work/$m.pytorch") ms, with dgc-train's malloc" \
      "settings $(tail -1 "$work/$m.pytorch_same_malloc") ms, dgc-train dense" \
      "$(tail -1 "$work/$m.dense") ms, DGC $(tail -1 "$work/$m.dgc") ms"
  done
done

echo
echo "batch 32 x 3x224x224, 1000 classes, $threads threads, $steps steps; medians of $rounds" \
  "round(s) (ms per step)"
echo "pytorch: as users start it; pytorch'': with dgc-train's malloc settings"
printf "%-10s %9s %9s %9s %9s %15s %13s %17s %15s\n" model pytorch "pytorch''" dense dgc \
  pytorch/dense pytorch/dgc "pytorch''/dense" "pytorch''/dgc"
for m in "${models[@]}"; do
  p=$(median < "$work/$m.pytorch") q=$(median < "$work/$m.pytorch_same_malloc")
  d=$(median < "$work/$m.dense") g=$(median < "$work/$m.dgc")
  awk -v m="$m" -v p="$p" -v q="$q" -v d="$d" -v g="$g" 'BEGIN {
    printf "%-10s %9.1f %9.1f %9.1f %9.1f %14.2fx %12.2fx %16.2fx %14.2fx\n",
      m, p, q, d, g, p / d, p / g, q / d, q / g }'
done
