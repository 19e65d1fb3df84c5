// `--window` specs of grants (operator input), e.g. "Mon-Fri 08:00-18:00 Europe/Paris".
// Zones are read from the system's /usr/share/zoneinfo, as in production.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/access_window.hpp"
#include "fuzz/fuzz_support.hpp"

namespace {

using namespace portcullis;

// Instants to evaluate windows at: around the 2026 European DST changes, a
// week of hours, and both ends of what --at accepts (years 1 and 9999).
std::array<TimePoint, 24> probes() {
    std::array<TimePoint, 24> out{};
    const std::int64_t base = 1774746000;  // 2026-03-29T01:00:00Z
    for (std::size_t i = 0; i < 10; ++i) {
        out[i] = TimePoint{Seconds{base + static_cast<std::int64_t>(i) * 37 * 3600}};
    }
    const std::int64_t autumn = 1792890000;  // 2026-10-25T01:00:00Z
    for (std::size_t i = 0; i < 10; ++i) {
        out[10 + i] = TimePoint{Seconds{autumn + static_cast<std::int64_t>(i) * 1799}};
    }
    out[20] = TimePoint{Seconds{-62135596800}};  // 0001-01-01T00:00:00Z
    out[21] = TimePoint{Seconds{253402300799}};  // 9999-12-31T23:59:59Z
    out[22] = TimePoint{Seconds{0}};
    out[23] = TimePoint{Seconds{4102444800}};  // 2100-01-01, past most TZif tables
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const std::array<TimePoint, 24> kProbes = probes();
    const std::string_view spec = portcullis::fuzz::asText(data, size);
    const auto window = AccessWindow::parse(spec);
    if (!window) {
        FUZZ_CHECK(!window.error().empty());
        return 0;
    }
    // The canonical text is parseable again and means the same window.
    const std::string canonical = window->toString();
    const auto again = AccessWindow::parse(canonical);
    FUZZ_CHECK_MSG(again, canonical + ": " + (again ? std::string() : again.error()));
    FUZZ_CHECK_MSG(again->toString() == canonical, again->toString() + " vs " + canonical);
    // A zone name never leaves the zoneinfo directory.
    FUZZ_CHECK(canonical.find("..") == std::string::npos);
    for (const TimePoint t : kProbes) {
        FUZZ_CHECK_MSG(window->contains(t) == again->contains(t), canonical);
    }
    return 0;
}
