// Grant target globs ("cosigner-*", operator input) matched against target
// names. Input: PATTERN, a NUL byte, NAME (no NUL: the input is both).
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/glob.hpp"
#include "fuzz/fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input = portcullis::fuzz::asText(data, size);
    const std::size_t nul = input.find('\0');
    const std::string_view pattern = input.substr(0, nul);
    const std::string_view name = nul == std::string_view::npos ? input : input.substr(nul + 1);

    const bool matched = portcullis::globMatch(pattern, name);
    if (!portcullis::isGlob(pattern)) FUZZ_CHECK(matched == (pattern == name));
    // "*" matches every name, and a name without special characters matches itself.
    FUZZ_CHECK(portcullis::globMatch("*", name));
    if (!portcullis::isGlob(name)) FUZZ_CHECK(portcullis::globMatch(name, name));
    return 0;
}
