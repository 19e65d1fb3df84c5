// Adversarial end-to-end tests (issue 12 finding 2): a connection that passed
// both factors and then parks (no channel, or a shell left open), while an
// administrator takes the account's access away. A hostile paramiko client
// (tests/e2e/clients/adversarial_client.py) against the real portcullisd, the
// real CLI and a real sshd target. Before: such a connection had no limit and
// outlived `user disable`, `user key remove`, `user totp reset` and
// `user remove` (one code opened ControlMaster sessions for days).
#include <signal.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/e2e/support/adversarial_client.hpp"
#include "tests/e2e/support/gateway_fixture.hpp"
#include "tests/e2e/support/sshd_fixture.hpp"

namespace portcullis::gateway::test {
namespace {

using portcullis::test::contains;
using portcullis::test::describe;
using portcullis::test::GatewayFixture;
using portcullis::test::paramikoMissing;
using portcullis::test::ProcessResult;
using portcullis::test::runAdversarialClient;
using portcullis::test::runProcess;
using portcullis::test::SshdFixture;

class AdversarialParkedTest : public ::testing::Test {
  protected:
    void SetUp() override {
        const auto missing = paramikoMissing();
        ASSERT_TRUE(missing.empty()) << missing;
        gw_ = std::make_unique<GatewayFixture>();
        sshd_ = std::make_unique<SshdFixture>(gw_->upstreamPublicKey());
        gw_->addTarget("box", sshd_->port(), "root", sshd_->hostKeyLine());
        for (const char* name : {"alice", "bob"}) {
            keys_[name] = gw_->newKey(name);
            gw_->addUser(name, keys_[name].string() + ".pub");
            gw_->grant(name, "box");
        }
    }
    void TearDown() override {
        if (HasFailure() && gw_) std::cerr << "---- portcullisd log ----\n" << gw_->log() << "\n";
    }
    // The CLI's argv for one administrator command on this store, as JSON.
    std::string cli(const std::vector<std::string>& args) const {
        nlohmann::json argv = {PORTCULLIS_CLI, "--state-dir", gw_->stateDir().root().string()};
        for (const auto& a : args) argv.push_back(a);
        return argv.dump();
    }
    // alice parks a connection (with a shell when `shell`), then `action` runs.
    // Codes are single-use per step: a second park in the same test takes the next one.
    ProcessResult park(const std::string& action, bool shell, double openFor, double closeWithin,
                       int codeOffset = 0) {
        std::vector<std::string> args{"--port",         std::to_string(gw_->port()),
                                      "--user",         "alice:box",
                                      "--key",          keys_["alice"].string(),
                                      "--code",         gw_->code("alice", codeOffset),
                                      "--next-code",    gw_->code("alice", codeOffset + 1),
                                      "--close-within", std::to_string(closeWithin)};
        if (!action.empty()) args.insert(args.end(), {"--action", action});
        if (shell) args.push_back("--shell");
        if (openFor > 0) args.insert(args.end(), {"--open-for", std::to_string(openFor)});
        return runAdversarialClient("parked", args);
    }
    std::vector<db::AuditRecord> events(const std::string& type, std::size_t atLeast,
                                        std::chrono::seconds wait = std::chrono::seconds(10)) {
        std::vector<db::AuditRecord> out;
        const auto deadline = std::chrono::steady_clock::now() + wait;
        do {
            out = gw_->audit(type);
            if (out.size() >= atLeast) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        } while (std::chrono::steady_clock::now() < deadline);
        return out;
    }
    std::string fingerprint(const std::string& name) {
        const auto r =
            runProcess({"ssh-keygen", "-l", "-E", "sha256", "-f", keys_[name].string() + ".pub"});
        const auto from = r.out.find("SHA256:");
        return from == std::string::npos ? "" : r.out.substr(from, r.out.find(' ', from) - from);
    }

