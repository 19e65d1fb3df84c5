// SPEC §11: a gateway command line is split into words as a POSIX shell
// would, and never run by a shell.
#include "common/shell_words.hpp"

#include <gtest/gtest.h>

namespace portcullis {
namespace {

using Words = std::vector<std::string>;

Words split(std::string_view line) {
    auto r = splitShellWords(line);
    EXPECT_TRUE(r) << line << ": " << r.error();
    return r ? *r : Words{};
}

TEST(ShellWordsTest, SplitsLikeAShell) {
    EXPECT_EQ(split("targets"), (Words{"targets"}));
    EXPECT_EQ(split("  request  root@cosigner-1\t--for 1h  "),
              (Words{"request", "root@cosigner-1", "--for", "1h"}));
    EXPECT_EQ(split("request x --reason \"CHG-1234 rotate TLS\""),
              (Words{"request", "x", "--reason", "CHG-1234 rotate TLS"}));
    EXPECT_EQ(split("deny 3 --reason 'not now: \"later\"'"),
              (Words{"deny", "3", "--reason", "not now: \"later\""}));
    EXPECT_EQ(split(R"(a\ b "c\"d" 'e\f' "g\h" "\$x")"),
              (Words{"a b", "c\"d", "e\\f", "g\\h", "$x"}));
    EXPECT_EQ(split("x''y \"\" ''"), (Words{"xy", "", ""}));
    EXPECT_EQ(split(""), Words{});
}

// Shell syntax is plain text here: nothing is expanded, chained or redirected.
TEST(ShellWordsTest, NothingIsExpandedOrChained) {
    EXPECT_EQ(split("targets; id"), (Words{"targets;", "id"}));
    EXPECT_EQ(split("targets && id | cat > /tmp/x"),
              (Words{"targets", "&&", "id", "|", "cat", ">", "/tmp/x"}));
    EXPECT_EQ(split("$(id) `id` * ~ $HOME"), (Words{"$(id)", "`id`", "*", "~", "$HOME"}));
}

TEST(ShellWordsTest, UnterminatedQuotesAreErrors) {
    for (const char* bad : {"say 'hi", "say \"hi", "trailing\\"}) {
        EXPECT_FALSE(splitShellWords(bad)) << bad;
    }
}

}  // namespace
}  // namespace portcullis
