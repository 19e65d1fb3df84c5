#include "recording/screen_text.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>

namespace portcullis::recording {
namespace {

// Everything `bytes` shows, feeding it in one piece.
std::string screen(std::string_view bytes) {
    ScreenText text;
    std::string out = text.feed(bytes);  // before finish(): operands of + are unordered
    return out + text.finish();
}

// The same, one byte per feed() (every split point at once).
std::string screenByteByByte(std::string_view bytes) {
    ScreenText text;
    std::string out;
    for (const char c : bytes) out += text.feed(std::string_view(&c, 1));
    return out + text.finish();
}

TEST(ScreenText, PlainLines) {
    EXPECT_EQ(screen("hello\nworld\n"), "hello\nworld\n");
    EXPECT_EQ(screen("no newline"), "no newline\n");
    EXPECT_EQ(screen(""), "");
    EXPECT_EQ(screen("\n\n"), "\n\n");
}

TEST(ScreenText, LinesAreReturnedAsTheyComplete) {
    ScreenText text;
    EXPECT_EQ(text.feed("one\ntw"), "one\n");
    EXPECT_EQ(text.feed("o"), "");
    EXPECT_EQ(text.feed("\r\nthree"), "two\n");
    EXPECT_EQ(text.finish(), "three\n");
    EXPECT_EQ(text.finish(), "");
}

TEST(ScreenText, ColoursAreStripped) {
    EXPECT_EQ(screen("\x1b[01;34mdir\x1b[0m  \x1b[38;5;208mfile\x1b[m\r\n"), "dir  file\n");
}

TEST(ScreenText, CarriageReturnOverwrites) {
    EXPECT_EQ(screen("progress 10%\rprogress 99%\r\n"), "progress 99%\n");
    EXPECT_EQ(screen("abcdef\rXY\n"), "XYcdef\n");
}

TEST(ScreenText, BackspaceMovesBack) {
    EXPECT_EQ(screen("ab\bc\n"), "ac\n");
    EXPECT_EQ(screen("ls -l\b \b\b \b\n"), "ls   \n");  // erased by spaces, as shown
    EXPECT_EQ(screen("\b\bx\n"), "x\n");                // cannot go left of column 0
}

TEST(ScreenText, CursorForwardBackAndEraseInLine) {
    EXPECT_EQ(screen("a\x1b[3Cb\n"), "a   b\n");
    EXPECT_EQ(screen("abcdef\x1b[3DX\n"), "abcXef\n");
    EXPECT_EQ(screen("abcdef\x1b[D\x1b[DX\n"), "abcdXf\n");
    EXPECT_EQ(screen("abcdef\x1b[3D\x1b[K\n"), "abc\n");
    EXPECT_EQ(screen("abcdef\x1b[3D\x1b[0K!\n"), "abc!\n");
    EXPECT_EQ(screen("abcdef\x1b[3D\x1b[1K\n"), "    ef\n");
    EXPECT_EQ(screen("abcdef\x1b[2K\rnew\n"), "new\n");
    EXPECT_EQ(screen("x\x1b[999999999999999999999Cy\n").size() < 70000, true);  // bounded
}

TEST(ScreenText, LineEditingSequences) {
    // readline deleting a character in the middle, then inserting one.
    EXPECT_EQ(screen("$ echo helllo\x1b[3D\x1b[P\n"), "$ echo hello\n");
    EXPECT_EQ(screen("abc\x1b[2D\x1b[@X\n"), "aXbc\n");
    EXPECT_EQ(screen("abcdef\x1b[1G\x1b[2X\n"), "  cdef\n");
}

TEST(ScreenText, OscTitleIsStripped) {
    EXPECT_EQ(screen("\x1b]0;root@host: ~\x07$ ls\n"), "$ ls\n");
    EXPECT_EQ(screen("\x1b]2;title\x1b\\$ ls\n"), "$ ls\n");
    EXPECT_EQ(screen("\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\\n"), "link\n");
}

TEST(ScreenText, OtherSequencesAndControlsAreStripped) {
    EXPECT_EQ(screen("\x1b[?2004h\x1b[?25l\x1b=a\x1b>b\x1b(Bc\x1b"
                     "7d\x1b"
                     "8\n"),
              "abcd\n");
    EXPECT_EQ(screen("\x1bPq#0;2;0;0;0\x1b\\after\n"), "after\n");  // DCS (sixel)
    using namespace std::string_literals;
    EXPECT_EQ(screen("a\x07"
                     "b\x01"
                     "c\x7f"
                     "d\x00"
                     "e\n"s),
              "abcde\n");
    EXPECT_EQ(screen("a\tb\n"), "a\tb\n");
    EXPECT_EQ(screen("\x1b[2J\x1b[H\x1b[1;1Hx\n"), "x\n");
    EXPECT_EQ(screen("\x1b[31\x18"
                     "ok\n"),
              "ok\n");  // CAN aborts a sequence
}

TEST(ScreenText, SequencesSplitAnywhere) {
    const std::string bytes =
        "\x1b]0;user@host:~\x07\x1b[01;32muser@host\x1b[00m:\x1b[01;34m~\x1b[00m$ "
        "ls\r\n\x1b[0m\x1b[01;34mdir\x1b[0m  caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80\r\n"
        "50%\r100%\x1b[K\r\n\x1bP1$r0m\x1b\\done";
    const std::string expected =
        "user@host:~$ ls\ndir  caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80\n100%\ndone\n";
    EXPECT_EQ(screen(bytes), expected);
    EXPECT_EQ(screenByteByByte(bytes), expected);
    for (std::size_t cut = 0; cut <= bytes.size(); ++cut) {
        ScreenText text;
        std::string out = text.feed(std::string_view(bytes).substr(0, cut));
        out += text.feed(std::string_view(bytes).substr(cut));
        EXPECT_EQ(out + text.finish(), expected) << "cut at " << cut;
    }
}

TEST(ScreenText, MultiByteCharactersTakeOneColumn) {
    EXPECT_EQ(screen("h\xC3\xA9llo\rH\n"), "H\xC3\xA9llo\n");
    EXPECT_EQ(screen("\xE2\x82\xAC\xE2\x82\xAC\b$\n"), "\xE2\x82\xAC$\n");
}

TEST(ScreenText, InvalidBytesShownEscaped) {
    EXPECT_EQ(screen("a\xFF"
                     "b\n"),
              "a\\xffb\n");
    EXPECT_EQ(screen("\xE2\x82x\n"), "\\xe2\\x82x\n");
    EXPECT_EQ(screen("\xC3"), "\\xc3\n");
}

TEST(ScreenText, UnterminatedStringCannotHideTheRest) {
    // An OSC that never ends is given up after a bound, so later output shows.
    std::string bytes = "\x1b]0;";
    bytes += std::string(100000, 'x');
    ScreenText text;
    text.feed(bytes);
    std::string out = text.feed("\nsecret command\n");
    out += text.finish();
    EXPECT_NE(out.find("secret command"), std::string::npos);
}

TEST(ScreenText, VeryLongLineWraps) {
    const std::string out = screen(std::string(200000, 'a'));
    EXPECT_EQ(std::count(out.begin(), out.end(), 'a'), 200000);
    EXPECT_GT(std::count(out.begin(), out.end(), '\n'), 1);
}

// Random terminal output cut into random feeds shows the same as fed whole.
TEST(ScreenText, AnySplitShowsTheSame) {
    std::mt19937 random(4242);
    const std::string pieces[] = {
        "ab",   "\r",     "\n",    "\b",       "\t",           "\x1b[",    "\x1b]0;",
        "\x07", "\x1b\\", "\x1bP", "\x1b(",    "31m",          "2K",       "3C",
        "4D",   "?25l",   "\x1b",  "\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F", "\x98\x80",
        "\xFF", "\x18",   "P",     "@"};
    for (int round = 0; round < 500; ++round) {
        std::string bytes;
        const int count = std::uniform_int_distribution<int>(0, 60)(random);
        for (int i = 0; i < count; ++i) {
            bytes += pieces[std::uniform_int_distribution<std::size_t>(
                0, std::size(pieces) - 1)(random)];
        }
        const std::string whole = screen(bytes);
        ScreenText text;
        std::string out;
        for (std::size_t at = 0; at < bytes.size();) {
            const std::size_t n = std::uniform_int_distribution<std::size_t>(1, 6)(random);
            out += text.feed(std::string_view(bytes).substr(at, std::min(n, bytes.size() - at)));
            at += n;
        }
        out += text.finish();
        ASSERT_EQ(out, whole) << "round " << round;
    }
}

}  // namespace
}  // namespace portcullis::recording
