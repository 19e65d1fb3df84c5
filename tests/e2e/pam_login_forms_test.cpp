// Issue 13 at the PAM prompt, through pamtester under pam_wrapper (as sshd,
// login or su would drive the module):
//  - a `group=` naming a group that does not exist refuses everyone as
//    `unknown_group` (in the audit event and the module's syslog line), an
//    unknown account as `unknown_account`, never told to the user;
//  - a right code typed as "123 456" or "123-456" is accepted, and a spaced
//    code never counts as a failure for being spaced.
// Each refusal has its positive control beside it.
#include <chrono>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "db/accounts.hpp"
#include "db/audit.hpp"
#include "db/database.hpp"
#include "db/groups.hpp"
#include "db/master_key.hpp"
#include "db/source_throttles.hpp"
#include "db/state_dir.hpp"
#include "db/totp.hpp"
#include "tests/support/process.hpp"

namespace portcullis::test {
namespace {

namespace fs = std::filesystem;

constexpr const char* kPamWrapper = "/usr/lib/x86_64-linux-gnu/libpam_wrapper.so";
constexpr const char* kService = "portcullis-forms";
constexpr const char* kGroup = "root-admins";

#ifdef PAM_PORTCULLIS
constexpr const char* kModule = PAM_PORTCULLIS;
#else
constexpr const char* kModule = nullptr;
#endif

TimePoint now() {
    return std::chrono::floor<Seconds>(std::chrono::system_clock::now());
}

class PamLoginFormsTest : public ::testing::Test {
  protected:
    void SetUp() override {
        if (kModule == nullptr || !fs::exists(kPamWrapper) || !fs::exists("/usr/bin/pamtester")) {
            GTEST_SKIP() << "needs pam_portcullis, pamtester and libpam-wrapper (scripts/deps)";
        }
        fs::create_directories(serviceDir_);
        const db::StateDir dir(state_);
        ASSERT_TRUE(dir.create());
        auto database = db::Database::open(dir, {.create = true});
        ASSERT_TRUE(database) << database.error();
        auto key = db::MasterKey::createOrLoad(dir);
        ASSERT_TRUE(key) << key.error();
        db::Accounts accounts(*database);
        ASSERT_TRUE(accounts.add("alice", "", "", now()));
        auto alice = accounts.enrollTotp("alice", *key, "Portcullis", now());
        ASSERT_TRUE(alice) << alice.error();
        secret_ = std::move(alice->secret);
        db::Groups groups(*database);
        ASSERT_TRUE(groups.add(kGroup, now()));
        ASSERT_TRUE(groups.addMember(kGroup, "alice"));
    }

    // The code alice's authenticator shows for `step` steps from now.
    std::string code(int step = 0) const {
        return db::totpCode(secret_, db::totpStep(now()) + step);
    }
    std::string wrongCode() const {
        std::set<std::string> near;
        const auto step = db::totpStep(now());
        for (auto s = step - 3; s <= step + 3; ++s) near.insert(db::totpCode(secret_, s));
        for (int i = 0;; ++i) {
            std::string candidate = std::to_string(100000 + i * 7919);
            if (!near.contains(candidate)) return candidate;
        }
    }

    ProcessResult pam(const std::string& arguments, const std::string& user,
                      const std::string& input) {
        writeFile(serviceDir_ / kService,
                  std::string("auth required ") + kModule + " state_dir=" + state_.string() + " " +
                      arguments + "\n",
                  0644);
        ProcessOptions options;
        options.env = {{"LD_PRELOAD", kPamWrapper},
                       {"PAM_WRAPPER", "1"},
                       {"PAM_WRAPPER_SERVICE_DIR", serviceDir_.string()},
                       {"PAM_WRAPPER_DEBUGLEVEL", "2"}};  // pam_syslog lines on stderr
        options.input = input;
        options.timeout = std::chrono::seconds(60);
        return runProcess(
            {"pamtester", "-v", "-I", "tty=/dev/pts/7", kService, user, "authenticate"}, options);
    }

    nlohmann::json lastPamEvent() {
        auto database = db::Database::open(db::StateDir(state_));
        EXPECT_TRUE(database) << database.error();
        if (!database) return {};
        db::AuditLog audit(*database, nullptr, false);
        db::AuditFilter filter;
        filter.type = "pam.auth";
        filter.limit = 1;
        const auto events = audit.list(filter);
        return events.empty() ? nlohmann::json::object() : events.back().event.details;
    }

