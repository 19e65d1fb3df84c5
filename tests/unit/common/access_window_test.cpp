#include "common/access_window.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace portcullis {
namespace {

using namespace std::chrono_literals;

TimePoint at(std::string_view iso) {
    auto r = parseIso8601(iso);
    EXPECT_TRUE(r.ok()) << iso;
    return r.ok() ? r.value() : TimePoint{};
}

AccessWindow window(std::string_view spec) {
    auto w = AccessWindow::parse(spec);
    EXPECT_TRUE(w.ok()) << spec << ": " << (w.ok() ? "" : w.error());
    return w.ok() ? w.value() : AccessWindow{};
}

// Minutes in [from, to) during which w is open.
int openMinutes(const AccessWindow& w, TimePoint from, TimePoint to) {
    int n = 0;
    for (TimePoint t = from; t < to; t += 1min) n += w.contains(t) ? 1 : 0;
    return n;
}

// Calendar used below (UTC): 2026-11-23 Mon, 11-25 Wed, 11-27 Fri,
// 2026-03-29 and 10-25 Sundays (EU DST changes), 03-08 and 11-01 Sundays (US).

TEST(AccessWindow, CanonicalText) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"Mon-Fri 08:00-18:00", "Mon-Fri 08:00-18:00 UTC"},
        {"Mon-Fri 08:00-18:00 UTC", "Mon-Fri 08:00-18:00 UTC"},
        {"Mon-Fri 08:00-18:00 Europe/Paris", "Mon-Fri 08:00-18:00 Europe/Paris"},
        {"  mon-FRI   8:00-18:30  ", "Mon-Fri 08:00-18:30 UTC"},
        {"Sat,Sun", "Sat,Sun 00:00-24:00 UTC"},
        {"Sun,Sat", "Sat,Sun 00:00-24:00 UTC"},
        {"08:00-18:00", "Mon-Sun 08:00-18:00 UTC"},
        {"22:00-06:00 America/New_York", "Mon-Sun 22:00-06:00 America/New_York"},
        {"Fri-Mon", "Fri-Mon 00:00-24:00 UTC"},
        {"Sun-Mon", "Sun,Mon 00:00-24:00 UTC"},
        {"Mon,Tue,Wed", "Mon-Wed 00:00-24:00 UTC"},
        {"Mon,Wed,Fri", "Mon,Wed,Fri 00:00-24:00 UTC"},
        {"Wed,Fri-Mon", "Wed,Fri-Mon 00:00-24:00 UTC"},
        {"Mon-Sun", "Mon-Sun 00:00-24:00 UTC"},
        {"Tue-Mon", "Mon-Sun 00:00-24:00 UTC"},
        {"Mon-Mon", "Mon 00:00-24:00 UTC"},
        {"Monday,friday", "Mon,Fri 00:00-24:00 UTC"},
        {"Fri 22:00-06:00", "Fri 22:00-06:00 UTC"},
        {"Mon 20:00-24:00", "Mon 20:00-24:00 UTC"},
        {"Mon 00:00-00:00", "Mon 00:00-00:00 UTC"},
        {"Mon-Fri 09:00-17:00 Asia/Kolkata", "Mon-Fri 09:00-17:00 Asia/Kolkata"},
    };
    for (const auto& [spec, canonical] : cases) {
        auto w = AccessWindow::parse(spec);
        ASSERT_TRUE(w.ok()) << spec << ": " << w.error();
        EXPECT_EQ(w->toString(), canonical) << spec;
        auto again = AccessWindow::parse(w->toString());
        ASSERT_TRUE(again.ok()) << again.error();
        EXPECT_EQ(again->toString(), canonical);
    }
}

