#include "data/gz_file.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <filesystem>
#include <vector>

#include "dgc/error.h"

namespace dgc::train::detail {

namespace {

// gzread takes an unsigned and returns an int: larger requests are split.
constexpr std::size_t kMaxChunk = std::size_t{1} << 30;
// A deflate stream cannot expand its input more than 1032-fold (zlib's technical notes: a
// 258-byte match costs at least 2 bits).
constexpr std::uint64_t kMaxDeflateRatio = 1032;

}  // namespace

struct GzFile::Handle {
  gzFile file = nullptr;
};

GzFile::GzFile(std::string path) : path_(std::move(path)), handle_(std::make_unique<Handle>()) {
  std::error_code ec;
  DGC_CHECK(std::filesystem::exists(path_, ec), path_, ": no such file");
  DGC_CHECK(!std::filesystem::is_directory(path_, ec), path_, ": is a directory, not a file");
  errno = 0;
  handle_->file = gzopen(path_.c_str(), "rb");
  DGC_CHECK(handle_->file != nullptr, path_,
            ": cannot open: ", errno != 0 ? std::strerror(errno) : "out of memory");
  // A larger buffer than zlib's 8 KiB default: the datasets are read in large sequential chunks.
  gzbuffer(handle_->file, 1 << 18);
  const std::uint64_t on_disk = std::filesystem::file_size(path_, ec);
  DGC_CHECK(!ec, path_, ": cannot get its size: ", ec.message());
  max_size_ = gzdirect(handle_->file) ? on_disk : on_disk * kMaxDeflateRatio;
}

GzFile::~GzFile() {
  if (handle_->file != nullptr) gzclose_r(handle_->file);
}

std::size_t GzFile::read(void* out, std::size_t size) {
  auto* bytes = static_cast<unsigned char*>(out);
  std::size_t done = 0;
  while (done < size) {
    const auto want = static_cast<unsigned>(std::min(size - done, kMaxChunk));
    const int got = gzread(handle_->file, bytes + done, want);
    int code = Z_OK;
    const char* message = gzerror(handle_->file, &code);
    // zlib reports a gzip stream cut short as Z_BUF_ERROR while returning the bytes it had, so
    // the error state is checked after every call, not only on a negative return.
    DGC_CHECK(code != Z_BUF_ERROR, path_,
              ": the gzip stream is truncated (unexpected end of file)");
    DGC_CHECK(got >= 0 && code == Z_OK, path_,
              ": read failed: ", code == Z_ERRNO ? std::strerror(errno) : message);
    if (got == 0) break;
    done += static_cast<std::size_t>(got);
  }
  return done;
}

std::uint64_t GzFile::skip_to_end() {
  std::vector<unsigned char> scratch(1 << 16);
  std::uint64_t skipped = 0;
  for (;;) {
    const std::size_t got = read(scratch.data(), scratch.size());
    skipped += got;
    if (got < scratch.size()) return skipped;
  }
}

}  // namespace dgc::train::detail
