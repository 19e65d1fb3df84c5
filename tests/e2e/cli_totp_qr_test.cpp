// Issue 13: `portcullis user totp enroll` and its QR code, as an operator
// sees it on a terminal. The drawing must fit an 80x24 terminal (it was 27
// rows) and must scan on a dark and on a light terminal theme (--qr=dark,
// --qr=light; it was not decodable inverted): the test turns the text the
// real CLI printed into the image a terminal of that theme shows (blocks in
// the foreground colour, spaces in the background colour) and decodes it
// with zbarimg. The control: a drawing shown on the other theme (what the
// one rendering did to light themes) does not decode. Also: --qr=none, and
// re-enrolling an enrolled account needs --force.
#include <algorithm>
#include <filesystem>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/e2e/support/cli_runner.hpp"
#include "tests/support/process.hpp"

namespace portcullis::test {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kZbarimg = "/usr/bin/zbarimg";

// The lines of the drawing: made only of half blocks and spaces.
std::vector<std::string> drawingLines(const std::string& out) {
    std::vector<std::string> lines;
    std::istringstream in(out);
    for (std::string line; std::getline(in, line);) {
        std::string_view rest = line;
        bool block = false;
        while (!rest.empty()) {
            if (rest.starts_with(" ")) {
                rest.remove_prefix(1);
            } else if (rest.starts_with("\u2588") || rest.starts_with("\u2580") ||
                       rest.starts_with("\u2584")) {
                rest.remove_prefix(3);
                block = true;
            } else {
                break;
            }
        }
        if (rest.empty() && block) lines.push_back(line);
    }
    return lines;
}

// Terminal columns of a drawing line (each glyph is one column).
std::size_t columns(std::string_view line) {
    std::size_t n = 0;
    for (const char c : line) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    return n;
}

// The picture a terminal shows: foreground (blocks) and background (spaces)
// as grey levels, each module `scale` pixels, a margin of background around.
void writeTerminalImage(const std::vector<std::string>& lines, bool darkBackground,
                        const fs::path& file) {
    constexpr int kScale = 4;
    constexpr int kMargin = 8;
    const unsigned char fg = darkBackground ? 255 : 0;
    const unsigned char bg = darkBackground ? 0 : 255;
    std::vector<std::vector<unsigned char>> modules;
    std::size_t width = 0;
    for (const auto& line : lines) {
        std::vector<unsigned char> top, bottom;
        std::string_view rest = line;
        while (!rest.empty()) {
            const bool full = rest.starts_with("\u2588");
            const bool upper = rest.starts_with("\u2580");
            const bool lower = rest.starts_with("\u2584");
            top.push_back(full || upper ? fg : bg);
            bottom.push_back(full || lower ? fg : bg);
            rest.remove_prefix(full || upper || lower ? 3 : 1);
        }
        width = std::max(width, top.size());
        modules.push_back(std::move(top));
        modules.push_back(std::move(bottom));
    }
    const std::size_t w = (width + 2 * kMargin) * kScale;
    const std::size_t h = (modules.size() + 2 * kMargin) * kScale;
    std::string pixels(w * h, static_cast<char>(bg));
    for (std::size_t y = 0; y < modules.size(); ++y) {
        for (std::size_t x = 0; x < modules[y].size(); ++x) {
            for (int dy = 0; dy < kScale; ++dy) {
                for (int dx = 0; dx < kScale; ++dx) {
                    pixels[((y + kMargin) * kScale + dy) * w + (x + kMargin) * kScale + dx] =
                        static_cast<char>(modules[y][x]);
                }
            }
        }
    }
    writeFile(file, "P5\n" + std::to_string(w) + " " + std::to_string(h) + "\n255\n" + pixels);
}

std::string uriLine(const std::string& out) {
    const auto at = out.find("URI:    ");
    if (at == std::string::npos) return "";
    const auto start = at + 8;
    return out.substr(start, out.find('\n', start) - start);
}

class CliTotpQrTest : public ::testing::Test {
  protected:
    void SetUp() override {
        ASSERT_EQ(cli({"init"}).exitCode, 0);
        ASSERT_EQ(cli({"user", "add", "alice"}).exitCode, 0);
    }
    ProcessResult cli(std::vector<std::string> args) {
        return runCli(state_, std::move(args), "ops-frank");
    }
    // What zbarimg reads in the picture, or "" when it finds no code.
    std::string decode(const std::vector<std::string>& lines, bool darkBackground) {
        const fs::path image = tmp_.path() / ("qr-" + std::to_string(++images_) +
                                              (darkBackground ? "-dark" : "-light") + ".pgm");
        writeTerminalImage(lines, darkBackground, image);
        const auto r = runProcess({kZbarimg, "--nodbus", "-q", "--raw", image.string()});
        if (r.exitCode != 0) return "";
        std::string text = r.out;
        while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
        return text;
    }
    int enrollEvents() {
        const auto r = cli({"audit", "list", "--type", "admin.user.totp.enroll", "--json"});
        EXPECT_EQ(r.exitCode, 0) << describe(r);
        return static_cast<int>(nlohmann::json::parse(r.out, nullptr, false).size());
    }

