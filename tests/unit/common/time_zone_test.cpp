#include "common/time_zone.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace portcullis {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

TimePoint at(std::string_view iso) {
    auto r = parseIso8601(iso);
    EXPECT_TRUE(r.ok()) << iso;
    return r.ok() ? r.value() : TimePoint{};
}

// A scratch directory removed at the end of the test.
class TempDir {
  public:
    TempDir() {
        std::random_device rd;
        path_ = fs::temp_directory_path() /
                ("portcullis-tz-test-" + std::to_string(rd()) + std::to_string(rd()));
        fs::create_directories(path_);
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    const fs::path& path() const { return path_; }
    void write(const std::string& name, const std::string& data) const {
        fs::create_directories((path_ / name).parent_path());
        std::ofstream out(path_ / name, std::ios::binary | std::ios::trunc);
        out.write(data.data(), static_cast<std::streamsize>(data.size()));
    }

  private:
    fs::path path_;
};

std::string readFile(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Builds a TZif file (RFC 8536) for tests.
struct TzifSpec {
    char version = '2';  // 0, '2', '3', '4'
    std::vector<std::int64_t> times;
    std::vector<std::uint8_t> indices;
    std::vector<std::pair<std::int32_t, std::uint8_t>> types{{0, 0}};  // utoff, isdst
    std::string footer;
};

void put32(std::string& out, std::uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) out += static_cast<char>((v >> s) & 0xff);
}
void put64(std::string& out, std::uint64_t v) {
    for (int s = 56; s >= 0; s -= 8) out += static_cast<char>((v >> s) & 0xff);
}

std::string buildTzif(const TzifSpec& spec) {
    const std::string designations = "XXX";  // plus NUL
    const auto block = [&](bool wide) {
        std::string out = "TZif";
        out += spec.version;
        out += std::string(15, '\0');
        put32(out, 0);  // isutcnt
        put32(out, 0);  // isstdcnt
        put32(out, 0);  // leapcnt
        put32(out, static_cast<std::uint32_t>(spec.times.size()));
        put32(out, static_cast<std::uint32_t>(spec.types.size()));
        put32(out, static_cast<std::uint32_t>(designations.size() + 1));
        for (const std::int64_t t : spec.times) {
            if (wide) {
                put64(out, static_cast<std::uint64_t>(t));
            } else {
                put32(out, static_cast<std::uint32_t>(static_cast<std::int32_t>(t)));
            }
        }
        for (const std::uint8_t i : spec.indices) out += static_cast<char>(i);
        for (const auto& [utoff, isdst] : spec.types) {
            put32(out, static_cast<std::uint32_t>(utoff));
            out += static_cast<char>(isdst);
            out += '\0';
        }
        out += designations;
        out += '\0';
        return out;
    };
    std::string file = block(false);
    if (spec.version != 0) {
        file += block(true);
        file += "\n" + spec.footer + "\n";
    }
    return file;
}

// Expected offsets computed with `TZ=ZONE date -d @N +%::z` (tzdata 2025b).
struct Case {
    const char* zone;
    const char* instant;
    int offset;
};
const Case kCases[] = {
    {"Europe/Paris", "2026-03-29T00:59:59Z", 3600},
    {"Europe/Paris", "2026-03-29T01:00:00Z", 7200},
    {"Europe/Paris", "2026-10-25T00:59:59Z", 7200},
    {"Europe/Paris", "2026-10-25T01:00:00Z", 3600},
    {"Europe/Paris", "2026-01-15T12:00:00Z", 3600},
    {"Europe/Paris", "2026-07-15T12:00:00Z", 7200},
    {"Europe/Paris", "1900-01-01T00:00:00Z", 561},  // LMT +00:09:21
    {"Europe/Paris", "1944-08-25T12:00:00Z", 7200},
    {"Europe/Paris", "2100-01-01T00:00:00Z", 3600},
    {"Europe/Paris", "2100-07-01T00:00:00Z", 7200},
    {"Europe/Paris", "2100-03-28T00:59:59Z", 3600},
    {"Europe/Paris", "2100-03-28T01:00:00Z", 7200},
    {"Europe/Paris", "2100-10-31T00:59:59Z", 7200},
    {"Europe/Paris", "2100-10-31T01:00:00Z", 3600},
    {"America/New_York", "2026-03-08T06:59:59Z", -18000},
    {"America/New_York", "2026-03-08T07:00:00Z", -14400},
    {"America/New_York", "2026-11-01T05:59:59Z", -14400},
    {"America/New_York", "2026-11-01T06:00:00Z", -18000},
    {"America/New_York", "2100-03-14T06:59:59Z", -18000},
    {"America/New_York", "2100-03-14T07:00:00Z", -14400},
    {"America/New_York", "2100-11-07T05:59:59Z", -14400},
    {"America/New_York", "2100-11-07T06:00:00Z", -18000},
    {"America/New_York", "1850-06-01T00:00:00Z", -17762},  // LMT -04:56:02
    {"Australia/Lord_Howe", "2026-04-04T14:59:59Z", 39600},
    {"Australia/Lord_Howe", "2026-04-04T15:00:00Z", 37800},
    {"Australia/Lord_Howe", "2026-10-03T15:29:59Z", 37800},
    {"Australia/Lord_Howe", "2026-10-03T15:30:00Z", 39600},
    {"Australia/Lord_Howe", "2099-12-31T20:00:00Z", 39600},
    {"Australia/Lord_Howe", "2100-01-01T00:00:00Z", 39600},
    {"Australia/Lord_Howe", "2100-06-01T00:00:00Z", 37800},
    {"Australia/Lord_Howe", "2100-04-03T14:59:59Z", 39600},
    {"Australia/Lord_Howe", "2100-04-03T15:00:00Z", 37800},
    {"Asia/Kolkata", "2026-06-01T00:00:00Z", 19800},
    {"Asia/Kolkata", "2100-01-01T00:00:00Z", 19800},
    {"Asia/Kolkata", "1942-06-01T00:00:00Z", 19800},
    {"Asia/Tehran", "2026-06-01T00:00:00Z", 12600},
    {"Asia/Tehran", "2100-06-01T00:00:00Z", 12600},
    {"Antarctica/Troll", "2026-03-29T00:59:59Z", 0},
    {"Antarctica/Troll", "2026-03-29T01:00:00Z", 7200},
    {"Antarctica/Troll", "2100-07-01T00:00:00Z", 7200},
    {"America/Nuuk", "2026-03-29T00:59:59Z", -7200},  // TZif v3, footer times /-1 and /0
    {"America/Nuuk", "2026-03-29T01:00:00Z", -3600},
    {"America/Nuuk", "2100-03-28T00:59:59Z", -7200},
    {"America/Nuuk", "2100-03-28T01:00:00Z", -3600},
    {"America/Nuuk", "2100-10-31T00:59:59Z", -3600},
    {"America/Nuuk", "2100-10-31T01:00:00Z", -7200},
    {"America/Sao_Paulo", "2100-01-01T00:00:00Z", -10800},
    {"America/Sao_Paulo", "2015-01-01T00:00:00Z", -7200},
    {"Etc/UTC", "2026-06-01T00:00:00Z", 0},
    {"Etc/GMT+5", "2026-06-01T00:00:00Z", -18000},
};

TEST(TimeZone, MatchesTheSystemTzdb) {
    for (const Case& c : kCases) {
        auto tz = TimeZone::load(c.zone);
        ASSERT_TRUE(tz.ok()) << c.zone << ": " << tz.error();
        EXPECT_EQ(tz->offsetAt(at(c.instant)).count(), c.offset) << c.zone << " " << c.instant;
    }
}

TEST(TimeZone, SweepAgainstTransitionsIsMonotonicAroundParisDst) {
    auto paris = TimeZone::load("Europe/Paris");
    ASSERT_TRUE(paris.ok());
    // Spring forward: 02:00 local does not exist, the wall clock jumps to 03:00.
    const TimePoint t = at("2026-03-29T01:00:00Z");
    EXPECT_EQ(formatIso8601(TimePoint{paris->toLocal(t - 1s).time_since_epoch()}),
              "2026-03-29T01:59:59Z");
    EXPECT_EQ(formatIso8601(TimePoint{paris->toLocal(t).time_since_epoch()}),
              "2026-03-29T03:00:00Z");
}

TEST(TimeZone, ToLocal) {
    auto ny = TimeZone::load("America/New_York");
    ASSERT_TRUE(ny.ok());
    const auto local = ny->toLocal(at("2026-07-04T16:00:00Z"));
    EXPECT_EQ(local.time_since_epoch().count(),
              at("2026-07-04T12:00:00Z").time_since_epoch().count());
    EXPECT_EQ(ny->name(), "America/New_York");
}

TEST(TimeZone, UtcWorksWithoutZoneinfo) {
    auto tz = TimeZone::load("UTC", "/nonexistent/zoneinfo");
    ASSERT_TRUE(tz.ok()) << tz.error();
    EXPECT_EQ(tz->name(), "UTC");
    EXPECT_EQ(tz->offsetAt(at("2026-07-01T00:00:00Z")), 0s);
    const TimeZone utc = TimeZone::utc();
    EXPECT_EQ(utc.name(), "UTC");
    EXPECT_EQ(utc.offsetAt(TimePoint{Seconds{std::numeric_limits<std::int64_t>::max()}}), 0s);
    EXPECT_EQ(utc.toLocal(at("2026-07-01T10:00:00Z")).time_since_epoch().count(),
              at("2026-07-01T10:00:00Z").time_since_epoch().count());
}

TEST(TimeZone, CopiesShareRules) {
    auto tz = TimeZone::load("Europe/Paris");
    ASSERT_TRUE(tz.ok());
    const TimeZone copy = tz.value();
    TimeZone assigned = TimeZone::utc();
    assigned = copy;
    EXPECT_EQ(assigned.name(), "Europe/Paris");
    EXPECT_EQ(assigned.offsetAt(at("2026-07-01T00:00:00Z")), 2h);
}

TEST(TimeZone, RejectsUnsafeNames) {
    for (const std::string& bad :
         {std::string(""), std::string("../etc/passwd"), std::string("/etc/localtime"),
          std::string("Europe/../UTC"), std::string(".."), std::string("."),
          std::string("Europe//Paris"), std::string("Europe/Paris/"), std::string("Europe Paris"),
          std::string("Europe/Paris\n"), std::string("Europe/Pa.ris"), std::string("Europe\\Paris"),
          std::string("Europe/Paris\0x", 14), std::string("Europe/Pari$"), std::string("~root"),
          std::string(300, 'A'), std::string("Europe/Paris;rm")}) {
        auto tz = TimeZone::load(bad);
        ASSERT_FALSE(tz.ok()) << bad;
        EXPECT_NE(tz.error().find("bad time zone name"), std::string::npos) << tz.error();
    }
}

TEST(TimeZone, UnknownZonesAndDirectories) {
    auto mars = TimeZone::load("Mars/Olympus_Mons");
    ASSERT_FALSE(mars.ok());
    EXPECT_NE(mars.error().find("unknown time zone \"Mars/Olympus_Mons\""), std::string::npos)
        << mars.error();
    EXPECT_FALSE(TimeZone::load("Europe").ok());  // a directory
    EXPECT_FALSE(TimeZone::load("Europe/Paris", "/nonexistent/zoneinfo").ok());
}

TEST(TimeZone, NotATzifFile) {
    TempDir dir;
    dir.write("Bad/Text", "hello, this is not a time zone file at all, no really it is not\n");
    dir.write("Bad/Empty", "");
    for (const char* name : {"Bad/Text", "Bad/Empty"}) {
        auto tz = TimeZone::load(name, dir.path());
        ASSERT_FALSE(tz.ok()) << name;
        EXPECT_NE(tz.error().find("corrupt"), std::string::npos) << tz.error();
    }
}

TEST(TimeZone, EveryTruncationOfARealFileIsAnError) {
    const std::string paris = readFile("/usr/share/zoneinfo/Europe/Paris");
    ASSERT_GT(paris.size(), 100u);
    TempDir dir;
    dir.write("Full/Paris", paris);
    auto full = TimeZone::load("Full/Paris", dir.path());
    ASSERT_TRUE(full.ok()) << full.error();
    EXPECT_EQ(full->offsetAt(at("2026-07-01T00:00:00Z")), 2h);
    for (std::size_t len = 0; len < paris.size(); ++len) {
        dir.write("Cut/Paris", paris.substr(0, len));
        auto tz = TimeZone::load("Cut/Paris", dir.path());
        EXPECT_FALSE(tz.ok()) << "prefix of " << len << " bytes was accepted";
    }
}

TEST(TimeZone, CorruptedFilesNeverCrash) {
    const std::vector<std::string> sources = {
        readFile("/usr/share/zoneinfo/Europe/Paris"),
        readFile("/usr/share/zoneinfo/Australia/Lord_Howe"),
        readFile("/usr/share/zoneinfo/America/Nuuk"),
    };
    TempDir dir;
    std::mt19937 rng(12345);
    const TimePoint probes[] = {TimePoint{Seconds{std::numeric_limits<std::int64_t>::min()}},
                                TimePoint{Seconds{std::numeric_limits<std::int64_t>::max()}},
                                at("1800-01-01"),
                                at("2026-03-29T01:00:00Z"),
                                at("2100-07-01"),
                                at("9999-12-31"),
                                TimePoint{Seconds{-(std::int64_t{1} << 50)}},
                                TimePoint{Seconds{std::int64_t{1} << 50}}};
    int accepted = 0;
    for (int i = 0; i < 3000; ++i) {
        std::string data = sources[static_cast<std::size_t>(i) % sources.size()];
        const int flips = 1 + static_cast<int>(rng() % 8);
        for (int f = 0; f < flips; ++f) {
            // Favour the headers, where the counts live.
            const std::size_t pos = (rng() % 2) ? rng() % 64 : rng() % data.size();
            data[pos] = static_cast<char>(rng() & 0xff);
        }
        dir.write("Fuzz/Zone", data);
        auto tz = TimeZone::load("Fuzz/Zone", dir.path());
        if (!tz.ok()) continue;
        ++accepted;
        for (const TimePoint p : probes) {
            const auto off = tz->offsetAt(p);
            EXPECT_LE(std::chrono::abs(off), 200h);
        }
    }
    SUCCEED() << accepted << " corrupted files still parsed";
}

TEST(TimeZone, CraftedHostileHeaders) {
    TempDir dir;
    const auto expectError = [&](const std::string& data, const char* what) {
        dir.write("Crafted/Zone", data);
        auto tz = TimeZone::load("Crafted/Zone", dir.path());
        EXPECT_FALSE(tz.ok()) << what;
    };
    // Huge counts that would overflow 32-bit size arithmetic.
    std::string huge = "TZif2" + std::string(15, '\0');
    for (int i = 0; i < 6; ++i) put32(huge, 0xffffffffu);
    expectError(huge, "huge counts");

    TzifSpec noTypes;
    noTypes.types.clear();
    expectError(buildTzif(noTypes), "zero types");

    TzifSpec badIndex;
    badIndex.times = {1000};
    badIndex.indices = {1};
    expectError(buildTzif(badIndex), "type index out of range");

    TzifSpec unsorted;
    unsorted.types = {{0, 0}, {3600, 1}};
    unsorted.times = {2000, 1000};
    unsorted.indices = {1, 0};
    expectError(buildTzif(unsorted), "transitions out of order");

    TzifSpec badOffset;
    badOffset.types = {{std::numeric_limits<std::int32_t>::min(), 0}};
    expectError(buildTzif(badOffset), "utoff -2^31");

    TzifSpec badDst;
    badDst.types = {{0, 7}};
    expectError(buildTzif(badDst), "isdst 7");

    TzifSpec badVersion;
    badVersion.version = '1';
    expectError(buildTzif(badVersion), "version '1'");

    for (const char* footer :
         {"CET-1CEST,M3.5.0", "CET-1CEST,M13.5.0,M10.5.0", "CET-1CEST,M3.6.0,M10.5.0",
          "CET-1CEST,M3.5.7,M10.5.0", "CET-1CEST,J0,J365", "CET-1CEST,366,1", "C-1", "CET",
          "CET-25", "<+03", "<+03>", "<>3", "CET-1CEST,M3.5.0/168,M10.5.0", "CET-1CEST,M3.5.0,",
          "CET-1:60", "CET-1CEST,M3.5.0,M10.5.0junk", "123", "CET-1CEST-2:00:60,M3.5.0,M10.5.0"}) {
        TzifSpec spec;
        spec.footer = footer;
        expectError(buildTzif(spec), footer);
    }

    std::string noNewline = buildTzif(TzifSpec{});
    noNewline.pop_back();
    expectError(noNewline, "footer without closing newline");
}

TEST(TimeZone, Version1FileWithoutFooter) {
    TzifSpec spec;
    spec.version = 0;
    spec.types = {{3600, 0}, {7200, 1}};
    spec.times = {1000000, 2000000};
    spec.indices = {1, 0};
    TempDir dir;
    dir.write("V1/Zone", buildTzif(spec));
    auto tz = TimeZone::load("V1/Zone", dir.path());
    ASSERT_TRUE(tz.ok()) << tz.error();
    EXPECT_EQ(tz->offsetAt(TimePoint{Seconds{0}}), 1h);  // before the first: type 0
    EXPECT_EQ(tz->offsetAt(TimePoint{Seconds{999999}}), 1h);
    EXPECT_EQ(tz->offsetAt(TimePoint{Seconds{1000000}}), 2h);
    EXPECT_EQ(tz->offsetAt(TimePoint{Seconds{1999999}}), 2h);
    EXPECT_EQ(tz->offsetAt(TimePoint{Seconds{2000000}}), 1h);
    EXPECT_EQ(tz->offsetAt(TimePoint{Seconds{4000000000LL}}), 1h);  // last type stays
}

TEST(TimeZone, Version2UsesThe64BitBlock) {
    TzifSpec spec;
    spec.types = {{0, 0}, {3600, 0}};
    spec.times = {-10000000000LL, 5000000000LL};  // beyond 32 bits
    spec.indices = {1, 0};
    spec.footer = "";  // no rule: the last type continues
    TempDir dir;
    dir.write("V2/Zone", buildTzif(spec));
    auto tz = TimeZone::load("V2/Zone", dir.path());
    ASSERT_TRUE(tz.ok()) << tz.error();
    EXPECT_EQ(tz->offsetAt(TimePoint{Seconds{-10000000001LL}}), 0s);
    EXPECT_EQ(tz->offsetAt(TimePoint{Seconds{-10000000000LL}}), 1h);
    EXPECT_EQ(tz->offsetAt(TimePoint{Seconds{4999999999LL}}), 1h);
    EXPECT_EQ(tz->offsetAt(TimePoint{Seconds{5000000000LL}}), 0s);
}

// Footer-only zones: expected values from glibc, `TZ='RULE' date -d @N +%::z`,
// except where noted.
struct FooterCase {
    const char* rule;
    const char* instant;
    int offset;
};
const FooterCase kFooterCases[] = {
    {"EST5EDT,M3.2.0,M11.1.0", "2030-03-10T06:59:59Z", -18000},
    {"EST5EDT,M3.2.0,M11.1.0", "2030-03-10T07:00:00Z", -14400},
    {"CET-1CEST,M3.5.0,M10.5.0/3", "2030-03-31T00:59:59Z", 3600},
    {"CET-1CEST,M3.5.0,M10.5.0/3", "2030-03-31T01:00:00Z", 7200},
    {"<+0330>-3:30", "2030-01-01T00:00:00Z", 12600},
    {"STD4", "2030-06-01T00:00:00Z", -14400},
    // Jn: February 29 is never counted, J60 is always March 1.
    {"XXX3YYY,J60/2,J300/2", "2028-02-29T04:59:59Z", -10800},
    {"XXX3YYY,J60/2,J300/2", "2028-03-01T04:59:59Z", -10800},
    {"XXX3YYY,J60/2,J300/2", "2028-03-01T05:00:00Z", -7200},
    {"XXX3YYY,J60/2,J300/2", "2027-03-01T04:59:59Z", -10800},
    {"XXX3YYY,J60/2,J300/2", "2027-03-01T05:00:00Z", -7200},
    {"XXX3YYY,J60/2,J300/2", "2028-10-27T03:59:59Z", -7200},
    {"XXX3YYY,J60/2,J300/2", "2028-10-27T04:00:00Z", -10800},
    // n: zero-based, leap days counted (59 is Feb 29 in leap years).
    {"XXX3YYY,59/2,299/2", "2028-02-29T04:59:59Z", -10800},
    {"XXX3YYY,59/2,299/2", "2028-02-29T05:00:00Z", -7200},
    {"XXX3YYY,59/2,299/2", "2027-03-01T04:59:59Z", -10800},
    {"XXX3YYY,59/2,299/2", "2027-03-01T05:00:00Z", -7200},
    {"XXX3YYY,59/2,299/2", "2028-10-26T03:59:59Z", -7200},
    {"XXX3YYY,59/2,299/2", "2028-10-26T04:00:00Z", -10800},
    // Southern hemisphere: DST across the new year.
    {"AAA-10BBB-11,M10.1.0/2,M4.1.0/3", "2030-01-01T00:00:00Z", 39600},
    {"AAA-10BBB-11,M10.1.0/2,M4.1.0/3", "2030-06-01T00:00:00Z", 36000},
    {"AAA-10BBB-11,M10.1.0/2,M4.1.0/3", "2030-04-06T15:59:59Z", 39600},
    {"AAA-10BBB-11,M10.1.0/2,M4.1.0/3", "2030-04-06T16:00:00Z", 36000},
    {"AAA-10BBB-11,M10.1.0/2,M4.1.0/3", "2030-10-05T15:59:59Z", 36000},
    {"AAA-10BBB-11,M10.1.0/2,M4.1.0/3", "2030-10-05T16:00:00Z", 39600},
    // Negative rule times (TZif v3).
    {"<-03>3<-02>,M3.5.0/-2,M10.5.0/-1", "2030-03-31T00:59:59Z", -10800},
    {"<-03>3<-02>,M3.5.0/-2,M10.5.0/-1", "2030-03-31T01:00:00Z", -7200},
    {"<-03>3<-02>,M3.5.0/-2,M10.5.0/-1", "2030-10-27T00:59:59Z", -7200},
    {"<-03>3<-02>,M3.5.0/-2,M10.5.0/-1", "2030-10-27T01:00:00Z", -10800},
    // DST name without rule: the US default rule, as glibc does.
    {"EST5EDT", "2030-03-10T06:59:59Z", -18000},
    {"EST5EDT", "2030-03-10T07:00:00Z", -14400},
    {"EST5EDT", "2030-07-01T00:00:00Z", -14400},
    // Year-round DST (RFC 8536 section 3.3.1). glibc says -05:00 for the first
    // hours of January 1 because it looks at one year only; DST of the previous
    // year runs until J365/25 = January 1 05:00Z, as zic and tzcode mean it.
    {"EST5EDT,0/0,J365/25", "2030-01-01T02:00:00Z", -14400},
    {"EST5EDT,0/0,J365/25", "2030-07-01T02:00:00Z", -14400},
    {"EST5EDT,0/0,J365/25", "2030-12-31T23:00:00Z", -14400},
    // Rule time up to 167 hours (TZif v3; glibc does not support it):
    // last Sunday of October 2030 is the 27th, + 167h = Nov 2 23:00 local (+2).
    {"AAA-1BBB,M3.5.0/-1,M10.5.0/167", "2030-03-30T21:59:59Z", 3600},
    {"AAA-1BBB,M3.5.0/-1,M10.5.0/167", "2030-03-30T22:00:00Z", 7200},
    {"AAA-1BBB,M3.5.0/-1,M10.5.0/167", "2030-11-02T20:59:59Z", 7200},
    {"AAA-1BBB,M3.5.0/-1,M10.5.0/167", "2030-11-02T21:00:00Z", 3600},
};

TEST(TimeZone, PosixFooterRules) {
    TempDir dir;
    int n = 0;
    for (const FooterCase& c : kFooterCases) {
        TzifSpec spec;
        spec.version = '3';
        spec.footer = c.rule;
        const std::string name = "Rule/Z" + std::to_string(n++);
        dir.write(name, buildTzif(spec));
        auto tz = TimeZone::load(name, dir.path());
        ASSERT_TRUE(tz.ok()) << c.rule << ": " << tz.error();
        EXPECT_EQ(tz->offsetAt(at(c.instant)).count(), c.offset) << c.rule << " " << c.instant;
    }
}

TEST(TimeZone, FooterAppliesOnlyAfterTheLastTransition) {
    TzifSpec spec;
    spec.types = {{0, 0}, {3600, 0}};
    spec.times = {at("2000-01-01").time_since_epoch().count()};
    spec.indices = {1};
    spec.footer = "CET-1CEST,M3.5.0,M10.5.0/3";
    TempDir dir;
    dir.write("Mix/Zone", buildTzif(spec));
    auto tz = TimeZone::load("Mix/Zone", dir.path());
    ASSERT_TRUE(tz.ok()) << tz.error();
    EXPECT_EQ(tz->offsetAt(at("1999-07-01")), 0s);
    EXPECT_EQ(tz->offsetAt(at("2000-01-01")), 1h);
    EXPECT_EQ(tz->offsetAt(at("2000-07-01")), 2h);
}

TEST(TimeZone, ExtremeInstantsDoNotOverflow) {
    for (const char* zone : {"Europe/Paris", "Australia/Lord_Howe", "America/New_York"}) {
        auto tz = TimeZone::load(zone);
        ASSERT_TRUE(tz.ok());
        for (const std::int64_t s :
             {std::numeric_limits<std::int64_t>::min(), std::numeric_limits<std::int64_t>::max(),
              std::int64_t{1} << 40, -(std::int64_t{1} << 40)}) {
            const auto off = tz->offsetAt(TimePoint{Seconds{s}});
            EXPECT_LE(std::chrono::abs(off), 24h) << zone << " " << s;
        }
    }
}

}  // namespace
}  // namespace portcullis

