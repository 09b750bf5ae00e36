// dgc-train's logs: CRC-32C, TensorBoard event files read back by an independent reader
// (event_file_reader.h), metrics.csv, and the summary of an epoch's step times.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <regex>
#include <string>
#include <vector>

#include "dgc/error.h"
#include "event_file_reader.h"
#include "log/crc32c.h"
#include "log/event_writer.h"
#include "log/metrics_csv.h"
#include "log/step_times.h"
#include "scratch_dir.h"

namespace dgc::train {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using ::testing::ThrowsMessage;

class LogTest : public ::testing::Test {
 protected:
  dgc::test::ScratchDir scratch_{"dgc-train-log"};
  const fs::path dir_ = scratch_.path();
};

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// --- CRC-32C ---------------------------------------------------------------------------------

TEST(Crc32c, KnownVectors) {
  // The check value of the CRC catalogue and the vectors of RFC 3720 (iSCSI), appendix B.4.
  const std::string digits = "123456789";
  const std::string zeros(32, '\0');
  const std::string ones(32, '\xFF');
  std::string ascending(32, '\0');
  for (int i = 0; i < 32; ++i) ascending[i] = static_cast<char>(i);

  EXPECT_EQ(crc32c(digits.data(), digits.size()), 0xE3069283u);
  EXPECT_EQ(crc32c(zeros.data(), zeros.size()), 0x8A9136AAu);
  EXPECT_EQ(crc32c(ones.data(), ones.size()), 0x62A8AB43u);
  EXPECT_EQ(crc32c(ascending.data(), ascending.size()), 0x46DD794Eu);
  EXPECT_EQ(crc32c(nullptr, 0), 0u);

  // The tests' reader computes the same values bit by bit.
  EXPECT_EQ(testing::reference_crc32c(digits), 0xE3069283u);
  EXPECT_EQ(testing::reference_crc32c(zeros), 0x8A9136AAu);
  EXPECT_EQ(testing::reference_crc32c(ones), 0x62A8AB43u);
  EXPECT_EQ(testing::reference_crc32c(ascending), 0x46DD794Eu);
}

TEST(Crc32c, MatchesBitwiseReferenceAndExtends) {
  std::mt19937 random(7);
  for (std::size_t size : {1u, 3u, 8u, 100u, 1000u}) {
    std::string bytes(size, '\0');
    for (char& c : bytes) c = static_cast<char>(random());
    EXPECT_EQ(crc32c(bytes.data(), bytes.size()), testing::reference_crc32c(bytes)) << size;
    EXPECT_EQ(masked_crc32c(bytes.data(), bytes.size()), testing::reference_masked_crc32c(bytes));
    const std::size_t half = size / 2;
    EXPECT_EQ(crc32c(bytes.data() + half, size - half, crc32c(bytes.data(), half)),
              crc32c(bytes.data(), size))
        << size;
  }
}

TEST(Crc32c, MaskIsTfRecordsRotateAndOffset) {
  EXPECT_EQ(mask_crc32c(0u), 0xa282ead8u);
  EXPECT_EQ(mask_crc32c(0x00008000u), 0xa282ead9u);  // bit 15 rotates down to bit 0
  EXPECT_EQ(mask_crc32c(0x00000001u), 0xa284ead8u);  // bit 0 rotates up to bit 17
  EXPECT_EQ(mask_crc32c(0xE3069283u), ((0xE3069283u >> 15) | (0xE3069283u << 17)) + 0xa282ead8u);
}

// --- TensorBoard event files -----------------------------------------------------------------

TEST_F(LogTest, EventFileNameFollowsTensorBoardsPattern) {
  const auto before = static_cast<long long>(std::floor(now_seconds()));
  EventWriter writer(dir_.string());
  const auto after = static_cast<long long>(std::floor(now_seconds()));

  const fs::path path(writer.path());
  EXPECT_EQ(path.parent_path(), dir_);
  EXPECT_TRUE(fs::exists(path));
  std::smatch match;
  const std::string name = path.filename().string();
  ASSERT_TRUE(std::regex_match(name, match, std::regex(R"(events\.out\.tfevents\.(\d+)\.(.+))")))
      << name;
  const long long seconds = std::stoll(match[1]);
  EXPECT_GE(seconds, before);
  EXPECT_LE(seconds, after);
  char host[256] = {};
  ASSERT_EQ(gethostname(host, sizeof host - 1), 0);
  EXPECT_EQ(match[2], std::string(host));
}

TEST_F(LogTest, EventFileHoldsFileVersionThenScalars) {
  const double before = now_seconds();
  std::string path;
  {
    EventWriter writer(dir_.string());
    path = writer.path();
    writer.add_scalar("train/loss", 2.302585, 0);
    writer.add_scalar("train/loss", 0.1, 1);
    writer.add_scalar("train/compress_ratio", 0.001, 1);
    writer.add_scalar("valid/top1", 91.25, 469);
    writer.flush();
  }
  const double after = now_seconds();

  const std::vector<testing::Event> events = testing::read_event_file(path);
  ASSERT_EQ(events.size(), 5u);
  EXPECT_EQ(events[0].file_version, "brain.Event:2");
  EXPECT_EQ(events[0].step, 0);
  EXPECT_TRUE(events[0].scalars.empty());
  for (const testing::Event& event : events) {
    EXPECT_GE(event.wall_time, before - 1e-3);
    EXPECT_LE(event.wall_time, after + 1e-3);
  }
  for (std::size_t i = 1; i < events.size(); ++i) {
    EXPECT_EQ(events[i].file_version, "");
    ASSERT_EQ(events[i].scalars.size(), 1u) << i;
  }
  const std::vector<std::pair<std::string, float>> expected = {{"train/loss", 2.302585f},
                                                               {"train/loss", 0.1f},
                                                               {"train/compress_ratio", 0.001f},
                                                               {"valid/top1", 91.25f}};
  const std::vector<std::int64_t> steps = {0, 1, 1, 469};
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(events[i + 1].step, steps[i]);
    EXPECT_EQ(events[i + 1].scalars[0].first, expected[i].first);
    EXPECT_EQ(events[i + 1].scalars[0].second, expected[i].second);  // exact at float precision
  }
}

