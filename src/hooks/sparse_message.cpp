#include "hooks/sparse_message.h"

#include "dgc/error.h"

namespace dgc::detail {

ValueType value_type_of(const WireFormat& wire) {
  return wire.fp16_values   ? ValueType::kFloat16
         : wire.bf16_values ? ValueType::kBFloat16
                            : ValueType::kFloat32;
}

std::int64_t expected_message_bytes(const std::vector<std::int64_t>& capacities,
                                    const std::vector<std::int64_t>& numels, ValueType type) {
  std::int64_t total = 0;
  for (std::size_t k = 0; k < capacities.size(); ++k) {
    const std::int64_t c = capacities[k];
    if (c == 0) {
      total += 1;
      continue;
    }
    const std::int64_t mean_gap = (numels[k] - c) / c;
    int rice = 0;
    while (rice < 62 && (std::int64_t{2} << rice) <= mean_gap) ++rice;
    const std::int64_t count_bytes = (64 - __builtin_clzll(static_cast<std::uint64_t>(c)) + 6) / 7;
    total += count_bytes + 1 + (c * (rice + 2) + 7) / 8 + c * value_bytes(type);
  }
  return total;
}

void SparseMessage::plan(const std::vector<std::int64_t>& capacities,
                         const std::vector<std::int64_t>& numels, ValueType type) {
  DGC_CHECK(capacities.size() == numels.size(), "SparseMessage::plan: ", capacities.size(),
            " capacities for ", numels.size(), " tensors");
  capacities_ = capacities;
  numels_ = numels;
  type_ = type;
  own_.resize(capacities.size());
  for (std::size_t k = 0; k < capacities.size(); ++k) {
    const auto capacity = static_cast<std::size_t>(capacities[k]);
    own_[k].indices.resize(capacity);
    own_[k].values.resize(capacity);
    own_[k].count = 0;
  }
  decoded_.assign(capacities.size(), {});
}

WireSlice SparseMessage::own(std::size_t k) const {
  return {own_[k].values.data(), own_[k].indices.data(), own_[k].count};
}

void SparseMessage::encode(std::vector<std::uint8_t>& out) const {
  std::size_t total = 0;
  for (const auto& s : own_) total += encoded_block_bytes(s.indices.data(), s.count, type_);
  out.resize(total);
  std::size_t at = 0;
  for (std::size_t k = 0; k < own_.size(); ++k) {
    const auto& s = own_[k];
    at += encode_block(s.indices.data(), s.values.data(), s.count, numels_[k], type_,
                       out.data() + at);
  }
}

void SparseMessage::decode(const std::uint8_t* gathered,
                           const std::vector<std::int64_t>& bytes_per_sender,
                           const std::vector<std::string>& names, const char* senders_are) {
  const std::size_t senders = bytes_per_sender.size();
  for (std::size_t k = 0; k < size(); ++k) {
    decoded_[k].resize(senders);
    for (auto& s : decoded_[k]) {
      s.indices.resize(static_cast<std::size_t>(capacities_[k]));
      s.values.resize(static_cast<std::size_t>(capacities_[k]));
    }
  }
  const std::uint8_t* message = gathered;
  for (std::size_t s = 0; s < senders; ++s) {
    const auto bytes = static_cast<std::size_t>(bytes_per_sender[s]);
    const std::string from =
        *senders_are == '\0' ? std::string() : concat(" from ", senders_are, " ", s);
    std::size_t at = 0;
    for (std::size_t k = 0; k < size(); ++k) {
      Selection& into = decoded_[k][s];
      const auto block = decode_block(message + at, bytes - at, numels_[k], capacities_[k], type_,
                                      into.indices.data(), into.values.data(),
                                      concat("tensor '", names[k], "'", from));
      into.count = block.count;
      at += block.bytes;
    }
    DGC_CHECK(at == bytes, "the message", from, " has ", bytes - at,
              " byte(s) after its last tensor's block ('", names.empty() ? "" : names.back(), "')");
    message += bytes;
  }
}

std::vector<WireSlice> SparseMessage::slices(std::size_t k) const {
  std::vector<WireSlice> out;
  out.reserve(decoded_[k].size());
  for (const auto& s : decoded_[k]) out.push_back({s.values.data(), s.indices.data(), s.count});
  return out;
}

}  // namespace dgc::detail
