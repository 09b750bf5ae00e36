#!/usr/bin/env bash
# Bytes per rank per step of every exchange on ResNet-50's gradients at np 2, 4, 8 and 16
# (oversubscribed on this machine: counts, not times), and the table of docs/PERFORMANCE.md.
# Usage: bench/traffic.sh [BIN_DIR] [WORLD_SIZES...]   (BIN_DIR: build/bin; sizes: 2 4 8 16)
#
# Nodes are emulated in pairs (DGC_EMULATED_NODE_SIZE=2): only the hierarchical exchange looks
# at them. Each rank holds ResNet-50's parameters, gradients and DGC memory (~0.7 GB): np 16
# needs ~12 GB.
set -euo pipefail

bin_dir=${1:-build/bin}
shift || true
sizes=("$@")
[[ ${#sizes[@]} -gt 0 ]] || sizes=(2 4 8 16)
exe=$bin_dir/dgc-bench-traffic
if [[ ! -x $exe ]]; then
  echo "traffic.sh: $exe not found; build it first (make build)" >&2
  exit 1
fi
flags=(--oversubscribe)
[[ $(id -u) -ne 0 ]] || flags+=(--allow-run-as-root)

csv=$(mktemp)
trap 'rm -f "$csv"' EXIT
for np in "${sizes[@]}"; do
  echo "######## mpirun -np $np -x DGC_EMULATED_NODE_SIZE=2 dgc-bench-traffic"
  OMP_NUM_THREADS=1 DGC_EMULATED_NODE_SIZE=2 mpirun "${flags[@]}" -np "$np" \
    -x OMP_NUM_THREADS -x DGC_EMULATED_NODE_SIZE "$exe" | tee -a "$csv"
done

# Per exchange and world size: mean sent / mean received kB (the largest rank's received).
echo
echo "| exchange | $(printf 'np %s | ' "${sizes[@]}")"
echo "|---|$(printf -- '---|%.0s' "${sizes[@]}")"
grep '^CSV,' "$csv" | awk -F, -v sizes="${sizes[*]}" '
  { key = $2 SUBSEP $3
    cell[key] = sprintf("%.1f / %.1f (%.1f)", $4 / 1e3, $6 / 1e3, $7 / 1e3)
    if (!($2 in seen)) { seen[$2] = 1; order[++n] = $2 } }
  END {
    split(sizes, np, " ")
    for (i = 1; i <= n; ++i) {
      line = "| " order[i] " |"
      for (j = 1; j in np; ++j) line = line " " cell[order[i], np[j]] " |"
      print line
    } }'
echo "(kB per rank and step: sent mean / received mean (received, the largest rank))"
