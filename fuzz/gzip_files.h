// gzip for the dataset readers' targets (fuzz-idx, fuzz-cifar10): files written gzipped, and
// gzip bytes for seeds that the fuzzer then damages (cut short, bad checksum, corrupt blocks).
#pragma once

#include <zlib.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "fuzz_support.h"

namespace dgc::fuzz {

// Writes `data` to `path`, through gzip when `gzip`.
inline void write_maybe_gzip(const std::string& path, const std::uint8_t* data, std::size_t size,
                             bool gzip) {
  if (!gzip) {
    write_file(path, data, size);
    return;
  }
  gzFile file = gzopen(path.c_str(), "wb");
  if (file == nullptr) std::abort();  // the harness's own failure, not the reader's
  if (size > 0) gzwrite(file, data, static_cast<unsigned>(size));
  gzclose(file);
}

// `bytes` as the content of a .gz file (deflate in the gzip wrapper).
inline Bytes gzip(const Bytes& bytes) {
  z_stream stream{};
  // 15 + 16: a 32 KiB window, and the gzip header and trailer instead of zlib's.
  if (deflateInit2(&stream, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
      Z_OK) {
    std::abort();
  }
  Bytes out(deflateBound(&stream, bytes.size()));
  stream.next_in = const_cast<Bytes::value_type*>(bytes.data());
  stream.avail_in = static_cast<uInt>(bytes.size());
  stream.next_out = out.data();
  stream.avail_out = static_cast<uInt>(out.size());
  if (deflate(&stream, Z_FINISH) != Z_STREAM_END) std::abort();
  out.resize(stream.total_out);
  deflateEnd(&stream);
  return out;
}

}  // namespace dgc::fuzz
