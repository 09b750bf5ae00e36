#!/usr/bin/env bash
# Whether dgc-train's loader keeps ResNet-50 fed: the median step time (its time/step_ms meter,
# data wait included) of ResNet-50 at np 1, batch 32, 224x224, on JPEG photos decoded and
# augmented by the loader's workers, against the same model on already-decoded tensors (the
# synthetic dataset: the loader only copies), in the same run. The photos are skimage's,
# re-encoded at ImageNet's typical sizes (bench/image_bench_data.py), three copies each: 144
# images, 5 steps per epoch. The intra-op threads and the decode workers share this machine's
# cores, as they share a GPU host's.
# Usage: bench/imagenet_loader.sh [BIN_DIR] [WORKERS...]   (build/bin; 1 2)
set -euo pipefail
bin_dir=${1:-build/bin}
shift || true
workers=("$@")
[ ${#workers[@]} -gt 0 ] || workers=(1 2)
here=$(cd "$(dirname "$0")" && pwd)
configs=$here/../configs
if ! /usr/bin/python3 -c "import PIL, skimage" 2> /dev/null; then
  "$here/../scripts/install-deps.sh" python3-pil python3-skimage
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 "$here/image_bench_data.py" "$work/photos/train"
for f in "$work"/photos/train/*/*.JPEG; do cp "$f" "${f%.JPEG}_b.JPEG"; cp "$f" "${f%.JPEG}_c.JPEG"; done
cp -r "$work/photos/train" "$work/photos/val"
classes=$(ls "$work/photos/train" | wc -l)
echo "photos: $(find "$work/photos/train" -type f | wc -l) training JPEGs in $classes classes"

mpirun_flags=(-np 1 --bind-to none)
[ "$(id -u)" -eq 0 ] && mpirun_flags+=(--allow-run-as-root)
step_ms() {  # [overrides...]: the epoch's median step time, in ms
  local log=$work/train.log
  mpirun "${mpirun_flags[@]}" "$bin_dir/dgc-train" --configs "$configs/imagenet/resnet50.yaml" \
    "dataset.num_classes=$classes" train.num_epochs=1 train.schedule.warmup_lr_epochs=0 \
    evaluate.batch_size=48 logging.progress_bar=false logging.tensorboard=false \
    "logging.runs_dir=$work/runs" "$@" > "$log" 2>&1 || { cat "$log"; exit 1; }
  rm -rf "$work/runs"
  grep -o '^\[time/step_ms\] = [0-9.e+]*' "$log" | tail -1 | awk '{printf "%.0f\n", $3}'
}

decoded=$(step_ms dataset.name=synthetic dataset.synthetic_train_size=144 dataset.synthetic_test_size=48)
echo "already decoded (synthetic): $decoded ms per step"
for w in "${workers[@]}"; do
  jpeg=$(step_ms "dataset.root=$work/photos" "data.num_workers=$w" data.prefetch_batches=2)
  awk -v w="$w" -v j="$jpeg" -v d="$decoded" \
    'BEGIN {printf "JPEG, %d decode worker(s): %.1f ms per step, %.3fx the decoded step\n", w, j, j / d}'
done
