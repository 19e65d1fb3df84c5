#include "common/time_format.hpp"

#include <gtest/gtest.h>

namespace portcullis {
namespace {

using namespace std::chrono_literals;

TimePoint at(std::string_view iso) {
    auto r = parseIso8601(iso);
    EXPECT_TRUE(r.ok()) << iso << ": " << (r.ok() ? "" : r.error());
    return r.ok() ? r.value() : TimePoint{};
}

TEST(ParseDuration, SingleUnits) {
    EXPECT_EQ(parseDuration("90s").value(), 90s);
    EXPECT_EQ(parseDuration("30m").value(), 30min);
    EXPECT_EQ(parseDuration("8h").value(), 8h);
    EXPECT_EQ(parseDuration("7d").value(), 7 * 24h);
    EXPECT_EQ(parseDuration("0s").value(), 0s);
    EXPECT_EQ(parseDuration("007m").value(), 7min);
}

TEST(ParseDuration, Combinations) {
    EXPECT_EQ(parseDuration("1h30m").value(), 90min);
    EXPECT_EQ(parseDuration("1d12h").value(), 36h);
    EXPECT_EQ(parseDuration("2d3h4m5s").value(), 2 * 24h + 3h + 4min + 5s);
    EXPECT_EQ(parseDuration("1m30s").value(), 90s);
}

TEST(ParseDuration, RejectsBadInput) {
    for (const char* bad :
         {"",   "10",  "5x",   "-5m",   "+5m",  "h",   "1h30", "1.5h", " 1h",    "1h ",  "1 h",
          "1H", "1hh", "1h1h", "30m1h", "1s1m", "m30", "1w",   "∞",    "1h-30m", "0x10s"}) {
        auto r = parseDuration(bad);
        EXPECT_FALSE(r.ok()) << bad;
    }
}

TEST(ParseDuration, ErrorSaysWhatIsExpected) {
    auto r = parseDuration("5x");
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().find("bad duration \"5x\""), std::string::npos) << r.error();
    EXPECT_NE(r.error().find("90s, 30m, 8h, 7d"), std::string::npos) << r.error();
    auto unitless = parseDuration("10");
    ASSERT_FALSE(unitless.ok());
    EXPECT_NE(unitless.error().find("unit"), std::string::npos);
}

TEST(ParseDuration, RejectsOverflow) {
    EXPECT_FALSE(parseDuration("99999999999999999999999s").ok());
    EXPECT_FALSE(parseDuration("9223372036854775807s").ok());
    EXPECT_FALSE(parseDuration("106751991167300d").ok());
    EXPECT_FALSE(parseDuration("36500d1s").ok());
    EXPECT_FALSE(parseDuration("36501d").ok());
    EXPECT_TRUE(parseDuration("36500d").ok());
    auto r = parseDuration("99999999999d");
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().find("too long"), std::string::npos);
}

TEST(FormatDuration, Canonical) {
    EXPECT_EQ(formatDuration(0s), "0s");
    EXPECT_EQ(formatDuration(90s), "1m30s");
    EXPECT_EQ(formatDuration(90min), "1h30m");
    EXPECT_EQ(formatDuration(8h), "8h");
    EXPECT_EQ(formatDuration(7 * 24h), "7d");
    EXPECT_EQ(formatDuration(24h + 1s), "1d1s");
    EXPECT_EQ(formatDuration(-90s), "-1m30s");
    EXPECT_EQ(formatDuration(Seconds{std::numeric_limits<std::int64_t>::min()}).front(), '-');
}

TEST(FormatDuration, RoundTrips) {
    for (const char* text : {"1s", "59s", "1m", "1h1s", "1d", "2d3h4m5s", "36500d"}) {
        auto d = parseDuration(text);
        ASSERT_TRUE(d.ok()) << text;
        EXPECT_EQ(formatDuration(d.value()), text);
    }
    for (std::int64_t s : {0, 1, 59, 60, 61, 3599, 3600, 86399, 86400, 90061, 31536000}) {
        auto d = parseDuration(formatDuration(Seconds{s}));
        ASSERT_TRUE(d.ok()) << s;
        EXPECT_EQ(d.value().count(), s);
    }
}

