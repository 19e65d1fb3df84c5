// Issue 13, forwards limited to named destinations (SPEC §16 `grant ...
// --allow forward --forward-to HOST:PORT[,...]`), end to end with the stock
// ssh client's stdio forward (`ssh -W HOST:PORT`, a direct-tcpip channel):
// an allowed destination is reached (the target's own sshd answers with its
// banner), one outside the list is refused and audited with the patterns, a
// DNS name never passes an address pattern, and `policy check --to` agrees.
#include <chrono>
#include <string>

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
using namespace std::chrono_literals;

class GatewayForwardToTest : public portcullis::test::SingleTargetTest {
  protected:
    static constexpr const char* kUser = "fwd1";

    void SetUp() override { setUpTarget(kUser); }

    ProcessResult cli(std::vector<std::string> args) {
        std::vector<std::string> argv{PORTCULLIS_CLI, "--state-dir",
                                      gw_->stateDir().root().string()};
        argv.insert(argv.end(), args.begin(), args.end());
        ProcessOptions options;
        options.timeout = 20s;
        return runProcess(argv, options);
    }

    // `ssh -W DEST` through the gateway; what the destination said first.
    ProcessResult forward(const std::string& destination) {
        SshCall c;
        c.user = std::string(kUser) + ":box";
        c.key = key_;
        c.code = gw_->recoveryCodes(kUser).at(next_++);
        c.extraArgs = {"-W", destination};
        c.input = "";  // stdin closed: the forward ends after the banner
        c.timeout = 20s;
        c.logLevel = "INFO";  // shows "open failed"
        return gw_->ssh(c);
    }

    std::size_t next_ = 0;
};

TEST_F(GatewayForwardToTest, OnlyTheNamedDestinationsAreReached) {
    const std::string sshd = std::to_string(sshd_->port());
    // The grant of setUpTarget allows shell,exec only; this one allows
    // forwards to the target's own sshd (an address glob) and to a name.
    auto r = cli({"grant", kUser, "box", "--allow", "forward", "--forward-to",
                  "127.0.0.*:" + sshd + ",db.internal.example:5432"});
    ASSERT_EQ(r.exitCode, 0) << describe(r);
    EXPECT_THAT(r.out, HasSubstr("forward to 127.0.0.*:" + sshd + ",db.internal.example:5432"));
    gw_->start();

    // Positive control: an allowed destination answers through the forward.
    const auto allowed = forward("127.0.0.1:" + sshd);
    EXPECT_TRUE(contains(allowed.out, "SSH-2.0-OpenSSH")) << describe(allowed);

    // Another port on the same host: refused, nothing reached.
    const std::string other = "127.0.0.1:" + std::to_string(gw_->port());
    const auto refused = forward(other);
    EXPECT_NE(refused.exitCode, 0) << describe(refused);
    EXPECT_FALSE(contains(refused.out, "SSH-2.0")) << describe(refused);
    EXPECT_TRUE(contains(refused.err, "open failed")) << describe(refused);

    // A name that reaches the same sshd never passes an address pattern.
    const auto byName = forward("localhost:" + sshd);
    EXPECT_NE(byName.exitCode, 0) << describe(byName);
    EXPECT_FALSE(contains(byName.out, "SSH-2.0")) << describe(byName);

    // Audited: the refused destinations with the allowed patterns (written
    // by the gateway's store sequence, possibly after ssh exited).
    const auto refusals = gw_->awaitAudit("forward.refused", 2);
    ASSERT_EQ(refusals.size(), 2u);
    EXPECT_EQ(refusals[0].event.details.value("destination", ""), "127.0.0.1");
    EXPECT_EQ(refusals[0].event.details.value("destination_port", 0), gw_->port());
    EXPECT_EQ(refusals[0].event.details["allowed_destinations"],
              json({"127.0.0.*:" + sshd, "db.internal.example:5432"}));
    EXPECT_EQ(refusals[1].event.details.value("destination", ""), "localhost");
    bool decisionNamesIt = false;
    for (const auto& rec : gw_->audit("policy.decision")) {
        if (rec.event.details.value("destination", "") == other) {
            decisionNamesIt = true;
            EXPECT_FALSE(rec.event.details.value("allowed", true));
            EXPECT_THAT(rec.event.details["reasons"].dump(), HasSubstr("not in [127.0.0.*:"));
        }
    }
    EXPECT_TRUE(decisionNamesIt);
    EXPECT_EQ(gw_->audit("forward.open").size(), 1u);

    // policy check --to agrees with the gateway.
    r = cli({"policy", "check", kUser, "box", "--channel", "forward", "--to", "127.0.0.1:" + sshd});
    EXPECT_EQ(r.exitCode, 0) << describe(r);
    r = cli({"policy", "check", kUser, "box", "--channel", "forward", "--to", other});
    EXPECT_EQ(r.exitCode, 1) << describe(r);
    EXPECT_THAT(r.out, HasSubstr("destination " + other + " not in"));
    r = cli({"policy", "check", kUser, "box", "--channel", "forward", "--to",
             "db.internal.example:5432"});
    EXPECT_EQ(r.exitCode, 0) << describe(r);
    r = cli({"policy", "check", kUser, "box", "--channel", "forward"});
    EXPECT_EQ(r.exitCode, 0) << describe(r);
    EXPECT_THAT(r.out, HasSubstr("may reach only"));
    r = cli({"policy", "check", kUser, "box", "--to", other});
    EXPECT_EQ(r.exitCode, 2) << describe(r);  // --to without --channel forward
}

}  // namespace
}  // namespace portcullis::gateway::test
