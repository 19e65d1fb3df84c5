#include "common/time_format.hpp"

#include <cstdint>
#include <cstdio>
#include <limits>

namespace portcullis {

namespace {

constexpr std::int64_t kMaxDurationSeconds = 36500LL * 86400;  // 100 years

std::string quoted(std::string_view text) {
    std::string out = "\"";
    for (const char c : text) {
        const auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", u);
            out += buf;
        } else {
            out += c;
        }
    }
    out += '"';
    return out;
}

Error durationError(std::string_view text) {
    return makeError("bad duration " + quoted(text) +
                     ": use a number and a unit: 90s, 30m, 8h, 7d (or combined: 1h30m)");
}

Error isoError(std::string_view text) {
    return makeError("bad time " + quoted(text) +
                     ": use ISO 8601, e.g. 2026-11-25T18:20:06Z, 2026-11-25T19:20:06+01:00 "
                     "or 2026-11-25 (midnight UTC)");
}

bool isDigit(char c) {
    return c >= '0' && c <= '9';
}

// Reads exactly n digits at text[pos...] into out.
bool readDigits(std::string_view text, std::size_t& pos, std::size_t n, int& out) {
    if (pos + n > text.size()) return false;
    int v = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const char c = text[pos + i];
        if (!isDigit(c)) return false;
        v = v * 10 + (c - '0');
    }
    out = v;
    pos += n;
    return true;
}

bool looksLikeIso(std::string_view text) {
    // "YYYY-..." : four digits then a dash.
    return text.size() >= 5 && isDigit(text[0]) && isDigit(text[1]) && isDigit(text[2]) &&
           isDigit(text[3]) && text[4] == '-';
}

}  // namespace

TimePoint systemNow() {
    return std::chrono::floor<Seconds>(std::chrono::system_clock::now());
}

Result<Seconds> parseDuration(std::string_view text) {
    if (text.empty()) return durationError(text);
    std::int64_t total = 0;
    int lastRank = 100;  // units must strictly decrease: d=3 h=2 m=1 s=0
    std::size_t pos = 0;
    while (pos < text.size()) {
        if (!isDigit(text[pos])) return durationError(text);
        std::int64_t number = 0;
        while (pos < text.size() && isDigit(text[pos])) {
            number = number * 10 + (text[pos] - '0');
            if (number > kMaxDurationSeconds) {
                return makeError("duration " + quoted(text) + " is too long (at most 36500d)");
            }
            ++pos;
        }
        if (pos == text.size()) return durationError(text);  // "10": no unit
        std::int64_t unit = 0;
        int rank = 0;
        switch (text[pos]) {
            case 'd':
                unit = 86400;
                rank = 3;
                break;
            case 'h':
                unit = 3600;
                rank = 2;
                break;
            case 'm':
                unit = 60;
                rank = 1;
                break;
            case 's':
                unit = 1;
                rank = 0;
                break;
            default:
                return durationError(text);
        }
        ++pos;
        if (rank >= lastRank) {
            return makeError("bad duration " + quoted(text) +
                             ": give each unit once, largest first, e.g. 1d12h or 1h30m");
        }
        lastRank = rank;
        if (number > (kMaxDurationSeconds - total) / unit) {
            return makeError("duration " + quoted(text) + " is too long (at most 36500d)");
        }
        total += number * unit;
    }
    return Seconds{total};
}

std::string formatDuration(Seconds d) {
    std::int64_t v = d.count();
    std::string out;
    std::uint64_t rest;
    if (v < 0) {
        out = "-";
        rest = static_cast<std::uint64_t>(-(v + 1)) + 1;  // no overflow for INT64_MIN
    } else {
        rest = static_cast<std::uint64_t>(v);
    }
    if (rest == 0) return "0s";
    const std::uint64_t dd = rest / 86400;
    const std::uint64_t hh = rest % 86400 / 3600;
    const std::uint64_t mm = rest % 3600 / 60;
    const std::uint64_t ss = rest % 60;
    if (dd) out += std::to_string(dd) + "d";
    if (hh) out += std::to_string(hh) + "h";
    if (mm) out += std::to_string(mm) + "m";
    if (ss) out += std::to_string(ss) + "s";
    return out;
}

