#include "db/otp_guard.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <latch>
#include <optional>
#include <thread>

#include "common/encoding.hpp"
#include "db/accounts.hpp"
#include "db/audit.hpp"
#include "tests/unit/db/temp_store.hpp"

namespace portcullis::db {
namespace {

// A step boundary (1'800'000'000 / 30 = 60'000'000), plus a few seconds.
const TimePoint kT0{Seconds{1'800'000'000 + 7}};
constexpr const char* kSource = "192.0.2.10";

class OtpGuardTest : public ::testing::Test {
  protected:
    void SetUp() override {
        audit_.emplace(db_, &store_.dir(), false);
        Accounts accounts(db_);
        auto alice = accounts.add("alice", "", "", kT0);
        ASSERT_TRUE(alice);
        aliceId_ = alice->id;
        auto enrollment = accounts.enrollTotp("alice", key_, "Portcullis", kT0);
        ASSERT_TRUE(enrollment) << enrollment.error();
        secret_ = std::move(enrollment->secret);
        recoveryCodes_ = enrollment->recoveryCodes;
        ASSERT_TRUE(accounts.add("carol", "", "", kT0));  // never enrolled
        ASSERT_TRUE(accounts.add("dave", "", "", kT0));
        ASSERT_TRUE(accounts.enrollTotp("dave", key_, "Portcullis", kT0));
        ASSERT_TRUE(accounts.setEnabled("dave", false));
        guard_.emplace(db_, key_, *audit_, config_);
    }

    // The code alice's authenticator shows at time t.
    std::string codeAt(TimePoint t) const { return totpCode(secret_, totpStep(t)); }
    // A 6-digit code that matches no step in the window around t.
    std::string wrongCodeAt(TimePoint t) const {
        for (int n = 0;; ++n) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "%06d", (n * 7919 + 12345) % 1000000);
            if (!matchTotp(secret_, buf, t)) return buf;
        }
    }
    // As the gateway verifies: after the account's key was proven.
    OtpVerdict verify(std::string_view account, std::string_view code, TimePoint now,
                      std::string_view source = kSource) {
        return guard_->verify(account, code, source, FirstFactor::proven, now);
    }
    std::int64_t scalar(const std::string& sql) {
        auto st = db_.prepare(sql);
        EXPECT_TRUE(st.step()) << sql;
        return st.int64(0);
    }
    void reconfigure(const GuardConfig& config) {
        config_ = config;
        guard_.emplace(db_, key_, *audit_, config_);
    }

    test::TempStore store_;
    Database& db_ = store_.db();
    std::optional<AuditLog> audit_;
    MasterKey key_ = test::randomMasterKey();
    GuardConfig config_;
    std::optional<OtpGuard> guard_;
    std::int64_t aliceId_ = 0;
    SecretBytes secret_;
    std::vector<std::string> recoveryCodes_;
};

TEST_F(OtpGuardTest, RightCodeIsAccepted) {
    const auto v = verify("alice", codeAt(kT0), kT0);
    EXPECT_EQ(v.result, OtpResult::acceptedTotp);
    EXPECT_TRUE(v.accepted());
    EXPECT_EQ(v.reason(), "accepted_totp");
    EXPECT_EQ(scalar("SELECT last_step FROM totp WHERE account_id = " + std::to_string(aliceId_)),
              totpStep(kT0));
    EXPECT_EQ(scalar("SELECT count(*) FROM source_failures"), 0);
}

TEST_F(OtpGuardTest, CodeOfTheNeighbouringStepIsAccepted) {
    EXPECT_TRUE(verify("alice", codeAt(kT0 - Seconds{30}), kT0).accepted());
}

TEST_F(OtpGuardTest, ReplayOfTheSameStepIsRefused) {
    const auto code = codeAt(kT0);
    ASSERT_TRUE(verify("alice", code, kT0).accepted());
    const auto again = verify("alice", code, kT0 + Seconds{10});
    EXPECT_EQ(again.result, OtpResult::replayed);
    EXPECT_EQ(again.reason(), "replayed");
    // A replay counts as a failure, for the account and the source.
    EXPECT_EQ(scalar("SELECT failures FROM accounts WHERE name = 'alice'"), 1);
    EXPECT_EQ(scalar("SELECT failures FROM source_failures"), 1);
}

TEST_F(OtpGuardTest, OlderStepAfterANewerOneIsRefused) {
    const TimePoint t1 = kT0 + Seconds{30};
    ASSERT_EQ(verify("alice", codeAt(t1), t1).result, OtpResult::acceptedTotp);
    // The previous step's code is still inside the window, but older than the used step.
    EXPECT_EQ(verify("alice", codeAt(kT0), t1).result, OtpResult::replayed);
    // The next step is fine.
    const TimePoint t2 = t1 + Seconds{30};
    EXPECT_EQ(verify("alice", codeAt(t2), t2).result, OtpResult::acceptedTotp);
}

TEST_F(OtpGuardTest, WrongAndMalformedCodesAreBadCodes) {
    for (const std::string& code :
         {wrongCodeAt(kT0), std::string(), std::string("12345"), std::string("1234567"),
          std::string("abcdef"), std::string(1000, '7')}) {
        const auto v = verify("alice", code, kT0);
        EXPECT_EQ(v.result, OtpResult::badCode) << "'" << code << "'";
        EXPECT_EQ(v.reason(), "bad_code");
        ASSERT_LT(Accounts(db_).find("alice")->failures, config_.maxFailures);
        ASSERT_TRUE(Accounts(db_).unlock("alice"));
    }
}

// Issue 13 (login): a right code typed in groups ("123 456", "123-456") is
// the code; it is never a failure for being spaced, and a wrong code spaced
// is as wrong as unspaced (one failure, not two).
TEST_F(OtpGuardTest, SpacesAndDashesInACodeAreIgnored) {
    const auto code = codeAt(kT0);
    const std::string spaced = code.substr(0, 3) + " " + code.substr(3);
    EXPECT_EQ(verify("alice", spaced, kT0).result, OtpResult::acceptedTotp);
    const TimePoint t1 = kT0 + Seconds{30};
    const auto next = codeAt(t1);
    EXPECT_EQ(verify("alice", next.substr(0, 3) + "-" + next.substr(3), t1).result,
              OtpResult::acceptedTotp);
    const TimePoint t2 = t1 + Seconds{30};
    const auto third = codeAt(t2);
    EXPECT_EQ(verify("alice", " " + third.substr(0, 2) + " - " + third.substr(2) + " ", t2).result,
              OtpResult::acceptedTotp);
    EXPECT_EQ(scalar("SELECT failures FROM accounts WHERE name = 'alice'"), 0);
    EXPECT_EQ(scalar("SELECT count(*) FROM source_failures"), 0);
    // Positive control: a spaced code of a used step is still a replay, and a
    // wrong one spaced is one bad code.
    EXPECT_EQ(verify("alice", third.substr(0, 3) + " " + third.substr(3), t2).result,
              OtpResult::replayed);
    const auto wrong = wrongCodeAt(t2);
    EXPECT_EQ(verify("alice", wrong.substr(0, 3) + " " + wrong.substr(3), t2).result,
              OtpResult::badCode);
    EXPECT_EQ(scalar("SELECT failures FROM accounts WHERE name = 'alice'"), 2);
    // Other characters still make a code malformed.
    EXPECT_EQ(verify("alice", code.substr(0, 3) + "." + code.substr(3), t2).result,
              OtpResult::badCode);
}

TEST_F(OtpGuardTest, LockOutAfterFiveFailuresAndUnlock) {
    const std::string wrong = wrongCodeAt(kT0);
    for (int i = 1; i < 5; ++i) {
        EXPECT_EQ(verify("alice", wrong, kT0).result, OtpResult::badCode) << i;
        EXPECT_EQ(Accounts(db_).find("alice")->failures, i);
    }
    const auto fifth = verify("alice", wrong, kT0);
    EXPECT_EQ(fifth.result, OtpResult::locked);
    EXPECT_EQ(fifth.reason(), "locked");
    auto locked = Accounts(db_).find("alice");
    ASSERT_TRUE(locked->lockedUntil);
    EXPECT_EQ(*locked->lockedUntil, kT0 + Seconds{15 * 60});
    EXPECT_TRUE(locked->lockedAt(kT0));

    // While locked, even the right code is refused, and its step is not used up.
    EXPECT_EQ(verify("alice", codeAt(kT0), kT0).result, OtpResult::locked);
    EXPECT_EQ(verify("alice", recoveryCodes_[0], kT0).result, OtpResult::locked);
    EXPECT_EQ(Accounts(db_).find("alice")->recoveryCodesLeft, kRecoveryCodeCount);

    ASSERT_TRUE(Accounts(db_).unlock("alice"));
    EXPECT_EQ(verify("alice", codeAt(kT0), kT0).result, OtpResult::acceptedTotp);
}

TEST_F(OtpGuardTest, LockOutAuditEventCarriesNoCode) {
    std::vector<std::string> tried;
    for (int i = 0; i < 5; ++i) {
        // Different wrong codes, so that each can be looked for in the event.
        std::string wrong;
        for (int n = i * 1000 + 1;; ++n) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "%06d", (n * 104729) % 1000000);
            if (!matchTotp(secret_, buf, kT0)) {
                wrong = buf;
                break;
            }
        }
        tried.push_back(wrong);
        verify("alice", wrong, kT0);
    }
    auto st = db_.prepare(
        "SELECT actor, source, details FROM audit_events WHERE type = 'account.locked'");
    ASSERT_TRUE(st.step()) << "no account.locked event";
    EXPECT_EQ(st.text(0), "alice");
    EXPECT_EQ(st.text(1), kSource);
    const std::string details = st.text(2);
    const auto json = nlohmann::json::parse(details);
    EXPECT_EQ(json.at("account"), "alice");
    EXPECT_EQ(json.at("failures"), 5);
    EXPECT_TRUE(json.contains("locked_until"));
    for (const auto& code : tried) {
        EXPECT_EQ(details.find(code), std::string::npos) << details;
    }
    EXPECT_EQ(details.find(codeAt(kT0)), std::string::npos);
    EXPECT_EQ(details.find(base32Encode(secret_.view())), std::string::npos);
    EXPECT_FALSE(st.step()) << "one event only";
    // The audit chain is still sound.
    EXPECT_TRUE(audit_->verify().ok());
}

