// The ImageNet image transform (input/image_transform.h) and its parts: decoding every kind of
// file dgc-make-image-folder writes (and refusing the broken ones with a message that names the
// problem), PNG's colour types, size limits, the crop geometry against torchvision's own
// get_params, determinism, the flip, the centre crop's pixels, what DCT-scaled and region
// decoding change, and the outputs against torchvision + Pillow on the same files. The tests
// that need /usr/bin/python3 with torchvision and Pillow are skipped, visibly, without them.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <png.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "dgc/error.h"
#include "error_of.h"
#include "image_encode.h"
#include "input/image_decode.h"
#include "input/image_geometry.h"
#include "input/image_transform.h"
#include "scratch_dir.h"

namespace dgc::train {
namespace {

namespace fs = std::filesystem;
using dgc::test::encode_jpeg;
using dgc::test::encode_png;
using dgc::test::ScratchDir;
using dgc::test::thrown_error_of;
using ::testing::HasSubstr;

using Bytes = std::vector<std::uint8_t>;

Bytes read_bytes(const fs::path& path) {
  std::ifstream file(path, std::ios::binary);
  EXPECT_TRUE(file.good()) << path;
  return Bytes(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
}

template <typename T>
std::vector<T> read_raw(const fs::path& path) {
  const Bytes bytes = read_bytes(path);
  std::vector<T> out(bytes.size() / sizeof(T));
  std::memcpy(out.data(), bytes.data(), out.size() * sizeof(T));
  return out;
}

std::vector<float> transform(const Bytes& bytes, const ImageTransform& t, std::uint64_t key) {
  std::vector<float> out(static_cast<std::size_t>(3 * t.output_size * t.output_size));
  transform_image(bytes.data(), bytes.size(), t, key, out.data());
  return out;
}

ImageTransform eval_transform() {
  ImageTransform t;
  t.train = false;
  return t;
}

// Plain decoding: the whole image at full size, as Pillow decodes it.
ImageTransform without_shortcuts(ImageTransform t) {
  t.dct_scaling = false;
  t.region_decoding = false;
  return t;
}

// A folder from dgc-make-image-folder, made once for the whole binary.
class ImageFolder : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ =
        new fs::path(fs::temp_directory_path() / ("dgc-image-tests-" + std::to_string(::getpid())));
    fs::remove_all(*dir_);
    const std::string command =
        std::string(DGC_MAKE_IMAGE_FOLDER) + " " + dir_->string() + " --classes 2 --images 7 --odd";
    ASSERT_EQ(std::system(command.c_str()), 0) << command;
  }
  static void TearDownTestSuite() {
    fs::remove_all(*dir_);
    delete dir_;
  }
  static fs::path odd(const std::string& name) { return *dir_ / "train" / "class_00" / name; }
  // img_0006 is 500x375, ImageNet's typical size.
  static fs::path large() { return *dir_ / "train" / "class_01" / "img_0006.JPEG"; }
  static fs::path small() { return *dir_ / "train" / "class_00" / "img_0002.JPEG"; }

