// libFuzzer target: decode_block (src/sparse_codec.h), the reader of one tensor's block from a
// peer. Every byte of the block is the fuzzer's.
//
// Input: [value type: u8] [numel shift: u8] [numel mantissa: u16 LE] [capacity: u16 LE] [block]
// value type % 3; numel = mantissa << (shift % 64) for shifts below 48, else INT64_MAX - mantissa
// (the largest tensors); capacity % 8192 entries.
//
// Checked beyond ASan/UBSan (the outputs are exactly `capacity` long, the block exactly its
// bytes): an error names `what`; a decode returns count <= capacity and bytes <= size, strictly
// ascending indices in [0, numel), and is canonical: encoding the decoded entries gives back
// data[0, bytes) (a value's bytes are compared unless it is NaN, whose 16-bit payload does not
// survive float32 and back).
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "dgc/error.h"
#include "fuzz_support.h"
#include "sparse_codec.h"

namespace {

using dgc::detail::ValueType;
using dgc::fuzz::Bytes;

constexpr std::size_t kHeader = 6;
const std::string kWhat = "tensor 'fuzz' from rank 1";

struct Header {
  ValueType type = ValueType::kFloat32;
  std::int64_t numel = 0;
  std::int64_t capacity = 0;
};

Header parse_header(const std::uint8_t* data) {
  Header h;
  h.type = static_cast<ValueType>(data[0] % 3);
  const int shift = data[1] % 64;
  const std::int64_t mantissa = data[2] | (data[3] << 8);
  h.numel = shift < 48 ? mantissa << shift : std::numeric_limits<std::int64_t>::max() - mantissa;
  h.capacity = (data[4] | (data[5] << 8)) % 8192;
  return h;
}

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  dgc::fuzz::write_seeds_if_asked([](const auto& seed) {
    // Real blocks: a dense run, a sparse draw, a few indices of a huge tensor, and none.
    const std::vector<std::pair<std::int64_t, std::vector<std::int64_t>>> selections = {
        {1000, {0, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377, 610, 987}},
        {4096 << 8, {17, 4000, 90000, 90001, 500000, 1048575}},
        {std::numeric_limits<std::int64_t>::max() - 2,
         {0, std::int64_t{1} << 50, std::int64_t{1} << 61}},
        {300, {}}};
    const std::uint8_t shifts[] = {0, 8, 63, 0};  // the header that gives each numel
    const std::uint16_t mantissas[] = {1000, 4096, 2, 300};
    for (std::size_t s = 0; s < selections.size(); ++s) {
      const auto& [numel, indices] = selections[s];
      const std::vector<float> values(indices.size(), -0.375f);
      for (std::uint8_t type = 0; type < 3; ++type) {
        Bytes input = {type,
                       shifts[s],
                       static_cast<std::uint8_t>(mantissas[s]),
                       static_cast<std::uint8_t>(mantissas[s] >> 8),
                       64,
                       0};
        if (parse_header(input.data()).numel != numel) std::abort();
        const auto vt = static_cast<ValueType>(type);
        const auto count = static_cast<std::int64_t>(indices.size());
        Bytes block(dgc::detail::encoded_block_bytes(indices.data(), count, vt));
        dgc::detail::encode_block(indices.data(), values.data(), count, numel, vt, block.data());
        input.insert(input.end(), block.begin(), block.end());
        seed("block" + std::to_string(s) + "-" + dgc::detail::value_type_name(vt), input);
      }
    }
  });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < kHeader) return 0;
  const Header h = parse_header(data);
  const Bytes block(data + kHeader, data + size);  // exactly its bytes: ASan sees any over-read
  std::vector<std::int64_t> indices(static_cast<std::size_t>(h.capacity));
  std::vector<float> values(static_cast<std::size_t>(h.capacity));
  dgc::detail::DecodedBlock decoded;
  try {
    decoded = dgc::detail::decode_block(block.data(), block.size(), h.numel, h.capacity, h.type,
                                        indices.data(), values.data(), kWhat);
  } catch (const dgc::Error& e) {
    check(e.message().rfind(kWhat, 0) == 0);
    return 0;
  }
  check(decoded.count >= 0 && decoded.count <= h.capacity && decoded.bytes <= block.size());
  for (std::int64_t j = 0; j < decoded.count; ++j) {
    check(indices[j] >= (j == 0 ? 0 : indices[j - 1] + 1) && indices[j] < h.numel);
  }

  const auto vb = static_cast<std::size_t>(dgc::detail::value_bytes(h.type));
  Bytes again(dgc::detail::encoded_block_bytes(indices.data(), decoded.count, h.type));
  check(again.size() == decoded.bytes);
  check(dgc::detail::encode_block(indices.data(), values.data(), decoded.count, h.numel, h.type,
                                  again.data()) == again.size());
  const std::size_t values_at = decoded.bytes - static_cast<std::size_t>(decoded.count) * vb;
  check(std::memcmp(again.data(), block.data(), values_at) == 0);
  for (std::int64_t j = 0; j < decoded.count; ++j) {
    const std::size_t at = values_at + static_cast<std::size_t>(j) * vb;
    check(std::isnan(values[j]) || std::memcmp(again.data() + at, block.data() + at, vb) == 0);
  }
  return 0;
}
