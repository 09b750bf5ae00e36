#!/usr/bin/env bash
# scripts/imagenet-val-folders.sh on a fake flat val/: both label formats, a rerun, a missing
# image and a bad line (nothing moves then).
#   imagenet_val_folders.sh SCRIPT
set -euo pipefail
script=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "imagenet_val_folders: FAIL: $*"; exit 1; }
flat() { rm -rf "$work/val"; mkdir -p "$work/val"; for i in 1 2 3; do echo "$i" > "$work/val/ILSVRC2012_val_0000000$i.JPEG"; done; }

flat
printf 'ILSVRC2012_val_00000001.JPEG n01751748\nILSVRC2012_val_00000002.JPEG n09193705\n\nILSVRC2012_val_00000003.JPEG n01751748\n' > "$work/pairs.txt"
"$script" "$work/val" "$work/pairs.txt" > "$work/out" || fail "the pairs file was refused"
grep -q "moved 3 images into 2 class folders" "$work/out" || fail "$(cat "$work/out")"
[ "$(cat "$work/val/n01751748/ILSVRC2012_val_00000003.JPEG")" = 3 ] || fail "image 3 not in n01751748"
[ -f "$work/val/n09193705/ILSVRC2012_val_00000002.JPEG" ] || fail "image 2 not in n09193705"
"$script" "$work/val" "$work/pairs.txt" | grep -q "moved 0 images" || fail "a rerun moved images"

flat
printf 'ImageId,PredictionString\nILSVRC2012_val_00000002,n09193705 10 20 30 40 n09193705 1 2 3 4\nILSVRC2012_val_00000001,n01751748 1 2 3 4\nILSVRC2012_val_00000003,n01440764 5 6 7 8\n' > "$work/loc.csv"
"$script" "$work/val" "$work/loc.csv" > /dev/null || fail "the Kaggle CSV was refused"
[ -f "$work/val/n01440764/ILSVRC2012_val_00000003.JPEG" ] || fail "the CSV's image 3 not in n01440764"

flat
printf 'ILSVRC2012_val_00000001.JPEG n01751748\nILSVRC2012_val_00000009.JPEG n01751748\n' > "$work/missing.txt"
if "$script" "$work/val" "$work/missing.txt" 2> "$work/err"; then fail "a missing image was accepted"; fi
grep -q "no $work/val/ILSVRC2012_val_00000009.JPEG" "$work/err" || fail "$(cat "$work/err")"
printf 'ILSVRC2012_val_00000001.JPEG n01751748\nILSVRC2012_val_00000002.JPEG tench\n' > "$work/bad.txt"
if "$script" "$work/val" "$work/bad.txt" 2> "$work/err"; then fail "a bad line was accepted"; fi
grep -q "bad.txt:2: cannot read an image name and a wnid" "$work/err" || fail "$(cat "$work/err")"
[ -f "$work/val/ILSVRC2012_val_00000001.JPEG" ] || fail "an image moved although the labels were refused"
echo "imagenet_val_folders: ok"
