#pragma once
// Time points, durations and their text forms.
//   durations: "90s", "30m", "8h", "7d", combinations such as "1h30m"
//   instants:  ISO 8601 "2026-11-25T18:20:06Z", "2026-11-25T19:20:06+01:00",
//              "2026-11-25T18:20Z", "2026-11-25" (midnight UTC)
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.hpp"

namespace portcullis {

using Seconds = std::chrono::seconds;
using TimePoint = std::chrono::sys_seconds;

// The clock is injected wherever time matters so that tests need no sleeps.
using NowFn = TimePoint (*)();
TimePoint systemNow();

// Units largest first, each at most once; at most 36500d; "0s" is allowed.
Result<Seconds> parseDuration(std::string_view text);
std::string formatDuration(Seconds d);  // "1h30m", "90s" -> "1m30s", "0s"

// Also accepts offsets "+0100" / "+01" and fractional seconds (dropped); a time
// of day without Z or an offset is refused (ambiguous).
Result<TimePoint> parseIso8601(std::string_view text);
std::string formatIso8601(TimePoint t);  // always UTC, "2026-11-25T18:20:06Z"

// --expires: DUR (from now) or ISO 8601.   --since: DUR (before now) or ISO 8601.
Result<TimePoint> parseExpiry(std::string_view text, TimePoint now);
Result<TimePoint> parseSince(std::string_view text, TimePoint now);

}  // namespace portcullis
