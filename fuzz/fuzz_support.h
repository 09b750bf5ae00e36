// What the fuzz targets share: a scratch directory for readers that take paths, and the seed
// corpus each target writes for scripts/fuzz.sh.
//
// The dataset and config readers are fuzzed through real files rather than an in-memory copy of
// their logic: the file layer is part of what is under test (zlib's gzread with its transparent
// plain-file mode and its truncation reporting, the size bound taken from the file system), and
// a second, memory-only path would be code that production never runs. The files go to /dev/shm
// when it exists, so an input costs a memory write, not a disk write.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

namespace dgc::fuzz {

using Bytes = std::vector<std::uint8_t>;

// One empty directory per process, removed at exit.
inline const std::filesystem::path& scratch_dir() {
  struct Scratch {
    std::filesystem::path path;
    Scratch() {
      namespace fs = std::filesystem;
      std::error_code ec;
      const fs::path base =
          fs::is_directory("/dev/shm", ec) ? fs::path("/dev/shm") : fs::temp_directory_path();
      path = base / ("dgc-fuzz-" + std::to_string(::getpid()));
      fs::remove_all(path, ec);
      fs::create_directories(path);
    }
    ~Scratch() {
      std::error_code ignored;  // a leftover directory is harmless; a throwing destructor is not
      std::filesystem::remove_all(path, ignored);
    }
  };
  static const Scratch scratch;
  return scratch.path;
}

inline void write_file(const std::filesystem::path& path, const std::uint8_t* data,
                       std::size_t size) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
}

inline void write_file(const std::filesystem::path& path, const Bytes& bytes) {
  write_file(path, bytes.data(), bytes.size());
}

inline void put_u32_be(Bytes& out, std::uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<std::uint8_t>(value >> shift));
}

inline void put_u32_le(Bytes& out, std::uint32_t value) {
  for (int shift = 0; shift < 32; shift += 8)
    out.push_back(static_cast<std::uint8_t>(value >> shift));
}

// Called from LLVMFuzzerInitialize: with DGC_FUZZ_WRITE_SEEDS=DIR in the environment, the
// target writes its seed inputs into DIR (each `name` a file) and exits; otherwise nothing.
// Seeds are made by the target that reads them, so their format cannot drift from it.
inline void write_seeds_if_asked(
    const std::function<void(const std::function<void(const std::string& name, const Bytes&)>&)>&
        make_seeds) {
  const char* dir = std::getenv("DGC_FUZZ_WRITE_SEEDS");
  if (dir == nullptr || *dir == '\0') return;
  int count = 0;
  make_seeds([&](const std::string& name, const Bytes& bytes) {
    write_file(std::filesystem::path(dir) / name, bytes);
    ++count;
  });
  std::printf("wrote %d seeds to %s\n", count, dir);
  std::exit(0);
}

}  // namespace dgc::fuzz
