// Operator-facing text (issue 21 finding 6): fields quoted and escaped as
// portcullisd's log does; controls, C1 and invisible characters shown as
// escapes in tables, key: value blocks and JSON.
#include "admin_cli/output.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>

namespace portcullis::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(Output, LogfmtValuesCannotReadAsMoreFields) {
    EXPECT_EQ(logfmtValue("alice"), "alice");
    EXPECT_EQ(logfmtValue("x\" account=root event=auth.success"),
              "\"x\\\" account=root event=auth.success\"");
    EXPECT_EQ(logfmtValue(""), "\"\"");
    EXPECT_EQ(logfmtValue("a=b"), "\"a=b\"");
    EXPECT_EQ(logfmtValue("back\\slash"), "\"back\\\\slash\"");
    EXPECT_EQ(logfmtValue("new\nline\x1b[2J"), "\"new\\u000Aline\\u001B[2J\"");
    EXPECT_EQ(logfmtValue("r\xE2\x80\xAEm"), "\"r\\u202Em\"");  // U+202E
    EXPECT_EQ(logfmtValue("\xC2\x9B"
                          "31m"),
              "\"\\u009B31m\"");                               // C1 CSI
    EXPECT_EQ(logfmtValue("caf\xC3\xA9"), "\"caf\xC3\xA9\"");  // text stays text
}

TEST(Output, TablesAndFieldsEscapeWhatWouldActOnTheTerminal) {
    Table table({"FINGERPRINT", "COMMENT"});
    table.addRow({"SHA256:x",
                  "alice\xC2\x9D"
                  "52;c;eA==\x07@laptop"});
    table.addRow({"SHA256:y", "\xE2\x80\x8B\xE2\x81\xA6rm\xE2\x81\xA9"});
    std::ostringstream out;
    table.print(out, "none");
    EXPECT_THAT(out.str(), HasSubstr("alice\\u009D52;c;eA==\\u0007@laptop"));
    EXPECT_THAT(out.str(), HasSubstr("\\u200B\\u2066rm\\u2069"));
    EXPECT_THAT(out.str(), Not(HasSubstr("\xC2\x9D")));

    std::ostringstream fields;
    printFields(fields, {{"Full name", "Eve\x1b]0;pwned\x07"}});
    EXPECT_EQ(fields.str(), "Full name:  Eve\\u001B]0;pwned\\u0007\n");
}

}  // namespace
}  // namespace portcullis::cli
