// libFuzzer target: the message decoder, i.e. what a rank does with the bytes its peers sent in a
// bucket's sparse allgather (BucketExchange::finish): read each rank's count from its slot
// (sparse_slots.h), then decode the indices and values into the averaged gradient
// (Compressor::decompress_into, wire_codec.h). Every byte of every slot is the fuzzer's.
//
// Input: [flags: u8] [world_size - 1: u8] [tensors - 1: u8] [ratio: u8]
//        [rows - 1: u8, cols - 1: u8 per tensor] [the gathered slots]
// flags bit 0: fp16 values, bit 1: int32 indices; world_size 1..8, 1..4 tensors of shape
// [rows, cols]; compress_ratio (ratio + 1) / 256. The gathered buffer is world_size slots of the
// layout these tensors get, taken from the rest of the input, zero-filled past its end.
//
// Checked beyond ASan/UBSan: a rejected message leaves the output untouched (decode checks
// everything before it writes).
#include <torch/torch.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "dgc/compressor.h"
#include "dgc/error.h"
#include "fuzz_support.h"
#include "sparse_slots.h"

namespace {

using dgc::fuzz::Bytes;

constexpr std::size_t kHeader = 4;
constexpr float kUntouched = 7.0f;

struct Message {
  dgc::CompressorOptions options;
  int world_size = 1;
  std::vector<std::vector<std::int64_t>> shapes;
};

// The header's meaning; false when the input is too short to hold it.
bool parse_header(const std::uint8_t* data, std::size_t size, Message& m) {
  if (size < kHeader) return false;
  m.options.fp16_values = data[0] & 1;
  m.options.int32_indices = data[0] & 2;
  m.world_size = 1 + data[1] % 8;
  const std::size_t tensors = 1 + data[2] % 4;
  m.options.compress_ratio = (data[3] + 1) / 256.0;
  if (size < kHeader + 2 * tensors) return false;
  for (std::size_t t = 0; t < tensors; ++t) {
    m.shapes.push_back({data[kHeader + 2 * t] + 1, data[kHeader + 2 * t + 1] + 1});
  }
  return true;
}

std::string name_of(std::size_t t) { return "layer" + std::to_string(t) + ".weight"; }

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  dgc::fuzz::write_seeds_if_asked([](const auto& seed) {
    // Real messages: each rank's compressor compresses a random gradient into its slot, as
    // BucketExchange::exchange_sparse does.
    torch::manual_seed(1);
    for (std::uint8_t flags : {0, 1, 2, 3}) {
      const std::uint8_t world_size = 1 + flags;
      Bytes input = {flags, static_cast<std::uint8_t>(world_size - 1), 1, 15, 7, 15, 31, 3};
      Message m;
      parse_header(input.data(), input.size(), m);
      std::vector<std::int64_t> capacities;
      std::vector<dgc::Compressor> ranks;
      for (int r = 0; r < world_size; ++r) {
        ranks.emplace_back(m.options);
        for (std::size_t t = 0; t < m.shapes.size(); ++t) ranks.back().add(name_of(t), m.shapes[t]);
      }
      for (std::size_t t = 0; t < m.shapes.size(); ++t) {
        capacities.push_back(ranks[0].plan(name_of(t)).num_selects);
      }
      const auto layout = dgc::detail::plan_sparse_slots(capacities, ranks[0].wire_format());
      for (auto& rank : ranks) {
        Bytes slot(static_cast<std::size_t>(layout.bytes), 0);
        for (std::size_t t = 0; t < m.shapes.size(); ++t) {
          const auto& s = layout.tensors[t];
          const auto count =
              rank.compress_into(name_of(t), torch::randn(m.shapes[t]),
                                 slot.data() + s.value_offset, slot.data() + s.index_offset);
          dgc::detail::write_slot_count(slot.data(), t, count);
        }
        input.insert(input.end(), slot.begin(), slot.end());
      }
      seed("message-flags" + std::to_string(flags), input);
    }
  });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Message m;
  if (!parse_header(data, size, m)) return 0;
  dgc::Compressor compressor(m.options);
  std::vector<std::int64_t> capacities;
  for (std::size_t t = 0; t < m.shapes.size(); ++t) {
    compressor.add(name_of(t), m.shapes[t]);
    if (!compressor.is_sparse(name_of(t))) return 0;  // ratio 1: the bucket goes dense
    capacities.push_back(compressor.plan(name_of(t)).num_selects);
  }
  const auto layout = dgc::detail::plan_sparse_slots(capacities, compressor.wire_format());

  // Exactly world_size slots, so that ASan sees any read past the gathered buffer.
  const std::size_t header = kHeader + 2 * m.shapes.size();
  Bytes gathered(static_cast<std::size_t>(layout.bytes) * static_cast<std::size_t>(m.world_size),
                 0);
  std::copy_n(data + header, std::min(size - header, gathered.size()), gathered.begin());

  for (std::size_t t = 0; t < m.shapes.size(); ++t) {
    const std::string name = name_of(t);
    // Exactly numel floats, so that ASan sees any write past the gradient.
    std::vector<float> out(static_cast<std::size_t>(m.shapes[t][0] * m.shapes[t][1]), kUntouched);
    try {
      compressor.decompress_into(
          name, dgc::detail::read_slices(gathered.data(), layout, t, m.world_size, name),
          m.world_size, out.data());
    } catch (const dgc::Error&) {
      for (float v : out) {
        if (std::memcmp(&v, &kUntouched, sizeof v) != 0) std::abort();  // written, then rejected
      }
    }
  }
  return 0;
}
