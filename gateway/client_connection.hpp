#pragma once
// ClientConnection: one downstream SSH connection, from key exchange through
// the two authentication factors to its relayed channels, driven entirely on
// its own strand by socket readiness (libssh in non-blocking mode). Store work
// goes to the DbPool and comes back as a posted continuation; while one is in
// flight the connection takes no further message from the client.
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/ssh_handles.hpp"
#include "common/user_spec.hpp"
#include "db/sessions.hpp"
#include "gateway/admission.hpp"
#include "gateway/channel_bridge.hpp"
#include "gateway/config.hpp"
#include "gateway/db_pool.hpp"
#include "gateway/log.hpp"
#include "gateway/session_end.hpp"
#include "gateway/session_limits.hpp"
#include "gateway/ssh_io.hpp"
#include "gateway/store_ops.hpp"
#include "gateway/upstream.hpp"

namespace portcullis::gateway {

// What every connection shares (owned by the Server, outlives all connections).
struct Services {
    // The configuration as of now (SIGHUP replaces it); a connection keeps
    // the one it started with.
    std::function<std::shared_ptr<const Config>()> currentConfig;
    Logger& log;
    DbPool& db;
    RecordingWriter& recordings;
    ssh_key upstreamKey;  // read-only; each upstream session uses a copy
    std::filesystem::path keysDir;
    std::filesystem::path stateRoot;  // recordings go to stateRoot/recordings
    std::string gatewayId;
};

// What the control socket shows of a live session (SPEC §4 `session list --active`).
struct LiveSession {
    std::string id;
    std::string account;
    std::string login;
    std::string target;
    std::string source;
    std::optional<std::int64_t> grantId;
    TimePoint startedAt{};
    int channels = 0;
    std::uint64_t bytesIn = 0;
    std::uint64_t bytesOut = 0;
    std::int64_t idleSeconds = 0;
};

// Why a connection was ended to give its pre-auth slot to another source.
inline constexpr const char* kEvictedReason = "pre-auth slot given to another source";

class ClientConnection : public std::enable_shared_from_this<ClientConnection> {
  public:
    ClientConnection(Services& services, Strand strand, SessionPtr session, PeerInfo peer,
                     Admission::Ticket ticket, std::uint64_t id);
    ~ClientConnection();
    ClientConnection(const ClientConnection&) = delete;
    ClientConnection& operator=(const ClientConnection&) = delete;

    void start();
    // SIGTERM: tell the user, close the session, disconnect (posted to the strand).
    void shutdown(const std::string& reason);
    // Ends the connection at once (shutdown deadline passed).
    void abort(const std::string& reason);
    // Safe from any thread.
    bool closed() const { return closed_.load(); }
    // Still before authentication (holding a pre-auth slot); any thread.
    bool preAuth() const { return !authenticated_.load() && !ending_.load() && !closed_.load(); }
    // Key exchange done: a real client gets here within milliseconds; a
    // stalled flood connection never does.
    bool keyExchanged() const { return keyExchanged_.load(); }
    // The source this connection's pre-auth slot counts against (sourceBlock).
    const std::string& admissionSource() const { return admissionSource_; }
    const std::string& sourceAddress() const { return peer_.address; }
    std::uint64_t id() const { return id_; }
    // The live session this connection relays, as of its last second (any thread).
    std::optional<LiveSession> liveSession() const;
    // An administrator's `session kill`: ends the session `sessionId` if this
    // connection relays it (posted to the strand), telling the user `reason`
    // (may be empty); false if it does not.
    bool kill(const std::string& sessionId, const std::string& by, const std::string& reason);
    // The authenticated account ("" before both factors; any thread).
    std::string account() const;
    // An administrator changed `account` (disabled, key or TOTP removed,
    // grant revoked): re-check this connection now instead of at the next
    // interval (posted to the strand).
    void recheckNow();

  private:
    enum class Phase { handshake, auth, open, closing, closed };

    void armGraceTimer();
    void loginTimedOut(const std::string& grace);

