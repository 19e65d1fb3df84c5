// The head of the audit chain anchored outside the store (SPEC §15; issue 12
// finding 4): portcullisd writes `audit.checkpoint` (id, hash) to syslog at
// start, every 5 minutes and at stop; a SIEM holding the last one catches a
// tail cut from both the store and audit.log, which `audit verify` alone
// cannot. Syslog copies that could not be delivered are counted, logged and
// audited (issue 21 finding 5). A private datagram socket stands in for /dev/log.
#include <signal.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/e2e/support/gateway_fixture.hpp"
#include "tests/support/syslog_listener.hpp"

namespace portcullis::gateway::test {
namespace {

using portcullis::test::contains;
using portcullis::test::describe;
using portcullis::test::GatewayFixture;
using portcullis::test::ProcessResult;
using portcullis::test::runProcess;
using portcullis::test::SyslogListener;

nlohmann::json jsonOf(const std::string& message) {
    const auto at = message.find("]: ");
    return at == std::string::npos ? nlohmann::json()
                                   : nlohmann::json::parse(message.substr(at + 3), nullptr, false);
}

class AuditCheckpointTest : public ::testing::Test {
  protected:
    ProcessResult cli(const std::vector<std::string>& args) {
        std::vector<std::string> argv{PORTCULLIS_CLI, "--state-dir",
                                      gw_.stateDir().root().string()};
        argv.insert(argv.end(), args.begin(), args.end());
        return runProcess(argv);
    }
    // The next audit.checkpoint line the listener gets (within `seconds`).
    std::optional<nlohmann::json> nextCheckpoint(SyslogListener& syslog, int seconds) {
        for (int i = 0; i < seconds; ++i) {
            while (auto message = syslog.receive()) {
                auto j = jsonOf(*message);
                if (j.is_object() && j.value("type", "") == "audit.checkpoint") {
                    lastRaw_ = message->substr(message->find("]: ") + 3);
                    return j;
                }
            }
        }
        return std::nullopt;
    }
    GatewayFixture gw_;
    std::string lastRaw_;  // the last checkpoint line as sent
};

TEST_F(AuditCheckpointTest, CheckpointsAnchorTheHeadAndCatchACutTail) {
    const auto socket = gw_.dir() / "log.sock";
    SyslogListener syslog(socket);
    ASSERT_TRUE(syslog.bound());
    gw_.addUser("alice", gw_.newKey("alice").string() + ".pub");  // some events in the chain
    gw_.start("[server]\nsyslog_socket = " + socket.string() + "\n");

    const auto atStart = nextCheckpoint(syslog, 10);
    ASSERT_TRUE(atStart) << "no checkpoint at start";
    EXPECT_EQ(atStart->value("when", ""), "start");
    // The line starts with the fields a SIEM indexes.
    EXPECT_EQ(lastRaw_.rfind("{\"id\":", 0), 0u) << lastRaw_;
    EXPECT_TRUE(contains(lastRaw_, ",\"type\":\"audit.checkpoint\",\"actor\":\"portcullisd\""))
        << lastRaw_;
    auto head = cli({"--json", "audit", "head"});
    ASSERT_EQ(head.exitCode, 0) << describe(head);
    auto headJson = nlohmann::json::parse(head.out);
    EXPECT_EQ((*atStart)["id"], headJson["id"]);
    EXPECT_EQ((*atStart)["hash"], headJson["hash"]);

    // Something happens, then the gateway stops: the stop checkpoint is the new head.
    ASSERT_EQ(cli({"user", "add", "bob"}).exitCode, 0);
    ASSERT_EQ(gw_.stop(SIGTERM, std::chrono::seconds(10)), 0);
    const auto atStop = nextCheckpoint(syslog, 5);
    ASSERT_TRUE(atStop) << "no checkpoint at stop";
    EXPECT_EQ(atStop->value("when", ""), "stop");
    head = cli({"--json", "audit", "head"});
    headJson = nlohmann::json::parse(head.out);
    EXPECT_EQ((*atStop)["id"], headJson["id"]);
    EXPECT_GT((*atStop)["id"].get<std::int64_t>(), (*atStart)["id"].get<std::int64_t>());
    const std::string anchor = std::to_string((*atStop)["id"].get<std::int64_t>()) + ":" +
                               (*atStop)["hash"].get<std::string>();

    // Positive control: the untouched store passes with the anchor.
    auto verify = cli({"audit", "verify", "--anchor", anchor});
    EXPECT_EQ(verify.exitCode, 0) << describe(verify);

    // Root on the gateway host cuts the last event from the store and its line
    // from audit.log: the chain and the mirror agree, the anchor does not.
    gw_.db().exec("DELETE FROM audit_events WHERE id = (SELECT max(id) FROM audit_events)");
    const auto log = gw_.stateDir().auditLog();
    std::vector<std::string> lines;
    {
        std::ifstream in(log);
        for (std::string line; std::getline(in, line);) lines.push_back(line);
    }
    ASSERT_FALSE(lines.empty());
    lines.pop_back();
    {
        std::ofstream out(log, std::ios::trunc);
        for (const auto& line : lines) out << line << '\n';
    }
    verify = cli({"audit", "verify"});
    EXPECT_EQ(verify.exitCode, 0) << "a cut tail alone is not found without an anchor:\n"
                                  << describe(verify);
    verify = cli({"audit", "verify", "--anchor", anchor});
    EXPECT_EQ(verify.exitCode, 1) << describe(verify);
    EXPECT_TRUE(contains(verify.out + verify.err, "is not in the store")) << describe(verify);
}

// No syslog listening: every copy is dropped, counted, logged and audited.
TEST_F(AuditCheckpointTest, DroppedSyslogCopiesAreReported) {
    const auto socket = gw_.dir() / "nobody-listens.sock";
    gw_.start("[server]\nsyslog_socket = " + socket.string() + "\n");
    std::vector<db::AuditRecord> dropped;
    for (int i = 0; i < 150 && dropped.empty(); ++i) {
        dropped = gw_.audit("audit.syslog_dropped");
        if (dropped.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ASSERT_FALSE(dropped.empty()) << gw_.log();
    EXPECT_GE(dropped[0].event.details.value("count", 0), 1);
    EXPECT_TRUE(contains(gw_.log(), "event=audit.syslog_dropped")) << gw_.log();
}

}  // namespace
}  // namespace portcullis::gateway::test
