// dgc::apps::write_file_atomically on real files: content, mode, replacement by rename, and
// failures that leave the target and the directory as they were.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "atomic_file.h"
#include "error_of.h"
#include "scratch_dir.h"

namespace dgc::apps {
namespace {

namespace fs = std::filesystem;
using dgc::test::thrown_error_of;

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

class AtomicFileTest : public ::testing::Test {
 protected:
  std::string path(const std::string& name) const { return (scratch_.path() / name).string(); }
  std::set<std::string> names() const {
    std::set<std::string> result;
    for (const auto& entry : fs::directory_iterator(scratch_.path())) {
      result.insert(entry.path().filename().string());
    }
    return result;
  }

  dgc::test::ScratchDir scratch_{"dgc-atomic-file"};
};

TEST_F(AtomicFileTest, WritesTheBytesWithMode0644AndNoTemporaryFile) {
  const std::string bytes("binary\0data\n", 12);
  write_file_atomically(path("a.bin"), bytes);
  EXPECT_EQ(read_file(path("a.bin")), bytes);
  struct stat info {};
  ASSERT_EQ(::stat(path("a.bin").c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0644u);
  EXPECT_EQ(names(), (std::set<std::string>{"a.bin"}));

  write_file_atomically(path("empty"), "");
  EXPECT_TRUE(fs::is_regular_file(path("empty")));
  EXPECT_EQ(fs::file_size(path("empty")), 0u);
}

TEST_F(AtomicFileTest, ReplacesByRenameSoAnOpenReaderKeepsTheOldFile) {
  write_file_atomically(path("f"), "old");
  // A hard link keeps the old inode reachable: an in-place rewrite would change it too.
  fs::create_hard_link(path("f"), path("old-link"));
  write_file_atomically(path("f"), "new, and longer");
  EXPECT_EQ(read_file(path("f")), "new, and longer");
  EXPECT_EQ(read_file(path("old-link")), "old");
  EXPECT_EQ(names(), (std::set<std::string>{"f", "old-link"}));
}

TEST_F(AtomicFileTest, APathWithoutDirectoryIsInTheWorkingDirectory) {
  const fs::path before = fs::current_path();
  fs::current_path(scratch_.path());
  write_file_atomically("plain", "here");
  fs::current_path(before);
  EXPECT_EQ(read_file(path("plain")), "here");
  EXPECT_EQ(names(), (std::set<std::string>{"plain"}));
}

TEST_F(AtomicFileTest, AMissingDirectoryIsOneErrorNamingTheFile) {
  EXPECT_EQ(thrown_error_of([&] { write_file_atomically(path("no/dir/f"), "x"); }),
            "cannot write " + path("no/dir/f") + ": cannot create a temporary file in " +
                path("no/dir") + ": No such file or directory");
  EXPECT_TRUE(names().empty());
  EXPECT_EQ(thrown_error_of([] { write_file_atomically("", "x"); }),
            "cannot write a file without a name");
}

TEST_F(AtomicFileTest, AFailedRenameLeavesTheTargetAndNoTemporaryFile) {
  fs::create_directories(path("target/inside"));
  const std::string error = thrown_error_of([&] { write_file_atomically(path("target"), "x"); });
  const std::string start =
      "cannot write " + path("target") + ": cannot rename " + path(temporary_file_prefix("target"));
  EXPECT_EQ(error.compare(0, start.size(), start), 0) << error;
  const std::string end = " to it: Is a directory";
  ASSERT_GT(error.size(), end.size());
  EXPECT_EQ(error.substr(error.size() - end.size()), end) << error;
  EXPECT_EQ(names(), (std::set<std::string>{"target"}));
  EXPECT_TRUE(fs::is_directory(path("target/inside")));
}

TEST(TemporaryFilePrefix, IsHiddenAndNamesTheFile) {
  EXPECT_EQ(temporary_file_prefix("latest-r0.pt"), ".latest-r0.pt.tmp-");
}

}  // namespace
}  // namespace dgc::apps
