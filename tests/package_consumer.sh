#!/usr/bin/env bash
# Installs the built library into a scratch prefix, then configures, builds and runs the example
# consumer against it with find_package(dgc): what another project does.
set -euo pipefail
build_dir=$1 example_dir=$2 work=$3
rm -rf "$work"
cmake --install "$build_dir" --prefix "$work/prefix" >/dev/null
launcher=()
[ -n "${CCACHE_PROGRAM:-}" ] && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER="$CCACHE_PROGRAM")
cmake -S "$example_dir" -B "$work/build" -DCMAKE_PREFIX_PATH="$work/prefix" \
  -DCMAKE_BUILD_TYPE=Release "${launcher[@]}" >/dev/null
cmake --build "$work/build" >/dev/null
out=$("$work/build/dgc-example")
echo "$out"
grep -Eq "^sent ([89]|10) of 10000 elements of fc.weight$" <<<"$out"
# One encoded block (include/dgc/wire.h): count and Rice parameter (2 bytes), up to 10 indices of
# random gaps (mean ~1000: about 11 bits each, 14 bytes; at most 20 here), 8-10 float values.
grep -Eq "^world of 1: sent (3[4-9]|[45][0-9]|6[0-2]) of 40000 bytes$" <<<"$out"
