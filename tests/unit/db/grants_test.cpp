// Grants: channel lists, validation, list filters and revocation.
#include "db/grants.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/unit/db/temp_store.hpp"

namespace portcullis::db {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

GrantFilter filter(std::optional<std::string> user, std::optional<std::string> target = {},
                   bool includeRevoked = false) {
    GrantFilter f;
    f.user = std::move(user);
    f.target = std::move(target);
    f.includeRevoked = includeRevoked;
    return f;
}

TEST(GrantChannels, ParseAndName) {
    for (auto c : {Channel::shell, Channel::exec, Channel::sftp, Channel::forward}) {
        auto parsed = parseChannel(channelName(c));
        ASSERT_TRUE(parsed.ok());
        EXPECT_EQ(*parsed, c);
    }
    EXPECT_EQ(channelName(Channel::forward), "forward");
    EXPECT_FALSE(parseChannel("ssh").ok());
    EXPECT_FALSE(parseChannel("").ok());
    EXPECT_FALSE(parseChannel("Shell").ok());
}

TEST(GrantChannels, ParseList) {
    auto two = parseChannels("shell,exec");
    ASSERT_TRUE(two.ok());
    EXPECT_EQ(*two, (std::set<Channel>{Channel::shell, Channel::exec}));
    auto spaced = parseChannels(" sftp , forward ");
    ASSERT_TRUE(spaced.ok()) << spaced.error();
    EXPECT_EQ(*spaced, (std::set<Channel>{Channel::sftp, Channel::forward}));
    auto dup = parseChannels("sftp,sftp");
    ASSERT_TRUE(dup.ok());
    EXPECT_EQ(dup->size(), 1u);

    EXPECT_FALSE(parseChannels("").ok());
    EXPECT_FALSE(parseChannels("shell,,exec").ok());
    EXPECT_FALSE(parseChannels("shell,").ok());
    auto unknown = parseChannels("shell,x11");
    ASSERT_FALSE(unknown.ok());
    EXPECT_THAT(unknown.error(), HasSubstr("x11"));
}

TEST(GrantLogins, ValidLoginNames) {
    EXPECT_TRUE(isValidLoginName("root"));
    EXPECT_TRUE(isValidLoginName("svc$"));
    EXPECT_FALSE(isValidLoginName("$"));
    EXPECT_FALSE(isValidLoginName(""));
    EXPECT_FALSE(isValidLoginName("ro ot"));
    EXPECT_FALSE(isValidLoginName("a$b"));
}

class GrantsTest : public ::testing::Test {
  protected:
    void SetUp() override {
        grants_ = std::make_unique<Grants>(db_);
        for (const char* name : {"alice", "bob", "carol"}) addAccount(name);
        addGroup("oncall", {"alice", "bob"});
        addGroup("dba", {"carol"});
    }
    void addAccount(const std::string& name) {
        db_.prepare("INSERT INTO accounts (name, created_at) VALUES (?, 0)").bind(1, name).run();
    }
    void addGroup(const std::string& name, const std::vector<std::string>& members) {
        db_.prepare("INSERT INTO groups (name, created_at) VALUES (?, 0)").bind(1, name).run();
        for (const auto& m : members) {
            db_.prepare(
                   "INSERT INTO group_members (group_id, account_id) VALUES "
                   "((SELECT id FROM groups WHERE name = ?), (SELECT id FROM accounts WHERE name = "
                   "?))")
                .bind(1, name)
                .bind(2, m)
                .run();
        }
    }

    static Grant grant(const std::string& subject, const std::string& pattern) {
        Grant g;
        g.subject = subject;
        g.targetPattern = pattern;
        g.createdBy = "root";
        g.reason = "test";
        return g;
    }

    std::int64_t addOk(const Grant& g) {
        auto r = grants_->add(g, now_);
        EXPECT_TRUE(r.ok()) << r.error();
        return r ? r->id : 0;
    }

    std::vector<std::int64_t> ids(const GrantFilter& f) {
        std::vector<std::int64_t> out;
        for (const auto& g : grants_->list(f)) out.push_back(g.id);
        return out;
    }