TEST_F(LogTest, EventStepsAndValuesCoverVarintAndFloatEdges) {
  // Steps across varint byte boundaries, and the negative int64 that takes 10 bytes.
  const std::vector<std::int64_t> steps = {
      0, 1, 127, 128, 16383, 16384, std::int64_t{1} << 40, std::numeric_limits<std::int64_t>::max(),
      -1};
  const std::vector<double> values = {0.0, -1.5, 1e-30, 3.4e38, -0.0, 1.0 / 3.0, 1e6, 42, 7};
  EventWriter writer(dir_.string());
  for (std::size_t i = 0; i < steps.size(); ++i) {
    writer.add_scalar("t" + std::to_string(i), values[i], steps[i]);
  }
  writer.add_scalar("nan", std::nan(""), 1);
  writer.add_scalar(std::string(300, 'x'), 1, 2);  // a tag longer than a 1-byte length

  const std::vector<testing::Event> events = testing::read_event_file(writer.path());
  ASSERT_EQ(events.size(), steps.size() + 3);
  for (std::size_t i = 0; i < steps.size(); ++i) {
    EXPECT_EQ(events[i + 1].step, steps[i]);
    EXPECT_EQ(events[i + 1].scalars.at(0).first, "t" + std::to_string(i));
    EXPECT_EQ(events[i + 1].scalars.at(0).second, static_cast<float>(values[i])) << i;
  }
  EXPECT_TRUE(std::isnan(events[steps.size() + 1].scalars.at(0).second));
  EXPECT_EQ(events[steps.size() + 2].scalars.at(0).first, std::string(300, 'x'));
}

TEST_F(LogTest, EventRecordsReachTheFileWithoutFlushOrClose) {
  // Write-through: what a crash right after add_scalar would leave on disk.
  EventWriter writer(dir_.string());
  writer.add_scalar("train/loss", 1.25, 3);
  const std::vector<testing::Event> events = testing::read_event_file(writer.path());
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].step, 3);
  EXPECT_EQ(events[1].scalars.at(0).second, 1.25f);
}

