// libFuzzer target: one encoded image into the network's input (apps/train/input/
// image_transform.h): the JPEG decoder (libjpeg-turbo, with DCT-scaled and region decoding), the
// PNG decoder (libpng), the crop geometry and the resampler. No file, however malformed, may make
// it write outside its buffers or read outside its input.
//
// Input: [flags: u8] [random key: 8 bytes] [the file's bytes]
// flags bit 0: the training transform (random-resized crop, flip), else the evaluation one;
// bit 1: DCT scaling; bit 2: region decoding; bits 3-4: output side 8, 16, 24 or 40 pixels.
#include <jpeglib.h>
#include <png.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>  // jpeglib.h uses FILE and size_t without including their headers
#include <cstring>
#include <vector>

#include "dgc/error.h"
#include "fuzz_support.h"
#include "input/image_transform.h"

namespace {

using dgc::fuzz::Bytes;

// A JPEG of a colour ramp, `components` 1 (gray) or 3, through libjpeg's in-memory destination.
Bytes jpeg_seed(int width, int height, int components, bool progressive) {
  jpeg_compress_struct cinfo;
  jpeg_error_mgr error;
  cinfo.err = jpeg_std_error(&error);
  jpeg_create_compress(&cinfo);
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&cinfo, &buffer, &size);
  cinfo.image_width = static_cast<JDIMENSION>(width);
  cinfo.image_height = static_cast<JDIMENSION>(height);
  cinfo.input_components = components;
  cinfo.in_color_space = components == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, 80, TRUE);
  if (progressive) jpeg_simple_progression(&cinfo);
  jpeg_start_compress(&cinfo, TRUE);
  std::vector<JSAMPLE> row(static_cast<std::size_t>(width * components));
  while (cinfo.next_scanline < cinfo.image_height) {
    for (int i = 0; i < width * components; ++i) {
      row[i] = static_cast<JSAMPLE>((i * 7 + static_cast<int>(cinfo.next_scanline) * 13) & 255);
    }
    JSAMPROW rows[1] = {row.data()};
    jpeg_write_scanlines(&cinfo, rows, 1);
  }
  jpeg_finish_compress(&cinfo);
  Bytes out(buffer, buffer + size);
  jpeg_destroy_compress(&cinfo);
  std::free(buffer);
  return out;
}

// An 8-bit RGBA PNG through libpng's simplified API.
Bytes png_seed(int width, int height) {
  png_image image;
  std::memset(&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  image.width = static_cast<png_uint_32>(width);
  image.height = static_cast<png_uint_32>(height);
  image.format = PNG_FORMAT_RGBA;
  std::vector<std::uint8_t> pixels(static_cast<std::size_t>(width * height * 4));
  for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<std::uint8_t>(i * 3);
  png_alloc_size_t size = 0;
  png_image_write_to_memory(&image, nullptr, &size, 0, pixels.data(), 0, nullptr);
  Bytes out(size);
  png_image_write_to_memory(&image, out.data(), &size, 0, pixels.data(), 0, nullptr);
  out.resize(size);
  return out;
}

Bytes with_header(std::uint8_t flags, const Bytes& file) {
  Bytes out{flags, 1, 2, 3, 4, 5, 6, 7, 8};
  out.insert(out.end(), file.begin(), file.end());
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  dgc::fuzz::write_seeds_if_asked([](const auto& seed) {
    seed("rgb_train", with_header(0x07, jpeg_seed(40, 30, 3, false)));
    seed("rgb_eval_large", with_header(0x0e, jpeg_seed(120, 90, 3, false)));
    seed("gray_progressive", with_header(0x13, jpeg_seed(17, 23, 1, true)));
    seed("png", with_header(0x09, png_seed(12, 20)));
  });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 9) return 0;
  const std::uint8_t flags = data[0];
  std::uint64_t key = 0;
  std::memcpy(&key, data + 1, sizeof key);
  dgc::train::ImageTransform transform;
  transform.train = (flags & 1) != 0;
  transform.dct_scaling = (flags & 2) != 0;
  transform.region_decoding = (flags & 4) != 0;
  static const std::int64_t kSides[] = {8, 16, 24, 40};
  transform.output_size = kSides[(flags >> 3) & 3];
  transform.resize_size = transform.output_size * 8 / 7 + 1;
  // Exactly the output's size, so that ASan sees any write past it.
  std::vector<float> out(
      static_cast<std::size_t>(3 * transform.output_size * transform.output_size));
  try {
    dgc::train::transform_image(data + 9, size - 9, transform, key, out.data());
  } catch (const dgc::Error&) {
    // A clear error is the right answer to a bad file.
  }
  return 0;
}
