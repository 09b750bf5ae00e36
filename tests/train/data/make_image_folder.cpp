// dgc-make-image-folder: a small ImageNet-style folder of JPEGs for tests.
//
//   dgc-make-image-folder DIR --classes C --images N [--odd] [--tiny]
//
// writes DIR/train/class_XX/img_YYYY.JPEG (N per class) and DIR/val/class_XX/img_YYYY.JPEG
// (max(1, N / 2) per class), quality 90. Sizes cycle through 64x48, 96x80, 120x90 and 50x70,
// with every 7th image 500x375 (ImageNet's typical size); --tiny makes every image 8x8, for
// folders of 100,000 files. The content is deterministic and the class learnable: a
// class-specific colour (hues around the circle), a gradient whose direction depends on the
// class's parity, and per-pixel noise.
// --odd adds to train/class_00 the files a loader must cope with: gray.JPEG (grayscale),
// cmyk.JPEG (Adobe CMYK: C=0 M=128 Y=255 K=64, which Pillow shows as RGB 191 95 0), png_named.JPEG
// (a PNG), truncated.JPEG (a valid JPEG cut to half its bytes), empty.JPEG, and the stray files
// train/class_00/notes.txt and train/README, which are not images.
// Prints nothing but errors.
#include <png.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "dgc/error.h"
#include "image_encode.h"

