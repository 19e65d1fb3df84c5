// A direct-tcpip destination (untrusted, after both factors). Properties: an
// accepted name is whole (at most 253 bytes, no byte outside letters, digits,
// '-', '_', '.', ':' of an IPv6 address) and accepting never depends on
// anything but the bytes given.
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/host_name.hpp"
#include "fuzz/fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text = portcullis::fuzz::asText(data, size);
    const bool valid = portcullis::isValidHostName(text);
    FUZZ_CHECK(valid == portcullis::isValidHostName(std::string(text)));
    if (!valid) return 0;
    FUZZ_CHECK(!text.empty() && text.size() <= 253);
    for (const char c : text) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == ':';
        FUZZ_CHECK(ok);
    }
    return 0;
}
