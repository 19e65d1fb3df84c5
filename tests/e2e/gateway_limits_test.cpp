// End-to-end tests of portcullisd's limits and lifecycle: configuration
// errors, login grace time, the pre-authentication connection cap, the
// authentication attempt limit, a client that ignores the SSH window, and
// SIGTERM draining live sessions. Each test runs its own daemon.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <string>
#include <thread>

#include <gtest/gtest.h>

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

// A raw TCP connection to the gateway.
struct RawConnection {
    int fd = -1;
    // `source`: the local address to connect from (any 127.0.0.0/8 address
    // works on loopback, which is how a test plays many sources).
    explicit RawConnection(int port, const char* source = nullptr) {
        fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (source) {
            sockaddr_in local{};
            local.sin_family = AF_INET;
            ::inet_pton(AF_INET, source, &local.sin_addr);
            if (::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) {
                ::close(fd);
                fd = -1;
                return;
            }
        }
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(static_cast<std::uint16_t>(port));
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
            ::close(fd);
            fd = -1;
        }
    }
    ~RawConnection() {
        if (fd >= 0) ::close(fd);
    }
    // Reads what arrives within `timeout` (or until a full line came, if
    // `line`); closed = the peer closed the connection.
    std::string read(std::chrono::milliseconds timeout, bool& closed, bool line = false) {
        std::string out;
        closed = false;
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (std::chrono::steady_clock::now() < deadline) {
            pollfd p{fd, POLLIN, 0};
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            if (::poll(&p, 1, static_cast<int>(std::max<long>(1, left.count()))) <= 0) continue;
            char buf[4096];
            const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
            if (n <= 0) {
                closed = true;
                break;
            }
            out.append(buf, static_cast<std::size_t>(n));
            if (line && out.find('\n') != std::string::npos) break;
        }
        return out;
    }
};

TEST(GatewayConfigTest, BadConfigRefusedWithLineNumber) {
#ifdef PORTCULLISD
    portcullis::test::TempDir dir;
    const auto bad = dir.path() / "bad.ini";
    writeFile(bad, "[limits]\nmax_auth_tries = 4\nno_such_key = 1\n");
    auto r = runProcess({PORTCULLISD, "--config", bad.string(), "--check-config"});
    EXPECT_EQ(r.exitCode, 2) << describe(r);
    EXPECT_TRUE(contains(r.err, bad.string() + ":3:")) << describe(r);
    EXPECT_TRUE(contains(r.err, "no_such_key")) << describe(r);

    writeFile(bad, "[algorithms]\nciphers = aes128-cbc\n");
    r = runProcess({PORTCULLISD, "--config", bad.string(), "--check-config"});
    EXPECT_EQ(r.exitCode, 2) << describe(r);
    EXPECT_TRUE(contains(r.err, ":2:")) << describe(r);

    writeFile(bad, "[server]\nlisten = 127.0.0.1:2222\n[limits]\nlogin_grace_time = 1m\n");
    r = runProcess({PORTCULLISD, "--config", bad.string(), "--check-config"});
    EXPECT_EQ(r.exitCode, 0) << describe(r);

    r = runProcess({PORTCULLISD, "--listen", "nonsense", "--check-config"});
    EXPECT_EQ(r.exitCode, 2) << describe(r);
#else
    GTEST_SKIP() << "portcullisd not built";
#endif
}

