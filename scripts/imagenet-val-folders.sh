#!/usr/bin/env bash
# Moves ImageNet's flat validation folder (val/ILSVRC2012_val_00000001.JPEG, ...) into one folder
# per class (val/<wnid>/...), the ImageFolder layout dgc-train reads (docs/IMAGENET.md).
#   scripts/imagenet-val-folders.sh VAL_DIR LABELS
# LABELS names each image's class, one image per line, in either form:
#   ILSVRC2012_val_00000001.JPEG n01751748          (a file name and its wnid)
#   ILSVRC2012_val_00000001,n01751748 ...           (Kaggle's LOC_val_solution.csv; header skipped)
# Every image named must exist in VAL_DIR and every line must parse; nothing moves otherwise.
# Run again after an interruption: images already in their class folder are left alone.
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 VAL_DIR LABELS" >&2; exit 2; }
val=$1 labels=$2
[ -d "$val" ] || { echo "$0: $val is not a folder" >&2; exit 1; }
[ -r "$labels" ] || { echo "$0: cannot read $labels" >&2; exit 1; }

# One "file wnid" pair per line, checked whole before anything moves.
pairs=$(mktemp)
trap 'rm -f "$pairs"' EXIT
awk -v labels="$labels" '
  /^ImageId,/ { next }                       # the CSV header
  /^[[:space:]]*$/ { next }
  {
    if (index($0, ",")) { split($0, f, ","); split(f[2], w, " "); file = f[1] ".JPEG"; wnid = w[1] }
    else { file = $1; wnid = $2 }
    if (file !~ /^[A-Za-z0-9_.-]+$/ || wnid !~ /^n[0-9]+$/) {
      printf "%s:%d: cannot read an image name and a wnid in: %s\n", labels, NR, $0 > "/dev/stderr"
      bad = 1; exit 1
    }
    print file, wnid
  }
  END { if (bad) exit 1 }' "$labels" > "$pairs"

missing=0
while read -r file wnid; do
  [ -f "$val/$file" ] || [ -f "$val/$wnid/$file" ] || { echo "$0: no $val/$file" >&2; missing=1; }
done < "$pairs"
[ "$missing" -eq 0 ] || exit 1

moved=0
while read -r file wnid; do
  [ -f "$val/$file" ] || continue  # already moved
  mkdir -p "$val/$wnid"
  mv "$val/$file" "$val/$wnid/$file"
  moved=$((moved + 1))
done < "$pairs"
echo "moved $moved images into $(find "$val" -mindepth 1 -maxdepth 1 -type d | wc -l) class folders"
