#include "db/groups.hpp"

#include <gtest/gtest.h>

#include <optional>

#include "db/accounts.hpp"
#include "tests/unit/db/temp_store.hpp"

namespace portcullis::db {
namespace {

const TimePoint kNow{Seconds{1'800'000'000}};

class GroupsTest : public ::testing::Test {
  protected:
    void SetUp() override {
        groups_.emplace(db_);
        Accounts accounts(db_);
        ASSERT_TRUE(accounts.add("alice", "", "", kNow));
        ASSERT_TRUE(accounts.add("bob", "", "", kNow));
        ASSERT_TRUE(accounts.add("carol", "", "", kNow));
    }

    test::TempStore store_;
    Database& db_ = store_.db();
    std::optional<Groups> groups_;
};

using Names = std::vector<std::string>;

TEST_F(GroupsTest, AddAndList) {
    auto oncall = groups_->add("oncall", kNow);
    ASSERT_TRUE(oncall) << oncall.error();
    EXPECT_GT(oncall->id, 0);
    EXPECT_EQ(oncall->name, "oncall");
    EXPECT_TRUE(oncall->members.empty());
    ASSERT_TRUE(groups_->add("admins", kNow));
    const auto all = groups_->list();
    ASSERT_EQ(all.size(), 2u);
    EXPECT_EQ(all[0].name, "admins");
    EXPECT_EQ(all[1].name, "oncall");
    EXPECT_TRUE(all[0].members.empty());
}

TEST_F(GroupsTest, DuplicateAndInvalidNamesAreRefused) {
    ASSERT_TRUE(groups_->add("oncall", kNow));
    auto dup = groups_->add("oncall", kNow);
    ASSERT_FALSE(dup);
    EXPECT_EQ(dup.error(), "group oncall already exists");
    EXPECT_FALSE(groups_->add("OnCall", kNow));
    const Names invalid = {"", "@oncall", "on call", "a,b", "x*", std::string(65, 'g')};
    for (const auto& name : invalid) {
        EXPECT_FALSE(groups_->add(name, kNow)) << "'" << name << "'";
    }
    EXPECT_EQ(groups_->list().size(), 1u);
}

TEST_F(GroupsTest, Members) {
    ASSERT_TRUE(groups_->add("oncall", kNow));
    ASSERT_TRUE(groups_->add("admins", kNow));
    ASSERT_TRUE(groups_->addMember("oncall", "carol"));
    ASSERT_TRUE(groups_->addMember("oncall", "alice"));
    ASSERT_TRUE(groups_->addMember("admins", "alice"));

    auto dup = groups_->addMember("oncall", "alice");
    ASSERT_FALSE(dup);
    EXPECT_NE(dup.error().find("already a member"), std::string::npos) << dup.error();

    const auto all = groups_->list();
    ASSERT_EQ(all.size(), 2u);
    EXPECT_EQ(all[0].members, (Names{"alice"}));
    EXPECT_EQ(all[1].members, (Names{"alice", "carol"}));
    EXPECT_EQ(groups_->groupsOf("alice"), (Names{"admins", "oncall"}));
    EXPECT_EQ(groups_->groupsOf("bob"), Names{});
    EXPECT_EQ(groups_->groupsOf("nobody"), Names{});
    EXPECT_TRUE(groups_->isMember("oncall", "carol"));
    EXPECT_FALSE(groups_->isMember("admins", "carol"));
    EXPECT_FALSE(groups_->isMember("nogroup", "alice"));
    EXPECT_FALSE(groups_->isMember("oncall", "nobody"));

    ASSERT_TRUE(groups_->removeMember("oncall", "alice"));
    EXPECT_FALSE(groups_->isMember("oncall", "alice"));
    auto notMember = groups_->removeMember("oncall", "alice");
    ASSERT_FALSE(notMember);
    EXPECT_NE(notMember.error().find("not a member"), std::string::npos) << notMember.error();
}

TEST_F(GroupsTest, UnknownGroupOrAccount) {
    ASSERT_TRUE(groups_->add("oncall", kNow));
    auto noGroup = groups_->addMember("nogroup", "alice");
    ASSERT_FALSE(noGroup);
    EXPECT_EQ(noGroup.error(), "no group named nogroup (see `portcullis group list`)");
    auto noAccount = groups_->addMember("oncall", "bobby");
    ASSERT_FALSE(noAccount);
    EXPECT_EQ(noAccount.error(), "no account named bobby (see `portcullis user list`)");
    EXPECT_EQ(groups_->removeMember("nogroup", "alice").error(),
              "no group named nogroup (see `portcullis group list`)");
    EXPECT_EQ(groups_->removeMember("oncall", "bobby").error(),
              "no account named bobby (see `portcullis user list`)");
    EXPECT_EQ(groups_->remove("nogroup").error(),
              "no group named nogroup (see `portcullis group list`)");
}

TEST_F(GroupsTest, RemovingAGroupOrAnAccountRemovesMemberships) {
    ASSERT_TRUE(groups_->add("oncall", kNow));
    ASSERT_TRUE(groups_->add("admins", kNow));
    ASSERT_TRUE(groups_->addMember("oncall", "alice"));
    ASSERT_TRUE(groups_->addMember("oncall", "bob"));
    ASSERT_TRUE(groups_->addMember("admins", "bob"));
    ASSERT_TRUE(groups_->remove("admins"));
    EXPECT_EQ(groups_->groupsOf("bob"), (Names{"oncall"}));
    Accounts accounts(db_);
    ASSERT_TRUE(accounts.remove("bob"));
    EXPECT_EQ(groups_->list().at(0).members, (Names{"alice"}));
    auto count = db_.prepare("SELECT count(*) FROM group_members");
    ASSERT_TRUE(count.step());
    EXPECT_EQ(count.int64(0), 1);
}

}  // namespace
}  // namespace portcullis::db
