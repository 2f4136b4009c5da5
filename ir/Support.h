// Errors shared by every layer of the compiler. A user's mistake is a
// Diagnostic (frontend/Diagnostics.h); a broken invariant is an InternalError,
// which the driver reports as a bug in dlc, never as the user's fault.
#pragma once

#include <stdexcept>
#include <string>

namespace dlc {

struct InternalError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Thrown after a user-facing error has been reported (already printed or
// collected); carries the full formatted message.
struct CompileError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

[[noreturn]] void internalError(const std::string &message);
// "file:line: message", for DLC_ASSERT.
[[noreturn]] void internalError(const char *file, int line, const std::string &message);

#define DLC_ASSERT(cond, msg)                                                  \
  do {                                                                         \
    if (!(cond))                                                               \
      ::dlc::internalError(__FILE__, __LINE__, (msg));                         \
  } while (0)

} // namespace dlc
