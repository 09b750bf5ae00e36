#include "dgc/warmup.h"

#include <algorithm>
#include <cmath>

namespace dgc {

double compress_ratio_for_epoch(const CompressorOptions& options, std::int64_t epoch) {
  const double base = base_compress_ratio(options);
  if (options.warmup_epochs <= 0 || epoch >= options.warmup_epochs) return base;
  if (const auto* list = std::get_if<std::vector<double>>(&options.warmup_coeff)) {
    return (*list)[static_cast<std::size_t>(std::max<std::int64_t>(epoch, 0))];
  }
  // The default coefficient reaches `base` exactly one epoch after the warm-up ends.
  const double coeff = std::holds_alternative<double>(options.warmup_coeff)
                           ? std::get<double>(options.warmup_coeff)
                           : std::pow(base, 1.0 / (static_cast<double>(options.warmup_epochs) + 1));
  return std::max(std::pow(coeff, static_cast<double>(epoch + 1)), base);
}

}  // namespace dgc
