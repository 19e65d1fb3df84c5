// Adversarial end-to-end tests (issue 12): a granted user reaching past the
// grant on one connection. A hostile paramiko client
// (tests/e2e/clients/adversarial_client.py) against the real portcullisd and
// two real sshd targets; every case first proves the legitimate path.
#include <signal.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "db/accounts.hpp"
#include "tests/e2e/support/adversarial_client.hpp"
#include "tests/e2e/support/gateway_fixture.hpp"
#include "tests/e2e/support/sshd_fixture.hpp"

namespace portcullis::gateway::test {
namespace {

using portcullis::test::contains;
using portcullis::test::describe;
using portcullis::test::GatewayFixture;
using portcullis::test::paramikoMissing;
using portcullis::test::runAdversarialClient;
using portcullis::test::SshdFixture;

class AdversarialEscalationTest : public ::testing::Test {
  protected:
    void SetUp() override {
        const auto missing = paramikoMissing();
        ASSERT_TRUE(missing.empty()) << missing;
        gw_ = std::make_unique<GatewayFixture>();
        boxA_ = std::make_unique<SshdFixture>(gw_->upstreamPublicKey());
        boxB_ = std::make_unique<SshdFixture>(gw_->upstreamPublicKey());
        gw_->addTarget("boxA", boxA_->port(), "root", boxA_->hostKeyLine());
        gw_->addTarget("boxB", boxB_->port(), "root", boxB_->hostKeyLine());
        key_ = gw_->newKey("alice");
        gw_->addUser("alice", key_.string() + ".pub");
    }
    void TearDown() override {
        if (HasFailure() && gw_) std::cerr << "---- portcullisd log ----\n" << gw_->log() << "\n";
    }
    std::vector<std::string> login(const std::string& user) {
        return {"--port",      std::to_string(gw_->port()),
                "--user",      user,
                "--key",       key_.string(),
                "--code",      gw_->code("alice"),
                "--next-code", gw_->code("alice", 1)};
    }
    // Audit events of `type` for alice, waiting for at least `atLeast`.
    std::vector<db::AuditRecord> events(const std::string& type, std::size_t atLeast) {
        std::vector<db::AuditRecord> out;
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        do {
            out = gw_->audit(type);
            if (out.size() >= atLeast) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        } while (std::chrono::steady_clock::now() < deadline);
        return out;
    }

