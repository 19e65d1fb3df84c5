// ClientConnection: the event loop and the lifecycle (start, the login grace
// time, shutdown, the store calls, the end). Its parts live beside it:
// connection_auth.cpp (the two factors), connection_channels.cpp (channel
// opens and requests, decisions, the target menu), connection_session.cpp (the
// upstream, the session row and recordings), connection_live.cpp (limits,
// re-checks, kill, the live view).
#include "gateway/client_connection.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>

#include "gateway/client_connection_db.hpp"
#include "gateway/connection_text.hpp"
#include "gateway/store_ops.hpp"

namespace portcullis::gateway {
namespace {

// Each ssh_event_dopoll reads at most 4 KiB from a socket (libssh's
// MAX_BUF_SIZE); a readiness event is worth up to this many rounds (256 KiB).
constexpr int kMaxPollRounds = 64;
// Stock clients finish key exchange in milliseconds. One that has not within
// this time holds a pre-auth slot for nothing: it is closed well before the
// login grace time, so stalled slots turn over quickly under a flood.
constexpr auto kKeyExchangeDeadline = std::chrono::seconds(10);
// How long before the login grace time runs out the client is warned.
constexpr Seconds kGraceWarning{15};

int pendingBytes(int fd) {
    int n = 0;
    if (fd < 0 || ::ioctl(fd, FIONREAD, &n) != 0) return 0;
    return n;
}

bool sessionBroken(ssh_session s) {
    return !ssh_is_connected(s) || (ssh_get_status(s) & (SSH_CLOSED | SSH_CLOSED_ERROR)) != 0;
}

}  // namespace

ClientConnection::ClientConnection(Services& services, Strand strand, SessionPtr session,
                                   PeerInfo peer, Admission::Ticket ticket, std::uint64_t id)
    : services_(services),
      configHold_(services.currentConfig()),
      config_(*configHold_),
      log_(services.log),
      strand_(std::move(strand)),
      peer_(std::move(peer)),
      ticket_(std::move(ticket)),
      id_(id),
      admissionSource_(ticket_.source()),
      graceTimer_(strand_),
      kexTimer_(strand_),
      delayTimer_(strand_),
      upstreamTimer_(strand_),
      closingTimer_(strand_),
      limitTimer_(strand_),
      menuTimer_(strand_),
      recheckTimer_(strand_),
      unusedTimer_(strand_),
      session_ssh_(std::move(session)) {
    dbSequence_ = std::make_shared<DbSequence>(services.db, services.log);
}

ClientConnection::~ClientConnection() {
    // Normally torn down on the strand already; this keeps the owner order if not.
    bridges_.clear();
    if (upstream_) upstream_->close();
    if (watcher_) watcher_->stop();
}

void ClientConnection::start() {
    post([self = shared_from_this()] {
        ssh_session s = self->session_ssh_.get();
        ssh_set_blocking(s, 0);
        ssh_set_auth_methods(s, SSH_AUTH_METHOD_PUBLICKEY);
        self->watcher_ = std::make_unique<FdWatcher>(self->strand_, ssh_get_fd(s));
        // The closing line names the source too: one line per connection at
        // info, none for what a flood makes the gateway evict (counted instead).
        self->log_.debug(
            "connection.accepted",
            {{"conn", self->id_}, {"source", self->peer_.address}, {"port", self->peer_.port}});
        self->armGraceTimer();
        self->kexTimer_.expires_after(std::min<std::chrono::steady_clock::duration>(
            kKeyExchangeDeadline, self->config_.loginGraceTime));
        self->kexTimer_.async_wait([self](const boost::system::error_code& ec) {
            if (ec || self->phase_ != Phase::handshake) return;
            self->teardown("key exchange not finished in time");
        });
        self->step();
    });
}

// The login grace time: a warning shortly before it runs out (shown by the
// client when it next reads, e.g. after the code is typed), then the end,
// with a disconnect message that says what happened and what to do.
void ClientConnection::armGraceTimer() {
    const auto grace = config_.loginGraceTime;
    const bool warnFirst = grace >= 2 * kGraceWarning;
    graceTimer_.expires_after(warnFirst ? grace - kGraceWarning : grace);
    graceTimer_.async_wait(
        [self = shared_from_this(), warnFirst](const boost::system::error_code& ec) {
            if (ec || self->phase_ == Phase::open || self->phase_ >= Phase::closing) return;
            const auto grace = formatDuration(self->config_.loginGraceTime);
            if (warnFirst) {
                if (self->keyExchanged_) {
                    self->tellClientDuringAuth("portcullis: " + formatDuration(kGraceWarning) +
                                               " left to log in (login grace time " + grace + ")");
                }
                self->graceTimer_.expires_after(kGraceWarning);
                self->graceTimer_.async_wait([self, grace](const boost::system::error_code& ec) {
                    if (ec || self->phase_ == Phase::open || self->phase_ >= Phase::closing) return;
                    self->loginTimedOut(grace);
                });
                return;
            }
            self->loginTimedOut(grace);
        });
}

void ClientConnection::loginTimedOut(const std::string& grace) {
    log_.info("auth.timeout", {{"conn", id_}, {"user", auditName()}});
    disconnect("Login grace time exceeded: both factors must be given within " + grace +
               " of connecting; connect again and enter a fresh code");
    step();
}

void ClientConnection::shutdown(const std::string& reason) {
    post([self = shared_from_this(), reason] {
        if (self->phase_ >= Phase::closing) return;
        self->draining_ = true;
        for (auto& slot : self->bridges_) slot.bridge->deny(reason, 255);
        self->disconnect(reason);
        self->step();
    });
}

void ClientConnection::abort(const std::string& reason) {
    ending_ = true;
    post([self = shared_from_this(), reason] { self->teardown(reason); });
}

// ---- event loop --------------------------------------------------------------

void ClientConnection::onReady(bool ok) {
    (void)ok;  // a failed wait shows up as an error from libssh in step()
    if (phase_ == Phase::closed) return;
    step();
}

void ClientConnection::pumpDownstream() {
    if (!event_) return;
    const int fd = ssh_get_fd(session_ssh_.get());
    for (int i = 0; i < kMaxPollRounds; ++i) {
        if (ssh_event_dopoll(event_.get(), 0) == SSH_ERROR) break;
        if (pendingBytes(fd) <= 0) break;
    }
}

void ClientConnection::step() {
    if (phase_ == Phase::closed) return;
    ssh_session s = session_ssh_.get();

    if (phase_ == Phase::handshake) {
        const int rc = ssh_handle_key_exchange(s);
        if (rc == SSH_AGAIN) return arm();
        if (rc != SSH_OK) return teardown(std::string("key exchange failed: ") + ssh_get_error(s));
        event_.reset(ssh_event_new());
        if (!event_ || ssh_event_add_session(event_.get(), s) != SSH_OK)
            return teardown("cannot watch the session");
        phase_ = Phase::auth;
        keyExchanged_ = true;
        kexTimer_.cancel();
        log_.debug("connection.kex_done", {{"conn", id_}});
    }

    pumpDownstream();
    if (sessionBroken(s))
        return teardown(closeReason_.empty() ? "client disconnected" : closeReason_);

    if (upstream_) {
        for (int i = 0; i < kMaxPollRounds; ++i) {
            if (!upstream_->pump()) break;
            if (!upstream_->session() || pendingBytes(ssh_get_fd(upstream_->session())) <= 0) break;
        }
        advanceUpstream();
        // A target connection that broke or failed is not watched any more
        // (its socket would stay readable at end of file).
        if ((upstream_->state() == Upstream::State::failed || upstream_->broken()) &&
            upstream_->watcher()) {
            upstream_->watcher()->stop();
        }
    }
    if (phase_ == Phase::auth || phase_ == Phase::open) processMessages();
    if (phase_ == Phase::closed) return;
    if (phase_ == Phase::auth && ssh_get_error_code(s) == SSH_FATAL) {
        // libssh dropped a malformed authentication message (e.g. more than
        // 256 keyboard-interactive answers) without telling the client: end
        // it now rather than leave it waiting for the login grace time.
        const std::string error = ssh_get_error(s);
        log_.info("auth.protocol_error", {{"conn", id_}, {"error", error}});
        fireDb([account = auditName(), peer = peer_, error](DbContext& ctx) {
            auditEvent(ctx, "auth.totp", account, peer,
                       {{"account", account},
                        {"result", "failure"},
                        {"reason", "protocol_error"},
                        {"error", error}});
        });
        disconnect("Protocol error during authentication");
    }

    bool violation = false;
    for (auto& slot : bridges_) {
        slot.bridge->advance();
        if (auto line = slot.bridge->takeMenuLine()) menuChoice(slot.id, *line);
        auditChannelEvents(*slot.bridge);
        if (slot.bridge->windowViolation()) {
            violation = true;
            fireDb([account = auditName(), peer = peer_,
                    side = slot.bridge->violationSide()](DbContext& ctx) {
                auditEvent(ctx, "flow.window_violation", account, peer,
                           {{"account", account}, {"peer", side}, {"action", "disconnect"}});
            });
            log_.warn("flow.window_violation",
                      {{"conn", id_}, {"peer", slot.bridge->violationSide()}});
        }
    }
    if (session_) noteInput(std::chrono::steady_clock::now());
    std::erase_if(bridges_, [this](Slot& slot) {
        if (!slot.bridge->finished()) return false;
        bytesIn_ += slot.bridge->bytesIn();
        bytesOut_ += slot.bridge->bytesOut();
        if (const auto& f = slot.bridge->forward()) {
            fireDb([account = auditName(), peer = peer_, f = *f,
                    session = session_ ? session_->id : std::string(), in = slot.bridge->bytesIn(),
                    out = slot.bridge->bytesOut()](DbContext& ctx) {
                auditEvent(ctx, "forward.close", account, peer,
                           {{"account", account},
                            {"session_id", session},
                            {"destination", f.host},
                            {"destination_port", f.port},
                            {"bytes_to_destination", in},
                            {"bytes_from_destination", out}});
            });
        }
        return true;
    });
    if (violation) {
        closeReason_ = "flow control violation";
        return teardown(closeReason_, SessionEndStatus::failed);
    }
    watchUnused();

    if (phase_ == Phase::closing) {
        // Channels were told why and closed: let the client read that and
        // leave by itself (closing under unread data would reset the TCP
        // connection and could lose the last lines); the closing timer bounds it.
        const bool flushed = (ssh_get_poll_flags(s) & SSH_WRITE_PENDING) == 0;
        if (bridges_.empty() && flushed && !lingerForClient_) return teardown(closeReason_);
    }
    arm();
}

void ClientConnection::arm() {
    if (phase_ == Phase::closed || !watcher_) return;
    auto self = shared_from_this();
    auto ready = [self](bool ok) { self->onReady(ok); };
    bool again = false;
    // Before authentication, a request being decided holds further reading back.
    const bool read = !(busy_ && phase_ == Phase::auth);
    const bool write = (ssh_get_poll_flags(session_ssh_.get()) & SSH_WRITE_PENDING) != 0;
    if (read) watcher_->waitReadable(ready);
    if (write) watcher_->waitWritable(ready);
    again = watcher_->readyNow(read, write);
    if (upstream_ && upstream_->watcher()) {
        FdWatcher* up = upstream_->watcher();
        const bool upWrite = upstream_->session() &&
                             (ssh_get_poll_flags(upstream_->session()) & SSH_WRITE_PENDING) != 0;
        up->waitReadable(ready);
        if (upWrite) up->waitWritable(ready);
        again = again || up->readyNow(true, upWrite);
    }
    // The reactor is edge-triggered: readiness that arrived while this
    // connection was running is not reported again, so look once more now.
    if (again && !rerunPosted_) {
        rerunPosted_ = true;
        post([self] {
            self->rerunPosted_ = false;
            self->step();
        });
    }
}

void ClientConnection::fireDb(std::function<void(DbContext&)> job) {
    if (!dbSequence_->submit(std::move(job))) log_.error("db.queue_full", {{"conn", id_}});
}

// ---- messages ------------------------------------------------------------------

void ClientConnection::processMessages() {
    ssh_session s = session_ssh_.get();
    while (!busy_ && (phase_ == Phase::auth || phase_ == Phase::open)) {
        MessagePtr msg(ssh_message_get(s));
        if (!msg) break;
        const int type = ssh_message_type(msg.get());
        if (type == SSH_REQUEST_AUTH && phase_ == Phase::auth) {
            handleAuth(std::move(msg));
        } else if (type == SSH_REQUEST_CHANNEL_OPEN && phase_ == Phase::open) {
            handleChannelOpen(std::move(msg));
        } else if (type == SSH_REQUEST_CHANNEL && phase_ == Phase::open) {
            handleChannelRequest(std::move(msg));
        } else {
            // Service requests are accepted by the default reply; anything
            // else (global requests, anything before both factors) is refused.
            if (type != SSH_REQUEST_SERVICE) {
                log_.debug("request.refused", {{"conn", id_}, {"type", type}});
            }
            ssh_message_reply_default(msg.get());
        }
    }
}

std::string ClientConnection::auditName() const {
    if (spec_) return spec_->account;
    return userName_ ? printable(*userName_) : std::string();
}

// ---- endings ---------------------------------------------------------------------

void ClientConnection::disconnect(const std::string& reason) {
    if (phase_ >= Phase::closing) return;
    closeReason_ = reason;
    ssh_session_set_disconnect_message(session_ssh_.get(), reason.c_str());
    lingerForClient_ = !bridges_.empty();
    phase_ = Phase::closing;
    closingTimer_.expires_after(kDrainTimeout);
    closingTimer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
        if (!ec) self->teardown(self->closeReason_);
    });
}

void ClientConnection::teardown(const std::string& why, SessionEndStatus status) {
    if (phase_ == Phase::closed) return;
    phase_ = Phase::closed;
    graceTimer_.cancel();
    kexTimer_.cancel();
    delayTimer_.cancel();
    upstreamTimer_.cancel();
    closingTimer_.cancel();
    limitTimer_.cancel();
    menuTimer_.cancel();
    recheckTimer_.cancel();
    unusedTimer_.cancel();
    finishSessionRow(status, why);
    heldMessage_.reset();
    // Channels before their sessions; watchers let go of descriptors before
    // libssh closes them.
    bridges_.clear();
    if (upstream_) upstream_->close();
    if (watcher_) watcher_->stop();
    event_.reset();
    session_ssh_.reset();
    ticket_.release();
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - startedAt_);
    log_.log(why == kEvictedReason ? LogLevel::debug : LogLevel::info, "connection.closed",
             {{"conn", id_},
              {"source", peer_.address},
              {"port", peer_.port},
              {"reason", why},
              {"duration_ms", static_cast<std::int64_t>(ms.count())}});
    closed_ = true;
}

}  // namespace portcullis::gateway
