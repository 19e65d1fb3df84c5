// Forward destinations a grant allows (issue 13, SPEC §16 --forward-to).
#include "common/forward_pattern.hpp"

#include <gtest/gtest.h>

namespace portcullis {
namespace {

ForwardPattern pattern(const char* text) {
    auto p = ForwardPattern::parse(text);
    EXPECT_TRUE(p.ok()) << text << ": " << p.error();
    return p.ok() ? *p : ForwardPattern::parse("nothing.invalid:1").value();
}

TEST(ForwardPatternTest, ExactHostAndPort) {
    const auto p = pattern("DB.internal:5432");
    EXPECT_EQ(p.toString(), "db.internal:5432");
    EXPECT_TRUE(p.matches("db.internal", 5432));
    EXPECT_TRUE(p.matches("DB.INTERNAL", 5432));  // names ignore case
    EXPECT_FALSE(p.matches("db.internal", 5433));
    EXPECT_FALSE(p.matches("db.internal.evil.example", 5432));
    EXPECT_FALSE(p.matches("db.internal.", 5432));  // not rewritten: refused
}

TEST(ForwardPatternTest, HostGlobsAndAnyPort) {
    const auto p = pattern("*.db.internal:*");
    EXPECT_TRUE(p.matches("a.db.internal", 1));
    EXPECT_TRUE(p.matches("b.c.db.internal", 65535));
    EXPECT_FALSE(p.matches("db.internal", 22));
    EXPECT_FALSE(p.matches("a.db.internal.example", 22));
    const auto any = pattern("*:22");
    EXPECT_TRUE(any.matches("anything.example", 22));
    EXPECT_TRUE(any.matches("10.0.0.1", 22));
    EXPECT_TRUE(any.matches("2001:db8::1", 22));
    EXPECT_FALSE(any.matches("anything.example", 23));
}

TEST(ForwardPatternTest, AnAddressPatternNeverAdmitsAName) {
    const auto p = pattern("10.1.*:22");
    EXPECT_TRUE(p.matches("10.1.2.3", 22));
    // A DNS name that starts like the subnet resolves wherever its owner says.
    EXPECT_FALSE(p.matches("10.1.attacker.example", 22));
    EXPECT_FALSE(p.matches("10.1.2", 22));  // not a dotted quad: a name to the resolver
    const auto exact = pattern("127.0.0.1:80");
    EXPECT_TRUE(exact.matches("127.0.0.1", 80));
    EXPECT_FALSE(exact.matches("127.1", 80));
}

TEST(ForwardPatternTest, Ipv6InBracketsMatchesCanonicalAddresses) {
    const auto p = pattern("[2001:DB8:0::10]:443");
    EXPECT_EQ(p.toString(), "[2001:db8::10]:443");
    EXPECT_TRUE(p.matches("2001:db8::10", 443));
    EXPECT_TRUE(p.matches("2001:0db8:0000::0010", 443));
    EXPECT_FALSE(p.matches("2001:db8::11", 443));
    EXPECT_FALSE(p.matches("db.internal", 443));
    const auto glob = pattern("[2001:db8::*]:*");
    EXPECT_TRUE(glob.matches("2001:db8::5", 1));
}

TEST(ForwardPatternTest, RefusesMalformedPatterns) {
    for (const char* bad :
         {"", "db.internal", "db.internal:", ":22", "db.internal:0", "db.internal:65536",
          "db.internal:22x", "2001:db8::1:22", "[2001:db8::zz]:22", "db internal:22", "db/x:22",
          "-bad-.x:22", "[]:22"}) {
        EXPECT_FALSE(ForwardPattern::parse(bad).ok()) << bad;
    }
}

TEST(ForwardPatternTest, ListsAndTheAllowCheck) {
    const auto list = parseForwardPatterns("db.internal:5432, *.cache.internal:6379");
    ASSERT_TRUE(list.ok()) << list.error();
    EXPECT_EQ(list->size(), 2u);
    EXPECT_FALSE(parseForwardPatterns("a:1,,b:2").ok());
    EXPECT_FALSE(parseForwardPatterns("").ok());
    const std::vector<std::string> stored{"db.internal:5432", "*.cache.internal:6379"};
    EXPECT_TRUE(forwardAllowed(stored, "x.cache.internal", 6379));
    EXPECT_FALSE(forwardAllowed(stored, "x.cache.internal", 5432));
    EXPECT_FALSE(forwardAllowed({"garbled"}, "garbled", 1));
}

TEST(ForwardDestinationTest, ParsesHostPort) {
    const auto d = parseForwardDestination("db.internal:5432");
    ASSERT_TRUE(d.ok()) << d.error();
    EXPECT_EQ(d->host, "db.internal");
    EXPECT_EQ(d->port, 5432);
    const auto v6 = parseForwardDestination("[::1]:22");
    ASSERT_TRUE(v6.ok()) << v6.error();
    EXPECT_EQ(v6->host, "::1");
    EXPECT_EQ(v6->toString(), "[::1]:22");
    for (const char* bad : {"db.internal", "db.internal:0", "::1:22", "a b:1", "*.x:1"})
        EXPECT_FALSE(parseForwardDestination(bad).ok()) << bad;
}

}  // namespace
}  // namespace portcullis
