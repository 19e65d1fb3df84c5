#pragma once
// SessionLimits: the clock side of a live session (SPEC §5): its time limit
// from the start, the governing grant's forced end (window close, expiry), the
// 5 and 1 minute notices before either, and the idle timeout. Pure state over
// clocks the caller passes in, so it is unit-tested without sleeping; the
// connection owns the timer and acts on what check() says.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "common/time_format.hpp"
#include "db/policy.hpp"

namespace portcullis::gateway {

class SessionLimits {
  public:
    using Steady = std::chrono::steady_clock::time_point;

    struct Check {
        enum class Action { none, notice, expired, idle };
        Action action = Action::none;
        std::string text;  // the notice, or why the session ends
        Steady nextCheck;  // when something is due at the latest (a notice, the end, idle)
    };

    // The limits of the decision that governs the session (the first one, or
    // the one a re-check found). Returns false when nothing changed.
    bool adopt(const db::Decision& decision);
    // The session starts now: its time limit and idle clock run from here.
    void start(Steady now);
    // `totalInput` is every byte the client sent so far; a change restarts
    // the idle clock.
    void noteInput(std::uint64_t totalInput, Steady now);
    // What is due at `now` (`wallNow` for the grant's forced end). A notice is
    // returned once per mark; after `expired` or `idle` the caller ends the session.
    Check check(Steady now, TimePoint wallNow, std::chrono::seconds publishEvery);

    // The latest end of a session started at `startedAt`, and what it is.
    struct End {
        TimePoint at;
        std::string why;  // "time limit 8h", "grant #6 expires"
    };
    End latestEnd(TimePoint startedAt) const;

    std::optional<std::int64_t> grantId() const { return grantId_; }
    Seconds idleFor(Steady now) const {
        return std::chrono::duration_cast<Seconds>(now - lastInput_);
    }

  private:
    bool bounded() const { return maxSession_.count() > 0 || endsBy_.has_value(); }

    std::optional<std::int64_t> grantId_;
    Seconds maxSession_{0};
    Seconds idleTimeout_{0};
    std::optional<TimePoint> endsBy_;
    std::string endsByCause_;
    Steady startedAt_{};
    Steady lastInput_{};
    std::uint64_t inputSeen_ = 0;
    int noticesSent_ = 0;  // 1: five minutes, 2: one minute
};

}  // namespace portcullis::gateway