TEST(ParseIso8601, Forms) {
    const TimePoint expected = at("2026-11-25T18:20:06Z");
    EXPECT_EQ(expected.time_since_epoch().count(), 1795630806);  // date -d ... +%s
    EXPECT_EQ(at("2026-11-25T19:20:06+01:00"), expected);
    EXPECT_EQ(at("2026-11-25T13:20:06-05:00"), expected);
    EXPECT_EQ(at("2026-11-25T23:50:06+05:30"), expected);
    EXPECT_EQ(at("2026-11-25T19:20:06+0100"), expected);
    EXPECT_EQ(at("2026-11-25T19:20:06+01"), expected);
    EXPECT_EQ(at("2026-11-25t18:20:06z"), expected);
    EXPECT_EQ(at("2026-11-25T18:20:06.999Z"), expected);
    EXPECT_EQ(at("2026-11-25T18:20Z"), expected - 6s);
    EXPECT_EQ(at("2026-11-25"), expected - 18h - 20min - 6s);
    EXPECT_EQ(at("1970-01-01T00:00:00Z").time_since_epoch().count(), 0);
    EXPECT_EQ(at("1969-12-31T23:59:59Z").time_since_epoch().count(), -1);
    EXPECT_EQ(at("2024-02-29").time_since_epoch().count(), 1709164800);
    EXPECT_EQ(at("2000-02-29T12:00:00Z").time_since_epoch().count(), 951825600);
    // The offset may move the instant across a day boundary.
    EXPECT_EQ(at("2026-01-01T00:30:00+01:00"), at("2025-12-31T23:30:00Z"));
}

TEST(ParseIso8601, RejectsGarbageAndInvalidDates) {
    for (const char* bad : {"",
                            "garbage",
                            "2026",
                            "2026-11",
                            "2026-1-25",
                            "2026-11-5",
                            "26-11-25",
                            "2026/11/25",
                            "2026-02-30",
                            "2026-02-29",
                            "2100-02-29",
                            "2026-13-01",
                            "2026-00-10",
                            "2026-04-31",
                            "2026-11-00",
                            "0000-01-01",
                            "2026-11-25T",
                            "2026-11-25T18",
                            "2026-11-25T18:20",
                            "2026-11-25T18:20:06",
                            "2026-11-25T24:00:00Z",
                            "2026-11-25T18:60:00Z",
                            "2026-11-25T18:20:60Z",
                            "2026-11-25T18:20:06+1:00",
                            "2026-11-25T18:20:06+24:00",
                            "2026-11-25T18:20:06+01:60",
                            "2026-11-25T18:20:06Zjunk",
                            "2026-11-25T18:20:06 Z",
                            "2026-11-25 18:20:06Z",
                            " 2026-11-25",
                            "2026-11-25 ",
                            "2026-11-25T18:20:06.Z",
                            "2026-11-25T18:20:06+01:00:00",
                            "2026-11-25x",
                            "-2026-11-25",
                            "2026-11-25T1:20:06Z",
                            "２026-11-25"}) {
        EXPECT_FALSE(parseIso8601(bad).ok()) << bad;
    }
}

TEST(ParseIso8601, ErrorMessages) {
    auto garbage = parseIso8601("yesterday");
    ASSERT_FALSE(garbage.ok());
    EXPECT_NE(garbage.error().find("ISO 8601"), std::string::npos) << garbage.error();
    EXPECT_NE(garbage.error().find("2026-11-25T18:20:06Z"), std::string::npos);
    auto feb30 = parseIso8601("2026-02-30");
    ASSERT_FALSE(feb30.ok());
    EXPECT_NE(feb30.error().find("no such day"), std::string::npos) << feb30.error();
    auto noZone = parseIso8601("2026-11-25T18:20:06");
    ASSERT_FALSE(noZone.ok());
    EXPECT_NE(noZone.error().find("Z"), std::string::npos) << noZone.error();
}

