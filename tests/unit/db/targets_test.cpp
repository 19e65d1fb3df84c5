// Targets: validation, pinned host keys, duplicates and unknown names.
#include "db/targets.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/unit/db/temp_store.hpp"

namespace portcullis::db {
namespace {

using ::testing::HasSubstr;

constexpr const char* kKeyLine =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKGW642Ikkm7zbDcShfVVUP7iOZcHclzqor67VviN5B7 test";
constexpr const char* kOtherKeyLine =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINImcc7iPKV/jeqS4o16ckGu4Gokiy4zv/gpkD+0Zk6e t2";

class TargetsTest : public ::testing::Test {
  protected:
    void SetUp() override { targets_ = std::make_unique<Targets>(db_); }

    static Target target(const std::string& name, const char* keyLine = kKeyLine) {
        Target t;
        t.name = name;
        t.host = "10.1.2.3";
        t.port = 22;
        t.defaultLogin = "deploy";
        auto key = SshPublicKey::parseLine(keyLine);
        EXPECT_TRUE(key.ok()) << key.error();
        if (key) t.hostKey = key.value();
        return t;
    }

    const TimePoint now_ = TimePoint{Seconds{1'790'000'000}};
    test::TempStore store_;
    Database& db_ = store_.db();
    std::unique_ptr<Targets> targets_;
};

TEST_F(TargetsTest, AddAndFind) {
    auto t = target("cosigner-1");
    t.host = "cosigner-1.internal";
    t.port = 2022;
    auto added = targets_->add(t, now_);
    ASSERT_TRUE(added.ok()) << added.error();
    EXPECT_GT(added->id, 0);
    EXPECT_EQ(added->createdAt, now_);

    auto found = targets_->find("cosigner-1");
    ASSERT_TRUE(found.ok()) << found.error();
    EXPECT_EQ(found->name, "cosigner-1");
    EXPECT_EQ(found->host, "cosigner-1.internal");
    EXPECT_EQ(found->port, 2022);
    EXPECT_EQ(found->defaultLogin, "deploy");
    EXPECT_EQ(found->hostKey.toLine(), t.hostKey.toLine());
    EXPECT_EQ(found->hostKey.blob, t.hostKey.blob);
    EXPECT_EQ(found->hostKey.fingerprint(), t.hostKey.fingerprint());
}

TEST_F(TargetsTest, HostKeyIsStoredAsItsLineWithoutComment) {
    ASSERT_TRUE(targets_->add(target("db-1"), now_).ok());
    auto st = db_.prepare("SELECT host_key FROM targets WHERE name = 'db-1'");
    ASSERT_TRUE(st.step());
    EXPECT_EQ(st.text(0), target("db-1").hostKey.toLine());
    EXPECT_THAT(st.text(0), ::testing::Not(HasSubstr("test")));
}

TEST_F(TargetsTest, DuplicateNameIsRefusedWithWhatToDo) {
    ASSERT_TRUE(targets_->add(target("cosigner-1"), now_).ok());
    auto again = targets_->add(target("cosigner-1", kOtherKeyLine), now_);
    ASSERT_FALSE(again.ok());
    EXPECT_THAT(again.error(), HasSubstr("already exists"));
    EXPECT_THAT(again.error(), HasSubstr("remove"));
    // The first pin is untouched.
    EXPECT_EQ(targets_->find("cosigner-1")->hostKey.toLine(), target("x").hostKey.toLine());
}

TEST_F(TargetsTest, InvalidFieldsAreRefused) {
    auto badName = target("bad name");
    EXPECT_THAT(targets_->add(badName, now_).error(), HasSubstr("invalid target name"));
    auto emptyName = target("");
    EXPECT_FALSE(targets_->add(emptyName, now_).ok());

    auto noHost = target("a");
    noHost.host = "";
    EXPECT_THAT(targets_->add(noHost, now_).error(), HasSubstr("--host"));
    auto spacedHost = target("a");
    spacedHost.host = "host name";
    EXPECT_THAT(targets_->add(spacedHost, now_).error(), HasSubstr("invalid host"));

    for (int port : {0, -1, 65536}) {
        auto t = target("a");
        t.port = port;
        EXPECT_THAT(targets_->add(t, now_).error(), HasSubstr("port")) << port;
    }
    for (int port : {1, 65535}) {
        auto t = target("p" + std::to_string(port));
        t.port = port;
        EXPECT_TRUE(targets_->add(t, now_).ok()) << port;
    }

    auto badLogin = target("a");
    badLogin.defaultLogin = "ro ot";
    EXPECT_THAT(targets_->add(badLogin, now_).error(), HasSubstr("login"));
    auto emptyLogin = target("a");
    emptyLogin.defaultLogin = "";
    EXPECT_THAT(targets_->add(emptyLogin, now_).error(), HasSubstr("login"));

    auto noKey = target("a");
    noKey.hostKey = SshPublicKey{};
    EXPECT_THAT(targets_->add(noKey, now_).error(), HasSubstr("host key"));
    auto brokenKey = target("a");
    brokenKey.hostKey.blob.resize(5);
    EXPECT_THAT(targets_->add(brokenKey, now_).error(), HasSubstr("host key"));

    EXPECT_TRUE(targets_->list().size() == 2u);  // only p1 and p65535
}

TEST_F(TargetsTest, LoginMayEndInDollar) {
    auto t = target("win-1");
    t.defaultLogin = "svc$";
    EXPECT_TRUE(targets_->add(t, now_).ok());
}

TEST_F(TargetsTest, UnknownNamesSayWhatToDo) {
    auto found = targets_->find("db-9");
    ASSERT_FALSE(found.ok());
    EXPECT_THAT(found.error(), HasSubstr("unknown target db-9"));
    EXPECT_THAT(found.error(), HasSubstr("target list"));
    auto removed = targets_->remove("db-9");
    ASSERT_FALSE(removed.ok());
    EXPECT_THAT(removed.error(), HasSubstr("unknown target db-9"));
}

TEST_F(TargetsTest, ListIsSortedByName) {
    for (const char* name : {"zeta", "alpha", "cosigner-2", "cosigner-1"}) {
        ASSERT_TRUE(targets_->add(target(name), now_).ok());
    }
    std::vector<std::string> names;
    for (const auto& t : targets_->list()) names.push_back(t.name);
    EXPECT_EQ(names, (std::vector<std::string>{"alpha", "cosigner-1", "cosigner-2", "zeta"}));
}

TEST_F(TargetsTest, Remove) {
    ASSERT_TRUE(targets_->add(target("cosigner-1"), now_).ok());
    ASSERT_TRUE(targets_->add(target("cosigner-2"), now_).ok());
    ASSERT_TRUE(targets_->remove("cosigner-1").ok());
    EXPECT_FALSE(targets_->find("cosigner-1").ok());
    EXPECT_TRUE(targets_->find("cosigner-2").ok());
    // The name can be used again, with a new pin.
    EXPECT_TRUE(targets_->add(target("cosigner-1", kOtherKeyLine), now_).ok());
}

}  // namespace
}  // namespace portcullis::db
