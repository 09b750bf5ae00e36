#include "png.h"

#include <zlib.h>

#include <string_view>

#include "atomic_file.h"
#include "dgc/error.h"

namespace dgc::plot {
namespace {

void put_u32(std::vector<std::uint8_t>& out, std::uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back((value >> shift) & 0xFF);
}

// Length, type, data, then the CRC-32 of type and data (PNG spec section 5.3).
void put_chunk(std::vector<std::uint8_t>& out, const char (&type)[5],
               const std::vector<std::uint8_t>& data) {
  DGC_CHECK(data.size() <= 0x7FFFFFFFu, "PNG chunk ", type, " of ", data.size(),
            " bytes is over the format's 2^31-1 limit");
  put_u32(out, static_cast<std::uint32_t>(data.size()));
  const std::size_t type_at = out.size();
  out.insert(out.end(), type, type + 4);
  out.insert(out.end(), data.begin(), data.end());
  put_u32(out, crc32(0, out.data() + type_at, static_cast<uInt>(out.size() - type_at)));
}

}  // namespace

std::vector<std::uint8_t> encode_png(const Canvas& canvas) {
  std::vector<std::uint8_t> out = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};

  std::vector<std::uint8_t> header;
  put_u32(header, canvas.width());
  put_u32(header, canvas.height());
  // Bit depth 8, colour type 2 (RGB), deflate, adaptive filtering, no interlace.
  header.insert(header.end(), {8, 2, 0, 0, 0});
  put_chunk(out, "IHDR", header);

  const std::size_t row_bytes = static_cast<std::size_t>(canvas.width()) * 3;
  std::vector<std::uint8_t> raw;
  raw.reserve((row_bytes + 1) * canvas.height());
  for (int y = 0; y < canvas.height(); ++y) {
    raw.push_back(0);  // filter type 0: the row as is
    const auto row = canvas.rgb().begin() + y * row_bytes;
    raw.insert(raw.end(), row, row + row_bytes);
  }
  uLongf compressed_size = compressBound(raw.size());
  std::vector<std::uint8_t> compressed(compressed_size);
  const int status = compress2(compressed.data(), &compressed_size, raw.data(), raw.size(), 6);
  DGC_CHECK(status == Z_OK, "zlib compress2 failed with status ", status);
  compressed.resize(compressed_size);
  put_chunk(out, "IDAT", compressed);

  put_chunk(out, "IEND", {});
  return out;
}

void write_png(const std::string& path, const Canvas& canvas) {
  const std::vector<std::uint8_t> bytes = encode_png(canvas);
  apps::write_file_atomically(
      path, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

}  // namespace dgc::plot
