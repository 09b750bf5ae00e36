// dgc-train's checkpoint store: round trip, rotation per rank, latest and best, atomic writes
// (no temporary file left, a failing write changes nothing) and clear load errors.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/serialize/archive.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <stdexcept>
#include <string>

#include "checkpoint/checkpoint_store.h"
#include "dgc/error.h"
#include "scratch_dir.h"

namespace dgc::train {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::ThrowsMessage;

// A run directory per test that does not exist yet: the store creates it.
class CheckpointTest : public ::testing::Test {
 protected:

  // The file names in dir_, sorted.
  std::set<std::string> files() const {
    std::set<std::string> names;
    for (const auto& entry : fs::directory_iterator(dir_)) {
      names.insert(entry.path().filename().string());
    }
    return names;
  }

  std::set<std::string> temp_files() const {
    std::set<std::string> names;
    for (const std::string& name : files()) {
      if (name[0] == '.' || name.find("tmp") != std::string::npos) names.insert(name);
    }
    return names;
  }

  dgc::test::ScratchDir scratch_{"dgc-train-checkpoint"};
  const fs::path dir_ = scratch_.path() / "run";
};

// A writer of a small archive tagged with `epoch`.
auto tagged(std::int64_t epoch) {
  return [epoch](torch::serialize::OutputArchive& archive) {
    archive.write("epoch", c10::IValue(epoch));
    archive.write("weights", torch::full({4}, static_cast<double>(epoch)));
  };
}

// The "epoch" tag of the archive at `path`.
std::int64_t tag_of(const std::string& path) {
  torch::serialize::InputArchive archive;
  archive.load_from(path);
  c10::IValue epoch;
  archive.read("epoch", epoch);
  return epoch.toInt();
}

std::string contents(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST_F(CheckpointTest, RoundTripOfTensorsAndAnInt) {
  torch::manual_seed(7);
  const torch::Tensor weights = torch::randn({3, 5});
  const torch::Tensor indices = torch::arange(10, torch::kInt64);
  const torch::Tensor half = torch::randn({6}).to(torch::kHalf);

  CheckpointStore store(dir_.string(), 0);
  store.save(
      4,
      [&](torch::serialize::OutputArchive& archive) {
        archive.write("weights", weights);
        archive.write("indices", indices);
        archive.write("half", half);
        archive.write("step", c10::IValue(std::int64_t{1234567890123}));
      },
      false);

  ASSERT_EQ(store.latest(), (dir_ / "latest-r0.pt").string());
  torch::Tensor weights2, indices2, half2;
  c10::IValue step;
  ASSERT_TRUE(store.load_latest([&](torch::serialize::InputArchive& archive) {
    archive.read("weights", weights2);
    archive.read("indices", indices2);
    archive.read("half", half2);
    archive.read("step", step);
  }));
  EXPECT_TRUE(torch::equal(weights, weights2));
  EXPECT_TRUE(torch::equal(indices, indices2));
  EXPECT_EQ(half2.scalar_type(), torch::kHalf);
  EXPECT_TRUE(torch::equal(half, half2));
  EXPECT_EQ(step.toInt(), 1234567890123);
}

TEST_F(CheckpointTest, FreshDirectoryHasNoLatest) {
  CheckpointStore store((dir_ / "not" / "yet").string(), 0);  // created on construction
  EXPECT_TRUE(fs::is_directory(dir_ / "not" / "yet"));
  EXPECT_EQ(store.latest(), std::nullopt);
  bool called = false;
  EXPECT_FALSE(store.load_latest([&](torch::serialize::InputArchive&) { called = true; }));
  EXPECT_FALSE(called);
}

TEST_F(CheckpointTest, KeepsTheThreeNewestEpochsOfThisRankOnly) {
  // Other ranks share the directory: rank 1 (a prefix of rank 10's name) keeps everything, and
  // rank 10 keeps its default 3 of its own.
  CheckpointStore rank1(dir_.string(), 1, /*keep=*/100);
  CheckpointStore rank10(dir_.string(), 10);
  for (std::int64_t epoch = 0; epoch < 6; ++epoch) rank1.save(epoch, tagged(epoch), false);
  for (std::int64_t epoch = 0; epoch < 5; ++epoch) rank10.save(epoch, tagged(epoch), false);

  CheckpointStore store(dir_.string(), 0);
  for (std::int64_t epoch = 0; epoch < 12; ++epoch) {
    store.save(epoch, tagged(epoch), false);
    std::vector<std::string> mine;
    for (const std::string& name : files()) {
      if (name.rfind("e", 0) == 0 && name.find("-r0.pt") != std::string::npos) {
        mine.push_back(name);
      }
    }
    const std::size_t expected = std::min<std::int64_t>(epoch + 1, 3);
    ASSERT_EQ(mine.size(), expected) << "after epoch " << epoch;
  }
  EXPECT_EQ(files(),
            (std::set<std::string>{"e9-r0.pt", "e10-r0.pt", "e11-r0.pt", "latest-r0.pt",        //
                                   "e0-r1.pt", "e1-r1.pt", "e2-r1.pt", "e3-r1.pt", "e4-r1.pt",  //
                                   "e5-r1.pt", "latest-r1.pt",                                  //
                                   "e2-r10.pt", "e3-r10.pt", "e4-r10.pt", "latest-r10.pt"}));
  EXPECT_EQ(tag_of(store.epoch_path(11)), 11);
  EXPECT_EQ(tag_of(rank1.latest_path()), 5);
  EXPECT_EQ(tag_of(rank10.latest_path()), 4);
}

TEST_F(CheckpointTest, LatestAndBestAreUpdatedCopies) {
  CheckpointStore store(dir_.string(), 2);
  store.save(0, tagged(0), /*is_best=*/true);
  EXPECT_EQ(tag_of(store.best_path()), 0);
  store.save(1, tagged(1), false);
  store.save(2, tagged(2), true);
  store.save(3, tagged(3), false);
  store.save(4, tagged(4), false);
  store.save(5, tagged(5), false);  // epoch 2 rotated away: best must not depend on it

  EXPECT_EQ(files(), (std::set<std::string>{"e3-r2.pt", "e4-r2.pt", "e5-r2.pt", "latest-r2.pt",
                                            "best-r2.pt"}));
  EXPECT_FALSE(fs::is_symlink(store.latest_path()));
  EXPECT_FALSE(fs::is_symlink(store.best_path()));
  EXPECT_EQ(tag_of(store.best_path()), 2);
  EXPECT_EQ(tag_of(store.latest_path()), 5);
  EXPECT_EQ(contents(store.latest_path()), contents(store.epoch_path(5)));

  std::int64_t loaded = -1;
  ASSERT_TRUE(store.load_latest([&](torch::serialize::InputArchive& archive) {
    c10::IValue epoch;
    archive.read("epoch", epoch);
    loaded = epoch.toInt();
  }));
  EXPECT_EQ(loaded, 5);
}

TEST_F(CheckpointTest, LeavesNoTemporaryFiles) {
  CheckpointStore store(dir_.string(), 0);
  for (std::int64_t epoch = 0; epoch < 5; ++epoch) store.save(epoch, tagged(epoch), epoch % 2);
  EXPECT_THAT(temp_files(), IsEmpty());
}

TEST_F(CheckpointTest, AThrowingWriteChangesNothing) {
  // A crash mid-write: the callback has put something in the archive, then fails.
  CheckpointStore store(dir_.string(), 0);
  store.save(0, tagged(0), true);
  const std::string latest_before = contents(store.latest_path());
  const std::set<std::string> files_before = files();

  EXPECT_THAT(
      [&] {
        store.save(
            1,
            [](torch::serialize::OutputArchive& archive) {
              archive.write("weights", torch::ones({1000}));
              throw std::runtime_error("boom");
            },
            true);
      },
      ThrowsMessage<std::runtime_error>(HasSubstr("boom")));

  EXPECT_EQ(files(), files_before);
  EXPECT_THAT(temp_files(), IsEmpty());
  EXPECT_EQ(contents(store.latest_path()), latest_before);
  EXPECT_EQ(tag_of(store.latest_path()), 0);
  EXPECT_EQ(tag_of(store.best_path()), 0);
}

TEST_F(CheckpointTest, RemovesTemporaryFilesOfThisRankLeftByACrash) {
  // What a kill between mkstemp and rename leaves: a hidden temporary next to the real names.
  fs::create_directories(dir_);
  std::ofstream(dir_ / ".latest-r0.pt.tmp-a1b2c3") << "half a checkpoint";
  std::ofstream(dir_ / ".e3-r0.pt.tmp-d4e5f6") << "half a checkpoint";
  std::ofstream(dir_ / ".latest-r1.pt.tmp-a1b2c3") << "rank 1's, still being written";
  CheckpointStore store(dir_.string(), 0);
  EXPECT_EQ(files(), (std::set<std::string>{".latest-r1.pt.tmp-a1b2c3"}));
  EXPECT_EQ(store.latest(), std::nullopt);
}

TEST_F(CheckpointTest, TruncatedLatestIsAnErrorNamingTheFile) {
  CheckpointStore store(dir_.string(), 0);
  store.save(0, tagged(0), false);
  const std::string latest = store.latest_path();
  fs::resize_file(latest, fs::file_size(latest) / 2);

  EXPECT_THAT([&] { store.load_latest([](torch::serialize::InputArchive&) {}); },
              ThrowsMessage<dgc::Error>(
                  AllOf(HasSubstr("cannot read checkpoint " + latest), HasSubstr("truncated"))));
  // One line for the user, without libtorch's backtrace.
  try {
    store.load_latest([](torch::serialize::InputArchive&) {});
  } catch (const dgc::Error& e) {
    EXPECT_EQ(e.message().find('\n'), std::string::npos) << e.message();
  }
}

TEST_F(CheckpointTest, GarbageLatestIsAnErrorNamingTheFile) {
  fs::create_directories(dir_);
  std::ofstream(dir_ / "latest-r3.pt") << "not a zip archive at all";
  CheckpointStore store(dir_.string(), 3);
  EXPECT_THAT([&] { store.load_latest([](torch::serialize::InputArchive&) {}); },
              ThrowsMessage<dgc::Error>(
                  HasSubstr("cannot read checkpoint " + (dir_ / "latest-r3.pt").string())));
}

TEST_F(CheckpointTest, MissingKeyIsAnErrorNamingTheFile) {
  CheckpointStore store(dir_.string(), 0);
  store.save(0, tagged(0), false);
  EXPECT_THAT(
      [&] {
        store.load_latest([](torch::serialize::InputArchive& archive) {
          torch::Tensor memory;
          archive.read("compressor_memory", memory);
        });
      },
      ThrowsMessage<dgc::Error>(
          AllOf(HasSubstr("cannot restore from checkpoint " + store.latest_path()),
                HasSubstr("compressor_memory"))));
  // The caller's own dgc::Errors pass through unchanged.
  EXPECT_THAT(
      [&] {
        store.load_latest([](torch::serialize::InputArchive&) { DGC_FAIL("model mismatch"); });
      },
      ThrowsMessage<dgc::Error>(
          AllOf(HasSubstr("model mismatch"), ::testing::Not(HasSubstr("restore")))));
}

TEST_F(CheckpointTest, BadArguments) {
  EXPECT_THAT([&] { CheckpointStore(dir_.string(), -1); },
              ThrowsMessage<dgc::Error>(HasSubstr("rank")));
  EXPECT_THAT([&] { CheckpointStore(dir_.string(), 0, 0); },
              ThrowsMessage<dgc::Error>(HasSubstr("keep")));
  CheckpointStore store(dir_.string(), 0);
  EXPECT_THAT([&] { store.save(-1, tagged(0), false); },
              ThrowsMessage<dgc::Error>(HasSubstr("epoch")));
}

}  // namespace
}  // namespace dgc::train
