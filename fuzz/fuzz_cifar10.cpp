// libFuzzer target: the CIFAR-10 reader (apps/train/data/cifar10.h).
//
// Input: [flags: u8] [batch file]
// flags bit 0: the target gzips the batch bytes before writing them (GzFile reads either;
// unset, raw bytes that are a damaged gzip stream reach the gzip path too);
// bit 1: the training set, the same bytes written as each of data_batch_1..5.bin (else the test
// set, test_batch.bin); bit 2: the files lie in cifar-10-batches-bin/ below the folder given.
#include <cstdint>
#include <filesystem>
#include <string>

#include "data/cifar10.h"
#include "dgc/error.h"
#include "fuzz_support.h"
#include "gzip_files.h"

namespace {

using dgc::fuzz::Bytes;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  dgc::fuzz::write_seeds_if_asked([](const auto& seed) {
    // Two records, labels 3 and 9, with distinct pixel ramps.
    Bytes records;
    for (std::uint8_t label : {3, 9}) {
      records.push_back(label);
      for (int i = 0; i < 3 * 32 * 32; ++i) records.push_back(static_cast<std::uint8_t>(i + label));
    }
    for (std::uint8_t flags : {0, 1, 2, 7}) {
      Bytes input = {flags};
      input.insert(input.end(), records.begin(), records.end());
      seed("valid-flags" + std::to_string(flags), input);
    }
    // The records as gzip bytes written as they are, sound, cut short and corrupted, for
    // mutations of gzip streams themselves (see fuzz_idx.cpp: damaged seeds are the ones kept).
    const Bytes compressed = dgc::fuzz::gzip(records);
    Bytes raw = {0};
    raw.insert(raw.end(), compressed.begin(), compressed.end());
    seed("raw-gzip", raw);
    seed("raw-gzip-truncated", Bytes(raw.begin(), raw.end() - 6));
    raw[1 + 12] ^= 0xff;  // inside the deflate data, after the 10-byte gzip header
    seed("raw-gzip-corrupt", raw);
  });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::uint8_t flags = data[0];
  const bool train = flags & 2;
  namespace fs = std::filesystem;
  const fs::path root = dgc::fuzz::scratch_dir() / "cifar";
  std::error_code ec;
  fs::remove_all(root, ec);  // no file of a previous input may remain
  const fs::path folder = flags & 4 ? root / "cifar-10-batches-bin" : root;
  fs::create_directories(folder);
  if (train) {
    for (int i = 1; i <= 5; ++i) {
      dgc::fuzz::write_maybe_gzip((folder / ("data_batch_" + std::to_string(i) + ".bin")).string(),
                                  data + 1, size - 1, flags & 1);
    }
  } else {
    dgc::fuzz::write_maybe_gzip((folder / "test_batch.bin").string(), data + 1, size - 1,
                                flags & 1);
  }
  try {
    const auto dataset = dgc::train::load_cifar10(root.string(), train);
    // What the reader promises (cifar10.h): [N, 3, 32, 32] images and labels in [0, 10).
    if (dataset.images.sizes() != torch::IntArrayRef({dataset.size(), 3, 32, 32}) ||
        dataset.labels.max().item<std::int64_t>() >= 10 ||
        dataset.labels.min().item<std::int64_t>() < 0) {
      std::abort();
    }
  } catch (const dgc::Error&) {
    // The reader's one way of saying no.
  }
  return 0;
}
