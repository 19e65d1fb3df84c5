// Issue 13, locks for incident response (SPEC §16) and kill reasons, end to
// end: the real CLI locks a user, a target or a source; the real portcullisd
// ends the live sessions it concerns within a second (the CLI asks for a
// re-check over control.sock) and refuses new ones, showing the stock ssh
// client the reason, until the lock expires or is removed. Every refusal has
// a positive control beside it (the same login without the lock, or by
// someone the lock does not name).
#include <chrono>
#include <future>
#include <string>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/e2e/support/single_target_test.hpp"

namespace portcullis::gateway::test {
namespace {

using nlohmann::json;
using portcullis::test::contains;
using portcullis::test::describe;
using portcullis::test::ProcessOptions;
using portcullis::test::ProcessResult;
using portcullis::test::runProcess;
using portcullis::test::SshCall;
using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

class GatewayLocksTest : public portcullis::test::SingleTargetTest {
  protected:
    static constexpr const char* kUser = "lena";
    static constexpr const char* kOther = "omar";

    void SetUp() override {
        setUpTarget(kUser);
        otherKey_ = gw_->newKey(kOther);
        gw_->addUser(kOther, otherKey_.string() + ".pub");
        gw_->grant(kOther, "box");
    }

    ProcessResult cli(std::vector<std::string> args) {
        std::vector<std::string> argv{PORTCULLIS_CLI, "--state-dir",
                                      gw_->stateDir().root().string()};
        argv.insert(argv.end(), args.begin(), args.end());
        ProcessOptions options;
        options.env["SUDO_USER"] = "incident-lead";
        options.timeout = 20s;
        return runProcess(argv, options);
    }

    // A login with a fresh one-time code (each TOTP step is accepted once),
    // at log level INFO so that the gateway's banner lines are shown.
    SshCall call(const std::string& account, const std::string& command) {
        SshCall c;
        c.user = account + ":box";
        c.key = account == kUser ? key_ : otherKey_;
        c.code = gw_->recoveryCodes(account).at(nextCode_[account]++);
        c.command = command;
        c.timeout = 40s;
        c.logLevel = "INFO";
        return c;
    }

    // A session running `sleep 30`, once the daemon lists it; its id.
    std::future<ProcessResult> liveSession(const std::string& account, std::string& id) {
        const auto c = call(account, "echo started; sleep 30; echo late");
        auto session = std::async(std::launch::async, [this, c] { return gw_->ssh(c); });
        const auto deadline = Clock::now() + 20s;
        while (Clock::now() < deadline && id.empty()) {
            const auto r = cli({"--json", "session", "list", "--active", "--user", account});
            if (r.exitCode == 0) {
                const auto list = json::parse(r.out);
                if (list.is_array() && !list.empty()) id = list[0]["id"];
            }
            if (id.empty()) std::this_thread::sleep_for(50ms);
        }
        std::this_thread::sleep_for(300ms);  // "started" reached the client
        return session;
    }

    std::string status(const std::string& id) {
        for (int i = 0; i < 100; ++i) {
            const auto r = cli({"--json", "session", "show", id});
            if (r.exitCode == 0) {
                const auto s = json::parse(r.out).value("status", "");
                if (s != "active") return s;
            }
            std::this_thread::sleep_for(50ms);
        }
        return "active";
    }

    std::vector<db::AuditRecord> auditedFor(const std::string& type, const std::string& account) {
        std::vector<db::AuditRecord> out;
        for (auto& r : gw_->audit(type))
            if (r.event.details.value("account", "") == account) out.push_back(r);
        return out;
    }

    std::int64_t lockAdd(std::vector<std::string> args) {
        std::vector<std::string> argv{"--json", "lock", "add"};
        argv.insert(argv.end(), args.begin(), args.end());
        const auto r = cli(argv);
        EXPECT_EQ(r.exitCode, 0) << describe(r);
        if (r.exitCode != 0) return 0;
        const auto out = json::parse(r.out);
        // The daemon was asked at once, and answered.
        EXPECT_TRUE(out["live_connections_rechecked"].is_number_integer()) << r.out;
        return out.value("id", 0);
    }

