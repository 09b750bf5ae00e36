// The format of an image file from its signature, and the whole-image decode for either format.
#include "input/image_decode.h"

#include <algorithm>
#include <cstdio>
#include <string>

#include "dgc/error.h"

namespace dgc::train {
namespace {

constexpr std::uint8_t kJpegSignature[] = {0xFF, 0xD8, 0xFF};
constexpr std::uint8_t kPngSignature[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};

template <std::size_t N>
bool starts_with(const std::uint8_t* bytes, std::size_t size, const std::uint8_t (&prefix)[N]) {
  return size >= N && std::equal(prefix, prefix + N, bytes);
}

// "3c 21 44 4f ..." with the printable ones spelled out ("<!DO"): a text file, an HTML error
// page or a GIF is then obvious from the message.
std::string first_bytes(const std::uint8_t* bytes, std::size_t size) {
  const std::size_t n = std::min<std::size_t>(size, 8);
  std::string hex, text;
  char buffer[4];
  for (std::size_t i = 0; i < n; ++i) {
    std::snprintf(buffer, sizeof(buffer), "%s%02x", i > 0 ? " " : "", bytes[i]);
    hex += buffer;
    text += (bytes[i] >= 0x20 && bytes[i] < 0x7F) ? static_cast<char>(bytes[i]) : '.';
  }
  return hex + " \"" + text + "\"";
}

}  // namespace

ImageFormat sniff_image_format(const std::uint8_t* bytes, std::size_t size) {
  DGC_CHECK(size > 0, "empty file");
  if (starts_with(bytes, size, kJpegSignature)) return ImageFormat::kJpeg;
  if (starts_with(bytes, size, kPngSignature)) return ImageFormat::kPng;
  DGC_FAIL("neither a JPEG nor a PNG (starts with bytes ", first_bytes(bytes, size), ")");
}

RgbImage decode_image(const std::uint8_t* bytes, std::size_t size) {
  if (sniff_image_format(bytes, size) == ImageFormat::kPng) return decode_png(bytes, size);
  JpegReader reader(bytes, size);
  return reader.decode_all();
}

}  // namespace dgc::train