TEST(FormatIso8601, AlwaysUtc) {
    EXPECT_EQ(formatIso8601(TimePoint{0s}), "1970-01-01T00:00:00Z");
    EXPECT_EQ(formatIso8601(TimePoint{Seconds{1795630806}}), "2026-11-25T18:20:06Z");
    EXPECT_EQ(formatIso8601(TimePoint{Seconds{-1}}), "1969-12-31T23:59:59Z");
    EXPECT_EQ(formatIso8601(at("2026-11-25T19:20:06+01:00")), "2026-11-25T18:20:06Z");
    EXPECT_EQ(formatIso8601(at("2024-02-29")), "2024-02-29T00:00:00Z");
    EXPECT_EQ(formatIso8601(at("9999-12-31T23:59:59Z")), "9999-12-31T23:59:59Z");
}

TEST(FormatIso8601, ExtremeInstantsAreDefined) {
    EXPECT_EQ(formatIso8601(at("0001-01-01T00:00:00Z")), "0001-01-01T00:00:00Z");
    EXPECT_EQ(formatIso8601(TimePoint{Seconds{253402300800}}), "10000-01-01T00:00:00Z");
    EXPECT_EQ(formatIso8601(TimePoint{Seconds{std::numeric_limits<std::int64_t>::max()}}),
              "292277026596-12-04T15:30:07Z");
    EXPECT_FALSE(
        formatIso8601(TimePoint{Seconds{std::numeric_limits<std::int64_t>::min()}}).empty());
}

TEST(FormatIso8601, RoundTrips) {
    for (std::int64_t s = -86400LL * 366 * 3; s < 86400LL * 366 * 200; s += 7777777) {
        const TimePoint t{Seconds{s}};
        EXPECT_EQ(at(formatIso8601(t)), t) << s;
    }
}

TEST(ParseExpiry, DurationFromNow) {
    const TimePoint now = at("2026-11-25T18:00:00Z");
    EXPECT_EQ(parseExpiry("8h", now).value(), at("2026-11-26T02:00:00Z"));
    EXPECT_EQ(parseExpiry("7d", now).value(), at("2026-12-02T18:00:00Z"));
    EXPECT_EQ(parseExpiry("1h30m", now).value(), at("2026-11-25T19:30:00Z"));
}

TEST(ParseExpiry, IsoIsReturnedAsIsEvenInThePast) {
    const TimePoint now = at("2026-11-25T18:00:00Z");
    EXPECT_EQ(parseExpiry("2027-01-01", now).value(), at("2027-01-01T00:00:00Z"));
    EXPECT_EQ(parseExpiry("2020-01-01T00:00:00Z", now).value(), at("2020-01-01T00:00:00Z"));
    EXPECT_EQ(parseExpiry("2026-11-25T20:00:00+01:00", now).value(), at("2026-11-25T19:00:00Z"));
}

TEST(ParseExpiry, Errors) {
    const TimePoint now = at("2026-11-25T18:00:00Z");
    for (const char* bad : {"", "tomorrow", "5x", "10", "-1h", "2026-02-30", "2026-11-25T10:00"}) {
        EXPECT_FALSE(parseExpiry(bad, now).ok()) << bad;
    }
    auto r = parseExpiry("5x", now);
    EXPECT_NE(r.error().find("90s, 30m, 8h, 7d"), std::string::npos) << r.error();
    auto word = parseExpiry("tomorrow", now);
    EXPECT_NE(word.error().find("ISO 8601"), std::string::npos) << word.error();
    EXPECT_NE(word.error().find("7d"), std::string::npos) << word.error();
    auto date = parseExpiry("2026-02-30", now);
    EXPECT_NE(date.error().find("no such day"), std::string::npos) << date.error();
}

TEST(ParseSince, DurationBeforeNow) {
    const TimePoint now = at("2026-11-25T18:00:00Z");
    EXPECT_EQ(parseSince("90s", now).value(), at("2026-11-25T17:58:30Z"));
    EXPECT_EQ(parseSince("7d", now).value(), at("2026-11-18T18:00:00Z"));
    EXPECT_EQ(parseSince("2026-11-01", now).value(), at("2026-11-01T00:00:00Z"));
    EXPECT_FALSE(parseSince("last week", now).ok());
    EXPECT_FALSE(parseSince("", now).ok());
}

TEST(SystemNow, IsCloseToTheSystemClock) {
    const auto a = systemNow();
    const auto b = std::chrono::system_clock::now();
    EXPECT_LE(std::chrono::abs(b - a), std::chrono::seconds(2));
}

}  // namespace
}  // namespace portcullis
