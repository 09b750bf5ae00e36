// A class subset of a dataset with fixed classes, so that dataset.num_classes means what it says
// for Fashion-MNIST and CIFAR-10 too (issue 11), the way the seed takes a subset of ImageNet.
//
// With k = dataset.num_classes / num_classes, the classes 0, k, 2k, ... (every k-th in label
// order, as the seed keeps every k-th of ImageNet's sorted class folders) are kept and relabelled
// 0, 1, 2, ...; their images keep their order and content. The loss needs labels below the
// model's num_classes: unselected, Fashion-MNIST's labels 5..9 were "Target 5 is out of bounds"
// in the middle of the first epoch. Thread-safe (no state).
#pragma once

#include <cstdint>

#include "data/dataset.h"

namespace dgc::train {

// The subset above; `dataset` itself when num_classes is its number of classes. A num_classes
// below 1, above the dataset's, or one that does not divide it is a dgc::Error naming the config
// key dataset.num_classes (its only source).
Dataset select_classes(const Dataset& dataset, std::int64_t num_classes);

}  // namespace dgc::train
