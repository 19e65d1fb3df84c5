// Durations and instants as operators type them (--max-session, --expires,
// --since, --at, the gateway's INI file).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "common/time_format.hpp"
#include "fuzz/fuzz_support.hpp"

namespace {

using namespace portcullis;

// 2026-11-25T18:20:06Z: a fixed "now", so that a crash replays.
constexpr TimePoint kNow{Seconds{1795631206}};
constexpr std::int64_t kMaxDuration = 36500LL * 86400;

void checkDuration(std::string_view text) {
    const auto d = parseDuration(text);
    if (!d) {
        FUZZ_CHECK(!d.error().empty());
        return;
    }
    FUZZ_CHECK(d->count() >= 0 && d->count() <= kMaxDuration);
    const std::string shown = formatDuration(*d);
    const auto again = parseDuration(shown);
    FUZZ_CHECK_MSG(again && *again == *d, shown);
}

void checkInstant(std::string_view text) {
    const auto t = parseIso8601(text);
    if (!t) return;
    const std::string shown = formatIso8601(*t);
    // Years 1..9999 print as four digits and read back; an offset may move a
    // time at either end of that range just outside it.
    const bool fourDigitYear = shown.size() == 20 && shown.compare(0, 4, "0000") != 0;
    if (fourDigitYear) {
        const auto again = parseIso8601(shown);
        FUZZ_CHECK_MSG(again && *again == *t, shown);
    }
}

void checkRelative(std::string_view text) {
    const auto expiry = parseExpiry(text, kNow);
    const auto since = parseSince(text, kNow);
    FUZZ_CHECK(expiry.ok() == since.ok());
    const auto d = parseDuration(text);
    if (d && !text.empty() && text[0] >= '0' && text[0] <= '9') {
        // A duration that is not also the start of an ISO date ("2026-...").
        if (text.size() < 5 || text[4] != '-') {
            FUZZ_CHECK(expiry && *expiry == kNow + *d);
            FUZZ_CHECK(since && *since == kNow - *d);
        }
    }
    if (expiry) {
        if (const auto iso = parseIso8601(text)) FUZZ_CHECK(*iso == *expiry);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text = portcullis::fuzz::asText(data, size);
    checkDuration(text);
    checkInstant(text);
    checkRelative(text);
    // The formatters take any value (a corrupt database row, a clock far off).
    if (size >= 8) {
        std::int64_t raw = 0;
        std::memcpy(&raw, data, sizeof raw);
        const std::string d = formatDuration(Seconds{raw});
        FUZZ_CHECK(!d.empty());
        const std::string iso = formatIso8601(TimePoint{Seconds{raw}});
        FUZZ_CHECK(!iso.empty() && iso.back() == 'Z');
        if (raw >= 0 && raw <= kMaxDuration) FUZZ_CHECK(*parseDuration(d) == Seconds{raw});
    }
    return 0;
}
