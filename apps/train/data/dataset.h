// A labelled image dataset held whole in memory.
//
// The in-memory readers of dgc-train (IDX, CIFAR-10, synthetic) return this one type, which the
// loader reads through input/tensor_source.h; ImageNet does not fit in memory and is read as
// files (data/image_folder.h, input/image_folder_source.h). These datasets fit easily:
// Fashion-MNIST is 47 MB of uint8, CIFAR-10 150 MB. Images stay uint8 until a batch is formed,
// where augmentation and normalization happen (four times less memory than float).
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <string>

namespace dgc::train {

struct Dataset {
  torch::Tensor images;  // uint8 [N, C, H, W], contiguous
  torch::Tensor labels;  // int64 [N], each in [0, num_classes)
  std::int64_t num_classes = 0;
  std::string name;  // for logs, e.g. "fashion-mnist/train"

  std::int64_t size() const { return labels.defined() ? labels.size(0) : 0; }
};

}  // namespace dgc::train
