// Writing a whole file so that nobody ever sees half of it: dgc-train's checkpoints and
// config.yaml. Torch-free, like dgc::Error.
#pragma once

#include <string>
#include <string_view>

namespace dgc::apps {

// Replaces the file at `path` with `bytes`. The bytes go to a temporary file in the same directory,
// named temporary_file_prefix(name) plus six random characters, which is fsynced and renamed over
// `path`; then the directory is fsynced. A reader, or a crash at any moment, finds `path` either
// as it was or complete. On failure the temporary file is removed, `path` is untouched, and a
// dgc::Error says "cannot write PATH: " and why. The file gets mode 0644.
void write_file_atomically(const std::string& path, std::string_view bytes);

// ".{file_name}.tmp-": what a temporary file of write_file_atomically starts with. Only a crash
// mid-write leaves one behind.
std::string temporary_file_prefix(const std::string& file_name);

}  // namespace dgc::apps