TEST_F(LogTest, EventWriterCreatesMissingRunDirectory) {
  const fs::path run_dir = dir_ / "runs" / "fmnist" / "convnet.dgc";
  EventWriter writer(run_dir.string());
  EXPECT_TRUE(fs::is_directory(run_dir));
  EXPECT_EQ(fs::path(writer.path()).parent_path(), run_dir);
  EXPECT_EQ(testing::read_event_file(writer.path()).size(), 1u);
}

TEST_F(LogTest, ReaderDetectsEveryCorruptedByte) {
  std::string path;
  {
    EventWriter writer(dir_.string());
    path = writer.path();
    writer.add_scalar("train/loss", 0.5, 10);
  }
  const std::string original = testing::read_file(path);
  ASSERT_EQ(testing::read_records(original).size(), 2u);
  // Every byte is a length, a data byte or a crc; flipping any one must fail a crc check.
  for (std::size_t i = 0; i < original.size(); ++i) {
    std::string corrupted = original;
    corrupted[i] = static_cast<char>(corrupted[i] ^ 0x10);
    EXPECT_THAT([&] { testing::read_records(corrupted); },
                ThrowsMessage<std::runtime_error>(HasSubstr("crc mismatch")))
        << "byte " << i;
  }
  // And on disk, through the whole reader.
  std::string corrupted = original;
  corrupted[corrupted.size() - 6] = static_cast<char>(corrupted[corrupted.size() - 6] ^ 1);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << corrupted;
  EXPECT_THAT([&] { testing::read_event_file(path); },
              ThrowsMessage<std::runtime_error>(HasSubstr("data crc mismatch")));
}

TEST_F(LogTest, ReaderDetectsTruncation) {
  EventWriter writer(dir_.string());
  writer.add_scalar("train/loss", 0.5, 10);
  const std::string original = testing::read_file(writer.path());
  for (std::size_t cut : {original.size() - 1, original.size() - 5, original.size() - 20}) {
    EXPECT_THAT([&] { testing::read_records(original.substr(0, cut)); },
                ThrowsMessage<std::runtime_error>(HasSubstr("truncated")))
        << cut;
  }
}

TEST_F(LogTest, EventWriterErrorNamesUnusableRunDirectory) {
  // A regular file where a directory should be: fails even as root, unlike permission bits.
  const fs::path blocker = dir_ / "not_a_dir";
  std::ofstream(blocker) << "x";
  const std::string run_dir = (blocker / "run").string();
  EXPECT_THAT([&] { EventWriter writer(run_dir); },
              ThrowsMessage<Error>(HasSubstr("cannot create run directory " + run_dir)));
}

// --- metrics.csv -----------------------------------------------------------------------------

TEST_F(LogTest, MetricsCsvContentIsExact) {
  {
    MetricsCsv csv(dir_.string());
    EXPECT_EQ(csv.path(), (dir_ / "metrics.csv").string());
    csv.add_scalar("train/loss", 2.5, 0);
    csv.add_scalar("train/loss", 0.1, 1);
    csv.add_scalar("train/bytes_sent", 123456789, 1);
    csv.add_scalar("valid/top1", -0.0, 469);
    csv.add_scalar("lr", 1e-5, -1);
    csv.flush();
  }
  EXPECT_EQ(testing::read_file((dir_ / "metrics.csv").string()),
            "step,tag,value\n"
            "0,train/loss,2.5\n"
            "1,train/loss,0.1\n"
            "1,train/bytes_sent,123456789\n"
            "469,valid/top1,-0\n"
            "-1,lr,1e-05\n");
}

TEST_F(LogTest, MetricsCsvValuesRoundTrip) {
  const std::vector<double> values = {1.0 / 3.0,
                                      0.1 + 0.2,
                                      1e-300,
                                      6.02214076e23,
                                      std::numeric_limits<double>::max(),
                                      std::numeric_limits<double>::denorm_min()};
  {
    MetricsCsv csv(dir_.string());
    for (double value : values) csv.add_scalar("x", value, 0);
  }
  std::ifstream in(dir_ / "metrics.csv");
  std::string line;
  std::getline(in, line);
  for (double value : values) {
    ASSERT_TRUE(std::getline(in, line));
    ASSERT_THAT(line, StartsWith("0,x,"));
    EXPECT_EQ(std::strtod(line.c_str() + 4, nullptr), value) << line;
  }
}

