#include "checkpoint/checkpoint_file.h"

#include <zlib.h>

#include <algorithm>
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

// Whether a zip record's bytes unpack to `unpacked` bytes whose CRC-32 is `crc`. libtorch stores
// tensors as they are (method 0) and deflates small text records (method 8); the inflation goes
// through a fixed buffer, so a record claiming a huge size costs time, never memory.
std::string check_record(std::string_view bytes, unsigned method, std::uint64_t unpacked,
                         std::uint32_t crc) {
  uLong actual = crc32(0, nullptr, 0);
  std::uint64_t total = 0;
  if (method == 0) {
    for (std::size_t done = 0; done < bytes.size();) {
      const auto chunk = static_cast<uInt>(std::min<std::size_t>(bytes.size() - done, 1u << 30));
      actual = crc32(actual, reinterpret_cast<const Bytef*>(bytes.data() + done), chunk);
      done += chunk;
    }
    total = bytes.size();
  } else if (method == 8) {
    if (bytes.size() > (1u << 30)) return "a compressed record too large to check";
    z_stream stream{};
    if (inflateInit2(&stream, -MAX_WBITS) != Z_OK) return "no memory to check a record";
    stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
    stream.avail_in = static_cast<uInt>(bytes.size());
    unsigned char out[1 << 16];
    int rc = Z_OK;
    while (rc == Z_OK && total <= unpacked) {
      stream.next_out = out;
      stream.avail_out = sizeof out;
      rc = inflate(&stream, Z_NO_FLUSH);
      const std::size_t produced = sizeof out - stream.avail_out;
      actual = crc32(actual, out, static_cast<uInt>(produced));
      total += produced;
      if (rc == Z_OK && produced == 0 && stream.avail_in == 0) break;  // truncated
    }
    inflateEnd(&stream);
    if (rc != Z_STREAM_END) return "a compressed record that does not inflate";
  } else {
    return "a record compressed with method " + std::to_string(method);
  }
  if (total != unpacked) return "a record whose size does not match its directory entry";
  if (actual != crc) return "a record whose CRC-32 does not match its bytes";
  return "";
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

// Each record's bytes follow its local header; no compressed size can exceed the archive.
std::string archive_problem(std::string_view zip) {
  constexpr std::size_t kEndBytes = 22, kEntryBytes = 46, kLocalBytes = 30;
  if (zip.size() < kEndBytes) return "no zip end record";
  // The end record is last, followed by a comment of at most 64 KiB.
  const std::size_t lowest = zip.size() > kEndBytes + 0xffff ? zip.size() - kEndBytes - 0xffff : 0;
  std::size_t end = zip.size() - kEndBytes;
  while (get<std::uint32_t>(zip, end) != 0x06054b50u) {
    if (end == lowest) return "no zip end record";
    --end;
  }
  const std::string damaged = "a damaged zip directory";
  const auto entries = get<std::uint16_t>(zip, end + 10);
  std::size_t at = get<std::uint32_t>(zip, end + 16);  // the central directory's offset
  for (std::size_t e = 0; e < entries; ++e) {
    if (at > zip.size() || zip.size() - at < kEntryBytes ||
        get<std::uint32_t>(zip, at) != 0x02014b50u) {
      return damaged;
    }
    const auto method = get<std::uint16_t>(zip, at + 10);
    const auto crc = get<std::uint32_t>(zip, at + 16);
    // compressed size, uncompressed size, local header offset: 0xffffffff stands for a 64-bit
    // value in the extra field's ZIP64 record (id 1), in the order uncompressed, compressed,
    // offset.
    std::uint64_t values[3] = {get<std::uint32_t>(zip, at + 20), get<std::uint32_t>(zip, at + 24),
                               get<std::uint32_t>(zip, at + 42)};
    const std::size_t name = get<std::uint16_t>(zip, at + 28);
    const std::size_t extra = get<std::uint16_t>(zip, at + 30);
    const std::size_t comment = get<std::uint16_t>(zip, at + 32);
    if (zip.size() - at - kEntryBytes < name + extra + comment) return damaged;
    const std::size_t extra_end = at + kEntryBytes + name + extra;
    for (std::size_t x = at + kEntryBytes + name; x + 4 <= extra_end;) {
      const std::size_t id = get<std::uint16_t>(zip, x), length = get<std::uint16_t>(zip, x + 2);
      if (x + 4 + length > extra_end) return damaged;
      std::size_t field = x + 4;
      for (std::uint64_t* value : {&values[1], &values[0], &values[2]}) {
        if (id == 1 && *value == 0xffffffffu && field + 8 <= x + 4 + length) {
          *value = get<std::uint64_t>(zip, field);
          field += 8;
        }
      }
      x += 4 + length;
    }
    const std::uint64_t size = values[0], unpacked = values[1], local = values[2];
    if (size > zip.size() || local > zip.size() - kLocalBytes ||
        get<std::uint32_t>(zip, local) != 0x04034b50u) {
      return "a record of " + std::to_string(size) + " bytes in an archive of " +
             std::to_string(zip.size()) + ", or its header out of place";
    }
    const std::size_t data = local + kLocalBytes + get<std::uint16_t>(zip, local + 26) +
                             get<std::uint16_t>(zip, local + 28);
    if (data > zip.size() || zip.size() - data < size) return damaged;
    // libtorch reads the records without checking these CRCs: a record whose bytes changed (a
    // length inside its pickle, say) would be believed.
    const std::string problem =
        check_record(zip.substr(data, static_cast<std::size_t>(size)), method, unpacked, crc);
    if (!problem.empty()) return problem;
    at = extra_end + comment;
  }
  return "";
}

}  // namespace dgc::train
