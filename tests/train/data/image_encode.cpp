#include "image_encode.h"

// jpeglib.h needs size_t and FILE declared before it.
// clang-format off
#include <cstddef>
#include <cstdio>
#include <jpeglib.h>
// clang-format on
#include <png.h>

#include <csetjmp>
#include <cstdlib>
#include <fstream>

#include "dgc/error.h"

namespace dgc::test {

std::vector<std::uint8_t> encode_jpeg(const std::uint8_t* pixels, int width, int height,
                                      int components, int quality) {
  jpeg_compress_struct cinfo;
  jpeg_error_mgr err;
  cinfo.err = jpeg_std_error(&err);
  jpeg_create_compress(&cinfo);
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&cinfo, &buffer, &size);
  cinfo.image_width = static_cast<JDIMENSION>(width);
  cinfo.image_height = static_cast<JDIMENSION>(height);
  cinfo.input_components = components;
  cinfo.in_color_space = components == 1 ? JCS_GRAYSCALE : components == 3 ? JCS_RGB : JCS_CMYK;
  jpeg_set_defaults(&cinfo);  // CMYK in: stored as CMYK with an Adobe marker (jcparam.c)
  jpeg_set_quality(&cinfo, quality, TRUE);
  jpeg_start_compress(&cinfo, TRUE);
  const std::size_t stride = static_cast<std::size_t>(width) * components;
  while (cinfo.next_scanline < cinfo.image_height) {
    auto* row = const_cast<JSAMPLE*>(pixels + cinfo.next_scanline * stride);
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  std::vector<std::uint8_t> out(buffer, buffer + size);
  std::free(buffer);  // jpeg_mem_dest's buffer comes from malloc
  return out;
}

namespace {

void append(png_structp png, png_bytep data, png_size_t length) {
  auto* out = static_cast<std::vector<std::uint8_t>*>(png_get_io_ptr(png));
  out->insert(out->end(), data, data + length);
}

void flush(png_structp) {}

bool guarded_write(png_structp png, png_infop info, std::vector<std::uint8_t>* out,
                   const std::uint8_t* pixels, int width, int height, int color_type, int bit_depth,
                   const std::vector<std::uint8_t>& palette) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_set_write_fn(png, out, append, flush);
  png_set_IHDR(png, info, static_cast<png_uint_32>(width), static_cast<png_uint_32>(height),
               bit_depth, color_type, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  if (color_type == PNG_COLOR_TYPE_PALETTE) {
    png_set_PLTE(png, info, reinterpret_cast<png_const_colorp>(palette.data()),
                 static_cast<int>(palette.size() / 3));
  }
  png_write_info(png, info);
  const int channels = color_type == PNG_COLOR_TYPE_GRAY      ? 1
                       : color_type == PNG_COLOR_TYPE_PALETTE ? 1
                       : color_type == PNG_COLOR_TYPE_GA      ? 2
                       : color_type == PNG_COLOR_TYPE_RGB     ? 3
                                                              : 4;
  const std::size_t stride = static_cast<std::size_t>(width) * channels * (bit_depth / 8);
  for (int y = 0; y < height; ++y) {
    png_write_row(png, pixels + y * stride);
  }
  png_write_end(png, nullptr);
  return true;
}

}  // namespace

std::vector<std::uint8_t> encode_png(const std::uint8_t* pixels, int width, int height,
                                     int color_type, int bit_depth,
                                     const std::vector<std::uint8_t>& palette) {
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  DGC_CHECK(png != nullptr, "png_create_write_struct failed");
  png_infop info = png_create_info_struct(png);
  std::vector<std::uint8_t> out;
  const bool ok = info != nullptr && guarded_write(png, info, &out, pixels, width, height,
                                                   color_type, bit_depth, palette);
  png_destroy_write_struct(&png, &info);
  DGC_CHECK(ok, "libpng could not write a ", width, "x", height, " PNG");
  return out;
}

void write_file(const std::string& path, const std::vector<std::uint8_t>& bytes) {
  std::ofstream file(path, std::ios::binary);
  file.write(reinterpret_cast<const char*>(bytes.data()),
             static_cast<std::streamsize>(bytes.size()));
  DGC_CHECK(file.good(), "cannot write ", path);
}

}  // namespace dgc::test