    TempDir tmp_{"cli-totp-qr"};
    fs::path state_ = tmp_.path() / "state";
    int images_ = 0;
};

TEST_F(CliTotpQrTest, QrFitsTheTerminalAndScansOnBothThemes) {
    ASSERT_TRUE(fs::exists(kZbarimg)) << "install zbar-tools (scripts/deps does)";
    // The default: drawn for a dark background.
    auto r = cli({"user", "totp", "enroll", "alice"});
    ASSERT_EQ(r.exitCode, 0) << describe(r);
    const std::string uri = uriLine(r.out);
    ASSERT_THAT(uri, HasSubstr("otpauth://totp/Portcullis:alice?secret="));
    auto lines = drawingLines(r.out);
    ASSERT_FALSE(lines.empty()) << r.out;
    // An 80x24 terminal holds it, with a line to spare for the hint under it.
    EXPECT_LE(lines.size(), 23u) << r.out;
    for (const auto& line : lines) EXPECT_LE(columns(line), 80u) << line;
    EXPECT_THAT(r.out, HasSubstr("on a light one: --qr=light"));
    EXPECT_EQ(decode(lines, true), uri) << r.out;
    // Control: the same drawing on a light theme is inverted and does not scan.
    EXPECT_EQ(decode(lines, false), "");

    r = cli({"user", "totp", "enroll", "alice", "--force", "--qr=light"});
    ASSERT_EQ(r.exitCode, 0) << describe(r);
    const std::string second = uriLine(r.out);
    ASSERT_NE(second, uri);  // a new secret
    lines = drawingLines(r.out);
    EXPECT_LE(lines.size(), 23u) << r.out;
    EXPECT_EQ(decode(lines, false), second) << r.out;
    EXPECT_EQ(decode(lines, true), "");  // control: the light drawing on a dark theme

    // `--qr dark` (separate value) is the same as the default.
    r = cli({"user", "totp", "enroll", "alice", "--force", "--qr", "dark"});
    ASSERT_EQ(r.exitCode, 0) << describe(r);
    EXPECT_EQ(decode(drawingLines(r.out), true), uriLine(r.out));
}

TEST_F(CliTotpQrTest, QrNoneAndBadValues) {
    auto r = cli({"user", "totp", "enroll", "alice", "--qr=none"});
    ASSERT_EQ(r.exitCode, 0) << describe(r);
    EXPECT_THAT(r.out, HasSubstr("otpauth://totp/"));
    EXPECT_TRUE(drawingLines(r.out).empty()) << r.out;
    EXPECT_THAT(r.out, Not(HasSubstr("\u2588")));
    EXPECT_THAT(r.out, HasSubstr("Recovery codes"));

    r = cli({"user", "totp", "enroll", "alice", "--force", "--qr=sepia"});
    EXPECT_EQ(r.exitCode, 2) << describe(r);
    EXPECT_THAT(r.err, HasSubstr("--qr"));
    EXPECT_EQ(enrollEvents(), 1);  // the usage error changed nothing
}

// Issue 13: re-enrolling an enrolled account asked nothing and replaced its
// secret; now it needs --force, and without it nothing changes.
TEST_F(CliTotpQrTest, ReEnrollingNeedsForce) {
    auto r = cli({"user", "totp", "enroll", "alice", "--json"});
    ASSERT_EQ(r.exitCode, 0) << describe(r);
    const auto first = nlohmann::json::parse(r.out, nullptr, false);
    ASSERT_TRUE(first.contains("secret"));

    r = cli({"user", "totp", "enroll", "alice"});
    EXPECT_EQ(r.exitCode, 1) << describe(r);
    EXPECT_THAT(r.err, HasSubstr("enrolled already"));
    EXPECT_THAT(r.err, HasSubstr("--force"));
    EXPECT_THAT(r.out, Not(HasSubstr("otpauth://")));
    EXPECT_EQ(enrollEvents(), 1);

    // Positive control: with --force the secret is replaced (and audited as such).
    r = cli({"user", "totp", "enroll", "alice", "--force", "--json"});
    ASSERT_EQ(r.exitCode, 0) << describe(r);
    const auto second = nlohmann::json::parse(r.out, nullptr, false);
    EXPECT_NE(second.value("secret", ""), first.value("secret", ""));
    EXPECT_EQ(enrollEvents(), 2);
    r = cli({"audit", "list", "--type", "admin.user.totp.enroll", "--json"});
    const auto events = nlohmann::json::parse(r.out, nullptr, false);
    ASSERT_EQ(events.size(), 2u);
    EXPECT_EQ(events[1]["details"]["replaced"], true);
}

}  // namespace
}  // namespace portcullis::test
