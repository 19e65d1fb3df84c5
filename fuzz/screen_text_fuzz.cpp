// Terminal output turned into plain text (session export --format text,
// search): the bytes are the target's, untrusted. The text must not depend on
// how the bytes were split, must be valid UTF-8 (it is shown and searched)
// and must stay bounded.
#include <cstddef>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "fuzz/fuzz_support.hpp"
#include "recording/screen_text.hpp"

namespace {

using portcullis::recording::ScreenText;

std::string render(std::string_view bytes, std::size_t maxChunk) {
    ScreenText screen;
    std::string out;
    if (maxChunk == 0) {
        out = screen.feed(bytes);
    } else {
        portcullis::fuzz::Splitter splitter(bytes, maxChunk);
        while (!splitter.done()) out += screen.feed(splitter.next());
    }
    out += screen.finish();
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view bytes = portcullis::fuzz::asText(data, size);
    const std::string whole = render(bytes, 0);
    const std::string split = render(bytes, 7);
    FUZZ_CHECK_MSG(whole == split, "split: " + split + "\nwhole: " + whole);
    if (size < 512) FUZZ_CHECK(render(bytes, 1) == whole);

    // Valid UTF-8: nlohmann's serializer throws on anything else.
    try {
        (void)nlohmann::json(whole).dump();
    } catch (const nlohmann::json::exception& e) {
        portcullis::fuzz::checkFailed(__FILE__, __LINE__, "screen text is valid UTF-8", e.what());
    }
    FUZZ_CHECK(whole.empty() || whole.back() == '\n');
    // Every line ends in "\n", and no control characters but TAB are left.
    for (const char c : whole) {
        const auto u = static_cast<unsigned char>(c);
        FUZZ_CHECK(u >= 0x20 || c == '\t' || c == '\n');
        FUZZ_CHECK(u != 0x7f);
    }
    // Bounded: at most 65536 columns of at most 4 bytes ("\xNN") per line, and
    // no more lines than input bytes plus one.
    std::size_t lines = 0, lineStart = 0;
    for (std::size_t i = 0; i < whole.size(); ++i) {
        if (whole[i] != '\n') continue;
        FUZZ_CHECK(i - lineStart <= 65536 * 4);
        lineStart = i + 1;
        ++lines;
    }
    FUZZ_CHECK(lines <= size + 1);
    return 0;
}
