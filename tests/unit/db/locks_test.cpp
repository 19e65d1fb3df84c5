// Locks for incident response (issue 13, SPEC §16): the store's side (add,
// list, remove, expiry, matching) and what the policy decides under a lock,
// and the destinations a forward grant allows.
#include "db/locks.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>

#include "common/ssh_public_key.hpp"
#include "db/accounts.hpp"
#include "db/grants.hpp"
#include "db/policy.hpp"
#include "db/targets.hpp"
#include "tests/unit/db/temp_store.hpp"

namespace portcullis::db {
namespace {

using namespace std::chrono_literals;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr const char* kKeyLine =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";

const TimePoint kNow = TimePoint{std::chrono::sys_days{std::chrono::year{2026} / 11 / 25}} + 10h;

class LocksTest : public ::testing::Test {
  protected:
    void SetUp() override {
        for (const char* name : {"alice", "bob"})
            ASSERT_TRUE(Accounts(db_).add(name, "", "", kNow).ok());
        Target t;
        t.name = "box";
        t.host = "box.lan";
        t.defaultLogin = "root";
        t.hostKey = SshPublicKey::parseLine(kKeyLine).value();
        ASSERT_TRUE(Targets(db_).add(t, kNow).ok());
        t.name = "other";
        ASSERT_TRUE(Targets(db_).add(t, kNow).ok());
        for (const char* who : {"alice", "bob"}) {
            Grant g;
            g.subject = who;
            g.targetPattern = "*";
            g.channels = {Channel::shell, Channel::exec, Channel::forward};
            g.createdBy = "root";
            ASSERT_TRUE(Grants(db_).add(g, kNow).ok());
        }
    }
    Decision decide(const std::string& account, const std::string& target,
                    const std::string& source = "", TimePoint at = kNow) {
        AccessRequest r{account, "", target, Channel::shell, at};
        r.source = source;
        return Policy(db_).decide(r);
    }

