#include "dgc/error.h"

namespace dgc {

namespace {
std::string with_location(const std::string& message, const char* file, int line) {
  return message + " (" + file + ":" + std::to_string(line) + ")";
}
}  // namespace

Error::Error(const std::string& message, const char* file, int line)
    : std::runtime_error(with_location(message, file, line)), message_(message) {}

}  // namespace dgc
