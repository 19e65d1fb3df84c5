// Issue 12 finding 3 (lock-out as a weapon): failures without a proven first
// factor (the PAM module) never lock the account; they back off their source
// (per PAM service + tty/rhost), which the admin can list and clear. Failures
// after a proven key keep the account lock-out (the control beside each test).
#include "db/source_throttles.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "db/accounts.hpp"
#include "db/audit.hpp"
#include "db/otp_guard.hpp"
#include "tests/unit/db/temp_store.hpp"

namespace portcullis::db {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

const TimePoint kT0{Seconds{1'800'000'000 + 7}};
constexpr const char* kTty2 = "pam:login:tty=tty2";
constexpr const char* kTty1 = "pam:login:tty=tty1";

class SourceThrottleTest : public ::testing::Test {
  protected:
    void SetUp() override {
        audit_.emplace(db_, &store_.dir(), false);
        Accounts accounts(db_);
        ASSERT_TRUE(accounts.add("alice", "", "", kT0));
        auto enrollment = accounts.enrollTotp("alice", key_, "Portcullis", kT0);
        ASSERT_TRUE(enrollment) << enrollment.error();
        secret_ = std::move(enrollment->secret);
        ASSERT_TRUE(accounts.add("bob", "", "", kT0));
        ASSERT_TRUE(accounts.enrollTotp("bob", key_, "Portcullis", kT0));
        guard_.emplace(db_, key_, *audit_, config_);
    }

    std::string codeAt(TimePoint t) const { return totpCode(secret_, totpStep(t)); }
    std::string wrongCodeAt(TimePoint t) const {
        for (int n = 0;; ++n) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "%06d", (n * 7919 + 4242) % 1000000);
            if (!matchTotp(secret_, buf, t)) return buf;
        }
    }
    // At a PAM prompt: nobody proved anything before the code.
    OtpVerdict pam(std::string_view account, std::string_view code, TimePoint now,
                   std::string_view source = kTty2) {
        return guard_->verify(account, code, source, FirstFactor::unproven, now);
    }
    // At the gateway: the account's key signed the request.
    OtpVerdict gateway(std::string_view account, std::string_view code, TimePoint now,
                       std::string_view source = "192.0.2.10") {
        return guard_->verify(account, code, source, FirstFactor::proven, now);
    }
    Account alice() { return Accounts(db_).find("alice").value(); }

    test::TempStore store_;
    Database& db_ = store_.db();
    std::optional<AuditLog> audit_;
    MasterKey key_ = test::randomMasterKey();
    GuardConfig config_;
    std::optional<OtpGuard> guard_;
    SecretBytes secret_;
};

TEST_F(SourceThrottleTest, UnprovenFailuresNeverLockTheAccount) {
    // A stranger at a login prompt types alice and wrong codes, waiting out
    // each backoff: far more than the lock-out's 5.
    TimePoint t = kT0;
    int refusedAsBadCode = 0;
    for (int i = 0; i < 12; ++i) {
        const auto v = pam("alice", wrongCodeAt(t), t);
        if (v.result == OtpResult::throttled) {
            ASSERT_TRUE(v.retryAt);
            t = *v.retryAt;
            --i;
            continue;
        }
        EXPECT_EQ(v.result, OtpResult::badCode) << i;
        ++refusedAsBadCode;
    }
    EXPECT_EQ(refusedAsBadCode, 12);
    EXPECT_EQ(alice().failures, 0);
    EXPECT_FALSE(alice().lockedUntil);
    auto locked = db_.prepare("SELECT count(*) FROM audit_events WHERE type = 'account.locked'");
    locked.step();
    EXPECT_EQ(locked.int64(0), 0);
    // alice herself, at the gateway with her key, is not locked out.
    EXPECT_EQ(gateway("alice", codeAt(t), t).result, OtpResult::acceptedTotp);
}

TEST_F(SourceThrottleTest, ProvenFailuresStillLockTheAccount) {
    // The control: after a proven key, five wrong codes lock as before.
    for (int i = 0; i < 4; ++i)
        EXPECT_EQ(gateway("alice", wrongCodeAt(kT0), kT0).result, OtpResult::badCode);
    EXPECT_EQ(gateway("alice", wrongCodeAt(kT0), kT0).result, OtpResult::locked);
    EXPECT_TRUE(alice().lockedAt(kT0));
    // A locked account is refused everywhere, the PAM prompt included.
    EXPECT_EQ(pam("alice", codeAt(kT0), kT0).result, OtpResult::locked);
}

TEST_F(SourceThrottleTest, BackoffAfterThreeFreeFailuresGrowsAndIsNotChecked) {
    for (int i = 0; i < 3; ++i)
        EXPECT_EQ(pam("alice", wrongCodeAt(kT0), kT0).result, OtpResult::badCode);
    // The fourth failure starts a 30 s backoff.
    EXPECT_EQ(pam("alice", wrongCodeAt(kT0), kT0).result, OtpResult::badCode);
    auto during = pam("alice", codeAt(kT0), kT0 + Seconds{10});
    EXPECT_EQ(during.result, OtpResult::throttled);
    EXPECT_EQ(during.retryAt, kT0 + Seconds{30});
    // Refused without looking at the code: its step is still unused, and the
    // refused attempt did not make the backoff longer.
    auto st = db_.prepare("SELECT count(*) FROM totp WHERE last_step IS NOT NULL");
    st.step();
    EXPECT_EQ(st.int64(0), 0);
    EXPECT_EQ(SourceThrottles(db_).find(kTty2)->blockedUntil, kT0 + Seconds{30});

    // Each further failure doubles the delay: 60 s, 120 s, ...
    const TimePoint t1 = kT0 + Seconds{30};
    EXPECT_EQ(pam("alice", wrongCodeAt(t1), t1).result, OtpResult::badCode);
    EXPECT_EQ(pam("alice", codeAt(t1), t1).retryAt, t1 + Seconds{60});
    const TimePoint t2 = t1 + Seconds{60};
    EXPECT_EQ(pam("alice", wrongCodeAt(t2), t2).result, OtpResult::badCode);
    EXPECT_EQ(pam("alice", codeAt(t2), t2).retryAt, t2 + Seconds{120});

    // The right code once the backoff is over passes and ends the run.
    const TimePoint t3 = t2 + Seconds{120};
    EXPECT_EQ(pam("alice", codeAt(t3), t3).result, OtpResult::acceptedTotp);
    const auto row = SourceThrottles(db_).find(kTty2);
    ASSERT_TRUE(row);
    EXPECT_EQ(row->unproven, 0);
    EXPECT_FALSE(row->blockedUntil);
}

TEST_F(SourceThrottleTest, BackoffIsCappedAndARunIsForgottenAfterAnHour) {
    TimePoint t = kT0;
    Seconds longest{0};
    for (int i = 0; i < 20; ++i) {
        const auto v = pam("bob", "000000", t);
        if (v.result == OtpResult::throttled) {
            longest = std::max(longest, *v.retryAt - t);
            t = *v.retryAt;
        }
    }
    EXPECT_EQ(longest, config_.unprovenBackoffMax);
    // An hour without a failure: the next failures are free again.
    const auto row = SourceThrottles(db_).find(kTty2);
    ASSERT_TRUE(row && row->lastFailure);
    t = *row->lastFailure + Seconds{60 * 60};
    for (int i = 0; i < 3; ++i) EXPECT_EQ(pam("bob", "000000", t).result, OtpResult::badCode);
    EXPECT_EQ(SourceThrottles(db_).find(kTty2)->unproven, 3);
}

TEST_F(SourceThrottleTest, AStrangerOnOneTerminalDoesNotSlowDownAnother) {
    for (int i = 0; i < 6; ++i) pam("alice", wrongCodeAt(kT0), kT0, kTty2);
    EXPECT_EQ(pam("alice", codeAt(kT0), kT0, kTty2).result, OtpResult::throttled);
    // The root console on tty1, and sshd from another address, are not affected.
    EXPECT_EQ(pam("alice", codeAt(kT0), kT0, kTty1).result, OtpResult::acceptedTotp);
    EXPECT_EQ(pam("bob", "000000", kT0, "pam:sshd:rhost=10.0.0.9").result, OtpResult::badCode);
}

TEST_F(SourceThrottleTest, BackoffStartIsAuditedWithoutTheCode) {
    std::vector<std::string> tried;
    for (int i = 0; i < 4; ++i) {
        tried.push_back(wrongCodeAt(kT0 + Seconds{i * 1000}));
        pam("alice", tried.back(), kT0);
    }
    AuditFilter filter;
    filter.type = "source.throttled";
    const auto events = audit_->list(filter);
    ASSERT_EQ(events.size(), 1u);
    const auto& d = events[0].event.details;
    EXPECT_EQ(d.at("source_key"), kTty2);
    EXPECT_EQ(d.at("account"), "alice");
    EXPECT_EQ(d.at("unproven_failures"), 4);
    EXPECT_EQ(d.at("backoff_seconds"), 30);
    const std::string text = d.dump();
    for (const auto& code : tried) EXPECT_THAT(text, Not(HasSubstr(code)));
    EXPECT_TRUE(audit_->verify().ok());
}

TEST_F(SourceThrottleTest, OnlyExistingAccountsAreRememberedWithTheSource) {
    pam("alice", wrongCodeAt(kT0), kT0);
    pam("123456", "654321", kT0);  // a code typed at the account prompt
    pam("mallory", "000000", kT0);
    const auto row = SourceThrottles(db_).find(kTty2);
    ASSERT_TRUE(row);
    EXPECT_EQ(row->failures, 3);
    EXPECT_THAT(row->accounts, ElementsAre("alice"));
}

TEST_F(SourceThrottleTest, ListAndClear) {
    SourceThrottles throttles(db_);
    EXPECT_THAT(throttles.list(kT0), IsEmpty());
    for (int i = 0; i < 4; ++i) pam("alice", wrongCodeAt(kT0), kT0, kTty2);
    pam("bob", "000000", kT0, kTty1);
    gateway("bob", "000000", kT0, "2001:db8:1:2::/64");

    auto list = throttles.list(kT0 + Seconds{1});
    ASSERT_EQ(list.size(), 3u);
    const auto tty2 = std::find_if(list.begin(), list.end(),
                                   [](const SourceThrottle& t) { return t.source == kTty2; });
    ASSERT_NE(tty2, list.end());
    EXPECT_EQ(tty2->refusedUntil(kT0 + Seconds{1}, config_.sourceRules()), kT0 + Seconds{30});
    EXPECT_THAT(tty2->accounts, ElementsAre("alice"));

    EXPECT_TRUE(throttles.clear(kTty2));
    EXPECT_FALSE(throttles.clear(kTty2));  // nothing left to clear
    EXPECT_EQ(pam("alice", codeAt(kT0), kT0 + Seconds{1}, kTty2).result, OtpResult::acceptedTotp);
    EXPECT_THAT(throttles.clearAll(), ElementsAre("2001:db8:1:2::/64", kTty1));
    EXPECT_THAT(throttles.list(kT0 + Seconds{1}), IsEmpty());
    // Everything expires on its own too.
    pam("bob", "000000", kT0, kTty1);
    EXPECT_THAT(throttles.list(kT0 + Seconds{2 * 60 * 60}), IsEmpty());
}

TEST_F(SourceThrottleTest, UnlockingAnAccountClearsTheThrottlesItIsInvolvedIn) {
    for (int i = 0; i < 4; ++i) pam("alice", wrongCodeAt(kT0), kT0, kTty2);
    pam("bob", "000000", kT0, kTty1);
    EXPECT_EQ(pam("alice", codeAt(kT0), kT0, kTty2).result, OtpResult::throttled);
    SourceThrottles throttles(db_);
    EXPECT_THAT(throttles.clearForAccount("alice"), ElementsAre(kTty2));
    EXPECT_EQ(pam("alice", codeAt(kT0), kT0, kTty2).result, OtpResult::acceptedTotp);
    // bob's source is not alice's business.
    EXPECT_TRUE(throttles.find(kTty1));
    EXPECT_THAT(throttles.clearForAccount("carol"), IsEmpty());
}

// Finding 6 item: the gateway's code throttle counts an IPv6 /64 as one
// source (the key), while the audit keeps the exact address.
TEST_F(SourceThrottleTest, TheKeyIsThrottledAndTheExactAddressAudited) {
    GuardConfig config;
    config.maxSourceFailures = 2;
    guard_.emplace(db_, key_, *audit_, config);
    const std::string block = "2001:db8:1:2::/64";
    const auto from = [&](const char* address) { return OtpSource{block, address}; };
    for (int i = 0; i < 5; ++i) {
        const std::string address = "2001:db8:1:2::" + std::to_string(i + 1);
        guard_->verify("alice", wrongCodeAt(kT0), from(address.c_str()), FirstFactor::proven, kT0);
    }
    // Two failures from two addresses of the /64 refuse the whole /64...
    EXPECT_EQ(
        guard_->verify("alice", codeAt(kT0), from("2001:db8:1:2::99"), FirstFactor::proven, kT0)
            .result,
        OtpResult::throttled);
    EXPECT_EQ(SourceThrottles(db_).find(block)->failures, 2);
    // ...another /64 is another source.
    EXPECT_EQ(guard_
                  ->verify("bob", "000000", OtpSource{"2001:db8:1:3::/64", "2001:db8:1:3::1"},
                           FirstFactor::proven, kT0)
                  .result,
              OtpResult::badCode);
}

TEST_F(SourceThrottleTest, ALockOutIsAuditedWithTheExactAddress) {
    for (int i = 0; i < 5; ++i) {
        guard_->verify("alice", wrongCodeAt(kT0), OtpSource{"2001:db8:1:2::/64", "2001:db8:1:2::7"},
                       FirstFactor::proven, kT0);
    }
    AuditFilter filter;
    filter.type = "account.locked";
    const auto events = audit_->list(filter);
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].event.source, "2001:db8:1:2::7");
    EXPECT_EQ(events[0].event.details.at("source_key"), "2001:db8:1:2::/64");
}

TEST_F(SourceThrottleTest, TheWindowThrottleStillHoldsForProvenFailures) {
    // 20 failures within 15 minutes from one address refuse it until the window ends.
    GuardConfig config;
    config.maxSourceFailures = 3;
    config.maxFailures = 100;
    guard_.emplace(db_, key_, *audit_, config);
    for (int i = 0; i < 3; ++i) gateway("alice", wrongCodeAt(kT0), kT0);
    const auto v = gateway("alice", codeAt(kT0), kT0 + Seconds{5});
    EXPECT_EQ(v.result, OtpResult::throttled);
    EXPECT_EQ(v.retryAt, kT0 + config.sourceWindow);
    EXPECT_EQ(gateway("alice", codeAt(kT0), kT0, "192.0.2.99").result, OtpResult::acceptedTotp);
}

}  // namespace
}  // namespace portcullis::db
