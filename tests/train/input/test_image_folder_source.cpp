// ImageFolderSource (input/image_folder_source.h) on a folder written by dgc-make-image-folder
// with its odd files: what each file gives, the deterministic replacement of unusable files (the
// same output whatever the thread, the order or the run), one warning per file, and the error
// when a whole class is unusable.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "data/image_folder.h"
#include "error_of.h"
#include "input/augment.h"
#include "input/image_folder_source.h"
#include "input/image_transform.h"
#include "scratch_dir.h"

namespace dgc::train {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class ImageFolderSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string command = std::string(DGC_MAKE_IMAGE_FOLDER) + " " + dir_.path().string() +
                                " --classes 2 --images 3 --odd";
    ASSERT_EQ(std::system(command.c_str()), 0) << command;
    transform_.output_size = 16;
    transform_.resize_size = 18;
  }

  ImageFolderListing listing() const { return scan_image_folder(root()); }
  std::string root() const { return (dir_.path() / "train").string(); }

  ImageFolderSource source(ImageFolderListing l) {
    return ImageFolderSource(std::move(l), transform_, 42, [this](const std::string& line) {
      std::lock_guard<std::mutex> lock(mutex_);
      warnings_.push_back(line);
    });
  }

  std::int64_t index_of(const ImageFolderListing& l, const std::string& file) const {
    const auto it = std::find(l.files.begin(), l.files.end(), file);
    EXPECT_NE(it, l.files.end()) << file;
    return it - l.files.begin();
  }

  std::vector<float> prepared(const SampleSource& s, std::int64_t index, std::int64_t epoch) {
    std::vector<float> out(3 * 16 * 16);
    s.prepare(index, epoch, out.data());
    return out;
  }

  // `file` transformed directly with the randomness of sample `as_index`.
  std::vector<float> direct(const std::string& file, std::int64_t as_index, std::int64_t epoch) {
    std::vector<std::uint8_t> bytes;
    read_whole_file(root() + "/" + file, bytes, 1 << 26);
    std::vector<float> out(3 * 16 * 16);
    transform_image(bytes.data(), bytes.size(), transform_, sample_random_key(42, epoch, as_index),
                    out.data());
    return out;
  }

  dgc::test::ScratchDir dir_{"image_folder_source"};
  ImageTransform transform_;
  std::mutex mutex_;
  std::vector<std::string> warnings_;
};

TEST_F(ImageFolderSourceTest, GoodFilesAreTheirOwnTransform) {
  const ImageFolderListing l = listing();
  const ImageFolderSource s = source(l);
  EXPECT_EQ(s.sample_shape(), (std::vector<std::int64_t>{3, 16, 16}));
  for (const char* file : {"class_00/gray.JPEG", "class_00/cmyk.JPEG", "class_00/png_named.JPEG",
                           "class_01/img_0001.JPEG"}) {
    SCOPED_TRACE(file);
    const std::int64_t i = index_of(l, file);
    EXPECT_EQ(prepared(s, i, 3), direct(file, i, 3));
    EXPECT_EQ(s.label(i), file[7] - '0');
  }
  EXPECT_TRUE(warnings_.empty());
}

TEST_F(ImageFolderSourceTest, UnusableFilesAreReplacedByTheNextOfTheirClassOnceWarned) {
  const ImageFolderListing l = listing();
  const ImageFolderSource s = source(l);
  // In sorted order: cmyk, empty, gray, img_0000..2, png_named, truncated; truncated wraps.
  const std::int64_t empty = index_of(l, "class_00/empty.JPEG");
  const std::int64_t truncated = index_of(l, "class_00/truncated.JPEG");
  EXPECT_EQ(prepared(s, empty, 1), direct("class_00/gray.JPEG", empty, 1));
  EXPECT_EQ(prepared(s, truncated, 1), direct("class_00/cmyk.JPEG", truncated, 1));
  // Again, and from several threads at once: the same values, no second warning.
  std::vector<std::thread> threads;
  std::vector<std::vector<float>> outputs(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] { outputs[t] = prepared(s, t % 2 ? empty : truncated, 1); });
  }
  for (auto& thread : threads) thread.join();
  for (int t = 0; t < 4; ++t) {
    EXPECT_EQ(outputs[t], prepared(s, t % 2 ? empty : truncated, 1));
  }
  ASSERT_EQ(warnings_.size(), 2u);
  std::sort(warnings_.begin(), warnings_.end());
  EXPECT_THAT(warnings_[0],
              HasSubstr("cannot use the image " + root() + "/class_00/empty.JPEG (empty file"));
  EXPECT_THAT(warnings_[1],
              HasSubstr("cannot use the image " + root() + "/class_00/truncated.JPEG ("));
  // Another source on the same files (another rank, a resumed run) gives the same.
  const ImageFolderSource again = source(l);
  EXPECT_EQ(prepared(again, truncated, 1), prepared(s, truncated, 1));
}

TEST_F(ImageFolderSourceTest, AFileGoneSinceTheScanIsReplacedToo) {
  const ImageFolderListing l = listing();
  const ImageFolderSource s = source(l);
  fs::remove(root() + "/class_01/img_0001.JPEG");
  const std::int64_t gone = index_of(l, "class_01/img_0001.JPEG");
  EXPECT_EQ(prepared(s, gone, 0), direct("class_01/img_0002.JPEG", gone, 0));
  ASSERT_EQ(warnings_.size(), 1u);
  EXPECT_THAT(warnings_[0], HasSubstr("class_01/img_0001.JPEG (cannot open it"));
}

TEST_F(ImageFolderSourceTest, AClassWithNoUsableImageIsAnError) {
  for (const auto& entry : fs::directory_iterator(root() + "/class_01")) {
    fs::resize_file(entry.path(), 10);  // every image cut short
  }
  const ImageFolderListing l = listing();
  const ImageFolderSource s = source(l);
  EXPECT_THAT(
      dgc::test::thrown_error_of([&] { prepared(s, index_of(l, "class_01/img_0000.JPEG"), 0); }),
      HasSubstr("no image of the class folder " + root() + "/class_01 can be used"));
  EXPECT_EQ(warnings_.size(), 3u);
}

}  // namespace
}  // namespace dgc::train
