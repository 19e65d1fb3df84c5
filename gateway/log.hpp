#pragma once
// Structured one-line logs on stderr: "ts=... level=info event=auth.publickey k=v ...".
// Values with spaces, quotes or control characters are quoted and escaped.
// Never pass secrets (codes, keys) as fields.
#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <mutex>
#include <string>
#include <string_view>

#include "gateway/config.hpp"

namespace portcullis::gateway {

struct LogField {
    LogField(std::string_view k, std::string_view v) : key(k), value(v) {}
    LogField(std::string_view k, const std::string& v) : key(k), value(v) {}
    LogField(std::string_view k, const char* v) : key(k), value(v ? v : "") {}
    LogField(std::string_view k, std::int64_t v) : key(k), value(std::to_string(v)) {}
    LogField(std::string_view k, int v) : key(k), value(std::to_string(v)) {}
    LogField(std::string_view k, std::uint64_t v) : key(k), value(std::to_string(v)) {}
    LogField(std::string_view k, unsigned v) : key(k), value(std::to_string(v)) {}
    LogField(std::string_view k, bool v) : key(k), value(v ? "true" : "false") {}
    std::string_view key;
    std::string value;
};

class Logger {
  public:
    explicit Logger(LogLevel level) : level_(level) {}
    bool enabled(LogLevel level) const { return level >= level_.load(std::memory_order_relaxed); }
    void setLevel(LogLevel level) { level_.store(level, std::memory_order_relaxed); }
    void log(LogLevel level, std::string_view event, std::initializer_list<LogField> fields);
    void debug(std::string_view e, std::initializer_list<LogField> f = {}) {
        log(LogLevel::debug, e, f);
    }
    void info(std::string_view e, std::initializer_list<LogField> f = {}) {
        log(LogLevel::info, e, f);
    }
    void warn(std::string_view e, std::initializer_list<LogField> f = {}) {
        log(LogLevel::warn, e, f);
    }
    void error(std::string_view e, std::initializer_list<LogField> f = {}) {
        log(LogLevel::error, e, f);
    }

  private:
    std::atomic<LogLevel> level_;
    std::mutex mutex_;
};

}  // namespace portcullis::gateway
