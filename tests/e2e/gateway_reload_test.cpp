// SIGHUP reloads portcullisd's configuration (issue "gateway", systemd's
// ExecReload): new limits apply to the next sessions, a bad file changes
// nothing, and the gateway keeps serving on its port throughout.
#include <signal.h>

#include <chrono>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "tests/e2e/support/single_target_test.hpp"

namespace portcullis::gateway::test {
namespace {

using portcullis::test::contains;
using portcullis::test::describe;
using portcullis::test::SshCall;
using portcullis::test::writeFile;

class ReloadTest : public portcullis::test::SingleTargetTest {
  protected:
    void SetUp() override { setUpTarget("reload1"); }

    SshCall call(const std::string& command, const std::string& code) {
        SshCall c;
        c.user = "reload1:box";
        c.key = key_;
        c.command = command;
        c.code = code;
        return c;
    }
    void reloadWith(const std::string& config) {
        writeFile(gw_->dir() / "portcullisd.ini", config, 0600);
        ASSERT_EQ(::kill(gw_->pid(), SIGHUP), 0);
    }
    bool logged(const std::string& event) {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        while (std::chrono::steady_clock::now() < deadline) {
            if (contains(gw_->log(), "event=" + event)) return true;
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        return false;
    }
};

TEST_F(ReloadTest, NewLimitsApplyToTheNextSessionAndABadFileChangesNothing) {
    gw_->start("[limits]\nmax_session = 1h\n");

    // A bad file: refused, logged, and the running configuration stays.
    reloadWith("[limits]\nmax_session = soon\n");
    ASSERT_TRUE(logged("config.reload_failed")) << gw_->log();
    const auto kept = gw_->ssh(call("sleep 3; echo finished", gw_->code("reload1")));
    EXPECT_EQ(kept.exitCode, 0) << describe(kept);
    EXPECT_TRUE(contains(kept.out, "finished")) << describe(kept);

    // A good one: the next session gets the new ceiling (2 s).
    reloadWith("[limits]\nmax_session = 2s\n");
    ASSERT_TRUE(logged("config.reloaded")) << gw_->log();
    auto c = call("echo started; sleep 10; echo late", gw_->recoveryCodes("reload1").at(0));
    const auto start = std::chrono::steady_clock::now();
    const auto cut = gw_->ssh(c);
    EXPECT_TRUE(contains(cut.out, "started")) << describe(cut);
    EXPECT_FALSE(contains(cut.out, "late")) << describe(cut);
    EXPECT_TRUE(contains(cut.err, "time limit")) << describe(cut);
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(8));
    EXPECT_FALSE(gw_->audit("gateway.config_reloaded").empty());
}

TEST_F(ReloadTest, WhatNeedsARestartIsKeptAndSaid) {
    gw_->start("[server]\nthreads = 2\n");
    reloadWith("[server]\nthreads = 3\n[algorithms]\nciphers = aes256-gcm@openssh.com\n");
    ASSERT_TRUE(logged("config.reloaded")) << gw_->log();
    EXPECT_TRUE(contains(gw_->log(), "needs_restart=threads,algorithms")) << gw_->log();
    // Still serving, with the algorithms it started with.
    const auto r = gw_->ssh(call("echo alive", gw_->code("reload1")));
    EXPECT_EQ(r.exitCode, 0) << describe(r);
    EXPECT_TRUE(contains(r.out, "alive"));
}

}  // namespace
}  // namespace portcullis::gateway::test
