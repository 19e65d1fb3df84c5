#include "common/time_zone.hpp"

#include <algorithm>
#include <array>
#include <fstream>
#include <optional>
#include <system_error>
#include <vector>

namespace portcullis {

namespace {

constexpr std::int64_t kSecondsPerDay = 86400;
constexpr std::uintmax_t kMaxFileSize = 1 << 20;  // real TZif files are a few KiB
// Offsets beyond a week are nonsense (RFC 8536 footers allow up to 167 hours
// for rule times, offsets themselves stay within a day).
constexpr std::int64_t kMaxRuleSeconds = 167 * 3600 + 59 * 60 + 59;

// Calendar arithmetic on plain integers, safe for any year a 64-bit second
// count can reach after clamping (H. Hinnant's algorithms).
std::int64_t daysFromCivil(std::int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    const auto yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

std::int64_t yearFromDays(std::int64_t z) {
    z += 719468;
    const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const auto doe = static_cast<unsigned>(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    const unsigned m = mp < 10 ? mp + 3 : mp - 9;
    return y + (m <= 2);
}

bool isLeap(std::int64_t y) {
    return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
}

unsigned daysInMonth(std::int64_t y, unsigned m) {
    static constexpr std::array<unsigned, 12> kDays{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && isLeap(y) ? 29 : kDays[m - 1];
}

// 0 = Sunday.
unsigned weekdayOf(std::int64_t days) {
    const std::int64_t w = (days + 4) % 7;  // 1970-01-01 was a Thursday
    return static_cast<unsigned>(w < 0 ? w + 7 : w);
}

std::int64_t floorDiv(std::int64_t a, std::int64_t b) {
    std::int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
    return q;
}

// One date of a POSIX TZ rule: "Jn", "n" or "Mm.w.d", plus the local time.
struct RuleDate {
    enum class Kind { julianNoLeap, zeroBased, monthWeekDay } kind = Kind::monthWeekDay;
    int day = 0;  // Jn: 1..365, n: 0..365, M: weekday 0..6
    int month = 0;
    int week = 0;
    std::int64_t time = 2 * 3600;  // seconds after local midnight, may be < 0 or > 24h

    // Local (wall clock) seconds since the epoch when this rule fires in year y.
    std::int64_t localSecondsIn(std::int64_t y) const {
        std::int64_t dayNumber = 0;
        switch (kind) {
            case Kind::julianNoLeap: {
                // Day 1..365, February 29 never counted.
                std::int64_t doy = day - 1;
                if (isLeap(y) && day >= 60) ++doy;
                dayNumber = daysFromCivil(y, 1, 1) + doy;
                break;
            }
            case Kind::zeroBased: {
                int doy = day;
                if (doy == 365 && !isLeap(y)) doy = 364;  // clamp, never spill into next year
                dayNumber = daysFromCivil(y, 1, 1) + doy;
                break;
            }
            case Kind::monthWeekDay: {
                const auto m = static_cast<unsigned>(month);
                const std::int64_t first = daysFromCivil(y, m, 1);
                const unsigned firstWd = weekdayOf(first);
                std::int64_t d = (static_cast<unsigned>(day) + 7 - firstWd) % 7;  // first match
                d += 7 * (week - 1);
                while (d >= static_cast<std::int64_t>(daysInMonth(y, m))) d -= 7;  // week 5 = last
                dayNumber = first + d;
                break;
            }
        }
        return dayNumber * kSecondsPerDay + time;
    }
};

struct PosixTz {
    std::int64_t stdOffset = 0;  // seconds east of UTC (sign already inverted)
    bool hasDst = false;
    std::int64_t dstOffset = 0;
    RuleDate start;
    RuleDate end;
};

// Parser for the footer, e.g. "CET-1CEST,M3.5.0,M10.5.0/3", "<+0330>-3:30".
class PosixTzParser {
  public:
    explicit PosixTzParser(std::string_view s) : s_(s) {}

    std::optional<PosixTz> parse() {
        PosixTz tz;
        if (!name()) return std::nullopt;
        std::int64_t off = 0;
        if (!offset(off, 24 * 3600 + 59 * 60 + 59)) return std::nullopt;
        tz.stdOffset = -off;
        if (atEnd()) return tz;
        if (!name()) return std::nullopt;
        tz.hasDst = true;
        tz.dstOffset = tz.stdOffset + 3600;
        if (!atEnd() && peek() != ',') {
            if (!offset(off, 24 * 3600 + 59 * 60 + 59)) return std::nullopt;
            tz.dstOffset = -off;
        }
        if (atEnd()) {
            // No rule given: the traditional US default, as glibc does.
            tz.start = RuleDate{RuleDate::Kind::monthWeekDay, 0, 3, 2, 2 * 3600};
            tz.end = RuleDate{RuleDate::Kind::monthWeekDay, 0, 11, 1, 2 * 3600};
            return tz;
        }
        if (!expect(',') || !ruleDate(tz.start) || !expect(',') || !ruleDate(tz.end)) {
            return std::nullopt;
        }
        if (!atEnd()) return std::nullopt;
        return tz;
    }

  private:
    bool atEnd() const { return pos_ >= s_.size(); }
    char peek() const { return s_[pos_]; }
    bool expect(char c) {
        if (atEnd() || peek() != c) return false;
        ++pos_;
        return true;
    }
    static bool isAlpha(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
    static bool isDigit(char c) { return c >= '0' && c <= '9'; }

    bool name() {
        if (atEnd()) return false;
        if (peek() == '<') {
            ++pos_;
            const std::size_t begin = pos_;
            while (!atEnd() && peek() != '>') {
                const char c = peek();
                if (!isAlpha(c) && !isDigit(c) && c != '+' && c != '-') return false;
                ++pos_;
            }
            if (atEnd() || pos_ - begin < 3) return false;
            ++pos_;  // '>'
            return true;
        }
        const std::size_t begin = pos_;
        while (!atEnd() && isAlpha(peek())) ++pos_;
        return pos_ - begin >= 3;
    }

    // Non-negative integer of at most maxDigits digits.
    bool number(std::int64_t& out, int maxDigits) {
        const std::size_t begin = pos_;
        std::int64_t v = 0;
        while (!atEnd() && isDigit(peek())) {
            if (static_cast<int>(pos_ - begin) >= maxDigits) return false;
            v = v * 10 + (peek() - '0');
            ++pos_;
        }
        if (pos_ == begin) return false;
        out = v;
        return true;
    }

    // [+-]hh[:mm[:ss]] in seconds; the sign is returned as written.
    bool offset(std::int64_t& out, std::int64_t limit) {
        int sign = 1;
        if (!atEnd() && (peek() == '+' || peek() == '-')) {
            if (peek() == '-') sign = -1;
            ++pos_;
        }
        std::int64_t h = 0, m = 0, sec = 0;
        if (!number(h, 3)) return false;
        if (!atEnd() && peek() == ':') {
            ++pos_;
            if (!number(m, 2) || m > 59) return false;
            if (!atEnd() && peek() == ':') {
                ++pos_;
                if (!number(sec, 2) || sec > 59) return false;
            }
        }
        const std::int64_t v = h * 3600 + m * 60 + sec;
        if (v > limit) return false;
        out = sign * v;
        return true;
    }

    bool ruleDate(RuleDate& r) {
        if (atEnd()) return false;
        std::int64_t v = 0;
        if (peek() == 'J') {
            ++pos_;
            if (!number(v, 3) || v < 1 || v > 365) return false;
            r.kind = RuleDate::Kind::julianNoLeap;
            r.day = static_cast<int>(v);
        } else if (peek() == 'M') {
            ++pos_;
            std::int64_t m = 0, w = 0, d = 0;
            if (!number(m, 2) || m < 1 || m > 12 || !expect('.') || !number(w, 1) || w < 1 ||
                w > 5 || !expect('.') || !number(d, 1) || d > 6) {
                return false;
            }
            r.kind = RuleDate::Kind::monthWeekDay;
            r.month = static_cast<int>(m);
            r.week = static_cast<int>(w);
            r.day = static_cast<int>(d);
        } else {
            if (!number(v, 3) || v > 365) return false;
            r.kind = RuleDate::Kind::zeroBased;
            r.day = static_cast<int>(v);
        }
        r.time = 2 * 3600;
        if (!atEnd() && peek() == '/') {
            ++pos_;
            std::int64_t t = 0;
            if (!offset(t, kMaxRuleSeconds)) return false;
            r.time = t;
        }
        return true;
    }

    std::string_view s_;
    std::size_t pos_ = 0;
};

// Offset at t according to a POSIX TZ rule.
std::int64_t posixOffsetAt(const PosixTz& tz, std::int64_t t) {
    if (!tz.hasDst) return tz.stdOffset;
    // Keep the calendar arithmetic far away from overflow; beyond ~100000
    // years the answer is meaningless anyway.
    constexpr std::int64_t kLimit = std::int64_t{1} << 42;
    t = std::clamp(t, -kLimit, kLimit);
    const std::int64_t year = yearFromDays(floorDiv(t, kSecondsPerDay));
    struct Change {
        std::int64_t at;
        std::int64_t year;
        int order;  // within a year: end before start when equal
        bool dst;
    };
    std::array<Change, 6> changes{};
    std::size_t n = 0;
    for (std::int64_t y = year - 1; y <= year + 1; ++y) {
        // DST starts at a local standard time and ends at a local DST time.
        changes[n++] = Change{tz.start.localSecondsIn(y) - tz.stdOffset, y, 1, true};
        changes[n++] = Change{tz.end.localSecondsIn(y) - tz.dstOffset, y, 0, false};
    }
    std::sort(changes.begin(), changes.end(), [](const Change& a, const Change& b) {
        if (a.at != b.at) return a.at < b.at;
        if (a.year != b.year) return a.year < b.year;
        return a.order < b.order;
    });
    bool dst = !changes[0].dst;
    for (const Change& c : changes) {
        if (c.at > t) break;
        dst = c.dst;
    }
    return dst ? tz.dstOffset : tz.stdOffset;
}

// Bounds-checked big-endian reader over the file contents.
class Reader {
  public:
    explicit Reader(std::string_view data) : data_(data) {}
    bool has(std::uint64_t n) const { return n <= data_.size() - pos_; }
    std::size_t pos() const { return pos_; }
    std::size_t remaining() const { return data_.size() - pos_; }
    bool skip(std::uint64_t n) {
        if (!has(n)) return false;
        pos_ += static_cast<std::size_t>(n);
        return true;
    }
    bool u8(std::uint8_t& out) {
        if (!has(1)) return false;
        out = static_cast<std::uint8_t>(data_[pos_++]);
        return true;
    }
    bool u32(std::uint32_t& out) {
        if (!has(4)) return false;
        std::uint32_t v = 0;
        for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<std::uint8_t>(data_[pos_++]);
        out = v;
        return true;
    }
    bool i32(std::int32_t& out) {
        std::uint32_t v = 0;
        if (!u32(v)) return false;
        out = static_cast<std::int32_t>(v);
        return true;
    }
    bool i64(std::int64_t& out) {
        if (!has(8)) return false;
        std::uint64_t v = 0;
        for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<std::uint8_t>(data_[pos_++]);
        out = static_cast<std::int64_t>(v);
        return true;
    }
    std::string_view bytes(std::size_t n) {
        std::string_view out = data_.substr(pos_, n);
        pos_ += n;
        return out;
    }

  private:
    std::string_view data_;
    std::size_t pos_ = 0;
};

struct Header {
    char version = 0;
    std::uint32_t isutcnt = 0, isstdcnt = 0, leapcnt = 0, timecnt = 0, typecnt = 0, charcnt = 0;
};

bool readHeader(Reader& r, Header& h) {
    if (!r.has(44)) return false;
    const std::string_view magic = r.bytes(4);
    if (magic != "TZif") return false;
    std::uint8_t version = 0;
    if (!r.u8(version) || !r.skip(15)) return false;
    h.version = static_cast<char>(version);
    return r.u32(h.isutcnt) && r.u32(h.isstdcnt) && r.u32(h.leapcnt) && r.u32(h.timecnt) &&
           r.u32(h.typecnt) && r.u32(h.charcnt);
}

std::uint64_t dataBlockSize(const Header& h, std::uint64_t timeSize) {
    return std::uint64_t{h.timecnt} * timeSize + h.timecnt + std::uint64_t{h.typecnt} * 6 +
           h.charcnt + std::uint64_t{h.leapcnt} * (timeSize + 4) + h.isstdcnt + h.isutcnt;
}

}  // namespace

struct TimeZone::Rules {
    struct Type {
        std::int64_t offset = 0;
        bool isDst = false;
    };
    std::vector<std::int64_t> transitions;  // strictly increasing UTC instants
    std::vector<std::uint8_t> typeIndex;    // type in effect from transitions[i]
    std::vector<Type> types;                // at least one
    std::optional<PosixTz> footer;

    std::int64_t offsetAt(std::int64_t t) const {
        if (transitions.empty()) {
            if (footer) return posixOffsetAt(*footer, t);
            return types.empty() ? 0 : types[0].offset;
        }
        if (t < transitions.front()) return types[0].offset;
        if (t >= transitions.back() && footer) return posixOffsetAt(*footer, t);
        const auto it = std::upper_bound(transitions.begin(), transitions.end(), t);
        const auto i = static_cast<std::size_t>(it - transitions.begin()) - 1;
        return types[typeIndex[i]].offset;
    }
};

namespace {

// Parses a whole TZif file; nullopt-free error text on failure.
Result<std::shared_ptr<const TimeZone::Rules>> parseTzif(std::string_view data) {
    const auto corrupt = [](const char* why) {
        return makeError(std::string("corrupt time zone file: ") + why);
    };
    Reader r(data);
    Header h;
    if (!readHeader(r, h)) return corrupt("bad header");
    if (!r.has(dataBlockSize(h, 4))) return corrupt("truncated");
    const bool v2 = h.version >= '2';
    if (h.version != 0 && !v2) return corrupt("unknown version");
    std::uint64_t timeSize = 4;
    if (v2) {
        r.skip(dataBlockSize(h, 4));  // the 32-bit block is only for old readers
        if (!readHeader(r, h)) return corrupt("bad second header");
        timeSize = 8;
        if (!r.has(dataBlockSize(h, 8))) return corrupt("truncated");
    }
    if (h.typecnt == 0 || h.typecnt > 256) return corrupt("bad type count");
    if (h.charcnt == 0) return corrupt("bad designation count");
    if ((h.isutcnt != 0 && h.isutcnt != h.typecnt) ||
        (h.isstdcnt != 0 && h.isstdcnt != h.typecnt)) {
        return corrupt("bad indicator count");
    }

    auto rules = std::make_shared<TimeZone::Rules>();
    rules->transitions.reserve(h.timecnt);
    for (std::uint32_t i = 0; i < h.timecnt; ++i) {
        std::int64_t t = 0;
        if (timeSize == 8) {
            r.i64(t);
        } else {
            std::int32_t t32 = 0;
            r.i32(t32);
            t = t32;
        }
        if (!rules->transitions.empty() && t <= rules->transitions.back()) {
            return corrupt("transitions out of order");
        }
        rules->transitions.push_back(t);
    }
    rules->typeIndex.reserve(h.timecnt);
    for (std::uint32_t i = 0; i < h.timecnt; ++i) {
        std::uint8_t idx = 0;
        r.u8(idx);
        if (idx >= h.typecnt) return corrupt("bad type index");
        rules->typeIndex.push_back(idx);
    }
    for (std::uint32_t i = 0; i < h.typecnt; ++i) {
        std::int32_t utoff = 0;
        std::uint8_t isDst = 0, desigIdx = 0;
        r.i32(utoff);
        r.u8(isDst);
        r.u8(desigIdx);
        if (utoff < -89999 || utoff > 93599) return corrupt("bad UTC offset");
        if (isDst > 1) return corrupt("bad DST flag");
        if (desigIdx >= h.charcnt) return corrupt("bad designation index");
        rules->types.push_back({utoff, isDst == 1});
    }
    // Designations, leap seconds and indicators are not needed for offsets.
    r.skip(h.charcnt + std::uint64_t{h.leapcnt} * (timeSize + 4) + h.isstdcnt + h.isutcnt);

    if (v2) {
        // Footer: "\n" TZ-string "\n".
        std::uint8_t c = 0;
        if (!r.u8(c) || c != '\n') return corrupt("missing footer");
        const std::size_t start = r.pos();
        std::size_t len = 0;
        bool closed = false;
        while (r.has(1)) {
            r.u8(c);
            if (c == '\n') {
                closed = true;
                break;
            }
            ++len;
        }
        if (!closed) return corrupt("unterminated footer");
        const std::string_view tz = data.substr(start, len);
        if (!tz.empty()) {
            auto parsed = PosixTzParser(tz).parse();
            if (!parsed) return corrupt("bad footer rule");
            rules->footer = *parsed;
        }
    }
    return std::shared_ptr<const TimeZone::Rules>(std::move(rules));
}

bool isSafeZoneName(std::string_view name) {
    if (name.empty() || name.size() > 255) return false;
    if (name.front() == '/' || name.back() == '/') return false;
    char prev = 0;
    for (const char c : name) {
        const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                        (c >= '0' && c <= '9') || c == '_' || c == '+' || c == '-' || c == '/';
        if (!ok) return false;  // '.' is never valid, so ".." can't occur
        if (c == '/' && prev == '/') return false;
        prev = c;
    }
    return true;
}

}  // namespace

TimeZone TimeZone::utc() {
    static const std::shared_ptr<const Rules> kRules = [] {
        auto r = std::make_shared<Rules>();
        r->types.push_back({0, false});
        return std::shared_ptr<const Rules>(std::move(r));
    }();
    TimeZone tz;
    tz.name_ = "UTC";
    tz.rules_ = kRules;
    return tz;
}

Result<TimeZone> TimeZone::load(std::string_view name, const std::filesystem::path& zoneinfo) {
    if (name == "UTC") return utc();
    const std::string shown(name.substr(0, 80));
    if (!isSafeZoneName(name)) {
        return makeError("bad time zone name \"" + shown +
                         "\": use UTC or an IANA name such as Europe/Paris");
    }
    const std::filesystem::path file = zoneinfo / std::string(name);
    std::error_code ec;
    if (!std::filesystem::is_regular_file(file, ec)) {
        return makeError("unknown time zone \"" + shown + "\" (not found in " + zoneinfo.string() +
                         ")");
    }
    const auto size = std::filesystem::file_size(file, ec);
    if (ec || size > kMaxFileSize) {
        return makeError("cannot read time zone \"" + shown + "\": bad file size");
    }
    std::ifstream in(file, std::ios::binary);
    std::string data(static_cast<std::size_t>(size), '\0');
    if (!in || !in.read(data.data(), static_cast<std::streamsize>(data.size()))) {
        return makeError("cannot read time zone \"" + shown + "\"");
    }
    auto rules = parseTzif(data);
    if (!rules) return makeError(rules.error() + " (" + shown + ")");
    TimeZone tz;
    tz.name_ = std::string(name);
    tz.rules_ = std::move(rules.value());
    return tz;
}

Seconds TimeZone::offsetAt(TimePoint t) const {
    if (!rules_) return Seconds{0};
    return Seconds{rules_->offsetAt(t.time_since_epoch().count())};
}

}  // namespace portcullis
