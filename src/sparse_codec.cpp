#include "sparse_codec.h"

#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include <cstring>

#include "dgc/error.h"

// Values are copied as the host holds them; the wire is little-endian (include/dgc/wire.h).
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the block layout is little-endian");

namespace dgc::detail {

namespace {

constexpr int kMaxRiceParameter = 62;
constexpr std::size_t kMaxVarintBytes = 10;

std::uint64_t low_bits(int n) { return (std::uint64_t{1} << n) - 1; }  // n < 64

std::size_t varint_bytes(std::uint64_t v) {
  std::size_t n = 1;
  for (; v >= 0x80; v >>= 7) ++n;
  return n;
}

// log2 of the mean gap: the Rice parameter that is near-optimal for geometric gaps, which a
// uniform selection has.
int rice_parameter(std::uint64_t last, std::uint64_t count) {
  const std::uint64_t mean = (last + 1 - count) / count;
  return mean == 0 ? 0 : 63 - __builtin_clzll(mean);
}

void check_selection(const char* caller, const std::int64_t* indices, std::int64_t count) {
  DGC_CHECK(count >= 0, caller, ": negative entry count ", count);
  for (std::int64_t j = 0; j < count; ++j) {
    DGC_CHECK(j == 0 ? indices[j] >= 0 : indices[j] > indices[j - 1], caller, ": index ",
              indices[j], " at position ", j,
              j == 0 ? " is negative" : " does not strictly ascend");
  }
}

// The gaps' bits: k + 1 per entry plus the unary parts.
std::uint64_t stream_bits(const std::int64_t* indices, std::int64_t count, int k) {
  std::uint64_t bits = static_cast<std::uint64_t>(count) * static_cast<std::uint64_t>(k + 1);
  std::uint64_t next = 0;
  for (std::int64_t j = 0; j < count; ++j) {
    bits += (static_cast<std::uint64_t>(indices[j]) - next) >> k;
    next = static_cast<std::uint64_t>(indices[j]) + 1;
  }
  return bits;
}

// LSB-first bit writer. Invariant: fewer than 32 bits pending, so a put of up to 32 bits fits.
class BitWriter {
 public:
  explicit BitWriter(std::uint8_t* out) : out_(out) {}

  void put(std::uint64_t bits, int n) {
    acc_ |= bits << fill_;
    fill_ += n;
    if (fill_ >= 32) {
      const auto word = static_cast<std::uint32_t>(acc_);
      std::memcpy(out_, &word, 4);
      out_ += 4;
      acc_ >>= 32;
      fill_ -= 32;
    }
  }

  std::uint8_t* finish() {
    for (; fill_ > 0; fill_ -= 8, acc_ >>= 8) *out_++ = static_cast<std::uint8_t>(acc_);
    return out_;
  }

 private:
  std::uint8_t* out_;
  std::uint64_t acc_ = 0;
  int fill_ = 0;
};

// LSB-first bit reader over [begin, end). buf_'s low avail_ bits are the next bits of the stream
// (bits above them may be loaded already; they are never taken for data).
class BitReader {
 public:
  BitReader(const std::uint8_t* begin, const std::uint8_t* end)
      : begin_(begin), p_(begin), end_(end) {}

  // Afterwards 56 <= avail_ <= 63, or the input is exhausted. Never 64: skip(avail_) and the
  // shifts by avail_ would be undefined (a byte loaded at avail_ == 56 did that; found by fuzzing).
  void refill() {
    if (end_ - p_ >= 8) {
      std::uint64_t word;
      std::memcpy(&word, p_, 8);
      buf_ |= word << avail_;
      p_ += (63 - avail_) >> 3;
      avail_ |= 56;
    } else {
      for (; avail_ < 56 && p_ < end_; avail_ += 8) buf_ |= std::uint64_t{*p_++} << avail_;
    }
  }

  void skip(int n) {  // n <= avail_ < 64
    buf_ >>= n;
    avail_ -= n;
  }

  std::uint64_t buf() const { return buf_; }
  int avail() const { return avail_; }
  std::uint64_t consumed_bits() const {
    return static_cast<std::uint64_t>(p_ - begin_) * 8 - static_cast<std::uint64_t>(avail_);
  }