  static fs::path* dir_;
};
fs::path* ImageFolder::dir_ = nullptr;

void expect_colour(const RgbImage& image, int r, int g, int b, int tolerance) {
  ASSERT_GT(image.pixels.size(), 0u);
  int worst = 0;
  for (std::size_t i = 0; i < image.pixels.size(); i += 3) {
    worst = std::max({worst, std::abs(image.pixels[i] - r), std::abs(image.pixels[i + 1] - g),
                      std::abs(image.pixels[i + 2] - b)});
  }
  EXPECT_LE(worst, tolerance) << "expected RGB " << r << " " << g << " " << b;
}

TEST_F(ImageFolder, GrayJpegBecomesRgb) {
  const Bytes bytes = read_bytes(odd("gray.JPEG"));
  const RgbImage image = decode_image(bytes.data(), bytes.size());
  EXPECT_EQ(image.width, 64);
  EXPECT_EQ(image.height, 48);
  expect_colour(image, 100, 100, 100, 1);
}

TEST_F(ImageFolder, AdobeCmykJpegBecomesPillowsRgb) {
  // Written as C=0 M=128 Y=255 K=64; Pillow shows it as (191, 95, 0).
  const Bytes bytes = read_bytes(odd("cmyk.JPEG"));
  expect_colour(decode_image(bytes.data(), bytes.size()), 191, 95, 0, 2);
}

TEST_F(ImageFolder, PngNamedJpegDecodesWithoutAlpha) {
  const Bytes bytes = read_bytes(odd("png_named.JPEG"));
  const RgbImage image = decode_image(bytes.data(), bytes.size());
  ASSERT_EQ(image.width, 40);
  ASSERT_EQ(image.height, 30);
  for (int y = 0; y < 30; ++y) {
    for (int x = 0; x < 40; ++x) {
      const std::uint8_t* p = image.row(y) + x * 3;
      ASSERT_EQ(p[0], 6 * x);
      ASSERT_EQ(p[1], 8 * y);
      ASSERT_EQ(p[2], 200);
    }
  }
}

TEST_F(ImageFolder, BrokenFilesThrowAndSayWhy) {
  const struct {
    const char* name;
    const char* message;
  } cases[] = {
      {"truncated.JPEG", "truncated JPEG"},
      {"empty.JPEG", "empty file"},
      {"notes.txt",
       "neither a JPEG nor a PNG (starts with bytes 4e 6f 74 20 61 6e 20 69 \"Not an i\")"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const Bytes bytes = read_bytes(odd(c.name));
    EXPECT_THAT(thrown_error_of([&] { decode_image(bytes.data(), bytes.size()); }),
                HasSubstr(c.message));
    for (bool train : {true, false}) {
      ImageTransform t;
      t.train = train;
      EXPECT_THAT(thrown_error_of([&] { transform(bytes, t, 1); }), HasSubstr(c.message));
    }
  }
}

TEST_F(ImageFolder, TruncatedJpegIsRefusedEvenWhenTheCropEndsEarly) {
  // A crop of the top rows stops decoding before the missing data: the absent end marker
  // still gives the truncation away.
  Bytes bytes = read_bytes(large());
  bytes.resize(bytes.size() * 3 / 4);
  ImageTransform t = eval_transform();
  t.resize_size = 40;
  t.output_size = 40;  // the centre crop reads the middle rows only
  EXPECT_THAT(thrown_error_of([&] { transform(bytes, t, 1); }), HasSubstr("truncated JPEG"));
  ImageTransform full = without_shortcuts(t);
  EXPECT_THAT(thrown_error_of([&] { transform(bytes, full, 1); }), HasSubstr("truncated JPEG"));
}

TEST(ImageDecode, CorruptJpegDataIsAnError) {
  std::vector<std::uint8_t> pixels(64 * 64 * 3);
  for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<std::uint8_t>(i * 7);
  Bytes bytes = encode_jpeg(pixels.data(), 64, 64, 3, 90);
  // Overwrite the middle of the entropy-coded data with a marker (RST7 out of sequence).
  const std::size_t mid = bytes.size() * 2 / 3;
  bytes[mid] = 0xFF;
  bytes[mid + 1] = 0xD7;
  const std::string message = thrown_error_of([&] { decode_image(bytes.data(), bytes.size()); });
  EXPECT_THAT(message, HasSubstr("invalid JPEG: Corrupt JPEG data"));
}

// Sets a JPEG's SOF0 height and width.
void set_jpeg_size(Bytes& bytes, int width, int height) {
  for (std::size_t i = 2; i + 9 < bytes.size(); ++i) {
    if (bytes[i] == 0xFF && bytes[i + 1] == 0xC0) {
      bytes[i + 5] = static_cast<std::uint8_t>(height >> 8);
      bytes[i + 6] = static_cast<std::uint8_t>(height);
      bytes[i + 7] = static_cast<std::uint8_t>(width >> 8);
      bytes[i + 8] = static_cast<std::uint8_t>(width);
      return;
    }
  }
  FAIL() << "no SOF0 marker";
}

// Sets a PNG's IHDR width and height, with the chunk's CRC made right again.
void set_png_size(Bytes& bytes, std::uint32_t width, std::uint32_t height) {
  const std::size_t ihdr = 12;  // signature (8), length (4), then "IHDR"
  ASSERT_EQ(std::memcmp(bytes.data() + ihdr, "IHDR", 4), 0);
  for (int i = 0; i < 4; ++i) {
    bytes[ihdr + 4 + i] = static_cast<std::uint8_t>(width >> (24 - 8 * i));
    bytes[ihdr + 8 + i] = static_cast<std::uint8_t>(height >> (24 - 8 * i));
  }
  const uLong crc = crc32(0, bytes.data() + ihdr, 17);
  for (int i = 0; i < 4; ++i) bytes[ihdr + 17 + i] = static_cast<std::uint8_t>(crc >> (24 - 8 * i));
}

TEST(ImageDecode, AbsurdSizesAreRefusedBeforeAllocating) {
  std::vector<std::uint8_t> pixels(16 * 16 * 3, 90);
  const Bytes jpeg = encode_jpeg(pixels.data(), 16, 16, 3, 90);
  Bytes wide = jpeg;
  set_jpeg_size(wide, 40000, 16);
  EXPECT_THAT(thrown_error_of([&] { decode_image(wide.data(), wide.size()); }),
              HasSubstr("JPEG of 40000x16 pixels: a side is larger than 32768"));
  Bytes big = jpeg;
  set_jpeg_size(big, 30000, 30000);
  EXPECT_THAT(thrown_error_of([&] { decode_image(big.data(), big.size()); }),
              HasSubstr("JPEG of 30000x30000 pixels: more than 67108864 pixels"));

  const Bytes png = encode_png(pixels.data(), 16, 16, PNG_COLOR_TYPE_RGB, 8);
  Bytes tall = png;
  set_png_size(tall, 16, 40000);
  EXPECT_THAT(thrown_error_of([&] { decode_image(tall.data(), tall.size()); }),
              HasSubstr("PNG of 16x40000 pixels: a side is larger than 32768"));
  Bytes huge = png;
  set_png_size(huge, 30000, 30000);
  EXPECT_THAT(thrown_error_of([&] { decode_image(huge.data(), huge.size()); }),
              HasSubstr("more than 67108864 pixels"));
}

TEST(ImageDecode, TruncatedPngIsAnError) {
  std::vector<std::uint8_t> pixels(32 * 32 * 3);
  for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<std::uint8_t>(i * 13);
  Bytes png = encode_png(pixels.data(), 32, 32, PNG_COLOR_TYPE_RGB, 8);
  png.resize(png.size() / 2);
  EXPECT_THAT(thrown_error_of([&] { decode_image(png.data(), png.size()); }),
              HasSubstr("truncated PNG"));
}

TEST(ImageDecode, PngColourTypesBecomeRgbAsPillowConvertsThem) {
  const int w = 5, h = 3;
  std::vector<std::uint8_t> expected;  // what each case must decode to
  auto check = [&](const Bytes& png, const char* what) {
    SCOPED_TRACE(what);
    const RgbImage image = decode_image(png.data(), png.size());
    ASSERT_EQ(image.width, w);
    ASSERT_EQ(image.height, h);
    EXPECT_EQ(image.pixels, expected);
  };
  // 8-bit gray, and gray with alpha: replicated, alpha dropped.
  std::vector<std::uint8_t> gray, gray_alpha;
  expected.clear();
  for (int i = 0; i < w * h; ++i) {
    const auto v = static_cast<std::uint8_t>(17 * i);
    gray.push_back(v);
    gray_alpha.insert(gray_alpha.end(), {v, static_cast<std::uint8_t>(255 - v)});
    expected.insert(expected.end(), {v, v, v});
  }
  check(encode_png(gray.data(), w, h, PNG_COLOR_TYPE_GRAY, 8), "gray 8");
  check(encode_png(gray_alpha.data(), w, h, PNG_COLOR_TYPE_GRAY_ALPHA, 8), "gray+alpha 8");
  // 16-bit gray and RGBA: the high byte of each sample.
  std::vector<std::uint8_t> gray16, rgba16;
  for (int i = 0; i < w * h; ++i) {
    const auto v = static_cast<std::uint8_t>(17 * i);
    gray16.insert(gray16.end(), {v, 0xAB});
    rgba16.insert(rgba16.end(), {v, 1, v, 2, v, 3, 9, 9});
  }
  check(encode_png(gray16.data(), w, h, PNG_COLOR_TYPE_GRAY, 16), "gray 16");
  check(encode_png(rgba16.data(), w, h, PNG_COLOR_TYPE_RGB_ALPHA, 16), "RGBA 16");
  // A palette: looked up.
  const std::vector<std::uint8_t> palette = {10, 20, 30, 200, 100, 0, 7, 8, 9};
  std::vector<std::uint8_t> indices;
  expected.clear();
  for (int i = 0; i < w * h; ++i) {
    const int index = i % 3;
    indices.push_back(static_cast<std::uint8_t>(index));
    expected.insert(expected.end(), palette.begin() + 3 * index, palette.begin() + 3 * index + 3);
  }
  check(encode_png(indices.data(), w, h, PNG_COLOR_TYPE_PALETTE, 8, palette), "palette");
}

TEST_F(ImageFolder, OutputHasTheShapeAndRangeOfNormalizedPixels) {
  const Bytes bytes = read_bytes(large());
  for (bool train : {true, false}) {
    ImageTransform t;
    t.train = train;
    const std::vector<float> out = transform(bytes, t, 7);
    ASSERT_EQ(out.size(), 3u * 224 * 224);
    for (int c = 0; c < 3; ++c) {
      const float lo = (0.0f - t.mean[c]) / t.std[c], hi = (1.0f - t.mean[c]) / t.std[c];
      const auto begin = out.begin() + c * 224 * 224, end = begin + 224 * 224;
      const auto [min, max] = std::minmax_element(begin, end);
      EXPECT_GE(*min, lo);
      EXPECT_LE(*max, hi);
      EXPECT_LT(*min, *max);  // a real picture, not a constant
    }
  }
  // Any output size; PNGs too.
  ImageTransform t;
  t.output_size = 17;
  EXPECT_EQ(transform(read_bytes(odd("png_named.JPEG")), t, 3).size(), 3u * 17 * 17);
}

TEST_F(ImageFolder, SameKeySameOutputOtherKeysDiffer) {
  const Bytes bytes = read_bytes(large());
  const ImageTransform t;
  const std::vector<float> a = transform(bytes, t, 42);
  EXPECT_EQ(std::memcmp(a.data(), transform(bytes, t, 42).data(), a.size() * sizeof(float)), 0);
  int differ = 0;
  for (std::uint64_t key = 43; key < 53; ++key) differ += transform(bytes, t, key) != a;
  EXPECT_EQ(differ, 10);
  // Evaluation ignores the key.
  EXPECT_EQ(transform(bytes, eval_transform(), 1), transform(bytes, eval_transform(), 2));
}

TEST_F(ImageFolder, FlipIsTheMirrorOfNoFlip) {
  const Bytes bytes = read_bytes(large());
  ImageTransform t;
  std::uint64_t key = 0;
  while (!random_flip(t, key)) ++key;
  const std::vector<float> flipped = transform(bytes, t, key);
  t.flip = false;
  const std::vector<float> plain = transform(bytes, t, key);
  for (int c = 0; c < 3; ++c) {
    for (int y = 0; y < 224; ++y) {
      for (int x = 0; x < 224; ++x) {
        ASSERT_EQ(flipped[(c * 224 + y) * 224 + x], plain[(c * 224 + y) * 224 + 223 - x]);
      }
    }
  }
  // About half of the keys flip.
  int flips = 0;
  for (std::uint64_t k = 0; k < 1000; ++k) flips += random_flip(ImageTransform{}, k);
  EXPECT_GT(flips, 440);
  EXPECT_LT(flips, 560);
}

TEST(CropGeometry, BoxesStayInsideAndFollowTheScaleAndRatio) {
  const ImageTransform t;
  int fallbacks = 0;
  for (std::uint64_t key = 0; key < 2000; ++key) {
    const std::int64_t w = 40 + key % 500, h = 30 + (key * 7) % 400;
    const CropBox box = train_crop(w, h, t, key);
    ASSERT_GT(box.width, 0);
    ASSERT_GT(box.height, 0);
    ASSERT_GE(box.left, 0);
    ASSERT_GE(box.top, 0);
    ASSERT_LE(box.left + box.width, w);
    ASSERT_LE(box.top + box.height, h);
    const double area = static_cast<double>(box.width * box.height) / static_cast<double>(w * h);
    const double ratio = static_cast<double>(box.width) / static_cast<double>(box.height);
    // Sides are rounded to whole pixels: allow a pixel's worth on each.
    const double slack_w = 1.0 / box.width, slack_h = 1.0 / box.height;
    if (area > 1.0 - 1e-9) {
      ++fallbacks;  // the whole image: in-range ratios fall back to it
      continue;
    }
    EXPECT_GE(area, t.min_scale * (1 - slack_w) * (1 - slack_h));
    EXPECT_GE(ratio, t.min_ratio * (1 - slack_w - slack_h));
    EXPECT_LE(ratio, t.max_ratio * (1 + slack_w + slack_h));
  }
  EXPECT_LT(fallbacks, 200);
}

TEST(CropGeometry, FallsBackToTheCentreOfTheClampedRatio) {
  ImageTransform t;
  t.min_scale = 0.9;  // a 1000x10 image has no 0.9-area box of ratio 3/4..4/3
  const CropBox wide = train_crop(1000, 10, t, 5);
  EXPECT_EQ(wide.height, 10);
  EXPECT_EQ(wide.width, 13);  // round(10 * 4/3)
  EXPECT_EQ(wide.top, 0);
  EXPECT_EQ(wide.left, (1000 - 13) / 2);
  const CropBox tall = train_crop(10, 1000, t, 5);
  EXPECT_EQ(tall.width, 10);
  EXPECT_EQ(tall.height, 13);  // round(10 / (3/4))
  EXPECT_EQ(tall.top, (1000 - 13) / 2);
  EXPECT_EQ(tall.left, 0);
}

TEST(EvalGeometry, ResizeAndCentreCropAsTorchvision) {
  const ResizedSize landscape = eval_resized_size(500, 375, 256);
  EXPECT_EQ(landscape.width, 341);  // int(256 * 500 / 375) = int(341.33)
  EXPECT_EQ(landscape.height, 256);
  const ResizedSize portrait = eval_resized_size(333, 500, 256);
  EXPECT_EQ(portrait.width, 256);
  EXPECT_EQ(portrait.height, 384);  // int(256 * 500 / 333) = int(384.38)
  const CropBox box = eval_center_crop(landscape, 224);
  EXPECT_EQ(box.top, 16);
  EXPECT_EQ(box.left, 58);  // round(117 / 2) = round(58.5), half to even
}

bool python_has_torchvision() {
  static const bool available =
      std::system("/usr/bin/python3 -c 'import torchvision, PIL' > /dev/null 2>&1") == 0;
  return available;
}

#define SKIP_WITHOUT_TORCHVISION()                                                    \
  if (!python_has_torchvision())                                                      \
  GTEST_SKIP() << "needs /usr/bin/python3 with torchvision and PIL (apt-get install " \
                  "python3-torchvision python3-pil): the reference is torchvision's own code"

void run_reference(const std::string& args) {
  const std::string command =
      std::string("/usr/bin/python3 ") + DGC_IMAGE_REFERENCE_PY + " " + args;
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
}

TEST(CropGeometry, MatchesTorchvisionGetParamsOnTheSameDraws) {
  SKIP_WITHOUT_TORCHVISION();
  ScratchDir dir("dgc-crop-params");
  struct Case {
    std::int64_t width, height;
    ImageTransform t;
    CropBox box;
    std::size_t draws;
  };
  std::vector<Case> cases;
  std::ofstream file(dir.path() / "cases.txt");
  file.precision(17);
  for (std::uint64_t key = 0; key < 300; ++key) {
    Case c{60 + static_cast<std::int64_t>(key * 37 % 700),
           40 + static_cast<std::int64_t>(key * 53 % 500),
           ImageTransform{},
           {},
           0};
    if (key % 3 == 1) c.t.min_scale = 0.35;
    if (key % 10 == 7) c.width = 1000, c.height = 20, c.t.min_scale = 0.5;  // falls back
    if (key % 10 == 9) c.width = 20, c.height = 900, c.t.min_scale = 0.5;
    std::vector<double> draws;
    KeyedUniform uniform(key);
    c.box = random_resized_crop(c.width, c.height, c.t, [&] {
      draws.push_back(uniform.next());
      return draws.back();
    });
    c.draws = draws.size();
    file << c.width << " " << c.height << " " << c.t.min_scale << " " << c.t.max_scale << " "
         << c.t.min_ratio << " " << c.t.max_ratio;
    for (double u : draws) file << " " << u;
    file << "\n";
    cases.push_back(c);
  }
  file.close();
  run_reference("crop_params " + (dir.path() / "cases.txt").string() + " " +
                (dir.path() / "out.txt").string());
  std::ifstream result(dir.path() / "out.txt");
  int fallbacks = 0;
  for (const Case& c : cases) {
    std::int64_t top, left, h, w;
    std::size_t unused;
    ASSERT_TRUE(result >> top >> left >> h >> w >> unused);
    EXPECT_EQ(c.box.top, top);
    EXPECT_EQ(c.box.left, left);
    EXPECT_EQ(c.box.height, h);
    EXPECT_EQ(c.box.width, w);
    EXPECT_EQ(unused, 0u) << "torchvision drew fewer numbers";
    fallbacks += c.draws == 20;
  }
  EXPECT_GE(fallbacks, 50);  // the fallback was exercised
}

// An image whose pixels are a known function of (x, y), stored losslessly.
Bytes pattern_png(int width, int height, std::vector<std::uint8_t>* pixels) {
  pixels->clear();
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      pixels->insert(pixels->end(), {static_cast<std::uint8_t>(x), static_cast<std::uint8_t>(y),
                                     static_cast<std::uint8_t>((x * y) % 251)});
    }
  }
  return encode_png(pixels->data(), width, height, PNG_COLOR_TYPE_RGB, 8);
}

