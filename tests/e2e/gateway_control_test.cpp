// End-to-end tests of portcullisd's control socket and the `portcullis
// session` commands built on it (SPEC §2, §4, §5): live list, kill, the
// sessions table, and grants re-checked on live sessions. Real sshd target,
// real portcullisd, real ssh client, real CLI.
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <future>
#include <string>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/e2e/support/gateway_fixture.hpp"
#include "tests/e2e/support/single_target_test.hpp"
#include "tests/e2e/support/sshd_fixture.hpp"

namespace portcullis::gateway::test {
namespace {

using nlohmann::json;
using portcullis::test::contains;
using portcullis::test::describe;
using portcullis::test::GatewayFixture;
using portcullis::test::ProcessOptions;
using portcullis::test::ProcessResult;
using portcullis::test::runProcess;
using portcullis::test::SingleTargetTest;
using portcullis::test::SshCall;
using portcullis::test::SshdFixture;
using ::testing::HasSubstr;
using ::testing::Not;

// A raw client of control.sock: sends `request` as is, returns what came back
// before the daemon closed (or `timeout` passed).
std::string controlExchange(const std::filesystem::path& path, const std::string& request,
                            std::chrono::milliseconds timeout, bool* closedByPeer = nullptr) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        ::close(fd);
        return "(connect failed)";
    }
    timeval tv{static_cast<time_t>(timeout.count() / 1000),
               static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    std::size_t sent = 0;
    while (sent < request.size()) {
        const ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) break;
        sent += static_cast<std::size_t>(n);
    }
    std::string out;
    char buf[4096];
    bool closed = false;
    for (;;) {
        const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
            closed = true;
            break;
        }
        if (n < 0) break;  // timed out
        out.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);
    if (closedByPeer) *closedByPeer = closed;
    return out;
}

class GatewayControlTest : public SingleTargetTest {
  protected:
    void SetUp() override { setUpTarget("erin"); }

    ProcessResult cli(std::vector<std::string> args) {
        std::vector<std::string> argv{PORTCULLIS_CLI, "--state-dir",
                                      gw_->stateDir().root().string()};
        argv.insert(argv.end(), args.begin(), args.end());
        ProcessOptions options;
        options.env["SUDO_USER"] = "opsadmin";
        options.timeout = std::chrono::seconds(20);
        return runProcess(argv, options);
    }

