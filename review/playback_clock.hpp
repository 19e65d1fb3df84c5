#pragma once
// When each event of a replay is due: the recorded gaps, each capped at the
// idle limit and divided by the speed, added up from one start point (so
// that time spent writing does not add up to drift). Events recorded out of
// order (another stream's clock) count as no gap.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <optional>

namespace portcullis::review {

class PlaybackClock {
  public:
    using Micros = std::chrono::microseconds;

    PlaybackClock(double speed, std::optional<Micros> idleLimit)
        : speed_(speed), idleLimit_(idleLimit) {}

    // How long after the start the event recorded at `elapsedUs` is shown.
    Micros due(std::int64_t elapsedUs) {
        Micros gap(std::max<std::int64_t>(elapsedUs - previousUs_, 0));
        previousUs_ = std::max(previousUs_, elapsedUs);
        if (idleLimit_) gap = std::min(gap, *idleLimit_);
        playedUs_ += static_cast<double>(gap.count()) / speed_;
        return Micros(static_cast<std::int64_t>(playedUs_));
    }

  private:
    double speed_;
    std::optional<Micros> idleLimit_;
    double playedUs_ = 0;
    std::int64_t previousUs_ = 0;
};

}  // namespace portcullis::review