TEST(EvalTransform, CentreCropOfAnUnresizedImageIsItsMiddlePixels) {
  // 256x320: the shorter side already is resize_size, so the resize is the identity and the
  // output is rows 48..271, columns 16..239, normalized.
  std::vector<std::uint8_t> pixels;
  const Bytes png = pattern_png(256, 320, &pixels);
  const ImageTransform t = eval_transform();
  const std::vector<float> out = transform(png, t, 0);
  for (int c = 0; c < 3; ++c) {
    for (int y = 0; y < 224; ++y) {
      for (int x = 0; x < 224; ++x) {
        const std::uint8_t v = pixels[((y + 48) * 256 + x + 16) * 3 + c];
        const float expected = (static_cast<float>(v) / 255.0f - t.mean[c]) / t.std[c];
        ASSERT_EQ(out[(c * 224 + y) * 224 + x], expected) << c << " " << y << " " << x;
      }
    }
  }
}

TEST(EvalTransform, HalvingAveragesWithPillowsTriangle) {
  // A 2x reduction with support 2: output pixel i reads source 2i-1..2i+2 with weights
  // 1/8, 3/8, 3/8, 1/8 (the edge ones renormalized). A constant image stays constant, and
  // alternating columns 0/200 become their mean, 100, away from the edges.
  std::vector<std::uint8_t> pixels;
  for (int y = 0; y < 512; ++y) {
    for (int x = 0; x < 600; ++x) {
      const std::uint8_t v = x % 2 ? 200 : 0;
      pixels.insert(pixels.end(), {v, 77, v});
    }
  }
  const Bytes png = encode_png(pixels.data(), 600, 512, PNG_COLOR_TYPE_RGB, 8);
  ImageTransform t = eval_transform();
  t.mean = {0, 0, 0};
  t.std = {1, 1, 1};
  const std::vector<float> out = transform(png, t, 0);
  for (int y = 0; y < 224; ++y) {
    for (int x = 0; x < 224; ++x) {
      ASSERT_FLOAT_EQ(out[(0 * 224 + y) * 224 + x], 100.0f / 255.0f);
      ASSERT_FLOAT_EQ(out[(1 * 224 + y) * 224 + x], 77.0f / 255.0f);
    }
  }
}

