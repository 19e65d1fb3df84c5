// End-to-end tests of portcullisd (SPEC §3, §10): the real daemon between the
// stock OpenSSH client and a real sshd target. The store is set up through
// db/ directly; codes come from db::totpCode. Every call has a deadline: a
// hang fails the test instead of stalling the run.
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <memory>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "db/accounts.hpp"
#include "tests/e2e/support/gateway_fixture.hpp"
#include "tests/e2e/support/sshd_fixture.hpp"

namespace portcullis::gateway::test {
namespace {

using portcullis::test::contains;
using portcullis::test::describe;
using portcullis::test::GatewayFixture;
using portcullis::test::ProcessOptions;
using portcullis::test::ProcessResult;
using portcullis::test::runProcess;
using portcullis::test::SshCall;
using portcullis::test::SshdFixture;

std::string sha256Hex(const std::string& data) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr);
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    for (unsigned i = 0; i < len; ++i) {
        out += hex[digest[i] >> 4];
        out += hex[digest[i] & 15];
    }
    return out;
}

std::string randomBytes(std::size_t n) {
    std::string out(n, '\0');
    RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n));
    return out;
}

class GatewayTest : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        gateway_ = std::make_unique<GatewayFixture>();
        sshd_ = std::make_unique<SshdFixture>(gateway_->upstreamPublicKey());
        gateway_->addTarget("box", sshd_->port(), "root", sshd_->hostKeyLine());
        // A target whose pinned key is not the one its sshd presents.
        SshdFixture other("");
        gateway_->addTarget("badbox", sshd_->port(), "root", other.hostKeyLine());
        gateway_->start();
    }
    static void TearDownTestSuite() {
        if (gateway_) gateway_->stop(SIGTERM, std::chrono::seconds(10));
        gateway_.reset();
        sshd_.reset();
    }
    void TearDown() override {
        if (HasFailure()) {
            std::cerr << "---- portcullisd log (tail) ----\n"
                      << tail(gateway_->log(), 6000) << "\n";
        }
    }
    static std::string tail(const std::string& s, std::size_t n) {
        return s.size() > n ? s.substr(s.size() - n) : s;
    }

    // A fresh account (codes are single-use per step, so each test has its own).
    std::string newUser(const std::string& name, bool grantBox = true) {
        keys_[name] = gateway_->newKey(name);
        gateway_->addUser(name, keys_[name].string() + ".pub");
        if (grantBox) gateway_->grant(name, "box");
        return name;
    }
    SshCall call(const std::string& name, const std::string& user, const std::string& command) {
        SshCall c;
        c.user = user;
        c.key = keys_.at(name);
        c.command = command;
        c.code = gateway_->code(name);
        return c;
    }
    bool hasAudit(const std::string& type, const std::string& account, const std::string& key,
                  const nlohmann::json& value) {
        for (const auto& r : gateway_->audit(type)) {
            if (r.event.details.value("account", "") == account && r.event.details.contains(key) &&
                r.event.details[key] == value) {
                return true;
            }
        }
        return false;
    }

    static std::unique_ptr<GatewayFixture> gateway_;
    static std::unique_ptr<SshdFixture> sshd_;
    std::map<std::string, std::filesystem::path> keys_;
};

std::unique_ptr<GatewayFixture> GatewayTest::gateway_;
std::unique_ptr<SshdFixture> GatewayTest::sshd_;

