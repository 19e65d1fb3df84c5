// Gateway commands (SPEC §11; issue 13 "users cannot see their own access"):
// `ssh -p 2222 alice@gw targets` with the stock ssh client, after both
// factors; anything else on a connection without a target is a one-line
// refusal, and nothing is ever run by a shell.
#include <chrono>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "db/grants.hpp"
#include "tests/e2e/support/gateway_fixture.hpp"
#include "tests/e2e/support/single_target_test.hpp"

namespace portcullis::gateway::test {
namespace {

using portcullis::test::contains;
using portcullis::test::describe;
using portcullis::test::ProcessResult;
using portcullis::test::SingleTargetTest;
using portcullis::test::SshCall;

class GatewayCommandsTest : public SingleTargetTest {
  protected:
    ProcessResult run(const std::string& user, const std::string& command, int codeOffset) {
        SshCall call;
        call.user = user;
        call.key = key_;
        call.code = gw_->code("dave", codeOffset);
        call.command = command;
        return gw_->ssh(call);
    }
    std::vector<db::AuditRecord> commandEvents(std::size_t atLeast) {
        std::vector<db::AuditRecord> out;
        for (int i = 0; i < 200; ++i) {
            out = gw_->audit("gateway.command");
            if (out.size() >= atLeast) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(25));
        }
        return out;
    }
};

TEST_F(GatewayCommandsTest, TargetsListsWhatTheAccountMayReachNowAndLater) {
    setUpTarget("dave");  // grant: box, shell+exec, no window
    // A second grant that is not usable now: a one-minute window 12 h away.
    const auto later = std::chrono::floor<std::chrono::hours>(systemNow()) + std::chrono::hours(12);
    const auto hhmm = formatIso8601(later).substr(11, 5);
    const auto end = formatIso8601(later + std::chrono::hours(1)).substr(11, 5);
    db::Grant g;
    g.subject = "dave";
    g.targetPattern = "box";
    g.logins = {"operator"};
    g.channels = {db::Channel::shell};
    g.window = "Mon-Sun " + hhmm + "-" + (end == "00:00" ? std::string("24:00") : end) + " UTC";
    g.createdBy = "test";
    ASSERT_TRUE(db::Grants(gw_->db()).add(g, systemNow()));
    gw_->start();

    auto r = run("dave", "targets", 0);
    ASSERT_EQ(r.exitCode, 0) << describe(r);
    EXPECT_TRUE(contains(r.out, "what dave may reach")) << r.out;
    EXPECT_TRUE(contains(r.out, "box  as root  shell,exec  now")) << r.out;
    EXPECT_TRUE(contains(r.out, "box  as operator  shell  not now; opens ")) << r.out;
    EXPECT_TRUE(contains(r.out, "no approval needed")) << r.out;

    r = run("dave", "targets --json", 1);
    ASSERT_EQ(r.exitCode, 0) << describe(r);
    const auto json = nlohmann::json::parse(r.out);
    ASSERT_EQ(json.size(), 2u) << r.out;
    EXPECT_EQ(json[0]["target"], "box");
    EXPECT_EQ(json[0]["usable_now"], true);
    EXPECT_EQ(json[1]["usable_now"], false);
    EXPECT_TRUE(json[1]["next_change"].is_string());

    const auto events = commandEvents(2);
    ASSERT_EQ(events.size(), 2u);
    EXPECT_EQ(events[0].event.details.value("command", ""), "targets");
    EXPECT_EQ(events[0].event.details.value("result", ""), "success");
    EXPECT_EQ(events[1].event.details["args"], nlohmann::json::array({"--json"}));
    EXPECT_TRUE(gw_->audit("session.start").empty());  // nothing reached the target
}

// An unknown command, and shell syntax, are refused in one line with exit 1,
// audited, and never reach a target or a shell; the same account's exec on
// its target works (positive control).
TEST_F(GatewayCommandsTest, AnythingElseIsRefusedAndNeverRunByAShell) {
    setUpTarget("dave");
    gw_->start();
    // Three logins: the gateway accepts the steps either side of now, each once, in order.
    auto r = run("dave", "targets; touch /tmp/portcullis-pwned", -1);
    EXPECT_EQ(r.exitCode, 1) << describe(r);
    EXPECT_TRUE(contains(r.err,
                         "portcullis: unknown command \"targets;\"; gateway commands: "
                         "targets; to reach a target, connect as dave:TARGET or "
                         "dave:LOGIN@TARGET (targets you may reach now: box)"))
        << describe(r);
    EXPECT_EQ(r.out, "");
    EXPECT_FALSE(std::filesystem::exists("/tmp/portcullis-pwned"));

    r = run("dave", "echo 'unterminated", 0);
    EXPECT_EQ(r.exitCode, 1) << describe(r);
    EXPECT_TRUE(contains(r.err, "portcullis: cannot read the command: unterminated single quote"))
        << describe(r);

    const auto events = commandEvents(2);
    ASSERT_EQ(events.size(), 2u);
    for (const auto& e : events) EXPECT_EQ(e.event.details.value("result", ""), "failure");
    EXPECT_TRUE(gw_->audit("session.start").empty());

    SshCall call;
    call.user = "dave:box";
    call.key = key_;
    call.code = gw_->code("dave", 1);
    call.command = "echo on-target";
    r = gw_->ssh(call);
    EXPECT_EQ(r.exitCode, 0) << describe(r);
    EXPECT_EQ(r.out, "on-target\n");
}

}  // namespace
}  // namespace portcullis::gateway::test
