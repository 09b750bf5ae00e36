// dgc::Timeline: the Chrome trace's structure (array, metadata, one complete event per span, a
// lane per thread with its name), spans only while a timeline is active, and its errors: a file
// that cannot be created, a disk that fills up. The trace of real training steps, read by a JSON
// parser, is tests/train/program/train_timeline.sh.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "dgc/timeline.h"
#include "error_of.h"
#include "scratch_dir.h"

namespace dgc {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

int count(const std::string& text, const std::string& what) {
  int n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(Timeline, WritesOneCompleteEventPerSpanOnTheLaneOfItsThread) {
  test::ScratchDir dir("timeline");
  const std::string path = (dir.path() / "trace.json").string();
  {
    Timeline timeline(path, "rank \"0\"\n", 3);
    set_timeline(&timeline);
    {
      const TimelineSpan span("step", "train", "step", 7);
      const TimelineSpan inner("forward", "train");
    }
    std::thread([] {
      set_timeline_thread_name("communication");
      const TimelineSpan span("bucket", "exchange", "bucket", 1);
    }).join();
    set_timeline(nullptr);
    { const TimelineSpan ignored("after", "train"); }
    EXPECT_EQ(timeline.spans(), 3);
    timeline.close();
  }
  const std::string trace = read_file(path);
  ASSERT_FALSE(trace.empty());
  EXPECT_EQ(trace.front(), '[');
  EXPECT_EQ(trace.substr(trace.size() - 3), "\n]\n");
  EXPECT_EQ(count(trace, "\"ph\":\"X\""), 3);
  EXPECT_EQ(count(trace, "\"name\":\"after\""), 0);
  EXPECT_EQ(count(trace, "\"pid\":3"), 6);  // 3 spans, the process and its two lanes' names
  // Escaped for JSON: the quotes and the newline of the process's name.
  EXPECT_NE(trace.find("\"args\":{\"name\":\"rank \\\"0\\\"\\u000a\"}"), std::string::npos);
  EXPECT_NE(trace.find("\"args\":{\"name\":\"main\"}"), std::string::npos);
  EXPECT_NE(trace.find("\"args\":{\"name\":\"communication\"}"), std::string::npos);
  EXPECT_NE(trace.find("\"name\":\"step\",\"cat\":\"train\""), std::string::npos);
  EXPECT_NE(trace.find("\"args\":{\"step\":7}"), std::string::npos);
  EXPECT_NE(trace.find("\"args\":{\"bucket\":1}"), std::string::npos);
  // No trailing comma before the bracket, one comma between events.
  EXPECT_EQ(count(trace, "},\n{"), count(trace, "\n{") - 1);
}

TEST(Timeline, AFileThatCannotBeCreatedIsAnErrorNamingIt) {
  const std::string message =
      test::thrown_error_of([] { Timeline timeline("/nonexistent-dgc-dir/trace.json", "rank 0"); });
  EXPECT_NE(message.find("cannot create '/nonexistent-dgc-dir/trace.json'"), std::string::npos)
      << message;
}

TEST(Timeline, AFullDiskIsAnErrorNamingTheFileAndNothingMoreIsRecorded) {
  Timeline timeline("/dev/full", "rank 0");
  const auto now = Timeline::Clock::now();
  timeline.record("step", "train", now, now);
  const std::string message = test::thrown_error_of([&] { timeline.flush(); });
  EXPECT_NE(message.find("timeline: writing '/dev/full' failed: No space left on device"),
            std::string::npos)
      << message;
  timeline.record("step", "train", now, now);
  EXPECT_NE(test::error_of([&] { timeline.close(); }), "");
  EXPECT_NO_THROW(timeline.record("late", "train", now, now));  // closed: dropped
}

}  // namespace
}  // namespace dgc
