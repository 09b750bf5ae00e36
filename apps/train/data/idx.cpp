#include "data/idx.h"

#include <cstdio>
#include <filesystem>
#include <vector>

#include "data/gz_file.h"
#include "dgc/error.h"

namespace dgc::train {

namespace {

constexpr std::uint32_t kImagesMagic = 0x00000803;  // unsigned bytes, 3 dimensions
constexpr std::uint32_t kLabelsMagic = 0x00000801;  // unsigned bytes, 1 dimension

std::string hex(std::uint32_t value) {
  char text[16];
  std::snprintf(text, sizeof text, "0x%08x", value);
  return text;
}

std::uint32_t big_endian(const std::uint8_t* bytes) {
  return std::uint32_t{bytes[0]} << 24 | std::uint32_t{bytes[1]} << 16 |
         std::uint32_t{bytes[2]} << 8 | std::uint32_t{bytes[3]};
}

// What a header holds once checked: the dimensions and the byte count they imply.
struct Header {
  std::vector<std::uint32_t> dims;
  std::uint64_t header_bytes = 0;
  std::uint64_t bytes = 0;  // of the data after the header
};

// Reads and checks the header of an IDX file of unsigned bytes with `expected_magic`.
Header read_header(detail::GzFile& file, std::uint32_t expected_magic, const char* kind) {
  const auto rank = static_cast<std::size_t>(expected_magic & 0xff);
  const std::size_t header_bytes = 4 + 4 * rank;
  std::uint8_t raw[16] = {};
  const std::size_t got = file.read(raw, header_bytes);
  DGC_CHECK(got >= 4, file.path(), ": too short for an IDX ", kind, " file: ", got,
            " bytes, expected a header of ", header_bytes);
  const std::uint32_t magic = big_endian(raw);
  if (magic != expected_magic) {
    const char* hint = magic == kImagesMagic   ? " (that of an IDX image file)"
                       : magic == kLabelsMagic ? " (that of an IDX label file)"
                                               : "";
    DGC_FAIL(file.path(), ": not an IDX ", kind, " file: magic number ", hex(magic), hint,
             ", expected ", hex(expected_magic));
  }
  DGC_CHECK(got == header_bytes, file.path(), ": truncated IDX header: expected ", header_bytes,
            " bytes, got ", got);

  Header header;
  // The product is checked against the limit one factor at a time, so it cannot overflow.
  std::uint64_t product = 1;
  for (std::size_t d = 0; d < rank; ++d) {
    const std::uint32_t dim = big_endian(raw + 4 + 4 * d);
    DGC_CHECK(dim > 0, file.path(), ": the IDX header declares dimension ", d, " as 0");
    DGC_CHECK(dim <= kMaxIdxBytes / product, file.path(), ": the IDX header declares ",
              "dimensions whose product exceeds the limit of ", kMaxIdxBytes, " bytes (dimension ",
              d, " is ", dim, "): a corrupt header or not an IDX file");
    product *= dim;
    header.dims.push_back(dim);
  }
  header.header_bytes = header_bytes;
  header.bytes = product;
  return header;
}

// Reads exactly the `header.bytes` the header declared into the buffer `allocate()` returns,
// and checks that nothing follows them. The buffer is allocated only once the file is known to
// be able to hold that much, so a corrupt header cannot make the reader allocate (or, worse,
// touch) gigabytes; the data lands directly in its final place, since on a virtual machine the
// page faults of a second copy cost as much as the decompression.
template <typename Allocate>
void read_body(detail::GzFile& file, const Header& header, const std::string& what,
               std::uint64_t item_bytes, const char* items, Allocate allocate) {
  const auto truncated = [&](std::uint64_t found) {
    DGC_FAIL(file.path(), ": truncated data: the header declares ", what, " (", header.bytes,
             " bytes) but only ", found, " bytes follow (", found / item_bytes, " whole ", items,
             ")");
  };
  if (header.header_bytes + header.bytes > file.max_size()) truncated(file.skip_to_end());
  const std::uint64_t got = file.read(allocate(), header.bytes);
  if (got < header.bytes) truncated(got);
  const std::uint64_t extra = file.skip_to_end();
  DGC_CHECK(extra == 0, file.path(), ": ", extra, " bytes of trailing data after the ", what,
            " its header declares (", header.bytes, " bytes): a damaged or wrong file");
}

std::string file_name(const std::string& path) {
  return std::filesystem::path(path).filename().string();
}

// `dir/name.gz`, or `dir/name` when only the unpacked file is there.
std::string gz_or_plain(const std::string& dir, const std::string& name) {
  const std::filesystem::path gz = std::filesystem::path(dir) / (name + ".gz");
  const std::filesystem::path plain = std::filesystem::path(dir) / name;
  std::error_code ec;
  if (!std::filesystem::exists(gz, ec) && std::filesystem::exists(plain, ec)) return plain;
  return gz;
}

}  // namespace

Dataset load_idx(const std::string& images_path, const std::string& labels_path,
                 std::int64_t num_classes) {
  DGC_CHECK(num_classes >= 1 && num_classes <= 256, "load_idx: num_classes must be in [1, 256] ",
            "for byte labels, got ", num_classes);

  detail::GzFile images_file(images_path);
  const Header images_header = read_header(images_file, kImagesMagic, "image");
  const std::int64_t count = images_header.dims[0];
  const std::int64_t height = images_header.dims[1];
  const std::int64_t width = images_header.dims[2];
  Dataset dataset;
  read_body(
      images_file, images_header,
      std::to_string(count) + " images of " + std::to_string(height) + "x" + std::to_string(width),
      height * width, "images", [&] {
        dataset.images = torch::empty({count, 1, height, width}, torch::kUInt8);
        return dataset.images.data_ptr<std::uint8_t>();
      });

  detail::GzFile labels_file(labels_path);
  const Header labels_header = read_header(labels_file, kLabelsMagic, "label");
  const std::int64_t label_count = labels_header.dims[0];
  // Checked before the labels are read: a count mismatch is the likelier mistake (files of two
  // different sets) and says more than the truncation it would otherwise show up as.
  DGC_CHECK(label_count == count, "image and label counts differ: ", images_path, " has ", count,
            " images but ", labels_path, " has ", label_count, " labels");
  torch::Tensor raw_labels;
  read_body(labels_file, labels_header, std::to_string(label_count) + " labels", 1, "labels", [&] {
    raw_labels = torch::empty({count}, torch::kUInt8);
    return raw_labels.data_ptr<std::uint8_t>();
  });

  const auto* raw = raw_labels.data_ptr<std::uint8_t>();
  dataset.labels = torch::empty({count}, torch::kInt64);
  auto* labels = dataset.labels.data_ptr<std::int64_t>();
  for (std::int64_t i = 0; i < count; ++i) {
    DGC_CHECK(raw[i] < num_classes, labels_path, ": label ", int{raw[i]}, " at position ", i,
              " is not below num_classes ", num_classes);
    labels[i] = raw[i];
  }
  dataset.num_classes = num_classes;
  dataset.name = file_name(images_path);
  return dataset;
}

Dataset load_fashion_mnist(const std::string& dir, bool train) {
  const std::string prefix = train ? "train" : "t10k";
  Dataset dataset = load_idx(gz_or_plain(dir, prefix + "-images-idx3-ubyte"),
                             gz_or_plain(dir, prefix + "-labels-idx1-ubyte"), 10);
  dataset.name = train ? "fashion-mnist/train" : "fashion-mnist/test";
  return dataset;
}

}  // namespace dgc::train
