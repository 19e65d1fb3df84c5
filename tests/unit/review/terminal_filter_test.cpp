// What `session play` writes to the reviewer's terminal (issue 21 findings 1
// and 2): an allow-list, strings ended where a terminal ends them, C1 as ESC,
// and a restore sequence that turns every mode off.
#include "review/terminal_filter.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "recording/screen_text.hpp"
#include "tests/support/terminal_allow_list.hpp"

namespace portcullis::review {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string play(std::string_view bytes) {
    TerminalFilter filter;
    std::string out = filter.filter(bytes);
    return out + filter.finish();
}

std::string playByteByByte(std::string_view bytes) {
    TerminalFilter filter;
    std::string out;
    for (const char c : bytes) out += filter.filter(std::string_view(&c, 1));
    return out + filter.finish();
}

std::string allowListProblem(std::string_view out) {
    test::AllowedModes modes;
    return test::checkAllowListed(out, modes);
}

TEST(TerminalFilter, TextColoursAndCursorMovesPass) {
    const std::string screen =
        "\x1b[1;32m$\x1b[0m ls\r\n\x1b[38;5;208mfile\x1b[m\tx\b\x1b[2K\x1b[10;5H\x1b[3A\x1b[J"
        "\x1b[1;24r\x1b[?1049h\x1b[?25l\x1b(0q\x1b(B\x1b"
        "7\x1b"
        "8\x1bM\x1b[5@\x1b[2P\x1b[3X"
        "caf\xC3\xA9 \xE2\x82\xAC\x1b[?25h\x1b[?1049l";
    EXPECT_EQ(play(screen), screen);
    EXPECT_EQ(allowListProblem(play(screen)), "");
}

// Issue 21 finding 1: an OSC cut short by CAN hid everything after it.
TEST(TerminalFilter, StringsEndWhereATerminalEndsThem) {
    EXPECT_EQ(play("\x1b]0;x\x18secret rm -rf\r\n"), "secret rm -rf\r\n");
    EXPECT_EQ(play("\x1b]0;x\x1a"
                   "after"),
              "after");
    EXPECT_EQ(play("\x1bPq#0\x1b[31mred"), "\x1b[31mred");  // ESC + other ends it
    EXPECT_EQ(play("\x1b]2;t\x07"
                   "a\x1b]2;t\x1b\\b"),
              "ab");
    EXPECT_EQ(play("\x1b_apc\x07"
                   "c"),
              "c");
    // Unterminated: abandoned after 64 KiB, the rest shows.
    std::string bytes = "\x1b]0;" + std::string(70000, 'x') + "\r\nvisible";
    EXPECT_THAT(play(bytes), HasSubstr("visible"));
    // Positive control: a well-ended title is dropped, nothing else.
    EXPECT_EQ(play("a\x1b]0;title\x07"
                   "b"),
              "ab");
}

// Issue 21 finding 2: modes that outlived playback and queries answered into
// the reviewer's input.
TEST(TerminalFilter, ModesAndQueriesAreDropped) {
    const char* hostile[] = {"\x1b[?1000h",
                             "\x1b[?1002h",
                             "\x1b[?1003h",
                             "\x1b[?1006h",  // mouse reporting
                             "\x1b[?1004h",  // focus reports
                             "\x1b[>4;2m",
                             "\x1b[>4m",  // modifyOtherKeys
                             "\x1b[?2004h",
                             "\x1b[?1h",
                             "\x1b=",
                             "\x1b[4h",
                             "\x1b[20h",
                             "\x1b[?7l",
                             "\x1b[?5h",            // reverse video
                             "\x1b[2;1$w",          // DECRQPSR
                             "\x1b[?4m",            // XTQMODKEYS
                             "\x1b[?1;1;0S",        // XTSMGRAPHICS
                             "\x1b[1;1;1;1;1;1*y",  // DECRQCRA
                             "\x1b[1;1;1;1#|",      // XTREPORTSGR
                             "\x1b[6n",
                             "\x1b[5n",
                             "\x1b[c",
                             "\x1b[>c",
                             "\x1b[=c",
                             "\x1b[14t",
                             "\x1b[?1$p",
                             "\x1b[>q",
                             "\x1b[?u",
                             "\x1b[>1u",
                             "\x1b[x",
                             "\x05",
                             "\x1bZ",
                             "\x1b[3J",
                             "\x1b[5i",
                             "\x1b[0c",
                             "\x1b[?6n",
                             "\x1b[1 q",
                             "\x1b%@",
                             "\x1b"
                             "c",
                             "\x1b#8",
                             "\x1bn",
                             "\x1b[?r",
                             "\x1b[?s",
                             "\x1b[18;1;1;1;1T"};
    for (const char* sequence : hostile) {
        EXPECT_EQ(play(std::string("a") + sequence + "b"), "ab") << sequence + 1;
    }
    // A mode list keeps only what is allowed.
    EXPECT_EQ(play("\x1b[?1049;1000;25h"), "\x1b[?1049;25h");
    EXPECT_EQ(play("\x1b[?1000;1006h"), "");
}

TEST(TerminalFilter, ConcealedTextIsShown) {
    EXPECT_EQ(play("\x1b[8mhidden"), "hidden");
    EXPECT_EQ(play("\x1b[1;8;31mx"), "\x1b[1;31mx");
    EXPECT_EQ(play("\x1b[38;5;8mgrey\x1b[48;2;8;8;8mbg"), "\x1b[38;5;8mgrey\x1b[48;2;8;8;8mbg");
}

// Issue 21 finding 2: U+009B, U+009D and U+0090 written as UTF-8 are CSI,
// OSC and DCS to a terminal.
TEST(TerminalFilter, C1ControlsAreEscapeSequences) {
    EXPECT_EQ(play("a\xC2\x9B?1000hb"), "ab");  // CSI ?1000h
    EXPECT_EQ(play("a\xC2\x9B"
                   "31mb"),
              "a\x1b[31mb");  // an allowed one, 7-bit
    EXPECT_EQ(play("\xC2\x9D"
                   "52;c;c2VjcmV0\x07ok"),
              "ok");                                 // OSC 52
    EXPECT_EQ(play("\xC2\x90q#0\xC2\x9Cok"), "ok");  // DCS ... ST
    EXPECT_EQ(play("\xC2\x9D"
                   "0;t\x18shown"),
              "shown");
    const std::string out = play("\xC2\x9B?1004h\xC2\x9B>4;2m\xC2\x85\xC2\x9A");
    EXPECT_EQ(allowListProblem(out), "") << out;
}

TEST(TerminalFilter, InvalidBytesAreShownEscaped) {
    EXPECT_EQ(play("a\xFF"
                   "b\x9B"
                   "c"),
              "a\\xffb\\x9bc");
    EXPECT_EQ(play("\xE2\x82"), "\\xe2\\x82");  // cut off at the end
}

TEST(TerminalFilter, SplitAnywhereGivesTheSame) {
    const std::string bytes =
        "\x1b[1;32muser\x1b[0m "
        "\xC2\x9B?1000h\x1b]0;t\x18x\xE2\x82\xAC\x1b[?1049;1000h\x1bPq\x1b\\y";
    EXPECT_EQ(playByteByByte(bytes), play(bytes));
}

TEST(TerminalFilter, RestoreTurnsEveryModeOff) {
    TerminalFilter filter;
    filter.filter("\x1b[?1049h\x1b[?25l\x1b[3;20r\x1b(0\x0e\x1b[1;31m");
    const std::string restore = filter.restoreSequence();
    EXPECT_TRUE(restore.starts_with("\x1b[?1049l")) << restore;
    for (const char* off : {"\x1b[!p", "\x1b[0m", "\x1b[?25h", "\x1b[r", "\x1b(B\x1b)B\x0f",
                            "\x1b[?1000l", "\x1b[?1002l", "\x1b[?1003l", "\x1b[?1006l",
                            "\x1b[?1004l", "\x1b[?2004l", "\x1b[>4m", "\x1b[?1l", "\x1b>"}) {
        EXPECT_THAT(restore, HasSubstr(off)) << off + 1;
    }
    // Never in the alternate screen: not left (that would move the cursor).
    EXPECT_THAT(TerminalFilter().restoreSequence(), Not(HasSubstr("1049")));
}

// The fuzz target's properties over random hostile pieces: allow-listed
// output, and nothing hidden from play that export shows.
TEST(TerminalFilter, RandomOutputIsAllowListedAndHidesNothing) {
    std::mt19937 random(2121);
    const std::string pieces[] = {
        "ab",      "\r\n",  "\b",       "\t",       "\x1b[",    "\x1b]0;",  "\x07",
        "\x1b\\",  "\x1bP", "\x1b(",    "31m",      "8m",       "?1000h",   "?1049h",
        "\x18",    "\x1a",  "\xC2\x9B", "\xC2\x9D", "\xC2\x9C", "\xC2\x90", "\x1b",
        "2K",      "3C",    ">4;2m",    "$w",       "*y",       "#|",       "\xE2\x82\xAC",
        "\x1b[6n", "\x05",  "P",        "@",        "\x0e",     "0",        ";"};
    for (int round = 0; round < 2000; ++round) {
        std::string bytes;
        const int count = std::uniform_int_distribution<int>(0, 40)(random);
        for (int i = 0; i < count; ++i) {
            bytes += pieces[std::uniform_int_distribution<std::size_t>(
                0, std::size(pieces) - 1)(random)];
        }
        const std::string out = play(bytes);
        ASSERT_EQ(allowListProblem(out), "") << "round " << round;
        recording::ScreenText exported(80), played(80);
        std::string a = exported.feed(bytes);
        a += exported.finish();
        std::string b = played.feed(out);
        b += played.finish();
        ASSERT_EQ(b, a) << "round " << round;
    }
}

}  // namespace
}  // namespace portcullis::review
