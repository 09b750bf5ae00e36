#!/usr/bin/env bash
# libdgc is built with hidden visibility: its dynamic symbol table holds the public API of
# include/dgc/ (DGC_EXPORT) and nothing of dgc::detail or of the test oracle. A public class or
# function that lost its mark shows here as a missing symbol.
set -euo pipefail
lib=$1
symbols=$(nm -DC --defined-only "$lib")
internal=$(grep -E 'dgc::detail::|reference_step' <<<"$symbols" || true)
if [ -n "$internal" ]; then
  echo "$lib exports internals:"
  echo "$internal"
  exit 1
fi
for public in 'dgc::Compressor::compress(' 'dgc::DistributedOptimizer::step()' \
  'dgc::Communicator::Communicator(' 'dgc::Memory::Memory(' 'dgc::DGCSGD::step(' \
  'dgc::make_plan(' 'dgc::validate(dgc::CompressorOptions const&)' \
  'dgc::compress_ratio_for_epoch(' 'dgc::clip_grad_norm_(' 'typeinfo for dgc::DGCSGD' \
  'typeinfo for dgc::CommHook' 'typeinfo for dgc::DgcHook' 'dgc::DgcHierarchicalHook::prepare(' \
  'dgc::DgcAutoHook::DgcAutoHook(' 'dgc::make_dgc_hook(' 'dgc::measure_exchange_costs(' 'dgc::predict_seconds(' \
  'dgc::make_allreduce_hook(' 'dgc::PowerSgdHook::run(' 'dgc::ProcessGroup::allreduce(' \
  'dgc::Communicator::node()'; do
  if ! grep -qF "$public" <<<"$symbols"; then
    echo "$lib does not export $public"
    exit 1
  fi
done
echo "$lib: $(wc -l <<<"$symbols") symbols, none internal"
