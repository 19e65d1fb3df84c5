// One daemon per state directory (SPEC §10; issue 12 finding 6): a second
// portcullisd on the same state directory used to mark the live daemon's
// session aborted (and seal its recording mid-write) before failing to bind.
// Now it takes an instance lock before it touches the store, and exits with a
// clear line; the live session is untouched.
#include <signal.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <string>

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
using portcullis::test::runAdversarialClient;
using portcullis::test::SshdFixture;

TEST(GatewayInstanceTest, SecondDaemonOnTheSameStateDirTouchesNothing) {
    ASSERT_TRUE(paramikoMissing().empty()) << paramikoMissing();
    GatewayFixture gw;
    SshdFixture sshd(gw.upstreamPublicKey());
    gw.addTarget("box", sshd.port(), "root", sshd.hostKeyLine());
    const auto key = gw.newKey("alice");
    gw.addUser("alice", key.string() + ".pub");
    gw.grant("alice", "box");
    gw.start();

    // While alice's shell is live, a second daemon is started on the same
    // state directory and port; then the store is read directly.
    const auto root = gw.stateDir().root().string();
    const auto script = gw.dir() / "second_daemon.sh";
    {
        std::ofstream out(script);
        out << "#!/bin/sh\n\"" << PORTCULLISD << "\" --state-dir \"" << root
            << "\" --listen 127.0.0.1:" << gw.port() << " 2>&1\n"
            << "echo second-exit=$?\n"
            << "/usr/bin/python3 -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); "
               "print(\"statuses=\" + \",\".join(r[0] for r in c.execute(\"SELECT status FROM "
               "sessions\")))' \""
            << root << "/portcullis.db\"\n";
    }
    std::filesystem::permissions(script, std::filesystem::perms::owner_all);
    const auto r = runAdversarialClient(
        "parked",
        {"--port", std::to_string(gw.port()), "--user", "alice:box", "--key", key.string(),
         "--code", gw.code("alice"), "--next-code", gw.code("alice", 1), "--shell", "--open-for",
         "1", "--close-within", "0.1", "--action", nlohmann::json{script.string()}.dump()});
    ASSERT_FALSE(r.timedOut) << describe(r);
    EXPECT_TRUE(contains(r.out, "another portcullisd (pid " + std::to_string(gw.pid()) +
                                    ") is already running on " + root))
        << r.out;
    EXPECT_TRUE(contains(r.out, "second-exit=1")) << r.out;
    EXPECT_TRUE(contains(r.out, "statuses=active")) << r.out;  // not aborted
    EXPECT_TRUE(contains(r.out, "OK parked.still_open")) << r.out;
    EXPECT_TRUE(gw.running());
    gw.stop(SIGTERM, std::chrono::seconds(10));
    EXPECT_EQ(gw.countSessions("alice", "closed"), 1);
    EXPECT_EQ(gw.countSessions("alice", "aborted"), 0);

    // Positive control: with the first daemon gone, a new one starts.
    gw.start();
    EXPECT_TRUE(gw.running());
}

}  // namespace
}  // namespace portcullis::gateway::test
