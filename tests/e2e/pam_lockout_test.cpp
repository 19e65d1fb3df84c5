// Issue 12 finding 3, lock-out as a weapon, at the PAM prompt: anyone at a
// pam_portcullis prompt (no first factor) typed `alice` and five wrong codes,
// and alice was locked out of the gateway; 20 failures from the shared source
// `local` throttled every local login, the root console included. Afterwards
// those failures only slow down their own source (PAM service + tty/rhost),
// `user unlock` and `throttle clear` lift that, and the documented stack
// (pam_unix requisite first) keeps a wrong password from the code prompt.
// pamtester under pam_wrapper, the real module, the real CLI, a real store.
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "db/accounts.hpp"
#include "db/audit.hpp"
#include "db/database.hpp"
#include "db/master_key.hpp"
#include "db/state_dir.hpp"
#include "tests/support/process.hpp"

namespace portcullis::pam::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using portcullis::test::describe;
using portcullis::test::ProcessOptions;
using portcullis::test::ProcessResult;
using portcullis::test::runProcess;
using portcullis::test::TempDir;
using portcullis::test::writeFile;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kPamWrapper = "/usr/lib/x86_64-linux-gnu/libpam_wrapper.so";
constexpr const char* kPamMatrix = "/usr/lib/x86_64-linux-gnu/pam_wrapper/pam_matrix.so";

#ifdef PAM_PORTCULLIS
constexpr const char* kModule = PAM_PORTCULLIS;
#else
constexpr const char* kModule = nullptr;
#endif

#define REQUIRE_TOOLS()                                                                            \
    do {                                                                                           \
        if (kModule == nullptr || !fs::exists(kPamWrapper) || !fs::exists("/usr/bin/pamtester")) { \
            GTEST_SKIP() << "needs pam_portcullis, pamtester, pam_wrapper";                        \
        }                                                                                          \
    } while (0)

TimePoint now() {
    return std::chrono::floor<Seconds>(std::chrono::system_clock::now());
}

class PamLockoutTest : public ::testing::Test {
  protected:
    void SetUp() override {
        fs::create_directories(serviceDir_);
        const db::StateDir dir(stateDir_);
        ASSERT_TRUE(dir.create());
        auto database = db::Database::open(dir, {.create = true});
        ASSERT_TRUE(database) << database.error();
        auto key = db::MasterKey::createOrLoad(dir);
        ASSERT_TRUE(key) << key.error();
        db::Accounts accounts(*database);
        ASSERT_TRUE(accounts.add("alice", "", "", now()));
        auto alice = accounts.enrollTotp("alice", *key, "Portcullis", now());
        ASSERT_TRUE(alice) << alice.error();
        recovery_ = alice->recoveryCodes;
    }

    void writeStack(const std::string& service, const std::string& lines) {
        writeFile(serviceDir_ / service, lines, 0644);
    }
    std::string moduleLine() const {
        return std::string("auth required ") + kModule + " state_dir=" + stateDir_.string() + "\n";
    }
    // pamtester SERVICE USER authenticate with these PAM items.
    ProcessResult pamtester(const std::string& service, const std::string& user,
                            const std::string& input, const std::string& tty,
                            const std::string& rhost = "") {
        std::vector<std::string> argv{"pamtester", "-v"};
        if (!rhost.empty()) {
            argv.emplace_back("-I");
            argv.push_back("rhost=" + rhost);
        }
        if (!tty.empty()) {
            argv.emplace_back("-I");
            argv.push_back("tty=" + tty);
        }
        for (const std::string& a : {service, user, std::string("authenticate")}) argv.push_back(a);
        ProcessOptions options;
        options.env = {{"LD_PRELOAD", kPamWrapper},
                       {"PAM_WRAPPER", "1"},
                       {"PAM_WRAPPER_SERVICE_DIR", serviceDir_.string()},
                       {"PAM_WRAPPER_DEBUGLEVEL", "2"}};
        options.input = input;
        options.timeout = std::chrono::seconds(60);
        return runProcess(argv, options);
    }
    ProcessResult cli(std::vector<std::string> args) {
        args.insert(args.begin(), {PORTCULLIS_CLI, "--state-dir", stateDir_.string()});
        ProcessOptions options;
        options.unsetEnv.push_back("PORTCULLIS_STATE_DIR");
        return runProcess(args, options);
    }
    json cliJson(std::vector<std::string> args) {
        args.push_back("--json");
        const auto r = cli(args);
        EXPECT_EQ(r.exitCode, 0) << describe(r);
        return json::parse(r.out, nullptr, false);
    }
    std::vector<db::AuditRecord> events(const std::string& type) {
        auto database = db::Database::open(db::StateDir(stateDir_)).value();
        db::AuditLog audit(database, nullptr, false);
        db::AuditFilter filter;
        filter.type = type;
        filter.limit = 1000;
        return audit.list(filter);
    }
    json lastPam() {
        const auto e = events("pam.auth");
        return e.empty() ? json::object() : e.back().event.details;
    }

    TempDir tmp_{"pam-lockout"};
    fs::path stateDir_ = tmp_.path() / "state";
    fs::path serviceDir_ = tmp_.path() / "pam.d";
    std::vector<std::string> recovery_;
};

