// What a user sees while logging in through the gateway with the stock ssh
// client (issue 13, "the login"): why a code was refused, the login grace
// time running out. Every call has a deadline.
#include <chrono>
#include <string>
#include <thread>

#include <gtest/gtest.h>

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
using portcullis::test::writeFile;

class GatewayLoginTest : public SingleTargetTest {
  protected:
    // As the user sees it: LogLevel INFO (OpenSSH's default) shows banners.
    ProcessResult login(const std::string& user, const std::string& code,
                        const std::filesystem::path& key = {}) {
        SshCall call;
        call.user = user;
        call.key = key.empty() ? key_ : key;
        call.code = code;
        call.command = "echo in-$((6*7))";
        call.logLevel = "INFO";
        return gw_->ssh(call);
    }
    std::string wrongCode() const {
        for (const char* c : {"000000", "111111", "222222", "333333", "444444"}) {
            bool valid = false;
            for (int offset = -2; offset <= 3; ++offset) valid |= gw_->code("carol", offset) == c;
            if (!valid) return c;
        }
        return "555555";
    }
};

// A wrong code and a code replayed within its 30 s step each say so, on the
// line before the next prompt; the right code gets in (positive control).
TEST_F(GatewayLoginTest, RefusedCodesSayWhy) {
    setUpTarget("carol");
    gw_->start();
    auto r = login("carol:box", wrongCode());
    EXPECT_EQ(r.exitCode, 255) << describe(r);
    EXPECT_TRUE(contains(r.err, "portcullis: wrong code")) << describe(r);

    const auto code = gw_->code("carol");
    r = login("carol:box", code);
    ASSERT_EQ(r.exitCode, 0) << describe(r);
    EXPECT_EQ(r.out, "in-42\n");
    EXPECT_FALSE(contains(r.err, "portcullis:")) << describe(r);
    // The usual case: a second ssh/scp within the same step.
    r = login("carol:box", code);
    EXPECT_EQ(r.exitCode, 255) << describe(r);
    EXPECT_TRUE(contains(r.err, "portcullis: that code was already used; wait for the next one"))
        << describe(r);
}

// A locked account is told until when and who can unlock it, once its key is
// proven; before the key, a locked account and an unknown one look the same.
TEST_F(GatewayLoginTest, LockedAccountIsToldUntilWhenOnlyAfterItsKey) {
    setUpTarget("carol");
    gw_->db().exec(
        "UPDATE accounts SET locked_until = strftime('%s','now') + 900, failures = 5 "
        "WHERE name = 'carol'");
    gw_->start();
    auto r = login("carol:box", gw_->code("carol"));
    EXPECT_EQ(r.exitCode, 255) << describe(r);
    EXPECT_TRUE(contains(r.err, "portcullis: account carol is locked until ")) << describe(r);
    EXPECT_TRUE(contains(r.err, " UTC; ask an administrator (portcullis user unlock carol)"))
        << describe(r);

    // Without carol's key (a stranger's key), carol and a name nobody has
    // read the same: no line from the gateway at all.
    const auto stranger = gw_->newKey("stranger");
    const auto asCarol = login("carol:box", gw_->code("carol"), stranger);
    const auto asGhost = login("ghost:box", gw_->code("carol"), stranger);
    EXPECT_EQ(asCarol.exitCode, 255);
    EXPECT_EQ(asGhost.exitCode, 255);
    EXPECT_FALSE(contains(asCarol.err, "portcullis:")) << describe(asCarol);
    auto carolErr = asCarol.err;
    carolErr.replace(carolErr.find("carol:box"), 9, "ghost:box");
    EXPECT_EQ(carolErr, asGhost.err);
}

// The login grace time (default 60s) ends with a message that says so and
// what to do; a login within it works (positive control).
TEST_F(GatewayLoginTest, GraceTimeRunningOutIsSaid) {
    setUpTarget("carol");
    gw_->start("[limits]\nlogin_grace_time = 3s\n");
    auto r = login("carol:box", gw_->code("carol"));
    ASSERT_EQ(r.exitCode, 0) << describe(r);

    // A person still looking for the phone: the code comes after 5 s.
    const auto slow = gw_->dir() / "askpass-slow";
    writeFile(slow, "#!/bin/sh\nsleep 5\necho " + gw_->code("carol", 1) + "\n", 0700);
    SshCall call;
    call.user = "carol:box";
    call.key = key_;
    call.command = "echo in";
    call.logLevel = "INFO";
    ProcessOptions options;
    options.env = gw_->sshEnv(slow);
    options.unsetEnv = {"SSH_AUTH_SOCK"};
    options.newSession = true;
    options.timeout = std::chrono::seconds(30);
    r = runProcess(gw_->sshArgs(call), options);
    EXPECT_EQ(r.exitCode, 255) << describe(r);
    EXPECT_TRUE(contains(r.err, "Login grace time exceeded: both factors must be given within 3s"))
        << describe(r);
}

}  // namespace
}  // namespace portcullis::gateway::test
