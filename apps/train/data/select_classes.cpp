#include "data/select_classes.h"

#include "dgc/error.h"

namespace dgc::train {

Dataset select_classes(const Dataset& dataset, std::int64_t num_classes) {
  const std::int64_t all = dataset.num_classes;
  DGC_CHECK(num_classes >= 1 && num_classes <= all && all % num_classes == 0,
            "dataset.num_classes must divide the ", all, " classes of ", dataset.name,
            " (every k-th class is kept), got ", num_classes);
  if (num_classes == all) return dataset;
  const std::int64_t k = all / num_classes;
  // Labels lie in [0, all), so those divisible by k are exactly the kept classes.
  const auto kept = dataset.labels.remainder(k).eq(0).nonzero().squeeze(1);
  Dataset subset;
  subset.images = dataset.images.index_select(0, kept);  // a new, contiguous tensor
  subset.labels = dataset.labels.index_select(0, kept).div(k, "trunc");
  subset.num_classes = num_classes;
  subset.name = dataset.name + " (" + std::to_string(num_classes) + " of " + std::to_string(all) +
                " classes)";
  return subset;
}

}  // namespace dgc::train
