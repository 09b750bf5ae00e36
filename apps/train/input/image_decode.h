// Encoded image files (JPEG through libjpeg-turbo's libjpeg API, PNG through libpng) into
// interleaved 8-bit RGB, as Pillow's Image.open(f).convert("RGB") would give them.
//
// Colour: grayscale becomes R = G = B; alpha is dropped, not composited (Pillow's convert does
// the same); a palette is looked up; 16-bit samples keep their high byte; CMYK and YCCK JPEGs
// are converted with Pillow's formula (jpeg_decode.cpp). Anything that is not a complete,
// well-formed image throws dgc::Error with a message that names the problem: an empty file,
// neither a JPEG nor a PNG, a truncated or corrupt file, or sides beyond kMaxImageSide or more
// than kMaxImagePixels pixels (checked before anything is allocated).
//
// JpegReader decodes the part of a JPEG that a transform needs: at a DCT scale of s/8 (libjpeg
// scales each 8x8 block to s x s while decoding, far cheaper than decoding in full and
// resizing) and only the rows and columns of a region (jpeg_skip_scanlines and
// jpeg_crop_scanline, libjpeg-turbo 1.5+).
//
// Thread safety: no shared state; any thread may decode at once, one reader per thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace dgc::train {

// Larger sides are refused as absurd (libjpeg allows 65500; ImageNet's largest is under 10,000).
inline constexpr std::int64_t kMaxImageSide = std::int64_t{1} << 15;
// 64 Mi pixels: about 200 MB decoded, and a progressive JPEG's coefficients twice that.
inline constexpr std::int64_t kMaxImagePixels = std::int64_t{1} << 26;

enum class ImageFormat { kJpeg, kPng };

// The format from the first bytes; throws for an empty file or one that is neither.
ImageFormat sniff_image_format(const std::uint8_t* bytes, std::size_t size);

// Interleaved RGB pixels of the region [x0, x0 + width) x [y0, y0 + height) of an image (which
// may be a DCT-scaled image: the coordinates are then the scaled image's).
struct RgbImage {
  std::int64_t x0 = 0, y0 = 0;
  std::int64_t width = 0, height = 0;
  std::vector<std::uint8_t> pixels;  // height rows of width * 3 bytes

  const std::uint8_t* row(std::int64_t y) const {
    return pixels.data() + static_cast<std::size_t>(y * width * 3);
  }
};

// The whole image at full size, JPEG or PNG.
RgbImage decode_image(const std::uint8_t* bytes, std::size_t size);

// A PNG at full size.
RgbImage decode_png(const std::uint8_t* bytes, std::size_t size);

// One JPEG: the constructor reads its header (and checks its size); decode() then decodes once.
class JpegReader {
 public:
  // Throws dgc::Error if the header is unreadable or the image too large. `bytes` must outlive
  // the reader.
  JpegReader(const std::uint8_t* bytes, std::size_t size);
  ~JpegReader();
  JpegReader(const JpegReader&) = delete;
  JpegReader& operator=(const JpegReader&) = delete;

  std::int64_t width() const;
  std::int64_t height() const;

  // The size of the image decoded at scale_num / 8 (1 <= scale_num <= 8): each side is
  // ceil(side * scale_num / 8).
  std::int64_t scaled_width(int scale_num) const;
  std::int64_t scaled_height(int scale_num) const;

  // Decodes the image at scale_num / 8 and returns (at least) the region [x0, x1) x [y0, y1) of
  // the scaled image; with region = false, the whole scaled image. Rows below y1 are not
  // decoded, so corrupt data there goes unnoticed; a truncated file is still refused (its end
  // of image marker is missing). Call once.
  RgbImage decode(int scale_num, std::int64_t x0, std::int64_t y0, std::int64_t x1, std::int64_t y1,
                  bool region = true);

  // The whole image at full size.
  RgbImage decode_all();

  struct State;  // libjpeg's structures, kept out of this header

 private:
  std::unique_ptr<State> state_;
};

}  // namespace dgc::train
