// dgc's one error model.
//
// Every check in the library is DGC_CHECK(cond, "what went wrong", values...): when `cond` is
// false it throws dgc::Error whose message is the concatenation of the arguments, followed by
// the file and line of the check. Tools catch dgc::Error at the top, print what() on one line
// and exit non-zero. Thread safety: throwing is thread-safe; nothing here holds state.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

#include "dgc/export.h"

namespace dgc {

class DGC_EXPORT Error : public std::runtime_error {
 public:
  Error(const std::string& message, const char* file, int line);

  // The message without the source location, for user-facing output.
  const std::string& message() const { return message_; }

 private:
  std::string message_;
};

namespace detail {

template <typename... Args>
std::string concat(const Args&... args) {
  std::ostringstream out;
  (out << ... << args);
  return out.str();
}

}  // namespace detail
}  // namespace dgc

#define DGC_CHECK(cond, ...)                                                      \
  do {                                                                            \
    if (!(cond)) {                                                                \
      throw ::dgc::Error(::dgc::detail::concat(__VA_ARGS__), __FILE__, __LINE__); \
    }                                                                             \
  } while (false)

#define DGC_FAIL(...) throw ::dgc::Error(::dgc::detail::concat(__VA_ARGS__), __FILE__, __LINE__)
