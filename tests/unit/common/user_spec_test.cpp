#include "common/user_spec.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace portcullis {
namespace {

TEST(ParseUserSpec, AccountOnly) {
    auto r = parseUserSpec("alice");
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(r->account, "alice");
    EXPECT_EQ(r->login, "");
    EXPECT_EQ(r->target, "");
}

TEST(ParseUserSpec, AccountAndTarget) {
    auto r = parseUserSpec("alice:cosigner-1");
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(r->account, "alice");
    EXPECT_EQ(r->login, "");
    EXPECT_EQ(r->target, "cosigner-1");
}

TEST(ParseUserSpec, AccountLoginAndTarget) {
    // `ssh alice:root@cosigner-1@gw` reaches the gateway as "alice:root@cosigner-1".
    auto r = parseUserSpec("alice:root@cosigner-1");
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(r->account, "alice");
    EXPECT_EQ(r->login, "root");
    EXPECT_EQ(r->target, "cosigner-1");
}

TEST(ParseUserSpec, NamesWithDotsUnderscoresAndDollar) {
    auto r = parseUserSpec("j.doe_2:svc-backup$@db.prod-1");
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(r->account, "j.doe_2");
    EXPECT_EQ(r->login, "svc-backup$");
    EXPECT_EQ(r->target, "db.prod-1");
}

TEST(ParseUserSpec, SplitsAtTheLastAt) {
    // The login part would then hold an '@', which is not a valid name.
    auto r = parseUserSpec("alice:a@b@host");
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().find("login"), std::string::npos) << r.error();
}

TEST(ParseUserSpec, RejectsBadSpecs) {
    for (const std::string& bad : std::vector<std::string>{"",
                                                           ":",
                                                           ":target",
                                                           "alice:",
                                                           "alice:@target",
                                                           "alice:root@",
                                                           "alice:a:b",
                                                           "alice::target",
                                                           "alice@gw",
                                                           "al ice",
                                                           "alice:root@@target",
                                                           "alice:ro$ot@t",
                                                           "alice:$@t",
                                                           "alice$",
                                                           "alice:t$",
                                                           "alice:root@t$",
                                                           "-alice",
                                                           "alice:-t",
                                                           "alice:-oProxyCommand=x@t",
                                                           "..",
                                                           "alice:..",
                                                           "alice:.@t",
                                                           "alice\n",
                                                           "älice",
                                                           "alice:root@target\r",
                                                           std::string(65, 'a'),
                                                           "alice:" + std::string(65, 't'),
                                                           "alice:" + std::string(65, 'l') + "@t",
                                                           std::string("al\0ice", 6)}) {
        EXPECT_FALSE(parseUserSpec(bad).ok()) << bad;
    }
}

TEST(ParseUserSpec, ErrorMessagesNameTheProblem) {
    auto colons = parseUserSpec("alice:a:b");
    ASSERT_FALSE(colons.ok());
    EXPECT_NE(colons.error().find("':'"), std::string::npos) << colons.error();
    EXPECT_NE(colons.error().find("ACCOUNT:LOGIN@TARGET"), std::string::npos);
    auto empty = parseUserSpec("alice:");
    ASSERT_FALSE(empty.ok());
    EXPECT_NE(empty.error().find("empty target"), std::string::npos) << empty.error();
    auto account = parseUserSpec(":x");
    EXPECT_NE(account.error().find("empty account"), std::string::npos) << account.error();
    auto login = parseUserSpec("a:@x");
    EXPECT_NE(login.error().find("empty login"), std::string::npos) << login.error();
    auto control = parseUserSpec("bad\x1b[31mname");
    ASSERT_FALSE(control.ok());
    EXPECT_EQ(control.error().find('\x1b'), std::string::npos);  // not echoed raw
}

TEST(ParseUserSpec, LengthLimits) {
    const std::string n64(64, 'a');
    auto r = parseUserSpec(n64 + ":" + n64 + "@" + n64);
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_EQ(r->login.size(), 64u);
    auto dollar = parseUserSpec("a:" + std::string(63, 'l') + "$@t");
    EXPECT_TRUE(dollar.ok());
    EXPECT_FALSE(parseUserSpec("a:" + std::string(64, 'l') + "$@t").ok());
}

TEST(IsValidName, Rules) {
    EXPECT_TRUE(isValidName("alice"));
    EXPECT_TRUE(isValidName("A-Z.a_z.0-9"));
    EXPECT_TRUE(isValidName("a"));
    EXPECT_TRUE(isValidName(std::string(64, 'x')));
    EXPECT_FALSE(isValidName(std::string(65, 'x')));
    EXPECT_FALSE(isValidName(""));
    EXPECT_FALSE(isValidName("alice$"));  // '$' only for logins
    EXPECT_FALSE(isValidName("a b"));
    EXPECT_FALSE(isValidName("a/b"));
    EXPECT_FALSE(isValidName("a@b"));
    EXPECT_FALSE(isValidName("a:b"));
    EXPECT_FALSE(isValidName("-rf"));  // would read as an option
    EXPECT_FALSE(isValidName("."));
    EXPECT_FALSE(isValidName(".."));
    EXPECT_TRUE(isValidName(".hidden"));
    EXPECT_TRUE(isValidName("a-"));
}

}  // namespace
}  // namespace portcullis
