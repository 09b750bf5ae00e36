// Sequential reading of a file that may or may not be gzip-compressed, for the dataset readers.
//
// zlib's gzread reads plain files transparently, so one reader serves the .gz files of
// Fashion-MNIST and the raw ones (an unpacked copy, the CIFAR-10 batches) alike. Every failure
// (missing file, I/O error, corrupt or truncated gzip stream) is a dgc::Error naming the file.
// Not thread-safe: one reader per thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace dgc::train::detail {

class GzFile {
 public:
  // Opens `path` for reading; throws dgc::Error when it cannot be opened.
  explicit GzFile(std::string path);
  ~GzFile();
  GzFile(const GzFile&) = delete;
  GzFile& operator=(const GzFile&) = delete;

  const std::string& path() const { return path_; }

  // Reads up to `size` bytes into `out`; fewer only at the end of the data. Returns the count.
  std::size_t read(void* out, std::size_t size);

  // An upper bound of the whole file's decompressed size, known without decompressing it: the
  // size of a plain file, 1032 times that of a gzip file (deflate's highest possible ratio).
  // A header that claims more than this describes data that cannot be there, so the reader can
  // say so without allocating what it claims.
  std::uint64_t max_size() const { return max_size_; }

  // Reads and discards everything left; returns how many bytes that was.
  std::uint64_t skip_to_end();

 private:
  struct Handle;
  std::string path_;
  std::unique_ptr<Handle> handle_;
  std::uint64_t max_size_ = 0;
};

}  // namespace dgc::train::detail
