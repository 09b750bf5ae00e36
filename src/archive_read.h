// Reading a named tensor from a libtorch archive with dgc's error model.
#pragma once

#include <torch/serialize/archive.h>

#include <string>

#include "dgc/error.h"

namespace dgc::detail {

// The tensor stored under `key`; a missing key is a dgc::Error naming it.
inline torch::Tensor read_tensor(torch::serialize::InputArchive& archive, const std::string& key) {
  torch::Tensor t;
  DGC_CHECK(archive.try_read(key, t), "the archive has no '", key, "'");
  return t;
}

}  // namespace dgc::detail
