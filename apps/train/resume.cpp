#include "resume.h"

#include <algorithm>
#include <filesystem>
#include <set>
#include <sstream>

#include "collective.h"
#include "dgc/error.h"

namespace dgc::train {
namespace {

// What one rank found in one of its files.
struct FileReport {
  std::string name;  // the file name, for messages
  bool intact = false;
  Position position;
  int world_size = 0;
  std::string problem;  // when not intact
};

struct RankReport {
  int files = 0;  // checkpoint files present, intact or not
  std::vector<FileReport> checked;
};

std::string one_line(std::string text) {
  std::replace(text.begin(), text.end(), '\n', ' ');
  std::replace(text.begin(), text.end(), '\t', ' ');
  return text;
}

std::string encode(const RankReport& r) {
  std::ostringstream out;
  out << r.files << '\n';
  for (const auto& f : r.checked) {
    out << f.name << '\t' << f.intact << '\t' << f.position.epoch << '\t' << f.position.step << '\t'
        << f.world_size << '\t' << one_line(f.problem) << '\n';
  }
  return out.str();
}

RankReport decode(const std::string& text) {
  RankReport r;
  std::istringstream in(text);
  std::string line;
  std::getline(in, line);
  r.files = std::stoi(line);
  while (std::getline(in, line)) {
    FileReport f;
    std::istringstream fields(line);
    std::string intact, epoch, step, world;
    std::getline(fields, f.name, '\t');
    std::getline(fields, intact, '\t');
    std::getline(fields, epoch, '\t');
    std::getline(fields, step, '\t');
    std::getline(fields, world, '\t');
    std::getline(fields, f.problem);
    f.intact = intact == "1";
    f.position = {std::stoll(epoch), std::stoll(step)};
    f.world_size = std::stoi(world);
    r.checked.push_back(f);
  }
  return r;
}

// Every rank's report, in rank order. The texts are this program's own, but they cross the
// network: decode() throws (std::invalid_argument) on a malformed one rather than guessing.
std::vector<RankReport> exchange(Communicator& comm, const RankReport& mine) {
  std::vector<RankReport> reports;
  for (const std::string& text : allgather_texts(comm, encode(mine))) {
    reports.push_back(decode(text));
  }
  return reports;
}

// "rank 3 has" or "ranks 0, 2 have".
std::string ranks_have(const std::vector<int>& ranks) {
  return (ranks.size() == 1 ? "rank " : "ranks ") + rank_list(ranks) +
         (ranks.size() == 1 ? " has" : " have");
}

// Reads and verifies `path`; a problem becomes the report's text instead of an exception.
FileReport check(const CheckpointStore& store, const std::string& path,
                 std::optional<CheckpointFile>* keep, CheckpointMeta* meta) {
  FileReport report;
  report.name = std::filesystem::path(path).filename().string();
  try {
    CheckpointFile file = store.read(path);
    const CheckpointMeta m = parse_meta(file.metadata, path);
    report.intact = true;
    report.position = m.position;
    report.world_size = m.world_size;
    if (keep != nullptr) *keep = std::move(file);
    if (meta != nullptr) *meta = m;
  } catch (const Error& e) {
    report.problem = e.message();
  }
  return report;
}

}  // namespace

ResumeDecision decide_resume(Communicator& comm, const CheckpointStore& store) {
  ResumeDecision decision;
  const int size = comm.size();

  // Round 1: only latest, which is where every rank stands after any clean stop.
  RankReport mine;
  std::vector<std::string> files;
  run_together(comm, [&] {
    files = store.files();
    mine.files = static_cast<int>(files.size());
    if (!files.empty() && files[0] == store.latest_path()) {
      mine.checked.push_back(check(store, files[0], &decision.file, &decision.meta));
    }
  });
  std::vector<RankReport> reports = exchange(comm, mine);

  std::vector<int> with, without;
  for (int r = 0; r < size; ++r) (reports[r].files > 0 ? with : without).push_back(r);
  if (with.empty()) return {};
  if (!without.empty()) {
    throw CollectiveFailure(
        "cannot resume in " + store.directory() + ": " + ranks_have(with) +
        " checkpoint files and " + ranks_have(without) +
        " none (a file deleted, or a job of another world size). Every rank needs its own; "
        "restore the missing files, or start a new run (another --suffix or logging.runs_dir)");
  }
  for (int r = 0; r < size; ++r) {
    for (const auto& f : reports[r].checked) {
      if (f.intact && f.world_size != size) {
        throw CollectiveFailure(
            "cannot resume in " + store.directory() + ": rank " + std::to_string(r) + "'s " +
            f.name + " was written by a job of " + std::to_string(f.world_size) +
            " ranks and this job has " + std::to_string(size) +
            ". dgc-train resumes only at the world size that wrote the checkpoints (each rank's "
            "DGC memory and data shard belong to it): rerun with -np " +
            std::to_string(f.world_size) + ", or start a new run");
      }
    }
  }
  const auto latest_agrees = [&] {
    for (int r = 0; r < size; ++r) {
      const auto& c = reports[r].checked;
      if (c.empty() || !c[0].intact || !(c[0].position == reports[0].checked[0].position)) {
        return false;
      }
    }
    return true;
  };
  if (latest_agrees()) return decision;

  // Round 2: every file of every rank; the newest position that all ranks hold intact.
  decision = {};
  mine.checked.clear();
  run_together(comm, [&] {
    for (const auto& path : files) mine.checked.push_back(check(store, path, nullptr, nullptr));
  });
  reports = exchange(comm, mine);
  std::set<Position> common;
  for (const auto& f : reports[0].checked) {
    if (f.intact) common.insert(f.position);
  }
  std::ostringstream found;
  for (int r = 0; r < size; ++r) {
    std::set<Position> held;
    found << "\n  rank " << r << ":";
    for (const auto& f : reports[r].checked) {
      if (f.intact && f.world_size == size) held.insert(f.position);
      found << " " << f.name << " "
            << (f.intact ? "at " + describe(f.position) : "unusable (" + f.problem + ")") << ";";
    }
    std::set<Position> both;
    std::set_intersection(common.begin(), common.end(), held.begin(), held.end(),
                          std::inserter(both, both.begin()));
    common.swap(both);
  }
  if (common.empty()) {
    throw CollectiveFailure("cannot resume in " + store.directory() +
                            ": no position is held intact by every rank; found:" + found.str());
  }
  const Position target = *common.rbegin();
  decision.warning =
      "=> warning: the ranks' latest checkpoints do not agree; every rank resumes "
      "from " +
      describe(target) + ", the newest position all ranks hold intact. Found:" + found.str();
  run_together(comm, [&] {
    for (const auto& path : files) {
      std::optional<CheckpointFile> file;
      CheckpointMeta meta;
      if (check(store, path, &file, &meta).intact && meta.position == target) {
        decision.file = std::move(file);
        decision.meta = meta;
        return;
      }
    }
    DGC_FAIL("the checkpoint at ", describe(target), " changed while resuming");
  });
  return decision;
}

void check_ranks_agree(Communicator& comm, const Position& position, std::uint32_t config_crc,
                       std::uint32_t parameters) {
  constexpr int kFields = 4;
  static const char* const kNames[kFields] = {"epoch", "step", "settings (config CRC)",
                                              "model parameters (CRC)"};
  const std::int64_t mine[kFields] = {position.epoch, position.step, config_crc, parameters};
  std::vector<std::int64_t> all(static_cast<std::size_t>(kFields * comm.size()));
  comm.allgather(mine, sizeof mine, all.data());
  std::string differences;
  for (int r = 1; r < comm.size(); ++r) {
    for (int f = 0; f < kFields; ++f) {
      const std::int64_t theirs = all[static_cast<std::size_t>(r * kFields + f)];
      if (theirs == all[static_cast<std::size_t>(f)]) continue;
      differences += (differences.empty() ? "" : "; ") + std::string("rank ") + std::to_string(r) +
                     "'s " + kNames[f] + " is " + std::to_string(theirs) + ", rank 0's " +
                     std::to_string(all[static_cast<std::size_t>(f)]);
    }
  }
  if (!differences.empty()) {
    throw CollectiveFailure("the ranks do not agree after loading: " + differences +
                            " (different config files on some host, or checkpoints of different "
                            "runs mixed in one directory)");
  }
}

}  // namespace dgc::train
