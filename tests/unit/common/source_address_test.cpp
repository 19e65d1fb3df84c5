// Source ranges for locks (issue 13): an address or a CIDR, IPv6 counted per /64.
#include "common/source_address.hpp"

#include <gtest/gtest.h>

namespace portcullis {
namespace {

TEST(SourceRangeTest, AnAddressIsItsOwnRange) {
    const auto r = SourceRange::parse("192.0.2.7");
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(r->toString(), "192.0.2.7/32");
    EXPECT_TRUE(r->contains("192.0.2.7"));
    EXPECT_FALSE(r->contains("192.0.2.8"));
    // The gateway may see an IPv4 client as an IPv4-mapped IPv6 address.
    EXPECT_TRUE(r->contains("::ffff:192.0.2.7"));
}

TEST(SourceRangeTest, CidrHostBitsAreClearedAndMatchTheNetwork) {
    const auto r = SourceRange::parse("10.1.2.99/24");
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(r->toString(), "10.1.2.0/24");
    EXPECT_TRUE(r->contains("10.1.2.1"));
    EXPECT_TRUE(r->contains("10.1.2.255"));
    EXPECT_FALSE(r->contains("10.1.3.1"));
    const auto all = SourceRange::parse("0.0.0.0/0");
    ASSERT_TRUE(all.ok());
    EXPECT_TRUE(all->contains("203.0.113.9"));
    EXPECT_FALSE(all->contains("2001:db8::1"));  // another family
}

TEST(SourceRangeTest, AnIpv6AddressLocksItsWholeSlash64) {
    const auto r = SourceRange::parse("2001:db8:1:2::1");
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_TRUE(r->widened());
    EXPECT_EQ(r->toString(), "2001:db8:1:2::/64");
    // Another address of the same /64 is the same source (it could rotate).
    EXPECT_TRUE(r->contains("2001:db8:1:2:ffff::9"));
    EXPECT_FALSE(r->contains("2001:db8:1:3::1"));
    const auto wide = SourceRange::parse("2001:DB8::/32");
    ASSERT_TRUE(wide.ok());
    EXPECT_FALSE(wide->widened());
    EXPECT_EQ(wide->toString(), "2001:db8::/32");
    EXPECT_TRUE(wide->contains("2001:db8:ffff::1"));
}

TEST(SourceRangeTest, MappedRangesAreIpv4) {
    const auto r = SourceRange::parse("::ffff:192.0.2.0/120");
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(r->toString(), "192.0.2.0/24");
    EXPECT_FALSE(SourceRange::parse("::ffff:192.0.2.0/80").ok());
}

TEST(SourceRangeTest, RefusesWhatIsNotAnAddressOrPrefix) {
    for (const char* bad :
         {"", "example.org", "192.0.2.7/33", "192.0.2.7/", "192.0.2.7/-1", "192.0.2.7/8x",
          "2001:db8::/129", "192.0.2", "fe80::1%eth0", "192.0.2.7 ", "/24"}) {
        EXPECT_FALSE(SourceRange::parse(bad).ok()) << bad;
    }
    const auto r = SourceRange::parse("192.0.2.0/24");
    ASSERT_TRUE(r.ok());
    EXPECT_FALSE(r->contains("not-an-address"));
    EXPECT_FALSE(r->contains(""));
}

TEST(SourceBlockTest, StillCountsIpv6PerSlash64) {
    EXPECT_EQ(sourceBlock("192.0.2.7"), "192.0.2.7");
    EXPECT_EQ(sourceBlock("2001:db8:1:2::1"), "2001:db8:1:2::/64");
}

}  // namespace
}  // namespace portcullis
