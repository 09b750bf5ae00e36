// The parameter tensors of torchvision's ResNet-50, in named_parameters() order: the workload of
// the compression benchmark and demo (161 tensors, 25,557,032 elements, 54 multi-dimensional).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace dgc::bench {

struct NamedShape {
  std::string name;
  std::vector<std::int64_t> shape;
};

std::vector<NamedShape> resnet50_shapes();

}  // namespace dgc::bench
