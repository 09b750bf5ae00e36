#!/usr/bin/env bash
# The ImageNet image transform, images per second on one core: dgc's transform_image
# (dgc-bench-image) against torchvision's ImageFolder with the same transforms on PIL
# (bench/pytorch_image.py, torch.set_num_threads(1)), in the same run, on skimage's photographs
# re-encoded as JPEG quality 90 at ImageNet's typical sizes (bench/image_bench_data.py).
# Rounds interleave the two programs so that this machine's drift hits both alike; each figure
# is the median over rounds. dgc's rows without "with-file-reads" decode from memory (files read
# beforehand); torchvision's always open and read each file. The no-* rows show what the JPEG
# decoding shortcuts (DCT scaling, region decoding) save.
# Usage: bench/image_pipeline.sh [BIN_DIR] [ROUNDS] [SECONDS]   (build/bin, 3, 6: seconds per
# figure and round)
set -euo pipefail
bin_dir=${1:-build/bin}
rounds=${2:-3}
seconds=${3:-6}
here=$(cd "$(dirname "$0")" && pwd)

# The baseline and the photos need Debian's Python packages (/usr/bin/python3: another python3
# may come first in PATH); only this benchmark does, so they are installed here.
if ! /usr/bin/python3 -c "import torchvision, PIL, skimage" 2> /dev/null; then
  "$here/../scripts/install-deps.sh" python3-torchvision python3-pil python3-skimage
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 "$here/image_bench_data.py" "$work/images"
echo "images: $(find "$work/images" -type f | wc -l) JPEGs (quality 90) in $work/images"

for round in $(seq "$rounds"); do
  "$bin_dir/dgc-bench-image" "$work/images" "$seconds" >> "$work/rates"
  /usr/bin/python3 "$here/pytorch_image.py" "$work/images" "$seconds" >> "$work/rates"
  echo "round $round done"
done

median() { sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
rate() {  # NAME: the median of the rows named exactly NAME
  awk -v name="$1" '{r = $NF; $NF = ""; sub(/ $/, ""); if ($0 == name) print r}' "$work/rates" | median
}

echo
printf '%-40s %10s\n' "images per second, one thread (median)" ""
while read -r name; do
  printf '%-40s %10.1f\n' "$name" "$(rate "$name")"
done < <(awk '{$NF = ""; sub(/ $/, ""); print}' "$work/rates" | awk '!seen[$0]++')
echo
for mode in train eval; do
  ours=$(rate "dgc $mode")
  theirs=$(rate "torchvision $mode")
  awk -v m="$mode" -v a="$ours" -v b="$theirs" -v f="$(rate "dgc $mode with-file-reads")" \
    'BEGIN {printf "%s: dgc %.1f / torchvision %.1f = %.2fx (with file reads %.2fx)\n", m, a, b, a / b, f / b}'
  for v in no-dct-scaling no-region-decoding no-shortcuts; do
    awk -v m="$mode" -v v="$v" -v a="$ours" -v b="$(rate "dgc $mode $v")" \
      'BEGIN {printf "  %s %s: %.1f, the shortcuts make it %.2fx faster\n", m, v, b, a / b}'
  done
done
