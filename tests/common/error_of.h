// Shared by dgc's test binaries: the message of an expected dgc::Error.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "dgc/error.h"

namespace dgc::test {

// The message (without the source location) of the dgc::Error thrown by `call`, or "" if it
// throws none.
template <typename Call>
std::string error_of(Call&& call) {
  try {
    call();
  } catch (const dgc::Error& e) {
    return e.message();
  }
  return "";
}

// The same, and the test fails if `call` throws nothing.
template <typename Call>
std::string thrown_error_of(Call&& call) {
  try {
    call();
  } catch (const dgc::Error& e) {
    return e.message();
  }
  ADD_FAILURE() << "no dgc::Error thrown";
  return "";
}

}  // namespace dgc::test