    // Starts `sleep 30` through the gateway and waits until the daemon lists it.
    std::future<ProcessResult> startLiveSession(json& live, int offset = 0) {
        SshCall call;
        call.user = "erin:box";
        call.key = key_;
        call.code = gw_->code("erin", offset);
        call.command = "echo started; sleep 30; echo late";
        call.timeout = std::chrono::seconds(40);
        auto session = std::async(std::launch::async, [this, call] { return gw_->ssh(call); });
        for (int i = 0; i < 200; ++i) {
            const auto r = cli({"--json", "session", "list", "--active"});
            if (r.exitCode == 0) {
                const auto list = json::parse(r.out);
                if (list.is_array() && !list.empty()) {
                    live = list[0];
                    break;
                }
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        return session;
    }

    std::string sessionStatus(const std::string& id) {
        const auto r = cli({"--json", "session", "show", id});
        if (r.exitCode != 0) return "(show failed: " + r.err + ")";
        return json::parse(r.out).value("status", "");
    }

    std::string waitForStatus(const std::string& id, const std::string& wanted) {
        std::string status;
        for (int i = 0; i < 100; ++i) {
            status = sessionStatus(id);
            if (status == wanted) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        return status;
    }
};

TEST_F(GatewayControlTest, ControlSocketIsPrivateAndRemovedAtExit) {
    const auto path = gw_->stateDir().controlSocket();
    // A stale socket left by a crashed daemon (bound, nobody listening) is replaced.
    {
        const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
        ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
        ::close(fd);
    }
    gw_->start();
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_TRUE(S_ISSOCK(st.st_mode));
    EXPECT_EQ(st.st_mode & 07777, 0600u);
    EXPECT_EQ(st.st_uid, ::geteuid());

    auto r = cli({"--json", "session", "list", "--active"});
    ASSERT_EQ(r.exitCode, 0) << describe(r);
    EXPECT_EQ(json::parse(r.out), json::array());

    EXPECT_EQ(gw_->stop(SIGTERM, std::chrono::seconds(10)), 0);
    EXPECT_FALSE(std::filesystem::exists(std::filesystem::symlink_status(path)));
}

TEST_F(GatewayControlTest, BadRequestsAreAnsweredAndSilentClientsDropped) {
    gw_->start();
    const auto path = gw_->stateDir().controlSocket();
    auto answer = [&](const std::string& request) {
        const auto out = controlExchange(path, request, std::chrono::seconds(3));
        return json::parse(out.substr(0, out.find('\n')));
    };
    for (const std::string& request :
         {std::string("not json\n"), std::string("{\"op\":\"frobnicate\"}\n"),
          std::string("[1,2]\n"), std::string("{\"op\":\"kill\"}\n"),
          std::string(70 * 1024, 'x') + "\n"}) {
        const auto response = answer(request);
        EXPECT_EQ(response["ok"], false) << request.substr(0, 40);
        EXPECT_TRUE(response["error"].is_string()) << request.substr(0, 40);
    }
    EXPECT_THAT(answer(std::string(70 * 1024, 'x')).value("error", ""), HasSubstr("too long"));
    EXPECT_EQ(answer("{\"op\":\"list\"}\n")["ok"], true);

    bool closed = false;
    const auto start = std::chrono::steady_clock::now();
    const auto out = controlExchange(path, "", std::chrono::seconds(9), &closed);
    EXPECT_TRUE(closed);
    EXPECT_TRUE(out.empty()) << out;
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(8));
    EXPECT_TRUE(gw_->running());
}

TEST_F(GatewayControlTest, ListActiveShowsLiveSessionAndKillEndsIt) {
    gw_->start();
    json live;
    auto session = startLiveSession(live);
    ASSERT_FALSE(live.is_null()) << gw_->log();
    for (const char* field : {"id", "account", "login", "target", "source", "grant_id",
                              "started_at", "channels", "bytes_in", "bytes_out", "idle_s"}) {
        EXPECT_TRUE(live.contains(field)) << field << ": " << live.dump();
    }
    EXPECT_EQ(live["account"], "erin");
    EXPECT_EQ(live["login"], "root");
    EXPECT_EQ(live["target"], "box");
    EXPECT_EQ(live["source"], "127.0.0.1");
    EXPECT_TRUE(live["grant_id"].is_number_integer());
    EXPECT_EQ(live["channels"], 1);
    const std::string id = live["id"];
    EXPECT_EQ(id.size(), 32u);

    // The table form, and the filters.
    auto r = cli({"session", "list", "--active"});
    ASSERT_EQ(r.exitCode, 0) << describe(r);
    EXPECT_THAT(r.out, HasSubstr(id));
    r = cli({"--json", "session", "list", "--active", "--user", "nobody"});
    ASSERT_EQ(r.exitCode, 0) << describe(r);
    EXPECT_EQ(json::parse(r.out), json::array());
    EXPECT_EQ(sessionStatus(id), "active");

    std::this_thread::sleep_for(std::chrono::milliseconds(500));  // "started" reached the client
    const auto start = std::chrono::steady_clock::now();
    r = cli({"session", "kill", id});
    EXPECT_EQ(r.exitCode, 0) << describe(r);
    const auto ended = session.get();
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
    EXPECT_FALSE(ended.timedOut);
    EXPECT_NE(ended.exitCode, 0) << describe(ended);
    EXPECT_TRUE(contains(ended.out, "started")) << describe(ended);
    EXPECT_FALSE(contains(ended.out, "late")) << describe(ended);
    EXPECT_TRUE(contains(ended.err, "portcullis: session terminated by an administrator"))
        << describe(ended);

    EXPECT_EQ(waitForStatus(id, "killed"), "killed");
    const auto events = gw_->audit("session.kill");
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].event.actor, "opsadmin");
    EXPECT_EQ(events[0].event.details.value("operator", ""), "opsadmin");
    EXPECT_EQ(events[0].event.details.value("session_id", ""), id);
    EXPECT_EQ(events[0].event.details.value("account", ""), "erin");

    // Not live any more; unknown ids.
    r = cli({"session", "kill", id});
    EXPECT_EQ(r.exitCode, 1) << describe(r);
    EXPECT_THAT(r.err, HasSubstr("no live session " + id));
    // An id the store never knew is refused before the daemon is asked
    // (ids may be prefixes now, resolved against the store).
    r = cli({"session", "kill", "0123456789abcdef"});
    EXPECT_EQ(r.exitCode, 1) << describe(r);
    EXPECT_THAT(r.err, HasSubstr("no session 0123456789abcdef"));
    r = cli({"--json", "session", "list", "--active"});
    ASSERT_EQ(r.exitCode, 0) << describe(r);
    EXPECT_EQ(json::parse(r.out), json::array());
}

