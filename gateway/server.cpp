#include "gateway/server.hpp"

#include "gateway/instance_lock.hpp"
#include "gateway/startup_checks.hpp"

#include <unistd.h>

#include <boost/asio/strand.hpp>
#include <thread>

namespace portcullis::gateway {
namespace {

constexpr const char* kPubkeyTypes =
    "ssh-ed25519,sk-ssh-ed25519@openssh.com,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-"
    "nistp521,"
    "sk-ecdsa-sha2-nistp256@openssh.com,rsa-sha2-512,rsa-sha2-256";
constexpr auto kShutdownPoll = std::chrono::milliseconds(50);

std::string hostName() {
    char buf[256] = {0};
    if (::gethostname(buf, sizeof buf - 1) != 0) return "localhost";
    return buf;
}

}  // namespace

Server::Server(Config config, db::StateDir stateDir, Logger& log, ConfigLoader reload)
    : config_(std::move(config)),
      loadConfig_(std::move(reload)),
      liveConfig_(std::make_shared<const Config>(config_)),
      stateDir_(std::move(stateDir)),
      log_(log),
      acceptStrand_(boost::asio::make_strand(io_)),
      acceptor_(acceptStrand_),
      signals_(io_, SIGTERM, SIGINT),
      reloadSignal_(io_, SIGHUP),
      shutdownTimer_(io_),
      checkpointTimer_(io_),
      reportTimer_(io_),
      admission_(std::make_shared<Admission>(config_.maxStartups, config_.maxStartupsPerSource)) {}

Server::~Server() {
    control_.reset();                      // removes control.sock
    if (recordings_) recordings_->stop();  // its seals go to the store next
    if (db_) db_->stop();
}

Result<void> Server::prepare() {
    if (!stateDir_.exists()) {
        return makeError("no Portcullis store in " + stateDir_.root().string() +
                         " (run `portcullis init`)");
    }
    // Before anything touches the store (start-up marks this gateway's
    // sessions aborted): a second daemon stops here.
    auto lock = InstanceLock::acquire(stateDir_);
    if (!lock) return makeError(lock.error());
    instanceLock_.emplace(std::move(lock).value());
    if (auto ok = stateDir_.checkPermissions(); !ok) return ok;
    // Posture (deployment on a hardened host): refuse keys or store others can
    // read; say so when running as root or on a shared file system.
    const auto findings = checkStartupPosture(stateDir_);
    for (const auto& f : findings) {
        if (f.level == StartupFinding::Level::warn)
            log_.warn("startup.posture", {{"warning", f.message}});
    }
    for (const auto& f : findings) {
        if (f.level == StartupFinding::Level::refuse) return makeError(f.message);
    }
    auto key = db::MasterKey::load(stateDir_);
    if (!key) return makeError(key.error());
    masterKey_.emplace(std::move(key).value());

    ssh_key raw = nullptr;
    if (ssh_pki_import_privkey_file(stateDir_.upstreamKey().c_str(), nullptr, nullptr, nullptr,
                                    &raw) != SSH_OK) {
        return makeError("cannot read the upstream key " + stateDir_.upstreamKey().string());
    }
    upstreamKey_.reset(raw);
    if (auto ok = setupBind(); !ok) return ok;

    syslog_ = std::make_shared<db::SyslogSink>(config_.syslogSocket);
    auto pool =
        DbPool::start(stateDir_, *masterKey_, config_.guard, config_.dbWorkers, log_, syslog_);
    if (!pool) return makeError(pool.error());
    db_ = std::move(pool).value();

    const std::string gatewayId = hostName() + ":" + std::to_string(config_.listenPort);
    recordings_ = std::make_unique<RecordingWriter>(log_);
    services_ = std::make_unique<Services>(
        Services{[this] { return currentConfig(); }, log_, *db_, *recordings_, upstreamKey_.get(),
                 stateDir_.keysDir(), stateDir_.root(), gatewayId});
    // Sessions a crash left open are marked aborted; their recordings are
    // checked against their last checkpoint, never sealed as found.
    db_->submit([gatewayId, root = stateDir_.root(), &log = log_](DbContext& ctx) {
        const int n = db::Sessions(ctx.db).abortActive(gatewayId, systemNow());
        if (n > 0) log.warn("session.aborted_at_start", {{"count", n}});
        const int unsealed = reportLeftoverRecordings(ctx, root);
        if (unsealed > 0) log.warn("recording.unsealed_at_start", {{"count", unsealed}});
    });

    // The control socket first: once the port answers, control.sock is there.
    control_ = std::make_unique<ControlServer>(
        io_, stateDir_.controlSocket(),
        ControlHandlers{[this] { return listLive(); },
                        [this](const std::string& id, const std::string& by,
                               const std::string& reason) { return killSession(id, by, reason); },
                        [this](const std::string& account) { return recheckAccount(account); }},
        log_);
    if (auto ok = control_->open(); !ok) return ok;
    boost::system::error_code ec;
    const auto address = boost::asio::ip::make_address(config_.listenAddress, ec);
    if (ec) return makeError("bad listen address " + config_.listenAddress + ": " + ec.message());
    const boost::asio::ip::tcp::endpoint endpoint(address, config_.listenPort);
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(boost::asio::ip::tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(boost::asio::socket_base::max_listen_connections, ec);
    if (ec) {
        return makeError("cannot listen on " + config_.listenAddress + ":" +
                         std::to_string(config_.listenPort) + ": " + ec.message());
    }
    return {};
}

nlohmann::json Server::listLive() {
    const auto live = liveConnections();
    nlohmann::json out = nlohmann::json::array();
    for (auto& c : live) {
        const auto s = c->liveSession();
        if (!s) continue;
        out.push_back({{"id", s->id},
                       {"account", s->account},
                       {"login", s->login},
                       {"target", s->target},
                       {"source", s->source},
                       {"grant_id", s->grantId ? nlohmann::json(*s->grantId) : nlohmann::json()},
                       {"started_at", formatIso8601(s->startedAt)},
                       {"channels", s->channels},
                       {"bytes_in", s->bytesIn},
                       {"bytes_out", s->bytesOut},
                       {"idle_s", s->idleSeconds}});
    }
    return out;
}

bool Server::killSession(const std::string& id, const std::string& by, const std::string& reason) {
    const auto live = liveConnections();
    for (auto& c : live) {
        if (c->kill(id, by, reason)) return true;
    }
    return false;
}

int Server::recheckAccount(const std::string& account) {
    int asked = 0;
    for (auto& c : liveConnections()) {
        if (c->closed() || c->account().empty()) continue;
        if (!account.empty() && c->account() != account) continue;
        c->recheckNow();
        ++asked;
    }
    return asked;
}

std::vector<std::shared_ptr<ClientConnection>> Server::liveConnections() {
    std::vector<std::shared_ptr<ClientConnection>> live;
    const std::lock_guard lock(connectionsMutex_);
    for (auto& w : connections_) {
        if (auto c = w.lock()) live.push_back(std::move(c));
    }
    return live;
}

Result<void> Server::setupBind() {
    bind_.reset(ssh_bind_new());
    if (!bind_) return makeError("out of memory");
    ssh_bind b = bind_.get();
    ssh_key raw = nullptr;
    if (ssh_pki_import_privkey_file(stateDir_.hostKey().c_str(), nullptr, nullptr, nullptr, &raw) !=
        SSH_OK) {
        return makeError("cannot read the host key " + stateDir_.hostKey().string());
    }
    KeyPtr hostKey(raw);
    if (ssh_key_type(hostKey.get()) != SSH_KEYTYPE_ED25519) {
        return makeError("the host key " + stateDir_.hostKey().string() + " is not an ed25519 key");
    }
    bool processConfig = false;
    struct Option {
        ssh_bind_options_e option;
        const void* value;
        const char* name;
    };
    const Option options[] = {
        {SSH_BIND_OPTIONS_PROCESS_CONFIG, &processConfig, "process config"},
        {SSH_BIND_OPTIONS_KEY_EXCHANGE, config_.kex.c_str(), "kex"},
        {SSH_BIND_OPTIONS_HOSTKEY_ALGORITHMS, config_.hostKeyAlgorithms.c_str(),
         "host key algorithms"},
        {SSH_BIND_OPTIONS_CIPHERS_C_S, config_.ciphers.c_str(), "ciphers"},
        {SSH_BIND_OPTIONS_CIPHERS_S_C, config_.ciphers.c_str(), "ciphers"},
        {SSH_BIND_OPTIONS_HMAC_C_S, config_.macs.c_str(), "macs"},
        {SSH_BIND_OPTIONS_HMAC_S_C, config_.macs.c_str(), "macs"},
        {SSH_BIND_OPTIONS_PUBKEY_ACCEPTED_KEY_TYPES, kPubkeyTypes, "public key types"},
        {SSH_BIND_OPTIONS_BANNER, kServerBanner, "banner"},
    };
    for (const auto& o : options) {
        if (ssh_bind_options_set(b, o.option, o.value) != SSH_OK) {
            return makeError(std::string("cannot set ") + o.name + ": " + ssh_get_error(b));
        }
    }
    if (ssh_bind_options_set(b, SSH_BIND_OPTIONS_IMPORT_KEY, hostKey.get()) != SSH_OK) {
        return makeError(std::string("cannot use the host key: ") + ssh_get_error(b));
    }
    static_cast<void>(hostKey.release());  // the bind owns it now
    return {};
}

int Server::run() {
    signals_.async_wait([this](const boost::system::error_code& ec, int signal) {
        if (!ec) beginShutdown(signal);
    });
    waitForReload();
    accept();
    control_->start();
    checkpoint("start");
    scheduleAuditReports();
    log_.info("gateway.listening", {{"address", config_.listenAddress},
                                    {"port", static_cast<int>(config_.listenPort)},
                                    {"state_dir", stateDir_.root().string()},
                                    {"control", stateDir_.controlSocket().string()}});
    unsigned threads = config_.threads > 0 ? static_cast<unsigned>(config_.threads)
                                           : std::thread::hardware_concurrency();
    if (threads == 0) threads = 2;
    std::vector<std::thread> pool;
    for (unsigned i = 1; i < threads; ++i) pool.emplace_back([this] { io_.run(); });
    io_.run();
    for (auto& t : pool) t.join();
    recordings_->stop();  // the last bytes and the seals (which queue store jobs)
    db_->stop();          // writes what is queued (session ends, seals, audit events)
    // The chain's head once everything is written: the SIEM's last anchor.
    if (auto database = db::Database::open(stateDir_)) {
        db::AuditLog audit(*database, nullptr, false);
        sendCheckpoint(audit.head(), "stop");
    }
    reportSyslogDrops();
    log_.info("gateway.stopped");
    return 0;
}

void Server::accept() {
    acceptor_.async_accept(
        boost::asio::make_strand(io_),
        [this](const boost::system::error_code& ec, boost::asio::ip::tcp::socket socket) {
            if (stopping_) return;
            if (!ec)
                onAccept(std::move(socket));
            else
                log_.warn("accept.failed", {{"error", ec.message()}});
            accept();
        });
}

void Server::onAccept(boost::asio::ip::tcp::socket socket) {
    boost::system::error_code ec;
    const auto remote = socket.remote_endpoint(ec);
    if (ec) return;
    PeerInfo peer{remote.address().to_string(), remote.port()};
    const std::string source = sourceBlock(peer.address);
    auto ticket = admission_->enter(source);
    if (!ticket) ticket = makeRoomFor(source);
    if (!ticket) {
        if (const auto count = refusals_.due()) {
            log_.warn("connection.refused", {{"source", peer.address},
                                             {"reason", "too many unauthenticated connections"},
                                             {"refused_since_last_line", *count}});
        }
        return;  // the socket closes as it goes out of scope
    }
    socket.set_option(boost::asio::ip::tcp::no_delay(true), ec);

    SessionPtr session(ssh_new());
    if (!session) return;
    const char* none = "none";
    ssh_options_set(session.get(), SSH_OPTIONS_COMPRESSION_C_S, none);
    ssh_options_set(session.get(), SSH_OPTIONS_COMPRESSION_S_C, none);
    const int fd = socket.release();
    // ssh_bind_accept_fd touches the shared bind: it runs here, on the accept strand only.
    if (ssh_bind_accept_fd(bind_.get(), session.get(), fd) != SSH_OK) {
        log_.error("accept.ssh_failed", {{"error", ssh_get_error(bind_.get())}});
        if (ssh_get_fd(session.get()) != fd) ::close(fd);
        return;
    }
    const auto id = nextConnectionId_++;
    auto connection = std::make_shared<ClientConnection>(
        *services_, boost::asio::strand<boost::asio::io_context::executor_type>(io_.get_executor()),
        std::move(session), peer, std::move(ticket), id);
    {
        const std::lock_guard lock(connectionsMutex_);
        std::erase_if(connections_,
                      [](const std::weak_ptr<ClientConnection>& w) { return w.expired(); });
        connections_.push_back(connection);
    }
    connection->start();
}

// All pre-auth slots are taken, but not by this source's own cap: a stalled
// connection of a source holding more slots may make room (chooseEvictionVictim).
Admission::Ticket Server::makeRoomFor(const std::string& source) {
    const auto held = admission_->holdersIfOnlyFull(source);
    if (!held) return {};
    std::vector<std::shared_ptr<ClientConnection>> live;
    std::vector<EvictionCandidate> candidates;
    {
        const std::lock_guard lock(connectionsMutex_);
        for (auto& w : connections_) {
            auto c = w.lock();
            if (!c || !c->preAuth()) continue;
            candidates.push_back({c->admissionSource(), c->keyExchanged(), c->id()});
            live.push_back(std::move(c));
        }
    }
    const auto chosen = chooseEvictionVictim(candidates, *held, source);
    if (!chosen) return {};
    const auto& victim = live[*chosen];
    if (const auto count = evictions_.due()) {
        log_.info("connection.evicted", {{"conn", victim->id()},
                                         {"source", victim->sourceAddress()},
                                         {"key_exchanged", victim->keyExchanged()},
                                         {"for", source},
                                         {"reason", "pre-auth slots full"},
                                         {"evicted_since_last_line", *count}});
    }
    victim->abort(kEvictedReason);
    return admission_->enterInPlaceOf(source);
}

void Server::beginShutdown(int signal) {
    log_.info("gateway.shutdown", {{"signal", signal}});
    stopping_ = true;
    checkpointTimer_.cancel();
    reportTimer_.cancel();
    control_->close();
    boost::asio::post(acceptStrand_, [this] {
        boost::system::error_code ignored;
        acceptor_.close(ignored);
    });
    const auto live = liveConnections();
    for (auto& c : live) c->shutdown("the gateway is shutting down");
    shutdownDeadline_ = std::chrono::steady_clock::now() + kDrainTimeout + std::chrono::seconds(1);
    pollShutdown();
}

// SPEC §15: the chain's head to syslog at start, every 5 minutes and at stop,
// where a SIEM keeps it as an anchor (`portcullis audit verify --anchor`).
void Server::checkpoint(const std::string& when) {
    db_->submit([this, when](DbContext& ctx) { sendCheckpoint(ctx.audit.head(), when); });
}

void Server::sendCheckpoint(const db::AuditHead& head, const std::string& when) {
    const bool sent = syslog_->sendCheckpoint(head, services_->gatewayId, when);
    log_.info("audit.checkpoint",
              {{"id", head.id}, {"hash", head.hash}, {"when", when}, {"syslog", sent}});
}

// Every kSyslogReportInterval: syslog copies that were dropped are logged and
// audited (the chain and audit.log hold them whole); every kCheckpointInterval
// a checkpoint.
void Server::scheduleAuditReports() {
    reportTimer_.expires_after(kSyslogReportInterval);
    reportTimer_.async_wait([this](const boost::system::error_code& ec) {
        if (ec || stopping_) return;
        reportSyslogDrops();
        scheduleAuditReports();
    });
    if (!checkpointArmed_) {
        checkpointArmed_ = true;
        checkpointTimer_.expires_after(kCheckpointInterval);
        checkpointTimer_.async_wait([this](const boost::system::error_code& ec) {
            checkpointArmed_ = false;
            if (ec || stopping_) return;
            checkpoint("periodic");
            scheduleAuditReports();
        });
    }
}

void Server::reportSyslogDrops() {
    const auto dropped = syslog_->takeDropped();
    if (dropped == 0) return;
    const auto error = syslog_->lastError();
    log_.warn("audit.syslog_dropped", {{"count", dropped}, {"error", error}});
    if (!db_->stopping()) {
        db_->submit([dropped, error](DbContext& ctx) {
            ctx.audit.record(db::AuditEvent{
                "audit.syslog_dropped", "portcullisd", "", {{"count", dropped}, {"error", error}}});
        });
    }
}

std::shared_ptr<const Config> Server::currentConfig() {
    const std::lock_guard lock(liveConfigMutex_);
    return liveConfig_;
}

void Server::waitForReload() {
    reloadSignal_.async_wait([this](const boost::system::error_code& ec, int) {
        if (ec || stopping_) return;
        reload();
        waitForReload();
    });
}

// SIGHUP (systemctl reload): the file is read again. Limits, lock-out,
// ceilings and the log level apply to new connections at once (live ones keep
// theirs, as with sshd); what the listening socket or the key exchange were
// built with needs a restart and is kept. A bad file changes nothing.
void Server::reload() {
    auto loaded =
        loadConfig_ ? loadConfig_() : Result<Config>(makeError("no configuration loader"));
    if (!loaded) {
        log_.error("config.reload_failed", {{"error", loaded.error()}});
        return;
    }
    Config next = std::move(loaded).value();
    std::string kept;
    auto keep = [&](bool changed, const char* name) {
        if (changed) kept += (kept.empty() ? "" : ",") + std::string(name);
    };
    keep(next.listenAddress != config_.listenAddress || next.listenPort != config_.listenPort,
         "listen");
    keep(next.threads != config_.threads, "threads");
    keep(next.dbWorkers != config_.dbWorkers, "db_workers");
    keep(next.kex != config_.kex || next.hostKeyAlgorithms != config_.hostKeyAlgorithms ||
             next.ciphers != config_.ciphers || next.macs != config_.macs,
         "algorithms");
    next.listenAddress = config_.listenAddress;
    next.listenPort = config_.listenPort;
    next.threads = config_.threads;
    next.dbWorkers = config_.dbWorkers;
    next.kex = config_.kex;
    next.hostKeyAlgorithms = config_.hostKeyAlgorithms;
    next.ciphers = config_.ciphers;
    next.macs = config_.macs;

    admission_->setLimits(next.maxStartups, next.maxStartupsPerSource);
    db_->setGuard(next.guard);
    log_.setLevel(next.logLevel);
    {
        const std::lock_guard lock(liveConfigMutex_);
        liveConfig_ = std::make_shared<const Config>(next);
    }
    log_.info("config.reloaded", {{"needs_restart", kept.empty() ? "none" : kept}});
    db_->submit([kept](DbContext& ctx) {
        ctx.audit.record(db::AuditEvent{
            "gateway.config_reloaded", "portcullisd", "", {{"needs_restart", kept}}});
    });
}

void Server::pollShutdown() {
    bool anyLive = false;
    {
        const std::lock_guard lock(connectionsMutex_);
        for (auto& w : connections_) {
            if (auto c = w.lock(); c && !c->closed()) anyLive = true;
        }
    }
    if (!anyLive) {
        // Nothing left: io_context::run() returns once the last handlers ran.
        signals_.cancel();
        reloadSignal_.cancel();
        return;
    }
    const auto now = std::chrono::steady_clock::now();
    if (now >= shutdownDeadline_ + std::chrono::seconds(2)) {
        log_.error("gateway.shutdown_forced");
        io_.stop();
        return;
    }
    if (now >= shutdownDeadline_ && !aborted_) {
        aborted_ = true;
        const std::lock_guard lock(connectionsMutex_);
        for (auto& w : connections_) {
            if (auto c = w.lock()) c->abort("gateway shutdown");
        }
    }
    shutdownTimer_.expires_after(kShutdownPoll);
    shutdownTimer_.async_wait([this](const boost::system::error_code& ec) {
        if (!ec) pollShutdown();
    });
}

}  // namespace portcullis::gateway
