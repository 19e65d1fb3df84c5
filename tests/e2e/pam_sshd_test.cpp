// pam_portcullis.so behind a real OpenSSH sshd, driven by the real ssh client:
// AuthenticationMethods publickey,keyboard-interactive, the keyboard-interactive
// step answered by the module's prompts through SSH_ASKPASS.
//
// Nothing under /etc is touched: sshd runs with its own config from a temp
// dir, through a symlink named sshd-portcullis-test (Debian's sshd takes its PAM
// service name from its program name), under pam_wrapper whose
// PAM_WRAPPER_SERVICE_DIR holds that service's stack.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "db/accounts.hpp"
#include "db/audit.hpp"
#include "db/database.hpp"
#include "db/groups.hpp"
#include "db/master_key.hpp"
#include "db/state_dir.hpp"
#include "db/totp.hpp"
#include "tests/e2e/support/background_process.hpp"
#include "tests/support/process.hpp"

namespace portcullis::pam::test {
namespace {

namespace fs = std::filesystem;
using portcullis::test::BackgroundProcess;
using portcullis::test::describe;
using portcullis::test::freeLoopbackPort;
using portcullis::test::ProcessOptions;
using portcullis::test::ProcessResult;
using portcullis::test::readFile;
using portcullis::test::runProcess;
using portcullis::test::TempDir;
using portcullis::test::waitForPort;
using portcullis::test::writeFile;

constexpr const char* kPamWrapper = "/usr/lib/x86_64-linux-gnu/libpam_wrapper.so";
constexpr const char* kSshd = "/usr/sbin/sshd";
constexpr const char* kService = "sshd-portcullis-test";
constexpr const char* kPamPermit = "/usr/lib/x86_64-linux-gnu/security/pam_permit.so";

#ifdef PAM_PORTCULLIS
constexpr const char* kModule = PAM_PORTCULLIS;
#else
constexpr const char* kModule = nullptr;
#endif

TimePoint now() {
    return std::chrono::floor<Seconds>(std::chrono::system_clock::now());
}

class PamSshdTest : public ::testing::Test {
  protected:
    void SetUp() override {
        if (kModule == nullptr) GTEST_SKIP() << "needs pam_portcullis";
        for (const char* tool :
             {kPamWrapper, kSshd, "/usr/bin/ssh", "/usr/bin/ssh-keygen", kPamPermit}) {
            if (!fs::exists(tool)) GTEST_SKIP() << "needs " << tool;
        }
        if (::geteuid() != 0) GTEST_SKIP() << "sshd with UsePAM needs root";
        dir_ = tmp_.path();
        ::chmod(dir_.c_str(), 0755);  // sshd's unprivileged child reads nothing here, but be safe
        createStore();
        if (HasFatalFailure()) return;
        writeSshd();
        if (HasFatalFailure()) return;
    }

    void createStore() {
        const db::StateDir dir(dir_ / "state");
        ASSERT_TRUE(dir.create());
        auto database = db::Database::open(dir, {.create = true});
        ASSERT_TRUE(database) << database.error();
        auto key = db::MasterKey::createOrLoad(dir);
        ASSERT_TRUE(key) << key.error();
        db::Accounts accounts(*database);
        ASSERT_TRUE(accounts.add("alice", "Alice", "alice@example.org", now()));
        auto enrollment = accounts.enrollTotp("alice", *key, "Portcullis", now());
        ASSERT_TRUE(enrollment) << enrollment.error();
        secret_ = std::move(enrollment->secret);
        db::Groups groups(*database);
        ASSERT_TRUE(groups.add("root-admins", now()));
        ASSERT_TRUE(groups.addMember("root-admins", "alice"));
    }

