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

}  // namespace dgc::train
