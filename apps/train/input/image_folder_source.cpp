#include "input/image_folder_source.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <utility>

#include "dgc/error.h"
#include "input/augment.h"

namespace dgc::train {
namespace {

// ImageNet's largest training image is about 15 MB; anything far above is not a photo.
constexpr std::size_t kMaxImageBytes = std::size_t{64} << 20;

}  // namespace

void read_whole_file(const std::string& path, std::vector<std::uint8_t>& bytes,
                     std::size_t max_bytes) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"), std::fclose);
  DGC_CHECK(file != nullptr, "cannot open it: ", std::strerror(errno));
  bytes.clear();
  std::uint8_t chunk[1 << 16];
  for (;;) {
    const std::size_t got = std::fread(chunk, 1, sizeof chunk, file.get());
    DGC_CHECK(bytes.size() + got <= max_bytes, "it is larger than ", max_bytes >> 20, " MiB");
    bytes.insert(bytes.end(), chunk, chunk + got);
    if (got < sizeof chunk) break;
  }
  DGC_CHECK(!std::ferror(file.get()), "cannot read it: ", std::strerror(errno));
}

ImageFolderSource::ImageFolderSource(ImageFolderListing listing, ImageTransform transform,
                                     std::uint64_t seed, Warn warn)
    : listing_(std::move(listing)),
      transform_(std::move(transform)),
      seed_(seed),
      warn_(std::move(warn)) {
  DGC_CHECK(listing_.size() > 0, "ImageFolderSource: ", listing_.root, " lists no image");
  DGC_CHECK(transform_.output_size >= 1, "ImageFolderSource: output_size must be >= 1, got ",
            transform_.output_size);
}

std::vector<std::int64_t> ImageFolderSource::sample_shape() const {
  return {3, transform_.output_size, transform_.output_size};
}

bool ImageFolderSource::try_file(std::int64_t index, std::uint64_t key,
                                 std::vector<std::uint8_t>& bytes, float* out) const {
  const std::string path = listing_.root + "/" + listing_.files[index];
  try {
    read_whole_file(path, bytes, kMaxImageBytes);
    transform_image(bytes.data(), bytes.size(), transform_, key, out);
    return true;
  } catch (const Error& e) {
    bool first;
    {
      std::lock_guard<std::mutex> lock(warned_mutex_);
      first = warned_.insert(index).second;
    }
    if (first && warn_) {
      warn_("cannot use the image " + path + " (" + e.message() +
            "); the next image of its class that can be used takes its place, on every rank "
            "and after a resume");
    }
    return false;
  }
}

void ImageFolderSource::prepare(std::int64_t index, std::int64_t epoch, float* out) const {
  const std::int64_t label = listing_.labels[index];
  const std::int64_t begin = listing_.class_begin[label];
  const std::int64_t count = listing_.class_begin[label + 1] - begin;
  // The replacement keeps the randomness of the sample it stands for: a pure function of the
  // sample's position, like every other sample.
  const std::uint64_t key = sample_random_key(seed_, epoch, index);
  std::vector<std::uint8_t> bytes;
  for (std::int64_t attempt = 0; attempt < count; ++attempt) {
    const std::int64_t candidate = begin + (index - begin + attempt) % count;
    if (try_file(candidate, key, bytes, out)) return;
  }
  DGC_FAIL("no image of the class folder ", listing_.root, "/", listing_.classes[label],
           " can be used (see the warnings above): remove the folder or fix its files");
}

}  // namespace dgc::train