TEST_F(OtpGuardTest, LockOutExpiresAfterFifteenMinutes) {
    const std::string wrong = wrongCodeAt(kT0);
    for (int i = 0; i < 5; ++i) verify("alice", wrong, kT0);
    const TimePoint almost = kT0 + Seconds{15 * 60 - 1};
    EXPECT_EQ(verify("alice", codeAt(almost), almost).result, OtpResult::locked);
    const TimePoint after = kT0 + Seconds{15 * 60};
    EXPECT_EQ(verify("alice", codeAt(after), after).result, OtpResult::acceptedTotp);
    auto account = Accounts(db_).find("alice");
    EXPECT_EQ(account->failures, 0);
    EXPECT_FALSE(account->lockedUntil);
}

TEST_F(OtpGuardTest, ExpiredLockOutStartsTheCountAgain) {
    const std::string wrong = wrongCodeAt(kT0);
    for (int i = 0; i < 5; ++i) verify("alice", wrong, kT0);
    const TimePoint after = kT0 + Seconds{16 * 60};
    const std::string wrongLater = wrongCodeAt(after);
    EXPECT_EQ(verify("alice", wrongLater, after).result, OtpResult::badCode);
    EXPECT_EQ(Accounts(db_).find("alice")->failures, 1);
}

TEST_F(OtpGuardTest, SuccessResetsTheFailureCount) {
    const std::string wrong = wrongCodeAt(kT0);
    for (int i = 0; i < 4; ++i) verify("alice", wrong, kT0);
    ASSERT_TRUE(verify("alice", codeAt(kT0), kT0).accepted());
    EXPECT_EQ(Accounts(db_).find("alice")->failures, 0);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(verify("alice", wrong, kT0).result, OtpResult::badCode);
}