    const TimePoint now_ = TimePoint{Seconds{1'790'000'000}};
    test::TempStore store_;
    Database& db_ = store_.db();
    std::unique_ptr<Grants> grants_;
};

TEST_F(GrantsTest, AddWithDefaultsAndFind) {
    const auto id = addOk(grant("alice", "cosigner-1"));
    auto g = grants_->find(id);
    ASSERT_TRUE(g.ok()) << g.error();
    EXPECT_EQ(g->subject, "alice");
    EXPECT_EQ(g->targetPattern, "cosigner-1");
    EXPECT_THAT(g->logins, IsEmpty());
    EXPECT_EQ(g->channels, (std::set<Channel>{Channel::shell, Channel::exec}));
    EXPECT_EQ(g->maxSession, kDefaultMaxSession);
    EXPECT_EQ(g->idleTimeout, kDefaultIdleTimeout);
    EXPECT_FALSE(g->window);
    EXPECT_FALSE(g->expiresAt);
    EXPECT_FALSE(g->revokedAt);
    EXPECT_EQ(g->createdAt, now_);
    EXPECT_EQ(g->createdBy, "root");
    EXPECT_EQ(g->reason, "test");
}

TEST_F(GrantsTest, AddStoresEveryField) {
    auto g = grant("@oncall", "cosigner-*");
    g.logins = {"root", "deploy", "root"};
    g.channels = {Channel::sftp, Channel::forward, Channel::shell};
    g.maxSession = Seconds{8 * 3600};
    g.idleTimeout = Seconds{300};
    g.window = "Mon-Fri 08:00-18:00";
    g.expiresAt = now_ + Seconds{86400};
    auto added = grants_->add(g, now_);
    ASSERT_TRUE(added.ok()) << added.error();
    EXPECT_THAT(added->logins, ElementsAre("root", "deploy"));  // duplicates dropped
    EXPECT_EQ(added->channels, g.channels);
    EXPECT_EQ(added->maxSession, Seconds{8 * 3600});
    EXPECT_EQ(added->idleTimeout, Seconds{300});
    ASSERT_TRUE(added->window);
    EXPECT_EQ(*added->window, "Mon-Fri 08:00-18:00 UTC");  // canonical form
    EXPECT_EQ(added->expiresAt, now_ + Seconds{86400});
}

TEST_F(GrantsTest, UnknownSubjectsAreNamed) {
    auto unknownAccount = grants_->add(grant("mallory", "cosigner-1"), now_);
    ASSERT_FALSE(unknownAccount.ok());
    EXPECT_THAT(unknownAccount.error(), HasSubstr("unknown account mallory"));
    auto unknownGroup = grants_->add(grant("@nope", "cosigner-1"), now_);
    ASSERT_FALSE(unknownGroup.ok());
    EXPECT_THAT(unknownGroup.error(), HasSubstr("@nope"));
    // A group name is not an account name and vice versa.
    EXPECT_FALSE(grants_->add(grant("oncall", "x"), now_).ok());
    EXPECT_FALSE(grants_->add(grant("@alice", "x"), now_).ok());
    EXPECT_FALSE(grants_->add(grant("@", "x"), now_).ok());
    EXPECT_FALSE(grants_->add(grant("", "x"), now_).ok());
    EXPECT_THAT(grants_->list(filter({}, {}, true)), IsEmpty());
}

TEST_F(GrantsTest, PatternsAreValidated) {
    for (const char* ok : {"cosigner-1", "cosigner-*", "db-[0-9]", "[!a]*", "host?.lan", "*"}) {
        EXPECT_TRUE(grants_->add(grant("alice", ok), now_).ok()) << ok;
    }
    for (const char* bad : {"", "a b", "x;y", "a/b", "$(id)"}) {
        auto r = grants_->add(grant("alice", bad), now_);
        EXPECT_FALSE(r.ok()) << bad;
    }
}

TEST_F(GrantsTest, LoginsChannelsAndLimitsAreValidated) {
    auto badLogin = grant("alice", "x");
    badLogin.logins = {"root", "ro ot"};
    EXPECT_THAT(grants_->add(badLogin, now_).error(), HasSubstr("ro ot"));
    auto emptyLogin = grant("alice", "x");
    emptyLogin.logins = {""};
    EXPECT_FALSE(grants_->add(emptyLogin, now_).ok());
    auto dollar = grant("alice", "x");
    dollar.logins = {"svc$"};
    EXPECT_TRUE(grants_->add(dollar, now_).ok());

    auto noChannels = grant("alice", "x");
    noChannels.channels.clear();
    EXPECT_FALSE(grants_->add(noChannels, now_).ok());

    for (auto bad : {Seconds{0}, Seconds{-5}}) {
        auto g = grant("alice", "x");
        g.maxSession = bad;
        EXPECT_THAT(grants_->add(g, now_).error(), HasSubstr("max-session"));
        g = grant("alice", "x");
        g.idleTimeout = bad;
        EXPECT_THAT(grants_->add(g, now_).error(), HasSubstr("idle-timeout"));
    }
}

TEST_F(GrantsTest, WindowIsValidated) {
    auto g = grant("alice", "x");
    g.window = "Someday 25:00-26:00";
    auto r = grants_->add(g, now_);
    ASSERT_FALSE(r.ok());
    EXPECT_THAT(r.error(), HasSubstr("window"));
    g.window = "Sat,Sun 10:00-12:00 Europe/Paris";
    r = grants_->add(g, now_);
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_THAT(*r->window, HasSubstr("Europe/Paris"));
}

TEST_F(GrantsTest, ExpiryMustBeInTheFuture) {
    auto g = grant("alice", "x");
    g.expiresAt = now_;
    EXPECT_THAT(grants_->add(g, now_).error(), HasSubstr("not in the future"));
    g.expiresAt = now_ - Seconds{1};
    EXPECT_FALSE(grants_->add(g, now_).ok());
    g.expiresAt = now_ + Seconds{1};
    EXPECT_TRUE(grants_->add(g, now_).ok());
}

TEST_F(GrantsTest, ListByUserIncludesTheUsersGroups) {
    const auto a = addOk(grant("alice", "cosigner-1"));
    const auto oncall = addOk(grant("@oncall", "cosigner-*"));
    const auto b = addOk(grant("bob", "db-1"));
    const auto dba = addOk(grant("@dba", "db-*"));

    EXPECT_EQ(ids({}), (std::vector<std::int64_t>{a, oncall, b, dba}));
    EXPECT_EQ(ids(filter("alice")), (std::vector<std::int64_t>{a, oncall}));
    EXPECT_EQ(ids(filter("bob")), (std::vector<std::int64_t>{oncall, b}));
    EXPECT_EQ(ids(filter("carol")), (std::vector<std::int64_t>{dba}));
    EXPECT_THAT(ids(filter("nobody")), IsEmpty());
}

TEST_F(GrantsTest, ListByTargetMatchesPatterns) {
    const auto exact = addOk(grant("alice", "cosigner-1"));
    const auto glob = addOk(grant("@oncall", "cosigner-*"));
    const auto set = addOk(grant("carol", "db-[0-9]"));
    const auto all = addOk(grant("bob", "*"));

    EXPECT_EQ(ids(filter({}, "cosigner-1")), (std::vector<std::int64_t>{exact, glob, all}));
    EXPECT_EQ(ids(filter({}, "cosigner-2")), (std::vector<std::int64_t>{glob, all}));
    EXPECT_EQ(ids(filter({}, "db-7")), (std::vector<std::int64_t>{set, all}));
    EXPECT_EQ(ids(filter({}, "db-10")), (std::vector<std::int64_t>{all}));
    EXPECT_EQ(ids(filter("alice", "cosigner-2")), (std::vector<std::int64_t>{glob}));
}

TEST_F(GrantsTest, Revoke) {
    const auto id = addOk(grant("alice", "cosigner-1"));
    const auto later = now_ + Seconds{60};
    auto revoked = grants_->revoke(id, "root", later);
    ASSERT_TRUE(revoked.ok()) << revoked.error();
    EXPECT_EQ(revoked->revokedAt, later);
    EXPECT_EQ(revoked->revokedBy, "root");

    EXPECT_THAT(ids({}), IsEmpty());
    EXPECT_EQ(ids(filter({}, {}, true)), (std::vector<std::int64_t>{id}));
    EXPECT_TRUE(grants_->find(id).ok());  // still there for the record

    auto again = grants_->revoke(id, "admin", later);
    ASSERT_FALSE(again.ok());
    EXPECT_THAT(again.error(), HasSubstr("already revoked"));
    EXPECT_EQ(grants_->find(id)->revokedBy, "root");

    auto unknown = grants_->revoke(999, "root", later);
    ASSERT_FALSE(unknown.ok());
    EXPECT_THAT(unknown.error(), HasSubstr("#999"));
}

TEST_F(GrantsTest, FindUnknown) {
    auto r = grants_->find(42);
    ASSERT_FALSE(r.ok());
    EXPECT_THAT(r.error(), HasSubstr("no grant #42"));
}

}  // namespace
}  // namespace portcullis::db
