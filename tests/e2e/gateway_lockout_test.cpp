// End-to-end test of the TOTP lock-out (SPEC §3, §8) through the real daemon,
// the stock OpenSSH client and the real admin CLI: 5 wrong codes lock the
// account; then even the right code (and a recovery code) is refused with the
// same message as a wrong code; `account.locked` is audited; `portcullis user
// unlock` lets a fresh correct code in again. Every call has a deadline.
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/e2e/support/gateway_fixture.hpp"
#include "tests/e2e/support/single_target_test.hpp"
#include "tests/e2e/support/sshd_fixture.hpp"

namespace portcullis::gateway::test {
namespace {

using portcullis::test::contains;
using portcullis::test::describe;
using portcullis::test::GatewayFixture;
using portcullis::test::ProcessOptions;
using portcullis::test::ProcessResult;
using portcullis::test::runProcess;
using portcullis::test::SingleTargetTest;
using portcullis::test::SshCall;
using portcullis::test::SshdFixture;
using portcullis::test::writeFile;

class GatewayLockoutTest : public SingleTargetTest {
  protected:
    void SetUp() override {
        setUpTarget("erin");
        // The defaults that matter here, spelled out: 5 failures, 15 minutes,
        // 6 attempts per connection, 20 failures per source.
        gw_->start(
            "[limits]\nmax_auth_tries = 6\n"
            "[lockout]\nmax_failures = 5\nlockout = 15m\nmax_source_failures = 20\n");
    }

    // The stock ssh client answering each "Verification code: " prompt with
    // the next of `codes` (OpenSSH asks up to NumberOfPasswordPrompts times
    // in one connection).
    ProcessResult sshWithCodes(const std::vector<std::string>& codes, const std::string& command) {
        const int n = ++calls_;
        const auto dir = gw_->dir();
        const auto list = dir / ("codes" + std::to_string(n));
        const auto counter = dir / ("counter" + std::to_string(n));
        const auto script = dir / ("askpass-seq" + std::to_string(n));
        std::string lines;
        for (const auto& c : codes) lines += c + "\n";
        writeFile(list, lines, 0600);
        writeFile(script,
                  "#!/bin/sh\n"
                  "n=$(cat '" +
                      counter.string() +
                      "' 2>/dev/null || echo 0)\n"
                      "n=$((n + 1))\n"
                      "echo \"$n\" > '" +
                      counter.string() +
                      "'\n"
                      "sed -n \"${n}p\" '" +
                      list.string() + "'\n",
                  0700);
        SshCall call;
        call.user = "erin:box";
        call.key = key_;
        call.command = command;
        auto argv = gw_->sshArgs(call);
        // ssh keeps the first value of an option: replace the fixture's one prompt.
        std::replace(argv.begin(), argv.end(), std::string("NumberOfPasswordPrompts=1"),
                     "NumberOfPasswordPrompts=" + std::to_string(codes.size()));
        ProcessOptions options;
        options.env = gw_->sshEnv(script);
        options.unsetEnv = {"SSH_AUTH_SOCK"};
        options.newSession = true;
        options.timeout = std::chrono::seconds(60);
        return runProcess(argv, options);
    }

