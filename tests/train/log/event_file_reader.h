// A reader of TensorBoard event files for the tests, written independently of the writer in
// apps/train/log: its own bit-at-a-time CRC-32C, a generic protobuf field decoder (every wire
// type except the deprecated groups), and the Event fields TensorBoard reads for scalars.
// It checks both masked CRCs of every record and throws std::runtime_error on any mismatch,
// truncation or malformed field. Header-only so the trainer's end-to-end tests can use it too.
#pragma once

#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dgc::train::testing {

// Bitwise on purpose: no table shared with the implementation under test.
inline std::uint32_t reference_crc32c(std::string_view bytes) {
  std::uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char byte : bytes) {
    crc ^= byte;
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
  }
  return ~crc;
}

inline std::uint32_t reference_masked_crc32c(std::string_view bytes) {
  const std::uint32_t crc = reference_crc32c(bytes);
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

inline std::uint64_t read_little_endian(std::string_view bytes) {
  std::uint64_t value = 0;
  for (std::size_t i = bytes.size(); i-- > 0;) {
    value = (value << 8) | static_cast<unsigned char>(bytes[i]);
  }
  return value;
}

// One decoded protobuf field; `number` and `wire_type` from its key, the payload in `varint`
// (wire type 0), `fixed` (1: 64 bits, 5: 32 bits) or `bytes` (2).
struct ProtoField {
  std::uint32_t number = 0;
  std::uint32_t wire_type = 0;
  std::uint64_t varint = 0;
  std::uint64_t fixed = 0;
  std::string bytes;
};

inline std::uint64_t parse_varint(std::string_view data, std::size_t& pos) {
  std::uint64_t value = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (pos >= data.size()) throw std::runtime_error("truncated varint");
    const auto byte = static_cast<unsigned char>(data[pos++]);
    value |= static_cast<std::uint64_t>(byte & 0x7F) << shift;
    if ((byte & 0x80) == 0) return value;
  }
  throw std::runtime_error("varint longer than 10 bytes");
}

inline std::vector<ProtoField> parse_fields(std::string_view data) {
  std::vector<ProtoField> fields;
  std::size_t pos = 0;
  auto take = [&](std::size_t size) {
    if (size > data.size() - pos) throw std::runtime_error("truncated field");
    const std::string_view bytes = data.substr(pos, size);
    pos += size;
    return bytes;
  };
  while (pos < data.size()) {
    ProtoField field;
    const std::uint64_t key = parse_varint(data, pos);
    field.number = static_cast<std::uint32_t>(key >> 3);
    field.wire_type = static_cast<std::uint32_t>(key & 7);
    if (field.number == 0) throw std::runtime_error("field number 0");
    switch (field.wire_type) {
      case 0:
        field.varint = parse_varint(data, pos);
        break;
      case 1:
        field.fixed = read_little_endian(take(8));
        break;
      case 2:
        field.bytes = std::string(take(parse_varint(data, pos)));
        break;
      case 5:
        field.fixed = read_little_endian(take(4));
        break;
      default:
        throw std::runtime_error("unsupported wire type " + std::to_string(field.wire_type));
    }
    fields.push_back(std::move(field));
  }
  return fields;
}

inline void expect_wire_type(const ProtoField& field, std::uint32_t wire_type, const char* what) {
  if (field.wire_type != wire_type) {
    throw std::runtime_error(std::string(what) + " has wire type " +
                             std::to_string(field.wire_type));
  }
}

// The Event fields the writer uses; unknown fields are skipped, as protobuf readers do.
struct Event {
  double wall_time = 0;
  std::int64_t step = 0;
  std::string file_version;
  std::vector<std::pair<std::string, float>> scalars;  // Summary values: tag, simple_value
  bool session_start = false;  // SessionLog START: drop what came before with step >= this one
};

inline Event parse_event(std::string_view data) {
  Event event;
  for (const ProtoField& field : parse_fields(data)) {
    if (field.number == 1) {
      expect_wire_type(field, 1, "Event.wall_time");
      std::memcpy(&event.wall_time, &field.fixed, 8);
    } else if (field.number == 2) {
      expect_wire_type(field, 0, "Event.step");
      event.step = static_cast<std::int64_t>(field.varint);
    } else if (field.number == 3) {
      expect_wire_type(field, 2, "Event.file_version");
      event.file_version = field.bytes;
    } else if (field.number == 7) {
      expect_wire_type(field, 2, "Event.session_log");
      for (const ProtoField& part : parse_fields(field.bytes)) {
        if (part.number == 1) event.session_start = part.varint == 1;
      }
    } else if (field.number == 5) {
      expect_wire_type(field, 2, "Event.summary");
      for (const ProtoField& value : parse_fields(field.bytes)) {
        if (value.number != 1) continue;
        expect_wire_type(value, 2, "Summary.value");
        std::pair<std::string, float> scalar;
        bool has_simple_value = false;
        for (const ProtoField& part : parse_fields(value.bytes)) {
          if (part.number == 1) {
            expect_wire_type(part, 2, "Summary.Value.tag");
            scalar.first = part.bytes;
          } else if (part.number == 2) {
            expect_wire_type(part, 5, "Summary.Value.simple_value");
            const auto bits = static_cast<std::uint32_t>(part.fixed);
            std::memcpy(&scalar.second, &bits, 4);
            has_simple_value = true;
          }
        }
        if (!has_simple_value) throw std::runtime_error("Summary.Value without simple_value");
        event.scalars.push_back(std::move(scalar));
      }
    }
  }
  return event;
}

// Splits a TFRecord stream into its records' data, checking both CRCs of each.
inline std::vector<std::string> read_records(std::string_view file) {
  std::vector<std::string> records;
  std::size_t pos = 0;
  while (pos < file.size()) {
    const std::string at = " in the record at byte " + std::to_string(pos);
    if (file.size() - pos < 12) throw std::runtime_error("truncated record header" + at);
    const std::string_view length_bytes = file.substr(pos, 8);
    if (read_little_endian(file.substr(pos + 8, 4)) != reference_masked_crc32c(length_bytes)) {
      throw std::runtime_error("length crc mismatch" + at);
    }
    const std::uint64_t length = read_little_endian(length_bytes);
    const std::size_t available = file.size() - pos - 12;  // the data and its crc
    if (available < 4 || length > available - 4) {
      throw std::runtime_error("truncated record" + at);
    }
    const std::string_view data = file.substr(pos + 12, length);
    if (read_little_endian(file.substr(pos + 12 + length, 4)) != reference_masked_crc32c(data)) {
      throw std::runtime_error("data crc mismatch" + at);
    }
    records.emplace_back(data);
    pos += 12 + length + 4;
  }
  return records;
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline std::vector<Event> read_event_file(const std::string& path) {
  std::vector<Event> events;
  for (const std::string& record : read_records(read_file(path))) {
    events.push_back(parse_event(record));
  }
  return events;
}

}  // namespace dgc::train::testing
