#include "common/access_window.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <vector>

namespace portcullis {

namespace {

constexpr std::array<std::string_view, 7> kDayNames{"Mon", "Tue", "Wed", "Thu",
                                                    "Fri", "Sat", "Sun"};
constexpr std::array<std::string_view, 7> kFullDayNames{
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"};
constexpr int kMinutesPerDay = 24 * 60;

const char* const kDaysHelp =
    "use Mon Tue Wed Thu Fri Sat Sun, a range such as Mon-Fri or a list such as Sat,Sun";
const char* const kHoursHelp = "use HH:MM-HH:MM, e.g. 08:00-18:00 (24:00 allowed as end)";

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

// Monday = 0 ... Sunday = 6, or -1. "Mon" or "Monday", any case.
int dayIndex(std::string_view token) {
    const std::string t = lower(token);
    for (std::size_t i = 0; i < kDayNames.size(); ++i) {
        if (t == lower(kDayNames[i]) || t == kFullDayNames[i]) return static_cast<int>(i);
    }
    return -1;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
    std::vector<std::string_view> parts;
    std::size_t start = 0;
    while (true) {
        const std::size_t at = s.find(sep, start);
        if (at == std::string_view::npos) {
            parts.push_back(s.substr(start));
            return parts;
        }
        parts.push_back(s.substr(start, at - start));
        start = at + 1;
    }
}

std::vector<std::string_view> splitWhitespace(std::string_view s) {
    std::vector<std::string_view> tokens;
    std::size_t i = 0;
    while (i < s.size()) {
        while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
        const std::size_t start = i;
        while (i < s.size() && !std::isspace(static_cast<unsigned char>(s[i]))) ++i;
        if (i > start) tokens.push_back(s.substr(start, i - start));
    }
    return tokens;
}

bool isDigit(char c) {
    return c >= '0' && c <= '9';
}
bool isAlpha(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

// A token meant as days: "Mon...", "Sat,Sun", "mon-fri", "Mondays": starts
// with the abbreviation of a day (no IANA zone name does).
bool looksLikeDays(std::string_view token) {
    if (token.find(',') != std::string_view::npos) return true;
    std::size_t n = 0;
    while (n < token.size() && isAlpha(token[n])) ++n;
    return n >= 3 && dayIndex(token.substr(0, 3)) >= 0;
}

Result<std::bitset<7>> parseDays(std::string_view token) {
    std::bitset<7> days;
    for (const std::string_view item : split(token, ',')) {
        const auto bad = [&](std::string_view what) {
            return makeError("bad day \"" + std::string(what) + "\" in \"" + std::string(token) +
                             "\": " + kDaysHelp);
        };
        if (item.empty()) return bad(item);
        const std::size_t dash = item.find('-');
        if (dash == std::string_view::npos) {
            const int d = dayIndex(item);
            if (d < 0) return bad(item);
            days.set(static_cast<std::size_t>(d));
            continue;
        }
        const std::string_view first = item.substr(0, dash);
        const std::string_view last = item.substr(dash + 1);
        const int a = dayIndex(first);
        if (a < 0) return bad(first.empty() ? item : first);
        const int b = dayIndex(last);
        if (b < 0) return bad(last.empty() ? item : last);
        for (int d = a;; d = (d + 1) % 7) {  // wraps: Fri-Mon
            days.set(static_cast<std::size_t>(d));
            if (d == b) break;
        }
    }
    return days;
}

// "HH:MM" or "H:MM" to minutes; allow24 permits exactly "24:00".
bool parseClock(std::string_view s, bool allow24, int& minutes) {
    const std::size_t colon = s.find(':');
    if (colon == std::string_view::npos || colon == 0 || colon > 2 || s.size() != colon + 3) {
        return false;
    }
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (i != colon && !isDigit(s[i])) return false;
    }
    const int h = colon == 1 ? s[0] - '0' : (s[0] - '0') * 10 + (s[1] - '0');
    const int m = (s[colon + 1] - '0') * 10 + (s[colon + 2] - '0');
    if (m > 59) return false;
    if (h == 24 && m == 0 && allow24) {
        minutes = kMinutesPerDay;
        return true;
    }
    if (h > 23) return false;
    minutes = h * 60 + m;
    return true;
}

std::string formatClock(int minutes) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "%02d:%02d", minutes / 60 % 100, minutes % 60);
    return buf;
}

std::string formatDays(const std::bitset<7>& days) {
    if (days.all()) return "Mon-Sun";
    // Start scanning right after a day that is not set, so that a run that
    // wraps around Sunday -> Monday stays one range ("Fri-Mon").
    int gap = 0;
    while (days.test(static_cast<std::size_t>(gap))) ++gap;
    struct Run {
        int first;
        int length;
    };
    std::vector<Run> runs;
    for (int k = 1; k <= 7; ++k) {
        const int d = (gap + k) % 7;
        if (!days.test(static_cast<std::size_t>(d))) continue;
        const int prev = (d + 6) % 7;
        if (!runs.empty() && days.test(static_cast<std::size_t>(prev)) && k > 1) {
            ++runs.back().length;
        } else {
            runs.push_back({d, 1});
        }
    }
    // Order runs by their first day, Monday first.
    std::sort(runs.begin(), runs.end(),
              [](const Run& a, const Run& b) { return a.first < b.first; });
    std::string out;
    for (const Run& r : runs) {
        if (!out.empty()) out += ',';
        const int last = (r.first + r.length - 1) % 7;
        out += kDayNames[static_cast<std::size_t>(r.first)];
        if (r.length == 2) {
            out += ',';
            out += kDayNames[static_cast<std::size_t>(last)];
        } else if (r.length > 2) {
            out += '-';
            out += kDayNames[static_cast<std::size_t>(last)];
        }
    }
    return out;
}

}  // namespace

