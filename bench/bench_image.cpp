// dgc-bench-image DIR [SECONDS]: images per second of transform_image on one thread, over every
// file under DIR (an ImageFolder tree), for the train and eval transforms of ImageNet (224,
// resize 256), with and without the JPEG decoding shortcuts (DCT scaling, region decoding).
// Each figure is the best of 3 timed passes of at least SECONDS / 3 (default 6 s per figure)
// after one warm-up pass. "with file reads" reads each file from disk (the page cache, after
// the first pass) into memory in the timed loop, as a data loader does; the other rows decode
// from files read into memory beforehand. Prints one line per figure: NAME IMAGES_PER_SECOND.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "dgc/error.h"
#include "input/image_transform.h"

namespace {

namespace fs = std::filesystem;
using Bytes = std::vector<std::uint8_t>;

Bytes read_file(const fs::path& path) {
  std::ifstream file(path, std::ios::binary);
  DGC_CHECK(file.good(), "cannot read ", path.string());
  Bytes bytes(static_cast<std::size_t>(fs::file_size(path)));
  file.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  DGC_CHECK(file.good(), "cannot read ", path.string());
  return bytes;
}

// Images per second: the best of 3 passes, each of whole sweeps over the files lasting at least
// `seconds` / 3.
template <typename Sweep>
double rate(std::size_t images, double seconds, Sweep&& sweep) {
  sweep(0);  // warm-up: page cache, allocator
  double best = 0;
  std::uint64_t epoch = 1;
  for (int pass = 0; pass < 3; ++pass) {
    const auto start = std::chrono::steady_clock::now();
    std::size_t done = 0;
    double elapsed = 0;
    do {
      sweep(epoch++);
      done += images;
      elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    } while (elapsed < seconds / 3);
    best = std::max(best, static_cast<double>(done) / elapsed);
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    DGC_CHECK(argc >= 2, "usage: dgc-bench-image DIR [SECONDS]");
    const double seconds = argc >= 3 ? std::stod(argv[2]) : 6.0;
    std::vector<fs::path> paths;
    for (const auto& entry : fs::recursive_directory_iterator(argv[1])) {
      if (entry.is_regular_file()) paths.push_back(entry.path());
    }
    std::sort(paths.begin(), paths.end());
    DGC_CHECK(!paths.empty(), "no files under ", argv[1]);
    std::vector<Bytes> files;
    for (const fs::path& p : paths) files.push_back(read_file(p));

    std::vector<float> out(3 * 224 * 224);
    float sink = 0;  // keeps the work observable
    struct Variant {
      const char* name;
      bool dct, region;
    };
    const Variant variants[] = {{"", true, true},
                                {" no-dct-scaling", false, true},
                                {" no-region-decoding", true, false},
                                {" no-shortcuts", false, false}};
    for (bool train : {true, false}) {
      const char* mode = train ? "train" : "eval";
      for (const Variant& v : variants) {
        dgc::train::ImageTransform t;
        t.train = train;
        t.dct_scaling = v.dct;
        t.region_decoding = v.region;
        const double r = rate(files.size(), seconds, [&](std::uint64_t epoch) {
          for (std::size_t i = 0; i < files.size(); ++i) {
            dgc::train::transform_image(files[i].data(), files[i].size(), t,
                                        epoch * files.size() + i, out.data());
            sink += out[i % out.size()];
          }
        });
        std::printf("dgc %s%s %.1f\n", mode, v.name, r);
      }
      dgc::train::ImageTransform t;
      t.train = train;
      const double r = rate(files.size(), seconds, [&](std::uint64_t epoch) {
        for (std::size_t i = 0; i < paths.size(); ++i) {
          const Bytes bytes = read_file(paths[i]);
          dgc::train::transform_image(bytes.data(), bytes.size(), t, epoch * files.size() + i,
                                      out.data());
          sink += out[i % out.size()];
        }
      });
      std::printf("dgc %s with-file-reads %.1f\n", mode, r);
      std::fflush(stdout);
    }
    if (sink == 12345.678f) std::printf("\n");
    return 0;
  } catch (const dgc::Error& e) {
    std::cerr << "dgc-bench-image: " << e.message() << "\n";
  } catch (const std::exception& e) {
    std::cerr << "dgc-bench-image: " << e.what() << "\n";
  }
  return 1;
}
