#include "datasets.h"

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <iomanip>
#include <sstream>

#include "collective.h"
#include "data/cifar10.h"
#include "data/idx.h"
#include "data/image_folder.h"
#include "data/select_classes.h"
#include "data/synthetic.h"
#include "dgc/error.h"
#include "input/image_folder_source.h"
#include "input/tensor_source.h"
#include "log/crc32c.h"

namespace dgc::train {
namespace {

Dataset load_in_memory(const RunSettings& s, bool train) {
  // A class subset when num_classes is below the dataset's 10 (data/select_classes.h).
  if (s.dataset == "fashion-mnist") {
    return select_classes(load_fashion_mnist(s.dataset_root, train), s.num_classes);
  }
  if (s.dataset == "cifar10") {
    return select_classes(load_cifar10(s.dataset_root, train), s.num_classes);
  }
  return make_synthetic(train ? s.synthetic_train_size : s.synthetic_test_size, s.num_channels,
                        s.image_size, s.image_size, s.num_classes, s.seed + (train ? 0 : 1));
}

std::string identity_of(const Dataset& d) {
  const at::Tensor images = d.images.contiguous();
  const at::Tensor labels = d.labels.contiguous();
  std::ostringstream out;
  out << d.name << ": " << d.size() << " images, CRC-32C "
      << crc32c(images.data_ptr(), images.nbytes(), crc32c(labels.data_ptr(), labels.nbytes(), 0));
  return out.str();
}

std::string identity_of(const ImageFolderListing& listing) {
  std::uint32_t crc = 0;
  for (const auto& name : listing.classes) crc = crc32c(name.data(), name.size() + 1, crc);
  for (const auto& name : listing.files) crc = crc32c(name.data(), name.size() + 1, crc);
  std::ostringstream out;
  out << listing.root << ": " << listing.size() << " files in " << listing.classes.size()
      << " classes, names' CRC-32C " << crc;
  return out.str();
}

}  // namespace

Split open_split(const RunSettings& s, bool train, Communicator& comm) {
  Split split;
  std::string identity;
  run_together(comm, [&] {
    if (s.dataset != "imagenet") {
      const Dataset d = load_in_memory(s, train);
      identity = identity_of(d);
      split.samples = std::make_shared<TensorSource>(
          d.images, d.labels, train ? s.train_augmentation : s.test_augmentation, s.seed, train);
      return;
    }
    const std::string root = s.dataset_root + (train ? "/train" : "/val");
    const auto start = std::chrono::steady_clock::now();
    ImageFolderListing all = scan_image_folder(root);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::ostringstream note;
    note << "=> " << root << ": " << all.size() << " images in " << all.classes.size()
         << " classes, listed in " << std::fixed << std::setprecision(3) << seconds << " s";
    split.notes.push_back(note.str());
    if (!all.skipped.empty()) split.notes.push_back("=> warning: " + describe_skipped(all));
    ImageFolderListing listing = select_folder_classes(all, s.num_classes);
    identity = identity_of(listing);
    const int rank = comm.rank();
    // Called from loader workers: one fprintf is one write, so lines do not interleave.
    auto warn = [rank](const std::string& line) {
      std::fprintf(stderr, "dgc-train: rank %d: warning: %s\n", rank, line.c_str());
    };
    split.samples = std::make_shared<ImageFolderSource>(
        std::move(listing), train ? s.train_transform : s.test_transform, s.seed, warn);
  });
  check_same_on_every_rank(comm, identity,
                           std::string("the ") + (train ? "training" : "test") +
                               " data (another copy of the dataset on some host?)");
  return split;
}

}  // namespace dgc::train