Result<AccessWindow> AccessWindow::parse(std::string_view spec,
                                         const std::filesystem::path& zoneinfo) {
    const std::vector<std::string_view> tokens = splitWhitespace(spec);
    if (tokens.empty()) {
        return makeError("empty access window: use e.g. \"Mon-Fri 08:00-18:00 Europe/Paris\"");
    }
    AccessWindow w;
    bool haveDays = false, haveHours = false, haveZone = false;
    std::size_t i = 0;
    if (i < tokens.size() && looksLikeDays(tokens[i])) {
        auto days = parseDays(tokens[i]);
        if (!days) return makeError(days.error());
        w.days_ = days.value();
        haveDays = true;
        ++i;
    }
    if (i < tokens.size() && !tokens[i].empty() && isDigit(tokens[i][0])) {
        const std::string_view token = tokens[i];
        const std::size_t dash = token.find('-');
        int start = 0, end = 0;
        if (dash == std::string_view::npos || !parseClock(token.substr(0, dash), false, start) ||
            !parseClock(token.substr(dash + 1), true, end)) {
            return makeError("bad hours \"" + std::string(token) + "\": " + kHoursHelp);
        }
        w.startMinute_ = start;
        w.endMinute_ = end;
        haveHours = true;
        ++i;
    }
    if (i < tokens.size()) {
        const std::string_view token = tokens[i];
        if (looksLikeDays(token)) {
            // Days after hours, or a second list of days.
            return makeError("bad access window \"" + std::string(spec) + "\": days (\"" +
                             std::string(token) +
                             "\") must come first, as in "
                             "\"Mon-Fri 08:00-18:00 UTC\"");
        }
        if (i + 1 < tokens.size()) {
            return makeError("bad access window: unexpected \"" + std::string(tokens[i + 1]) +
                             "\" after \"" + std::string(token) +
                             "\"; use [DAYS] [HH:MM-HH:MM] [ZONE]");
        }
        auto zone = TimeZone::load(token, zoneinfo);
        if (!zone) return makeError(zone.error());
        w.zone_ = std::move(zone.value());
        haveZone = true;
        ++i;
    }
    if (!haveDays && !haveHours) {
        return makeError("bad access window \"" + std::string(spec) +
                         "\": give days, hours or both, e.g. \"Mon-Fri 08:00-18:00" +
                         (haveZone ? " " + w.zone_.name() : std::string()) + "\"");
    }
    if (!haveDays) w.days_.set();
    return w;
}

bool AccessWindow::contains(TimePoint t) const {
    const std::chrono::local_seconds local = zone_.toLocal(t);
    const auto localDay = std::chrono::floor<std::chrono::days>(local);
    const int minute = static_cast<int>((local - localDay).count() / 60);
    // weekday: c_encoding 0 = Sunday; our bit 0 = Monday.
    const unsigned wd =
        std::chrono::weekday{std::chrono::sys_days{localDay.time_since_epoch()}}.c_encoding();
    const std::size_t today = (wd + 6) % 7;
    const std::size_t yesterday = (today + 6) % 7;
    if (endMinute_ > startMinute_) {
        return days_.test(today) && minute >= startMinute_ && minute < endMinute_;
    }
    // Crosses midnight: the part before midnight belongs to today, the part
    // after midnight to the day the window started on (yesterday).
    if (days_.test(today) && minute >= startMinute_) return true;
    return days_.test(yesterday) && minute < endMinute_;
}

std::optional<TimePoint> AccessWindow::nextChange(TimePoint from) const {
    // Windows change on whole local minutes; stepping minute by minute (about
    // 11,500 look-ups for 8 days) also follows DST shifts without special cases.
    const bool now = contains(from);
    auto t = std::chrono::ceil<std::chrono::minutes>(from + Seconds(1));
    const auto limit = from + std::chrono::days(8);
    for (; t <= limit; t += std::chrono::minutes(1)) {
        if (contains(std::chrono::time_point_cast<Seconds>(t)) != now)
            return std::chrono::time_point_cast<Seconds>(t);
    }
    return std::nullopt;
}

std::string AccessWindow::toString() const {
    return formatDays(days_) + " " + formatClock(startMinute_) + "-" + formatClock(endMinute_) +
           " " + zone_.name();
}

}  // namespace portcullis
