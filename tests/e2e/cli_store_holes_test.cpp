// Issue 12 ("close the holes"), the admin CLI's side, run as the real
// `portcullis` on real stores: grants revoked with what they name (finding
// 6), the start==end window (finding 6), one key per account (finding 9),
// init and a missing master.key (finding 10), live connections re-checked at
// once over control.sock (finding 2, against a fake daemon listening there),
// and the throttle commands and unlock (finding 3). Each refusal has its
// positive control beside it.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "db/accounts.hpp"
#include "db/audit.hpp"
#include "db/database.hpp"
#include "db/master_key.hpp"
#include "db/otp_guard.hpp"
#include "db/state_dir.hpp"
#include "tests/support/process.hpp"

namespace portcullis::test {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

void generateKey(const fs::path& file) {
    ASSERT_EQ(
        runProcess({"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "k", "-f", file.string()})
            .exitCode,
        0);
}

// A stand-in for portcullisd's control socket: answers each request line with
// `answer` and remembers the requests.
class FakeControlSocket {
  public:
    FakeControlSocket(const fs::path& path, std::string answer) : answer_(std::move(answer)) {
        fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
        if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
            ::listen(fd_, 8) != 0) {
            throw std::runtime_error("cannot listen on " + path.string());
        }
        thread_ = std::thread([this] { serve(); });
    }
    ~FakeControlSocket() {
        stop_ = true;
        ::shutdown(fd_, SHUT_RDWR);
        thread_.join();
        ::close(fd_);
    }
    std::vector<json> requests() {
        std::lock_guard lock(mutex_);
        return requests_;
    }

  private:
    void serve() {
        while (!stop_) {
            const int client = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
            if (client < 0) return;
            std::string line;
            char c;
            while (::read(client, &c, 1) == 1 && c != '\n') line += c;
            {
                std::lock_guard lock(mutex_);
                requests_.push_back(json::parse(line, nullptr, false));
            }
            const std::string reply = answer_ + "\n";
            (void)!::write(client, reply.data(), reply.size());
            ::close(client);
        }
    }
    int fd_ = -1;
    std::string answer_;
    std::atomic<bool> stop_{false};
    std::mutex mutex_;
    std::vector<json> requests_;
    std::thread thread_;
};

class CliStoreHolesTest : public ::testing::Test {
  protected:
    void SetUp() override { ASSERT_EQ(cli({"init"}).exitCode, 0); }
    ProcessResult cli(std::vector<std::string> args) {
        args.insert(args.begin(), {PORTCULLIS_CLI, "--state-dir", state_.string()});
        ProcessOptions options;
        options.env.emplace("SUDO_USER", "ops-frank");
        options.unsetEnv.push_back("PORTCULLIS_STATE_DIR");
        return runProcess(args, options);
    }
    json cliJson(std::vector<std::string> args, int expectedExit = 0) {
        args.push_back("--json");
        const auto r = cli(args);
        EXPECT_EQ(r.exitCode, expectedExit) << describe(r);
        return json::parse(r.out, nullptr, false);
    }
    void ok(const std::vector<std::string>& args) {
        const auto r = cli(args);
        ASSERT_EQ(r.exitCode, 0) << describe(r);
    }
    void addTarget(const std::string& name) {
        const fs::path key = tmp_.path() / ("host-" + name + "-" + std::to_string(++keys_));
        generateKey(key);
        std::string line = readFile(key.string() + ".pub");
        line = line.substr(0, line.rfind(' '));
        ok({"target", "add", name, "--host", "127.0.0.1", "--host-key", line});
    }
    json events(const std::string& type) {
        return cliJson({"audit", "list", "--type", type, "--limit", "1000"});
    }

    TempDir tmp_{"cli-store-holes"};
    fs::path state_ = tmp_.path() / "state";
    int keys_ = 0;
};

// ---- finding 6: removal revokes, a new one of the same name inherits nothing ----

TEST_F(CliStoreHolesTest, RemovingAnAccountRevokesItsGrants) {
    addTarget("cosigner-1");
    ok({"user", "add", "alice"});
    ok({"grant", "alice", "cosigner-1"});
    ok({"grant", "alice", "cosigner-*"});
    EXPECT_EQ(cli({"policy", "check", "alice", "cosigner-1"}).exitCode, 0);  // control

    const json removed = cliJson({"user", "remove", "alice"});
    EXPECT_EQ(removed["revoked_grants"], json::array({1, 2}));
    const json revokes = events("admin.grant.revoke");
    ASSERT_EQ(revokes.size(), 2u);
    EXPECT_EQ(revokes[0]["details"]["reason"], "account alice removed");
    EXPECT_EQ(events("admin.user.remove")[0]["details"]["revoked_grants"], json::array({1, 2}));

    ok({"user", "add", "alice"});
    const auto r = cli({"policy", "check", "alice", "cosigner-1"});
    EXPECT_EQ(r.exitCode, 1) << "the new alice inherited a grant: " << describe(r);
    // Control: a grant made for the new alice works.
    ok({"grant", "alice", "cosigner-1"});
    EXPECT_EQ(cli({"policy", "check", "alice", "cosigner-1"}).exitCode, 0);
    EXPECT_EQ(cli({"audit", "verify"}).exitCode, 0);
}

TEST_F(CliStoreHolesTest, RemovingAGroupRevokesItsGrants) {
    addTarget("cosigner-1");
    ok({"user", "add", "bob"});
    ok({"group", "add", "oncall"});
    ok({"group", "add-member", "oncall", "bob"});
    ok({"grant", "@oncall", "cosigner-1"});
    EXPECT_EQ(cli({"policy", "check", "bob", "cosigner-1"}).exitCode, 0);
    const json removed = cliJson({"group", "remove", "oncall"});
    EXPECT_EQ(removed["revoked_grants"], json::array({1}));
    ok({"group", "add", "oncall"});
    ok({"group", "add-member", "oncall", "bob"});
    EXPECT_EQ(cli({"policy", "check", "bob", "cosigner-1"}).exitCode, 1);
}

TEST_F(CliStoreHolesTest, RemovingATargetRevokesTheGrantsNamingItButNotGlobs) {
    addTarget("cosigner-1");
    ok({"user", "add", "carol"});
    ok({"grant", "carol", "cosigner-1", "--allow", "sftp"});
    ok({"grant", "carol", "cosigner-*"});
    const json removed = cliJson({"target", "remove", "cosigner-1"});
    EXPECT_EQ(removed["revoked_grants"], json::array({1}));
    addTarget("cosigner-1");
    // The exact-name grant (sftp) is gone; the glob (shell, exec) still applies.
    EXPECT_EQ(cli({"policy", "check", "carol", "cosigner-1", "--channel", "shell"}).exitCode, 0);
    EXPECT_EQ(cli({"policy", "check", "carol", "cosigner-1", "--channel", "sftp"}).exitCode, 1);
}

TEST_F(CliStoreHolesTest, GrantsLeftByARemovalBeforeTheFixAreRevokedWhenTheNameComesBack) {
    addTarget("cosigner-1");
    ok({"user", "add", "dave"});
    ok({"grant", "dave", "cosigner-1"});
    {
        // What `user remove` did before: the account went, its grant stayed.
        auto database = db::Database::open(db::StateDir(state_)).value();
        database.exec("DELETE FROM accounts WHERE name = 'dave'");
    }
    const json added = cliJson({"user", "add", "dave"});
    EXPECT_EQ(cli({"policy", "check", "dave", "cosigner-1"}).exitCode, 1);
    EXPECT_EQ(events("admin.grant.revoke")[0]["details"]["reason"],
              "left over from an earlier account dave");
}

TEST_F(CliStoreHolesTest, AWindowWhoseHoursStartWhereTheyEndIsAUsageError) {
    addTarget("cosigner-1");
    ok({"user", "add", "erin"});
    const auto r = cli({"grant", "erin", "cosigner-1", "--window", "Mon-Fri 08:00-08:00"});
    EXPECT_EQ(r.exitCode, 2) << describe(r);
    EXPECT_THAT(r.err, HasSubstr("start and end at the same time"));
    EXPECT_TRUE(cliJson({"policy", "list"}).empty());
    ok({"grant", "erin", "cosigner-1", "--window", "Mon-Fri 08:00-18:00"});  // control
    ok({"grant", "erin", "cosigner-1", "--window", "Mon-Sun 00:00-24:00"});
}

// ---- finding 9: one key per account ------------------------------------------

TEST_F(CliStoreHolesTest, AnotherAccountsKeyIsRefusedNamingThatAccount) {
    ok({"user", "add", "alice"});
    ok({"user", "add", "bob"});
    const fs::path aliceKey = tmp_.path() / "alice_key";
    const fs::path bobKey = tmp_.path() / "bob_key";
    generateKey(aliceKey);
    generateKey(bobKey);
    ok({"user", "key", "add", "alice", "--file", aliceKey.string() + ".pub"});
    const auto r = cli({"user", "key", "add", "bob", "--file", aliceKey.string() + ".pub"});
    EXPECT_EQ(r.exitCode, 1) << describe(r);
    EXPECT_THAT(r.err, HasSubstr("already registered to account alice"));
    EXPECT_TRUE(cliJson({"user", "key", "list", "bob"}).empty());
    ok({"user", "key", "add", "bob", "--file", bobKey.string() + ".pub"});  // control
}

TEST_F(CliStoreHolesTest, KeyListFlagsAKeyAStoreFromBeforeHoldsForTwoAccounts) {
    ok({"user", "add", "alice"});
    ok({"user", "add", "bob"});
    const fs::path aliceKey = tmp_.path() / "alice_key";
    generateKey(aliceKey);
    ok({"user", "key", "add", "alice", "--file", aliceKey.string() + ".pub"});
    EXPECT_EQ(cliJson({"user", "key", "list", "alice"})[0]["also_registered_to"], json::array());
    {
        auto database = db::Database::open(db::StateDir(state_)).value();
        database.exec(
            "INSERT INTO ssh_keys (account_id, type, blob, fingerprint, comment, created_at) "
            "SELECT (SELECT id FROM accounts WHERE name = 'bob'), type, blob, fingerprint, '', 0 "
            "FROM ssh_keys");
    }
    const auto r = cli({"user", "key", "list", "bob"});
    EXPECT_EQ(r.exitCode, 0) << describe(r);
    EXPECT_THAT(r.err, HasSubstr("also registered to alice"));
    EXPECT_THAT(r.err, HasSubstr("the gateway refuses it"));
    EXPECT_EQ(cliJson({"user", "key", "list", "alice"})[0]["also_registered_to"],
              json::array({"bob"}));
}

// ---- finding 10: a missing master.key ------------------------------------------

TEST_F(CliStoreHolesTest, InitRefusesToReplaceAMissingKeyThatSealedSecrets) {
    ok({"user", "add", "alice"});
    ok({"user", "totp", "enroll", "alice"});
    const std::string before = readFile(state_ / "master.key");
    fs::remove(state_ / "master.key");

    // What sends the operator to init says restore instead.
    auto r = cli({"user", "totp", "enroll", "alice"});
    EXPECT_EQ(r.exitCode, 1);
    EXPECT_THAT(r.err, HasSubstr("restore master.key from your backup"));
    EXPECT_THAT(r.err, Not(HasSubstr("run `portcullis init`")));

    r = cli({"init"});
    EXPECT_EQ(r.exitCode, 1) << describe(r);
    EXPECT_THAT(r.err, HasSubstr("restore master.key from your backup"));
    EXPECT_THAT(r.err, HasSubstr("1 sealed TOTP secret"));
    EXPECT_FALSE(fs::exists(state_ / "master.key")) << "init made a new key";

    // Control: the restored key works again, and init is idempotent.
    writeFile(state_ / "master.key", before, 0600);
    EXPECT_EQ(cli({"init"}).exitCode, 0);
    EXPECT_EQ(readFile(state_ / "master.key"), before);
}

TEST_F(CliStoreHolesTest, InitMakesANewKeyForAStoreThatSealedNothing) {
    ok({"user", "add", "alice"});  // no TOTP enrolled: nothing sealed
    fs::remove(state_ / "master.key");
    const auto r = cli({"init"});
    EXPECT_EQ(r.exitCode, 0) << describe(r);
    EXPECT_TRUE(fs::exists(state_ / "master.key"));
}

TEST_F(CliStoreHolesTest, InitRefusesWhenOnlySealedRecordingInputIsLeft) {
    writeFile(state_ / "recordings" / "s-1.secrets", "{}\n", 0600);
    fs::remove(state_ / "master.key");
    const auto r = cli({"init"});
    EXPECT_EQ(r.exitCode, 1) << describe(r);
    EXPECT_THAT(r.err, HasSubstr("1 sealed recording file"));
}

// ---- finding 2: live connections re-checked at once ---------------------------

TEST_F(CliStoreHolesTest, ChangesThatEndAccessAskTheDaemonToRecheck) {
    addTarget("cosigner-1");
    ok({"user", "add", "alice"});
    const fs::path key = tmp_.path() / "alice_key";
    generateKey(key);
    ok({"user", "key", "add", "alice", "--file", key.string() + ".pub"});
    ok({"user", "totp", "enroll", "alice"});
    ok({"grant", "alice", "cosigner-1"});
    const std::string fingerprint = cliJson({"user", "key", "list", "alice"})[0]["fingerprint"];

    FakeControlSocket daemon(state_ / "control.sock", R"({"ok":true,"connections":2})");
    // Changes that end nothing ask for nothing (the control).
    ok({"user", "enable", "alice"});
    ok({"user", "unlock", "alice"});
    EXPECT_TRUE(daemon.requests().empty());

    auto r = cli({"user", "disable", "alice"});
    EXPECT_EQ(r.exitCode, 0) << describe(r);
    EXPECT_THAT(r.out, HasSubstr("re-checked 2 live connection(s) of alice"));
    EXPECT_EQ(
        cliJson({"user", "key", "remove", "alice", fingerprint})["live_connections_rechecked"], 2);
    ok({"user", "totp", "reset", "alice"});
    ok({"revoke", "1"});
    ok({"user", "remove", "alice"});
    const json account = {{"op", "recheck"}, {"account", "alice"}};
    const json every = {{"op", "recheck"}};
    EXPECT_THAT(daemon.requests(), ElementsAre(account, account, account, every, account));
}

TEST_F(CliStoreHolesTest, RecheckIsBestEffort) {
    ok({"user", "add", "alice"});
    // No daemon at all: the change is made, exit 0.
    auto r = cli({"user", "disable", "alice"});
    EXPECT_EQ(r.exitCode, 0) << describe(r);
    EXPECT_THAT(r.out, HasSubstr("not running"));
    // An older daemon that does not know the operation.
    FakeControlSocket daemon(state_ / "control.sock", R"({"ok":false,"error":"unknown op"})");
    const json out = cliJson({"user", "disable", "alice"});
    EXPECT_TRUE(out["live_connections_rechecked"].is_null());
    EXPECT_EQ(daemon.requests().size(), 1u);
    EXPECT_EQ(cliJson({"user", "show", "alice"})["enabled"], false);
}

// ---- finding 3: throttles listed, cleared, and cleared by unlock ----------------

TEST_F(CliStoreHolesTest, ThrottlesAreListedAndClearedAndUnlockClearsAlicesOnes) {
    ok({"user", "add", "alice"});
    ok({"user", "add", "bob"});
    ok({"user", "totp", "enroll", "alice"});
    {
        const db::StateDir dir(state_);
        auto database = db::Database::open(dir).value();
        auto key = db::MasterKey::load(dir).value();
        db::AuditLog audit(database, &dir, false);
        db::OtpGuard guard(database, key, audit);
        const auto now = std::chrono::floor<Seconds>(std::chrono::system_clock::now());
        for (int i = 0; i < 4; ++i) {
            guard.verify("alice", "000000", "pam:login:tty=tty2", db::FirstFactor::unproven, now);
        }
        guard.verify("bob", "000000", "pam:sshd:rhost=10.0.0.9", db::FirstFactor::unproven, now);
    }
    EXPECT_TRUE(cliJson({"throttle", "list"}).is_array());
    json list = cliJson({"throttle", "list"});
    ASSERT_EQ(list.size(), 2u) << list.dump();
    const auto tty2 = list[0]["source"] == "pam:login:tty=tty2" ? list[0] : list[1];
    EXPECT_EQ(tty2["source"], "pam:login:tty=tty2");
    EXPECT_EQ(tty2["failures"], 4);
    EXPECT_EQ(tty2["accounts"], json::array({"alice"}));
    EXPECT_FALSE(tty2["throttled_until"].is_null());
    EXPECT_THAT(cli({"throttle", "list"}).out, HasSubstr("pam:login:tty=tty2"));
    // alice is not locked: strangers' failures only slow their source down.
    EXPECT_EQ(cliJson({"user", "show", "alice"})["locked"], false);

    // unlock alice clears the source she was tried from, and only that one.
    const json unlocked = cliJson({"user", "unlock", "alice"});
    EXPECT_EQ(unlocked["throttles_cleared"], json::array({"pam:login:tty=tty2"}));
    list = cliJson({"throttle", "list"});
    ASSERT_EQ(list.size(), 1u);
    EXPECT_EQ(list[0]["source"], "pam:sshd:rhost=10.0.0.9");
    EXPECT_EQ(events("admin.user.unlock")[0]["details"]["throttles_cleared"],
              json::array({"pam:login:tty=tty2"}));

    // throttle clear SOURCE: exit 1 when it has none; then clear all.
    auto r = cli({"throttle", "clear", "pam:login:tty=tty2"});
    EXPECT_EQ(r.exitCode, 1) << describe(r);
    EXPECT_THAT(r.err, HasSubstr("no throttle for source pam:login:tty=tty2"));
    ok({"throttle", "clear", "pam:sshd:rhost=10.0.0.9"});
    EXPECT_TRUE(cliJson({"throttle", "list"}).empty());
    ok({"throttle", "clear"});
    const json clears = events("admin.throttle.clear");
    ASSERT_EQ(clears.size(), 2u);
    EXPECT_EQ(clears[0]["details"]["source"], "pam:sshd:rhost=10.0.0.9");
    EXPECT_EQ(clears[1]["details"]["source"], "all");
    EXPECT_EQ(cli({"audit", "verify"}).exitCode, 0);
}

}  // namespace
}  // namespace portcullis::test
