// The byte layout of one dgc-train checkpoint file: a header that proves the file is whole, a
// metadata text that says what the file holds, and the libtorch archive itself.
//
// libtorch's archive reader does not verify the zip's CRCs: flipped bytes inside a tensor load
// silently. So every file carries its own CRC-32C, checked before anything else reads it.
// Layout, version 1 (integers little-endian):
//   offset  0: 8 bytes  magic "DGCCKPT\n"
//   offset  8: uint32   format version (1)
//   offset 12: uint32   CRC-32C of every byte of the file except these 4
//   offset 16: uint64   metadata length M
//   offset 24: M bytes  metadata (UTF-8 text; dgc-train writes YAML: position, world size,
//                       rank, the resolved config)
//   offset 24 + M:      the payload (a libtorch archive) to the end of the file
// Strip the first 24 + M bytes to get a plain archive for torch::load / torch.jit.load.
// Torch-free pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace dgc::train {

inline constexpr std::uint32_t kCheckpointFormatVersion = 1;
inline constexpr std::size_t kCheckpointHeaderBytes = 24;

// A file's two parts, viewing the bytes they were parsed from.
struct CheckpointParts {
  std::string_view metadata;
  std::string_view payload;
};

// The file's bytes for `metadata` and `payload`.
std::string encode_checkpoint(std::string_view metadata, std::string_view payload);

// Splits a file's bytes after checking the magic, the version, the lengths and the CRC. Anything
// wrong is a dgc::Error that names `name` (the file) and says what is wrong.
CheckpointParts decode_checkpoint(std::string_view bytes, const std::string& name);

// What is wrong with `zip` as a libtorch archive, or empty. libtorch's reader checks neither the
// zip's CRC-32 of each record nor its sizes: it allocates what the directory claims (a record of
// 8 GB in a 3 kB payload exhausts the memory) and believes the lengths inside its pickles (a
// changed byte there made it reserve gigabytes). So before libtorch sees an archive: the
// directory must be whole, every record within the archive (ZIP64 sizes included), and its bytes
// (inflated through a fixed buffer when deflated) must match the directory's size and CRC-32. The file's own CRC
// already catches damage on disk; this catches an archive that was wrong when it was framed.
std::string archive_problem(std::string_view zip);

}  // namespace dgc::train
