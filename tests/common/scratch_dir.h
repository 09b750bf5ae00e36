// Shared by dgc's test binaries: a fresh, empty directory for one test, removed when it ends.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <system_error>

namespace dgc::test {

// Named after the prefix, the process and the running test, so that tests running in parallel
// (ctest -j) or one after another never share a directory. Construct it inside a test or a
// fixture: gtest names the current test before it builds the fixture.
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& prefix) : path_(unique_path(prefix)) {
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ignored;  // a destructor must not throw; a leftover directory is harmless
    std::filesystem::remove_all(path_, ignored);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

 private:
  static std::filesystem::path unique_path(const std::string& prefix) {
    std::string name = prefix + "-" + std::to_string(::getpid());
    if (const auto* info = ::testing::UnitTest::GetInstance()->current_test_info()) {
      name += std::string("-") + info->test_suite_name() + "-" + info->name();
    }
    std::replace(name.begin(), name.end(), '/', '_');  // parameterized tests' names hold '/'
    return std::filesystem::temp_directory_path() / name;
  }

  std::filesystem::path path_;
};

}  // namespace dgc::test
