#!/usr/bin/env bash
# dgc-train on an ImageFolder tree under mpirun -np 2 (issue 12), on a small JPEG folder written by
# dgc-make-image-folder: four classes of photos of several sizes, plus a grayscale and a CMYK JPEG,
# a PNG named .JPEG, a truncated JPEG, an empty file and two stray files.
#  1. The seed's ImageNet configs (ResNet-18 with DGC from the first step, wm0) at 32x32: the
#     odd files decode or are named in a warning and replaced, the stray files are named once;
#     a run stopped after one epoch and resumed ends bitwise where the straight run ends.
#  2. --evaluate evaluates and does not train: the best checkpoints give the best accuracy the
#     training printed, --checkpoint e0 and e1 those epochs' meters, a file runs too, and the
#     run directory is unchanged.
#     Ranks that see different copies of the dataset are one error before training.
#  3. One epoch of ResNet-50 (DGC) and VGG-16-BN (dense) at 64x64 from the same folder.
#   train_imagenet.sh MPIEXEC DGC_TRAIN CONFIGS_DIR MAKE_IMAGE_FOLDER
set -uo pipefail
source "$(dirname "$0")/common.sh" "$1" "$2" "$3"
make_folder=$4

"$make_folder" "$work/inet" --classes 8 --images 4 --odd || fail "cannot write the image folder"
train_dir=$work/inet/train

inet() {  # inet RUNS_DIR EPOCHS [more args]: the seed's command line, made small
  local runs=$1 epochs=$2
  shift 2
  OMP_NUM_THREADS=1 timeout -k 5 600 "$mpiexec" --allow-run-as-root --oversubscribe -np 2 "$train" \
    --configs "$configs/imagenet/resnet18.yaml" "$configs/dgc/wm0.yaml" \
    "dataset.root=$work/inet" dataset.num_classes=8 dataset.image_size=48 train.batch_size=4 \
    evaluate.batch_size=8 data.num_workers=2 train.schedule.warmup_lr_epochs=0 \
    logging.progress_bar=false "logging.runs_dir=$runs" "train.num_epochs=$epochs" "$@"
}

# 1. Odd files, stray files, resume.
inet "$work/straight" 2 > "$work/straight.log" 2>&1 || { cat "$work/straight.log"; fail "the run failed"; }
for odd in truncated.JPEG empty.JPEG; do
  grep -q "warning: cannot use the image $train_dir/class_00/$odd (" "$work/straight.log" ||
    { cat "$work/straight.log"; fail "no warning naming $odd"; }
done
for fine in gray.JPEG cmyk.JPEG png_named.JPEG; do
  if grep -q "cannot use the image $train_dir/class_00/$fine" "$work/straight.log"; then
    fail "$fine was not decoded"
  fi
done
grep -q "warning: 2 entries of $train_dir not used (not a .jpeg, .jpg or .png file in a class folder): README, class_00/notes.txt" \
  "$work/straight.log" || { cat "$work/straight.log"; fail "no warning naming the stray files"; }
grep -q "=> $train_dir: 37 images in 8 classes" "$work/straight.log" || fail "not 37 images listed"

inet "$work/resumed" 2 train.stop_after_epochs=1 > "$work/first.log" 2>&1 || { cat "$work/first.log"; fail "the first half failed"; }
inet "$work/resumed" 2 > "$work/second.log" 2>&1 || { cat "$work/second.log"; fail "the resumed run failed"; }
grep -q "resumed from" "$work/second.log" || fail "the second run did not resume"
[ "$(digest "$work/straight.log")" = "$(digest "$work/second.log")" ] ||
  fail "the resumed run ends with other weights than the uninterrupted one"

# 2. --evaluate.
dir=$(run_dir "$work/straight")
snapshot() { (cd "$dir" && find . -printf '%p %s %T@\n' | sort && find . -type f -exec md5sum {} + | sort); }
snapshot > "$work/before"
inet "$work/straight" 2 --evaluate > "$work/eval.log" 2>&1 || { cat "$work/eval.log"; fail "--evaluate failed"; }
snapshot > "$work/after"
cmp -s "$work/before" "$work/after" || { diff "$work/before" "$work/after"; fail "--evaluate changed the run directory"; }
grep -qF "=> evaluating $dir/best-r0.pt" "$work/eval.log" || { cat "$work/eval.log"; fail "not the best checkpoint"; }
if grep -q "^\[loss/train\]\|epoch 1/" "$work/eval.log"; then cat "$work/eval.log"; fail "--evaluate trained"; fi
meters() { grep "^\[acc/test_top[15]\] = " "$1"; }  # top-1 and top-5, per epoch
top1() { grep "^\[acc/test_top1\] = " "$1" | awk '{print $3}'; }
best=$(top1 "$work/straight.log" | sort -g | tail -1)
[ "$(top1 "$work/eval.log")" = "$best" ] ||
  fail "--evaluate gives top-1 $(top1 "$work/eval.log"), the training's best was $best"