    // Event loop.
    void step();
    void pumpDownstream();
    void arm();
    void onReady(bool ok);
    template <class F>
    void post(F&& f);
    // What to put in the audit chain when a decision could not be taken
    // because the store failed (the attempt is denied, and still audited).
    struct StoreFailureAudit {
        std::string type;  // "auth.publickey", "policy.decision", ...
        nlohmann::json details;
    };
    // Runs `job` on a store worker and `done` back on the strand (nullopt when
    // the store failed: the caller denies, and `ifFailed` is audited as soon
    // as the store takes writes again).
    template <class R>
    void runDb(std::function<R(DbContext&)> job, std::function<void(std::optional<R>)> done,
               std::optional<StoreFailureAudit> ifFailed = std::nullopt);
    // Store work in this connection's order; retried while the store is locked.
    // Safe from any thread (a store worker queues the audit of a failed job).
    void fireDb(std::function<void(DbContext&)> job);
    // One line the client prints before its next authentication prompt.
    void tellClientDuringAuth(const std::string& line);

    // Messages.
    void processMessages();
    void handleAuth(MessagePtr msg);
    // Before the first authentication request is answered: a source lock
    // refuses the connection (SPEC §16); then the request is handled.
    void checkSourceLock(MessagePtr msg);
    // A lock refused the account or source: the user reads why, the attempt
    // fails and the connection ends.
    void refuseLocked(MessagePtr msg, const db::Lock& lock);
    void handlePublicKey(MessagePtr msg);
    void refuseMethod(MessagePtr msg, const std::string& type, const std::string& method,
                      const std::string& reason);
    void handleKeyboardInteractive(MessagePtr msg);
    void authFailed(MessagePtr msg, std::chrono::steady_clock::time_point asked, bool counts);
    void authenticated(MessagePtr msg);
    void handleChannelOpen(MessagePtr msg);
    void openForward(MessagePtr msg);
    void handleChannelRequest(MessagePtr msg);
    ChannelBridge* findBridge(ssh_channel channel);
    ChannelBridge* findBridge(std::uint64_t id);
    std::string auditName() const;

    // Access and upstream.
    void requestAccess(std::uint64_t bridgeId);
    // The target menu (pty, no target named).
    std::string menuText() const;
    void startMenuTimer(std::uint64_t bridgeId);
    void menuChoice(std::uint64_t bridgeId, const std::string& line);
    std::optional<std::string> boundElsewhere(const AccessOutcome& outcome) const;
    void admit(std::uint64_t bridgeId, const AccessOutcome& outcome);
    void startUpstream(const db::Target& target, const std::string& login);
    void advanceUpstream();
    void startSessionRow(const std::string& channel);
    // The recording of a channel about to start, and what happens when it is sealed.
    std::unique_ptr<ChannelRecorder> makeRecorder(const ChannelBridge& bridge, int channel);
    RecordingWriter::Sealed sealRecording(const ChannelRecorder& recorder);
    // Audits what a channel reported since the last step (SFTP file
    // operations, a failed recording).
    void auditChannelEvents(ChannelBridge& bridge);
    void checkLimits();
    void regrant(const db::Decision& decision);
    std::string sessionBanner() const;
    void noteInput(std::chrono::steady_clock::time_point now);
    void endForLimit(SessionEndStatus status, const std::string& reason,
                     const std::string& auditType);
    // Ends the live session: every channel gets `notice` and exit 255, the
    // event `auditType` is written (by `actor`), the row gets `status`.
    void endLive(SessionEndStatus status, const std::string& reason, const std::string& auditType,
                 const std::string& notice, nlohmann::json details, const std::string& actor);
    // Every recheckInterval from authentication on, and at once on recheckNow():
    // the account (enabled, key still registered, TOTP still enrolled) and the
    // live session's policy decision, off the strand (SPEC §5).
    void scheduleRecheck();
    void recheckAccess();
    void endAccess(const std::string& what, const std::string& reason,
                   const std::vector<std::string>& reasons,
                   nlohmann::json details = nlohmann::json::object());
    // An authenticated connection with no open channel is closed after
    // unusedConnectionTimeout (a parked ControlMaster does not live forever).
    void watchUnused();
    void publishLive();