TEST_F(PamLockoutTest, AStrangerAtAPromptCannotLockAnAccountAndSlowsOnlyTheirTerminal) {
    REQUIRE_TOOLS();
    writeStack("login", moduleLine());
    // A stranger on tty2 types alice and wrong codes: three are free, the
    // fourth starts a backoff of that terminal.
    for (int i = 0; i < 4; ++i) {
        const auto r = pamtester("login", "alice", "000000\n", "tty2");
        EXPECT_EQ(r.exitCode, 1) << i << ": " << describe(r);
        EXPECT_EQ(lastPam().value("reason", ""), "bad_code") << i;
    }
    // The fifth, even with a right code, is refused without being checked.
    auto r = pamtester("login", "alice", recovery_[0] + "\n", "tty2");
    EXPECT_EQ(r.exitCode, 1) << describe(r);
    EXPECT_EQ(lastPam().value("reason", ""), "throttled");
    EXPECT_EQ(lastPam().value("source_key", ""), "pam:login:tty=tty2");
    EXPECT_TRUE(lastPam().contains("throttled_until"));

    // alice is not locked out, and no lock-out was recorded.
    json alice = cliJson({"user", "show", "alice"});
    EXPECT_EQ(alice["locked"], false);
    EXPECT_EQ(alice["failures"], 0);
    EXPECT_EQ(alice["recovery_codes_left"], 10) << "the throttled attempt used a code";
    EXPECT_TRUE(events("account.locked").empty());
    EXPECT_EQ(events("source.throttled").size(), 1u);

    // The root console on tty1 is not slowed down by tty2.
    r = pamtester("login", "alice", recovery_[1] + "\n", "tty1");
    EXPECT_EQ(r.exitCode, 0) << describe(r);

    // The admin sees the throttle and what it involves.
    const json throttles = cliJson({"throttle", "list"});
    ASSERT_EQ(throttles.size(), 1u) << throttles.dump();
    EXPECT_EQ(throttles[0]["source"], "pam:login:tty=tty2");
    EXPECT_EQ(throttles[0]["accounts"], json::array({"alice"}));
    EXPECT_FALSE(throttles[0]["throttled_until"].is_null());

    // `user unlock alice` lifts it: tty2 may try again at once.
    const json unlocked = cliJson({"user", "unlock", "alice"});
    EXPECT_EQ(unlocked["throttles_cleared"], json::array({"pam:login:tty=tty2"}));
    r = pamtester("login", "alice", recovery_[2] + "\n", "tty2");
    EXPECT_EQ(r.exitCode, 0) << describe(r);
}

TEST_F(PamLockoutTest, ThrottleClearLiftsOneSource) {
    REQUIRE_TOOLS();
    writeStack("sshd", moduleLine());
    for (int i = 0; i < 4; ++i) pamtester("sshd", "alice", "000000\n", "ssh", "203.0.113.7");
    auto r = pamtester("sshd", "alice", recovery_[0] + "\n", "ssh", "203.0.113.7");
    EXPECT_EQ(r.exitCode, 1) << describe(r);
    EXPECT_EQ(lastPam().value("source_key", ""), "pam:sshd:rhost=203.0.113.7");
    // Another address is not affected (the control).
    r = pamtester("sshd", "alice", recovery_[1] + "\n", "ssh", "198.51.100.4");
    EXPECT_EQ(r.exitCode, 0) << describe(r);

    r = cli({"throttle", "clear", "pam:sshd:rhost=203.0.113.7"});
    EXPECT_EQ(r.exitCode, 0) << describe(r);
    r = pamtester("sshd", "alice", recovery_[2] + "\n", "ssh", "203.0.113.7");
    EXPECT_EQ(r.exitCode, 0) << describe(r);
    EXPECT_EQ(cli({"throttle", "clear", "pam:sshd:rhost=203.0.113.7"}).exitCode, 1);
}

// docs/pam.md: `auth requisite pam_unix.so` before pam_portcullis, so that a
// wrong password ends the stack before the code prompt (pam_matrix, the
// pam_wrapper test module, stands in for pam_unix and its password file).
TEST_F(PamLockoutTest, DocumentedStackOrderKeepsAWrongPasswordFromTheCodePrompt) {
    REQUIRE_TOOLS();
    if (!fs::exists(kPamMatrix)) GTEST_SKIP() << "needs pam_matrix.so";
    const fs::path passdb = tmp_.path() / "passdb";
    writeFile(passdb, "alice:correct-horse:login\n", 0600);
    writeStack("login", std::string("auth requisite ") + kPamMatrix + " passdb=" + passdb.string() +
                            "\n" + moduleLine());

    for (int i = 0; i < 6; ++i) {
        const auto r = pamtester("login", "alice", "wrong-password\n000000\n", "tty2");
        EXPECT_EQ(r.exitCode, 1) << describe(r);
        EXPECT_THAT(r.out + r.err, Not(HasSubstr("Verification code"))) << describe(r);
    }
    EXPECT_TRUE(events("pam.auth").empty()) << "a wrong password reached the module";
    EXPECT_TRUE(cliJson({"throttle", "list"}).empty());

    // The right password reaches the code prompt; a wrong code fails there.
    auto r = pamtester("login", "alice", "correct-horse\n000000\n", "tty2");
    EXPECT_EQ(r.exitCode, 1) << describe(r);
    EXPECT_THAT(r.out + r.err, HasSubstr("Verification code"));
    EXPECT_EQ(lastPam().value("reason", ""), "bad_code");
    // Both factors: success.
    r = pamtester("login", "alice", "correct-horse\n" + recovery_[0] + "\n", "tty2");
    EXPECT_EQ(r.exitCode, 0) << describe(r);
}

}  // namespace
}  // namespace portcullis::pam::test
