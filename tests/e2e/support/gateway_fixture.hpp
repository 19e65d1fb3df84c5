#pragma once
// The real portcullisd for end-to-end tests: a state directory set up through
// db/ directly (accounts, keys, TOTP, targets, grants), the daemon on a free
// loopback port, and the stock OpenSSH client to drive it (SSH_ASKPASS answers
// "Verification code: ", PLATFORM.md).
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/secret_bytes.hpp"
#include "common/time_format.hpp"
#include "db/audit.hpp"
#include "db/database.hpp"
#include "db/master_key.hpp"
#include "db/state_dir.hpp"
#include "tests/e2e/support/background_process.hpp"
#include "tests/support/process.hpp"

namespace portcullis::test {

struct SshCall {
    std::string user;           // "alice:box"
    std::filesystem::path key;  // -i
    std::string command;        // empty: none (e.g. with -tt)
    std::string code;           // what SSH_ASKPASS answers
    std::string input;          // stdin
    std::vector<std::string> extraArgs;
    std::chrono::milliseconds timeout{30000};
    // ERROR hides the lines a user sees by default (banners): INFO shows them.
    std::string logLevel = "ERROR";
};

class GatewayFixture {
  public:
    GatewayFixture();
    ~GatewayFixture();

    // Starts portcullisd (config: INI text, optional) and waits for its port.
    void start(const std::string& config = "");
    // "NAME=VALUE" entries added to portcullisd's environment from the next start()
    // on (e.g. LD_PRELOAD of libfaketime).
    void setEnvironment(std::vector<std::string> extraEnv) { extraEnv_ = std::move(extraEnv); }
    // SIGTERM (or another signal); returns the exit code (-1: killed/signalled).
    int stop(int signal, std::chrono::milliseconds timeout);
    pid_t pid() const { return process_.pid(); }
    bool running() { return process_.running(); }
    int port() const { return port_; }
    const db::StateDir& stateDir() const { return *stateDir_; }
    std::string upstreamPublicKey() const;  // authorized_keys line for targets
    std::string log() const;

    // Store setup, through db/ directly.
    // Adds an account with this public key file registered and TOTP enrolled.
    void addUser(const std::string& name, const std::filesystem::path& publicKeyFile);
    // The TOTP code for now (+ offset steps).
    std::string code(const std::string& name, int offset = 0) const;
    std::vector<std::string> recoveryCodes(const std::string& name) const;
    void addTarget(const std::string& name, int port, const std::string& defaultLogin,
                   const std::string& hostKeyLine);
    void grant(const std::string& subject, const std::string& pattern,
               const std::vector<std::string>& logins = {},
               const std::string& channels = "shell,exec",
               std::optional<Seconds> maxSession = std::nullopt,
               std::optional<Seconds> idleTimeout = std::nullopt);
    std::vector<db::AuditRecord> audit(const std::string& type);
    // The events of `type` once there are at least `count` (the gateway
    // writes them after the client may already have exited), or what there
    // is when `timeout` passes.
    std::vector<db::AuditRecord> awaitAudit(
        const std::string& type, std::size_t count,
        std::chrono::milliseconds timeout = std::chrono::seconds(10));
    int countSessions(const std::string& account, const std::string& status);
    db::Database& db() { return *db_; }

    // A fresh ed25519 key pair under the fixture's directory; returns the private key path.
    std::filesystem::path newKey(const std::string& name);
    // Runs the stock ssh client against the gateway.
    ProcessResult ssh(const SshCall& call);
    // The askpass script answering `code`.
    std::filesystem::path askpass(const std::string& code);
    std::vector<std::string> sshArgs(const SshCall& call) const;
    std::map<std::string, std::string> sshEnv(const std::filesystem::path& askpassScript) const;
    const std::filesystem::path& dir() const { return dir_.path(); }

  private:
    TempDir dir_{"portcullis-gw"};
    std::unique_ptr<db::StateDir> stateDir_;
    std::optional<db::MasterKey> masterKey_;
    std::optional<db::Database> db_;
    std::map<std::string, std::shared_ptr<SecretBytes>> secrets_;
    std::map<std::string, std::vector<std::string>> recovery_;
    int port_ = 0;
    int askpassCount_ = 0;
    std::vector<std::string> extraEnv_;
    BackgroundProcess process_;
};

}  // namespace portcullis::test
