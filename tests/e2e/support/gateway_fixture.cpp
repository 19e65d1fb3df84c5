#include "tests/e2e/support/gateway_fixture.hpp"

#include <signal.h>
#include <sys/stat.h>

#include <sstream>
#include <stdexcept>
#include <thread>

#include "common/ssh_public_key.hpp"
#include "db/accounts.hpp"
#include "db/grants.hpp"
#include "db/targets.hpp"
#include "db/totp.hpp"

namespace portcullis::test {
namespace fs = std::filesystem;

namespace {
void require(bool ok, const std::string& what) {
    if (!ok) throw std::runtime_error(what);
}
// Result<T>::error() is only valid on a failure: read it lazily.
template <class R>
void check(const R& result, const std::string& what) {
    if (!result.ok()) throw std::runtime_error(what + ": " + result.error());
}
std::string keygen(const fs::path& file) {
    const auto r = runProcess(
        {"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "test", "-f", file.string()});
    require(r.exitCode == 0, "ssh-keygen failed: " + r.err);
    return readFile(file.string() + ".pub");
}
}  // namespace

GatewayFixture::GatewayFixture() {
    stateDir_ = std::make_unique<db::StateDir>(dir_.path() / "state");
    auto created = stateDir_->create();
    check(created, "state dir");
    auto key = db::MasterKey::createOrLoad(*stateDir_);
    check(key, "master key");
    masterKey_.emplace(std::move(key).value());
    db::OpenOptions options;
    options.create = true;
    auto database = db::Database::open(*stateDir_, options);
    check(database, "database");
    db_.emplace(std::move(database).value());
    keygen(stateDir_->hostKey());
    keygen(stateDir_->upstreamKey());
}

GatewayFixture::~GatewayFixture() {
    if (process_.running()) process_.stop(SIGKILL, std::chrono::seconds(2));
}

void GatewayFixture::start(const std::string& config) {
#ifdef PORTCULLISD
    // A restart keeps its port, as a real one would (the gateway's identity
    // in the store is host:port).
    if (port_ == 0) port_ = freeLoopbackPort();
    std::vector<std::string> argv{PORTCULLISD,
                                  "--state-dir",
                                  stateDir_->root().string(),
                                  "--listen",
                                  "127.0.0.1:" + std::to_string(port_),
                                  "--log-level",
                                  "debug"};
    if (!config.empty()) {
        writeFile(dir_.path() / "portcullisd.ini", config, 0600);
        argv.push_back("--config");
        argv.push_back((dir_.path() / "portcullisd.ini").string());
    }
    process_.start(argv, dir_.path() / "portcullisd.log", extraEnv_);
    require(waitForPort(port_, std::chrono::seconds(10)), "portcullisd did not start: " + log());
#else
    (void)config;
    throw std::runtime_error("portcullisd is not built");
#endif
}

int GatewayFixture::stop(int signal, std::chrono::milliseconds timeout) {
    return process_.stop(signal, timeout);
}

std::string GatewayFixture::upstreamPublicKey() const {
    return readFile(stateDir_->upstreamKey().string() + ".pub");
}

std::string GatewayFixture::log() const {
    return readFile(dir_.path() / "portcullisd.log");
}

void GatewayFixture::addUser(const std::string& name, const fs::path& publicKeyFile) {
    db::Accounts accounts(*db_);
    auto account = accounts.add(name, "Test " + name, name + "@example.test", systemNow());
    check(account, "add user");
    auto key = SshPublicKey::parseLine(readFile(publicKeyFile));
    check(key, "key");
    auto stored = accounts.addKey(name, *key, systemNow());
    check(stored, "add key");
    auto enrollment = accounts.enrollTotp(name, *masterKey_, "Portcullis", systemNow());
    check(enrollment, "enroll");
    secrets_[name] = std::make_shared<SecretBytes>(std::move(enrollment->secret));
    recovery_[name] = enrollment->recoveryCodes;
}

std::string GatewayFixture::code(const std::string& name, int offset) const {
    const auto& secret = *secrets_.at(name);
    return db::totpCode(secret, db::totpStep(systemNow()) + offset);
}

std::vector<std::string> GatewayFixture::recoveryCodes(const std::string& name) const {
    return recovery_.at(name);
}

void GatewayFixture::addTarget(const std::string& name, int port, const std::string& defaultLogin,
                               const std::string& hostKeyLine) {
    db::Target target;
    target.name = name;
    target.host = "127.0.0.1";
    target.port = port;
    target.defaultLogin = defaultLogin;
    auto key = SshPublicKey::parseLine(hostKeyLine);
    check(key, "host key");
    target.hostKey = *key;
    auto added = db::Targets(*db_).add(target, systemNow());
    check(added, "add target");
}

void GatewayFixture::grant(const std::string& subject, const std::string& pattern,
                           const std::vector<std::string>& logins, const std::string& channels,
                           std::optional<Seconds> maxSession, std::optional<Seconds> idleTimeout) {
    db::Grant g;
    g.subject = subject;
    g.targetPattern = pattern;
    g.logins = logins;
    auto parsed = db::parseChannels(channels);
    check(parsed, "channels");
    g.channels = *parsed;
    if (maxSession) g.maxSession = *maxSession;
    if (idleTimeout) g.idleTimeout = *idleTimeout;
    g.createdBy = "test";
    g.reason = "e2e test";
    auto added = db::Grants(*db_).add(g, systemNow());
    check(added, "grant");
}

std::vector<db::AuditRecord> GatewayFixture::audit(const std::string& type) {
    db::AuditLog log(*db_, nullptr, false);
    db::AuditFilter filter;
    filter.type = type;
    filter.limit = 10000;
    return log.list(filter);
}

std::vector<db::AuditRecord> GatewayFixture::awaitAudit(const std::string& type, std::size_t count,
                                                        std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    auto records = audit(type);
    while (records.size() < count && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        records = audit(type);
    }
    return records;
}

int GatewayFixture::countSessions(const std::string& account, const std::string& status) {
    auto st = db_->prepare("SELECT count(*) FROM sessions WHERE account = ? AND status = ?");
    st.bind(1, account).bind(2, status);
    st.step();
    return static_cast<int>(st.int64(0));
}

fs::path GatewayFixture::newKey(const std::string& name) {
    const auto file = dir_.path() / ("key_" + name);
    keygen(file);
    return file;
}

fs::path GatewayFixture::askpass(const std::string& code) {
    const auto file = dir_.path() / ("askpass" + std::to_string(++askpassCount_));
    writeFile(file, "#!/bin/sh\nprintf '%s\\n' '" + code + "'\n", 0700);
    return file;
}

std::vector<std::string> GatewayFixture::sshArgs(const SshCall& call) const {
    std::vector<std::string> argv{
        "ssh",
        "-p",
        std::to_string(port_),
        "-i",
        call.key.string(),
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "IdentityAgent=none",
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "LogLevel=" + call.logLevel,
        "-o",
        "BatchMode=no",
        "-o",
        "ConnectTimeout=10",
        "-o",
        "NumberOfPasswordPrompts=1",
        "-o",
        "PreferredAuthentications=publickey,keyboard-interactive,password",
        "-o",
        "User=" + call.user};
    argv.insert(argv.end(), call.extraArgs.begin(), call.extraArgs.end());
    argv.push_back("127.0.0.1");
    if (!call.command.empty()) argv.push_back(call.command);
    return argv;
}

std::map<std::string, std::string> GatewayFixture::sshEnv(const fs::path& script) const {
    return {
        {"SSH_ASKPASS", script.string()}, {"SSH_ASKPASS_REQUIRE", "force"}, {"DISPLAY", "none"}};
}

ProcessResult GatewayFixture::ssh(const SshCall& call) {
    ProcessOptions options;
    options.env = sshEnv(askpass(call.code));
    options.unsetEnv = {"SSH_AUTH_SOCK"};
    options.input = call.input;
    options.timeout = call.timeout;
    options.newSession = true;
    return runProcess(sshArgs(call), options);
}

}  // namespace portcullis::test
