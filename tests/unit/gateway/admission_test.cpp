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

TEST(AdmissionTest, HoldersAreReportedOnlyWhenTheOverallCapRefused) {
    auto admission = std::make_shared<Admission>(3, 2);
    std::vector<Admission::Ticket> held;
    held.push_back(admission->enter("flood"));
    held.push_back(admission->enter("flood"));
    EXPECT_EQ(admission->holdersIfOnlyFull("user"), std::nullopt) << "not full yet";
    held.push_back(admission->enter("user"));
    ASSERT_FALSE(admission->enter("newcomer"));
    const auto holders = admission->holdersIfOnlyFull("newcomer");
    ASSERT_TRUE(holders);
    EXPECT_EQ(*holders, (std::map<std::string, int>{{"flood", 2}, {"user", 1}}));
    // Refused by its own source's cap: nobody makes room for it.
    EXPECT_EQ(admission->holdersIfOnlyFull("flood"), std::nullopt);
    // A slot given in place of an evicted one; the evicted one's goes when it closes.
    auto extra = admission->enterInPlaceOf("newcomer");
    EXPECT_TRUE(extra);
    EXPECT_EQ(extra.source(), "newcomer");
    held.erase(held.begin());
    extra.release();
    EXPECT_TRUE(admission->enter("other"));
}

using Held = std::map<std::string, int>;

TEST(EvictionTest, ANewSourcePushesOutAStalledConnectionOfABusierSource) {
    // A flood spread one connection per address: a user from a new address still gets in.
    const std::vector<EvictionCandidate> candidates{
        {"10.0.0.1", false, 1}, {"10.0.0.2", false, 2}, {"10.0.0.3", false, 3}};
    const Held held{{"10.0.0.1", 1}, {"10.0.0.2", 1}, {"10.0.0.3", 1}};
    EXPECT_EQ(chooseEvictionVictim(candidates, held, "192.0.2.9"), 0u) << "the oldest";
    // A source cannot push out its equals (nor itself).
    EXPECT_EQ(chooseEvictionVictim(candidates, held, "10.0.0.2"), std::nullopt);
}

TEST(EvictionTest, AConnectionPastKeyExchangeGoesLast) {
    // The user's connection (id 1, oldest, key exchange done) stays; the flood's
    // stalled one goes, even from a source holding fewer slots.
    const std::vector<EvictionCandidate> candidates{
        {"192.0.2.9", true, 1}, {"10.0.0.1", false, 5}, {"10.0.0.2", true, 2}};
    const Held held{{"192.0.2.9", 3}, {"10.0.0.1", 2}, {"10.0.0.2", 2}};
    EXPECT_EQ(chooseEvictionVictim(candidates, held, "198.51.100.1"), 1u);
    // With nothing stalled, the busiest source's oldest goes.
    const std::vector<EvictionCandidate> pastKex{{"10.0.0.2", true, 2}, {"192.0.2.9", true, 7}};
    EXPECT_EQ(chooseEvictionVictim(pastKex, held, "198.51.100.1"), 1u);
}

TEST(EvictionTest, AmongStalledConnectionsTheBusiestSourceGoesFirst) {
    const std::vector<EvictionCandidate> candidates{
        {"10.0.0.1", false, 1}, {"10.0.0.2", false, 9}, {"10.0.0.2", false, 4}};
    const Held held{{"10.0.0.1", 1}, {"10.0.0.2", 2}};
    EXPECT_EQ(chooseEvictionVictim(candidates, held, "192.0.2.9"), 2u);
    EXPECT_EQ(chooseEvictionVictim({}, held, "192.0.2.9"), std::nullopt);
}

}  // namespace
}  // namespace portcullis::gateway