double mean_abs_255(const std::vector<float>& a, const std::vector<float>& b, float* max_diff) {
  double sum = 0;
  float worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const float d = std::fabs(a[i] - b[i]);
    sum += d;
    worst = std::max(worst, d);
  }
  // Outputs normalized by a std of about 0.225: back to 0..255 units.
  *max_diff = worst * 0.225f * 255.0f;
  return sum / static_cast<double>(a.size()) * 0.225 * 255.0;
}

TEST_F(ImageFolder, RegionDecodingChangesNoPixel) {
  const Bytes bytes = read_bytes(large());
  for (bool train : {true, false}) {
    for (bool dct : {false, true}) {
      for (std::uint64_t key = 0; key < 20; ++key) {
        ImageTransform t;
        t.train = train;
        t.dct_scaling = dct;
        const std::vector<float> region = transform(bytes, t, key);
        t.region_decoding = false;
        ASSERT_EQ(region, transform(bytes, t, key)) << train << dct << key;
      }
    }
  }
}

TEST_F(ImageFolder, DctScaledDecodingIsCloseToFullDecoding) {
  // The DCT's s/8 reduction is a different low-pass filter than Pillow's triangle: sharper,
  // with a little ringing at edges. At ImageNet's sizes and 224 outputs the 2x reduction that
  // enables it is rare (crops of 448+ pixels), so these use a 112 output (resize 128): 4/8 for
  // every evaluation and most crops of the 500x375 noise image (the worst case for a filter
  // difference). Measured: mean |diff| 0.8 (eval) and 1.5 (train) of 255, max 10; skimage's
  // astronaut at 224 (Torchvision.WithDctScalingTheOutputIsClose) 2.2, max 49, on edges. The
  // bounds leave some room: mean 3, max 64.
  const Bytes bytes = read_bytes(large());
  for (bool train : {true, false}) {
    double worst_mean = 0;
    float worst_max = 0;
    for (std::uint64_t key = 0; key < 30; ++key) {
      ImageTransform t;
      t.train = train;
      t.output_size = 112;
      t.resize_size = 128;
      const std::vector<float> scaled = transform(bytes, t, key);
      t.dct_scaling = false;
      float max_diff = 0;
      worst_mean = std::max(worst_mean, mean_abs_255(scaled, transform(bytes, t, key), &max_diff));
      worst_max = std::max(worst_max, max_diff);
    }
    std::printf(
        "DCT-scaled vs full decoding, 500x375 to 112, %s: mean |diff| %.3f, max %.1f "
        "(of 255)\n",
        train ? "train" : "eval", worst_mean, worst_max);
    EXPECT_GT(worst_mean, 0.1);  // the scaled decode did run
    EXPECT_LT(worst_mean, 3.0);
    EXPECT_LT(worst_max, 64.0f);
  }
}