TEST_F(LogTest, MetricsCsvReopenAppendsWithoutSecondHeader) {
  {
    MetricsCsv csv(dir_.string());
    csv.add_scalar("train/loss", 1.5, 1);
  }
  {
    MetricsCsv resumed(dir_.string());
    resumed.add_scalar("train/loss", 0.75, 2);
  }
  EXPECT_EQ(testing::read_file((dir_ / "metrics.csv").string()),
            "step,tag,value\n1,train/loss,1.5\n2,train/loss,0.75\n");
}

TEST_F(LogTest, MetricsCsvWritesHeaderIntoEmptyExistingFile) {
  std::ofstream(dir_ / "metrics.csv").close();  // a run killed before its first row
  MetricsCsv csv(dir_.string());
  csv.add_scalar("a", 1, 0);
  EXPECT_EQ(testing::read_file(csv.path()), "step,tag,value\n0,a,1\n");
}

TEST_F(LogTest, MetricsCsvQuotesTagsThatNeedIt) {
  MetricsCsv csv(dir_.string());
  csv.add_scalar("plain/tag", 1, 0);
  csv.add_scalar("a,b", 2, 0);
  csv.add_scalar("say \"hi\"", 3, 0);
  EXPECT_EQ(testing::read_file(csv.path()),
            "step,tag,value\n0,plain/tag,1\n0,\"a,b\",2\n0,\"say \"\"hi\"\"\",3\n");
}

TEST_F(LogTest, MetricsCsvCreatesMissingRunDirectory) {
  const fs::path run_dir = dir_ / "a" / "b";
  MetricsCsv csv(run_dir.string());
  EXPECT_TRUE(fs::exists(run_dir / "metrics.csv"));
}

TEST_F(LogTest, MetricsCsvErrorNamesUnusablePaths) {
  const fs::path blocker = dir_ / "not_a_dir";
  std::ofstream(blocker) << "x";
  const std::string run_dir = (blocker / "run").string();
  EXPECT_THAT([&] { MetricsCsv csv(run_dir); },
              ThrowsMessage<Error>(HasSubstr("cannot create run directory " + run_dir)));

  // The run directory exists but metrics.csv cannot be opened (it is a directory).
  fs::create_directories(dir_ / "run" / "metrics.csv");
  const std::string csv_path = (dir_ / "run" / "metrics.csv").string();
  EXPECT_THAT([&] { MetricsCsv csv((dir_ / "run").string()); },
              ThrowsMessage<Error>(HasSubstr("cannot open " + csv_path)));
}

TEST(StepTimes, MeanLeavesOutTheFirstStepAndMedianSeesEveryStep) {
  // A first step that allocates, then steps in two modes, as Open MPI's slow links give them.
  const StepTimeSummary summary = summarize_step_times({9.0, 0.7, 1.0, 0.7, 1.0, 1.0});
  EXPECT_DOUBLE_EQ(summary.mean_seconds, (0.7 + 1.0 + 0.7 + 1.0 + 1.0) / 5);
  EXPECT_DOUBLE_EQ(summary.median_seconds, 1.0);
  // An odd count: the middle one, wherever the steps lie.
  EXPECT_DOUBLE_EQ(summarize_step_times({3.0, 0.5, 2.0, 0.7, 1.0}).median_seconds, 1.0);
}

TEST(StepTimes, ASingleStepIsItsOwnMeanAndMedian) {
  const StepTimeSummary summary = summarize_step_times({0.25});
  EXPECT_DOUBLE_EQ(summary.mean_seconds, 0.25);
  EXPECT_DOUBLE_EQ(summary.median_seconds, 0.25);
}

TEST(StepTimes, AnEpochWithoutStepsIsAnError) {
  EXPECT_THAT([] { summarize_step_times({}); },
              ThrowsMessage<dgc::Error>(HasSubstr("no steps to summarize")));
}

}  // namespace
}  // namespace dgc::train
