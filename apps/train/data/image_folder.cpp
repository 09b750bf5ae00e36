#include "data/image_folder.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <exception>
#include <memory>
#include <thread>

#include "dgc/error.h"

namespace dgc::train {
namespace {

bool is_image_name(const std::string& name) {
  const auto dot = name.rfind('.');
  if (dot == std::string::npos) return false;
  std::string ext = name.substr(dot + 1);
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext == "jpeg" || ext == "jpg" || ext == "png";
}

enum class Kind { kFile, kFolder, kOther };

// d_type answers without a stat on the file systems that fill it in (ext4, xfs, NFS); the rest
// report DT_UNKNOWN, and links are followed, as torchvision's os.scandir-based walk does.
Kind kind_of(const std::string& folder, const dirent& entry) {
  if (entry.d_type == DT_REG) return Kind::kFile;
  if (entry.d_type == DT_DIR) return Kind::kFolder;
  if (entry.d_type != DT_UNKNOWN && entry.d_type != DT_LNK) return Kind::kOther;
  struct stat info;
  if (::stat((folder + "/" + entry.d_name).c_str(), &info) != 0) return Kind::kOther;
  if (S_ISREG(info.st_mode)) return Kind::kFile;
  return S_ISDIR(info.st_mode) ? Kind::kFolder : Kind::kOther;
}

struct Entries {
  std::vector<std::string> files, folders, others;
};

Entries list_folder(const std::string& folder) {
  std::unique_ptr<DIR, int (*)(DIR*)> dir(::opendir(folder.c_str()), ::closedir);
  DGC_CHECK(dir != nullptr, "dataset.root: cannot list ", folder, ": ", std::strerror(errno));
  Entries out;
  for (;;) {
    errno = 0;
    const dirent* entry = ::readdir(dir.get());
    if (entry == nullptr) {
      DGC_CHECK(errno == 0, "dataset.root: cannot list ", folder, ": ", std::strerror(errno));
      break;
    }
    const std::string name = entry->d_name;
    if (name == "." || name == "..") continue;
    switch (kind_of(folder, *entry)) {
      case Kind::kFile:
        out.files.push_back(name);
        break;
      case Kind::kFolder:
        out.folders.push_back(name);
        break;
      case Kind::kOther:
        out.others.push_back(name);
        break;
    }
  }
  return out;
}

struct ClassFiles {
  std::vector<std::string> images, skipped;
};

ClassFiles list_class(const std::string& root, const std::string& name) {
  Entries entries = list_folder(root + "/" + name);
  ClassFiles out;
  for (auto& file : entries.files) {
    (is_image_name(file) ? out.images : out.skipped).push_back(name + "/" + file);
  }
  for (const auto& folder : entries.folders) out.skipped.push_back(name + "/" + folder + "/");
  for (const auto& other : entries.others) out.skipped.push_back(name + "/" + other);
  std::sort(out.images.begin(), out.images.end());
  DGC_CHECK(!out.images.empty(), "dataset.root: the class folder ", root, "/", name,
            " holds no JPEG or PNG file (.jpeg, .jpg or .png)");
  return out;
}

}  // namespace

ImageFolderListing scan_image_folder(const std::string& root, int threads) {
  struct stat info;
  DGC_CHECK(::stat(root.c_str(), &info) == 0 && S_ISDIR(info.st_mode), "dataset.root: ", root,
            " is not a folder (an ImageFolder tree wants <root>/train/<class>/<image> and "
            "<root>/val/<class>/<image>)");
  Entries top = list_folder(root);
  ImageFolderListing listing;
  listing.root = root;
  listing.classes = std::move(top.folders);
  std::sort(listing.classes.begin(), listing.classes.end());
  DGC_CHECK(!listing.classes.empty(), "dataset.root: ", root,
            " has no class folder (an ImageFolder tree wants <root>/<class>/<image>)");
  for (auto& name : top.files) listing.skipped.push_back(std::move(name));
  for (auto& name : top.others) listing.skipped.push_back(std::move(name));

  // Threads take class folders in turn; the results are put together in class order, so the
  // listing never depends on which thread listed what.
  std::vector<ClassFiles> per_class(listing.classes.size());
  std::vector<std::exception_ptr> errors(listing.classes.size());
  std::atomic<std::size_t> next{0};
  const auto work = [&] {
    for (std::size_t c = next++; c < per_class.size(); c = next++) {
      try {
        per_class[c] = list_class(root, listing.classes[c]);
      } catch (...) {
        errors[c] = std::current_exception();
      }
    }
  };
  const std::size_t count =
      std::min<std::size_t>(static_cast<std::size_t>(std::max(1, threads)), per_class.size());
  std::vector<std::thread> pool;
  for (std::size_t i = 1; i < count; ++i) pool.emplace_back(work);
  work();
  for (auto& thread : pool) thread.join();
  for (const auto& error : errors) {
    if (error) std::rethrow_exception(error);  // the first class in order that failed
  }

  for (std::size_t c = 0; c < per_class.size(); ++c) {
    listing.class_begin.push_back(listing.size());
    for (auto& file : per_class[c].images) {
      listing.files.push_back(std::move(file));
      listing.labels.push_back(static_cast<std::int64_t>(c));
    }
    for (auto& file : per_class[c].skipped) listing.skipped.push_back(std::move(file));
  }
  listing.class_begin.push_back(listing.size());
  std::sort(listing.skipped.begin(), listing.skipped.end());
  return listing;
}

ImageFolderListing select_folder_classes(const ImageFolderListing& listing,
                                         std::int64_t num_classes) {
  const auto all = static_cast<std::int64_t>(listing.classes.size());
  DGC_CHECK(num_classes >= 1 && num_classes <= all && all % num_classes == 0,
            "dataset.num_classes must divide the ", all, " classes of ", listing.root,
            " (every k-th class is kept), got ", num_classes);
  if (num_classes == all) return listing;
  const std::int64_t k = all / num_classes;
  ImageFolderListing subset;
  subset.root = listing.root;
  subset.skipped = listing.skipped;
  for (std::int64_t c = 0; c < all; c += k) {
    const std::int64_t label = static_cast<std::int64_t>(subset.classes.size());
    subset.classes.push_back(listing.classes[c]);
    subset.class_begin.push_back(subset.size());
    for (std::int64_t i = listing.class_begin[c]; i < listing.class_begin[c + 1]; ++i) {
      subset.files.push_back(listing.files[i]);
      subset.labels.push_back(label);
    }
  }
  subset.class_begin.push_back(subset.size());
  return subset;
}

std::string describe_skipped(const ImageFolderListing& listing) {
  constexpr std::size_t kShown = 5;
  std::string out = std::to_string(listing.skipped.size()) + " entr" +
                    (listing.skipped.size() == 1 ? "y" : "ies") + " of " + listing.root +
                    " not used (not a .jpeg, .jpg or .png file in a class folder): ";
  for (std::size_t i = 0; i < std::min(kShown, listing.skipped.size()); ++i) {
    out += (i ? ", " : "") + listing.skipped[i];
  }
  if (listing.skipped.size() > kShown) out += ", ...";
  return out;
}

}  // namespace dgc::train