Result<TimePoint> parseIso8601(std::string_view text) {
    std::size_t pos = 0;
    int y = 0, mo = 0, d = 0;
    if (!readDigits(text, pos, 4, y) || pos >= text.size() || text[pos++] != '-' ||
        !readDigits(text, pos, 2, mo) || pos >= text.size() || text[pos++] != '-' ||
        !readDigits(text, pos, 2, d)) {
        return isoError(text);
    }
    const std::chrono::year_month_day ymd{std::chrono::year{y},
                                          std::chrono::month{static_cast<unsigned>(mo)},
                                          std::chrono::day{static_cast<unsigned>(d)}};
    if (y < 1 || !ymd.ok()) {
        return makeError("bad date in " + quoted(text) + ": no such day");
    }
    const TimePoint midnight{std::chrono::sys_days{ymd}.time_since_epoch()};
    if (pos == text.size()) return midnight;  // date only: midnight UTC

    if (text[pos] != 'T' && text[pos] != 't') return isoError(text);
    ++pos;
    int hh = 0, mm = 0, ss = 0;
    if (!readDigits(text, pos, 2, hh) || pos >= text.size() || text[pos++] != ':' ||
        !readDigits(text, pos, 2, mm)) {
        return isoError(text);
    }
    if (pos < text.size() && text[pos] == ':') {
        ++pos;
        if (!readDigits(text, pos, 2, ss)) return isoError(text);
        // Fractional seconds are accepted and dropped.
        if (pos < text.size() && (text[pos] == '.' || text[pos] == ',')) {
            ++pos;
            const std::size_t start = pos;
            while (pos < text.size() && isDigit(text[pos])) ++pos;
            if (pos == start) return isoError(text);
        }
    }
    if (hh > 23 || mm > 59 || ss > 59) {
        return makeError("bad time of day in " + quoted(text) + ": use 00:00:00 to 23:59:59");
    }
    if (pos >= text.size()) {
        return makeError("bad time " + quoted(text) +
                         ": add the zone, Z for UTC or an offset such as +01:00");
    }
    int offsetSeconds = 0;
    const char z = text[pos++];
    if (z == 'Z' || z == 'z') {
        offsetSeconds = 0;
    } else if (z == '+' || z == '-') {
        int oh = 0, om = 0;
        if (!readDigits(text, pos, 2, oh)) return isoError(text);
        if (pos < text.size() && text[pos] == ':') {
            ++pos;
            if (!readDigits(text, pos, 2, om)) return isoError(text);
        } else if (pos < text.size()) {
            if (!readDigits(text, pos, 2, om)) return isoError(text);  // +0100
        }
        if (oh > 23 || om > 59) {
            return makeError("bad UTC offset in " + quoted(text) + ": use -23:59 to +23:59");
        }
        offsetSeconds = (oh * 3600 + om * 60) * (z == '-' ? -1 : 1);
    } else {
        return isoError(text);
    }
    if (pos != text.size()) return isoError(text);
    return midnight + Seconds{hh * 3600 + mm * 60 + ss} - Seconds{offsetSeconds};
}

std::string formatIso8601(TimePoint t) {
    // Integer civil-from-days (H. Hinnant) on 64 bits: defined for every
    // TimePoint, unlike year_month_day whose year stops at 32767.
    const std::int64_t s = t.time_since_epoch().count();
    std::int64_t z = s / 86400;
    std::int64_t secs = s % 86400;
    if (secs < 0) {
        secs += 86400;
        --z;
    }
    z += 719468;
    const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const auto doe = static_cast<std::uint64_t>(z - era * 146097);
    const std::uint64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const std::uint64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const std::uint64_t mp = (5 * doy + 2) / 153;
    const auto day = static_cast<unsigned>(doy - (153 * mp + 2) / 5 + 1);
    const auto month = static_cast<unsigned>(mp < 10 ? mp + 3 : mp - 9);
    const std::int64_t year = static_cast<std::int64_t>(yoe) + era * 400 + (month <= 2 ? 1 : 0);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02d:%02d:%02dZ", static_cast<long long>(year),
                  month, day, static_cast<int>(secs / 3600), static_cast<int>(secs % 3600 / 60),
                  static_cast<int>(secs % 60));
    return buf;
}

namespace {

Result<TimePoint> parseRelative(std::string_view text, TimePoint now, int sign,
                                std::string_view what) {
    if (looksLikeIso(text)) return parseIso8601(text);
    if (!text.empty() && isDigit(text[0])) {
        auto d = parseDuration(text);
        if (!d) return makeError(d.error());
        return now + sign * d.value();
    }
    return makeError("bad " + std::string(what) + " " + quoted(text) +
                     ": use a duration (90s, 30m, 8h, 7d) or an ISO 8601 time such as "
                     "2026-11-25T18:20:06Z");
}

}  // namespace

Result<TimePoint> parseExpiry(std::string_view text, TimePoint now) {
    return parseRelative(text, now, 1, "expiry");
}

Result<TimePoint> parseSince(std::string_view text, TimePoint now) {
    return parseRelative(text, now, -1, "start time");
}

}  // namespace portcullis
