// libFuzzer target: dgc-train's checkpoint loader. A file goes through what a resume does with
// it: decode_checkpoint (magic, version, lengths, CRC), parse_meta (the metadata YAML), then
// CheckpointStore::restore into a small model, which reads libtorch's archive.
//
// Input: [mode: u8] then
//   mode even: the file's bytes as they are (almost every input stops at the CRC);
//   mode odd:  [metadata length: u32 LE] [metadata] [payload], framed by encode_checkpoint with a
//              CRC that matches, so that parse_meta and libtorch's archive reader see fuzzed
//              content too (a file that a broken writer, not the disk, got wrong).
// Any dgc::Error is the loader saying no; anything else (a crash, a sanitizer report, another
// exception) is a finding.
#include <torch/torch.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>

#include "checkpoint/checkpoint_file.h"
#include "checkpoint/checkpoint_meta.h"
#include "checkpoint/checkpoint_store.h"
#include "dgc/error.h"
#include "fuzz_support.h"

namespace {

using dgc::fuzz::Bytes;

torch::nn::Linear& model() {
  static torch::nn::Linear linear(4, 3);
  return linear;
}

dgc::train::CheckpointStore& store() {
  static dgc::train::CheckpointStore s((dgc::fuzz::scratch_dir() / "run").string(), 0);
  return s;
}

std::string valid_payload() {
  torch::serialize::OutputArchive archive, model_archive;
  model()->save(model_archive);
  archive.write("model", model_archive);
  std::string bytes;
  archive.save_to([&bytes](const void* data, std::size_t size) {
    bytes.append(static_cast<const char*>(data), size);
    return size;
  });
  return bytes;
}

std::string valid_metadata() {
  dgc::train::CheckpointMeta meta;
  meta.position = {3, 17};
  meta.inputs_seen = 123456;
  meta.best = 91.25;
  meta.world_size = 2;
  meta.rank = 1;
  meta.config_yaml = "train:\n  num_epochs: 10\n";
  return dgc::train::to_text(meta);
}

Bytes as_bytes(std::uint8_t mode, std::string_view text) {
  Bytes out = {mode};
  out.insert(out.end(), text.begin(), text.end());
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  dgc::fuzz::write_seeds_if_asked([](const auto& seed) {
    const std::string metadata = valid_metadata(), payload = valid_payload();
    seed("valid-file", as_bytes(0, dgc::train::encode_checkpoint(metadata, payload)));
    Bytes framed = {1};
    dgc::fuzz::put_u32_le(framed, static_cast<std::uint32_t>(metadata.size()));
    framed.insert(framed.end(), metadata.begin(), metadata.end());
    framed.insert(framed.end(), payload.begin(), payload.end());
    seed("valid-parts", framed);
  });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  dgc::train::CheckpointFile file;
  file.path = "fuzz.pt";
  if (data[0] % 2 == 0) {
    file.bytes = std::string(rest);
  } else {
    if (rest.size() < 4) return 0;
    const std::size_t length = std::min<std::size_t>(
        rest.size() - 4, std::uint32_t{data[1]} | std::uint32_t{data[2]} << 8 |
                             std::uint32_t{data[3]} << 16 | std::uint32_t{data[4]} << 24);
    file.bytes = dgc::train::encode_checkpoint(rest.substr(4, length), rest.substr(4 + length));
  }
  try {
    const dgc::train::CheckpointParts parts = dgc::train::decode_checkpoint(file.bytes, file.path);
    file.metadata = std::string(parts.metadata);
    file.payload_offset = static_cast<std::size_t>(parts.payload.data() - file.bytes.data());
    const dgc::train::CheckpointMeta meta = dgc::train::parse_meta(file.metadata, file.path);
    // What parse_meta promises.
    if (meta.position.epoch < 0 || meta.position.step < 0 || meta.rank < 0 ||
        meta.rank >= meta.world_size) {
      std::abort();
    }
    store().restore(file, [](torch::serialize::InputArchive& archive) {
      torch::serialize::InputArchive model_archive;
      archive.read("model", model_archive);
      model()->load(model_archive);
    });
  } catch (const dgc::Error&) {
    // The loader's one way of saying no.
  }
  return 0;
}
