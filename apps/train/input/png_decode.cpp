// decode_png: libpng's classic API, its transforms set so that every colour type and depth
// arrives as 8-bit RGB the way Pillow's convert("RGB") makes it: palette looked up, gray
// replicated, alpha (and tRNS) dropped, 16-bit samples cut to their high byte (Pillow's
// "RGB;16B" unpacker), no gamma correction. (Pillow opens 16-bit grayscale as mode "I;16" and
// its convert clips the values to 255; we keep the high byte instead.)
//
// libpng reports errors by longjmp to the setjmp of the function that called it; as in
// jpeg_decode.cpp that function (guarded_*) holds no C++ objects.
#include <png.h>

#include <csetjmp>
#include <cstring>
#include <string>

#include "dgc/error.h"
#include "input/image_decode.h"

namespace dgc::train {
namespace {

struct Source {
  const std::uint8_t* data;
  std::size_t size;
  std::size_t pos;
  bool truncated;
  char message[200];
};

void on_error(png_structp png, png_const_charp message) {
  auto* src = static_cast<Source*>(png_get_error_ptr(png));
  std::strncpy(src->message, message, sizeof(src->message) - 1);
  src->message[sizeof(src->message) - 1] = '\0';
  png_longjmp(png, 1);
}

// Warnings are about ancillary data (a bad CRC in a text chunk, an unknown sRGB profile): the
// pixels are fine, and nothing is printed.
void on_warning(png_structp, png_const_charp) {}

void read_bytes(png_structp png, png_bytep out, png_size_t length) {
  auto* src = static_cast<Source*>(png_get_io_ptr(png));
  if (src->size - src->pos < length) {
    src->truncated = true;
    png_error(png, "the file ends before the image data does");
  }
  std::memcpy(out, src->data + src->pos, length);
  src->pos += length;
}

struct Png {
  png_structp png = nullptr;
  png_infop info = nullptr;
  Source src{};
  ~Png() {
    if (png != nullptr) png_destroy_read_struct(&png, info != nullptr ? &info : nullptr, nullptr);
  }
};

bool guarded_read_info(Png* p, png_uint_32* width, png_uint_32* height) {
  if (setjmp(png_jmpbuf(p->png))) return false;
  png_set_read_fn(p->png, &p->src, read_bytes);
  png_read_info(p->png, p->info);
  *width = png_get_image_width(p->png, p->info);
  *height = png_get_image_height(p->png, p->info);
  const int color = png_get_color_type(p->png, p->info);
  const int depth = png_get_bit_depth(p->png, p->info);
  if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(p->png);
  if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(p->png);
  if (depth == 16) png_set_strip_16(p->png);
  if (color & PNG_COLOR_MASK_ALPHA) png_set_strip_alpha(p->png);
  if (color == PNG_COLOR_TYPE_GRAY || color == PNG_COLOR_TYPE_GRAY_ALPHA) {
    png_set_gray_to_rgb(p->png);
  }
  png_set_interlace_handling(p->png);
  png_read_update_info(p->png, p->info);
  return true;
}

bool guarded_read_image(Png* p, png_bytepp rows) {
  if (setjmp(png_jmpbuf(p->png))) return false;
  png_read_image(p->png, rows);
  // The rest of the file (chunks after the image data, IEND) is not read: Pillow does not
  // insist on it either.
  return true;
}

[[noreturn]] void fail(const Png& p) {
  if (p.src.truncated) DGC_FAIL("truncated PNG: ", p.src.message);
  DGC_FAIL("invalid PNG: ", p.src.message);
}

}  // namespace

RgbImage decode_png(const std::uint8_t* bytes, std::size_t size) {
  DGC_CHECK(size > 0, "empty file");
  Png p;
  p.src = Source{bytes, size, 0, false, {}};
  p.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &p.src, on_error, on_warning);
  DGC_CHECK(p.png != nullptr, "libpng could not allocate its reader");
  p.info = png_create_info_struct(p.png);
  DGC_CHECK(p.info != nullptr, "libpng could not allocate its info");
  png_uint_32 width = 0, height = 0;
  if (!guarded_read_info(&p, &width, &height)) fail(p);
  const std::int64_t w = width, h = height;
  DGC_CHECK(w <= kMaxImageSide && h <= kMaxImageSide, "PNG of ", w, "x", h,
            " pixels: a side is larger than ", kMaxImageSide);
  DGC_CHECK(w * h <= kMaxImagePixels, "PNG of ", w, "x", h, " pixels: more than ", kMaxImagePixels,
            " pixels");
  const std::size_t row_bytes = png_get_rowbytes(p.png, p.info);
  DGC_CHECK(row_bytes == static_cast<std::size_t>(w) * 3, "libpng gives rows of ", row_bytes,
            " bytes for ", w, " RGB pixels");

  RgbImage image;
  image.width = w;
  image.height = h;
  image.pixels.resize(static_cast<std::size_t>(w * h * 3));
  std::vector<png_bytep> rows(static_cast<std::size_t>(h));
  for (std::int64_t y = 0; y < h; ++y) rows[y] = image.pixels.data() + y * row_bytes;
  if (!guarded_read_image(&p, rows.data())) fail(p);
  return image;
}

}  // namespace dgc::train