for epoch in 0 1; do
  inet "$work/straight" 2 --evaluate --checkpoint "e$epoch" > "$work/eval$epoch.log" 2>&1 ||
    { cat "$work/eval$epoch.log"; fail "--evaluate --checkpoint e$epoch failed"; }
  [ "$(meters "$work/eval$epoch.log")" = "$(meters "$work/straight.log" | sed -n "$((2 * epoch + 1)),$((2 * epoch + 2))p")" ] ||
    fail "--checkpoint e$epoch gives $(meters "$work/eval$epoch.log"), the training printed $(meters "$work/straight.log")"
done
# A file: rank 0's model on every rank (its batch-norm statistics too, so the meters may differ
# from the training's by a few images).
inet "$work/straight" 2 --evaluate --checkpoint "$dir/e1-r1.pt" > "$work/file.log" 2>&1 ||
  { cat "$work/file.log"; fail "--evaluate --checkpoint FILE failed"; }
grep -qF "=> evaluating $dir/e1-r1.pt (saved at epoch 3 (start)" "$work/file.log" || { cat "$work/file.log"; fail "not the file given"; }
[ "$(meters "$work/file.log" | wc -l)" -eq 2 ] || fail "no meters for the file"
cmp -s "$work/before" <(snapshot) || fail "--evaluate of a file changed the run directory"
inet "$work/straight" 2 --evaluate --suffix .never > "$work/none.log" 2>&1
expect_failure "$work/none.log" "this run has not finished an epoch yet"
inet "$work/straight" 2 --evaluate --checkpoint bestest > "$work/none.log" 2>&1
expect_failure "$work/none.log" "--checkpoint bestest: give best, latest or e<N>"
[ ! -e "$work/straight/$(basename "$dir" .np2).never.np2" ] && [ "$(ls "$work/straight" | wc -l)" -eq 1 ] ||
  fail "--evaluate of a missing run created a directory"

# A host with another copy of the dataset (one file more): one error naming the ranks, before
# training. mpirun's MPMD form gives rank 1 its own dataset.root.
cp -r "$work/inet" "$work/inet2"
cp "$work/inet2/train/class_01/img_0000.JPEG" "$work/inet2/train/class_01/img_extra.JPEG"
common=(--configs "$configs/imagenet/resnet18.yaml" dataset.num_classes=8 dataset.image_size=48
        train.batch_size=4 logging.progress_bar=false "logging.runs_dir=$work/mixed" train.num_epochs=1)
OMP_NUM_THREADS=1 timeout -k 5 300 "$mpiexec" --allow-run-as-root --oversubscribe \
  -np 1 "$train" "${common[@]}" "dataset.root=$work/inet" : \
  -np 1 "$train" "${common[@]}" "dataset.root=$work/inet2" > "$work/mixed.log" 2>&1
expect_failure "$work/mixed.log" "the ranks do not agree on the training data"
grep -q "rank 0 has $work/inet/train: 37 files in 8 classes" "$work/mixed.log" || fail "rank 0's data not named"
grep -q "rank 1 has $work/inet2/train: 38 files in 8 classes" "$work/mixed.log" || fail "rank 1's data not named"
[ ! -e "$work/mixed" ] || [ -z "$(ls -A "$work/mixed")" ] || fail "the refused start left a run directory"

# 3. The other ImageNet models, one epoch each at 64x64.
for model in resnet50:dgc vgg16_bn:dense; do
  name=${model%%:*}
  inet "$work/models-$name" 1 "model.name=$name" dataset.image_size=64 "train.dgc=$([ "${model#*:}" = dgc ] && echo true || echo false)" \
    "train.optimizer.nesterov=false" "model.zero_init_residual=$([ "$name" = resnet50 ] && echo true || echo false)" \
    > "$work/$name.log" 2>&1 || { cat "$work/$name.log"; fail "$name failed"; }
  grep -q "^\[acc/test_top1\] = " "$work/$name.log" || fail "$name: no accuracy"
done
echo "train_imagenet: ok"