    std::unique_ptr<GatewayFixture> gw_;
    std::unique_ptr<SshdFixture> sshd_;
    std::map<std::string, std::filesystem::path> keys_;
};

// An authenticated connection with no channel is closed after
// unused_connection_timeout (default 15m; 3s here), and audited; it is still
// open before that (positive control).
TEST_F(AdversarialParkedTest, ConnectionWithoutChannelIsClosedAfterTheUnusedTimeout) {
    gw_->start("[limits]\nunused_connection_timeout = 3s\n");
    const auto r = park("", false, 1.5, 8);
    ASSERT_FALSE(r.timedOut) << describe(r);
    EXPECT_TRUE(contains(r.out, "OK parked.still_open")) << r.out;
    EXPECT_TRUE(contains(r.out, "OK parked.closed")) << r.out;
    const auto unused = events("connection.unused", 1);
    ASSERT_EQ(unused.size(), 1u);
    EXPECT_EQ(unused[0].event.details.value("account", ""), "alice");
    EXPECT_TRUE(contains(unused[0].event.details.value("reason", ""), "no channel open for 3s"));
}

// A connection with a shell open is not "unused": it outlives the timeout.
TEST_F(AdversarialParkedTest, ConnectionWithAShellOutlivesTheUnusedTimeout) {
    gw_->start("[limits]\nunused_connection_timeout = 2s\n");
    const auto r = park("", true, 4, 0.1);
    ASSERT_FALSE(r.timedOut) << describe(r);
    EXPECT_TRUE(contains(r.out, "OK parked.still_open")) << r.out;
    EXPECT_TRUE(gw_->audit("connection.unused").empty());
}

// `user disable` ends a parked connection (no session open) within the
// re-check interval, audited with the cause. An unrelated account's change
// leaves it alone (positive control).
TEST_F(AdversarialParkedTest, DisablingTheAccountEndsAParkedConnection) {
    gw_->start("[limits]\nrecheck_interval = 2s\n");
    const auto control = park(cli({"user", "disable", "bob"}), false, 4, 0.1);
    EXPECT_TRUE(contains(control.out, "ACTION exit=0")) << control.out;
    EXPECT_TRUE(contains(control.out, "OK parked.still_open")) << control.out;
    EXPECT_TRUE(gw_->audit("connection.revoked").empty());

    const auto r = park(cli({"user", "disable", "alice"}), false, 0, 5, 1);
    ASSERT_FALSE(r.timedOut) << describe(r);
    EXPECT_TRUE(contains(r.out, "ACTION exit=0")) << r.out;
    EXPECT_TRUE(contains(r.out, "OK parked.closed")) << r.out;
    const auto revoked = events("connection.revoked", 1);
    ASSERT_EQ(revoked.size(), 1u);
    EXPECT_TRUE(contains(revoked[0].event.details.value("reason", ""), "alice was disabled"))
        << revoked[0].event.details.dump();
}

// `user key remove` of the key the connection logged in with ends its live
// shell (session.revoked, naming the key).
TEST_F(AdversarialParkedTest, RemovingTheKeyEndsALiveShell) {
    gw_->start("[limits]\nrecheck_interval = 2s\n");
    const auto fp = fingerprint("alice");
    ASSERT_FALSE(fp.empty());
    // (A connection with channels lingers up to 5 s for the client to leave.)
    const auto r = park(cli({"user", "key", "remove", "alice", fp}), true, 0, 10);
    ASSERT_FALSE(r.timedOut) << describe(r);
    EXPECT_TRUE(contains(r.out, "ACTION exit=0")) << r.out;
    EXPECT_TRUE(contains(r.out, "OK parked.closed")) << r.out;
    const auto revoked = events("session.revoked", 1);
    ASSERT_EQ(revoked.size(), 1u);
    EXPECT_TRUE(contains(revoked[0].event.details.value("reason", ""),
                         "key " + fp + " is no longer registered"))
        << revoked[0].event.details.dump();
    EXPECT_EQ(gw_->countSessions("alice", "revoked"), 1);
}

// `user totp reset` and `user remove` end parked connections too.
TEST_F(AdversarialParkedTest, ResettingTotpOrRemovingTheAccountEndsParkedConnections) {
    gw_->start("[limits]\nrecheck_interval = 2s\n");
    const auto reset = park(cli({"user", "totp", "reset", "alice"}), false, 0, 5);
    EXPECT_TRUE(contains(reset.out, "ACTION exit=0")) << reset.out;
    EXPECT_TRUE(contains(reset.out, "OK parked.closed")) << reset.out;
    auto revoked = events("connection.revoked", 1);
    ASSERT_EQ(revoked.size(), 1u);
    EXPECT_TRUE(contains(revoked[0].event.details.value("reason", ""), "TOTP enrollment"))
        << revoked[0].event.details.dump();

    // bob parks, then is removed.
    std::vector<std::string> args{
        "--port",      std::to_string(gw_->port()),   "--user",         "bob:box",
        "--key",       keys_["bob"].string(),         "--code",         gw_->code("bob"),
        "--next-code", gw_->code("bob", 1),           "--close-within", "5",
        "--action",    cli({"user", "remove", "bob"})};
    const auto removed = runAdversarialClient("parked", args);
    EXPECT_TRUE(contains(removed.out, "ACTION exit=0")) << removed.out;
    EXPECT_TRUE(contains(removed.out, "OK parked.closed")) << removed.out;
    revoked = events("connection.revoked", 2);
    ASSERT_EQ(revoked.size(), 2u);
    EXPECT_TRUE(contains(revoked[1].event.details.value("reason", ""), "bob was removed"))
        << revoked[1].event.details.dump();
}

// The CLI asks the daemon over control.sock to re-check the account's
// connections (op recheck): `user disable` ends a parked connection at once,
// long before the 30 s interval.
TEST_F(AdversarialParkedTest, DisablingWithTheCliEndsItAtOnce) {
    gw_->start("[limits]\nrecheck_interval = 30s\n");
    const auto r = park(cli({"--json", "user", "disable", "alice"}), false, 0, 3);
    ASSERT_FALSE(r.timedOut) << describe(r);
    EXPECT_TRUE(contains(r.out, "\"live_connections_rechecked\": 1")) << r.out;
    EXPECT_TRUE(contains(r.out, "OK parked.closed")) << r.out;
    EXPECT_EQ(events("connection.revoked", 1).size(), 1u);
}

// A re-check that cannot read the store is retried; three misses in a row
// end the session (fail closed, audited). Two do not (positive control).
// (A write lock would not do: in WAL mode readers go on reading past it; the
// fault here is a store that answers with errors: its accounts table gone.)
TEST_F(AdversarialParkedTest, ThreeRecheckMissesInARowEndTheSession) {
    gw_->start("[limits]\nrecheck_interval = 2s\n");
    const auto db = (gw_->stateDir().root() / "portcullis.db").string();
    auto breakStoreFor = [&](const std::string& seconds) {
        return nlohmann::json{"/usr/bin/python3", "-c",
                              "import sqlite3,sys,time; c=sqlite3.connect(sys.argv[1], "
                              "isolation_level=None, timeout=10); "
                              "c.execute('ALTER TABLE accounts RENAME TO accounts_away'); "
                              "time.sleep(float(sys.argv[2])); "
                              "c.execute('ALTER TABLE accounts_away RENAME TO accounts')",
                              db, seconds}
            .dump();
    };
    // Re-checks every 2 s, retried 1 s after a miss: 1.5 s of errors make two at most.
    const auto brief = park(breakStoreFor("1.5"), true, 3, 0.1);
    EXPECT_TRUE(contains(brief.out, "ACTION exit=0")) << brief.out;
    EXPECT_TRUE(contains(brief.out, "OK parked.still_open")) << brief.out;
    EXPECT_TRUE(gw_->audit("session.recheck_failed").empty());

    const auto r = park(breakStoreFor("8"), true, 0, 10, 1);
    ASSERT_FALSE(r.timedOut) << describe(r);
    EXPECT_TRUE(contains(r.out, "ACTION exit=0")) << r.out;
    EXPECT_TRUE(contains(r.out, "OK parked.closed")) << r.out;
    const auto failed = events("session.recheck_failed", 1);
    ASSERT_EQ(failed.size(), 1u);
    EXPECT_EQ(failed[0].event.details.value("account", ""), "alice");
    EXPECT_TRUE(contains(failed[0].event.details.value("reason", ""), "3 times in a row"))
        << failed[0].event.details.dump();
    EXPECT_EQ(gw_->countSessions("alice", "revoked"), 1);
}

}  // namespace
}  // namespace portcullis::gateway::test
