// Prints the parameters and buffers of one of dgc-train's models, one per line in registration
// order: "parameter NAME [d0, d1, ...]" then "buffer NAME [...]", the format torchvision_shapes.sh
// prints for torchvision's model, so that the two lists diff line by line.
// Usage: print_model_shapes MODEL [IN_CHANNELS NUM_CLASSES]   (defaults 3 and 1000)
#include <torch/nn/module.h>

#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <string>

#include "dgc/error.h"
#include "models/registry.h"

namespace {

std::string format_shape(const torch::Tensor& t) {
  std::string out = "[";
  for (std::int64_t d = 0; d < t.dim(); ++d) {
    out += (d == 0 ? "" : ", ") + std::to_string(t.size(d));
  }
  return out + "]";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2 && argc != 4) {
    std::cerr << "usage: print_model_shapes MODEL [IN_CHANNELS NUM_CLASSES]\n";
    return 2;
  }
  try {
    dgc::train::ModelSpec spec;
    spec.name = argv[1];
    spec.in_channels = argc == 4 ? std::atoll(argv[2]) : 3;
    spec.num_classes = argc == 4 ? std::atoll(argv[3]) : 1000;
    spec.image_size = 224;
    const dgc::train::Model model = dgc::train::make_model(spec);
    for (const auto& item : model.module->named_parameters()) {
      std::cout << "parameter " << item.key() << " " << format_shape(item.value()) << "\n";
    }
    for (const auto& item : model.module->named_buffers()) {
      std::cout << "buffer " << item.key() << " " << format_shape(item.value()) << "\n";
    }
  } catch (const dgc::Error& e) {
    std::cerr << "print_model_shapes: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