TEST(AccessWindow, EveryDaySetRoundTrips) {
    const char* names[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
    for (int mask = 1; mask < 128; ++mask) {
        std::string spec;
        for (int d = 0; d < 7; ++d) {
            if (mask & (1 << d)) spec += (spec.empty() ? "" : ",") + std::string(names[d]);
        }
        const AccessWindow w = window(spec + " 10:00-11:00");
        const AccessWindow again = window(w.toString());
        EXPECT_EQ(again.toString(), w.toString()) << spec;
        // Same days: Monday 2026-11-23 + d at 10:30 UTC.
        for (int d = 0; d < 7; ++d) {
            const TimePoint t = at("2026-11-23T10:30:00Z") + std::chrono::days{d};
            EXPECT_EQ(w.contains(t), (mask & (1 << d)) != 0) << spec << " day " << d;
            EXPECT_EQ(again.contains(t), w.contains(t));
        }
    }
}

TEST(AccessWindow, StartInclusiveEndExclusive) {
    const AccessWindow w = window("Mon-Fri 08:00-18:00");
    EXPECT_FALSE(w.contains(at("2026-11-25T07:59:59Z")));
    EXPECT_TRUE(w.contains(at("2026-11-25T08:00:00Z")));
    EXPECT_TRUE(w.contains(at("2026-11-25T12:00:00Z")));
    EXPECT_TRUE(w.contains(at("2026-11-25T17:59:59Z")));
    EXPECT_FALSE(w.contains(at("2026-11-25T18:00:00Z")));
    EXPECT_FALSE(w.contains(at("2026-11-28T12:00:00Z")));  // Saturday
    EXPECT_FALSE(w.contains(at("2026-11-29T12:00:00Z")));  // Sunday
    EXPECT_TRUE(w.contains(at("2026-11-23T08:00:00Z")));   // Monday
}

TEST(AccessWindow, CrossesMidnightAndBelongsToItsStartDay) {
    const AccessWindow w = window("Fri 22:00-06:00");
    EXPECT_FALSE(w.contains(at("2026-11-27T21:59:59Z")));  // Friday
    EXPECT_TRUE(w.contains(at("2026-11-27T22:00:00Z")));
    EXPECT_TRUE(w.contains(at("2026-11-27T23:59:59Z")));
    EXPECT_TRUE(w.contains(at("2026-11-28T00:00:00Z")));  // Saturday, from Friday
    EXPECT_TRUE(w.contains(at("2026-11-28T05:59:59Z")));
    EXPECT_FALSE(w.contains(at("2026-11-28T06:00:00Z")));
    EXPECT_FALSE(w.contains(at("2026-11-28T22:00:00Z")));  // Saturday night: not Friday
    EXPECT_FALSE(w.contains(at("2026-11-27T05:00:00Z")));  // Friday early: Thursday's part
    EXPECT_EQ(openMinutes(w, at("2026-11-23T00:00:00Z"), at("2026-11-30T00:00:00Z")), 8 * 60);
}

TEST(AccessWindow, CrossingWindowOnEveryDay) {
    const AccessWindow w = window("22:00-02:00");
    EXPECT_TRUE(w.contains(at("2026-11-23T00:30:00Z")));  // Monday, from Sunday
    EXPECT_TRUE(w.contains(at("2026-11-23T23:00:00Z")));
    EXPECT_FALSE(w.contains(at("2026-11-23T02:00:00Z")));
    EXPECT_FALSE(w.contains(at("2026-11-23T12:00:00Z")));
    EXPECT_EQ(openMinutes(w, at("2026-11-23T00:00:00Z"), at("2026-11-24T00:00:00Z")), 4 * 60);
}

TEST(AccessWindow, EqualStartAndEndMeansTwentyFourHoursFromStart) {
    const AccessWindow w = window("Mon 08:00-08:00");
    EXPECT_FALSE(w.contains(at("2026-11-23T07:59:59Z")));
    EXPECT_TRUE(w.contains(at("2026-11-23T08:00:00Z")));
    EXPECT_TRUE(w.contains(at("2026-11-24T07:59:59Z")));
    EXPECT_FALSE(w.contains(at("2026-11-24T08:00:00Z")));
}

TEST(AccessWindow, WrappingDayRange) {
    const AccessWindow w = window("Fri-Mon");
    EXPECT_TRUE(w.contains(at("2026-11-27T00:00:00Z")));   // Fri
    EXPECT_TRUE(w.contains(at("2026-11-28T12:00:00Z")));   // Sat
    EXPECT_TRUE(w.contains(at("2026-11-29T23:59:59Z")));   // Sun
    EXPECT_TRUE(w.contains(at("2026-11-30T23:59:59Z")));   // Mon
    EXPECT_FALSE(w.contains(at("2026-12-01T00:00:00Z")));  // Tue
    EXPECT_FALSE(w.contains(at("2026-11-25T12:00:00Z")));  // Wed
    EXPECT_FALSE(w.contains(at("2026-11-26T23:59:59Z")));  // Thu
}

TEST(AccessWindow, DaysOnlyAndTwentyFourHundred) {
    const AccessWindow weekend = window("Sat,Sun");
    EXPECT_FALSE(weekend.contains(at("2026-11-27T23:59:59Z")));
    EXPECT_TRUE(weekend.contains(at("2026-11-28T00:00:00Z")));
    EXPECT_TRUE(weekend.contains(at("2026-11-29T23:59:59Z")));
    EXPECT_FALSE(weekend.contains(at("2026-11-30T00:00:00Z")));
    const AccessWindow evening = window("Mon 20:00-24:00");
    EXPECT_TRUE(evening.contains(at("2026-11-23T23:59:59Z")));
    EXPECT_FALSE(evening.contains(at("2026-11-24T00:00:00Z")));
    EXPECT_FALSE(evening.contains(at("2026-11-23T19:59:59Z")));
}

TEST(AccessWindow, FollowsTheLocalClock) {
    const AccessWindow w = window("Mon-Fri 08:00-18:00 Europe/Paris");
    // Winter, UTC+1.
    EXPECT_FALSE(w.contains(at("2026-11-25T06:59:59Z")));
    EXPECT_TRUE(w.contains(at("2026-11-25T07:00:00Z")));
    EXPECT_TRUE(w.contains(at("2026-11-25T16:59:59Z")));
    EXPECT_FALSE(w.contains(at("2026-11-25T17:00:00Z")));
    // Summer, UTC+2.
    EXPECT_FALSE(w.contains(at("2026-07-15T05:59:59Z")));
    EXPECT_TRUE(w.contains(at("2026-07-15T06:00:00Z")));
    EXPECT_TRUE(w.contains(at("2026-07-15T15:59:59Z")));
    EXPECT_FALSE(w.contains(at("2026-07-15T16:00:00Z")));
    // The local day decides: Friday 23:30 UTC is Saturday 00:30 in Paris.
    const AccessWindow friday = window("Fri Europe/Paris");
    EXPECT_FALSE(friday.contains(at("2026-11-27T23:30:00Z")));
    EXPECT_TRUE(friday.contains(at("2026-11-26T23:30:00Z")));  // Friday 00:30 local
    const AccessWindow kolkata = window("Mon-Fri 09:00-17:00 Asia/Kolkata");
    EXPECT_FALSE(kolkata.contains(at("2026-11-25T03:29:59Z")));
    EXPECT_TRUE(kolkata.contains(at("2026-11-25T03:30:00Z")));
    EXPECT_FALSE(kolkata.contains(at("2026-11-25T11:30:00Z")));
}

TEST(AccessWindow, MidnightCrossingInAZone) {
    const AccessWindow w = window("Fri 22:00-06:00 Europe/Paris");
    EXPECT_FALSE(w.contains(at("2026-11-27T20:59:59Z")));
    EXPECT_TRUE(w.contains(at("2026-11-27T21:00:00Z")));
    EXPECT_TRUE(w.contains(at("2026-11-28T04:59:59Z")));
    EXPECT_FALSE(w.contains(at("2026-11-28T05:00:00Z")));
}

TEST(AccessWindow, ParisSpringForwardHourNeverMatches) {
    // 2026-03-29: 02:00 local jumps to 03:00.
    const AccessWindow w = window("Sun 02:00-03:00 Europe/Paris");
    EXPECT_EQ(openMinutes(w, at("2026-03-28T12:00:00Z"), at("2026-03-30T12:00:00Z")), 0);
    // The week before and after it is one hour.
    EXPECT_EQ(openMinutes(w, at("2026-03-21T12:00:00Z"), at("2026-03-23T12:00:00Z")), 60);
    EXPECT_EQ(openMinutes(w, at("2026-04-04T12:00:00Z"), at("2026-04-06T12:00:00Z")), 60);
}

TEST(AccessWindow, ParisFallBackHourMatchesTwice) {
    // 2026-10-25: 03:00 local goes back to 02:00, the hour happens twice.
    const AccessWindow w = window("Sun 02:00-03:00 Europe/Paris");
    EXPECT_EQ(openMinutes(w, at("2026-10-24T12:00:00Z"), at("2026-10-26T12:00:00Z")), 120);
    EXPECT_TRUE(w.contains(at("2026-10-25T00:00:00Z")));  // 02:00 CEST
    EXPECT_TRUE(w.contains(at("2026-10-25T01:59:59Z")));  // 02:59:59 CET
    EXPECT_FALSE(w.contains(at("2026-10-25T02:00:00Z")));
}

TEST(AccessWindow, ParisOfficeHoursOnDstDays) {
    const AccessWindow w = window("Sun 08:00-18:00 Europe/Paris");
    // Spring forward day: already UTC+2 at 08:00 local.
    EXPECT_FALSE(w.contains(at("2026-03-29T05:59:59Z")));
    EXPECT_TRUE(w.contains(at("2026-03-29T06:00:00Z")));
    EXPECT_TRUE(w.contains(at("2026-03-29T15:59:59Z")));
    EXPECT_FALSE(w.contains(at("2026-03-29T16:00:00Z")));
    // Fall back day: UTC+1 again at 08:00 local.
    EXPECT_FALSE(w.contains(at("2026-10-25T06:59:59Z")));
    EXPECT_TRUE(w.contains(at("2026-10-25T07:00:00Z")));
    EXPECT_TRUE(w.contains(at("2026-10-25T16:59:59Z")));
    EXPECT_FALSE(w.contains(at("2026-10-25T17:00:00Z")));
    // A whole-day window on these days lasts 23 and 25 hours.
    const AccessWindow sunday = window("Sun Europe/Paris");
    EXPECT_EQ(openMinutes(sunday, at("2026-03-28T00:00:00Z"), at("2026-03-31T00:00:00Z")), 23 * 60);
    EXPECT_EQ(openMinutes(sunday, at("2026-10-24T00:00:00Z"), at("2026-10-27T00:00:00Z")), 25 * 60);
}

TEST(AccessWindow, NewYorkDstDays) {
    const AccessWindow gap = window("Sun 02:00-03:00 America/New_York");
    EXPECT_EQ(openMinutes(gap, at("2026-03-07T12:00:00Z"), at("2026-03-09T12:00:00Z")), 0);
    const AccessWindow dup = window("Sun 01:00-02:00 America/New_York");
    EXPECT_EQ(openMinutes(dup, at("2026-10-31T12:00:00Z"), at("2026-11-02T12:00:00Z")), 120);
    const AccessWindow w = window("Sun 08:00-18:00 America/New_York");
    // 2026-03-08: EDT (UTC-4) from 07:00Z.
    EXPECT_FALSE(w.contains(at("2026-03-08T11:59:59Z")));
    EXPECT_TRUE(w.contains(at("2026-03-08T12:00:00Z")));
    EXPECT_TRUE(w.contains(at("2026-03-08T21:59:59Z")));
    EXPECT_FALSE(w.contains(at("2026-03-08T22:00:00Z")));
    // 2026-11-01: EST (UTC-5) from 06:00Z.
    EXPECT_FALSE(w.contains(at("2026-11-01T12:59:59Z")));
    EXPECT_TRUE(w.contains(at("2026-11-01T13:00:00Z")));
    EXPECT_TRUE(w.contains(at("2026-11-01T22:59:59Z")));
    EXPECT_FALSE(w.contains(at("2026-11-01T23:00:00Z")));
}

TEST(AccessWindow, UtcNeedsNoZoneinfo) {
    auto w = AccessWindow::parse("Mon-Fri 08:00-18:00 UTC", "/nonexistent/zoneinfo");
    ASSERT_TRUE(w.ok()) << w.error();
    EXPECT_TRUE(w->contains(at("2026-11-25T12:00:00Z")));
    auto implicit = AccessWindow::parse("Mon-Fri", "/nonexistent/zoneinfo");
    EXPECT_TRUE(implicit.ok());
    EXPECT_FALSE(AccessWindow::parse("Mon-Fri Europe/Paris", "/nonexistent/zoneinfo").ok());
}

TEST(AccessWindow, ErrorsNameTheBadToken) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"Mon-Fry 08:00-18:00", "\"Fry\""},
        {"Mon,Tues", "\"Tues\""},
        {"Mondays", "\"Mondays\""},
        {"Mon- 08:00-18:00", "\"Mon-\""},
        {"Mon,,Tue", "\"Mon,,Tue\""},
        {"Xyz-Fri", "Xyz-Fri"},
        {"Mon-Fri 8-18", "\"8-18\""},
        {"Mon-Fri 08:00-25:00", "\"08:00-25:00\""},
        {"Mon-Fri 24:00-08:00", "\"24:00-08:00\""},
        {"Mon-Fri 08:60-09:00", "\"08:60-09:00\""},
        {"Mon-Fri 08:00", "\"08:00\""},
        {"Mon-Fri 08:00-", "\"08:00-\""},
        {"Mon-Fri 0800-1800", "\"0800-1800\""},
        {"Mon-Fri 08:00-18:00-19:00", "\"08:00-18:00-19:00\""},
        {"Mon-Fri 8:0-9:00", "\"8:0-9:00\""},
        {"Mon-Fri 123:00-18:00", "\"123:00-18:00\""},
        {"Mon-Fri 24:01-24:00", "\"24:01-24:00\""},
        {"Mon-Fri 08:00-24:30", "\"08:00-24:30\""},
        {"Mon-Fri 08:00-18:00 Mars/Base", "\"Mars/Base\""},
        {"Mon-Fri 08:00-18:00 ../etc/passwd", "\"../etc/passwd\""},
        {"Mon-Fri 08:00-18:00 UTC extra", "\"extra\""},
        {"08:00-18:00 Mon-Fri", "\"Mon-Fri\""},
        {"Mon-Fri Sat", "\"Sat\""},
        {"Mon-Fri 08:00-18:00 09:00-10:00", "\"09:00-10:00\""},
        {"UTC", "days"},
        {"Europe/Paris", "days"},
        {"", "empty"},
        {"   ", "empty"},
    };
    for (const auto& [spec, needle] : cases) {
        auto w = AccessWindow::parse(spec);
        ASSERT_FALSE(w.ok()) << "accepted: " << spec << " as " << w->toString();
        EXPECT_NE(w.error().find(needle), std::string::npos)
            << spec << " -> " << w.error() << " (expected to mention " << needle << ")";
    }
}

}  // namespace
}  // namespace portcullis

