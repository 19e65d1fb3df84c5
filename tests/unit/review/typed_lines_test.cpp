// Typed-line reconstruction (issue 21 finding 3): readline's default editing
// keys, lines longer than 4 KiB, lines typed without echo marked approximate,
// hidden-input placeholders (issue 12 finding 8) as one unit.
#include "review/typed_lines.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace portcullis::review {
namespace {

using Line = TypedLines::Line;

// Keys typed, each echoed by the terminal right after (as with `stty echo`).
std::vector<Line> typedWithEcho(const std::vector<std::string>& keys) {
    TypedLines typed(TypedLines::Mode::terminal);
    std::vector<Line> out;
    std::int64_t t = 0;
    for (const auto& key : keys) {
        auto lines = typed.input(key, t += 1000);
        out.insert(out.end(), lines.begin(), lines.end());
        // The shell echoes printable keys (a simplification of readline's redraw).
        std::string echo;
        for (const char c : key) {
            if (static_cast<unsigned char>(c) >= 0x20 && c != 0x7f) echo += c;
        }
        lines = typed.output(echo + (key.find('\r') != std::string::npos ? "\r\n" : ""), t += 10);
        out.insert(out.end(), lines.begin(), lines.end());
    }
    auto rest = typed.finish();
    out.insert(out.end(), rest.begin(), rest.end());
    return out;
}

std::string texts(const std::vector<Line>& lines) {
    std::string out;
    for (const auto& l : lines) out += l.text + (l.approximate ? " ~" : "") + "\n";
    return out;
}

std::string keys(const std::string& bytes) {
    return texts(typedWithEcho({bytes}));
}

// The text alone (the simple echo above does not echo what Ctrl-Y yanks).
std::string keysText(const std::string& bytes) {
    std::string out;
    for (const auto& l : typedWithEcho({bytes})) out += l.text + "\n";
    return out;
}

TEST(TypedLines, PlainLinesAndBackspace) {
    EXPECT_EQ(keys("echo hx\x7f"
                   "ello\r"),
              "echo hello\n");
    EXPECT_EQ(keys("ls\r\rpwd\n"), "ls\npwd\n");  // an empty Enter is no line
    EXPECT_EQ(keys("sleep 10\x03"), "sleep 10^C\n");
}

// Issue 21 finding 3: `m -rf DIR`, Ctrl-A, `r` ran `rm -rf DIR`.
TEST(TypedLines, CursorKeysEditInsideTheLine) {
    EXPECT_EQ(keys("m -rf DIR\x01r\r"), "rm -rf DIR\n");
    EXPECT_EQ(keys("rm -rf DIR\x1b[D\x1b[D\x1b[DX\r"), "rm -rf XDIR\n");    // Left
    EXPECT_EQ(keys("rm -rf DIR\x1bOD\x1bOD\x1bOC_\r"), "rm -rf DI_R\n");    // SS3 arrows
    EXPECT_EQ(keys("cat f\x1b[Hsudo \x1b[F | wc\r"), "sudo cat f | wc\n");  // Home, End
    EXPECT_EQ(keys("ab\x1b[1~>\x1b[4~<\r"), ">ab<\n");
    EXPECT_EQ(keys("abc\x02\x02\x04\r"), "ac\n");     // Ctrl-B, Ctrl-D
    EXPECT_EQ(keys("abc\x02\x02\x1b[3~\r"), "ac\n");  // Delete
    EXPECT_EQ(keys("abc\x01\x06\x06X\r"), "abXc\n");  // Ctrl-F
    EXPECT_EQ(keys("xab\x01\x06\x14\r"), "axb\n");    // Ctrl-T
    EXPECT_EQ(keys("one two\x1b"
                   "bX \r"),
              "one X two\n");  // Alt-B
    EXPECT_EQ(keys("one two\x1b[1;5D\x1b[1;5C!\r"), "one two!\n");
}

TEST(TypedLines, KillAndYank) {
    EXPECT_EQ(keys("rm -rf /\x01\x0b"
                   "ls\r"),
              "ls\n");  // Ctrl-K
    EXPECT_EQ(keys("junk rm -rf x\x1b[D\x1b[D\x1b[D\x1b[D\x1b[D\x1b[D\x1b[D\x1b[D\x15\r"),
              "rm -rf x\n");  // Ctrl-U to the cursor
    EXPECT_EQ(keys("echo a b\x17\x17"
                   "x\r"),
              "echo x\n");                                            // Ctrl-W twice
    EXPECT_EQ(keysText("rm -rf DIR\x17\x01\x19\r"), "DIRrm -rf \n");  // Ctrl-Y yanks
    EXPECT_EQ(keysText("a b c\x17\x17\x19\x19\r"), "a b cb c\n");     // kills add up
    EXPECT_EQ(keysText("one two\x01\x1b"
                       "d\x19\x19\r"),
              "oneone two\n");                       // Alt-D
    EXPECT_EQ(keys("one two\x1b\x7f\r"), "one \n");  // Alt-BS
}

TEST(TypedLines, CtrlVInsertsTheNextKeyLiterally) {
    EXPECT_EQ(keys("echo abc\x16\x15"
                   "def\r"),
              "echo abc^Udef\n");
    EXPECT_EQ(keys("a\x16\x1b[Db\r"), "a^[[Db\n");
    EXPECT_EQ(keys("a\x16\tb\r"), "a\tb\n");
}

// Issue 21 finding 3: the 4096-byte cut split a long line in two.
TEST(TypedLines, LongLinesStayWhole) {
    const std::string long1(10000, 'a');
    const auto lines = typedWithEcho({long1 + "; rm -rf DIR\r"});
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_EQ(lines[0].text, long1 + "; rm -rf DIR");
    // Data (exec without pty): the same.
    TypedLines data(TypedLines::Mode::data);
    auto out = data.input(long1 + "\n", 1);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].text.size(), long1.size());
}

