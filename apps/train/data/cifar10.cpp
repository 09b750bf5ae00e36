#include "data/cifar10.h"

#include <filesystem>
#include <vector>

#include "data/gz_file.h"
#include "dgc/error.h"

namespace dgc::train {

namespace {

constexpr std::int64_t kClasses = 10;
constexpr std::int64_t kImageBytes = kCifar10RecordBytes - 1;

// The number of records in a batch file, checked to be a whole positive number.
std::int64_t count_records(const std::string& path) {
  detail::GzFile file(path);
  const auto size = static_cast<std::int64_t>(file.skip_to_end());
  DGC_CHECK(size > 0, path, ": empty, expected records of ", kCifar10RecordBytes, " bytes");
  DGC_CHECK(size % kCifar10RecordBytes == 0, path, ": size ", size,
            " bytes is not a multiple of the record size ", kCifar10RecordBytes,
            " (1 label byte + 3x32x32 pixels): a truncated or wrong file");
  return size / kCifar10RecordBytes;
}

// Reads the `records` records of `path` into the slots from `first` on.
void read_records(const std::string& path, std::int64_t records, std::int64_t first,
                  std::uint8_t* images, std::int64_t* labels) {
  detail::GzFile file(path);
  for (std::int64_t r = 0; r < records; ++r) {
    std::uint8_t label = 0;
    std::uint8_t* image = images + (first + r) * kImageBytes;
    DGC_CHECK(file.read(&label, 1) == 1 && file.read(image, kImageBytes) == kImageBytes, path,
              ": changed while being read: record ", r, " is incomplete");
    DGC_CHECK(label < kClasses, path, ": record ", r, " has label ", int{label}, ", expected 0..9");
    labels[first + r] = label;
  }
}

}  // namespace

Dataset load_cifar10(const std::string& dir, bool train) {
  std::filesystem::path folder(dir);
  std::error_code ec;
  if (std::filesystem::is_directory(folder / "cifar-10-batches-bin", ec)) {
    folder /= "cifar-10-batches-bin";
  }
  std::vector<std::string> names;
  if (train) {
    for (int i = 1; i <= 5; ++i) names.push_back("data_batch_" + std::to_string(i) + ".bin");
  } else {
    names.push_back("test_batch.bin");
  }

  // Two passes: the files' sizes first (checking all of them before any work), then the records
  // straight into their final place, which is allocated once.
  std::vector<std::string> paths;
  std::vector<std::int64_t> records;
  std::int64_t total = 0;
  for (const std::string& name : names) {
    paths.push_back((folder / name).string());
    records.push_back(count_records(paths.back()));
    total += records.back();
  }

  Dataset dataset;
  dataset.images = torch::empty({total, 3, 32, 32}, torch::kUInt8);
  dataset.labels = torch::empty({total}, torch::kInt64);
  std::int64_t first = 0;
  for (std::size_t i = 0; i < paths.size(); ++i) {
    read_records(paths[i], records[i], first, dataset.images.data_ptr<std::uint8_t>(),
                 dataset.labels.data_ptr<std::int64_t>());
    first += records[i];
  }
  dataset.num_classes = kClasses;
  dataset.name = train ? "cifar10/train" : "cifar10/test";
  return dataset;
}

}  // namespace dgc::train