// Our output and the job line that makes torchvision's, for one batch of image_reference.py.
struct Job {
  std::string name;
  std::vector<float> ours;
  fs::path reference;
};

Job reference_job(const fs::path& image, const ImageTransform& t, std::uint64_t key,
                  const fs::path& dir, int index, std::ofstream& jobs) {
  const Bytes bytes = read_bytes(image);
  Job job{image.filename().string() + (t.train ? " train" : " eval"), transform(bytes, t, key),
          dir / ("reference" + std::to_string(index) + ".f32")};
  if (t.train) {
    const RgbImage decoded = decode_image(bytes.data(), bytes.size());
    const CropBox box = train_crop(decoded.width, decoded.height, t, key);
    jobs << "train " << image.string() << " " << box.top << " " << box.left << " " << box.height
         << " " << box.width << " " << random_flip(t, key) << " " << job.reference.string() << "\n";
  } else {
    jobs << "eval " << image.string() << " " << job.reference.string() << "\n";
  }
  return job;
}

class Torchvision : public ImageFolder {
 protected:
  // skimage's photos as JPEG quality 90 (by Pillow), made once.
  static fs::path photos() {
    const fs::path dir = *dir_ / "photos";
    if (!fs::exists(dir)) {
      fs::create_directories(dir);
      run_reference("photos " + dir.string());
    }
    return dir;
  }

