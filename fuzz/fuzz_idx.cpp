// libFuzzer target: the IDX reader (apps/train/data/idx.h) on an image file and a label file,
// each plain or gzip.
//
// Input: [flags: u8] [num_classes - 1: u8] [image file size: u32 LE] [image file] [label file]
// flags bit 0 / bit 1: the target gzips the image / label bytes before writing them (so the
// parser sees fuzzed content through the gzip path); unset, the bytes are written as they are,
// which also covers damaged gzip streams (gzread detects the gzip magic itself). A size past the
// end of the input takes what there is.
#include <algorithm>
#include <cstdint>
#include <string>

#include "data/idx.h"
#include "dgc/error.h"
#include "fuzz_support.h"
#include "gzip_files.h"

namespace {

using dgc::fuzz::Bytes;

Bytes input(std::uint8_t flags, std::uint8_t classes, const Bytes& images, const Bytes& labels) {
  Bytes out = {flags, classes};
  dgc::fuzz::put_u32_le(out, static_cast<std::uint32_t>(images.size()));
  out.insert(out.end(), images.begin(), images.end());
  out.insert(out.end(), labels.begin(), labels.end());
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  dgc::fuzz::write_seeds_if_asked([](const auto& seed) {
    // Three 2x3 images with labels 0, 9, 4: a valid pair, plain and gzip.
    Bytes images, labels;
    dgc::fuzz::put_u32_be(images, 0x00000803);
    for (std::uint32_t dim : {3, 2, 3}) dgc::fuzz::put_u32_be(images, dim);
    for (int i = 0; i < 18; ++i) images.push_back(static_cast<std::uint8_t>(i * 14));
    dgc::fuzz::put_u32_be(labels, 0x00000801);
    dgc::fuzz::put_u32_be(labels, 3);
    labels.insert(labels.end(), {0, 9, 4});
    seed("valid-plain", input(0, 9, images, labels));
    seed("valid-gzip", input(3, 9, images, labels));
    // The same files as gzip bytes written as they are, sound, cut short and corrupted, so that
    // mutations damage gzip streams themselves (the target's own gzip writes only sound ones).
    // The damaged ones matter: zlib is not instrumented, so a sound stream adds no coverage over
    // valid-gzip and libFuzzer would drop it from the corpus.
    const Bytes gz_images = dgc::fuzz::gzip(images), gz_labels = dgc::fuzz::gzip(labels);
    seed("raw-gzip", input(0, 9, gz_images, gz_labels));
    seed("raw-gzip-truncated",
         input(0, 9, gz_images, Bytes(gz_labels.begin(), gz_labels.end() - 6)));
    Bytes corrupt = gz_images;
    corrupt[12] ^= 0xff;  // inside the deflate data, after the 10-byte gzip header
    seed("raw-gzip-corrupt", input(0, 9, corrupt, gz_labels));
  });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 6) return 0;
  const std::uint8_t flags = data[0];
  const std::int64_t num_classes = std::int64_t{data[1]} + 1;
  const std::size_t images_size = std::min<std::size_t>(
      size - 6, std::uint32_t{data[2]} | std::uint32_t{data[3]} << 8 |
                    std::uint32_t{data[4]} << 16 | std::uint32_t{data[5]} << 24);
  const std::uint8_t* images = data + 6;
  const std::uint8_t* labels = images + images_size;
  const std::string images_path = (dgc::fuzz::scratch_dir() / "images").string();
  const std::string labels_path = (dgc::fuzz::scratch_dir() / "labels").string();
  dgc::fuzz::write_maybe_gzip(images_path, images, images_size, flags & 1);
  dgc::fuzz::write_maybe_gzip(labels_path, labels, size - 6 - images_size, flags & 2);
  try {
    const auto dataset = dgc::train::load_idx(images_path, labels_path, num_classes);
    // What the reader promises (idx.h): shapes that agree and labels below num_classes.
    if (dataset.images.dim() != 4 || dataset.images.size(0) != dataset.size() ||
        dataset.images.size(1) != 1 || dataset.labels.max().item<std::int64_t>() >= num_classes ||
        dataset.labels.min().item<std::int64_t>() < 0) {
      std::abort();
    }
  } catch (const dgc::Error&) {
    // The reader's one way of saying no.
  }
  return 0;
}