namespace {

namespace fs = std::filesystem;
using dgc::test::encode_jpeg;
using dgc::test::encode_png;
using dgc::test::write_file;

std::uint64_t mix(std::uint64_t x) {  // splitmix64's finalizer
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

struct Size {
  int width, height;
};

Size image_size(int index, bool tiny) {
  if (tiny) return {8, 8};
  if (index % 7 == 6) return {500, 375};
  static const Size kSizes[] = {{64, 48}, {96, 80}, {120, 90}, {50, 70}};
  return kSizes[index % 4];
}

std::vector<std::uint8_t> class_image(int cls, int classes, int split, int index, Size size) {
  const double kPi = 3.14159265358979323846;
  const double hue = 2.0 * kPi * cls / classes;
  const double base[3] = {128 + 90 * std::cos(hue), 128 + 90 * std::cos(hue - 2 * kPi / 3),
                          128 + 90 * std::cos(hue + 2 * kPi / 3)};
  const std::uint64_t seed = mix(mix(mix(static_cast<std::uint64_t>(cls)) ^ split) ^ index);
  std::vector<std::uint8_t> pixels(static_cast<std::size_t>(size.width) * size.height * 3);
  for (int y = 0; y < size.height; ++y) {
    for (int x = 0; x < size.width; ++x) {
      const double along =
          cls % 2 == 0 ? static_cast<double>(x) / size.width : static_cast<double>(y) / size.height;
      const std::uint64_t noise = mix(seed ^ (static_cast<std::uint64_t>(y) << 32 | x));
      for (int c = 0; c < 3; ++c) {
        const double n = static_cast<double>((noise >> (16 * c)) & 0xFF) / 255.0 - 0.5;
        const double v = base[c] + 60.0 * (along - 0.5) + 48.0 * n;
        pixels[(static_cast<std::size_t>(y) * size.width + x) * 3 + c] =
            static_cast<std::uint8_t>(std::lround(std::fmin(255.0, std::fmax(0.0, v))));
      }
    }
  }
  return pixels;
}

std::string numbered(const std::string& prefix, int value, int digits) {
  std::string s = std::to_string(value);
  if (static_cast<int>(s.size()) < digits) s.insert(0, digits - s.size(), '0');
  return prefix + s;
}

void write_split(const fs::path& dir, int split, int classes, int images, bool tiny) {
  const int class_digits = std::max<int>(2, std::to_string(classes - 1).size());
  const int image_digits = std::max<int>(4, std::to_string(images - 1).size());
  for (int cls = 0; cls < classes; ++cls) {
    const fs::path class_dir = dir / numbered("class_", cls, class_digits);
    fs::create_directories(class_dir);
    for (int i = 0; i < images; ++i) {
      const Size size = image_size(i, tiny);
      const std::vector<std::uint8_t> pixels = class_image(cls, classes, split, i, size);
      write_file((class_dir / (numbered("img_", i, image_digits) + ".JPEG")).string(),
                 encode_jpeg(pixels.data(), size.width, size.height, 3, 90));
    }
  }
}

void write_odd_files(const fs::path& train) {
  const fs::path dir = train / "class_00";
  std::vector<std::uint8_t> gray(64 * 48, 100);
  write_file((dir / "gray.JPEG").string(), encode_jpeg(gray.data(), 64, 48, 1, 90));
  // Adobe's inverted CMYK: the stored byte is 255 - ink.
  std::vector<std::uint8_t> cmyk;
  for (int p = 0; p < 64 * 48; ++p)
    cmyk.insert(cmyk.end(), {255 - 0, 255 - 128, 255 - 255, 255 - 64});
  write_file((dir / "cmyk.JPEG").string(), encode_jpeg(cmyk.data(), 64, 48, 4, 90));
  // RGBA: a decoder must drop the alpha, not composite it.
  std::vector<std::uint8_t> rgba;
  for (int y = 0; y < 30; ++y) {
    for (int x = 0; x < 40; ++x) {
      rgba.insert(rgba.end(), {static_cast<std::uint8_t>(6 * x), static_cast<std::uint8_t>(8 * y),
                               200, static_cast<std::uint8_t>(x * y % 256)});
    }
  }
  write_file((dir / "png_named.JPEG").string(),
             encode_png(rgba.data(), 40, 30, PNG_COLOR_TYPE_RGB_ALPHA, 8));
  const std::vector<std::uint8_t> photo = class_image(0, 1, 2, 0, {120, 90});
  std::vector<std::uint8_t> jpeg = encode_jpeg(photo.data(), 120, 90, 3, 90);
  jpeg.resize(jpeg.size() / 2);
  write_file((dir / "truncated.JPEG").string(), jpeg);
  write_file((dir / "empty.JPEG").string(), {});
  const std::string notes = "Not an image: a loader must skip or refuse this file.\n";
  write_file((dir / "notes.txt").string(), {notes.begin(), notes.end()});
  const std::string readme = "Test images written by dgc-make-image-folder.\n";
  write_file((train / "README").string(), {readme.begin(), readme.end()});
}

int parse_count(const std::string& flag, const char* value) {
  DGC_CHECK(value != nullptr, flag, " needs a number");
  std::size_t used = 0;
  int n = 0;
  try {
    n = std::stoi(value, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  DGC_CHECK(used == std::string(value).size() && n > 0, flag, " needs a positive number, got \"",
            value, "\"");
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    std::string dir;
    int classes = 0, images = 0;
    bool odd = false, tiny = false;
    for (int i = 1; i < argc; ++i) {
      const std::string arg = argv[i];
      if (arg == "--classes") {
        classes = parse_count(arg, i + 1 < argc ? argv[++i] : nullptr);
      } else if (arg == "--images") {
        images = parse_count(arg, i + 1 < argc ? argv[++i] : nullptr);
      } else if (arg == "--odd") {
        odd = true;
      } else if (arg == "--tiny") {
        tiny = true;
      } else if (dir.empty() && arg.rfind("--", 0) != 0) {
        dir = arg;
      } else {
        DGC_FAIL("unknown argument \"", arg, "\"");
      }
    }
    DGC_CHECK(!dir.empty() && classes > 0 && images > 0,
              "usage: dgc-make-image-folder DIR --classes C --images N [--odd] [--tiny]");
    write_split(fs::path(dir) / "train", 0, classes, images, tiny);
    write_split(fs::path(dir) / "val", 1, classes, std::max(1, images / 2), tiny);
    if (odd) write_odd_files(fs::path(dir) / "train");
    return 0;
  } catch (const dgc::Error& e) {
    std::cerr << "dgc-make-image-folder: " << e.message() << "\n";
  } catch (const std::exception& e) {
    std::cerr << "dgc-make-image-folder: " << e.what() << "\n";
  }
  return 1;
}
