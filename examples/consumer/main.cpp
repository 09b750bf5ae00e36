// Compresses one gradient the way a training loop would, using only the installed package.
#include <iostream>

#include "dgc/compressor.h"

int main() {
  dgc::Compressor compressor;  // ratio 0.001, momentum correction 0.9
  compressor.add("fc.weight", {100, 100});
  const auto sent = compressor.compress("fc.weight", torch::randn({100, 100}));
  std::cout << "sent " << sent.values.numel() << " of 10000 elements of fc.weight" << std::endl;
  return 0;
}
