// The file list of an ImageFolder tree, torchvision's layout for ImageNet:
// `<root>/<class>/<image>`, one folder per class, classes indexed in sorted folder-name order.
//
// Only names are read here (no image is opened): a JPEG or PNG is recognized by its extension
// (.jpeg, .jpg or .png in any case, as ImageNet's .JPEG), and what a file really holds is found
// out when it is decoded (input/image_folder_source.h). Anything else in the tree (a stray text
// file, a subfolder inside a class folder, a file beside the class folders) is left out and
// listed in `skipped`, for one warning. Class folders are listed by several threads at once: the
// time goes into waiting for the file system (1.28 M names for ImageNet), and a network file
// system answers several folders in parallel faster than one after the other.
//
// Thread safety: pure functions over the file system.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace dgc::train {

struct ImageFolderListing {
  std::string root;                       // the folder scanned, as given
  std::vector<std::string> classes;       // sorted class folder names; a label is a position here
  std::vector<std::string> files;         // "class/name": grouped by class, sorted within one
  std::vector<std::int64_t> labels;       // one per file
  std::vector<std::int64_t> class_begin;  // files of class c: [class_begin[c], class_begin[c+1])
  std::vector<std::string> skipped;       // what is not an image, relative to root, sorted

  std::int64_t size() const { return static_cast<std::int64_t>(files.size()); }
};

// Lists `root` with up to `threads` threads. Errors (dgc::Error naming the folder): root is not a
// readable folder, it has no class folder, or a class folder holds no JPEG or PNG file.
ImageFolderListing scan_image_folder(const std::string& root, int threads = 8);

// The seed's class subset: with k = classes / num_classes, the classes 0, k, 2k, ... relabelled
// 0, 1, 2, ... (data/select_classes.h does the same for in-memory datasets). The listing itself
// when num_classes is its class count; a num_classes that does not divide it is a dgc::Error
// naming dataset.num_classes.
ImageFolderListing select_folder_classes(const ImageFolderListing& listing,
                                         std::int64_t num_classes);

// A one-line summary of `skipped` for the warning: the count and the first few names.
std::string describe_skipped(const ImageFolderListing& listing);

}  // namespace dgc::train
