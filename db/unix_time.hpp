#pragma once
// The store keeps times as whole Unix seconds (INTEGER columns).
#include <cstdint>
#include <optional>

#include "common/time_format.hpp"

namespace portcullis::db {

inline std::int64_t toUnix(TimePoint t) {
    return t.time_since_epoch().count();
}

// An optional time as an optional column value (none: NULL, through
// Statement::bind's optional overload).
inline std::optional<std::int64_t> toUnix(const std::optional<TimePoint>& t) {
    if (!t) return std::nullopt;
    return toUnix(*t);
}

inline TimePoint fromUnix(std::int64_t seconds) {
    return TimePoint{Seconds{seconds}};
}

}  // namespace portcullis::db
