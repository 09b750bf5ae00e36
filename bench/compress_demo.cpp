// dgc-compress-demo: the compressor on ResNet-50's shapes. Prints the per-tensor plans at the
// default ratio (0.001), runs a few local steps on random gradients and reports the ratio each
// tensor achieved and the traffic of one step against sending every gradient dense in fp32.
#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <iomanip>
#include <iostream>
#include <thread>

#include "dgc/compressor.h"
#include "dgc/error.h"
#include "resnet50_shapes.h"

int main() try {
  at::set_num_threads(static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  torch::manual_seed(0);
  dgc::CompressorOptions options;  // the original's defaults: ratio 0.001, sample ratio 0.01
  dgc::Compressor compressor(options);
  compressor.set_logger([](const std::string& s) { std::cout << s; });

  const auto shapes = dgc::bench::resnet50_shapes();
  std::vector<std::pair<std::string, torch::Tensor>> params;
  for (const auto& t : shapes) params.emplace_back(t.name, torch::empty(t.shape));
  compressor.add_parameters(params);

  const int steps = 5;
  const auto wire = compressor.wire_format();
  std::int64_t dense_elements = 0, sparse_elements = 0, sent_entries = 0;
  std::cout << "\n=> achieved ratio per compressed tensor over " << steps << " steps\n";
  for (const auto& [name, p] : params) {
    if (!compressor.is_sparse(name)) {
      dense_elements += p.numel();
      continue;
    }
    sparse_elements += p.numel();
    std::int64_t sent = 0;
    for (int s = 0; s < steps; ++s)
      sent += compressor.compress(name, torch::randn(p.sizes())).values.numel();
    sent_entries += sent;
    std::cout << "   " << std::left << std::setw(28) << name << std::right << std::setw(8)
              << sent / steps << " / " << std::setw(8) << p.numel() << " = " << std::fixed
              << std::setprecision(5) << static_cast<double>(sent) / steps / p.numel() << "\n";
  }
  const double dense_bytes = 4.0 * static_cast<double>(dense_elements + sparse_elements);
  const auto report = [&](const char* label, double entry_bytes, double dense_element_bytes) {
    const double step_bytes = dense_element_bytes * static_cast<double>(dense_elements) +
                              static_cast<double>(sent_entries) / steps * entry_bytes;
    std::cout << std::fixed << std::setprecision(2) << "=> " << label << ": one step sends "
              << step_bytes / 1e3 << " kB instead of " << dense_bytes / 1e6 << " MB dense fp32, "
              << std::setprecision(1) << dense_bytes / step_bytes << "x less\n";
  };
  std::cout << "\n"
            << sparse_elements << " of " << sparse_elements + dense_elements
            << " elements compressed; the " << dense_elements << " of 1-D tensors travel dense\n";
  report("fp32 values, int64 indices", static_cast<double>(wire.value_bytes() + wire.index_bytes()),
         4.0);
  report("fp16 values, int32 indices (fp16 dense)", 6.0, 2.0);
  return 0;
} catch (const dgc::Error& e) {
  std::cerr << "dgc-compress-demo: " << e.message() << std::endl;
  return 1;
}
