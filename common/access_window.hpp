#pragma once
// AccessWindow: when a grant may be used, e.g. "Mon-Fri 08:00-18:00 Europe/Paris".
// Grammar: [DAYS] [HH:MM-HH:MM] [ZONE]  (at least one of DAYS or hours)
//   DAYS  = day or range, comma-separated: "Mon-Fri", "Sat,Sun", "Fri-Mon" (wraps);
//           any case, full names ("Monday") accepted too
//   hours = start inclusive, end exclusive; "24:00" allowed as end; a range whose
//           end is not after its start crosses midnight and belongs to the day it
//           starts on ("Fri 22:00-06:00" is Friday 22:00 to Saturday 06:00)
//   ZONE  = "UTC" (default) or an IANA name; evaluated on local wall-clock time,
//           so DST changes move the window with the clock.
#include <bitset>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.hpp"
#include "common/time_format.hpp"
#include "common/time_zone.hpp"

namespace portcullis {

class AccessWindow {
  public:
    static Result<AccessWindow> parse(
        std::string_view spec, const std::filesystem::path& zoneinfo = "/usr/share/zoneinfo");

    bool contains(TimePoint t) const;
    // The first instant after `from` at which contains() changes (the window
    // closes if it is open at `from`, else opens), within 8 days; none when
    // it never changes (open all week, or never open).
    std::optional<TimePoint> nextChange(TimePoint from) const;
    // Canonical text, parseable again: "Mon-Fri 08:00-18:00 UTC"; always days,
    // hours and zone ("Sat,Sun 00:00-24:00 UTC", "Mon-Sun 08:00-18:00 UTC").
    std::string toString() const;
    // Minutes after local midnight; the end is exclusive (24 * 60 for "24:00").
    int startMinute() const { return startMinute_; }
    int endMinute() const { return endMinute_; }

  private:
    std::bitset<7> days_;  // bit 0 = Monday ... bit 6 = Sunday
    int startMinute_ = 0;  // minutes after local midnight
    int endMinute_ = 24 * 60;
    TimeZone zone_ = TimeZone::utc();
};

}  // namespace portcullis
