// dgc-train's checkpoint files and store: the file layout and its CRC (flipped bytes, truncation,
// a wrong header), round trip, rotation per rank, latest and best, atomic writes (no temporary
// file left, a failing write changes nothing) and clear load errors.
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

#include "checkpoint/checkpoint_file.h"
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

// Verifies and loads the checkpoint at `path`.
void load(const std::string& path, const CheckpointStore::Reader& read) {
  CheckpointStore store(fs::path(path).parent_path().string(), 0);
  store.restore(store.read(path), read);
}

// The "epoch" tag of the archive at `path`.
std::int64_t tag_of(const std::string& path) {
  std::int64_t tag = -1;
  load(path, [&](torch::serialize::InputArchive& archive) {
    c10::IValue epoch;
    archive.read("epoch", epoch);
    tag = epoch.toInt();
  });
  return tag;
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
  store.save_epoch(
      4, "next_epoch: 5",
      [&](torch::serialize::OutputArchive& archive) {
        archive.write("weights", weights);
        archive.write("indices", indices);
        archive.write("half", half);
        archive.write("step", c10::IValue(std::int64_t{1234567890123}));
      },
      false);

  EXPECT_THAT(store.files(),
              ElementsAre((dir_ / "latest-r0.pt").string(), (dir_ / "e4-r0.pt").string()));
  const CheckpointFile file = store.read(store.latest_path());
  EXPECT_EQ(file.metadata, "next_epoch: 5");
  torch::Tensor weights2, indices2, half2;
  c10::IValue step;
  store.restore(file, [&](torch::serialize::InputArchive& archive) {
    archive.read("weights", weights2);
    archive.read("indices", indices2);
    archive.read("half", half2);
    archive.read("step", step);
  });
  EXPECT_TRUE(torch::equal(weights, weights2));
  EXPECT_TRUE(torch::equal(indices, indices2));
  EXPECT_EQ(half2.scalar_type(), torch::kHalf);
  EXPECT_TRUE(torch::equal(half, half2));
  EXPECT_EQ(step.toInt(), 1234567890123);
}

TEST_F(CheckpointTest, FreshDirectoryHasNoLatest) {
  CheckpointStore store((dir_ / "not" / "yet").string(), 0);  // created on construction
  EXPECT_TRUE(fs::is_directory(dir_ / "not" / "yet"));
  EXPECT_THAT(store.files(), IsEmpty());
}

