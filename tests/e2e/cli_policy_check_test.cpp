// `portcullis policy check` says what a session would really get (issue 13):
// the grant that governs it among several, the real end (the earliest of
// max-session, the window's close and the expiry), when a closed window
// opens, and a note when the account could not log in at all.
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/process.hpp"

namespace portcullis::test {
namespace {

class PolicyCheckTest : public ::testing::Test {
  protected:
    void SetUp() override {
        ASSERT_EQ(cli({"init"}).exitCode, 0);
        ASSERT_EQ(cli({"user", "add", "alice"}).exitCode, 0);
        ASSERT_EQ(cli({"target", "add", "cosigner-1", "--host", "10.0.0.5", "--host-key",
                       "ssh-ed25519 "
                       "AAAAC3NzaC1lZDI1NTE5AAAAIKGW642Ikkm7zbDcShfVVUP7iOZcHclzqor67VviN5B7"})
                      .exitCode,
                  0);
    }
    ProcessResult cli(const std::vector<std::string>& args) {
        std::vector<std::string> argv{PORTCULLIS_CLI, "--state-dir",
                                      (dir_.path() / "state").string()};
        argv.insert(argv.end(), args.begin(), args.end());
        return runProcess(argv);
    }
    TempDir dir_{"portcullis-policy-check"};
};

TEST_F(PolicyCheckTest, NamesTheGoverningGrantAndTheRealEnd) {
    // A: 8h but only until 12:00 on weekdays; B: 4h, always. At 10:00 on a Wednesday,
    // B lets a session run longer (14:00 against 12:00) and governs it.
    ASSERT_EQ(cli({"grant", "alice", "cosigner-1", "--max-session", "8h", "--window",
                   "Mon-Fri 08:00-12:00 UTC"})
                  .exitCode,
              0);
    ASSERT_EQ(cli({"grant", "alice", "cosigner-1", "--max-session", "4h"}).exitCode, 0);
    auto r = cli({"policy", "check", "alice", "root@cosigner-1", "--at", "2026-11-25T10:00:00Z"});
    EXPECT_EQ(r.exitCode, 0) << describe(r);
    EXPECT_TRUE(contains(r.out,
                         "allowed: alice as root@cosigner-1 (shell) by grant #2, max "
                         "session 4h, idle timeout 15m"))
        << r.out;
    EXPECT_TRUE(contains(r.out,
                         "ends by 2026-11-25T14:00:00Z at the latest (time limit 4h); "
                         "grant #2 governs it, the most generous of 2 matching grants"))
        << r.out;
    // At 11:00 on a Saturday only B matches; at 11:00 Wednesday after B is revoked, A's window.
    ASSERT_EQ(cli({"revoke", "2"}).exitCode, 0);
    r = cli(
        {"--json", "policy", "check", "alice", "root@cosigner-1", "--at", "2026-11-25T11:00:00Z"});
    EXPECT_EQ(r.exitCode, 0) << describe(r);
    const auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["grant_id"], 1);
    EXPECT_EQ(j["ends_at"], "2026-11-25T12:00:00Z");
    EXPECT_EQ(j["ends_by_cause"], "the window Mon-Fri 08:00-12:00 UTC of grant #1 closes");
    // Outside the window: denied, and said when it opens.
    r = cli({"policy", "check", "alice", "root@cosigner-1", "--at", "2026-11-28T11:00:00Z"});
    EXPECT_EQ(r.exitCode, 1) << describe(r);
    EXPECT_TRUE(contains(r.out, "allowed from 2026-11-30T08:00:00Z (a window opens)")) << r.out;
}

// Before: `policy check` said "allowed" for an account that cannot log in.
TEST_F(PolicyCheckTest, AccountThatCannotLogInGetsANote) {
    ASSERT_EQ(cli({"grant", "alice", "cosigner-1"}).exitCode, 0);
    auto r = cli({"policy", "check", "alice", "root@cosigner-1"});
    EXPECT_EQ(r.exitCode, 0) << describe(r);
    EXPECT_TRUE(contains(r.out, "note: alice cannot log in yet: no SSH key is registered"))
        << r.out;
    EXPECT_TRUE(contains(r.out,
                         "note: alice cannot log in yet: no TOTP authenticator is enrolled "
                         "(portcullis user totp enroll alice)"))
        << r.out;
    // Positive control: with a key and TOTP, no note.
    const auto key = dir_.path() / "k";
    ASSERT_EQ(
        runProcess({"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key.string()}).exitCode,
        0);
    ASSERT_EQ(cli({"user", "key", "add", "alice", "--file", key.string() + ".pub"}).exitCode, 0);
    ASSERT_EQ(cli({"user", "totp", "enroll", "alice"}).exitCode, 0);
    r = cli({"policy", "check", "alice", "root@cosigner-1"});
    EXPECT_EQ(r.exitCode, 0) << describe(r);
    EXPECT_FALSE(contains(r.out, "note:")) << r.out;
}

}  // namespace
}  // namespace portcullis::test
