#pragma once
// The two ways a command ends badly, and the one place errors are printed.
//   UsageError: the command line itself is wrong (unknown command or flag,
//               missing argument, bad flag value)            -> exit 2
//   Failure:    the request was understood but refused or failed (not found,
//               duplicate, verification failed, store unusable) -> exit 1
// Both carry one line for a person that says what to do next.
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include "common/result.hpp"

namespace portcullis::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};
struct Failure : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Prints "portcullis: MESSAGE" on stderr (one line).
void printError(std::string_view message);

// The value of an operator-facing Result, or a Failure carrying its message.
template <class T>
T require(Result<T>&& result) {
    if (!result) throw Failure(result.error());
    return std::move(result).value();
}
inline void require(const Result<void>& result) {
    if (!result) throw Failure(result.error());
}
inline void require(Result<void>&& result) {
    require(static_cast<const Result<void>&>(result));
}

// The value of a Result that parsed a flag or argument, or a UsageError
// naming what was being parsed: "--max-session: ...".
template <class T>
T requireUsage(Result<T>&& result, std::string_view what) {
    if (!result) throw UsageError(std::string(what) + ": " + result.error());
    return std::move(result).value();
}
inline void requireUsage(Result<void>&& result, std::string_view what) {
    if (!result) throw UsageError(std::string(what) + ": " + result.error());
}

}  // namespace portcullis::cli
