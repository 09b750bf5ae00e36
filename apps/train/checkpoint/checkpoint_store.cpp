#include "checkpoint/checkpoint_store.h"

#include <torch/serialize/archive.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include "atomic_file.h"
#include "checkpoint/checkpoint_file.h"
#include "dgc/error.h"

namespace dgc::train {
namespace {

namespace fs = std::filesystem;

// c10::Error's what() appends a C++ backtrace; users get one line.
std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

std::string describe(const std::exception& e) {
  if (const auto* c10_error = dynamic_cast<const c10::Error*>(&e)) {
    return first_line(c10_error->what_without_backtrace());
  }
  return first_line(e.what());
}

// The epoch of `name` if it is `e{epoch}-r{rank}.pt` with exactly this rank, else -1.
std::int64_t epoch_of(const std::string& name, const std::string& rank_suffix) {
  if (name.size() <= 1 + rank_suffix.size() || name[0] != 'e') return -1;
  if (name.compare(name.size() - rank_suffix.size(), rank_suffix.size(), rank_suffix) != 0) {
    return -1;
  }
  const std::string digits = name.substr(1, name.size() - 1 - rank_suffix.size());
  if (digits.empty() || digits.size() > 18 ||
      !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return -1;
  }
  return std::stoll(digits);
}

}  // namespace

CheckpointStore::CheckpointStore(std::string directory, int rank, int keep)
    : directory_(std::move(directory)), rank_(rank), keep_(keep) {
  DGC_CHECK(!directory_.empty(), "checkpoint directory must not be empty");
  DGC_CHECK(rank_ >= 0, "checkpoint rank must be >= 0, got ", rank_);
  DGC_CHECK(keep_ >= 1, "checkpoint keep must be >= 1, got ", keep_);
  std::error_code error;
  fs::create_directories(directory_, error);
  DGC_CHECK(!error, "cannot create checkpoint directory ", directory_, ": ", error.message());

  // Temporary files of this rank can only be left by a crash mid-save (every other path deletes
  // them); a rank's files are written only by that rank, so they are safe to remove. Their names
  // are apps::temporary_file_prefix("{name}-r{rank}.pt") plus a random suffix.
  const std::string marker = "-r" + std::to_string(rank_) + ".pt.tmp-";
  for (const auto& entry : fs::directory_iterator(directory_, error)) {
    const std::string name = entry.path().filename().string();
    if (name[0] == '.' && name.find(marker) != std::string::npos) {
      fs::remove(entry.path(), error);
    }
  }
}

std::string CheckpointStore::path_in(const std::string& directory, const std::string& name,
                                     int rank) {
  return (fs::path(directory) / (name + "-r" + std::to_string(rank) + ".pt")).string();
}

std::string CheckpointStore::epoch_path(std::int64_t epoch) const {
  return path_in(directory_, "e" + std::to_string(epoch), rank_);
}

std::string CheckpointStore::latest_path() const { return path_in(directory_, "latest", rank_); }

std::string CheckpointStore::best_path() const { return path_in(directory_, "best", rank_); }

std::string CheckpointStore::serialize(const std::string& metadata, const Writer& write) const {
  // Serialized once in memory, before any file is touched: a throwing `write` changes nothing,
  // and latest and best are byte-identical copies of the epoch file.
  torch::serialize::OutputArchive archive;
  write(archive);
  std::string payload;
  archive.save_to([&payload](const void* data, std::size_t size) {
    payload.append(static_cast<const char*>(data), size);
    return size;
  });
  return encode_checkpoint(metadata, payload);
}

void CheckpointStore::save_epoch(std::int64_t epoch, const std::string& metadata,
                                 const Writer& write, bool is_best) {
  DGC_CHECK(epoch >= 0, "checkpoint epoch must be >= 0, got ", epoch);
  const std::string bytes = serialize(metadata, write);
  // Epoch file first: a crash before latest is replaced leaves latest at the previous position,
  // which is still a complete, consistent checkpoint.
  apps::write_file_atomically(epoch_path(epoch), bytes);
  apps::write_file_atomically(latest_path(), bytes);
  if (is_best) apps::write_file_atomically(best_path(), bytes);
  rotate();
}

void CheckpointStore::save_latest(const std::string& metadata, const Writer& write) {
  apps::write_file_atomically(latest_path(), serialize(metadata, write));
}

std::vector<std::pair<std::int64_t, std::string>> CheckpointStore::epoch_files() const {
  const std::string rank_suffix = "-r" + std::to_string(rank_) + ".pt";
  std::vector<std::pair<std::int64_t, std::string>> epochs;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(directory_, error)) {
    const std::int64_t epoch = epoch_of(entry.path().filename().string(), rank_suffix);
    if (epoch >= 0) epochs.emplace_back(epoch, entry.path().string());
  }
  DGC_CHECK(!error, "cannot list checkpoint directory ", directory_, ": ", error.message());
  std::sort(epochs.begin(), epochs.end(),
            [](const auto& a, const auto& b) { return a.first > b.first; });
  return epochs;
}

void CheckpointStore::rotate() const {
  const auto epochs = epoch_files();
  std::error_code error;
  for (std::size_t i = static_cast<std::size_t>(keep_); i < epochs.size(); ++i) {
    fs::remove(epochs[i].second, error);
    DGC_CHECK(!error, "cannot delete old checkpoint ", epochs[i].second, ": ", error.message());
  }
}

std::vector<std::string> CheckpointStore::files() const {
  std::vector<std::string> out;
  std::error_code error;
  if (fs::exists(latest_path(), error)) out.push_back(latest_path());
  for (const auto& [epoch, path] : epoch_files()) out.push_back(path);
  return out;
}

CheckpointFile CheckpointStore::read(const std::string& path) {
  CheckpointFile file;
  file.path = path;
  std::ifstream in(path, std::ios::binary);
  DGC_CHECK(in, "cannot open checkpoint ", path, ": ", std::strerror(errno));
  std::ostringstream content;
  content << in.rdbuf();
  DGC_CHECK(!in.bad(), "cannot read checkpoint ", path, ": ", std::strerror(errno));
  file.bytes = std::move(content).str();
  const CheckpointParts parts = decode_checkpoint(file.bytes, path);
  file.metadata = std::string(parts.metadata);
  file.payload_offset = static_cast<std::size_t>(parts.payload.data() - file.bytes.data());
  return file;
}

void CheckpointStore::restore(const CheckpointFile& file, const Reader& read_archive) {
  const std::string_view payload = std::string_view(file.bytes).substr(file.payload_offset);
  const std::string problem = archive_problem(payload);
  DGC_CHECK(problem.empty(), "cannot read the archive in checkpoint ", file.path, ": ", problem);
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(file.bytes.data() + file.payload_offset,
                      file.bytes.size() - file.payload_offset);
  } catch (const std::exception& e) {
    DGC_FAIL("cannot read the archive in checkpoint ", file.path, ": ", describe(e));
  }
  try {
    read_archive(archive);
  } catch (const dgc::Error&) {
    throw;
  } catch (const std::exception& e) {
    DGC_FAIL("cannot restore from checkpoint ", file.path, ": ", describe(e));
  }
}

}  // namespace dgc::train
