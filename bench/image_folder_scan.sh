#!/usr/bin/env bash
# Startup on a large ImageFolder tree: dgc-train's listing (1 and 8 threads) against
# torchvision's ImageFolder(root) (which lists and checks every file name too), on a generated
# tree of 100 classes x 1,000 tiny JPEGs = 100,000 files, measured in the same run. Warm: the
# tree was just written, so the kernel's dentry cache holds it. Cold: the page, dentry and inode
# caches dropped before each measurement (root only), as after a reboot or on first use.
# Usage: bench/image_folder_scan.sh [BIN_DIR]   (BIN_DIR: build/bin)
set -euo pipefail
bin_dir=${1:-build/bin}
here=$(cd "$(dirname "$0")" && pwd)
"$here/../scripts/install-deps.sh" python3-torchvision
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$bin_dir/dgc-make-image-folder" "$work/tree" --classes 100 --images 1000 --tiny
echo "wrote $(find "$work/tree/train" -type f | wc -l) training files"

torchvision_scan() {  # RUNS
  /usr/bin/python3 - "$work/tree/train" "$1" <<'PY'
import statistics, sys, time
from torchvision.datasets import ImageFolder
times = []
for _ in range(int(sys.argv[2])):
    start = time.perf_counter()
    n = len(ImageFolder(sys.argv[1]).samples)
    times.append(time.perf_counter() - start)
print(f"torchvision files={n} median_s={statistics.median(times):.4f}")
PY
}

echo "== warm caches (median of 5)"
"$bin_dir/dgc-bench-scan" "$work/tree/train" 5 1 8
torchvision_scan 5
if [ "$(id -u)" -eq 0 ] && [ -w /proc/sys/vm/drop_caches ]; then
  echo "== cold caches (one listing right after dropping them)"
  drop() { sync; echo 3 > /proc/sys/vm/drop_caches; }
  drop; "$bin_dir/dgc-bench-scan" "$work/tree/train" 1 1
  drop; "$bin_dir/dgc-bench-scan" "$work/tree/train" 1 8
  drop; torchvision_scan 1
fi
