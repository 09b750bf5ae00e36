// Compresses one gradient the way a training loop would, then takes one distributed step (a world
// of one without mpirun), using only the installed package.
#include <iostream>

#include "dgc/communicator.h"
#include "dgc/compressor.h"
#include "dgc/distributed_optimizer.h"
#include "dgc/hooks/dgc_hook.h"
#include "dgc/sgd.h"

int main() {
  dgc::Compressor compressor;  // ratio 0.001, momentum correction 0.9
  compressor.add("fc.weight", {100, 100});
  const auto sent = compressor.compress("fc.weight", torch::randn({100, 100}));
  std::cout << "sent " << sent.values.numel() << " of 10000 elements of fc.weight" << std::endl;

  dgc::Communicator comm;
  auto weight = torch::zeros({100, 100}, torch::requires_grad());
  dgc::DGCSGD sgd({weight}, torch::optim::SGDOptions(0.1));
  dgc::DistributedOptimizer optimizer(comm, sgd, {{"fc.weight", weight}},
                                      std::make_unique<dgc::DgcHook>(dgc::Compressor()));
  (weight * torch::randn({100, 100})).sum().backward();
  optimizer.step();
  const auto& traffic = optimizer.last_step_traffic();
  std::cout << "world of " << comm.size() << ": sent " << traffic.bytes_sent << " of "
            << traffic.dense_bytes << " bytes" << std::endl;
  return 0;
}
