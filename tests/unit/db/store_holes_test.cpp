// Issue 12 ("close the holes"), the store's side: one SSH key per account
// (finding 9), grants revoked with the account, group or target they name
// (finding 6), no access window whose hours start where they end (finding 6),
// and a missing master.key beside a store says "restore" (finding 10).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "common/access_window.hpp"
#include "db/accounts.hpp"
#include "db/grants.hpp"
#include "db/groups.hpp"
#include "db/master_key.hpp"
#include "db/policy.hpp"
#include "db/targets.hpp"
#include "tests/unit/db/temp_store.hpp"

namespace portcullis::db {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

constexpr const char* kAliceKey =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH3+5obEi1n8tgDnljLUti+LP3wdxLHOrKyMme4eu9Hn alice@laptop";
constexpr const char* kBobKey =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHpC2PTh4NIYCEv/G5Y4TkDi2PH8RQ1w4uFoje4xOypR bob";
const TimePoint kNow{Seconds{1'800'000'000}};

SshPublicKey key(const char* line) {
    return SshPublicKey::parseLine(line).value();
}
std::string blobOf(const char* line) {
    const auto k = key(line);
    return std::string(k.blob.begin(), k.blob.end());
}

class StoreHolesTest : public ::testing::Test {
  protected:
    void SetUp() override {
        for (const char* name : {"alice", "bob"}) ASSERT_TRUE(accounts_.add(name, "", "", kNow));
    }
    test::TempStore store_;
    Database& db_ = store_.db();
    Accounts accounts_{db_};
};

TEST_F(StoreHolesTest, AKeyRegisteredToAnotherAccountIsRefusedNamingIt) {
    ASSERT_TRUE(accounts_.addKey("alice", key(kAliceKey), kNow));
    const auto refused = accounts_.addKey("bob", key(kAliceKey), kNow);
    ASSERT_FALSE(refused);
    EXPECT_THAT(refused.error(), HasSubstr("already registered to account alice"));
    EXPECT_TRUE(accounts_.listKeys("bob")->empty());
    // Control: bob's own key is fine, and alice's key still proves alice only.
    EXPECT_TRUE(accounts_.addKey("bob", key(kBobKey), kNow));
    EXPECT_TRUE(accounts_.hasKey("alice", blobOf(kAliceKey)));
    EXPECT_FALSE(accounts_.hasKey("bob", blobOf(kAliceKey)));
}

TEST_F(StoreHolesTest, AKeyAStoreFromBeforeHoldsTwiceProvesNeitherAccount) {
    ASSERT_TRUE(accounts_.addKey("alice", key(kAliceKey), kNow));
    EXPECT_TRUE(accounts_.hasKey("alice", blobOf(kAliceKey)));
    // What a store written before the check may hold.
    db_.exec(
        "INSERT INTO ssh_keys (account_id, type, blob, fingerprint, comment, created_at) "
        "SELECT (SELECT id FROM accounts WHERE name = 'bob'), type, blob, fingerprint, '', 0 "
        "FROM ssh_keys");
    EXPECT_THAT(accounts_.keyOwners(blobOf(kAliceKey)), ElementsAre("alice", "bob"));
    EXPECT_FALSE(accounts_.hasKey("alice", blobOf(kAliceKey)));
    EXPECT_FALSE(accounts_.hasKey("bob", blobOf(kAliceKey)));
    EXPECT_THAT(accounts_.listKeys("bob")->at(0).alsoRegisteredTo, ElementsAre("alice"));
    EXPECT_THAT(accounts_.listKeys("alice")->at(0).alsoRegisteredTo, ElementsAre("bob"));
    // Removing it from bob gives it back to alice.
    ASSERT_TRUE(accounts_.removeKey("bob", key(kAliceKey).fingerprint()));
    EXPECT_TRUE(accounts_.hasKey("alice", blobOf(kAliceKey)));
}

TEST_F(StoreHolesTest, GrantsNamingASubjectOrATargetAreRevoked) {
    Groups groups(db_);
    ASSERT_TRUE(groups.add("oncall", kNow));
    Grants grants(db_);
    Grant g;
    g.createdBy = "root";
    g.subject = "alice";
    g.targetPattern = "cosigner-1";
    const auto direct = grants.add(g, kNow).value();
    g.targetPattern = "cosigner-*";
    const auto glob = grants.add(g, kNow).value();
    g.subject = "@oncall";
    g.targetPattern = "cosigner-1";
    const auto viaGroup = grants.add(g, kNow).value();
    g.subject = "bob";
    const auto bobs = grants.add(g, kNow).value();

    const auto revoked = grants.revokeForSubject("alice", "ops", kNow + Seconds{1});
    ASSERT_EQ(revoked.size(), 2u);
    EXPECT_EQ(revoked[0].id, direct.id);
    EXPECT_EQ(revoked[1].id, glob.id);
    EXPECT_EQ(revoked[0].revokedBy, "ops");
    EXPECT_TRUE(grants.find(direct.id)->revokedAt);
    EXPECT_FALSE(grants.find(viaGroup.id)->revokedAt);
    EXPECT_THAT(grants.revokeForSubject("alice", "ops", kNow), IsEmpty());  // once

    // A target: only the grants naming exactly it; globs stay.
    const auto byTarget = grants.revokeForTarget("cosigner-1", "ops", kNow);
    ASSERT_EQ(byTarget.size(), 2u);
    EXPECT_EQ(byTarget[0].id, viaGroup.id);
    EXPECT_EQ(byTarget[1].id, bobs.id);
    EXPECT_THAT(grants.revokeForSubject("@oncall", "ops", kNow), IsEmpty());
}

// Revoked with its account, a grant cannot reach a new account of the same name.
TEST_F(StoreHolesTest, ANewAccountOfTheSameNameInheritsNothing) {
    Targets targets(db_);
    Target t;
    t.name = "cosigner-1";
    t.host = "10.0.0.5";
    t.port = 22;
    t.defaultLogin = "root";
    t.hostKey = key(kBobKey);
    ASSERT_TRUE(targets.add(t, kNow));
    Grant g;
    g.createdBy = "root";
    g.subject = "alice";
    g.targetPattern = "cosigner-1";
    ASSERT_TRUE(Grants(db_).add(g, kNow));
    const AccessRequest request{"alice", "", "cosigner-1", Channel::shell, kNow + Seconds{5}};
    EXPECT_TRUE(Policy(db_).decide(request).allowed);  // control

    ASSERT_TRUE(accounts_.remove("alice"));
    Grants(db_).revokeForSubject("alice", "ops", kNow + Seconds{1});
    ASSERT_TRUE(accounts_.add("alice", "another Alice", "", kNow + Seconds{2}));
    const auto d = Policy(db_).decide(request);
    EXPECT_FALSE(d.allowed);
    EXPECT_THAT(d.reasons, ElementsAre("no grant for alice on cosigner-1"));
}

TEST_F(StoreHolesTest, AWindowWhoseHoursStartWhereTheyEndIsRefused) {
    Grant g;
    g.createdBy = "root";
    g.subject = "alice";
    g.targetPattern = "cosigner-1";
    for (const char* bad : {"Mon-Fri 08:00-08:00", "00:00-00:00 UTC", "Sat 23:59-23:59"}) {
        g.window = bad;
        const auto r = Grants(db_).add(g, kNow);
        ASSERT_FALSE(r) << bad;
        EXPECT_THAT(r.error(), HasSubstr("start and end at the same time")) << bad;
        EXPECT_FALSE(checkWindowHours(AccessWindow::parse(bad).value())) << bad;
    }
    // Controls: a range, a night shift across midnight, a whole day.
    for (const char* good : {"Mon-Fri 08:00-18:00", "Fri 22:00-06:00", "00:00-24:00", "Sat,Sun"}) {
        g.window = good;
        EXPECT_TRUE(Grants(db_).add(g, kNow)) << good;
    }
}

TEST(MasterKeyMissing, BesideAStoreItSaysRestoreNotInit) {
    test::TempStore store;
    const auto r = MasterKey::load(store.dir());
    ASSERT_FALSE(r);
    EXPECT_THAT(r.error(), HasSubstr("restore master.key from your backup"));
    EXPECT_THAT(r.error(), Not(HasSubstr("portcullis init")));
    // Control: no store at all still points at init.
    test::TempStore empty(test::TempStore::Open::stateDirOnly);
    EXPECT_THAT(MasterKey::load(empty.dir()).error(), HasSubstr("portcullis init"));
}

}  // namespace
}  // namespace portcullis::db