    // Endings.
    void disconnect(const std::string& reason);
    // Ends the connection at once; a live session's row gets `end`.
    void teardown(const std::string& why, SessionEndStatus status = SessionEndStatus::closed);
    void finishSessionRow(SessionEndStatus status, const std::string& reason);

    Services& services_;
    std::shared_ptr<const Config> configHold_;
    const Config& config_;
    Logger& log_;
    Strand strand_;
    PeerInfo peer_;
    Admission::Ticket ticket_;
    std::uint64_t id_;
    Phase phase_ = Phase::handshake;
    std::atomic<bool> closed_{false};
    std::atomic<bool> authenticated_{false};
    std::atomic<bool> keyExchanged_{false};
    const std::string admissionSource_;
    std::atomic<bool> ending_{false};  // abort() was called
    std::chrono::steady_clock::time_point startedAt_ = std::chrono::steady_clock::now();

    // Authentication state.
    std::optional<std::string> userName_;
    std::optional<UserSpec> spec_;  // nullopt: the name did not parse (treated as unknown)
    bool publicKeyDone_ = false;
    bool sourceChecked_ = false;  // no lock refuses this connection's source
    int authFailures_ = 0;
    bool busy_ = false;
    bool rerunPosted_ = false;
    bool lingerForClient_ = false;  // a store job or a failure delay holds the next message back
    std::string closeReason_;
    // What the first factor proved: re-checked while the connection lives.
    std::string keyBlob_;
    std::string keyFingerprint_;
    std::optional<std::int64_t> accountId_;
    mutable std::mutex accountMutex_;
    std::string authenticatedAccount_;  // guarded by accountMutex_

    // Session.
    std::optional<db::SessionStart> session_;
    int recordedChannels_ = 0;
    std::size_t pendingForwards_ = 0;       // direct-tcpip opens being decided
    std::vector<std::string> menuTargets_;  // what the menu offered
    // Store work that must keep its order (session row, recordings, seals, end).
    std::shared_ptr<DbSequence> dbSequence_;
    std::uint64_t bytesIn_ = 0;
    std::uint64_t bytesOut_ = 0;
    // Bridges allowed, waiting for the upstream, with what their decision named.
    struct Allowed {
        std::uint64_t bridgeId;
        std::string target;
        std::string login;
    };
    std::vector<Allowed> allowed_;
    // The governing grant and its limits (SPEC §5).
    SessionLimits limits_;
    bool limitReached_ = false;
    bool recordingFailed_ = false;  // a channel's recording failed: the session ended
    bool upstreamFailureAudited_ = false;
    bool draining_ = false;
    bool recheckBusy_ = false;
    bool recheckAgain_ = false;                  // recheckNow() arrived while one was running
    int recheckMisses_ = 0;                      // re-checks in a row the store could not answer
    bool unusedWatched_ = false;                 // the unused-connection timer runs
    std::uint64_t unusedGeneration_ = 0;         // tells a stale expiry from the current one
    std::optional<db::Channel> sessionChannel_;  // the channel that opened the session
    mutable std::mutex liveMutex_;
    std::optional<LiveSession> live_;  // guarded by liveMutex_
    MessagePtr heldMessage_;           // the auth request being decided (at most one)

    boost::asio::steady_timer graceTimer_;
    boost::asio::steady_timer kexTimer_;
    boost::asio::steady_timer delayTimer_;
    boost::asio::steady_timer upstreamTimer_;
    boost::asio::steady_timer closingTimer_;
    boost::asio::steady_timer limitTimer_;
    boost::asio::steady_timer menuTimer_;
    boost::asio::steady_timer recheckTimer_;
    boost::asio::steady_timer unusedTimer_;

    // libssh owners, in dependency order (destroyed bottom-up): the session,
    // its event, the watcher over its descriptor, the upstream, then the channels.
    SessionPtr session_ssh_;
    EventPtr event_;
    std::unique_ptr<FdWatcher> watcher_;
    std::unique_ptr<Upstream> upstream_;
    struct Slot {
        std::uint64_t id;
        std::unique_ptr<ChannelBridge> bridge;
    };
    std::uint64_t nextBridgeId_ = 1;
    std::vector<Slot> bridges_;
};

}  // namespace portcullis::gateway