    test::TempStore store_;
    Database& db_ = store_.db();
    Locks locks_{db_};
};

TEST_F(LocksTest, AUserLockDeniesThatUserOnlyAndSaysWhy) {
    // Positive control: allowed before the lock.
    ASSERT_TRUE(decide("alice", "box").allowed);
    const auto lock =
        locks_.add(LockKind::user, "alice", "laptop stolen (INC-42)", "root", std::nullopt, kNow);
    ASSERT_TRUE(lock.ok()) << lock.error();
    const auto d = decide("alice", "box");
    EXPECT_FALSE(d.allowed);
    ASSERT_TRUE(d.lock.has_value());
    EXPECT_EQ(d.lock->id, lock->id);
    EXPECT_EQ(d.lock->userMessage(), "locked by an administrator: laptop stolen (INC-42)");
    EXPECT_THAT(d.reasons, Contains("account alice is locked by an administrator: laptop stolen "
                                    "(INC-42) (lock #" +
                                    std::to_string(lock->id) + ")"));
    EXPECT_TRUE(decide("bob", "box").allowed);
    // A live session's re-check is denied too (a lock ends live sessions).
    AccessRequest ongoing{"alice", "", "box", Channel::shell, kNow};
    ongoing.ongoing = true;
    EXPECT_FALSE(Policy(db_).decide(ongoing).allowed);
}

TEST_F(LocksTest, ATargetLockDeniesEveryoneOnThatTarget) {
    ASSERT_TRUE(
        locks_.add(LockKind::target, "box", "compromised", "root", std::nullopt, kNow).ok());
    EXPECT_FALSE(decide("alice", "box").allowed);
    EXPECT_FALSE(decide("bob", "box").allowed);
    EXPECT_TRUE(decide("alice", "other").allowed);
    // The menu no longer offers it.
    EXPECT_THAT(Policy(db_).reachableTargets("alice", Channel::shell, kNow), ElementsAre("other"));
}

TEST_F(LocksTest, ASourceLockDeniesAddressesInItsRange) {
    const auto lock =
        locks_.add(LockKind::source, "198.51.100.77/24", "scanner", "root", std::nullopt, kNow);
    ASSERT_TRUE(lock.ok()) << lock.error();
    EXPECT_EQ(lock->value, "198.51.100.0/24");
    EXPECT_FALSE(decide("alice", "box", "198.51.100.9").allowed);
    EXPECT_FALSE(decide("alice", "box", "::ffff:198.51.100.9").allowed);
    EXPECT_TRUE(decide("alice", "box", "198.51.101.9").allowed);
    EXPECT_TRUE(decide("alice", "box").allowed);  // no address known: not checked
    const auto v6 =
        locks_.add(LockKind::source, "2001:db8:1:2::5", "rotating", "root", std::nullopt, kNow);
    ASSERT_TRUE(v6.ok()) << v6.error();
    EXPECT_EQ(v6->value, "2001:db8:1:2::/64");
    EXPECT_THAT(locks_.matching({"", "", "2001:db8:1:2:aaaa::1"}, kNow), testing::SizeIs(1));
}

TEST_F(LocksTest, ExpiryNeedsNoActionAndRemovalEndsALock) {
    const auto timed =
        locks_.add(LockKind::user, "alice", "until the review", "root", kNow + 10min, kNow);
    ASSERT_TRUE(timed.ok()) << timed.error();
    EXPECT_FALSE(decide("alice", "box", "", kNow + 9min).allowed);
    EXPECT_TRUE(decide("alice", "box", "", kNow + 10min).allowed);
    EXPECT_EQ(locks_.list(kNow + 10min).size(), 0u);
    EXPECT_EQ(locks_.list(kNow + 10min, true).size(), 1u);
    EXPECT_EQ(locks_.list(kNow + 10min, true)[0].status(kNow + 10min), "expired");
    EXPECT_FALSE(locks_.remove(timed->id, "root", kNow + 11min).ok());  // already over

    const auto open = locks_.add(LockKind::user, "bob", "ask first", "root", std::nullopt, kNow);
    ASSERT_TRUE(open.ok());
    EXPECT_FALSE(decide("bob", "box").allowed);
    const auto removed = locks_.remove(open->id, "carol", kNow + 1min);
    ASSERT_TRUE(removed.ok()) << removed.error();
    EXPECT_EQ(removed->removedBy, "carol");
    EXPECT_EQ(removed->status(kNow + 1min), "removed");
    EXPECT_TRUE(decide("bob", "box", "", kNow + 1min).allowed);
    const auto again = locks_.remove(open->id, "carol", kNow + 2min);
    ASSERT_FALSE(again.ok());
    EXPECT_THAT(again.error(), HasSubstr("already removed"));
    EXPECT_FALSE(locks_.remove(9999, "carol", kNow).ok());
}

TEST_F(LocksTest, RefusesLocksThatWouldLockNobodyOrCannotBeShown) {
    EXPECT_THAT(locks_.add(LockKind::user, "alcie", "typo", "root", std::nullopt, kNow).error(),
                HasSubstr("no account named alcie"));
    EXPECT_THAT(locks_.add(LockKind::target, "bx", "typo", "root", std::nullopt, kNow).error(),
                HasSubstr("no target named bx"));
    EXPECT_FALSE(locks_.add(LockKind::source, "box.lan", "x", "root", std::nullopt, kNow).ok());
    EXPECT_FALSE(locks_.add(LockKind::user, "alice", "", "root", std::nullopt, kNow).ok());
    EXPECT_FALSE(
        locks_.add(LockKind::user, "alice", "line\nbreak", "root", std::nullopt, kNow).ok());
    EXPECT_FALSE(
        locks_.add(LockKind::user, "alice", "esc\x1b[2J", "root", std::nullopt, kNow).ok());
    EXPECT_FALSE(
        locks_.add(LockKind::user, "alice", std::string(201, 'x'), "root", std::nullopt, kNow)
            .ok());
    EXPECT_FALSE(locks_.add(LockKind::user, "alice", "past", "root", kNow - 1s, kNow).ok());
    // C1 controls, direction overrides and broken UTF-8 would act on or hide text.
    for (const char* bad : {"c1 \xc2\x9b" "2J", "bidi \xe2\x80\xae", "raw \x9b", "cut \xe2\x80"})
        EXPECT_FALSE(checkShownReason(bad).ok()) << bad;
    EXPECT_TRUE(checkShownReason("Müller's laptop — INC-7").ok());
    EXPECT_EQ(shownReason("a\x1b" "[2Jb"), "a?[2Jb");
    EXPECT_TRUE(locks_.list(kNow, true).empty());
}

TEST_F(LocksTest, ForwardDestinationsAreLimitedByTheGrant) {
    Grant g;
    g.subject = "alice";
    g.targetPattern = "box";
    g.channels = {Channel::forward};
    g.forwardTo = {"DB.internal:5432", "*.cache.internal:*"};
    g.createdBy = "root";
    // Revoke the open forward grant of SetUp so that only this one matches.
    ASSERT_TRUE(Grants(db_).revoke(1, "root", kNow).ok());
    const auto added = Grants(db_).add(g, kNow);
    ASSERT_TRUE(added.ok()) << added.error();
    EXPECT_THAT(added->forwardTo, ElementsAre("db.internal:5432", "*.cache.internal:*"));
    EXPECT_THAT(Grants(db_).find(added->id)->forwardTo,
                ElementsAre("db.internal:5432", "*.cache.internal:*"));
    const auto forward = [&](const std::string& host, int port) {
        AccessRequest r{"alice", "", "box", Channel::forward, kNow};
        r.destination = ForwardDestination{host, port};
        return Policy(db_).decide(r);
    };
    EXPECT_TRUE(forward("db.internal", 5432).allowed);
    EXPECT_TRUE(forward("a.cache.internal", 6379).allowed);
    const auto refused = forward("db.internal", 22);
    EXPECT_FALSE(refused.allowed);
    EXPECT_THAT(refused.reasons, Contains("grant #" + std::to_string(added->id) +
                                          ": destination db.internal:22 not in [db.internal:5432, "
                                          "*.cache.internal:*]"));
    EXPECT_THAT(refused.forwardPatterns, ElementsAre("db.internal:5432", "*.cache.internal:*"));

    // --forward-to without the forward channel, or a bad pattern: refused.
    g.channels = {Channel::shell};
    EXPECT_THAT(Grants(db_).add(g, kNow).error(), HasSubstr("does not allow them"));
    g.channels = {Channel::forward};
    g.forwardTo = {"db.internal"};
    EXPECT_FALSE(Grants(db_).add(g, kNow).ok());
}

}  // namespace
}  // namespace portcullis::db
