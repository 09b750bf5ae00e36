// dgc-bench-scan ROOT RUNS THREADS...: how long dgc-train's ImageFolder listing
// (apps/train/data/image_folder.h) takes on ROOT with each thread count, the median of RUNS runs;
// bench/image_folder_scan.sh compares it with torchvision's ImageFolder.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "data/image_folder.h"
#include "dgc/error.h"

int main(int argc, char** argv) {
  if (argc < 4 || std::atoi(argv[2]) < 1) {
    std::fprintf(stderr, "usage: %s ROOT RUNS THREADS...\n", argv[0]);
    return 2;
  }
  const int runs = std::atoi(argv[2]);
  std::vector<int> thread_counts;
  for (int i = 3; i < argc; ++i) thread_counts.push_back(std::atoi(argv[i]));
  try {
    for (const int threads : thread_counts) {
      std::vector<double> seconds;
      std::int64_t files = 0;
      for (int run = 0; run < runs; ++run) {
        const auto start = std::chrono::steady_clock::now();
        files = dgc::train::scan_image_folder(argv[1], threads).size();
        seconds.push_back(
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
      }
      std::sort(seconds.begin(), seconds.end());
      std::printf("dgc threads=%d files=%lld median_s=%.4f\n", threads,
                  static_cast<long long>(files), seconds[seconds.size() / 2]);
    }
  } catch (const dgc::Error& e) {
    std::fprintf(stderr, "dgc-bench-scan: %s\n", e.message().c_str());
    return 1;
  }
  return 0;
}