TEST_F(GatewayTest, ExecRelaysStdoutStderrAndExitStatus) {
    const auto user = newUser("exec1");
    const auto r =
        gateway_->ssh(call(user, user + ":box", "echo out-$((6*7)); echo err-line >&2; exit 3"));
    EXPECT_FALSE(r.timedOut);
    EXPECT_EQ(r.exitCode, 3) << describe(r);
    EXPECT_EQ(r.out, "out-42\n") << describe(r);
    EXPECT_TRUE(contains(r.err, "err-line")) << describe(r);
    EXPECT_TRUE(hasAudit("auth.publickey", user, "result", "success"));
    EXPECT_TRUE(hasAudit("auth.totp", user, "result", "success"));
    EXPECT_TRUE(hasAudit("policy.decision", user, "allowed", true));
    EXPECT_TRUE(hasAudit("session.start", user, "target", "box"));
    // The session row is finished once the connection closed.
    for (int i = 0; i < 100 && gateway_->countSessions(user, "closed") == 0; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_EQ(gateway_->countSessions(user, "closed"), 1);
    EXPECT_TRUE(hasAudit("session.end", user, "status", "closed"));
}

TEST_F(GatewayTest, ExplicitLoginAndRecoveryCode) {
    const auto user = newUser("exec2");
    auto c = call(user, user + ":root@box", "id -un");
    c.code = gateway_->recoveryCodes(user).front();
    const auto r = gateway_->ssh(c);
    EXPECT_EQ(r.exitCode, 0) << describe(r);
    EXPECT_EQ(r.out, "root\n");
}

TEST_F(GatewayTest, EnvFilteredAgentAndX11RefusedExitSignalRelayed) {
    const auto user = newUser("env1");
    auto c = call(
        user, user + ":box",
        "echo \"[$LC_PORTCULLIS][$NOT_RELAYED][${SSH_AUTH_SOCK:-noagent}][${DISPLAY:-nox11}]\"");
    c.extraArgs = {"-A", "-o", "ForwardX11=yes", "-o", "SetEnv=LC_PORTCULLIS=yes NOT_RELAYED=leak"};
    auto r = gateway_->ssh(c);
    EXPECT_EQ(r.exitCode, 0) << describe(r);
    EXPECT_EQ(r.out, "[yes][][noagent][nox11]\n") << describe(r);

    // A remote command killed by a signal: the client sees exit-signal (ssh exits 255).
    auto k = call(user, user + ":box", "echo before; kill -KILL $$");
    k.code = gateway_->code(user, 1);
    r = gateway_->ssh(k);
    EXPECT_EQ(r.out, "before\n") << describe(r);
    EXPECT_EQ(r.exitCode, 255) << describe(r);
}

TEST_F(GatewayTest, ClientVanishingEndsTheSession) {
    const auto user = newUser("vanish1");
    auto c = call(user, user + ":box", "sleep 20");
    c.timeout = std::chrono::milliseconds(2500);  // runProcess kills ssh then
    const auto r = gateway_->ssh(c);
    EXPECT_TRUE(r.timedOut);
    bool closed = false;
    for (int i = 0; i < 250 && !closed; ++i) {
        closed = gateway_->countSessions(user, "closed") == 1;
        if (!closed) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_TRUE(closed);
}

TEST_F(GatewayTest, TargetVanishingIsReportedNotHung) {
    const auto user = newUser("tgtgone1");
    // The shell kills its own sshd session process: the target connection drops.
    auto c = call(user, user + ":box", "echo before; sleep 1; kill -KILL $PPID; sleep 20");
    c.timeout = std::chrono::seconds(15);
    const auto r = gateway_->ssh(c);
    EXPECT_FALSE(r.timedOut) << describe(r);
    EXPECT_NE(r.exitCode, 0) << describe(r);
    EXPECT_EQ(r.out, "before\n") << describe(r);
    EXPECT_TRUE(contains(r.err, "portcullis: connection to the target was lost")) << describe(r);
}

TEST_F(GatewayTest, SeveralChannelsShareOneConnection) {
    const auto user = newUser("mux1");
    const auto c = call(user, user + ":box", "");
    const auto args = gateway_->sshArgs(c);
    std::string base;
    for (std::size_t i = 1; i < args.size() - 1; ++i)
        base += " '" + args[i] + "'";  // all but the host
    const auto control = gateway_->dir() / "mux1.ctl";
    const std::string script =
        "set -e\n"
        "ssh -M -S '" +
        control.string() + "' -f -N" + base +
        " 127.0.0.1\n"
        "ssh -S '" +
        control.string() + "'" + base +
        " 127.0.0.1 'echo one'\n"
        "ssh -S '" +
        control.string() + "'" + base +
        " 127.0.0.1 'echo two >&2; exit 4' || echo \"status $?\"\n"
        "wait\n"
        "ssh -S '" +
        control.string() + "' -O exit 127.0.0.1 2>/dev/null || true\n";
    ProcessOptions options;
    options.env = gateway_->sshEnv(gateway_->askpass(c.code));
    options.unsetEnv = {"SSH_AUTH_SOCK"};
    options.newSession = true;
    options.timeout = std::chrono::seconds(30);
    const auto r = runProcess({"/bin/sh", "-c", script}, options);
    EXPECT_FALSE(r.timedOut) << describe(r);
    EXPECT_TRUE(contains(r.out, "one")) << describe(r);
    EXPECT_TRUE(contains(r.out, "status 4")) << describe(r);
    EXPECT_TRUE(contains(r.err, "two")) << describe(r);
    // One connection, one authentication: a single session row.
    int started = 0;
    for (const auto& rec : gateway_->audit("session.start"))
        started += rec.event.details.value("account", "") == user;
    EXPECT_EQ(started, 1);
}

TEST_F(GatewayTest, SessionTimeLimitEndsSession) {
    const auto user = newUser("limit1", false);
    gateway_->grant(user, "box", {}, "shell,exec", Seconds(3));
    auto c = call(user, user + ":box", "echo started; sleep 30; echo late");
    c.timeout = std::chrono::seconds(20);
    const auto start = std::chrono::steady_clock::now();
    const auto r = gateway_->ssh(c);
    EXPECT_FALSE(r.timedOut) << describe(r);
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
    EXPECT_NE(r.exitCode, 0) << describe(r);
    EXPECT_EQ(r.out, "started\n") << describe(r);
    EXPECT_TRUE(contains(r.err, "ends in")) << describe(r);  // the notice came first
    EXPECT_TRUE(contains(r.err, "session time limit reached")) << describe(r);
    bool expired = false;
    for (int i = 0; i < 100 && !expired; ++i) {
        expired = gateway_->countSessions(user, "expired") == 1 &&
                  hasAudit("session.expired", user, "reason", "session time limit reached");
        if (!expired) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_TRUE(expired);
}

TEST_F(GatewayTest, IdleTimeoutEndsSession) {
    const auto user = newUser("idle1", false);
    gateway_->grant(user, "box", {}, "shell,exec", std::nullopt, Seconds(2));
    auto c = call(user, user + ":box", "sleep 30");
    c.timeout = std::chrono::seconds(20);
    const auto r = gateway_->ssh(c);
    EXPECT_FALSE(r.timedOut) << describe(r);
    EXPECT_TRUE(contains(r.err, "portcullis: session idle for 2s; closing")) << describe(r);
    bool idle = false;
    for (int i = 0; i < 100 && !idle; ++i) {
        idle = gateway_->countSessions(user, "idle") == 1;
        if (!idle) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_TRUE(idle);
}

TEST_F(GatewayTest, PasswordNeverSucceeds) {
    const auto user = newUser("pw1");
    auto c = call(user, user + ":box", "echo should-not-run");
    c.extraArgs = {"-o", "PreferredAuthentications=password", "-o", "PubkeyAuthentication=no"};
    const auto r = gateway_->ssh(c);
    EXPECT_EQ(r.exitCode, 255) << describe(r);
    EXPECT_FALSE(contains(r.out, "should-not-run"));
}

TEST_F(GatewayTest, TwentyMegabytesThroughStdinIntact) {
    const auto user = newUser("bulk1");
    auto c = call(user, user + ":box", "sha256sum");
    c.input = randomBytes(20 * 1024 * 1024);
    c.timeout = std::chrono::seconds(60);
    const auto r = gateway_->ssh(c);
    ASSERT_EQ(r.exitCode, 0) << describe(r);
    EXPECT_EQ(r.out.substr(0, 64), sha256Hex(c.input));
}

TEST_F(GatewayTest, TwentyMegabytesFromTargetIntact) {
    const auto user = newUser("bulk2");
    // The target produces the bytes; the client hashes what arrives.
    const auto r =
        gateway_->ssh(call(user, user + ":box", "head -c 20971520 /dev/zero | tr '\\0' 'x'"));
    ASSERT_EQ(r.exitCode, 0) << describe(r);
    EXPECT_EQ(r.out.size(), 20971520u);
    EXPECT_EQ(r.out, std::string(20971520, 'x'));
}

TEST_F(GatewayTest, InteractivePtySession) {
    const auto user = newUser("pty1");
    const auto c = call(user, user + ":box", "");
    const auto args = gateway_->sshArgs(c);
    std::string sshCommand = "ssh -tt";
    for (std::size_t i = 1; i < args.size(); ++i) sshCommand += " '" + args[i] + "'";
    const std::string shell =
        "(sleep 2; printf 'echo pty-$((6*7)) $TERM; tty\\n'; sleep 1; printf 'exit 5\\n'; sleep 2) "
        "| "
        "TERM=xterm-256color script -qfec \"" +
        sshCommand + "\" /dev/null";
    ProcessOptions options;
    options.env = gateway_->sshEnv(gateway_->askpass(c.code));
    options.unsetEnv = {"SSH_AUTH_SOCK"};
    options.newSession = true;
    options.timeout = std::chrono::seconds(30);
    const auto r = runProcess({"/bin/sh", "-c", shell}, options);
    EXPECT_FALSE(r.timedOut) << describe(r);
    EXPECT_TRUE(contains(r.out, "pty-42 xterm-256color")) << describe(r);
    EXPECT_TRUE(contains(r.out, "/dev/pts/")) << describe(r);
}

TEST_F(GatewayTest, WrongCodeRefused) {
    const auto user = newUser("wrong1");
    auto c = call(user, user + ":box", "echo should-not-run");
    c.code = c.code == "000000" ? "111111" : "000000";
    const auto r = gateway_->ssh(c);
    EXPECT_FALSE(r.timedOut);
    EXPECT_EQ(r.exitCode, 255) << describe(r);
    EXPECT_FALSE(contains(r.out, "should-not-run"));
    EXPECT_TRUE(contains(r.err, "Permission denied")) << describe(r);
    EXPECT_TRUE(hasAudit("auth.totp", user, "result", "failure"));
    EXPECT_TRUE(hasAudit("auth.totp", user, "reason", "bad_code"));
    // No code ever appears in an event.
    for (const auto& rec : gateway_->audit("auth.totp"))
        EXPECT_FALSE(contains(rec.event.details.dump(), c.code));
}

TEST_F(GatewayTest, ReplayedCodeRefused) {
    const auto user = newUser("replay1");
    const auto first = call(user, user + ":box", "true");
    const auto r1 = gateway_->ssh(first);
    ASSERT_EQ(r1.exitCode, 0) << describe(r1);
    auto second = first;
    second.command = "echo should-not-run";
    const auto r2 = gateway_->ssh(second);
    EXPECT_EQ(r2.exitCode, 255) << describe(r2);
    EXPECT_FALSE(contains(r2.out, "should-not-run"));
    EXPECT_TRUE(hasAudit("auth.totp", user, "reason", "replayed"));
}

TEST_F(GatewayTest, UnregisteredKeyRefused) {
    const auto user = newUser("nokey1");
    auto c = call(user, user + ":box", "echo should-not-run");
    c.key = gateway_->newKey("stranger");
    const auto r = gateway_->ssh(c);
    EXPECT_EQ(r.exitCode, 255) << describe(r);
    EXPECT_TRUE(contains(r.err, "Permission denied")) << describe(r);
    EXPECT_TRUE(hasAudit("auth.publickey", user, "result", "failure"));
    EXPECT_FALSE(hasAudit("auth.totp", user, "result", "failure"));  // never reached the code
}

TEST_F(GatewayTest, UnknownAccountRefused) {
    const auto user = newUser("known1");
    auto c = call(user, "ghost:box", "echo should-not-run");
    const auto r = gateway_->ssh(c);
    EXPECT_EQ(r.exitCode, 255) << describe(r);
    EXPECT_TRUE(contains(r.err, "Permission denied")) << describe(r);
    EXPECT_TRUE(hasAudit("auth.publickey", "ghost", "result", "failure"));
}

TEST_F(GatewayTest, DisabledAccountRefusedLikeWrongCode) {
    const auto user = newUser("disabled1");
    ASSERT_TRUE(db::Accounts(gateway_->db()).setEnabled(user, false).ok());
    const auto r = gateway_->ssh(call(user, user + ":box", "echo should-not-run"));
    EXPECT_EQ(r.exitCode, 255) << describe(r);
    EXPECT_TRUE(contains(r.err, "Permission denied")) << describe(r);
    EXPECT_TRUE(hasAudit("auth.totp", user, "result", "failure"));
}

TEST_F(GatewayTest, UngrantedTargetRefused) {
    const auto user = newUser("nogrant1", false);
    const auto r = gateway_->ssh(call(user, user + ":box", "echo should-not-run"));
    EXPECT_FALSE(r.timedOut);
    EXPECT_EQ(r.exitCode, 1) << describe(r);
    EXPECT_FALSE(contains(r.out, "should-not-run"));
    EXPECT_TRUE(contains(r.err, "portcullis: access denied")) << describe(r);
    EXPECT_TRUE(hasAudit("policy.decision", user, "allowed", false));
}

TEST_F(GatewayTest, UnknownTargetRefused) {
    const auto user = newUser("notarget1");
    const auto r = gateway_->ssh(call(user, user + ":nowhere", "echo should-not-run"));
    EXPECT_EQ(r.exitCode, 1) << describe(r);
    EXPECT_TRUE(contains(r.err, "portcullis: access denied")) << describe(r);
    EXPECT_TRUE(hasAudit("policy.decision", user, "target", "nowhere"));
}

TEST_F(GatewayTest, WrongLoginRefused) {
    const auto user = newUser("login1");
    const auto r = gateway_->ssh(call(user, user + ":nobody@box", "echo should-not-run"));
    EXPECT_EQ(r.exitCode, 1) << describe(r);
    EXPECT_TRUE(contains(r.err, "portcullis: access denied")) << describe(r);
    EXPECT_TRUE(hasAudit("policy.decision", user, "login", "nobody"));
}

TEST_F(GatewayTest, PinnedHostKeyMismatchRefused) {
    const auto user = newUser("pin1", false);
    gateway_->grant(user, "badbox");
    const auto r = gateway_->ssh(call(user, user + ":badbox", "echo should-not-run"));
    EXPECT_FALSE(r.timedOut);
    EXPECT_EQ(r.exitCode, 1) << describe(r);
    EXPECT_TRUE(contains(r.err, "does not match the pinned key")) << describe(r);
    bool audited = false;
    for (int i = 0; i < 100 && !audited; ++i) {
        audited = hasAudit("upstream.hostkey_mismatch", user, "target", "badbox");
        if (!audited) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_TRUE(audited);
}

TEST_F(GatewayTest, NoTargetListsReachableTargets) {
    const auto user = newUser("menu1");
    const auto r = gateway_->ssh(call(user, user, "true"));
    EXPECT_EQ(r.exitCode, 1) << describe(r);
    EXPECT_TRUE(contains(r.err, "targets you may reach now: box")) << describe(r);
}

// `ssh -tt alice@gw`: a menu of the targets alice may reach now; typing a
// wrong entry asks again, a number picks the target and the shell starts.
TEST_F(GatewayTest, PtyWithoutTargetOffersAMenu) {
    const auto user = newUser("menu2");
    const auto c = call(user, user, "");
    const auto args = gateway_->sshArgs(c);
    std::string sshCommand = "ssh -tt";
    for (std::size_t i = 1; i < args.size(); ++i) sshCommand += " '" + args[i] + "'";
    const std::string shell =
        "(sleep 2; printf 'nowhere\\r'; sleep 1; printf '1\\r'; sleep 2; "
        "printf 'echo menu-$((6*7))\\n'; sleep 1; printf 'exit\\n'; sleep 2) | "
        "TERM=xterm script -qfec \"" +
        sshCommand + "\" /dev/null";
    ProcessOptions options;
    options.env = gateway_->sshEnv(gateway_->askpass(c.code));
    options.unsetEnv = {"SSH_AUTH_SOCK"};
    options.newSession = true;
    const auto r = runProcess({"/bin/sh", "-c", shell}, options);
    EXPECT_FALSE(r.timedOut) << describe(r);
    EXPECT_TRUE(contains(r.out, "1) box")) << describe(r);
    EXPECT_TRUE(contains(r.out, "not in the list: nowhere")) << describe(r);
    EXPECT_TRUE(contains(r.out, "menu-42")) << describe(r);
    bool decided = false;
    for (const auto& rec : gateway_->audit("policy.decision")) {
        decided = decided || (rec.event.details.value("account", "") == user &&
                              rec.event.details.value("target", "") == "box");
    }
    EXPECT_TRUE(decided);
}

TEST_F(GatewayTest, MenuQuitEndsWithoutSession) {
    const auto user = newUser("menu3");
    const auto c = call(user, user, "");
    const auto args = gateway_->sshArgs(c);
    std::string sshCommand = "ssh -tt";
    for (std::size_t i = 1; i < args.size(); ++i) sshCommand += " '" + args[i] + "'";
    const std::string shell = "(sleep 2; printf 'q\\r'; sleep 2) | TERM=xterm script -qfec \"" +
                              sshCommand + "\" /dev/null";
    ProcessOptions options;
    options.env = gateway_->sshEnv(gateway_->askpass(c.code));
    options.unsetEnv = {"SSH_AUTH_SOCK"};
    options.newSession = true;
    const auto r = runProcess({"/bin/sh", "-c", shell}, options);
    EXPECT_FALSE(r.timedOut) << describe(r);
    EXPECT_TRUE(contains(r.out, "no target chosen")) << describe(r);
    EXPECT_EQ(gateway_->countSessions(user, "closed"), 0);
}

TEST_F(GatewayTest, SlowTargetKeepsGatewayMemoryBounded) {
    const auto user = newUser("flow1");
    auto c = call(user, user + ":box", "sleep 3; cat >/dev/null; echo done");
    c.input = randomBytes(50 * 1024 * 1024);
    c.timeout = std::chrono::seconds(90);
    const long before = portcullis::test::peakRssKib(gateway_->pid());
    const auto r = gateway_->ssh(c);
    ASSERT_EQ(r.exitCode, 0) << describe(r);
    EXPECT_EQ(r.out, "done\n");
    const long after = portcullis::test::peakRssKib(gateway_->pid());
    RecordProperty("peak_rss_before_kib", static_cast<int>(before));
    RecordProperty("peak_rss_after_kib", static_cast<int>(after));
    std::cout << "gateway peak RSS: before " << before << " KiB, after 50 MB through a slow target "
              << after << " KiB\n";
    // 50 MB went through; the gateway's peak grows by a few MiB of buffers at most.
    EXPECT_LT(after - before, 24 * 1024)
        << "peak RSS before " << before << " KiB, after " << after << " KiB";
}

}  // namespace
}  // namespace portcullis::gateway::test