    std::filesystem::path otherKey_;
    std::map<std::string, std::size_t> nextCode_;
};

// A user lock ends that user's live session within a second, with the reason
// on the client's terminal, audited session.locked; the user's next login is
// refused once the key is proven, with the reason; another user is untouched;
// removing the lock lets the user in again.
TEST_F(GatewayLocksTest, UserLockEndsTheLiveSessionAndRefusesLoginsUntilRemoved) {
    gw_->start();
    std::string id;
    auto session = liveSession(kUser, id);
    ASSERT_FALSE(id.empty()) << gw_->log();
    std::string otherId;
    auto other = liveSession(kOther, otherId);
    ASSERT_FALSE(otherId.empty()) << gw_->log();

    const auto start = Clock::now();
    const auto lockId = lockAdd({"user", kUser, "--reason", "INC-42: laptop reported stolen"});
    ASSERT_GT(lockId, 0);
    const auto ended = session.get();
    const auto took = Clock::now() - start;
    std::cerr << "[ info ] lock add to session end: "
              << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms\n";
    EXPECT_LT(took, 1500ms) << "a user lock must end the session within a second";
    EXPECT_NE(ended.exitCode, 0) << describe(ended);
    EXPECT_TRUE(contains(ended.out, "started")) << describe(ended);
    EXPECT_FALSE(contains(ended.out, "late")) << describe(ended);
    EXPECT_TRUE(contains(ended.err,
                         "portcullis: lena is locked by an administrator: INC-42: laptop reported "
                         "stolen"))
        << describe(ended);
    EXPECT_EQ(status(id), "locked");
    const auto locked = auditedFor("session.locked", kUser);
    ASSERT_EQ(locked.size(), 1u);
    EXPECT_EQ(locked[0].event.details.value("session_id", ""), id);
    EXPECT_EQ(locked[0].event.details.value("lock_id", 0), lockId);
    EXPECT_EQ(locked[0].event.details.value("lock_reason", ""), "INC-42: laptop reported stolen");
    const auto added = gw_->audit("admin.lock.add");
    ASSERT_EQ(added.size(), 1u);
    EXPECT_EQ(added[0].event.actor, "incident-lead");

    // The other user's session goes on (the recheck was for lena only).
    std::this_thread::sleep_for(500ms);
    EXPECT_EQ(
        cli({"--json", "session", "show", otherId}).out.find("\"active\"") != std::string::npos,
        true);

    // A new login: refused after the key, with the reason (not "wrong code").
    const auto refused = gw_->ssh(call(kUser, "echo should-not-run"));
    EXPECT_NE(refused.exitCode, 0) << describe(refused);
    EXPECT_FALSE(contains(refused.out, "should-not-run"));
    EXPECT_TRUE(contains(refused.err, "lena is locked by an administrator: INC-42"))
        << describe(refused);
    const auto attempts = auditedFor("auth.locked", kUser);
    ASSERT_FALSE(attempts.empty());
    EXPECT_EQ(attempts.back().event.details.value("reason", ""), "user_locked");
    EXPECT_EQ(attempts.back().event.details.value("method", ""), "publickey");
    // Positive control: the other user logs in meanwhile.
    const auto ok = gw_->ssh(call(kOther, "echo other-ok"));
    EXPECT_EQ(ok.exitCode, 0) << describe(ok);
    EXPECT_EQ(ok.out, "other-ok\n");

    // lock list shows it; remove it, and lena is in again.
    auto r = cli({"lock", "list"});
    EXPECT_EQ(r.exitCode, 0) << describe(r);
    EXPECT_THAT(r.out, HasSubstr("user lena"));
    r = cli({"lock", "remove", std::to_string(lockId)});
    EXPECT_EQ(r.exitCode, 0) << describe(r);
    const auto again = gw_->ssh(call(kUser, "echo back-in"));
    EXPECT_EQ(again.exitCode, 0) << describe(again);
    EXPECT_EQ(again.out, "back-in\n");
    EXPECT_EQ(gw_->audit("admin.lock.remove").size(), 1u);
    r = cli({"session", "kill", otherId});
    EXPECT_EQ(r.exitCode, 0) << describe(r);
    other.get();
}

// A target lock ends every live session on it and refuses the decision, with
// the reason; a lock given --for ends by itself (no action needed).
TEST_F(GatewayLocksTest, TargetLockEndsSessionsOnItAndExpiresByItself) {
    gw_->start();
    std::string id;
    auto session = liveSession(kUser, id);
    ASSERT_FALSE(id.empty()) << gw_->log();
    const auto start = Clock::now();
    ASSERT_GT(lockAdd({"target", "box", "--reason", "suspected compromise", "--for", "6s"}), 0);
    const auto ended = session.get();
    EXPECT_LT(Clock::now() - start, 1500ms);
    EXPECT_TRUE(contains(ended.err,
                         "portcullis: target box is locked by an administrator: suspected "
                         "compromise"))
        << describe(ended);
    EXPECT_EQ(status(id), "locked");

    // Both factors pass; the decision refuses, naming the lock.
    const auto refused = gw_->ssh(call(kOther, "echo should-not-run"));
    EXPECT_EQ(refused.exitCode, 1) << describe(refused);
    EXPECT_TRUE(contains(refused.err,
                         "portcullis: target box is locked by an administrator: suspected "
                         "compromise"))
        << describe(refused);
    bool decisionAudited = false;
    for (const auto& rec : auditedFor("policy.decision", kOther))
        decisionAudited = decisionAudited || rec.event.details.contains("lock_id");
    EXPECT_TRUE(decisionAudited);
    // policy check says the same.
    auto r = cli({"policy", "check", kOther, "box"});
    EXPECT_EQ(r.exitCode, 1) << describe(r);
    EXPECT_THAT(r.out, HasSubstr("target box is locked by an administrator"));

    // Expired: the same login works, nobody removed it.
    std::this_thread::sleep_for(6s - (Clock::now() - start) + 500ms);
    const auto ok = gw_->ssh(call(kOther, "echo after-expiry"));
    EXPECT_EQ(ok.exitCode, 0) << describe(ok);
    EXPECT_EQ(ok.out, "after-expiry\n");
    r = cli({"--json", "lock", "list", "--all"});
    ASSERT_EQ(r.exitCode, 0) << describe(r);
    EXPECT_EQ(json::parse(r.out)[0].value("status", ""), "expired");
    r = cli({"--json", "lock", "list"});
    EXPECT_EQ(json::parse(r.out), json::array());
}

// A source lock refuses before authentication: one banner line with the
// reason, then failure, audited; live sessions from there end. A lock on
// another range is the positive control.
TEST_F(GatewayLocksTest, SourceLockRefusesBeforeAuthenticationAndEndsLiveSessions) {
    gw_->start();
    ASSERT_GT(lockAdd({"source", "192.0.2.0/24", "--reason", "not us"}), 0);
    std::string id;
    auto session = liveSession(kUser, id);  // 127.0.0.1 is not in 192.0.2.0/24
    ASSERT_FALSE(id.empty()) << gw_->log();

    const auto start = Clock::now();
    const auto lockId = lockAdd({"source", "127.0.0.1", "--reason", "credential stuffing"});
    const auto ended = session.get();
    EXPECT_LT(Clock::now() - start, 1500ms);
    EXPECT_TRUE(contains(ended.err,
                         "connections from 127.0.0.1 are locked by an administrator: credential "
                         "stuffing"))
        << describe(ended);
    EXPECT_EQ(status(id), "locked");

    const auto refused = gw_->ssh(call(kOther, "echo should-not-run"));
    EXPECT_EQ(refused.exitCode, 255) << describe(refused);
    EXPECT_TRUE(contains(refused.err,
                         "portcullis: connections from 127.0.0.1 are locked by an "
                         "administrator: credential stuffing"))
        << describe(refused);
    const auto attempts = auditedFor("auth.locked", kOther);
    ASSERT_EQ(attempts.size(), 1u);
    EXPECT_EQ(attempts[0].event.details.value("reason", ""), "source_locked");
    EXPECT_EQ(attempts[0].event.details.value("lock_id", 0), lockId);
    EXPECT_EQ(attempts[0].event.details.value("method", ""), "none");
    // Nothing about the account was looked at: no key check was audited.
    EXPECT_TRUE(auditedFor("auth.publickey", kOther).empty());

    ASSERT_EQ(cli({"lock", "remove", std::to_string(lockId)}).exitCode, 0);
    const auto ok = gw_->ssh(call(kOther, "echo source-ok"));
    EXPECT_EQ(ok.exitCode, 0) << describe(ok);
    EXPECT_EQ(ok.out, "source-ok\n");
}

// `session kill --reason`: the user reads the reason, the chain keeps it.
TEST_F(GatewayLocksTest, KillReasonIsShownToTheUserAndAudited) {
    gw_->start();
    std::string id;
    auto session = liveSession(kUser, id);
    ASSERT_FALSE(id.empty()) << gw_->log();
    const auto r = cli({"session", "kill", id, "--reason", "emergency maintenance, back at 14:00"});
    EXPECT_EQ(r.exitCode, 0) << describe(r);
    const auto ended = session.get();
    EXPECT_TRUE(contains(ended.err,
                         "portcullis: session terminated by an administrator: emergency "
                         "maintenance, back at 14:00"))
        << describe(ended);
    EXPECT_EQ(status(id), "killed");
    const auto kills = gw_->audit("session.kill");
    ASSERT_EQ(kills.size(), 1u);
    EXPECT_EQ(kills[0].event.details.value("kill_reason", ""),
              "emergency maintenance, back at 14:00");
    EXPECT_EQ(kills[0].event.actor, "incident-lead");
    // A reason that would act on the terminal is refused by the CLI (usage).
    const auto bad = cli({"session", "kill", id, "--reason", "a\x1b[2Jb"});
    EXPECT_EQ(bad.exitCode, 2) << describe(bad);
}

}  // namespace
}  // namespace portcullis::gateway::test
