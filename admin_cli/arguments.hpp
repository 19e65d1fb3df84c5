#pragma once
// Checks and conversions of command-line arguments and flag values. Anything
// malformed is a UsageError (exit 2) naming the argument and the form expected.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/time_format.hpp"

namespace portcullis::cli {

// An account, group, target or login name: 1-64 of [A-Za-z0-9._-].
// `what` names it in the message: "account name".
std::string requireName(const std::string& value, std::string_view what);
// A group name, with or without its leading '@'.
std::string requireGroupName(const std::string& value);

// DUR: "90s", "30m", "8h", "7d", "1h30m"; must be positive.
Seconds requireDuration(const std::string& value, std::string_view flag);
std::int64_t requirePositiveInteger(const std::string& value, std::string_view what);
int requirePort(const std::string& value);
TimePoint requireInstant(const std::string& value, std::string_view flag);

// "a,b,c" -> {"a","b","c"}; empty items are refused.
std::vector<std::string> splitList(const std::string& value, std::string_view flag);

}  // namespace portcullis::cli
