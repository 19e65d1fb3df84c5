#pragma once
// Server: the io_context and its threads, the listening socket, the shared
// ssh_bind, the store workers, and SIGTERM/SIGINT handling (stop accepting,
// tell live sessions, close them, exit 0).
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "common/result.hpp"
#include "common/ssh_handles.hpp"
#include "db/master_key.hpp"
#include "db/state_dir.hpp"
#include "gateway/admission.hpp"
#include "gateway/client_connection.hpp"
#include "gateway/config.hpp"
#include "gateway/control_server.hpp"
#include "gateway/db_pool.hpp"
#include "gateway/instance_lock.hpp"
#include "gateway/log.hpp"
#include "gateway/recording_writer.hpp"

namespace portcullis::gateway {

class Server {
  public:
    using ConfigLoader = std::function<Result<Config>()>;
    // `reload` reads the configuration again on SIGHUP.
    Server(Config config, db::StateDir stateDir, Logger& log, ConfigLoader reload);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Loads keys, opens the store, binds the listening socket.
    Result<void> prepare();
    // Runs until SIGTERM/SIGINT has drained every connection; returns the exit code.
    int run();

  private:
    Result<void> setupBind();
    void accept();
    void onAccept(boost::asio::ip::tcp::socket socket);
    Admission::Ticket makeRoomFor(const std::string& source);
    void beginShutdown(int signal);
    void waitForReload();
    void reload();
    std::shared_ptr<const Config> currentConfig();
    void pollShutdown();
    void checkpoint(const std::string& when);
    void sendCheckpoint(const db::AuditHead& head, const std::string& when);
    void scheduleAuditReports();
    void reportSyslogDrops();
    // Control socket requests (any thread).
    nlohmann::json listLive();
    bool killSession(const std::string& id, const std::string& by, const std::string& reason);
    int recheckAccount(const std::string& account);
    // A snapshot of the connections still alive (any thread).
    std::vector<std::shared_ptr<ClientConnection>> liveConnections();

    std::optional<InstanceLock> instanceLock_;  // held from prepare() to exit
    const Config config_;                       // as started: listen address, threads, algorithms
    ConfigLoader loadConfig_;
    std::mutex liveConfigMutex_;
    std::shared_ptr<const Config> liveConfig_;  // limits and lock-out, replaced on SIGHUP
    db::StateDir stateDir_;
    Logger& log_;
    boost::asio::io_context io_;
    boost::asio::strand<boost::asio::io_context::executor_type> acceptStrand_;
    boost::asio::ip::tcp::acceptor acceptor_;
    boost::asio::signal_set signals_;
    boost::asio::signal_set reloadSignal_;
    boost::asio::steady_timer shutdownTimer_;
    boost::asio::steady_timer checkpointTimer_;
    boost::asio::steady_timer reportTimer_;
    bool checkpointArmed_ = false;
    std::shared_ptr<db::SyslogSink> syslog_;
    std::optional<db::MasterKey> masterKey_;
    std::unique_ptr<DbPool> db_;
    std::unique_ptr<RecordingWriter> recordings_;
    BindPtr bind_;
    KeyPtr upstreamKey_;
    std::unique_ptr<Services> services_;
    std::shared_ptr<Admission> admission_;
    std::uint64_t nextConnectionId_ = 1;
    // At most one log line a second for what a flood makes happen a thousand
    // times a second (the rest are counted), so that a flood can neither
    // drown the log nor trip journald's rate limit. Accept strand only.
    struct LogThrottle {
        std::uint64_t sinceLastLine = 0;
        std::chrono::steady_clock::time_point lastLine{};
        // Counts one occurrence; when it is time to log, the count to log
        // (this one included), and counting starts over.
        std::optional<std::uint64_t> due() {
            ++sinceLastLine;
            const auto now = std::chrono::steady_clock::now();
            if (now - lastLine < std::chrono::seconds(1)) return std::nullopt;
            lastLine = now;
            return std::exchange(sinceLastLine, 0);
        }
    };
    LogThrottle refusals_;
    LogThrottle evictions_;
    std::atomic<bool> stopping_{false};
    bool aborted_ = false;
    std::chrono::steady_clock::time_point shutdownDeadline_;
    std::mutex connectionsMutex_;
    std::vector<std::weak_ptr<ClientConnection>> connections_;
    std::unique_ptr<ControlServer> control_;
};

}  // namespace portcullis::gateway
