// TZif files (RFC 8536, versions 1-4, with the POSIX TZ footer rule), as
// TimeZone::load reads them for --window zones. The input is the file.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>

#include "common/time_zone.hpp"
#include "fuzz/fuzz_support.hpp"

namespace {

using namespace portcullis;

// Makes "<scratch>/zoneinfo/Fuzz/" once; each input is written to Fuzz/Zone.
struct ZoneDir {
    portcullis::fuzz::ScratchDir scratch;
    std::filesystem::path zoneinfo = scratch.path() / "zoneinfo";
    ZoneDir() { std::filesystem::create_directories(zoneinfo / "Fuzz"); }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const ZoneDir kDir;
    portcullis::fuzz::writeFile(kDir.zoneinfo / "Fuzz" / "Zone",
                                portcullis::fuzz::asText(data, size));
    const auto zone = TimeZone::load("Fuzz/Zone", kDir.zoneinfo);
    if (!zone) {
        FUZZ_CHECK(!zone.error().empty());
        return 0;
    }
    FUZZ_CHECK(zone->name() == "Fuzz/Zone");
    // Offsets at instants across the years --at and grants can name (1..9999),
    // before, inside and after any transition table, and one chosen by the input.
    std::int64_t chosen = 0;
    if (size >= 8) std::memcpy(&chosen, data + size - 8, sizeof chosen);
    constexpr std::int64_t kFirst = -62135596800;  // 0001-01-01
    constexpr std::int64_t kLast = 253402300799;   // 9999-12-31
    chosen = kFirst + static_cast<std::int64_t>(static_cast<std::uint64_t>(chosen) %
                                                static_cast<std::uint64_t>(kLast - kFirst));
    for (const std::int64_t t :
         {kFirst, std::int64_t{-2147483648LL}, std::int64_t{0}, std::int64_t{1774746000},
          std::int64_t{1792890000}, std::int64_t{2147483647LL}, std::int64_t{4102444800},
          std::int64_t{32503680000}, kLast, chosen}) {
        const Seconds offset = zone->offsetAt(TimePoint{Seconds{t}});
        // RFC 8536's bounds for a local time type's offset (-24:59:59 to +25:59:59).
        FUZZ_CHECK(offset.count() >= -89999 && offset.count() <= 93599);
        (void)zone->toLocal(TimePoint{Seconds{t}});
    }
    return 0;
}
