#include "gateway/log.hpp"

#include "recording/display_text.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>

namespace portcullis::gateway {
namespace {

// Quoted and escaped like `audit tail` (recording/display_text): nothing a
// client sent (a user name, a command, a banner) can act on the terminal
// reading the log or make one field read as several.
void appendValue(std::string& out, std::string_view v) {
    out += recording::logfmtValue(v);
}

std::string timestamp() {
    const auto now = std::chrono::system_clock::now();
    const auto secs = std::chrono::system_clock::to_time_t(now);
    const auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() %
        1000;
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(ms));
    return buf;
}

}  // namespace

void Logger::log(LogLevel level, std::string_view event, std::initializer_list<LogField> fields) {
    if (!enabled(level)) return;
    std::string line = "ts=" + timestamp() + " level=" + logLevelName(level) + " event=";
    appendValue(line, event);
    for (const auto& f : fields) {
        line += ' ';
        line += f.key;
        line += '=';
        appendValue(line, f.value);
    }
    line += '\n';
    const std::lock_guard lock(mutex_);
    std::fwrite(line.data(), 1, line.size(), stderr);
    std::fflush(stderr);
}

}  // namespace portcullis::gateway
