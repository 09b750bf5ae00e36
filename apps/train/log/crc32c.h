// CRC-32C (Castagnoli) and TFRecord's masked form, for TensorBoard event files.
//
// TFRecord frames every record with the masked CRC-32C of its length and of its data; readers
// (TensorBoard, tf.data) reject a record whose CRCs do not match. Pure functions, thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>

namespace dgc::train {

// CRC-32C of `size` bytes. Passing a previous result as `crc` extends it, so
// crc32c(b, nb, crc32c(a, na)) == crc32c of a followed by b. crc32c of nothing is 0.
std::uint32_t crc32c(const void* data, std::size_t size, std::uint32_t crc = 0);

// TFRecord's mask: a CRC stored next to data that itself holds CRCs would otherwise be
// easy to confuse with them, so the stored value is rotated and offset.
inline std::uint32_t mask_crc32c(std::uint32_t crc) {
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

inline std::uint32_t masked_crc32c(const void* data, std::size_t size) {
  return mask_crc32c(crc32c(data, size));
}

}  // namespace dgc::train
