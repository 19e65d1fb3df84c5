#include "common/glob.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace portcullis {
namespace {

TEST(GlobMatch, Literals) {
    EXPECT_TRUE(globMatch("cosigner-1", "cosigner-1"));
    EXPECT_FALSE(globMatch("cosigner-1", "cosigner-2"));
    EXPECT_FALSE(globMatch("cosigner", "cosigner-1"));
    EXPECT_FALSE(globMatch("cosigner-1", "cosigner"));
    EXPECT_TRUE(globMatch("", ""));
    EXPECT_FALSE(globMatch("", "a"));
    EXPECT_FALSE(globMatch("a", ""));
    EXPECT_FALSE(globMatch("A", "a"));  // case-sensitive
}

TEST(GlobMatch, Star) {
    EXPECT_TRUE(globMatch("cosigner-*", "cosigner-1"));
    EXPECT_TRUE(globMatch("cosigner-*", "cosigner-"));
    EXPECT_FALSE(globMatch("cosigner-*", "cosigner"));
    EXPECT_FALSE(globMatch("cosigner-*", "db-1"));
    EXPECT_TRUE(globMatch("*", ""));
    EXPECT_TRUE(globMatch("*", "anything"));
    EXPECT_TRUE(globMatch("**", "anything"));
    EXPECT_TRUE(globMatch("*-prod", "db-prod"));
    EXPECT_FALSE(globMatch("*-prod", "db-prod-2"));
    EXPECT_TRUE(globMatch("a*b*c", "aXXbYYc"));
    EXPECT_TRUE(globMatch("a*b*c", "abc"));
    EXPECT_FALSE(globMatch("a*b*c", "aXXcYYb"));
    EXPECT_TRUE(globMatch("*a", "banana"));
    EXPECT_TRUE(globMatch("*an*a", "banana"));
    EXPECT_TRUE(globMatch("ab*", "ab"));
    EXPECT_TRUE(globMatch("*/*", "a/b"));  // no special meaning for '/'
    EXPECT_TRUE(globMatch("a*", "a/b/c"));
}

TEST(GlobMatch, QuestionMark) {
    EXPECT_TRUE(globMatch("db-?", "db-1"));
    EXPECT_FALSE(globMatch("db-?", "db-"));
    EXPECT_FALSE(globMatch("db-?", "db-12"));
    EXPECT_TRUE(globMatch("??", "ab"));
    EXPECT_TRUE(globMatch("*?", "a"));
    EXPECT_FALSE(globMatch("*?", ""));
}

TEST(GlobMatch, Sets) {
    EXPECT_TRUE(globMatch("db-[123]", "db-2"));
    EXPECT_FALSE(globMatch("db-[123]", "db-4"));
    EXPECT_TRUE(globMatch("db-[0-9]", "db-7"));
    EXPECT_FALSE(globMatch("db-[0-9]", "db-a"));
    EXPECT_TRUE(globMatch("db-[a-cx-z]", "db-y"));
    EXPECT_FALSE(globMatch("db-[a-cx-z]", "db-m"));
    EXPECT_TRUE(globMatch("db-[!0-9]", "db-a"));
    EXPECT_FALSE(globMatch("db-[!0-9]", "db-5"));
    EXPECT_TRUE(globMatch("db-[^0-9]", "db-a"));
    EXPECT_FALSE(globMatch("db-[!a]", "db-"));  // a set always consumes one character
    EXPECT_TRUE(globMatch("[]]", "]"));         // ']' first is literal
    EXPECT_TRUE(globMatch("[!]]", "a"));
    EXPECT_FALSE(globMatch("[!]]", "]"));
    EXPECT_TRUE(globMatch("[a-]", "-"));  // trailing '-' is literal
    EXPECT_TRUE(globMatch("[-a]", "-"));
    EXPECT_TRUE(globMatch("*[0-9]", "cosigner-9"));
    EXPECT_TRUE(globMatch("[a-z]*[0-9]", "cosigner-9"));
    EXPECT_FALSE(globMatch("[a-z]*[0-9]", "9cosigner"));
}

TEST(GlobMatch, UnclosedBracketIsLiteral) {
    EXPECT_TRUE(globMatch("db-[1", "db-[1"));
    EXPECT_FALSE(globMatch("db-[1", "db-1"));
    EXPECT_TRUE(globMatch("[", "["));
    EXPECT_TRUE(globMatch("*[", "ab["));
}

TEST(GlobMatch, BacktracksToTheLastStar) {
    EXPECT_TRUE(globMatch("*ab*ab", "xabyabab"));
    EXPECT_TRUE(globMatch("a*?b", "aXXb"));
    EXPECT_FALSE(globMatch("a*?b", "ab"));
    EXPECT_TRUE(globMatch("*x*y*z*", "..x..y..z.."));
    EXPECT_FALSE(globMatch("*x*y*z*", "..x..z..y.."));
}

TEST(GlobMatch, PathologicalPatternIsFast) {
    const std::string name(100000, 'a');
    const auto start = std::chrono::steady_clock::now();
    EXPECT_FALSE(globMatch("a*a*a*a*a*a*a*b", name));
    EXPECT_FALSE(globMatch("*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b", name));
    EXPECT_TRUE(globMatch("a*a*a*a*a*a*a*a", name));
    EXPECT_FALSE(globMatch("*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*b", name));
    const auto elapsed = std::chrono::steady_clock::now() - start;
    EXPECT_LT(elapsed, std::chrono::seconds(1));
}

TEST(IsGlob, DetectsMetaCharacters) {
    EXPECT_FALSE(isGlob("cosigner-1"));
    EXPECT_FALSE(isGlob(""));
    EXPECT_TRUE(isGlob("cosigner-*"));
    EXPECT_TRUE(isGlob("db-?"));
    EXPECT_TRUE(isGlob("db-[12]"));
}

}  // namespace
}  // namespace portcullis
