#pragma once
// TimeZone: UTC offsets of an IANA zone read from the system's tz database
// (TZif files under /usr/share/zoneinfo, versions 1-4, including the POSIX TZ
// footer rule for instants after the last listed transition). g++ 12's
// libstdc++ has no std::chrono::tzdb, so this is the one place that knows it.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.hpp"
#include "common/time_format.hpp"

namespace portcullis {

class TimeZone {
  public:
    static TimeZone utc();
    // name: "UTC", "Europe/Paris", ... Names with "..", absolute paths or
    // characters outside [A-Za-z0-9_+-/] are refused. "UTC" is built in (no file
    // needed). Corrupt or truncated files give an error, never a crash.
    static Result<TimeZone> load(std::string_view name,
                                 const std::filesystem::path& zoneinfo = "/usr/share/zoneinfo");

    const std::string& name() const { return name_; }
    // Offset from UTC in effect at instant t (local = t + offset).
    Seconds offsetAt(TimePoint t) const;
    // Local wall-clock time at t, as seconds since the epoch of local time.
    std::chrono::local_seconds toLocal(TimePoint t) const {
        return std::chrono::local_seconds{(t + offsetAt(t)).time_since_epoch()};
    }

    struct Rules;  // parsed zone data, shared between copies

  private:
    std::string name_;
    std::shared_ptr<const Rules> rules_;
};

}  // namespace portcullis