 private:
  const std::uint8_t* begin_;
  const std::uint8_t* p_;
  const std::uint8_t* end_;
  std::uint64_t buf_ = 0;
  int avail_ = 0;
};

enum class GapStatus { kOk, kTruncated, kPastNumel };

// One gap whose code is not all in the reader's buffer: a unary run longer than one refill, or
// the input's end. Each pass of the run takes >= 56 ones or reaches the end, and the run stops
// once past q_max, so hostile runs cost no more passes than their bytes and numel >> k allow.
GapStatus read_gap_slowly(BitReader& r, int k, std::uint64_t q_max, std::uint64_t& gap) {
  std::uint64_t q = 0;
  for (;;) {
    r.refill();
    const std::uint64_t zeros = ~r.buf();
    const int ones = zeros == 0 ? 64 : __builtin_ctzll(zeros);
    if (ones < r.avail()) {
      q += static_cast<std::uint64_t>(ones);
      r.skip(ones + 1);
      break;
    }
    if (r.avail() == 0) return GapStatus::kTruncated;
    q += static_cast<std::uint64_t>(r.avail());
    r.skip(r.avail());
    if (q > q_max) return GapStatus::kPastNumel;
  }
  if (q > q_max) return GapStatus::kPastNumel;
  std::uint64_t low = 0;
  for (int got = 0; got < k;) {  // at most 56 bits at a time: refill guarantees that many
    const int take = k - got < 56 ? k - got : 56;
    r.refill();
    if (r.avail() < take) return GapStatus::kTruncated;
    low |= (r.buf() & low_bits(take)) << got;
    r.skip(take);
    got += take;
  }
  gap = (q << k) | low;  // q <= q_max = room >> k: no overflow
  return GapStatus::kOk;
}

template <typename... Parts>
[[noreturn]] void fail(const std::string& what, const Parts&... parts) {
  DGC_FAIL(what, ": ", parts...);
}

void put_values(const float* values, std::int64_t count, ValueType type, std::uint8_t* out) {
  const auto n = static_cast<std::size_t>(count);
  if (type == ValueType::kFloat32) {
    std::memcpy(out, values, n * 4);
    return;
  }
  for (std::size_t j = 0; j < n; ++j) {
    const std::uint16_t bits =
        type == ValueType::kFloat16 ? c10::Half(values[j]).x : c10::BFloat16(values[j]).x;
    std::memcpy(out + 2 * j, &bits, 2);
  }
}

void get_values(const std::uint8_t* in, std::int64_t count, ValueType type, float* out) {
  const auto n = static_cast<std::size_t>(count);
  if (type == ValueType::kFloat32) {
    std::memcpy(out, in, n * 4);
    return;
  }
  for (std::size_t j = 0; j < n; ++j) {
    std::uint16_t bits;
    std::memcpy(&bits, in + 2 * j, 2);
    out[j] = type == ValueType::kFloat16
                 ? static_cast<float>(c10::Half(bits, c10::Half::from_bits()))
                 : static_cast<float>(c10::BFloat16(bits, c10::BFloat16::from_bits()));
  }
}

}  // namespace

std::int64_t value_bytes(ValueType type) {
  switch (type) {
    case ValueType::kFloat32:
      return 4;
    case ValueType::kFloat16:
    case ValueType::kBFloat16:
      return 2;
  }
  DGC_FAIL("unknown value type ", static_cast<int>(type));
}

const char* value_type_name(ValueType type) {
  switch (type) {
    case ValueType::kFloat32:
      return "float32";
    case ValueType::kFloat16:
      return "float16";
    case ValueType::kBFloat16:
      return "bfloat16";
  }
  DGC_FAIL("unknown value type ", static_cast<int>(type));
}

std::size_t encoded_block_bytes(const std::int64_t* indices, std::int64_t count, ValueType type) {
  const auto vb = static_cast<std::size_t>(value_bytes(type));
  check_selection("encoded_block_bytes", indices, count);
  const auto n = static_cast<std::uint64_t>(count);
  if (count == 0) return 1;
  const int k = rice_parameter(static_cast<std::uint64_t>(indices[count - 1]), n);
  return varint_bytes(n) + 1 + (stream_bits(indices, count, k) + 7) / 8 + n * vb;
}

std::size_t encode_block(const std::int64_t* indices, const float* values, std::int64_t count,
                         std::int64_t numel, ValueType type, std::uint8_t* out) {
  value_bytes(type);  // a bad type fails before anything is written
  check_selection("encode_block", indices, count);
  DGC_CHECK(count == 0 || indices[count - 1] < numel, "encode_block: index ", indices[count - 1],
            " at position ", count - 1, " is out of range for ", numel, " elements");
  std::uint8_t* p = out;
  auto v = static_cast<std::uint64_t>(count);
  for (; v >= 0x80; v >>= 7) *p++ = static_cast<std::uint8_t>(v | 0x80);
  *p++ = static_cast<std::uint8_t>(v);
  if (count == 0) return 1;

  const int k = rice_parameter(static_cast<std::uint64_t>(indices[count - 1]),
                               static_cast<std::uint64_t>(count));
  *p++ = static_cast<std::uint8_t>(k);
  BitWriter w(p);
  std::uint64_t next = 0;
  for (std::int64_t j = 0; j < count; ++j) {
    const std::uint64_t d = static_cast<std::uint64_t>(indices[j]) - next;
    next = static_cast<std::uint64_t>(indices[j]) + 1;
    std::uint64_t q = d >> k;
    const std::uint64_t low = d & low_bits(k);
    if (q + 1 + static_cast<std::uint64_t>(k) <= 32) {  // the common case: one put
      w.put(low_bits(static_cast<int>(q)) | (low << (q + 1)), static_cast<int>(q) + 1 + k);
      continue;
    }
    for (; q >= 32; q -= 32) w.put(low_bits(32), 32);
    w.put(low_bits(static_cast<int>(q)), static_cast<int>(q) + 1);
    if (k > 32) {
      w.put(low & low_bits(32), 32);
      w.put(low >> 32, k - 32);
    } else {
      w.put(low, k);
    }
  }
  p = w.finish();
  put_values(values, count, type, p);
  return static_cast<std::size_t>(p - out) +
         static_cast<std::size_t>(count) * static_cast<std::size_t>(value_bytes(type));
}

DecodedBlock decode_block(const std::uint8_t* data, std::size_t size, std::int64_t numel,
                          std::int64_t capacity, ValueType type, std::int64_t* indices_out,
                          float* values_out, const std::string& what) {
  const auto vb = static_cast<std::size_t>(value_bytes(type));
  DGC_CHECK(numel >= 0 && capacity >= 0, "decode_block for ", what, ": numel ", numel,
            " and capacity ", capacity, " must be >= 0");

  std::uint64_t count = 0;
  std::size_t at = 0;
  for (;;) {
    if (at == kMaxVarintBytes) fail(what, "the count's varint is longer than 10 bytes");
    if (at == size) fail(what, "block truncated in its count (", size, " bytes)");
    const std::uint8_t b = data[at];
    if (at == kMaxVarintBytes - 1 && (b & 0x7f) > 1) {
      fail(what, "the count's varint overflows 64 bits");
    }
    count |= std::uint64_t{b & 0x7fu} << (7 * at);
    ++at;
    if ((b & 0x80) == 0) {
      if (b == 0 && at > 1) fail(what, "non-canonical count varint (a redundant final zero byte)");
      break;
    }
  }
  if (count > static_cast<std::uint64_t>(capacity)) {
    fail(what, "count ", count, " exceeds the capacity ", capacity);
  }
  if (count > static_cast<std::uint64_t>(numel)) {
    fail(what, "count ", count, " exceeds the tensor's ", numel, " elements");
  }
  if (count == 0) return {0, at};

  if (at == size) fail(what, "block truncated before its Rice parameter");
  const int k = data[at++];
  if (k > kMaxRiceParameter) fail(what, "Rice parameter ", k, " is above ", kMaxRiceParameter);

  const auto past_numel = [&](std::uint64_t j) {
    return concat("the gap of entry ", j, " runs past the tensor's ", numel, " elements");
  };
  BitReader r(data + at, data + size);
  const auto n = static_cast<std::uint64_t>(numel);
  std::uint64_t next = 0;  // the smallest index the next entry may have
  for (std::uint64_t j = 0; j < count; ++j) {
    if (next >= n) {
      fail(what, "entry ", j, " follows index ", next - 1, ", the last of ", numel,
           " elements (out of range)");
    }
    const std::uint64_t room = n - 1 - next;  // the largest gap that stays in range
    const std::uint64_t q_max = room >> k;
    std::uint64_t gap = 0;
    r.refill();
    const std::uint64_t zeros = ~r.buf();
    const int ones = zeros == 0 ? 64 : __builtin_ctzll(zeros);
    if (ones + 1 + k <= r.avail()) {  // the whole code is in the buffer
      if (static_cast<std::uint64_t>(ones) > q_max) fail(what, past_numel(j));
      gap = (static_cast<std::uint64_t>(ones) << k) | ((r.buf() >> (ones + 1)) & low_bits(k));
      r.skip(ones + 1 + k);
    } else {
      switch (read_gap_slowly(r, k, q_max, gap)) {
        case GapStatus::kTruncated:
          fail(what, "gap stream truncated in entry ", j, " of ", count);
        case GapStatus::kPastNumel:
          fail(what, past_numel(j));
        case GapStatus::kOk:
          break;
      }
    }
    if (gap > room) {
      fail(what, "index ", next + gap, " of entry ", j, " is out of range for ", numel,
           " elements");
    }
    indices_out[j] = static_cast<std::int64_t>(next + gap);
    next += gap + 1;
  }

  const std::uint64_t used = r.consumed_bits();
  const int pad = static_cast<int>((8 - used % 8) % 8);
  if ((r.buf() & low_bits(pad)) != 0) fail(what, "nonzero padding bits after the gap stream");
  const int expected_k = rice_parameter(next - 1, count);
  if (k != expected_k) {
    fail(what, "non-canonical Rice parameter ", k, " (the encoder's is ", expected_k, ")");
  }
  at += static_cast<std::size_t>((used + 7) / 8);
  if ((size - at) / vb < count) {
    fail(what, "values truncated: ", count, " ", value_type_name(type), " values need ", count * vb,
         " bytes, ", size - at, " are left");
  }
  get_values(data + at, static_cast<std::int64_t>(count), type, values_out);
  return {static_cast<std::int64_t>(count), at + static_cast<std::size_t>(count) * vb};
}

}  // namespace dgc::detail