    std::unique_ptr<GatewayFixture> gw_;
    std::unique_ptr<SshdFixture> boxA_;
    std::unique_ptr<SshdFixture> boxB_;
    std::filesystem::path key_;
};

// Issue 12 finding 1 (cross-target escalation, high): one connection as
// `alice` opened two pty shells; the first menu chose boxA (grant: shell
// only), the second boxB (grant: everything). Every later exec, sftp and
// direct-tcpip channel was decided against boxB but ran on boxA's upstream.
// Now the first choice binds the connection: the second menu's boxB is
// refused, later channels are decided for boxA, and nothing runs elsewhere.
TEST_F(AdversarialEscalationTest, SecondMenuCannotLendAnotherTargetsGrant) {
    gw_->grant("alice", "boxA", {}, "shell");
    gw_->grant("alice", "boxB", {}, "shell,exec,sftp,forward");
    gw_->start();
    auto args = login("alice");
    for (const auto& extra :
         {std::vector<std::string>{"--target-a", "boxA", "--target-b", "boxB"},
          std::vector<std::string>{"--port-a", std::to_string(boxA_->port()), "--port-b",
                                   std::to_string(boxB_->port())}}) {
        args.insert(args.end(), extra.begin(), extra.end());
    }
    const auto r = runAdversarialClient("cross-target", args);
    ASSERT_FALSE(r.timedOut) << describe(r);
    // The positive control: boxB named directly does allow exec, on boxB.
    EXPECT_TRUE(contains(r.out, "OK control.exec_on_b")) << r.out;
    EXPECT_TRUE(contains(r.out, "OK first_shell_on_a")) << r.out;
    EXPECT_TRUE(contains(r.out, "OK second_menu_refused")) << r.out;
    EXPECT_TRUE(contains(r.out, "OK exec_refused")) << r.out;
    EXPECT_TRUE(contains(r.out, "OK sftp_refused")) << r.out;
    EXPECT_TRUE(contains(r.out, "OK forward_refused")) << r.out;
    EXPECT_TRUE(contains(r.out, "OK third_shell_on_a")) << r.out;
    EXPECT_TRUE(contains(r.out, "OK first_shell_still_on_a")) << r.out;
    EXPECT_EQ(r.exitCode, 0) << describe(r);

    // The audit names the target each decision really ran on: the only
    // allowed decision for boxB is the control's exec.
    gw_->stop(SIGTERM, std::chrono::seconds(10));
    int allowedB = 0, refusedB = 0;
    for (const auto& e : gw_->audit("policy.decision")) {
        const auto& d = e.event.details;
        if (d.value("target", "") != "boxB") continue;
        (d.value("allowed", false) ? allowedB : refusedB) += 1;
    }
    EXPECT_EQ(allowedB, 1);
    EXPECT_GE(refusedB, 1) << "the second menu's choice was not audited as refused";
    // Two sessions: the control's on boxB and the hostile one on boxA.
    EXPECT_EQ(gw_->countSessions("alice", "closed"), 2);
    std::map<std::string, int> sessionsByTarget;
    for (const auto& e : gw_->audit("session.start"))
        ++sessionsByTarget[e.event.details.value("target", "")];
    EXPECT_EQ(sessionsByTarget["boxA"], 1);
    EXPECT_EQ(sessionsByTarget["boxB"], 1);
}

// Issue 12 finding 6: a direct-tcpip destination that is too long or not a
// valid host name is refused (and audited), never truncated; a valid one on
// the same connection is relayed (positive control).
TEST_F(AdversarialEscalationTest, InvalidForwardDestinationsRefusedWhole) {
    gw_->grant("alice", "boxA", {}, "shell,exec,forward");
    gw_->start();
    auto args = login("alice:boxA");
    args.insert(args.end(), {"--target-port", std::to_string(boxA_->port())});
    const auto r = runAdversarialClient("forward-invalid", args);
    ASSERT_FALSE(r.timedOut) << describe(r);
    for (const char* name : {"too_long", "control_char", "long_label", "newline"})
        EXPECT_TRUE(contains(r.out, std::string("OK destination_") + name)) << r.out;
    EXPECT_TRUE(contains(r.out, "OK destination_valid")) << r.out;
    EXPECT_EQ(r.exitCode, 0) << describe(r);
    const auto refused = events("forward.refused", 4);
    ASSERT_EQ(refused.size(), 4u);
    for (const auto& e : refused) {
        EXPECT_EQ(e.event.details.value("reason", ""), "invalid destination");
        EXPECT_GT(e.event.details.value("destination_length", 0), 0);
    }
    // Only the valid destination was opened.
    EXPECT_EQ(events("forward.open", 1).size(), 1u);
}

// gssapi-with-mic (a method libssh negotiates by itself) never gets in,
// before or after the key; a login in order follows (positive control).
TEST_F(AdversarialEscalationTest, GssapiRefusedBeforeAndAfterTheKey) {
    gw_->grant("alice", "boxA");
    gw_->start();
    const auto r = runAdversarialClient("gssapi", login("alice:boxA"));
    ASSERT_FALSE(r.timedOut) << describe(r);
    EXPECT_TRUE(contains(r.out, "OK gssapi_before_key:")) << r.out;
    EXPECT_TRUE(contains(r.out, "OK gssapi_before_key.methods")) << r.out;
    EXPECT_TRUE(contains(r.out, "OK gssapi_after_key:")) << r.out;
    EXPECT_TRUE(contains(r.out, "OK after.command")) << r.out;
    EXPECT_EQ(r.exitCode, 0) << describe(r);
}

// Issue 12 finding 9: one SSH key registered to two accounts (a store from
// before the one-key-one-account rule, or edited by hand) proves neither
// person: the key step fails for both, audited as key_shared. Before the
// copy, alice gets in with it (positive control).
TEST_F(AdversarialEscalationTest, AKeyHeldByTwoAccountsProvesNobody) {
    gw_->grant("alice", "boxA");
    gw_->start();
    portcullis::test::SshCall call;
    call.user = "alice:boxA";
    call.key = key_;
    call.code = gw_->code("alice");
    call.command = "echo in";
    auto r = gw_->ssh(call);
    ASSERT_EQ(r.exitCode, 0) << describe(r);
    ASSERT_TRUE(db::Accounts(gw_->db()).add("bob", "", "", systemNow()));
    gw_->db().exec(
        "INSERT INTO ssh_keys (account_id, type, blob, fingerprint, comment, created_at) "
        "SELECT (SELECT id FROM accounts WHERE name = 'bob'), type, blob, fingerprint, "
        "'copied', created_at FROM ssh_keys WHERE account_id = "
        "(SELECT id FROM accounts WHERE name = 'alice')");
    call.code = gw_->code("alice", 1);
    r = gw_->ssh(call);
    EXPECT_EQ(r.exitCode, 255) << describe(r);
    const auto refused = events("auth.publickey", 3);
    bool shared = false;
    for (const auto& e : refused) shared |= e.event.details.value("reason", "") == "key_shared";
    EXPECT_TRUE(shared);
}

}  // namespace
}  // namespace portcullis::gateway::test
