// Issue 12 finding 6: a direct-tcpip destination that is too long or not a
// valid host name is refused, never truncated (the gateway used to cut it to
// 64 characters and replace control characters, reaching another host).
#include "common/host_name.hpp"

#include <gtest/gtest.h>

#include <string>

namespace portcullis {
namespace {

TEST(HostNameTest, AcceptsNamesAndAddresses) {
    for (const char* host :
         {"localhost", "cosigner-1", "db.internal.example.com", "a", "x_y.lan", "example.com.",
          "127.0.0.1", "10.0.0.5", "::1", "fe80::1", "2001:db8::42"}) {
        EXPECT_TRUE(isValidHostName(host)) << host;
    }
    // Longest legal forms: a 63-character label, a 253-character name.
    const std::string label(63, 'a');
    EXPECT_TRUE(isValidHostName(label + ".example"));
    std::string name;
    while (name.size() + 64 <= 253) name += label + ".";
    name += std::string(253 - name.size(), 'b');
    ASSERT_EQ(name.size(), 253u);
    EXPECT_TRUE(isValidHostName(name));
}

TEST(HostNameTest, RefusesWhatIsNotAHostWhole) {
    const std::string longLabel(64, 'a');
    std::string tooLong(254, 'a');
    for (std::size_t i = 60; i < tooLong.size(); i += 61) tooLong[i] = '.';
    for (const std::string& host :
         {std::string(), std::string("."), std::string(".."), std::string("a..b"),
          std::string("-a"), std::string("a-"), std::string("a b"), std::string("a\nb"),
          std::string("a\x01"), std::string("a/b"), std::string("a:b@c"), std::string("[::1]"),
          std::string("a\0b", 3), longLabel + ".example", tooLong, std::string("caf\xc3\xa9")}) {
        EXPECT_FALSE(isValidHostName(host)) << host;
    }
}

}  // namespace
}  // namespace portcullis