  // Ours and torchvision's outputs of the train (3 keys) and eval transforms of the generated
  // images (noise, CMYK, gray, PNG) and of skimage's photos, with `options` applied.
  static std::vector<Job> run(const fs::path& dir, ImageTransform (*options)(ImageTransform)) {
    const fs::path jobs_path = dir / "jobs.txt";
    std::ofstream jobs(jobs_path);
    std::vector<fs::path> images = {large(), small(), odd("cmyk.JPEG"), odd("gray.JPEG"),
                                    odd("png_named.JPEG")};
    for (const char* name : {"astronaut", "chelsea", "coffee", "rocket"}) {
      images.push_back(photos() / (std::string(name) + ".JPEG"));
    }
    std::vector<Job> out;
    for (const fs::path& image : images) {
      for (bool train : {false, true}) {
        for (std::uint64_t key = 0; key < (train ? 3u : 1u); ++key) {
          ImageTransform t;
          t.train = train;
          out.push_back(
              reference_job(image, options(t), key, dir, static_cast<int>(out.size()), jobs));
        }
      }
    }
    jobs.close();
    run_reference("batch " + jobs_path.string());
    return out;
  }
};

ImageTransform as_is(ImageTransform t) { return t; }

TEST_F(Torchvision, WithoutShortcutsTheOutputIsTorchvisions) {
  SKIP_WITHOUT_TORCHVISION();
  // Same libjpeg, same filter arithmetic: the same bytes before ToTensor, and ToTensor and
  // Normalize are the same float32 operations. Only float rounding could differ (it does not).
  ScratchDir dir("dgc-torchvision");
  for (const Job& job : run(dir.path(), without_shortcuts)) {
    const std::vector<float> reference = read_raw<float>(job.reference);
    ASSERT_EQ(reference.size(), job.ours.size()) << job.name;
    float max_diff = 0;
    const double mean = mean_abs_255(job.ours, reference, &max_diff);
    EXPECT_EQ(mean, 0.0) << job.name;
  }
}

