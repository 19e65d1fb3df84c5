// Recorded and stored text shown to a person (issue 21 finding 6).
#include "recording/display_text.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace portcullis::recording {
namespace {

TEST(DisplayText, ControlsC1AndInvisibleCharactersAreEscaped) {
    EXPECT_EQ(displayText("plain text\tcaf\xC3\xA9 \xF0\x9F\x98\x80"),
              "plain text\tcaf\xC3\xA9 \xF0\x9F\x98\x80");
    EXPECT_EQ(displayText("\x1b[31m\x07\x7f"), "\\u001B[31m\\u0007\\u007F");
    EXPECT_EQ(displayText("\xC2\x9B\xC2\x9D\xC2\x90"), "\\u009B\\u009D\\u0090");
    // Bidi overrides and isolates, zero-width characters, BOM, tags.
    EXPECT_EQ(displayText("\xE2\x80\xAE\xE2\x80\x8B\xE2\x81\xA6\xE2\x81\xA9\xEF\xBB\xBF"),
              "\\u202E\\u200B\\u2066\\u2069\\uFEFF");
    EXPECT_EQ(displayText("\xF3\xA0\x80\x81"), "\\U000E0001");
    EXPECT_EQ(displayText("a\xFF"
                          "b\xE2\x82"),
              "a\\xffb\\xe2\\x82");
}

TEST(DisplayText, JsonStaysTheSameValue) {
    const nlohmann::json value = {{"comment",
                                   "a\xC2\x9B"
                                   "b\xE2\x80\xAE"
                                   "c\x7f\xF3\xA0\x80\x81"},
                                  {"n", 1}};
    const std::string safe = terminalSafeJson(value.dump());
    EXPECT_EQ(safe.find("\xC2\x9B"), std::string::npos);
    EXPECT_EQ(safe.find("\xE2\x80\xAE"), std::string::npos);
    EXPECT_NE(safe.find("\\u009B"), std::string::npos);
    EXPECT_EQ(nlohmann::json::parse(safe), value);
}

}  // namespace
}  // namespace portcullis::recording

namespace portcullis::recording {
namespace {

// portcullisd's log and `audit tail` quote the same way (issue 21 finding 6):
// a name such as `x" account=root event=auth.success` stays one field, and C1
// and bidi characters cannot act on the terminal reading the log.
TEST(LogfmtValue, QuotesAndEscapesWhatCouldReadAsAnotherField) {
    EXPECT_EQ(logfmtValue("alice"), "alice");
    EXPECT_EQ(logfmtValue(""), "\"\"");
    EXPECT_EQ(logfmtValue("x\" account=root event=auth.success"),
              "\"x\\\" account=root event=auth.success\"");
    EXPECT_EQ(logfmtValue("a\\u202Eb"), "\"a\\\\u202Eb\"");     // typed, not an escape
    EXPECT_EQ(logfmtValue("r\xe2\x80\xaem"), "\"r\\u202Em\"");  // U+202E itself
    EXPECT_EQ(logfmtValue("\x1b]0;x\x07"), "\"\\u001B]0;x\\u0007\"");
    EXPECT_EQ(logfmtValue("\xc2\x9b"
                          "31m"),
              "\"\\u009B31m\"");  // C1 CSI
    EXPECT_EQ(logfmtValue("a\tb"), "\"a\\tb\"");
}

}  // namespace
}  // namespace portcullis::recording