TEST_F(GatewayControlTest, ListAndShowEndedSessions) {
    gw_->start();
    SshCall call;
    call.user = "erin:box";
    call.key = key_;
    call.code = gw_->code("erin");
    call.command = "echo hello";
    auto r = gw_->ssh(call);
    ASSERT_EQ(r.exitCode, 0) << describe(r);

    std::string id;
    for (int i = 0; i < 100 && id.empty(); ++i) {
        r = cli({"--json", "session", "list"});
        ASSERT_EQ(r.exitCode, 0) << describe(r);
        for (const auto& s : json::parse(r.out)) {
            if (s["status"] == "closed") id = s["id"];
        }
        if (id.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ASSERT_FALSE(id.empty());

    r = cli({"session", "list"});
    ASSERT_EQ(r.exitCode, 0) << describe(r);
    EXPECT_THAT(r.out, HasSubstr("STATUS"));
    EXPECT_THAT(r.out, HasSubstr(id));
    EXPECT_THAT(r.out, HasSubstr("closed"));
    r = cli(
        {"session", "list", "--user", "erin", "--target", "box", "--since", "1h", "--limit", "5"});
    ASSERT_EQ(r.exitCode, 0) << describe(r);
    EXPECT_THAT(r.out, HasSubstr(id));
    r = cli({"session", "list", "--target", "elsewhere"});
    ASSERT_EQ(r.exitCode, 0) << describe(r);
    EXPECT_THAT(r.out, Not(HasSubstr(id)));
    r = cli({"session", "list", "--since", "2999-01-01T00:00:00Z"});
    ASSERT_EQ(r.exitCode, 0) << describe(r);
    EXPECT_THAT(r.out, Not(HasSubstr(id)));

    r = cli({"session", "show", id});
    ASSERT_EQ(r.exitCode, 0) << describe(r);
    EXPECT_THAT(r.out, HasSubstr("erin"));
    EXPECT_THAT(r.out, HasSubstr("box"));
    EXPECT_THAT(r.out, HasSubstr("closed"));
    r = cli({"--json", "session", "show", id});
    ASSERT_EQ(r.exitCode, 0) << describe(r);
    const auto shown = json::parse(r.out);
    EXPECT_EQ(shown["id"], id);
    EXPECT_EQ(shown["account"], "erin");
    EXPECT_EQ(shown["login"], "root");
    EXPECT_EQ(shown["target"], "box");
    EXPECT_EQ(shown["source"], "127.0.0.1");
    EXPECT_TRUE(shown["grant_id"].is_number_integer());
    EXPECT_TRUE(shown["ended_at"].is_string());
    EXPECT_GT(shown["bytes_out"].get<std::int64_t>(), 0);

    r = cli({"session", "show", "nosuchsession"});
    EXPECT_EQ(r.exitCode, 1) << describe(r);
    // The exec's recording plays back (its pauses shortened by --speed).
    r = cli({"session", "play", id, "--speed", "1000"});
    EXPECT_EQ(r.exitCode, 0) << describe(r);
    EXPECT_THAT(r.out, HasSubstr("hello"));
}

TEST_F(GatewayControlTest, RevokedGrantEndsLiveSession) {
    gw_->start("[limits]\nrecheck_interval = 1s\n");
    json live;
    auto session = startLiveSession(live);
    ASSERT_FALSE(live.is_null()) << gw_->log();
    const std::string id = live["id"];
    const auto grantId = live["grant_id"].get<std::int64_t>();
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // still allowed: runs on
    EXPECT_EQ(sessionStatus(id), "active");

    const auto start = std::chrono::steady_clock::now();
    auto r = cli({"revoke", std::to_string(grantId)});
    ASSERT_EQ(r.exitCode, 0) << describe(r);
    const auto ended = session.get();
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
    EXPECT_NE(ended.exitCode, 0) << describe(ended);
    EXPECT_FALSE(contains(ended.out, "late")) << describe(ended);
    EXPECT_TRUE(contains(ended.err, "portcullis: access revoked: ")) << describe(ended);

    EXPECT_EQ(waitForStatus(id, "revoked"), "revoked");
    const auto events = gw_->audit("session.revoked");
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].event.details.value("session_id", ""), id);
    EXPECT_TRUE(events[0].event.details["reasons"].is_array());
    EXPECT_FALSE(events[0].event.details["reasons"].empty());
}

TEST_F(GatewayControlTest, ListActiveWithoutDaemonFails) {
    auto r = cli({"session", "list", "--active"});
    EXPECT_EQ(r.exitCode, 1) << describe(r);
    EXPECT_THAT(r.err, HasSubstr("portcullisd is not running (no " +
                                 gw_->stateDir().controlSocket().string() + ")"));
    r = cli({"session", "kill", "0123456789abcdef"});
    EXPECT_EQ(r.exitCode, 1) << describe(r);
    EXPECT_THAT(r.err, HasSubstr("no session 0123456789abcdef"));
}

}  // namespace
}  // namespace portcullis::gateway::test
