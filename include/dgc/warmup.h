// Sparsity warm-up schedule (ALGORITHM.md section 6).
#pragma once

#include <cstdint>

#include "dgc/export.h"
#include "dgc/options.h"

namespace dgc {

// The compression ratio in force during `epoch` (0-based). A result >= 1 means dense.
DGC_EXPORT double compress_ratio_for_epoch(const CompressorOptions& options, std::int64_t epoch);

}  // namespace dgc