    // auth.totp / auth.recovery events for erin, waiting for at least `atLeast`.
    std::vector<db::AuditRecord> codeEvents(std::size_t atLeast) {
        std::vector<db::AuditRecord> out;
        for (int i = 0; i < 500; ++i) {
            out.clear();
            for (const auto* type : {"auth.totp", "auth.recovery"}) {
                for (auto& r : gw_->audit(type)) {
                    if (r.event.details.value("account", "") == "erin") out.push_back(r);
                }
            }
            if (out.size() >= atLeast) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        std::sort(out.begin(), out.end(),
                  [](const db::AuditRecord& a, const db::AuditRecord& b) { return a.id < b.id; });
        return out;
    }

    // A six-digit code the gateway would not accept now (none of the window's codes).
    std::string wrongCode(int salt) const {
        for (int i = 0;; ++i) {
            std::string c(6, static_cast<char>('0' + (salt + i) % 10));
            bool valid = false;
            for (int offset = -2; offset <= 3; ++offset) valid |= gw_->code("erin", offset) == c;
            if (!valid) return c;
        }
    }

    ProcessResult cli(const std::vector<std::string>& args) {
        std::vector<std::string> argv{PORTCULLIS_CLI, "--state-dir",
                                      gw_->stateDir().root().string()};
        argv.insert(argv.end(), args.begin(), args.end());
        ProcessOptions options;
        options.timeout = std::chrono::seconds(30);
        return runProcess(argv, options);
    }

    int calls_ = 0;
};

TEST_F(GatewayLockoutTest, FiveWrongCodesLockUntilUnlock) {
    // A legitimate login works first: every refusal below is a real refusal.
    auto r = sshWithCodes({gw_->code("erin")}, "echo in-$((6*7))");
    ASSERT_EQ(r.exitCode, 0) << describe(r);
    ASSERT_EQ(r.out, "in-42\n") << describe(r);

    // Three wrong codes in one connection (within max_auth_tries).
    r = sshWithCodes({wrongCode(1), wrongCode(2), wrongCode(3)}, "echo should-not-run");
    EXPECT_FALSE(r.timedOut) << describe(r);
    EXPECT_EQ(r.exitCode, 255) << describe(r);
    EXPECT_FALSE(contains(r.out, "should-not-run"));
    ASSERT_EQ(codeEvents(4).size(), 4u) << "the client did not answer three prompts";

    // The fourth, alone: its message is the reference "wrong code" message.
    const auto wrong = sshWithCodes({wrongCode(4)}, "echo should-not-run");
    EXPECT_EQ(wrong.exitCode, 255) << describe(wrong);
    EXPECT_TRUE(contains(wrong.err, "Permission denied")) << describe(wrong);
    ASSERT_EQ(codeEvents(5).size(), 5u);
    {
        auto st = cli({"--json", "user", "show", "erin"});
        ASSERT_EQ(st.exitCode, 0) << describe(st);
        EXPECT_EQ(nlohmann::json::parse(st.out).value("locked", true), false) << st.out;
    }

    // The fifth locks the account.
    r = sshWithCodes({wrongCode(5)}, "echo should-not-run");
    EXPECT_EQ(r.exitCode, 255) << describe(r);
    EXPECT_EQ(r.err, wrong.err);
    auto events = codeEvents(6);
    ASSERT_EQ(events.size(), 6u);
    EXPECT_EQ(events[0].event.details.value("result", ""), "success");
    for (std::size_t i = 1; i < 5; ++i) {
        EXPECT_EQ(events[i].event.details.value("reason", ""), "bad_code") << i;
    }
    EXPECT_EQ(events[5].event.details.value("result", ""), "failure");
    EXPECT_EQ(events[5].event.details.value("reason", ""), "locked");
    std::vector<db::AuditRecord> locked;
    for (int i = 0; i < 250 && locked.empty(); ++i) {
        locked = gw_->audit("account.locked");
        if (locked.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ASSERT_EQ(locked.size(), 1u);
    EXPECT_EQ(locked[0].event.details.value("account", ""), "erin");
    EXPECT_EQ(locked[0].event.details.value("failures", 0), 5);
    EXPECT_EQ(locked[0].event.details.value("lockout_seconds", 0), 900);
    EXPECT_EQ(locked[0].event.source, "127.0.0.1");
    {
        auto st = cli({"--json", "user", "show", "erin"});
        ASSERT_EQ(st.exitCode, 0) << describe(st);
        EXPECT_EQ(nlohmann::json::parse(st.out).value("locked", false), true) << st.out;
    }

    // Now even the right code is refused, with the very same message.
    const auto right = gw_->code("erin", 1);
    r = sshWithCodes({right}, "echo should-not-run");
    EXPECT_FALSE(r.timedOut) << describe(r);
    EXPECT_EQ(r.exitCode, 255) << describe(r);
    EXPECT_FALSE(contains(r.out, "should-not-run"));
    EXPECT_EQ(r.err, wrong.err) << "a locked account must look like a wrong code";
    // And so is an unused recovery code.
    const auto recovery = gw_->recoveryCodes("erin").front();
    r = sshWithCodes({recovery}, "echo should-not-run");
    EXPECT_EQ(r.exitCode, 255) << describe(r);
    EXPECT_EQ(r.err, wrong.err);
    events = codeEvents(8);
    ASSERT_EQ(events.size(), 8u);
    for (std::size_t i = 6; i < 8; ++i) {
        EXPECT_EQ(events[i].event.details.value("result", ""), "failure") << i;
        EXPECT_EQ(events[i].event.details.value("reason", ""), "locked") << i;
    }
    // Neither the right code nor the recovery code appears in any event.
    for (const auto& e : events) {
        EXPECT_FALSE(contains(e.event.details.dump(), right));
        EXPECT_FALSE(contains(e.event.details.dump(), recovery));
    }
    EXPECT_EQ(gw_->audit("account.locked").size(), 1u);  // locked once, not re-locked

    // The admin unlocks with the real CLI.
    r = cli({"user", "unlock", "erin"});
    ASSERT_EQ(r.exitCode, 0) << describe(r);
    EXPECT_EQ(gw_->audit("admin.user.unlock").size(), 1u);
    {
        auto st = cli({"--json", "user", "show", "erin"});
        ASSERT_EQ(st.exitCode, 0) << describe(st);
        EXPECT_EQ(nlohmann::json::parse(st.out).value("locked", true), false) << st.out;
    }

    // A fresh correct code gets in again; so does the recovery code refused while locked.
    r = sshWithCodes({gw_->code("erin", 1)}, "echo again-$((6*7))");
    EXPECT_EQ(r.exitCode, 0) << describe(r);
    EXPECT_EQ(r.out, "again-42\n") << describe(r);
    r = sshWithCodes({recovery}, "echo recovered");
    EXPECT_EQ(r.exitCode, 0) << describe(r);
    EXPECT_EQ(r.out, "recovered\n") << describe(r);
    events = codeEvents(10);
    ASSERT_EQ(events.size(), 10u);
    EXPECT_EQ(events[8].event.details.value("reason", ""), "accepted_totp");
    EXPECT_EQ(events[9].event.details.value("reason", ""), "accepted_recovery");
    EXPECT_TRUE(gw_->running());
}

// Wrong codes that stop short of the limit do not lock, and a success resets
// the count (the failures must be consecutive).
TEST_F(GatewayLockoutTest, SuccessResetsTheCount) {
    auto r = sshWithCodes({wrongCode(1), wrongCode(2), wrongCode(3)}, "true");
    EXPECT_EQ(r.exitCode, 255) << describe(r);
    r = sshWithCodes({wrongCode(4)}, "true");
    EXPECT_EQ(r.exitCode, 255) << describe(r);
    ASSERT_EQ(codeEvents(4).size(), 4u);
    // Four failures, then the right code: in.
    r = sshWithCodes({gw_->code("erin")}, "echo in");
    ASSERT_EQ(r.exitCode, 0) << describe(r);
    // Four more failures: still not locked (the count restarted).
    r = sshWithCodes({wrongCode(5), wrongCode(6), wrongCode(7), wrongCode(8)}, "true");
    EXPECT_EQ(r.exitCode, 255) << describe(r);
    ASSERT_EQ(codeEvents(9).size(), 9u);
    r = sshWithCodes({gw_->code("erin", 1)}, "echo in-again");
    EXPECT_EQ(r.exitCode, 0) << describe(r);
    EXPECT_EQ(r.out, "in-again\n") << describe(r);
    EXPECT_TRUE(gw_->audit("account.locked").empty());
}

}  // namespace
}  // namespace portcullis::gateway::test
