#include "run_directory.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>

#include "dgc/error.h"

namespace dgc::train {
namespace {

namespace fs = std::filesystem;

std::string lock_path(const std::string& dir) { return (fs::path(dir) / ".lock").string(); }

std::string read_holder(int fd) {
  char text[256] = {};
  const ssize_t n = pread(fd, text, sizeof text - 1, 0);
  std::string holder(text, n > 0 ? static_cast<std::size_t>(n) : 0);
  while (!holder.empty() && holder.back() == '\n') holder.pop_back();
  return holder.empty() ? "unknown" : holder;
}

}  // namespace

RunDirectory::RunDirectory(std::string path, bool leader) : path_(std::move(path)) {
  std::error_code error;
  created_ = fs::create_directories(path_, error);
  DGC_CHECK(!error, "cannot create run directory ", path_, ": ", error.message());
  if (!leader) return;
  const std::string lock = lock_path(path_);
  lock_fd_ = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  DGC_CHECK(lock_fd_ >= 0, "cannot open ", lock, ": ", std::strerror(errno));
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    const int why = errno;
    const std::string holder = read_holder(lock_fd_);
    ::close(lock_fd_);
    lock_fd_ = -1;
    DGC_CHECK(why != EWOULDBLOCK, "run directory ", path_,
              " is in use by another dgc-train job (pid@host ", holder,
              "); wait for it to end, or use another --suffix or logging.runs_dir");
    DGC_FAIL("cannot lock ", lock, ": ", std::strerror(why));
  }
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  const std::string holder = std::to_string(getpid()) + "@" + host + "\n";
  // The holder's name only improves another job's message: the lock is held even if this fails.
  if (::ftruncate(lock_fd_, 0) == 0) (void)!::pwrite(lock_fd_, holder.data(), holder.size(), 0);
}

RunDirectory::~RunDirectory() {
  if (created_ && !started_) {
    std::error_code error;
    fs::remove(lock_path(path_), error);
    fs::remove(path_, error);  // only if empty: whatever else is there stays
  }
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

void RunDirectory::check_free_space(std::int64_t bytes, const std::string& what) const {
  struct statvfs fs_info;
  DGC_CHECK(::statvfs(path_.c_str(), &fs_info) == 0, "cannot read the free space of ", path_, ": ",
            std::strerror(errno));
  const auto free_bytes =
      static_cast<std::int64_t>(fs_info.f_bavail) * static_cast<std::int64_t>(fs_info.f_frsize);
  const auto mb = [](std::int64_t b) { return std::to_string((b + (1 << 20) - 1) >> 20); };
  DGC_CHECK(free_bytes >= bytes, "not enough free space in ", path_, " for ", what, ": it needs ",
            mb(bytes), " MiB and ", mb(free_bytes), " MiB are free");
}

}  // namespace dgc::train