    void writeSshd() {
        auto keygen = [](const fs::path& file) {
            return runProcess(
                {"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "test", "-f", file.string()});
        };
        ASSERT_EQ(keygen(dir_ / "host_ed25519").exitCode, 0);
        ASSERT_EQ(keygen(dir_ / "client_ed25519").exitCode, 0);
        fs::copy_file(dir_ / "client_ed25519.pub", dir_ / "authorized_keys");
        ::chmod((dir_ / "authorized_keys").c_str(), 0600);
        fs::create_directories("/run/sshd");

        // The root login names the person behind it: account=ask, group root-admins.
        fs::create_directories(dir_ / "pam.d");
        writeFile(dir_ / "pam.d" / kService,
                  std::string("auth required ") + kModule +
                      " state_dir=" + (dir_ / "state").string() +
                      " account=ask group=root-admins\n" + "account required " + kPamPermit + "\n" +
                      "session required " + kPamPermit + "\n",
                  0644);

        port_ = freeLoopbackPort();
        writeFile(dir_ / "sshd_config",
                  "Port " + std::to_string(port_) + "\n" +
                      "ListenAddress 127.0.0.1\n"
                      "HostKey " +
                      (dir_ / "host_ed25519").string() + "\n" + "PidFile " +
                      (dir_ / "sshd.pid").string() + "\n" + "AuthorizedKeysFile " +
                      (dir_ / "authorized_keys").string() + "\n" +
                      "StrictModes no\n"
                      "UsePAM yes\n"
                      "KbdInteractiveAuthentication yes\n"
                      "PasswordAuthentication no\n"
                      "PubkeyAuthentication yes\n"
                      "AuthenticationMethods publickey,keyboard-interactive\n"
                      "PermitRootLogin yes\n"
                      "LogLevel VERBOSE\n",
                  0644);
        fs::create_symlink(kSshd, dir_ / kService);
    }

    std::unique_ptr<BackgroundProcess> startSshd() {
        auto sshd = std::make_unique<BackgroundProcess>();
        sshd->start(
            {(dir_ / kService).string(), "-D", "-e", "-f", (dir_ / "sshd_config").string()},
            dir_ / "sshd.log",
            {std::string("LD_PRELOAD=") + kPamWrapper, "PAM_WRAPPER=1",
             "PAM_WRAPPER_SERVICE_DIR=" + (dir_ / "pam.d").string(), "PAM_WRAPPER_DEBUGLEVEL=2"});
        waitForPort(port_, std::chrono::seconds(5));
        return sshd;
    }

    // ssh root@127.0.0.1 with the client key; SSH_ASKPASS answers the module's
    // prompts: the account name, then `code`.
    ProcessResult ssh(const std::string& code) {
        const fs::path askpass = dir_ / "askpass";
        writeFile(askpass,
                  "#!/bin/sh\n"
                  "case \"$1\" in\n"
                  "  *'Portcullis account'*) echo alice ;;\n"
                  "  *'Verification code'*) echo '" +
                      code +
                      "' ;;\n"
                      "  *) exit 1 ;;\n"
                      "esac\n",
                  0700);
        ProcessOptions options;
        options.env = {{"SSH_ASKPASS", askpass.string()},
                       {"SSH_ASKPASS_REQUIRE", "force"},
                       {"DISPLAY", "none"}};
        options.newSession = true;
        options.timeout = std::chrono::seconds(30);
        return runProcess({"ssh",
                           "-F",
                           "/dev/null",
                           "-p",
                           std::to_string(port_),
                           "-i",
                           (dir_ / "client_ed25519").string(),
                           "-o",
                           "IdentitiesOnly=yes",
                           "-o",
                           "StrictHostKeyChecking=no",
                           "-o",
                           "UserKnownHostsFile=/dev/null",
                           "-o",
                           "BatchMode=no",
                           "-o",
                           "NumberOfPasswordPrompts=1",
                           "-o",
                           "PreferredAuthentications=publickey,keyboard-interactive",
                           "root@127.0.0.1",
                           "echo",
                           "portcullis-pam-ok"},
                          options);
    }

    std::string sshdLog() { return readFile(dir_ / "sshd.log"); }

    std::vector<db::AuditRecord> pamEvents() {
        auto database = db::Database::open(db::StateDir(dir_ / "state"));
        EXPECT_TRUE(database) << database.error();
        if (!database) return {};
        db::AuditLog audit(*database, nullptr, false);
        db::AuditFilter filter;
        filter.type = "pam.auth";
        return audit.list(filter);
    }

    TempDir tmp_{"pam-sshd-test"};
    fs::path dir_;
    int port_ = 0;
    SecretBytes secret_;
};

TEST_F(PamSshdTest, FreshCodeLogsInAndReplayedCodeIsRefused) {
    auto sshd = startSshd();
    ASSERT_TRUE(waitForPort(port_, std::chrono::seconds(1))) << "sshd did not start:\n"
                                                             << sshdLog();

    const std::string code = db::totpCode(secret_, db::totpStep(now()));
    const auto first = ssh(code);
    EXPECT_EQ(first.exitCode, 0) << describe(first) << "\nsshd:\n" << sshdLog();
    EXPECT_NE(first.out.find("portcullis-pam-ok"), std::string::npos) << describe(first);

    const auto second = ssh(code);
    EXPECT_NE(second.exitCode, 0) << "a replayed code let root in: " << describe(second);
    EXPECT_EQ(second.out.find("portcullis-pam-ok"), std::string::npos);

    const auto events = pamEvents();
    ASSERT_EQ(events.size(), 2u) << sshdLog();
    const auto& ok = events[0].event.details;
    EXPECT_EQ(ok.value("service", ""), kService);
    EXPECT_EQ(ok.value("pam_user", ""), "root");
    EXPECT_EQ(ok.value("account", ""), "alice");
    EXPECT_EQ(ok.value("rhost", ""), "127.0.0.1");
    EXPECT_EQ(ok.value("result", ""), "success");
    const auto& replay = events[1].event.details;
    EXPECT_EQ(replay.value("result", ""), "failure");
    EXPECT_EQ(replay.value("reason", ""), "replayed");
}

TEST_F(PamSshdTest, KeyAloneIsNotEnough) {
    auto sshd = startSshd();
    ASSERT_TRUE(waitForPort(port_, std::chrono::seconds(1))) << "sshd did not start:\n"
                                                             << sshdLog();
    const auto r = ssh("000000x");
    EXPECT_NE(r.exitCode, 0) << describe(r);
    EXPECT_EQ(r.out.find("portcullis-pam-ok"), std::string::npos);
    const auto events = pamEvents();
    ASSERT_EQ(events.size(), 1u) << sshdLog();
    EXPECT_EQ(events[0].event.details.value("reason", ""), "bad_code");
    // sshd may log the failure a moment after the client has given up: wait for it.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (sshdLog().find("Failed keyboard-interactive/pam for root") == std::string::npos &&
           std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    EXPECT_NE(sshdLog().find("Failed keyboard-interactive/pam for root"), std::string::npos)
        << sshdLog();
}

// Without a registered key sshd never reaches the PAM step: a code alone is not enough.
TEST_F(PamSshdTest, CodeAloneIsNotEnough) {
    auto sshd = startSshd();
    ASSERT_TRUE(waitForPort(port_, std::chrono::seconds(1))) << "sshd did not start:\n"
                                                             << sshdLog();
    fs::remove(dir_ / "authorized_keys");
    writeFile(dir_ / "authorized_keys", "", 0600);
    const auto r = ssh(db::totpCode(secret_, db::totpStep(now())));
    EXPECT_NE(r.exitCode, 0) << describe(r);
    EXPECT_EQ(r.out.find("portcullis-pam-ok"), std::string::npos);
    EXPECT_TRUE(pamEvents().empty());
}

}  // namespace
}  // namespace portcullis::pam::test
