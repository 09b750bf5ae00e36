// A SampleSource over the files of an ImageFolder tree (data/image_folder.h): each sample is
// read and decoded when a loader worker asks for it, with the ImageNet transforms of
// image_transform.h keyed by (seed, epoch, index), so nothing but the file list stays in memory.
//
// A file that cannot be used (corrupt, truncated, empty, not a JPEG or PNG after all, unreadable
// or gone since the scan) must not stop a multi-day training, nor change it silently: it is named
// in one warning per process and replaced by the next file of its class, in sorted order and
// wrapping around, that decodes, with the randomness of the sample it replaces. What replaces
// what depends only on the files, so it is the same on every rank and after a resume. Only a
// class none of whose files decodes is an error.
//
// Thread safety: const methods may be called from several threads at once (the warning set is
// guarded by a mutex); the warning callback is called from those threads.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "data/image_folder.h"
#include "input/image_transform.h"
#include "input/sample_source.h"

namespace dgc::train {

class ImageFolderSource : public SampleSource {
 public:
  using Warn = std::function<void(const std::string&)>;

  // `warn` receives the one line about each unusable file; it may be called from any loader
  // worker, so it must be thread-safe.
  ImageFolderSource(ImageFolderListing listing, ImageTransform transform, std::uint64_t seed,
                    Warn warn);

  std::int64_t size() const override { return listing_.size(); }
  std::int64_t label(std::int64_t index) const override { return listing_.labels[index]; }
  std::vector<std::int64_t> sample_shape() const override;
  void prepare(std::int64_t index, std::int64_t epoch, float* out) const override;

  const ImageFolderListing& listing() const { return listing_; }

 private:
  // Reads file `index` and transforms it into `out`; false (after the warning) when it cannot.
  bool try_file(std::int64_t index, std::uint64_t key, std::vector<std::uint8_t>& bytes,
                float* out) const;

  const ImageFolderListing listing_;
  const ImageTransform transform_;
  const std::uint64_t seed_;
  const Warn warn_;
  mutable std::mutex warned_mutex_;
  mutable std::set<std::int64_t> warned_;  // guarded by warned_mutex_
};

// The whole file at `path`, at most `max_bytes` long. Throws dgc::Error saying why it cannot
// (missing, unreadable, too large).
void read_whole_file(const std::string& path, std::vector<std::uint8_t>& bytes,
                     std::size_t max_bytes);

}  // namespace dgc::train