TEST_F(OtpGuardTest, LockOutIsConfigurable) {
    GuardConfig config;
    config.maxFailures = 2;
    config.lockout = Seconds{60};
    reconfigure(config);
    const std::string wrong = wrongCodeAt(kT0);
    EXPECT_EQ(verify("alice", wrong, kT0).result, OtpResult::badCode);
    EXPECT_EQ(verify("alice", wrong, kT0).result, OtpResult::locked);
    const TimePoint after = kT0 + Seconds{60};
    EXPECT_TRUE(verify("alice", codeAt(after), after).accepted());
}

TEST_F(OtpGuardTest, SourceThrottling) {
    GuardConfig config;
    config.maxSourceFailures = 3;
    config.maxFailures = 100;
    reconfigure(config);
    // Failures from one source across accounts, known or not.
    EXPECT_EQ(verify("nobody", "123456", kT0).result, OtpResult::unknownAccount);
    EXPECT_EQ(verify("alice", wrongCodeAt(kT0), kT0).result, OtpResult::badCode);
    EXPECT_EQ(verify("carol", "123456", kT0).result, OtpResult::notEnrolled);
    const auto throttled = verify("alice", codeAt(kT0), kT0);
    EXPECT_EQ(throttled.result, OtpResult::throttled);
    EXPECT_EQ(throttled.reason(), "throttled");
    // The right code was not looked at: its step is still unused.
    EXPECT_EQ(scalar("SELECT count(*) FROM totp WHERE last_step IS NOT NULL"), 0);
    // Another source is not affected.
    EXPECT_EQ(verify("alice", codeAt(kT0), kT0, "198.51.100.7").result, OtpResult::acceptedTotp);
    // Once the window has passed, the source starts afresh.
    const TimePoint later = kT0 + Seconds{15 * 60};
    EXPECT_EQ(verify("alice", codeAt(later), later).result, OtpResult::acceptedTotp);
    EXPECT_EQ(verify("alice", wrongCodeAt(later), later).result, OtpResult::badCode);
    EXPECT_EQ(scalar("SELECT failures FROM source_failures WHERE source = '192.0.2.10'"), 1);
    EXPECT_EQ(scalar("SELECT window_start FROM source_failures WHERE source = '192.0.2.10'"),
              later.time_since_epoch().count());
}

