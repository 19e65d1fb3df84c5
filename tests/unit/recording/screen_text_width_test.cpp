// Issue 21 finding 4: text rendered at the recording's width (and resizes),
// so that a command longer than the terminal's line is found and exported
// whole; and finding 1: export and play split sequences alike (C1 controls,
// strings ended by CAN, SUB or ESC), invisible characters shown as escapes.
#include <gtest/gtest.h>

#include <string>

#include "recording/screen_text.hpp"

namespace portcullis::recording {
namespace {

std::string screen(std::string_view bytes, std::size_t width) {
    ScreenText text(width);
    std::string out = text.feed(bytes);
    return out + text.finish();
}

// What bash 5.2 (readline) wrote on a 40-column pty while
// `echo rm -rf /tmp/DIR; : zzz...` was typed, then Ctrl-A, Ctrl-E, Enter:
// " \r" at the margin, cursor up and forward for Ctrl-A, LF and CR to come
// back down for Ctrl-E.
const std::string kReadlineWrap =
    "$ echo rm -rf /tmp/DIR; : zzzzzzzzzzzzzz \rzzzzzzzzzzzzzzzzzzzzzzzz\x1b[A\r\x1b[C\x1b[C"
    "\r\n\r" +
    [] {
        std::string moves;
        for (int i = 0; i < 24; ++i) moves += "\x1b[C";
        return moves;
    }() +
    "\r\n\x1b[?2004l\rrm -rf /tmp/DIR\r\n\x1b[?2004h$ ";

const std::string kCommand = "$ echo rm -rf /tmp/DIR; : zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz";

TEST(ScreenTextWidth, AWrappedCommandStaysWhole) {
    EXPECT_EQ(screen(kReadlineWrap, 40), kCommand + "\nrm -rf /tmp/DIR\n$ \n");
    // Without the width, its tail overwrote its head (the finding).
    EXPECT_EQ(screen(kReadlineWrap, 0).find("rm -rf /tmp/DIR;"), std::string::npos);
}

// A colour change at the margin does not take the cursor off it (found by
// the terminal_filter fuzz target: play and export disagreed).
TEST(ScreenTextWidth, ColoursKeepThePendingWrap) {
    EXPECT_EQ(screen("abcdefghi\x1b[1mj\x1b[0mk\r\n", 10), "abcdefghijk\n");
    EXPECT_EQ(screen("abcdefghij\x1b[Dk\r\n", 10), "abcdefghkj\n");  // a move does
    EXPECT_EQ(screen("abcdefghij\x1b[5Kk\r\n", 10), "abcdefghijk\n");
}

TEST(ScreenTextWidth, ResizeChangesTheMargin) {
    ScreenText text(80);
    std::string out = text.feed(std::string(80, 'a'));
    text.setWidth(20);
    out += text.feed("\r\nbbbbbbbbbbbbbbbbbbbbcc \rX\r\n");
    EXPECT_EQ(out, std::string(80, 'a') + "\nbbbbbbbbbbbbbbbbbbbbXc \n");
    EXPECT_EQ(columnsOfResize("100x30"), 100u);
    EXPECT_EQ(columnsOfResize("junk"), 0u);
    EXPECT_EQ(columnsOfResize("100"), 0u);
}

TEST(ScreenTextWidth, EditingStaysInTheCursorsRow) {
    // EL and DCH on the first row of a wrapped line leave the second row alone.
    EXPECT_EQ(screen("abcdefghij12345\x1b[A\r\x1b[3C\x1b[K\r\n", 10), "abc       12345\n");
    EXPECT_EQ(screen("abcdefghij12345\x1b[A\r\x1b[P\r\n", 10), "bcdefghij 12345\n");
    EXPECT_EQ(screen("abcdefghij12345\x1b[A\r\x1b[@\r\n", 10), " abcdefghi12345\n");
    EXPECT_EQ(screen("a\tb\n", 40), "a\tb\n");
    EXPECT_EQ(screen("a\tb\rxxxxxxxxxy\n", 40), "xxxxxxxxxy\n");
}

TEST(ScreenTextWidth, LongOutputIsBounded) {
    const std::string out = screen(std::string(200000, 'a'), 80);
    EXPECT_EQ(std::count(out.begin(), out.end(), 'a'), 200000);
    std::size_t longest = 0, start = 0;
    for (std::size_t i = 0; i < out.size(); ++i) {
        if (out[i] != '\n') continue;
        longest = std::max(longest, i - start);
        start = i + 1;
    }
    EXPECT_LE(longest, ScreenText::kMaxColumns);
}

// Issue 21 finding 1: play and export end strings alike.
TEST(ScreenTextWidth, StringsEndAtCanSubAndEscape) {
    EXPECT_EQ(screen("\x1b]0;t\x18"
                     "after\n",
                     80),
              "after\n");
    EXPECT_EQ(screen("\x1bPq\x1a"
                     "after\n",
                     80),
              "after\n");
    EXPECT_EQ(screen("\x1b_x\x1b[31mafter\n", 80), "after\n");
    EXPECT_EQ(screen("\x1bPq\x07"
                     "after\n",
                     80),
              "after\n");
}

// Issue 21 finding 2: C1 controls written as UTF-8 are what a terminal makes of them.
TEST(ScreenTextWidth, C1ControlsAreSequences) {
    EXPECT_EQ(screen("a\xC2\x9B"
                     "31mb\n",
                     80),
              "ab\n");
    EXPECT_EQ(screen("abc\xC2\x9B"
                     "2Dx\n",
                     80),
              "axc\n");
    EXPECT_EQ(screen("\xC2\x9D"
                     "0;title\x07ok\n",
                     80),
              "ok\n");
    EXPECT_EQ(screen("\xC2\x9D"
                     "0;title\xC2\x9Cok\n",
                     80),
              "ok\n");
}

// Issue 21 finding 6: `rm` cannot be made to read as something else.
TEST(ScreenTextWidth, InvisibleCharactersAreShownAsEscapes) {
    EXPECT_EQ(screen("\xE2\x80\xAEmr -rf /\n", 80), "\\u202Emr -rf /\n");
    EXPECT_EQ(screen("r\xE2\x80\x8Bm\n", 80), "r\\u200Bm\n");
}

}  // namespace
}  // namespace portcullis::recording
