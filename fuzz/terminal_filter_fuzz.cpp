// What `session play` writes to the reviewer's terminal (issue 21 finding 2):
// the bytes are the target's, untrusted. Properties:
//   - no byte sequence leaves the terminal in a mode other than the
//     allow-listed ones, and nothing that makes a terminal answer gets
//     through: every byte of the output belongs to the allow-list grammar
//     (tests/support/terminal_allow_list.hpp, written apart from the filter);
//   - the restore sequence turns off every allowed mode the output set;
//   - nothing the session printed is hidden from play that export shows: the
//     text of the filtered output is the text of the input (valid UTF-8);
//   - the output does not depend on how the bytes were split, and is bounded.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz/fuzz_support.hpp"
#include "recording/screen_text.hpp"
#include "recording/utf8_text.hpp"
#include "review/terminal_filter.hpp"
#include "tests/support/terminal_allow_list.hpp"

namespace {

using portcullis::review::TerminalFilter;

std::string play(std::string_view bytes, std::size_t maxChunk, std::string* restore = nullptr) {
    TerminalFilter filter;
    std::string out;
    if (maxChunk == 0) {
        out = filter.filter(bytes);
    } else {
        portcullis::fuzz::Splitter splitter(bytes, maxChunk);
        while (!splitter.done()) out += filter.filter(splitter.next());
    }
    out += filter.finish();
    if (restore) *restore = filter.restoreSequence();
    return out;
}

std::string text(std::string_view bytes) {
    portcullis::recording::ScreenText screen(80);
    std::string out = screen.feed(bytes);
    return out + screen.finish();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view bytes = portcullis::fuzz::asText(data, size);
    std::string restore;
    const std::string whole = play(bytes, 0, &restore);
    FUZZ_CHECK(play(bytes, 5) == whole);
    if (size < 512) FUZZ_CHECK(play(bytes, 1) == whole);
    FUZZ_CHECK(whole.size() <= 4 * size);

    portcullis::test::AllowedModes modes;
    const std::string problem = portcullis::test::checkAllowListed(whole, modes);
    FUZZ_CHECK_MSG(problem.empty(), problem);
    if (modes.alternateScreen) FUZZ_CHECK(restore.find("\x1b[?1049l") != std::string::npos);
    FUZZ_CHECK(restore.find("\x1b[!p") != std::string::npos);  // soft reset: every mode
    FUZZ_CHECK(restore.find("\x1b[0m") != std::string::npos);
    FUZZ_CHECK(restore.find("\x1b[?25h") != std::string::npos);
    FUZZ_CHECK(restore.find("\x1b[r") != std::string::npos);
    FUZZ_CHECK(restore.find("\x1b(B\x1b)B\x0f") != std::string::npos);

    // Hidden from play, shown by export? (For valid UTF-8: a .cast holds only
    // that; a byte that is not shows as the four characters "\xNN" on both
    // sides, in a different number of cells.)
    const std::string valid = portcullis::recording::detail::toValidUtf8(bytes);
    const std::string exported = text(valid);
    const std::string played = text(play(valid, 0));
    FUZZ_CHECK_MSG(played == exported, "played: " + played + "\nexported: " + exported);
    return 0;
}