TEST_F(OtpGuardTest, RecoveryCodeWorksOnce) {
    const auto v = verify("alice", recoveryCodes_[3], kT0);
    EXPECT_EQ(v.result, OtpResult::acceptedRecovery);
    EXPECT_TRUE(v.accepted());
    EXPECT_EQ(v.reason(), "accepted_recovery");
    EXPECT_EQ(Accounts(db_).find("alice")->recoveryCodesLeft, kRecoveryCodeCount - 1);
    EXPECT_EQ(verify("alice", recoveryCodes_[3], kT0 + Seconds{1}).result, OtpResult::badCode);
    // Other codes still work.
    EXPECT_EQ(verify("alice", recoveryCodes_[4], kT0).result, OtpResult::acceptedRecovery);
    EXPECT_EQ(Accounts(db_).find("alice")->recoveryCodesLeft, kRecoveryCodeCount - 2);
}

TEST_F(OtpGuardTest, RecoveryCodeMayBeTypedWithoutDashesOrInUpperCase) {
    std::string upper = recoveryCodes_[0];
    std::transform(upper.begin(), upper.end(), upper.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    EXPECT_EQ(verify("alice", upper, kT0).result, OtpResult::acceptedRecovery);

    std::string bare = recoveryCodes_[1];
    bare.erase(std::remove(bare.begin(), bare.end(), '-'), bare.end());
    EXPECT_EQ(verify("alice", bare, kT0).result, OtpResult::acceptedRecovery);

    std::string spaced = recoveryCodes_[2];
    std::replace(spaced.begin(), spaced.end(), '-', ' ');
    EXPECT_EQ(verify("alice", " " + spaced + " ", kT0).result, OtpResult::acceptedRecovery);

    // Another account's code does not work.
    Accounts accounts(db_);
    ASSERT_TRUE(accounts.add("erin", "", "", kT0));
    auto erin = accounts.enrollTotp("erin", key_, "Portcullis", kT0);
    ASSERT_TRUE(erin);
    EXPECT_EQ(verify("alice", erin->recoveryCodes[0], kT0).result, OtpResult::badCode);
}

TEST_F(OtpGuardTest, UnknownAccountIsRefusedWithoutCreatingRows) {
    const auto before = scalar("SELECT count(*) FROM accounts");
    const auto v = verify("mallory", "123456", kT0);
    EXPECT_EQ(v.result, OtpResult::unknownAccount);
    EXPECT_EQ(v.reason(), "unknown_account");
    EXPECT_FALSE(v.accepted());
    EXPECT_EQ(scalar("SELECT count(*) FROM accounts"), before);
    EXPECT_EQ(scalar("SELECT count(*) FROM totp"), 2);
    // Counted against the source.
    EXPECT_EQ(scalar("SELECT failures FROM source_failures WHERE source = '192.0.2.10'"), 1);
    EXPECT_EQ(verify("", "123456", kT0).result, OtpResult::unknownAccount);
}

TEST_F(OtpGuardTest, DisabledAccountIsRefusedEvenWithTheRightCode) {
    Accounts accounts(db_);
    ASSERT_TRUE(accounts.setEnabled("alice", false));
    const auto v = verify("alice", codeAt(kT0), kT0);
    EXPECT_EQ(v.result, OtpResult::disabled);
    EXPECT_EQ(v.reason(), "disabled");
    EXPECT_EQ(verify("alice", recoveryCodes_[0], kT0).result, OtpResult::disabled);
    EXPECT_EQ(verify("dave", "123456", kT0).result, OtpResult::disabled);
    EXPECT_EQ(scalar("SELECT failures FROM source_failures"), 3);
    ASSERT_TRUE(accounts.setEnabled("alice", true));
    EXPECT_EQ(verify("alice", codeAt(kT0), kT0).result, OtpResult::acceptedTotp);
}

TEST_F(OtpGuardTest, UnenrolledAccountIsRefused) {
    const auto v = verify("carol", "123456", kT0);
    EXPECT_EQ(v.result, OtpResult::notEnrolled);
    EXPECT_EQ(v.reason(), "not_enrolled");
    ASSERT_TRUE(Accounts(db_).resetTotp("alice"));
    EXPECT_EQ(verify("alice", codeAt(kT0), kT0).result, OtpResult::notEnrolled);
    EXPECT_EQ(verify("alice", recoveryCodes_[0], kT0).result, OtpResult::notEnrolled);
}

TEST_F(OtpGuardTest, WrongMasterKeyThrows) {
    const MasterKey other = test::randomMasterKey();
    OtpGuard guard(db_, other, *audit_, config_);
    EXPECT_THROW(guard.verify("alice", codeAt(kT0), kSource, FirstFactor::proven, kT0), Error);
    // Nothing was changed by the failed attempt.
    EXPECT_EQ(scalar("SELECT count(*) FROM source_failures"), 0);
    EXPECT_EQ(verify("alice", codeAt(kT0), kT0).result, OtpResult::acceptedTotp);
}

TEST_F(OtpGuardTest, BadConfigurationThrowsAStoreErrorAndChangesNothing) {
    GuardConfig config;
    config.totp.digits = 5;  // liboath supports 6-8
    reconfigure(config);
    EXPECT_THROW(verify("alice", "12345", kT0), Error);
    EXPECT_EQ(scalar("SELECT count(*) FROM source_failures"), 0);
    EXPECT_EQ(Accounts(db_).find("alice")->failures, 0);
}

TEST_F(OtpGuardTest, SealedSecretCannotBeMovedToAnotherAccount) {
    // Copy alice's sealed secret onto dave (enabled for the test): it does not open.
    Accounts accounts(db_);
    ASSERT_TRUE(accounts.setEnabled("dave", true));
    db_.exec(
        "UPDATE totp SET sealed = (SELECT sealed FROM totp t JOIN accounts a ON a.id = "
        "t.account_id WHERE a.name = 'alice') WHERE account_id = (SELECT id FROM accounts WHERE "
        "name = 'dave')");
    EXPECT_THROW(verify("dave", codeAt(kT0), kT0), Error);
}

// Two gateways (two connections to the same file) verify the same code at the
// same moment: the write transaction lets exactly one of them accept it.
TEST_F(OtpGuardTest, ConcurrentVerifyOfTheSameCodeAcceptsExactlyOnce) {
    auto second = Database::open(store_.dir());
    ASSERT_TRUE(second) << second.error();
    Database db2 = std::move(second.value());
    AuditLog audit2(db2, &store_.dir(), false);
    OtpGuard guard2(db2, key_, audit2, config_);

    for (int round = 0; round < 20; ++round) {
        const TimePoint now = kT0 + Seconds{30 * round};
        const std::string code = codeAt(now);
        std::latch start(2);
        OtpVerdict a, b;
        std::thread t1([&] {
            start.arrive_and_wait();
            a = guard_->verify("alice", code, "192.0.2.1", FirstFactor::proven, now);
        });
        std::thread t2([&] {
            start.arrive_and_wait();
            b = guard2.verify("alice", code, "192.0.2.2", FirstFactor::proven, now);
        });
        t1.join();
        t2.join();
        const int accepted = int(a.accepted()) + int(b.accepted());
        EXPECT_EQ(accepted, 1) << "round " << round << ": " << a.reason() << " / " << b.reason();
        const auto& loser = a.accepted() ? b : a;
        EXPECT_EQ(loser.result, OtpResult::replayed) << "round " << round;
        // Reset the failure the replay counted, so that 20 rounds do not lock.
        ASSERT_TRUE(Accounts(db_).unlock("alice"));
    }
}

TEST_F(OtpGuardTest, ConcurrentVerifyOfTheSameRecoveryCodeAcceptsExactlyOnce) {
    auto second = Database::open(store_.dir());
    ASSERT_TRUE(second) << second.error();
    Database db2 = std::move(second.value());
    AuditLog audit2(db2, &store_.dir(), false);
    OtpGuard guard2(db2, key_, audit2, config_);

    for (int round = 0; round < 5; ++round) {
        const std::string& code = recoveryCodes_[static_cast<std::size_t>(round)];
        std::latch start(2);
        OtpVerdict a, b;
        std::thread t1([&] {
            start.arrive_and_wait();
            a = guard_->verify("alice", code, "192.0.2.1", FirstFactor::proven, kT0);
        });
        std::thread t2([&] {
            start.arrive_and_wait();
            b = guard2.verify("alice", code, "192.0.2.2", FirstFactor::proven, kT0);
        });
        t1.join();
        t2.join();
        EXPECT_EQ(int(a.accepted()) + int(b.accepted()), 1) << "round " << round;
        ASSERT_TRUE(Accounts(db_).unlock("alice"));
    }
    EXPECT_EQ(Accounts(db_).find("alice")->recoveryCodesLeft, kRecoveryCodeCount - 5);
}

}  // namespace
}  // namespace portcullis::db
