// What an account may reach now and later (the gateway's `targets`, issue 13).
#include "db/access_list.hpp"

#include <gtest/gtest.h>

#include "db/accounts.hpp"
#include "db/groups.hpp"
#include "db/targets.hpp"
#include "tests/unit/db/temp_store.hpp"

namespace portcullis::db {
namespace {

constexpr const char* kHostKey =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKGW642Ikkm7zbDcShfVVUP7iOZcHclzqor67VviN5B7 test";

class AccessListTest : public ::testing::Test {
  protected:
    void SetUp() override {
        ASSERT_TRUE(Accounts(db_).add("alice", "", "", now_));
        ASSERT_TRUE(Accounts(db_).add("bob", "", "", now_));
        ASSERT_TRUE(Groups(db_).add("oncall", now_));
        ASSERT_TRUE(Groups(db_).addMember("oncall", "alice"));
        for (const char* name : {"cosigner-1", "cosigner-2", "db-1"}) {
            Target t;
            t.name = name;
            t.host = "10.0.0.1";
            t.defaultLogin = "deploy";
            t.hostKey = SshPublicKey::parseLine(kHostKey).value();
            ASSERT_TRUE(Targets(db_).add(t, now_));
        }
    }
    std::int64_t grant(const std::string& subject, const std::string& pattern,
                       std::optional<std::string> window = std::nullopt,
                       std::optional<TimePoint> expires = std::nullopt) {
        Grant g;
        g.subject = subject;
        g.targetPattern = pattern;
        g.window = std::move(window);
        g.expiresAt = expires;
        g.createdBy = "root";
        auto r = Grants(db_).add(g, now_);
        EXPECT_TRUE(r) << r.error();
        return r ? r->id : 0;
    }
    const TimePoint now_ = *parseIso8601("2026-11-25T10:00:00Z");  // a Wednesday
    test::TempStore store_;
    Database& db_ = store_.db();
};

TEST_F(AccessListTest, ListsDirectAndGroupGrantsWithWhenTheyCanBeUsed) {
    const auto direct = grant("alice", "db-1");
    const auto group = grant("@oncall", "cosigner-*", "Mon-Fri 18:00-20:00 UTC");
    grant("bob", "cosigner-1");
    const auto expired = grant("alice", "cosigner-2", std::nullopt, now_ + Seconds(60));

    auto entries = accessOf(db_, "alice", now_ + Seconds(120));
    ASSERT_EQ(entries.size(), 3u);  // the expired grant is gone, bob's is not hers
    EXPECT_EQ(entries[0].target, "cosigner-1");
    EXPECT_EQ(entries[0].grantId, group);
    EXPECT_FALSE(entries[0].usableNow);
    ASSERT_TRUE(entries[0].nextChange);
    EXPECT_EQ(formatIso8601(*entries[0].nextChange), "2026-11-25T18:00:00Z");  // opens
    EXPECT_EQ(entries[1].target, "cosigner-2");
    EXPECT_EQ(entries[2].target, "db-1");
    EXPECT_EQ(entries[2].grantId, direct);
    EXPECT_TRUE(entries[2].usableNow);
    EXPECT_EQ(entries[2].logins, std::vector<std::string>{"deploy"});
    EXPECT_FALSE(entries[2].nextChange);
    // Before the expired grant expires it is listed, with its expiry.
    entries = accessOf(db_, "alice", now_);
    ASSERT_EQ(entries.size(), 4u);
    EXPECT_EQ(entries[2].grantId, expired);
    EXPECT_TRUE(entries[2].expiresAt);
    // A disabled account may reach nothing.
    ASSERT_TRUE(Accounts(db_).setEnabled("alice", false));
    EXPECT_TRUE(accessOf(db_, "alice", now_).empty());
}

}  // namespace
}  // namespace portcullis::db