TEST_F(Torchvision, WithDctScalingTheOutputIsClose) {
  SKIP_WITHOUT_TORCHVISION();
  // See DctScaledDecodingIsCloseToFullDecoding for the bounds.
  ScratchDir dir("dgc-torchvision");
  for (const Job& job : run(dir.path(), as_is)) {
    const std::vector<float> reference = read_raw<float>(job.reference);
    ASSERT_EQ(reference.size(), job.ours.size()) << job.name;
    float max_diff = 0;
    const double mean = mean_abs_255(job.ours, reference, &max_diff);
    std::printf("against torchvision, %s: mean |diff| %.3f, max %.1f (of 255)\n", job.name.c_str(),
                mean, max_diff);
    EXPECT_LT(mean, 3.0) << job.name;
    EXPECT_LT(max_diff, 64.0f) << job.name;
  }
}

TEST_F(Torchvision, CmykAndGrayAreConvertedAsPillowDoes) {
  SKIP_WITHOUT_TORCHVISION();
  ScratchDir dir("dgc-pillow-rgb");
  const std::vector<std::string> names = {"cmyk.JPEG", "gray.JPEG", "png_named.JPEG"};
  {
    std::ofstream jobs(dir.path() / "jobs.txt");
    for (const std::string& name : names) {
      jobs << "rgb " << odd(name).string() << " " << (dir.path() / (name + ".u8")).string() << "\n";
    }
  }
  run_reference("batch " + (dir.path() / "jobs.txt").string());
  for (const std::string& name : names) {
    SCOPED_TRACE(name);
    const Bytes bytes = read_bytes(odd(name));
    const RgbImage ours = decode_image(bytes.data(), bytes.size());
    EXPECT_EQ(ours.pixels, read_raw<std::uint8_t>(dir.path() / (name + ".u8")));
  }
}

}  // namespace
}  // namespace dgc::train
