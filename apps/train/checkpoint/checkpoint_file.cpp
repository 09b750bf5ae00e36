#include "checkpoint/checkpoint_file.h"

#include <cstring>

#include "dgc/error.h"
#include "log/crc32c.h"

namespace dgc::train {
namespace {

constexpr char kMagic[8] = {'D', 'G', 'C', 'C', 'K', 'P', 'T', '\n'};
constexpr std::size_t kCrcOffset = 12;

template <typename T>
void put(std::string& out, std::size_t offset, T value) {
  for (std::size_t i = 0; i < sizeof(T); ++i) {
    out[offset + i] = static_cast<char>((static_cast<std::uint64_t>(value) >> (8 * i)) & 0xff);
  }
}

template <typename T>
T get(std::string_view in, std::size_t offset) {
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i) {
    value |= static_cast<std::uint64_t>(static_cast<unsigned char>(in[offset + i])) << (8 * i);
  }
  return static_cast<T>(value);
}

// The CRC skips its own field, so it can cover the header's other fields too: a flipped bit in
// the metadata length must not move the boundary unnoticed.
std::uint32_t file_crc(std::string_view bytes) {
  const std::uint32_t head = crc32c(bytes.data(), kCrcOffset);
  return crc32c(bytes.data() + kCrcOffset + 4, bytes.size() - kCrcOffset - 4, head);
}

}  // namespace

std::string encode_checkpoint(std::string_view metadata, std::string_view payload) {
  std::string out(kCheckpointHeaderBytes, '\0');
  std::memcpy(out.data(), kMagic, sizeof kMagic);
  put<std::uint32_t>(out, 8, kCheckpointFormatVersion);
  put<std::uint64_t>(out, 16, metadata.size());
  out.reserve(kCheckpointHeaderBytes + metadata.size() + payload.size());
  out.append(metadata);
  out.append(payload);
  put<std::uint32_t>(out, kCrcOffset, file_crc(out));
  return out;
}

CheckpointParts decode_checkpoint(std::string_view bytes, const std::string& name) {
  DGC_CHECK(bytes.size() >= kCheckpointHeaderBytes, "checkpoint ", name,
            " is truncated: ", bytes.size(), " bytes, less than its ", kCheckpointHeaderBytes,
            "-byte header");
  DGC_CHECK(std::memcmp(bytes.data(), kMagic, sizeof kMagic) == 0, "checkpoint ", name,
            " is not a dgc-train checkpoint (no DGCCKPT header)");
  const auto version = get<std::uint32_t>(bytes, 8);
  DGC_CHECK(version == kCheckpointFormatVersion, "checkpoint ", name, " has format version ",
            version, "; this dgc-train reads version ", kCheckpointFormatVersion);
  const auto stored = get<std::uint32_t>(bytes, kCrcOffset);
  const std::uint32_t actual = file_crc(bytes);
  DGC_CHECK(stored == actual, "checkpoint ", name, " is corrupt: its CRC-32C is ", actual,
            ", the header says ", stored, " (truncated, or bytes changed on disk)");
  const auto metadata_bytes = get<std::uint64_t>(bytes, 16);
  DGC_CHECK(metadata_bytes <= bytes.size() - kCheckpointHeaderBytes, "checkpoint ", name,
            " declares ", metadata_bytes, " bytes of metadata but holds only ",
            bytes.size() - kCheckpointHeaderBytes, " after its header");
  const auto m = static_cast<std::size_t>(metadata_bytes);
  return {bytes.substr(kCheckpointHeaderBytes, m), bytes.substr(kCheckpointHeaderBytes + m)};
}

// libtorch stores its records uncompressed, so no size a directory entry claims can exceed the
// archive itself.
std::string archive_size_problem(std::string_view zip) {
  constexpr std::size_t kEndBytes = 22, kEntryBytes = 46;
  if (zip.size() < kEndBytes) return "no zip end record";
  // The end record is last, followed by a comment of at most 64 KiB.
  const std::size_t lowest = zip.size() > kEndBytes + 0xffff ? zip.size() - kEndBytes - 0xffff : 0;
  std::size_t end = zip.size() - kEndBytes;
  while (get<std::uint32_t>(zip, end) != 0x06054b50u) {
    if (end == lowest) return "no zip end record";
    --end;
  }
  const auto entries = get<std::uint16_t>(zip, end + 10);
  std::size_t at = get<std::uint32_t>(zip, end + 16);  // the central directory's offset
  for (std::size_t e = 0; e < entries; ++e) {
    if (at > zip.size() || zip.size() - at < kEntryBytes ||
        get<std::uint32_t>(zip, at) != 0x02014b50u) {
      return "a damaged zip directory";
    }
    std::uint64_t sizes[2] = {get<std::uint32_t>(zip, at + 20), get<std::uint32_t>(zip, at + 24)};
    const std::size_t name = get<std::uint16_t>(zip, at + 28),
                      extra = get<std::uint16_t>(zip, at + 30),
                      comment = get<std::uint16_t>(zip, at + 32);
    if (zip.size() - at - kEntryBytes < name + extra + comment) return "a damaged zip directory";
    // ZIP64: 0xffffffff stands for a 64-bit size in the extra field's record 0x0001.
    for (std::size_t x = at + kEntryBytes + name; x + 4 <= at + kEntryBytes + name + extra;) {
      const auto id = get<std::uint16_t>(zip, x), length = get<std::uint16_t>(zip, x + 2);
      if (x + 4 + length > at + kEntryBytes + name + extra) return "a damaged zip directory";
      std::size_t field = x + 4;
      for (auto* size : {&sizes[1], &sizes[0]}) {  // the uncompressed size comes first
        if (id == 1 && *size == 0xffffffffu && field + 8 <= x + 4 + length) {
          *size = get<std::uint64_t>(zip, field);
          field += 8;
        }
      }
      x += 4 + length;
    }
    for (const std::uint64_t size : sizes) {
      if (size > zip.size()) {
        return "a record of " + std::to_string(size) + " bytes in an archive of " +
               std::to_string(zip.size());
      }
    }
    at += kEntryBytes + name + extra + comment;
  }
  return "";
}

}  // namespace dgc::train