    // Failures counted against the terminal the attempts come from.
    std::int64_t sourceFailures() {
        auto database = db::Database::open(db::StateDir(state_));
        EXPECT_TRUE(database) << database.error();
        if (!database) return -1;
        const auto row =
            db::SourceThrottles(*database).find(std::string("pam:") + kService + ":tty=pts/7");
        return row ? row->failures : 0;
    }

    TempDir tmp_{"pam-forms"};
    fs::path state_ = tmp_.path() / "state";
    fs::path serviceDir_ = tmp_.path() / "pam.d";
    SecretBytes secret_;
};

// Issue 13: `group=` naming a group that does not exist refused everyone as
// not_in_group; now unknown_group, logged with the group's name.
TEST_F(PamLoginFormsTest, UnknownGroupIsLoggedAsSuch) {
    const auto r = pam("account=ask group=root-admin", "root", "alice\n" + code() + "\n");
    EXPECT_EQ(r.exitCode, 1) << describe(r);
    EXPECT_EQ(lastPamEvent().value("reason", ""), "unknown_group");
    EXPECT_TRUE(contains(r.err, "reason=unknown_group")) << describe(r);
    EXPECT_TRUE(contains(r.err, "group=root-admin names no Portcullis group")) << describe(r);
    // The user is told nothing more than for a wrong code.
    EXPECT_TRUE(contains(r.out + r.err, "Verification code: ")) << describe(r);
    EXPECT_FALSE(contains(r.out, "group")) << describe(r);
    // Positive control: the group that exists lets alice in with the same code.
    const auto ok =
        pam(std::string("account=ask group=") + kGroup, "root", "alice\n" + code() + "\n");
    EXPECT_EQ(ok.exitCode, 0) << describe(ok);
    EXPECT_EQ(lastPamEvent().value("reason", ""), "accepted_totp");
}

// Issue 13: an unknown account behind group= is unknown_account in the log,
// while a known account outside the group stays not_in_group.
TEST_F(PamLoginFormsTest, UnknownAccountIsLoggedAsSuchNeverShown) {
    const std::string arguments = std::string("account=ask group=") + kGroup;
    auto r = pam(arguments, "root", "mallory\n123456\n");
    EXPECT_EQ(r.exitCode, 1) << describe(r);
    EXPECT_EQ(lastPamEvent().value("reason", ""), "unknown_account");
    EXPECT_TRUE(contains(r.out + r.err, "Verification code: ")) << describe(r);
    EXPECT_FALSE(contains(r.out, "unknown")) << describe(r);
    // A known account outside the group: not_in_group.
    {
        auto database = db::Database::open(db::StateDir(state_));
        ASSERT_TRUE(database) << database.error();
        ASSERT_TRUE(db::Accounts(*database).add("bob", "", "", now()));
    }
    r = pam(arguments, "root", "bob\n123456\n");
    EXPECT_EQ(r.exitCode, 1) << describe(r);
    EXPECT_EQ(lastPamEvent().value("reason", ""), "not_in_group");
    // Without group=, an unknown account is unknown_account as before.
    r = pam("account=ask", "root", "mallory\n123456\n");
    EXPECT_EQ(r.exitCode, 1) << describe(r);
    EXPECT_EQ(lastPamEvent().value("reason", ""), "unknown_account");
}

// Issue 13 (login): a right code typed in two groups of three is accepted at
// the PAM prompt, and is no failure for being spaced.
TEST_F(PamLoginFormsTest, SpacedAndDashedCodesAreAccepted) {
    const std::string c0 = code();
    auto r = pam("", "alice", c0.substr(0, 3) + " " + c0.substr(3) + "\n");
    EXPECT_EQ(r.exitCode, 0) << describe(r);
    EXPECT_EQ(lastPamEvent().value("reason", ""), "accepted_totp");
    const std::string c1 = code(1);  // the next step (inside the default window)
    r = pam("", "alice", c1.substr(0, 3) + "-" + c1.substr(3) + "\n");
    EXPECT_EQ(r.exitCode, 0) << describe(r);
    EXPECT_EQ(sourceFailures(), 0);
    // Positive control: a wrong code spaced the same way is refused, and counts once.
    const std::string wrong = wrongCode();
    r = pam("", "alice", wrong.substr(0, 3) + " " + wrong.substr(3) + "\n");
    EXPECT_EQ(r.exitCode, 1) << describe(r);
    EXPECT_EQ(lastPamEvent().value("reason", ""), "bad_code");
    EXPECT_EQ(sourceFailures(), 1);
}

}  // namespace
}  // namespace portcullis::test
