#!/usr/bin/env bash
# Runs each libFuzzer target of fuzz/ for a bounded time (docs/FUZZING.md). Not part of CI.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
# SECONDS_PER_TARGET defaults to 60; TARGETs default to all of them (idx cifar10 config wire
# codec checkpoint image).
# Installs clang and its fuzzer and sanitizer runtimes when missing (Debian packages, as root or
# via sudo), configures and builds build-fuzz/ (clang, ASan + UBSan + libFuzzer), writes each
# target's seeds and runs it on its corpus. Exits non-zero when any target found a crash, a
# sanitizer report, a timeout or an out-of-memory, printing the input that caused it; rerun that
# input alone with `build-fuzz/bin/fuzz-NAME FILE`.
#
# Environment: FUZZ_BUILD_DIR (build-fuzz), JOBS (build parallelism, nproc).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
shift || true
all_targets=(idx cifar10 config wire codec checkpoint image)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")
build_dir=${FUZZ_BUILD_DIR:-build-fuzz}
jobs=${JOBS:-$(nproc)}

# clang itself, its sanitizer and libFuzzer runtimes (libclang_rt.fuzzer, .asan, .ubsan are in
# libclang-rt-14-dev), and its OpenMP runtime (libdgc is built with OpenMP). `make test` needs
# none of them: they are installed here, on top of install-deps.sh's list.
./scripts/install-deps.sh clang libclang-rt-14-dev libomp-14-dev

if [ ! -f "$build_dir/CMakeCache.txt" ]; then
  cmake -S . -B "$build_dir" -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DDGC_BUILD_FUZZERS=ON -DDGC_BUILD_TESTS=OFF -DDGC_BUILD_BENCH=OFF
fi
cmake --build "$build_dir" --target fuzzers -j "$jobs"

# One thread per target: the inputs are small, and libtorch's pool would only add noise.
export OMP_NUM_THREADS=1
# UBSan aborts (the build also makes it fatal) with a stack; ASan's leak check stays on.
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# libtorch's own leak on its archive reader's error path (fuzz/lsan.supp says which).
export LSAN_OPTIONS=suppressions=$PWD/fuzz/lsan.supp
work="$build_dir/fuzz-runs"
failed=()
for target in "${targets[@]}"; do
  bin="$build_dir/bin/fuzz-$target"
  [ -x "$bin" ] || { echo "fuzz: no target $target ($bin)"; exit 2; }
  seeds="$work/seeds/$target" corpus="$work/corpus/$target" artifacts="$work/artifacts/$target"
  rm -rf "$seeds" "$artifacts"
  mkdir -p "$seeds" "$corpus" "$artifacts"
  DGC_FUZZ_WRITE_SEEDS="$seeds" "$bin" >/dev/null
  log="$work/$target.log"
  echo "fuzz: $target for ${seconds}s (log $log)"
  # The corpus grows across runs; the seeds are read only. -timeout: seconds per input.
  dict=()
  [ -f "fuzz/$target.dict" ] && dict=(-dict="fuzz/$target.dict")
  rc=0
  "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 \
    -print_funcs=0 "${dict[@]}" -artifact_prefix="$artifacts/" "$corpus" "$seeds" >"$log" 2>&1 ||
    rc=$?
  grep -E "^#[0-9]+[[:space:]]+DONE" "$log" | sed 's/^/  /' || true  # no DONE line after a crash
  found=$(find "$artifacts" -type f | sort)
  if [ "$rc" -ne 0 ] || [ -n "$found" ]; then
    echo "fuzz: $target FAILED (exit $rc):"
    grep -E "ERROR: |runtime error:|SUMMARY:|Test unit written" "$log" | head -n 8 |
      sed 's/^/  /' || true
    for f in $found; do echo "  crash input: $f"; done
    failed+=("$target")
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: found problems in: ${failed[*]}"
  exit 1
fi
echo "fuzz: ${#targets[@]} target(s), ${seconds}s each, nothing found"
