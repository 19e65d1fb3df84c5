// How a live session ends, as its user sees it (issue 13, "limits and
// refusals"): the end of an access window gets the same notices as the time
// limit and names the window; a terminal shows, before the target's first
// output, the grant, the end at the latest and that it is recorded; a
// revocation names only what concerns the session, and a session whose
// grant is revoked goes on under another grant that still allows it, with
// that grant's limits.
#include <chrono>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "db/grants.hpp"
#include "tests/e2e/support/gateway_fixture.hpp"
#include "tests/e2e/support/single_target_test.hpp"

namespace portcullis::gateway::test {
namespace {

using portcullis::test::contains;
using portcullis::test::describe;
using portcullis::test::ProcessOptions;
using portcullis::test::ProcessResult;
using portcullis::test::runProcess;
using portcullis::test::SingleTargetTest;
using portcullis::test::SshCall;

class SessionEndTest : public SingleTargetTest {
  protected:
    void SetUp() override {
        gw_ = std::make_unique<portcullis::test::GatewayFixture>();
        sshd_ = std::make_unique<portcullis::test::SshdFixture>(gw_->upstreamPublicKey());
        gw_->addTarget("box", sshd_->port(), "root", sshd_->hostKeyLine());
        key_ = gw_->newKey("erin");
        gw_->addUser("erin", key_.string() + ".pub");
    }
    std::int64_t grant(std::optional<std::string> window, Seconds maxSession,
                       const std::string& channels = "shell,exec") {
        db::Grant g;
        g.subject = "erin";
        g.targetPattern = "box";
        g.channels = *db::parseChannels(channels);
        g.window = std::move(window);
        g.maxSession = maxSession;
        g.createdBy = "test";
        auto added = db::Grants(gw_->db()).add(g, systemNow());
        EXPECT_TRUE(added) << added.error();
        return added ? added->id : 0;
    }
    bool waitForAudit(const std::string& type, const std::string& key, const std::string& part,
                      std::chrono::seconds within) {
        const auto deadline = std::chrono::steady_clock::now() + within;
        while (std::chrono::steady_clock::now() < deadline) {
            for (const auto& e : gw_->audit(type))
                if (contains(e.event.details.value(key, ""), part)) return true;
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        return false;
    }
};

// Before: the end of a window cut a live session with no warning, and the
// message listed every unrelated grant's reasons. Now: notices, then an end
// that names the window (session.expired).
TEST_F(SessionEndTest, AWindowsCloseGetsNoticesAndIsNamed) {
    // A window that opened an hour ago and closes at the next whole minute at
    // least 15 s away.
    const auto now = systemNow();
    auto close = std::chrono::ceil<std::chrono::minutes>(now + Seconds(15));
    const auto open = std::chrono::floor<std::chrono::minutes>(now - std::chrono::hours(1));
    const auto hhmm = [](auto t) {
        return formatIso8601(std::chrono::time_point_cast<Seconds>(t)).substr(11, 5);
    };
    const std::string window = "Mon-Sun " + hhmm(open) + "-" +
                               (hhmm(close) == "00:00" ? std::string("24:00") : hhmm(close)) +
                               " UTC";
    const auto id = grant(window, std::chrono::hours(4));
    gw_->start();
    SshCall call;
    call.user = "erin:box";
    call.key = key_;
    call.code = gw_->code("erin");
    call.command = "echo started; sleep 150; echo late";
    call.timeout = std::chrono::seconds(120);
    const auto r = gw_->ssh(call);
    EXPECT_FALSE(r.timedOut) << describe(r);
    EXPECT_EQ(r.exitCode, 255) << describe(r);
    EXPECT_TRUE(contains(r.out, "started")) << describe(r);
    EXPECT_FALSE(contains(r.out, "late")) << describe(r);
    const std::string cause = "the window " + window + " of grant #" + std::to_string(id);
    EXPECT_TRUE(contains(r.err, "this session ends in ")) << describe(r);
    EXPECT_TRUE(contains(r.err, "(" + cause + " closes)")) << describe(r);
    EXPECT_TRUE(contains(r.err, cause + " closed; closing")) << describe(r);
    EXPECT_TRUE(
        waitForAudit("session.expired", "reason", cause + " closed", std::chrono::seconds(10)));
    EXPECT_LT(systemNow(), close + Seconds(10)) << "ended late";
}

// A terminal shows the grant, the end at the latest and that it is recorded.
TEST_F(SessionEndTest, ATerminalSessionStartsWithItsGrantAndEnd) {
    const auto id = grant(std::nullopt, std::chrono::hours(2));
    gw_->start();
    SshCall call;
    call.user = "erin:box";
    call.key = key_;
    call.code = gw_->code("erin");
    call.command = "echo in-$((6*7))";
    call.extraArgs = {"-tt"};
    const auto r = gw_->ssh(call);
    EXPECT_EQ(r.exitCode, 0) << describe(r);
    EXPECT_TRUE(contains(
        r.out, "portcullis: erin as root on box under grant #" + std::to_string(id) + "; ends "))
        << describe(r);
    EXPECT_TRUE(contains(r.out, " at the latest (time limit 2h); this session is recorded"))
        << describe(r);
    EXPECT_LT(r.out.find("portcullis: erin"), r.out.find("in-42")) << describe(r);
}

// Two grants allow the session; the governing one (#2, longer) is revoked:
// the session goes on under #1, with #1's limits. Then #1 is revoked too:
// the session ends, and the reason names #1 only (not the sftp-only grant).
TEST_F(SessionEndTest, RevokingTheGoverningGrantFallsBackThenNamesOnlyItsOwnReason) {
    const auto shorter = grant(std::nullopt, std::chrono::hours(1));
    const auto longer = grant(std::nullopt, std::chrono::hours(2));
    const auto unrelated = grant(std::nullopt, std::chrono::hours(8), "sftp");
    gw_->start("[limits]\nrecheck_interval = 1s\n");
    const auto cli = [&](const std::vector<std::string>& args) {
        std::vector<std::string> argv{PORTCULLIS_CLI, "--state-dir",
                                      gw_->stateDir().root().string()};
        argv.insert(argv.end(), args.begin(), args.end());
        return runProcess(argv);
    };
    std::thread admin([&] {
        std::this_thread::sleep_for(std::chrono::seconds(3));
        EXPECT_EQ(cli({"revoke", std::to_string(longer)}).exitCode, 0);
        waitForAudit("session.regranted", "account", "erin", std::chrono::seconds(10));
        EXPECT_EQ(cli({"revoke", std::to_string(shorter)}).exitCode, 0);
    });
    SshCall call;
    call.user = "erin:box";
    call.key = key_;
    call.code = gw_->code("erin");
    call.command = "echo started; sleep 60";
    call.timeout = std::chrono::seconds(60);
    const auto r = gw_->ssh(call);
    admin.join();
    EXPECT_EQ(r.exitCode, 255) << describe(r);
    EXPECT_TRUE(contains(r.err, "access revoked: grant #" + std::to_string(shorter) + ": revoked"))
        << describe(r);
    EXPECT_FALSE(contains(r.err, "grant #" + std::to_string(unrelated))) << describe(r);
    EXPECT_FALSE(contains(r.err, "grant #" + std::to_string(longer))) << describe(r);
    bool regranted = false;
    for (const auto& e : gw_->audit("session.regranted")) {
        regranted |= e.event.details.value("from_grant_id", 0) == longer &&
                     e.event.details.value("grant_id", 0) == shorter &&
                     e.event.details.value("max_session_s", 0) == 3600;
    }
    EXPECT_TRUE(regranted);
}

}  // namespace
}  // namespace portcullis::gateway::test
