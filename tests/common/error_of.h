// Shared by dgc's test binaries: the message of an expected dgc::Error.
#pragma once

#include <string>

#include "dgc/error.h"

namespace dgc::test {

// The message of the dgc::Error thrown by `call`, or "" if it throws none.
template <typename Call>
std::string error_of(Call call) {
  try {
    call();
  } catch (const dgc::Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace dgc::test
