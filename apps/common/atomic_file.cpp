#include "atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <utility>

#include "dgc/error.h"

namespace dgc::apps {
namespace {

namespace fs = std::filesystem;

// A temporary file that is deleted unless committed, so that no failure path (a throwing write,
// a full disk) leaves one behind. Every error names the target, which is what the user asked for.
class TempFile {
 public:
  TempFile(const std::string& target, const fs::path& directory) : target_(target) {
    std::string name =
        (directory / (temporary_file_prefix(fs::path(target).filename().string()) + "XXXXXX"))
            .string();
    fd_ = ::mkstemp(name.data());
    check(fd_ >= 0, "cannot create a temporary file in " + directory.string());
    path_ = std::move(name);
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(path_.c_str());
  }

  void write(std::string_view bytes) {
    // mkstemp creates 0600; these files are ordinary results, readable like the run's logs.
    check(::fchmod(fd_, 0644) == 0, "cannot set the mode of " + path_);
    while (!bytes.empty()) {
      const ssize_t written = ::write(fd_, bytes.data(), bytes.size());
      if (written < 0 && errno == EINTR) continue;
      check(written > 0, "cannot write " + path_);
      bytes.remove_prefix(static_cast<std::size_t>(written));
    }
    check(::fsync(fd_) == 0, "cannot sync " + path_);
    // close() may report a late write error.
    check(::close(std::exchange(fd_, -1)) == 0, "cannot write " + path_);
  }

  void rename_to_target() {
    check(::rename(path_.c_str(), target_.c_str()) == 0, "cannot rename " + path_ + " to it");
    committed_ = true;
  }

  // Throws "cannot write TARGET: WHAT: strerror(errno)" unless `ok`.
  void check(bool ok, const std::string& what) const {
    if (!ok) DGC_FAIL("cannot write ", target_, ": ", what, ": ", std::strerror(errno));
  }

 private:
  std::string target_;
  std::string path_;
  int fd_ = -1;
  bool committed_ = false;
};

}  // namespace

std::string temporary_file_prefix(const std::string& file_name) {
  return "." + file_name + ".tmp-";
}

void write_file_atomically(const std::string& path, std::string_view bytes) {
  DGC_CHECK(!path.empty(), "cannot write a file without a name");
  fs::path directory = fs::path(path).parent_path();
  if (directory.empty()) directory = ".";
  TempFile temp(path, directory);
  temp.write(bytes);
  temp.rename_to_target();

  // Without this a crash right after the rename may still show the old directory entry (or
  // none) after a reboot.
  const int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY);
  temp.check(fd >= 0, "cannot open its directory " + directory.string());
  const int result = ::fsync(fd);
  const int error = errno;
  ::close(fd);
  errno = error;
  temp.check(result == 0, "cannot sync its directory " + directory.string());
}

}  // namespace dgc::apps