namespace portcullis {
namespace {

// glibc's localtime_r reads the same files; compare over three centuries.
TEST(TimeZone, AgreesWithGlibcLocaltime) {
    const char* zones[] = {
        "Europe/Paris",      "America/New_York",    "Australia/Lord_Howe", "Asia/Kolkata",
        "Europe/London",     "America/Los_Angeles", "America/Santiago",    "Pacific/Auckland",
        "Africa/Casablanca", "Asia/Tehran",         "America/Nuuk",        "Antarctica/Troll",
        "Pacific/Chatham",   "America/St_Johns",    "Europe/Dublin",       "Australia/Adelaide",
        "America/Asuncion",  "Asia/Gaza",           "Pacific/Kiritimati",  "America/Sao_Paulo",
        "Europe/Moscow",     "Etc/GMT-14",          "Asia/Jerusalem",      "America/Havana"};
    const char* savedTz = std::getenv("TZ");
    const std::string saved = savedTz ? savedTz : "";
    for (const char* zone : zones) {
        auto tz = TimeZone::load(zone);
        ASSERT_TRUE(tz.ok()) << zone << ": " << tz.error();
        ::setenv("TZ", (std::string(":") + zone).c_str(), 1);
        ::tzset();
        int mismatches = 0;
        // 1901 .. 2200, a prime step so that all hours of the day are hit.
        for (std::int64_t s = -2177452800LL; s < 7258118400LL && mismatches < 5; s += 86399 * 3) {
            const time_t tt = static_cast<time_t>(s);
            struct tm tm {};
            ASSERT_NE(::localtime_r(&tt, &tm), nullptr);
            const auto ours = tz->offsetAt(TimePoint{Seconds{s}}).count();
            if (ours != tm.tm_gmtoff) {
                ++mismatches;
                ADD_FAILURE() << zone << " at " << formatIso8601(TimePoint{Seconds{s}}) << ": ours "
                              << ours << ", glibc " << tm.tm_gmtoff;
            }
        }
    }
    if (savedTz) {
        ::setenv("TZ", saved.c_str(), 1);
    } else {
        ::unsetenv("TZ");
    }
    ::tzset();
}

}  // namespace
}  // namespace portcullis
