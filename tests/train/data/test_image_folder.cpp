// The file list of an ImageFolder tree (data/image_folder.h) on folders made here: sorted
// classes and files, what is left out, class subsets, the same listing with any thread count,
// and the errors that name the folder.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "data/image_folder.h"
#include "error_of.h"
#include "scratch_dir.h"

namespace dgc::train {
namespace {

namespace fs = std::filesystem;
using dgc::test::thrown_error_of;
using testing::ElementsAre;
using testing::HasSubstr;

void touch(const fs::path& path) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << "x";
}

// Three classes in a deliberately unsorted creation order, images with ImageNet's extension and
// others, and what a real folder also holds: a text file, a nested folder, a file beside the
// class folders.
fs::path make_tree(const fs::path& root) {
  for (const char* name : {"n02/b.JPEG", "n02/a.jpg", "n01/z.png", "n01/y.JPEG", "n01/notes.txt",
                           "n03/only.jpeg", "n03/nested/deeper.JPEG", "README"}) {
    touch(root / name);
  }
  return root;
}

TEST(ImageFolder, ListsClassesAndFilesSortedAndSkipsTheRest) {
  dgc::test::ScratchDir dir("image_folder");
  const ImageFolderListing l = scan_image_folder(make_tree(dir.path()).string());
  EXPECT_THAT(l.classes, ElementsAre("n01", "n02", "n03"));
  EXPECT_THAT(l.files,
              ElementsAre("n01/y.JPEG", "n01/z.png", "n02/a.jpg", "n02/b.JPEG", "n03/only.jpeg"));
  EXPECT_THAT(l.labels, ElementsAre(0, 0, 1, 1, 2));
  EXPECT_THAT(l.class_begin, ElementsAre(0, 2, 4, 5));
  EXPECT_THAT(l.skipped, ElementsAre("README", "n01/notes.txt", "n03/nested/"));
  EXPECT_THAT(describe_skipped(l), HasSubstr("3 entries of " + dir.path().string()));
  EXPECT_THAT(describe_skipped(l), HasSubstr("README, n01/notes.txt, n03/nested/"));
}

TEST(ImageFolder, TheListingDoesNotDependOnTheThreads) {
  dgc::test::ScratchDir dir("image_folder");
  for (int c = 0; c < 23; ++c) {
    for (int i = 0; i < 5 + c % 3; ++i) {
      touch(dir.path() / ("c" + std::to_string(100 + c)) / (std::to_string(i) + ".JPEG"));
    }
  }
  const ImageFolderListing one = scan_image_folder(dir.path().string(), 1);
  for (const int threads : {2, 7, 64}) {
    const ImageFolderListing many = scan_image_folder(dir.path().string(), threads);
    EXPECT_EQ(many.files, one.files);
    EXPECT_EQ(many.labels, one.labels);
    EXPECT_EQ(many.class_begin, one.class_begin);
  }
  EXPECT_EQ(one.classes.size(), 23u);
}

TEST(ImageFolder, ClassSubsetKeepsEveryKthClassRelabelled) {
  dgc::test::ScratchDir dir("image_folder");
  for (int c = 0; c < 6; ++c) {
    for (int i = 0; i <= c; ++i)
      touch(dir.path() / ("k" + std::to_string(c)) / ("i" + std::to_string(i) + ".jpg"));
  }
  const ImageFolderListing all = scan_image_folder(dir.path().string());
  const ImageFolderListing third = select_folder_classes(all, 2);  // k = 3: classes 0 and 3
  EXPECT_THAT(third.classes, ElementsAre("k0", "k3"));
  EXPECT_THAT(third.files,
              ElementsAre("k0/i0.jpg", "k3/i0.jpg", "k3/i1.jpg", "k3/i2.jpg", "k3/i3.jpg"));
  EXPECT_THAT(third.labels, ElementsAre(0, 1, 1, 1, 1));
  EXPECT_THAT(third.class_begin, ElementsAre(0, 1, 5));
  EXPECT_EQ(select_folder_classes(all, 6).files, all.files);
  EXPECT_THAT(thrown_error_of([&] { select_folder_classes(all, 4); }),
              HasSubstr("dataset.num_classes must divide the 6 classes of"));
}

TEST(ImageFolder, ErrorsNameTheFolder) {
  dgc::test::ScratchDir dir("image_folder");
  const std::string missing = (dir.path() / "train").string();
  EXPECT_THAT(thrown_error_of([&] { scan_image_folder(missing); }),
              HasSubstr("dataset.root: " + missing + " is not a folder"));
  touch(dir.path() / "flat" / "a.JPEG");  // ImageNet's val/ before it is sorted into classes
  EXPECT_THAT(thrown_error_of([&] { scan_image_folder((dir.path() / "flat").string()); }),
              HasSubstr("has no class folder"));
  touch(dir.path() / "tree" / "n01" / "a.JPEG");
  touch(dir.path() / "tree" / "n02" / "readme.txt");
  EXPECT_THAT(thrown_error_of([&] { scan_image_folder((dir.path() / "tree").string()); }),
              HasSubstr("the class folder " + (dir.path() / "tree").string() +
                        "/n02 holds no JPEG or PNG file"));
}

}  // namespace
}  // namespace dgc::train
