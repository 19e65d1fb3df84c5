#pragma once
// The store keeps times as whole Unix seconds (INTEGER columns).
#include <cstdint>

#include "common/time_format.hpp"

namespace portcullis::db {

inline std::int64_t toUnix(TimePoint t) {
    return t.time_since_epoch().count();
}

inline TimePoint fromUnix(std::int64_t seconds) {
    return TimePoint{Seconds{seconds}};
}

}  // namespace portcullis::db