TEST_F(CheckpointTest, KeepsTheThreeNewestEpochsOfThisRankOnly) {
  // Other ranks share the directory: rank 1 (a prefix of rank 10's name) keeps everything, and
  // rank 10 keeps its default 3 of its own.
  CheckpointStore rank1(dir_.string(), 1, /*keep=*/100);
  CheckpointStore rank10(dir_.string(), 10);
  for (std::int64_t epoch = 0; epoch < 6; ++epoch)
    rank1.save_epoch(epoch, "", tagged(epoch), false);
  for (std::int64_t epoch = 0; epoch < 5; ++epoch)
    rank10.save_epoch(epoch, "", tagged(epoch), false);

  CheckpointStore store(dir_.string(), 0);
  for (std::int64_t epoch = 0; epoch < 12; ++epoch) {
    store.save_epoch(epoch, "", tagged(epoch), false);
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
  EXPECT_THAT(store.files(), ElementsAre(store.latest_path(), store.epoch_path(11),
                                         store.epoch_path(10), store.epoch_path(9)));
}

TEST_F(CheckpointTest, LatestAndBestAreUpdatedCopies) {
  CheckpointStore store(dir_.string(), 2);
  store.save_epoch(0, "", tagged(0), /*is_best=*/true);
  EXPECT_EQ(tag_of(store.best_path()), 0);
  store.save_epoch(1, "", tagged(1), false);
  store.save_epoch(2, "", tagged(2), true);
  store.save_epoch(3, "", tagged(3), false);
  store.save_epoch(4, "", tagged(4), false);
  store.save_epoch(5, "", tagged(5), false);  // epoch 2 rotated away: best must not depend on it

  EXPECT_EQ(files(), (std::set<std::string>{"e3-r2.pt", "e4-r2.pt", "e5-r2.pt", "latest-r2.pt",
                                            "best-r2.pt"}));
  EXPECT_FALSE(fs::is_symlink(store.latest_path()));
  EXPECT_FALSE(fs::is_symlink(store.best_path()));
  EXPECT_EQ(tag_of(store.best_path()), 2);
  EXPECT_EQ(tag_of(store.latest_path()), 5);
  EXPECT_EQ(contents(store.latest_path()), contents(store.epoch_path(5)));
}

TEST_F(CheckpointTest, SaveLatestReplacesLatestOnly) {
  // A stop inside an epoch: the epoch files and best stay those of the last completed epoch.
  CheckpointStore store(dir_.string(), 0);
  store.save_epoch(0, "epoch end", tagged(0), true);
  store.save_latest("inside epoch 1", tagged(7));
  EXPECT_EQ(files(), (std::set<std::string>{"e0-r0.pt", "latest-r0.pt", "best-r0.pt"}));
  EXPECT_EQ(tag_of(store.latest_path()), 7);
  EXPECT_EQ(store.read(store.latest_path()).metadata, "inside epoch 1");
  EXPECT_EQ(tag_of(store.epoch_path(0)), 0);
  EXPECT_EQ(tag_of(store.best_path()), 0);
}

TEST_F(CheckpointTest, LeavesNoTemporaryFiles) {
  CheckpointStore store(dir_.string(), 0);
  for (std::int64_t epoch = 0; epoch < 5; ++epoch) {
    store.save_epoch(epoch, "", tagged(epoch), epoch % 2);
  }
  store.save_latest("", tagged(9));
  EXPECT_THAT(temp_files(), IsEmpty());
}

TEST_F(CheckpointTest, AThrowingWriteChangesNothing) {
  // A crash mid-write: the callback has put something in the archive, then fails.
  CheckpointStore store(dir_.string(), 0);
  store.save_epoch(0, "", tagged(0), true);
  const std::string latest_before = contents(store.latest_path());
  const std::set<std::string> files_before = files();

  EXPECT_THAT(
      [&] {
        store.save_epoch(
            1, "",
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
  EXPECT_THAT(store.files(), IsEmpty());
}

TEST_F(CheckpointTest, TruncatedFileIsAnErrorNamingTheFile) {
  CheckpointStore store(dir_.string(), 0);
  store.save_epoch(0, "meta", tagged(0), false);
  const std::string latest = store.latest_path();
  for (const std::uintmax_t size :
       {fs::file_size(latest) / 2, std::uintmax_t{30}, std::uintmax_t{10}}) {
    fs::resize_file(latest, size);
    EXPECT_THAT(
        [&] { store.read(latest); },
        ThrowsMessage<dgc::Error>(AllOf(HasSubstr("checkpoint " + latest), HasSubstr("truncated"))))
        << size << " bytes";
  }
}

// The failure the CRC exists for: libtorch loads an archive with changed tensor bytes without a
// word, so the file's own checksum must catch them.
TEST_F(CheckpointTest, FlippedBytesAnywhereAreCaught) {
  CheckpointStore store(dir_.string(), 0);
  store.save_epoch(0, "next_epoch: 1", tagged(0), false);
  const std::string path = store.latest_path();
  const std::string good = contents(path);
  const CheckpointParts parts = decode_checkpoint(good, path);
  const std::size_t payload_at = static_cast<std::size_t>(parts.payload.data() - good.data());

  // 16 bytes in the middle of the archive.
  std::string bad = good;
  for (std::size_t i = 0; i < 16; ++i) bad[good.size() / 2 + i] ^= 0x5a;
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bad;
  EXPECT_THAT(
      [&] { store.read(path); },
      ThrowsMessage<dgc::Error>(AllOf(HasSubstr("checkpoint " + path), HasSubstr("is corrupt"))));

  // One flipped bit in each byte of the header and the metadata, and in a sample of the payload.
  for (std::size_t at = 0; at < good.size(); at += at < payload_at + 64 ? 1 : 97) {
    bad = good;
    bad[at] ^= 0x10;
    EXPECT_THROW(decode_checkpoint(bad, path), dgc::Error) << "byte " << at;
  }
}

TEST_F(CheckpointTest, ForeignFilesAreErrorsNamingTheFile) {
  fs::create_directories(dir_);
  std::ofstream(dir_ / "latest-r3.pt") << "not a checkpoint at all, but long enough";
  CheckpointStore store(dir_.string(), 3);
  EXPECT_THAT([&] { store.read(store.latest_path()); },
              ThrowsMessage<dgc::Error>(
                  AllOf(HasSubstr(store.latest_path()), HasSubstr("not a dgc-train checkpoint"))));
  // Another version of the format.
  std::string other = encode_checkpoint("m", "p");
  other[8] = 2;
  EXPECT_THAT([&] { decode_checkpoint(other, "f.pt"); },
              ThrowsMessage<dgc::Error>(HasSubstr("format version 2")));
  // No file at all.
  EXPECT_THAT([&] { store.read("/nonexistent/latest-r0.pt"); },
              ThrowsMessage<dgc::Error>(HasSubstr("cannot open checkpoint /nonexistent")));
}

TEST_F(CheckpointTest, EncodeDecodeRoundTrip) {
  for (const std::string& metadata : {std::string(), std::string("a: 1\nb: [2, 3]\n")}) {
    for (const std::string& payload : {std::string(), std::string(1000, '\xff')}) {
      const std::string bytes = encode_checkpoint(metadata, payload);
      EXPECT_EQ(bytes.size(), kCheckpointHeaderBytes + metadata.size() + payload.size());
      const CheckpointParts parts = decode_checkpoint(bytes, "x");
      EXPECT_EQ(parts.metadata, metadata);
      EXPECT_EQ(parts.payload, payload);
    }
  }
}

TEST_F(CheckpointTest, UnparsableArchiveAndMissingKeysAreErrorsNamingTheFile) {
  CheckpointStore store(dir_.string(), 0);
  // A whole, checksummed file whose payload is not an archive.
  fs::create_directories(dir_);
  std::ofstream(store.latest_path(), std::ios::binary) << encode_checkpoint("", "not a zip");
  const CheckpointFile garbage = store.read(store.latest_path());
  EXPECT_THAT([&] { store.restore(garbage, [](torch::serialize::InputArchive&) {}); },
              ThrowsMessage<dgc::Error>(
                  HasSubstr("cannot read the archive in checkpoint " + store.latest_path())));

  store.save_epoch(0, "", tagged(0), false);
  const CheckpointFile file = store.read(store.latest_path());
  EXPECT_THAT(
      [&] {
        store.restore(file, [](torch::serialize::InputArchive& archive) {
          torch::Tensor memory;
          archive.read("compressor_memory", memory);
        });
      },
      ThrowsMessage<dgc::Error>(
          AllOf(HasSubstr("cannot restore from checkpoint " + store.latest_path()),
                HasSubstr("compressor_memory"))));
  // One line for the user, without libtorch's backtrace.
  try {
    store.restore(file, [](torch::serialize::InputArchive& archive) {
      torch::Tensor memory;
      archive.read("compressor_memory", memory);
    });
  } catch (const dgc::Error& e) {
    EXPECT_EQ(e.message().find('\n'), std::string::npos) << e.message();
  }
  // The caller's own dgc::Errors pass through unchanged.
  EXPECT_THAT(
      [&] {
        store.restore(file, [](torch::serialize::InputArchive&) { DGC_FAIL("model mismatch"); });
      },
      ThrowsMessage<dgc::Error>(
          AllOf(HasSubstr("model mismatch"), ::testing::Not(HasSubstr("restore")))));
}

// A whole file (its CRC matches) whose archive's directory claims a record of 2 GB would make
// libtorch allocate it before anything failed.
TEST_F(CheckpointTest, ArchivesLibtorchWouldBelieveAreRefusedBeforeItReadsThem) {
  CheckpointStore store(dir_.string(), 0);
  store.save_epoch(0, "", tagged(0), false);
  const CheckpointFile good = store.read(store.latest_path());
  std::string payload = good.bytes.substr(good.payload_offset);
  const std::size_t entry = payload.find(std::string("PK\x01\x02", 4));
  ASSERT_NE(entry, std::string::npos);
  for (std::size_t field : {entry + 20, entry + 24}) payload.replace(field, 4, "\xf0\xff\xff\x7f");
  fs::create_directories(dir_);
  std::ofstream(store.latest_path(), std::ios::binary | std::ios::trunc)
      << encode_checkpoint("", payload);
  const CheckpointFile bad = store.read(store.latest_path());  // whole: the CRC matches
  EXPECT_THAT([&] { store.restore(bad, [](torch::serialize::InputArchive&) {}); },
              ThrowsMessage<dgc::Error>(
                  AllOf(HasSubstr("cannot read the archive in checkpoint " + store.latest_path()),
                        HasSubstr("a record of 2147483632 bytes in an archive of"))));
  EXPECT_EQ(archive_problem(good.bytes.substr(good.payload_offset)), "");
  EXPECT_EQ(archive_problem("PK"), "no zip end record");

  // Also found by fuzz-checkpoint: a changed byte inside a record (the pickle's length of a
  // string) made libtorch reserve gigabytes; the zip's own CRC-32 of the record catches it.
  payload = good.bytes.substr(good.payload_offset);
  const std::size_t first_data =
      30 + static_cast<unsigned char>(payload[26]) + 256 * static_cast<unsigned char>(payload[27]) +
      static_cast<unsigned char>(payload[28]) + 256 * static_cast<unsigned char>(payload[29]);
  payload[first_data] ^= 0x01;
  std::ofstream(store.latest_path(), std::ios::binary | std::ios::trunc)
      << encode_checkpoint("", payload);
  const CheckpointFile changed = store.read(store.latest_path());
  EXPECT_THAT([&] { store.restore(changed, [](torch::serialize::InputArchive&) {}); },
              ThrowsMessage<dgc::Error>(HasSubstr("a record whose CRC-32 does not match")));
}

TEST_F(CheckpointTest, BadArguments) {
  EXPECT_THAT([&] { CheckpointStore(dir_.string(), -1); },
              ThrowsMessage<dgc::Error>(HasSubstr("rank")));
  EXPECT_THAT([&] { CheckpointStore(dir_.string(), 0, 0); },
              ThrowsMessage<dgc::Error>(HasSubstr("keep")));
  CheckpointStore store(dir_.string(), 0);
  EXPECT_THAT([&] { store.save_epoch(-1, "", tagged(0), false); },
              ThrowsMessage<dgc::Error>(HasSubstr("epoch")));
}

}  // namespace
}  // namespace dgc::train
