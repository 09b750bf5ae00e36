#!/usr/bin/env bash
# Builds the kernel's portable path alone (-DDGC_PORTABLE_KERNEL=ON: what a build off x86-64
# gets) in a build directory of its own, and runs the kernel's and the compressor's tests on it:
# the portable pass one against the op-by-op oracle, bitwise. Not part of ctest: a second
# configure and build costs minutes here. The default build covers the same code with
# set_avx2_enabled(false) (FusedKernel.PortablePathMatchesTheOpByOpOracle); this checks that the
# build without the AVX2 variant compiles, links and never runs AVX code.
#
#   scripts/check-portable-kernel.sh [build-dir]    (default: build-portable; JOBS=1 by default)
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${1:-build-portable}
jobs=${JOBS:-1}

cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DDGC_PORTABLE_KERNEL=ON \
  -DDGC_BUILD_TRAIN=OFF -DDGC_BUILD_BENCH=OFF >/dev/null
cmake --build "$build_dir" -j "$jobs" --target dgc-tests

# The AVX2 variant is not built, and no kernel code uses 32-byte (AVX) registers.
if [ -n "$(find "$build_dir/src" -name 'sparsify_kernel_avx2.cpp.o')" ]; then
  echo "check-portable-kernel: the AVX2 variant was built" >&2
  exit 1
fi
mapfile -t kernel_objects < <(find "$build_dir/src" -name 'sparsify_kernel*.cpp.o')
if [ "${#kernel_objects[@]}" -eq 0 ]; then
  echo "check-portable-kernel: no kernel objects under $build_dir/src" >&2
  exit 1
fi
if objdump -d "${kernel_objects[@]}" | grep -q '%ymm'; then
  echo "check-portable-kernel: AVX instructions in ${kernel_objects[*]}" >&2
  exit 1
fi

"$build_dir/bin/dgc-tests" \
  --gtest_filter='FusedKernel.*:AdaptationExits.*:ExactSemantics.*:Compressor.*:Clipping.*'
echo "check-portable-kernel: portable kernel built and tested in $build_dir"
