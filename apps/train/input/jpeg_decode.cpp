// JpegReader: libjpeg-turbo's libjpeg API with an error manager that never exits the process.
//
// libjpeg reports a fatal error by calling error_exit, which must not return; the default one
// calls exit(). Ours longjmps back into the small C-style function that made the libjpeg call
// (guarded_*: they hold no C++ objects, so the jump skips no destructor), and the C++ caller
// then throws dgc::Error with libjpeg's message. libjpeg reports damaged data only as a
// *warning* and goes on with grey or garbage pixels; the warnings that mean so are fatal here,
// as Pillow refuses a truncated file (without LOAD_TRUNCATED_IMAGES).
// jpeglib.h needs size_t and FILE declared before it, and jerror.h needs jpeglib.h.
// clang-format off
#include <cstddef>
#include <cstdio>
#include <jpeglib.h>
#include <jerror.h>
// clang-format on

#include <algorithm>
#include <csetjmp>
#include <cstring>

#include "dgc/error.h"
#include "input/image_decode.h"

namespace dgc::train {
namespace {

struct ErrorManager {
  jpeg_error_mgr pub;  // first: libjpeg hands us cinfo->err, a pointer to this member
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
  bool truncated;
};

void error_exit(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<ErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

// Warnings whose pixels would be wrong: the data ran out or its entropy code is broken. Others
// are tolerated, as libjpeg and Pillow tolerate them: an unknown JFIF version, a bad ICC
// profile, or extraneous bytes between the scan and the next marker (ImageNet has files with
// "240 extraneous bytes before marker 0xd9" that decode in full).
bool is_damage(int code) {
  return code == JWRN_JPEG_EOF || code == JWRN_HIT_MARKER || code == JWRN_HUFF_BAD_CODE ||
         code == JWRN_ARITH_BAD_CODE || code == JWRN_MUST_RESYNC;
}

void emit_message(j_common_ptr cinfo, int msg_level) {
  if (msg_level >= 0) return;  // trace messages
  auto* err = reinterpret_cast<ErrorManager*>(cinfo->err);
  ++cinfo->err->num_warnings;
  if (!is_damage(cinfo->err->msg_code)) return;
  err->truncated = cinfo->err->msg_code == JWRN_JPEG_EOF;
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

void output_message(j_common_ptr) {}  // never print to stderr: the caller gets the message

// Pillow reads every 4-channel JPEG as Adobe's inverted CMYK ("CMYK;I": stored byte = 255 - ink)
// and converts it to RGB as R = (255 - K) - (C * (255 - K) / 255), the division rounded as its
// MULDIV255 rounds (Convert.c, cmyk2rgb); likewise G from M and B from Y. Photoshop and Pillow
// write that convention with an Adobe APP14 marker. We follow Pillow for those files; a CMYK
// JPEG without the marker is read as plain (not inverted) CMYK, where Pillow would invert it.
inline int muldiv255(int a, int b) {
  const int t = a * b + 128;
  return ((t >> 8) + t) >> 8;
}

void cmyk_to_rgb(const JSAMPLE* in, std::uint8_t* out, JDIMENSION width, bool inverted) {
  const int flip = inverted ? 255 : 0;
  for (JDIMENSION x = 0; x < width; ++x, in += 4, out += 3) {
    const int not_k = 255 - (in[3] ^ flip);
    for (int c = 0; c < 3; ++c) {
      out[c] = static_cast<std::uint8_t>(not_k - muldiv255(in[c] ^ flip, not_k));
    }
  }
}

}  // namespace

struct JpegReader::State {
  jpeg_decompress_struct cinfo;
  ErrorManager err;
  const std::uint8_t* bytes = nullptr;
  std::size_t size = 0;
  bool created = false;
  bool decoded = false;
  // Where the first scan's entropy-coded data starts.
  std::size_t scan_offset = 0;

  ~State() {
    if (created) jpeg_destroy_decompress(&cinfo);
  }
};

namespace {

using State = JpegReader::State;

bool guarded_read_header(State* s) {
  s->cinfo.err = jpeg_std_error(&s->err.pub);
  s->err.pub.error_exit = error_exit;
  s->err.pub.emit_message = emit_message;
  s->err.pub.output_message = output_message;
  s->err.truncated = false;
  s->err.message[0] = '\0';
  if (setjmp(s->err.jump)) return false;
  jpeg_create_decompress(&s->cinfo);
  s->created = true;
  jpeg_mem_src(&s->cinfo, s->bytes, static_cast<unsigned long>(s->size));
  jpeg_read_header(&s->cinfo, TRUE);
  return true;
}

bool guarded_start(State* s, int scale_num, bool crop, JDIMENSION* xoffset, JDIMENSION* width) {
  if (setjmp(s->err.jump)) return false;
  j_decompress_ptr cinfo = &s->cinfo;
  cinfo->scale_num = static_cast<unsigned int>(scale_num);
  cinfo->scale_denom = 8;
  // libjpeg-turbo converts grayscale and YCbCr to RGB itself; CMYK and YCCK come out as CMYK
  // and cmyk_to_rgb converts them as Pillow does.
  const bool four = cinfo->jpeg_color_space == JCS_CMYK || cinfo->jpeg_color_space == JCS_YCCK;
  cinfo->out_color_space = four ? JCS_CMYK : JCS_RGB;
  jpeg_start_decompress(cinfo);
  if (crop) jpeg_crop_scanline(cinfo, xoffset, width);
  return true;
}

// Skips `skip` rows, reads `rows` rows into `out` (RGB, output_width pixels each) through
// `cmyk_row` (output_width * 4 bytes) for CMYK, then finishes, or abandons a partial read.
bool guarded_read(State* s, JDIMENSION skip, JDIMENSION rows, std::uint8_t* out,
                  JSAMPLE* cmyk_row) {
  if (setjmp(s->err.jump)) return false;
  j_decompress_ptr cinfo = &s->cinfo;
  if (skip > 0) jpeg_skip_scanlines(cinfo, skip);
  const JDIMENSION width = cinfo->output_width;
  const bool inverted = cinfo->saw_Adobe_marker;
  for (JDIMENSION y = 0; y < rows; ++y) {
    std::uint8_t* row = out + static_cast<std::size_t>(y) * width * 3;
    JSAMPROW target = cmyk_row != nullptr ? cmyk_row : row;
    while (jpeg_read_scanlines(cinfo, &target, 1) != 1) {
      // A memory source never suspends; a zero count would only repeat forever.
      ERREXIT(cinfo, JERR_INPUT_EMPTY);
    }
    if (cmyk_row != nullptr) cmyk_to_rgb(cmyk_row, row, width, inverted);
  }
  if (cinfo->output_scanline == cinfo->output_height) {
    jpeg_finish_decompress(cinfo);  // reads to the end: a truncated tail warns, hence fails
  } else {
    jpeg_abort_decompress(cinfo);
  }
  return true;
}

// Entropy-coded data escapes every 0xFF byte, so an end-of-image marker (FF D9) after the scan
// starts can only be the real one: a file cut short has none.
bool has_end_marker(const std::uint8_t* data, std::size_t size) {
  for (std::size_t i = 0; i + 1 < size; ++i) {
    const void* ff = std::memchr(data + i, 0xFF, size - 1 - i);
    if (ff == nullptr) return false;
    i = static_cast<std::size_t>(static_cast<const std::uint8_t*>(ff) - data);
    if (data[i + 1] == 0xD9) return true;
  }
  return false;
}

}  // namespace

[[noreturn]] static void fail(const JpegReader::State& s) {
  if (s.err.truncated) DGC_FAIL("truncated JPEG: ", s.err.message);
  DGC_FAIL("invalid JPEG: ", s.err.message);
}

JpegReader::JpegReader(const std::uint8_t* bytes, std::size_t size)
    : state_(std::make_unique<State>()) {
  DGC_CHECK(size > 0, "empty file");
  state_->bytes = bytes;
  state_->size = size;
  if (!guarded_read_header(state_.get())) fail(*state_);
  const jpeg_decompress_struct& c = state_->cinfo;
  const std::int64_t w = c.image_width, h = c.image_height;
  DGC_CHECK(w <= kMaxImageSide && h <= kMaxImageSide, "JPEG of ", w, "x", h,
            " pixels: a side is larger than ", kMaxImageSide);
  DGC_CHECK(w * h <= kMaxImagePixels, "JPEG of ", w, "x", h, " pixels: more than ", kMaxImagePixels,
            " pixels");
  state_->scan_offset = size - c.src->bytes_in_buffer;
}

JpegReader::~JpegReader() = default;

std::int64_t JpegReader::width() const { return state_->cinfo.image_width; }
std::int64_t JpegReader::height() const { return state_->cinfo.image_height; }

std::int64_t JpegReader::scaled_width(int scale_num) const { return (width() * scale_num + 7) / 8; }
std::int64_t JpegReader::scaled_height(int scale_num) const {
  return (height() * scale_num + 7) / 8;
}

RgbImage JpegReader::decode(int scale_num, std::int64_t x0, std::int64_t y0, std::int64_t x1,
                            std::int64_t y1, bool region) {
  DGC_CHECK(!state_->decoded, "JpegReader::decode called twice");
  state_->decoded = true;
  DGC_CHECK(scale_num >= 1 && scale_num <= 8, "JPEG scale ", scale_num, "/8 is not in 1/8..8/8");
  const std::int64_t sw = scaled_width(scale_num), sh = scaled_height(scale_num);
  if (region) {
    // One pixel more on each side: fancy upsampling treats the edge of a cropped region as the
    // image's edge, so the outermost pixels of a region differ from the full decode's.
    x0 = std::clamp<std::int64_t>(x0 - 1, 0, sw);
    x1 = std::clamp<std::int64_t>(x1 + 1, 0, sw);
    y0 = std::clamp<std::int64_t>(y0 - 1, 0, sh);
    y1 = std::clamp<std::int64_t>(y1 + 1, 0, sh);
    DGC_CHECK(x0 < x1 && y0 < y1, "empty JPEG region [", x0, ", ", x1, ") x [", y0, ", ", y1, ")");
  } else {
    x0 = 0, y0 = 0, x1 = sw, y1 = sh;
  }
  auto xoffset = static_cast<JDIMENSION>(x0);
  auto width = static_cast<JDIMENSION>(x1 - x0);
  if (!guarded_start(state_.get(), scale_num, x1 - x0 < sw, &xoffset, &width)) fail(*state_);
  const jpeg_decompress_struct& c = state_->cinfo;
  DGC_CHECK(c.output_height == static_cast<JDIMENSION>(sh), "libjpeg scaled the height to ",
            c.output_height, " rows, not ", sh);

  RgbImage image;
  image.x0 = xoffset;
  image.y0 = y0;
  image.width = c.output_width;
  image.height = y1 - y0;
  image.pixels.resize(static_cast<std::size_t>(image.width * image.height * 3));
  std::vector<JSAMPLE> cmyk_row;
  if (c.out_color_space == JCS_CMYK) cmyk_row.resize(static_cast<std::size_t>(image.width) * 4);
  if (y1 < sh) {
    const std::uint8_t* scan = state_->bytes + state_->scan_offset;
    DGC_CHECK(has_end_marker(scan, state_->size - state_->scan_offset),
              "truncated JPEG: no end of image marker after the image data");
  }
  if (!guarded_read(state_.get(), static_cast<JDIMENSION>(y0), static_cast<JDIMENSION>(y1 - y0),
                    image.pixels.data(), cmyk_row.empty() ? nullptr : cmyk_row.data())) {
    fail(*state_);
  }
  return image;
}

RgbImage JpegReader::decode_all() { return decode(8, 0, 0, width(), height(), false); }

}  // namespace dgc::train
