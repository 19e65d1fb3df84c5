#include "gateway/admission.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

namespace portcullis::gateway {
namespace {

TEST(SourceBlockTest, Ipv4AddressIsItsOwnSource) {
    EXPECT_EQ(sourceBlock("192.0.2.7"), "192.0.2.7");
    EXPECT_EQ(sourceBlock("127.0.0.1"), "127.0.0.1");
}

TEST(SourceBlockTest, Ipv4MappedAddressCountsAsItsIpv4Address) {
    EXPECT_EQ(sourceBlock("::ffff:192.0.2.7"), "192.0.2.7");
}

TEST(SourceBlockTest, Ipv6AddressesOfOneSlash64AreOneSource) {
    EXPECT_EQ(sourceBlock("2001:db8:1:2::1"), "2001:db8:1:2::/64");
    EXPECT_EQ(sourceBlock("2001:db8:1:2:ffff:ffff:ffff:fffe"), "2001:db8:1:2::/64");
    EXPECT_EQ(sourceBlock("2001:DB8:1:2:a:b:c:d"), "2001:db8:1:2::/64");
    EXPECT_NE(sourceBlock("2001:db8:1:3::1"), sourceBlock("2001:db8:1:2::1"));
    EXPECT_EQ(sourceBlock("::1"), "::/64");
}

TEST(SourceBlockTest, TextThatIsNotAnAddressIsKeptAsItIs) {
    EXPECT_EQ(sourceBlock(""), "");
    EXPECT_EQ(sourceBlock("not-an-address"), "not-an-address");
    EXPECT_EQ(sourceBlock("2001:db8::1%eth0"), "2001:db8::1%eth0");
}

TEST(AdmissionTest, CapsPerSourceAndOverAll) {
    auto admission = std::make_shared<Admission>(3, 2);
    std::vector<Admission::Ticket> held;
    held.push_back(admission->enter("a"));
    held.push_back(admission->enter("a"));
    EXPECT_FALSE(admission->enter("a")) << "a third slot for one source";
    held.push_back(admission->enter("b"));
    EXPECT_TRUE(held.back());
    EXPECT_FALSE(admission->enter("c")) << "past the overall cap";
    held.front().release();
    EXPECT_TRUE(admission->enter("a")) << "a released slot is free again";
}

TEST(AdmissionTest, BusiestSourceMakesRoomOnlyForAnotherSource) {
    auto admission = std::make_shared<Admission>(3, 3);
    std::vector<Admission::Ticket> held;
    held.push_back(admission->enter("flood"));
    held.push_back(admission->enter("flood"));
    held.push_back(admission->enter("user"));
    ASSERT_FALSE(admission->enter("newcomer"));
    EXPECT_EQ(admission->busiestSourceAbove("newcomer"), "flood");
    // The flood cannot evict its own connections, nor one source with as many.
    EXPECT_EQ(admission->busiestSourceAbove("flood"), std::nullopt);
    EXPECT_EQ(admission->busiestSourceAbove("user"), std::nullopt);
    auto extra = admission->enterInPlaceOf("newcomer");
    EXPECT_TRUE(extra);
    held.erase(held.begin());  // the evicted connection goes
    extra.release();
    EXPECT_TRUE(admission->enter("other"));
}

TEST(AdmissionTest, NoEvictionBelowTheOverallCap) {
    auto admission = std::make_shared<Admission>(10, 2);
    auto a = admission->enter("flood");
    auto b = admission->enter("flood");
    EXPECT_FALSE(admission->enter("flood"));
    EXPECT_EQ(admission->busiestSourceAbove("flood"), std::nullopt);
    EXPECT_EQ(admission->busiestSourceAbove("user"), std::nullopt);
}

}  // namespace
}  // namespace portcullis::gateway
