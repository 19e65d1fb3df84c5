// A gateway command line (untrusted, after both factors): split into words as
// a POSIX shell would. Properties: every word quoted again (single quotes,
// ' as '\'') and joined splits back into the same words; a line with none of
// the quoting characters splits exactly at blanks.
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/shell_words.hpp"
#include "fuzz/fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text = portcullis::fuzz::asText(data, size);
    const auto words = portcullis::splitShellWords(text);
    if (!words) return 0;
    std::string again;
    for (const auto& w : *words) {
        again += "'";
        for (const char c : w) again += c == '\'' ? std::string("'\\''") : std::string(1, c);
        again += "' ";
    }
    const auto back = portcullis::splitShellWords(again);
    FUZZ_CHECK(back);
    FUZZ_CHECK(*back == *words);
    if (text.find_first_of("'\"\\") == std::string_view::npos) {
        std::size_t letters = 0;
        for (const auto& w : *words) letters += w.size();
        std::size_t expected = 0;
        for (const char c : text) expected += (c != ' ' && c != '\t' && c != '\n');
        FUZZ_CHECK(letters == expected);
    }
    return 0;
}
