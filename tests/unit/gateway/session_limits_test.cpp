// SessionLimits: a live session's time limit, forced end, notices and idle
// timeout, decided on clocks the test moves (no sleeping).
#include "gateway/session_limits.hpp"

#include <gtest/gtest.h>

namespace portcullis::gateway {
namespace {

using namespace std::chrono_literals;
using Action = SessionLimits::Check::Action;

db::Decision decision(std::int64_t grant, Seconds maxSession, Seconds idle = 0s) {
    db::Decision d;
    d.allowed = true;
    d.grantId = grant;
    d.maxSession = maxSession;
    d.idleTimeout = idle;
    return d;
}

struct Clocks {
    std::chrono::steady_clock::time_point steady{std::chrono::hours(1000)};
    TimePoint wall{std::chrono::sys_days{std::chrono::year{2026} / 12 / 7} + 9h};
    void advance(std::chrono::seconds d) {
        steady += d;
        wall += d;
    }
};

TEST(SessionLimitsTest, NoticesFiveAndOneMinuteBeforeTheTimeLimitThenExpires) {
    Clocks clock;
    SessionLimits limits;
    limits.adopt(decision(6, 10min));
    limits.start(clock.steady);
    auto c = limits.check(clock.steady, clock.wall, 5s);
    EXPECT_EQ(c.action, Action::none);
    // The wake-up is the next publish, never later than the first notice mark.
    EXPECT_EQ(c.nextCheck, clock.steady + 5s);

    clock.advance(5min);
    c = limits.check(clock.steady, clock.wall, 5s);
    ASSERT_EQ(c.action, Action::notice);
    EXPECT_EQ(c.text, "this session ends in 5m (time limit)");
    // Once per mark.
    EXPECT_EQ(limits.check(clock.steady, clock.wall, 5s).action, Action::none);

    clock.advance(4min);
    c = limits.check(clock.steady, clock.wall, 5s);
    ASSERT_EQ(c.action, Action::notice);
    EXPECT_EQ(c.text, "this session ends in 1m (time limit)");

    clock.advance(59s);
    c = limits.check(clock.steady, clock.wall, 5s);
    EXPECT_EQ(c.action, Action::none);
    EXPECT_EQ(c.nextCheck, clock.steady + 1s);  // wakes exactly at the end

    clock.advance(1s);
    c = limits.check(clock.steady, clock.wall, 5s);
    EXPECT_EQ(c.action, Action::expired);
    EXPECT_EQ(c.text, "session time limit reached");
}

TEST(SessionLimitsTest, AForcedEndBeforeTheTimeLimitIsNamedInNoticesAndTheEnd) {
    Clocks clock;
    SessionLimits limits;
    auto d = decision(6, 8h);
    d.endsBy = clock.wall + 3min;
    d.endsByCause = "the window Mon-Fri 08:00-09:03 UTC closes";
    limits.adopt(d);
    limits.start(clock.steady);
    auto c = limits.check(clock.steady, clock.wall, 5s);
    ASSERT_EQ(c.action, Action::notice);  // already inside the 5-minute mark
    EXPECT_EQ(c.text, "this session ends in 3m (the window Mon-Fri 08:00-09:03 UTC closes)");
    clock.advance(3min);
    c = limits.check(clock.steady, clock.wall, 5s);
    EXPECT_EQ(c.action, Action::expired);
    EXPECT_EQ(c.text, "the window Mon-Fri 08:00-09:03 UTC closed");

    const auto end = limits.latestEnd(clock.wall - 3min);
    EXPECT_EQ(end.at, *d.endsBy);
    EXPECT_EQ(end.why, d.endsByCause);
}

TEST(SessionLimitsTest, TheTimeLimitNamesItselfWhenItComesFirst) {
    Clocks clock;
    SessionLimits limits;
    auto d = decision(6, 1h);
    d.endsBy = clock.wall + 2h;
    d.endsByCause = "grant #6 expires";
    limits.adopt(d);
    limits.start(clock.steady);
    const auto end = limits.latestEnd(clock.wall);
    EXPECT_EQ(end.at, clock.wall + 1h);
    EXPECT_EQ(end.why, "time limit 1h");
    clock.advance(1h);
    EXPECT_EQ(limits.check(clock.steady, clock.wall, 5s).text, "session time limit reached");
}

TEST(SessionLimitsTest, InputRestartsTheIdleClock) {
    Clocks clock;
    SessionLimits limits;
    limits.adopt(decision(6, 8h, 10min));
    limits.start(clock.steady);
    clock.advance(9min);
    limits.noteInput(42, clock.steady);  // the client typed
    clock.advance(9min);
    EXPECT_EQ(limits.check(clock.steady, clock.wall, 5s).action, Action::none);
    EXPECT_EQ(limits.idleFor(clock.steady), 9min);
    limits.noteInput(42, clock.steady);  // nothing new: the clock keeps running
    clock.advance(1min);
    const auto c = limits.check(clock.steady, clock.wall, 5s);
    EXPECT_EQ(c.action, Action::idle);
    EXPECT_EQ(c.text, "session idle for 10m");
}

TEST(SessionLimitsTest, ARegrantWithNewLimitsGetsItsOwnNoticesAndTheSameOneChangesNothing) {
    Clocks clock;
    SessionLimits limits;
    EXPECT_TRUE(limits.adopt(decision(6, 10min)));
    limits.start(clock.steady);
    clock.advance(5min);
    EXPECT_EQ(limits.check(clock.steady, clock.wall, 5s).action, Action::notice);
    EXPECT_FALSE(limits.adopt(decision(6, 10min)));  // a re-check found the same grant
    EXPECT_EQ(limits.check(clock.steady, clock.wall, 5s).action, Action::none);
    // Grant #6 revoked, #17 governs with 12 minutes from the same start.
    EXPECT_TRUE(limits.adopt(decision(17, 12min)));
    EXPECT_EQ(limits.grantId(), 17);
    EXPECT_EQ(limits.check(clock.steady, clock.wall, 5s).action, Action::none);  // 7m left
    clock.advance(2min);
    const auto c = limits.check(clock.steady, clock.wall, 5s);
    ASSERT_EQ(c.action, Action::notice);  // the new end's own 5-minute notice
    EXPECT_EQ(c.text, "this session ends in 5m (time limit)");
}

TEST(SessionLimitsTest, AnUnboundedSessionOnlyWakesToPublish) {
    Clocks clock;
    SessionLimits limits;
    limits.adopt(decision(6, 0s));
    limits.start(clock.steady);
    clock.advance(100h);
    const auto c = limits.check(clock.steady, clock.wall, 5s);
    EXPECT_EQ(c.action, Action::none);
    EXPECT_EQ(c.nextCheck, clock.steady + 5s);
}

}  // namespace
}  // namespace portcullis::gateway