TEST(GatewayLimitsTest, LoginGraceTimeClosesIdleConnection) {
    GatewayFixture gw;
    gw.start("[limits]\nlogin_grace_time = 2s\n");
    RawConnection c(gw.port());
    ASSERT_GE(c.fd, 0);
    bool closed = false;
    const auto start = std::chrono::steady_clock::now();
    const auto banner = c.read(std::chrono::seconds(8), closed);
    EXPECT_EQ(banner.rfind("SSH-2.0-Portcullis", 0), 0u) << banner;
    EXPECT_TRUE(closed);
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

// A client that sends its banner and then stalls in key exchange gives its
// pre-auth slot back after 10 s, long before the login grace time.
TEST(GatewayLimitsTest, StalledKeyExchangeIsClosedBeforeTheGraceTime) {
    GatewayFixture gw;
    gw.start("[limits]\nlogin_grace_time = 60s\n");
    RawConnection c(gw.port());
    ASSERT_GE(c.fd, 0);
    const auto start = std::chrono::steady_clock::now();
    bool closed = false;
    const auto banner = c.read(std::chrono::seconds(5), closed, true);
    ASSERT_EQ(banner.rfind("SSH-2.0-Portcullis", 0), 0u) << banner;
    const std::string mine = "SSH-2.0-stalling_client\r\n";
    ASSERT_EQ(::write(c.fd, mine.data(), mine.size()), static_cast<ssize_t>(mine.size()));
    c.read(std::chrono::seconds(20), closed);  // the server's KEXINIT, then the close
    const auto took = std::chrono::steady_clock::now() - start;
    EXPECT_TRUE(closed) << "still open after 20 s";
    EXPECT_GE(took, std::chrono::seconds(9));
    EXPECT_LT(took, std::chrono::seconds(15));
    const std::string closedLine = "reason=\"key exchange not finished in time\"";
    for (int i = 0; i < 250 && !contains(gw.log(), closedLine); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_TRUE(contains(gw.log(), closedLine)) << gw.log();
}

TEST(GatewayLimitsTest, PreAuthConnectionsCappedPerSource) {
    GatewayFixture gw;
    gw.start("[limits]\nmax_startups_per_source = 2\nmax_startups = 10\n");
    // The fixture's readiness probe was a connection too: wait until it is gone.
    for (int i = 0; i < 250 && !contains(gw.log(), "event=connection.closed conn=1 "); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    RawConnection a(gw.port()), b(gw.port());
    bool closed = false;
    EXPECT_EQ(a.read(std::chrono::seconds(5), closed, true).rfind("SSH-2.0-", 0), 0u);
    EXPECT_EQ(b.read(std::chrono::seconds(5), closed, true).rfind("SSH-2.0-", 0), 0u);
    RawConnection c(gw.port());
    const auto got = c.read(std::chrono::seconds(2), closed);
    EXPECT_TRUE(closed);
    EXPECT_TRUE(got.empty()) << got;
    EXPECT_TRUE(contains(gw.log(), "too many unauthenticated connections"));
}

TEST(GatewayLimitsTest, AuthenticationAttemptsLimited) {
    GatewayFixture gw;
    gw.start("[limits]\nmax_auth_tries = 3\n");
    const auto key = gw.newKey("carol");
    gw.addUser("carol", key.string() + ".pub");
    SshCall call;
    call.user = "carol:box";
    call.key = gw.newKey("s1");
    call.code = "000000";
    for (int i = 2; i <= 5; ++i) {
        call.extraArgs.push_back("-i");
        call.extraArgs.push_back(gw.newKey("s" + std::to_string(i)).string());
    }
    const auto r = gw.ssh(call);
    EXPECT_EQ(r.exitCode, 255) << describe(r);
    EXPECT_TRUE(contains(r.err, "Too many authentication failures")) << describe(r);
    int failures = 0;
    for (const auto& e : gw.audit("auth.publickey")) {
        if (e.event.details.value("account", "") == "carol" &&
            e.event.details.value("result", "") == "failure")
            ++failures;
    }
    EXPECT_EQ(failures, 3);
}

class GatewayTargetTest : public SingleTargetTest {
  protected:
    void SetUp() override { setUpTarget("dave"); }
};

// Stalled connections from many addresses fill every pre-auth slot: a real
// user from another address still gets in (the busiest source's oldest stalled
// connection makes room), instead of waiting for the flood to stop.
TEST_F(GatewayTargetTest, FloodFromManySourcesDoesNotLockOutARealUser) {
    gw_->start("[limits]\nmax_startups = 20\nmax_startups_per_source = 4\n");
    for (int i = 0; i < 250 && !contains(gw_->log(), "event=connection.closed conn=1 "); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    std::vector<std::unique_ptr<RawConnection>> flood;
    bool closed = false;
    for (int source = 2; source <= 6; ++source) {
        const std::string address = "127.0.0." + std::to_string(source);
        for (int i = 0; i < 4; ++i) {
            flood.push_back(std::make_unique<RawConnection>(gw_->port(), address.c_str()));
            ASSERT_GE(flood.back()->fd, 0);
            EXPECT_EQ(
                flood.back()->read(std::chrono::seconds(5), closed, true).rfind("SSH-2.0-", 0), 0u);
        }
    }
    // All 20 slots are held; one more stalled connection from a sixth address
    // is let in all the same.
    RawConnection extra(gw_->port(), "127.0.0.7");
    EXPECT_EQ(extra.read(std::chrono::seconds(5), closed, true).rfind("SSH-2.0-", 0), 0u);

    SshCall call;
    call.user = "dave:box";
    call.key = key_;
    call.code = gw_->code("dave");
    call.command = "echo let-in";
    const auto r = gw_->ssh(call);
    EXPECT_EQ(r.exitCode, 0) << describe(r);
    EXPECT_TRUE(contains(r.out, "let-in")) << describe(r);
    EXPECT_TRUE(contains(gw_->log(), "event=connection.evicted")) << gw_->log();
}

TEST_F(GatewayTargetTest, SigtermTellsLiveSessionsAndExitsZero) {
    gw_->start();
    SshCall call;
    call.user = "dave:box";
    call.key = key_;
    call.code = gw_->code("dave");
    call.command = "echo started; sleep 30; echo late";
    call.timeout = std::chrono::seconds(20);
    auto session = std::async(std::launch::async, [&] { return gw_->ssh(call); });
    // Wait until the session runs on the target.
    for (int i = 0; i < 200 && !contains(gw_->log(), "event=session.start"); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    ASSERT_TRUE(contains(gw_->log(), "event=session.start"));
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // "started" reached the client
    const auto start = std::chrono::steady_clock::now();
    const int code = gw_->stop(SIGTERM, std::chrono::seconds(10));
    EXPECT_EQ(code, 0);
    const auto r = session.get();
    EXPECT_FALSE(r.timedOut);
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(8));
    EXPECT_NE(r.exitCode, 0) << describe(r);
    EXPECT_TRUE(contains(r.out, "started")) << describe(r);
    EXPECT_FALSE(contains(r.out, "late")) << describe(r);
    EXPECT_TRUE(contains(r.err, "shutting down")) << describe(r);
    EXPECT_EQ(gw_->countSessions("dave", "closed"), 1);
    // The recording was sealed before the daemon exited (SPEC §10).
    auto st = gw_->db().prepare(
        "SELECT count(*) FROM recordings r JOIN sessions s ON s.id = r.session_id "
        "WHERE s.account = 'dave' AND r.sha256 IS NOT NULL AND r.sha256 != ''");
    st.step();
    EXPECT_EQ(st.int64(0), 1);
}

// A client that sends far beyond the window it was granted is disconnected
// and audited; a polite client with the same tool logs in and works first.
TEST_F(GatewayTargetTest, ClientIgnoringWindowIsDisconnected) {
    gw_->start("[algorithms]\nciphers = aes256-gcm@openssh.com,aes256-ctr\n");
    const std::string script = R"PY(
import sys, time, paramiko
from paramiko.message import Message
from paramiko.common import cMSG_CHANNEL_DATA
port, user, keyfile, code, mode = sys.argv[1:6]
t = paramiko.Transport(("127.0.0.1", int(port)))
t.start_client(timeout=10)
key = paramiko.Ed25519Key.from_private_key_file(keyfile)
t.auth_publickey(user, key)
t.auth_interactive(user, lambda title, instr, prompts: [code for _ in prompts])
ch = t.open_session()
if mode == "polite":
    ch.exec_command("cat | wc -c")
    ch.sendall(b"x" * 3000000)
    ch.shutdown_write()
    out = ch.makefile("rb").read()
    print(out.decode().strip())
    sys.exit(ch.recv_exit_status())
ch.exec_command("sleep 10; cat >/dev/null")
chunk = b"x" * 32000
sent = 0
try:
    for i in range(600):
        m = Message()
        m.add_byte(cMSG_CHANNEL_DATA)
        m.add_int(ch.remote_chanid)
        m.add_string(chunk)
        t._send_user_message(m)
        sent += len(chunk)
    for i in range(100):
        if not t.is_active():
            break
        time.sleep(0.1)
except Exception as e:
    # The gateway closed the connection under the flood (EOF or reset).
    print("disconnected", sent, repr(e))
    sys.exit(0)
print("active" if t.is_active() else "disconnected", sent)
)PY";
    writeFile(gw_->dir() / "client.py", script, 0600);
    ProcessOptions options;
    options.timeout = std::chrono::seconds(40);
    auto polite = runProcess(
        {"/usr/bin/python3", (gw_->dir() / "client.py").string(), std::to_string(gw_->port()),
         "dave:box", key_.string(), gw_->code("dave"), "polite"},
        options);
    ASSERT_EQ(polite.exitCode, 0) << describe(polite);
    EXPECT_TRUE(contains(polite.out, "3000000")) << describe(polite);

    auto hostile = runProcess(
        {"/usr/bin/python3", (gw_->dir() / "client.py").string(), std::to_string(gw_->port()),
         "dave:box", key_.string(), gw_->code("dave", 1), "hostile"},
        options);
    EXPECT_FALSE(hostile.timedOut) << describe(hostile);
    EXPECT_TRUE(contains(hostile.out, "disconnected")) << describe(hostile);
    bool audited = false;
    for (int i = 0; i < 100 && !audited; ++i) {
        audited = !gw_->audit("flow.window_violation").empty();
        if (!audited) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_TRUE(audited);
    EXPECT_TRUE(gw_->running());  // the gateway itself is fine
}

}  // namespace
}  // namespace portcullis::gateway::test
