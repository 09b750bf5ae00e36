// Test helpers: images into JPEG and PNG bytes with libjpeg's compressor and libpng, for
// dgc-make-image-folder and the image tests. A failure here is a broken test setup: libjpeg's
// default error handler prints and exits, libpng's error throws dgc::Error.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace dgc::test {

// components: 1 (grayscale), 3 (RGB) or 4 (CMYK, written as given with libjpeg's Adobe marker:
// pass Adobe's inverted values, 255 - ink, as Photoshop and Pillow do). Baseline, 4:2:0 chroma
// for RGB (libjpeg's default).
std::vector<std::uint8_t> encode_jpeg(const std::uint8_t* pixels, int width, int height,
                                      int components, int quality);

// color_type: PNG_COLOR_TYPE_* of png.h; bit_depth 8 or 16 (16-bit samples big-endian, as in
// the file). Palette images: `palette` holds 3 bytes per entry, pixels one index each.
std::vector<std::uint8_t> encode_png(const std::uint8_t* pixels, int width, int height,
                                     int color_type, int bit_depth,
                                     const std::vector<std::uint8_t>& palette = {});

void write_file(const std::string& path, const std::vector<std::uint8_t>& bytes);

}  // namespace dgc::test