namespace portcullis {
namespace {

// Issue 13: a window's end gets notices and its start is shown ("opens at").
TEST(AccessWindow, NextChangeIsTheCloseWhenOpenAndTheOpenWhenClosed) {
    auto w = AccessWindow::parse("Mon-Fri 08:00-18:00 UTC");
    ASSERT_TRUE(w.ok());
    const auto wed = *parseIso8601("2026-11-25T10:00:30Z");
    EXPECT_EQ(formatIso8601(*w->nextChange(wed)), "2026-11-25T18:00:00Z");
    const auto friEvening = *parseIso8601("2026-11-27T19:00:00Z");
    EXPECT_EQ(formatIso8601(*w->nextChange(friEvening)), "2026-11-30T08:00:00Z");
    // Exactly at the boundary: the next change is the following one.
    EXPECT_EQ(formatIso8601(*w->nextChange(*parseIso8601("2026-11-25T08:00:00Z"))),
              "2026-11-25T18:00:00Z");
    // Zones: Paris is UTC+1 in November.
    auto paris = AccessWindow::parse("Mon-Fri 08:00-18:00 Europe/Paris");
    ASSERT_TRUE(paris.ok());
    EXPECT_EQ(formatIso8601(*paris->nextChange(wed)), "2026-11-25T17:00:00Z");
    // Open all week: never changes.
    auto always = AccessWindow::parse("Mon-Sun 00:00-24:00 UTC");
    ASSERT_TRUE(always.ok());
    EXPECT_FALSE(always->nextChange(wed));
}

}  // namespace
}  // namespace portcullis