// Issue 21 finding 3: with `stty -echo` nothing came back; the line is marked.
TEST(TypedLines, LinesTypedWithoutEchoAreApproximate) {
    TypedLines typed(TypedLines::Mode::terminal);
    EXPECT_TRUE(typed.input("m -rf DIR", 1000).empty());
    EXPECT_TRUE(typed.input("\x01r\r", 2000).empty());  // waits for an echo
    EXPECT_TRUE(typed.output("\r\n$ ", 2100).empty());
    const auto lines = typed.input("ls\r", 5000000);  // later than kEchoWait
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_EQ(lines[0].text, "rm -rf DIR");
    EXPECT_TRUE(lines[0].approximate);
    EXPECT_EQ(lines[0].elapsedUs, 2000);
    const auto rest = typed.finish();
    ASSERT_EQ(rest.size(), 1u);
    EXPECT_EQ(rest[0].text, "ls");
    EXPECT_TRUE(rest[0].approximate);

    // Positive control: the same keys echoed (a paste; the echo after Enter).
    TypedLines echoed(TypedLines::Mode::terminal);
    EXPECT_TRUE(echoed.input("m -rf DIR\x01r\r", 1000).empty());
    const auto settled = echoed.output("m -rf DIR\r$ rm -rf DIR\r\n", 1100);
    ASSERT_EQ(settled.size(), 1u);
    EXPECT_EQ(settled[0].text, "rm -rf DIR");
    EXPECT_FALSE(settled[0].approximate);
}

TEST(TypedLines, HistoryRecallIsApproximate) {
    EXPECT_EQ(keys("\x1b[A -f\r"), " -f ~\n");
    EXPECT_EQ(keys("\x10\r"), "");  // Ctrl-P, Enter: nothing typed to show
    EXPECT_EQ(keys("\x12rm\x1b[C\r"), "rm ~\n");
    EXPECT_EQ(keys("ls\r"), "ls\n");  // the next line starts clean
}

// Issue 12 finding 8: one "[hidden input, N bytes]" event per read.
TEST(TypedLines, HiddenInputPlaceholdersAreOneUnit) {
    TypedLines typed(TypedLines::Mode::terminal);
    std::vector<Line> lines;
    for (int i = 0; i < 5; ++i) typed.input("[hidden input, 1 bytes]", 1000 + i);
    typed.input("[hidden input, 3 bytes]", 1100);
    auto out = typed.input("\r", 1200);  // Enter ends it (hidden input is not echoed)
    lines.insert(lines.end(), out.begin(), out.end());
    out = typed.input("sudo -k\r", 1300);
    lines.insert(lines.end(), out.begin(), out.end());
    out = typed.output("sudo -k\r\n", 1310);
    lines.insert(lines.end(), out.begin(), out.end());
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_EQ(lines[0].text, "[hidden input, 8 bytes]");
    EXPECT_FALSE(lines[0].approximate);
    EXPECT_EQ(lines[1].text, "sudo -k");

    // Atomic: a backspace takes the whole placeholder, never a piece of its text.
    EXPECT_EQ(texts(typedWithEcho({"x", "[hidden input, 4 bytes]", "\x7f", "\r"})), "x\n");
    // Typed text that merely looks like one, inside other input, is text.
    EXPECT_EQ(keys("echo [hidden input, 4 bytes]\r"), "echo [hidden input, 4 bytes]\n");
}

TEST(TypedLines, TerminalReportsAndPasteMarkersAreNotTyped) {
    EXPECT_EQ(keys("\x1b[200~ls -l\x1b[201~\r"), "ls -l\n");
    EXPECT_EQ(keys("a\x1b]11;rgb:0000/0000/0000\x1b\\b\x1b[I\x1b[O\r"), "ab\n");
    EXPECT_EQ(keys("caf\xC3\xA9\x7f"
                   "e\r"),
              "cafe\n");
}

TEST(TypedLines, ExportTextMarksApproximateLines) {
    EXPECT_EQ(TypedLines::text({{"ls", 1, false}, {"rm -rf DIR", 2, true}}),
              "ls\nrm -rf DIR  [approximate]\n");
    EXPECT_EQ(TypedLines::text({{"\xE2\x80\xAEmr \xC2\x9B", 1, false}}), "\\u202Emr \\u009B\n");
}

}  // namespace
}  // namespace portcullis::review
