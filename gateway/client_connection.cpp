#include "gateway/client_connection.hpp"

#include <openssl/rand.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <boost/asio/post.hpp>

#include <algorithm>

#include "common/host_name.hpp"
#include "common/ssh_public_key.hpp"
#include "gateway/auth_messages.hpp"
#include "gateway/gateway_commands.hpp"
#include "gateway/ssh_message_access.hpp"

namespace portcullis::gateway {
namespace {

// "the window ... closes" -> "the window ... closed" (the end of a session).
// Each ssh_event_dopoll reads at most 4 KiB from a socket (libssh's
// MAX_BUF_SIZE); a readiness event is worth up to this many rounds (256 KiB).
constexpr int kMaxPollRounds = 64;
// Stock clients finish key exchange in milliseconds. One that has not within
// this time holds a pre-auth slot for nothing: it is closed well before the
// login grace time, so stalled slots turn over quickly under a flood.
constexpr auto kKeyExchangeDeadline = std::chrono::seconds(10);
constexpr const char* kPrompt = "Verification code: ";
// How long before the login grace time runs out the client is warned.
constexpr Seconds kGraceWarning{15};
// Re-checks in a row that the store could not answer before a connection is ended.
constexpr int kMaxRecheckMisses = 3;
// How long a store job on the login path (a factor, a decision, a command)
// may take before the attempt fails closed as "store unavailable".
constexpr auto kStoreDeadline = std::chrono::seconds(10);
constexpr const char* kStoreUnavailable =
    "portcullis: the gateway cannot use its store right now; try again in a minute";

// A policy decision that could not be taken (the store failed), as audited.
nlohmann::json policyFailureDetails(const db::AccessRequest& request) {
    return {{"account", request.account}, {"login", request.login},
            {"target", request.target},   {"channel", db::channelName(request.channel)},
            {"allowed", false},           {"reasons", {"the gateway could not use its store"}}};
}

int pendingBytes(int fd) {
    int n = 0;
    if (fd < 0 || ::ioctl(fd, FIONREAD, &n) != 0) return 0;
    return n;
}

std::string randomSessionId() {
    unsigned char bytes[16];
    if (RAND_bytes(bytes, sizeof bytes) != 1) throw std::runtime_error("RAND_bytes failed");
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    for (unsigned char b : bytes) {
        out += hex[b >> 4];
        out += hex[b & 15];
    }
    return out;
}

// A user name as it may appear in logs and audit events: printable, bounded.
std::string printable(std::string_view text) {
    std::string out;
    for (char c : text.substr(0, 64)) {
        const auto u = static_cast<unsigned char>(c);
        out += (u < 0x20 || u >= 0x7f) ? '?' : c;
    }
    return out;
}

const char* methodName(int subtype) {
    switch (subtype) {
        case SSH_AUTH_METHOD_NONE:
            return "none";
        case SSH_AUTH_METHOD_PUBLICKEY:
            return "publickey";
        case SSH_AUTH_METHOD_INTERACTIVE:
            return "keyboard-interactive";
        case SSH_AUTH_METHOD_PASSWORD:
            return "password";
        case SSH_AUTH_METHOD_HOSTBASED:
            return "hostbased";
        case SSH_AUTH_METHOD_GSSAPI_MIC:
            return "gssapi";
        default:
            return "other";
    }
}

// What a user refused by a lock reads (SPEC §16): whom it names and why.
std::string lockedText(const db::Lock& lock, const std::string& account,
                       const std::string& address) {
    switch (lock.kind) {
        case db::LockKind::user:
            return account + " is " + lock.userMessage();
        case db::LockKind::target:
            return "target " + lock.value + " is " + lock.userMessage();
        case db::LockKind::source:
            break;
    }
    return "connections from " + address + " are " + lock.userMessage();
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

template <class F>
void ClientConnection::post(F&& f) {
    boost::asio::post(strand_, std::forward<F>(f));
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
        return teardown(closeReason_);
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

template <class R>
void ClientConnection::runDb(std::function<R(DbContext&)> job,
                             std::function<void(std::optional<R>)> done,
                             std::optional<StoreFailureAudit> ifFailed) {
    auto self = shared_from_this();
    // Whoever answers first (the job, or the deadline) answers alone.
    auto answered = std::make_shared<std::atomic<bool>>(false);
    auto deadline = std::make_shared<boost::asio::steady_timer>(strand_, kStoreDeadline);
    auto deliver = [self, done, deadline](std::optional<R> result) {
        boost::asio::post(self->strand_,
                          [self, done, deadline, result = std::move(result)]() mutable {
                              deadline->cancel();
                              if (self->phase_ == Phase::closed) return;
                              done(std::move(result));
                              self->step();
                          });
    };
    // The denied attempt goes into the chain through this connection's
    // sequence, which retries while the store is locked or full. Runs on a
    // store worker or the strand: it takes nothing from the connection but
    // its sequence.
    auto auditFailure = [self, ifFailed, account = auditName()](const std::string& error) {
        if (!ifFailed) return;
        auto details = ifFailed->details;
        details["result"] = "failure";
        details["reason"] = "store_unavailable";
        details["error"] = error;
        self->fireDb([type = ifFailed->type, account, peer = self->peer_,
                      details = std::move(details)](DbContext& ctx) {
            auditEvent(ctx, type, account, peer, details);
        });
    };
    // Every store job on the login path has a deadline (issue 13): a store
    // that does not answer (a queue behind a locked or failing store) fails
    // closed with the store-unavailable message instead of a hang.
    deadline->async_wait([self, done, answered, auditFailure](const boost::system::error_code& ec) {
        if (ec || answered->exchange(true)) return;
        self->log_.error("db.deadline",
                         {{"conn", self->id_}, {"after_s", formatDuration(kStoreDeadline)}});
        auditFailure("the store did not answer within " + formatDuration(kStoreDeadline));
        if (self->phase_ == Phase::closed) return;
        done(std::nullopt);
        self->step();
    });
    const bool queued =
        services_.db.submit([job, deliver, self, auditFailure, answered](DbContext& ctx) {
            // Past its deadline before it started: the user was refused, so
            // it must not act now (consume a code, count a failure).
            if (answered->load()) return;
            std::optional<R> result;
            std::string error;
            try {
                result = job(ctx);
            } catch (const std::exception& e) {
                self->log_.error("db.error", {{"conn", self->id_}, {"error", e.what()}});
                error = e.what();
            }
            if (answered->exchange(true)) return;  // the deadline answered already
            if (!result) auditFailure(error);
            deliver(std::move(result));
        });
    if (!queued && !answered->exchange(true)) {
        log_.error("db.queue_full", {{"conn", id_}});
        auditFailure("the store's queue is full");
        deliver(std::nullopt);
    }
}

void ClientConnection::fireDb(std::function<void(DbContext&)> job) {
    if (!dbSequence_->submit(std::move(job))) log_.error("db.queue_full", {{"conn", id_}});
}

// SSH_MSG_USERAUTH_BANNER: OpenSSH prints it on stderr (unless -q). Only for
// what is not about the account (the store is down), which tells nobody
// anything about who exists.
void ClientConnection::tellClientDuringAuth(const std::string& line) {
    ssh_string text = ssh_string_from_char((line + "\n").c_str());
    if (text == nullptr) return;
    ssh_send_issue_banner(session_ssh_.get(), text);
    ssh_string_free(text);
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

void ClientConnection::handleAuth(MessagePtr msg) {
    // Answers to a keyboard-interactive prompt carry no user name.
    const bool answers = ssh_message_subtype(msg.get()) == SSH_AUTH_METHOD_INTERACTIVE &&
                         ssh_message_auth_kbdint_is_response(msg.get());
    const char* user = ssh_message_auth_user(msg.get());
    const std::string name = user ? user : "";
    if (answers) {
        // checked below: only after the prompt this connection sent
    } else if (!userName_) {
        userName_ = name;
        auto parsed = parseUserSpec(name);
        if (parsed)
            spec_ = *parsed;
        else
            log_.info("auth.bad_user_name", {{"conn", id_}, {"user", printable(name)}});
    } else if (*userName_ != name) {
        // OpenSSH refuses a change of user name between attempts as well.
        ssh_message_reply_default(msg.get());
        disconnect("Change of user name is not allowed");
        return;
    }
    if (!sourceChecked_) return checkSourceLock(std::move(msg));
    switch (ssh_message_subtype(msg.get())) {
        case SSH_AUTH_METHOD_PUBLICKEY:
            return handlePublicKey(std::move(msg));
        case SSH_AUTH_METHOD_INTERACTIVE:
            return handleKeyboardInteractive(std::move(msg));
        case SSH_AUTH_METHOD_NONE:
            // The client asking which methods exist: not an attempt.
            ssh_message_reply_default(msg.get());
            return;
        default: {
            // password, hostbased, gssapi: never succeed; they count as attempts.
            const int method = ssh_message_subtype(msg.get());
            const char* name = method == SSH_AUTH_METHOD_PASSWORD     ? "password"
                               : method == SSH_AUTH_METHOD_HOSTBASED  ? "hostbased"
                               : method == SSH_AUTH_METHOD_GSSAPI_MIC ? "gssapi"
                                                                      : "other";
            return refuseMethod(std::move(msg), std::string("auth.") + name, name,
                                "method_not_allowed");
        }
    }
}

// Once per connection, on its first authentication request (any method): a
// source lock refuses it before anything is looked up about the account.
void ClientConnection::checkSourceLock(MessagePtr msg) {
    const auto asked = std::chrono::steady_clock::now();
    const std::string account = auditName();
    const std::string method = methodName(ssh_message_subtype(msg.get()));
    heldMessage_ = std::move(msg);
    busy_ = true;
    runDb<std::optional<db::Lock>>(
        [account, method, peer = peer_](DbContext& ctx) {
            return sourceLock(ctx, account, method, peer);
        },
        [this, asked](std::optional<std::optional<db::Lock>> lock) {
            busy_ = false;
            MessagePtr m = std::move(heldMessage_);
            if (!lock) {
                tellClientDuringAuth(kStoreUnavailable);
                return authFailed(std::move(m), asked, true);
            }
            if (*lock) return refuseLocked(std::move(m), **lock);
            sourceChecked_ = true;
            handleAuth(std::move(m));
        },
        StoreFailureAudit{"auth." + method, {{"account", account}, {"method", method}}});
}

void ClientConnection::refuseLocked(MessagePtr msg, const db::Lock& lock) {
    const std::string text = lockedText(lock, auditName(), peer_.address);
    log_.info(
        "auth.locked",
        {{"conn", id_}, {"user", auditName()}, {"lock_id", lock.id}, {"lock", lock.subject()}});
    tellClientDuringAuth("portcullis: " + text);
    if (msg) ssh_message_reply_default(msg.get());
    disconnect(text);
}

// A method that cannot succeed now: audited as a failed attempt, counted, answered late.
void ClientConnection::refuseMethod(MessagePtr msg, const std::string& type,
                                    const std::string& method, const std::string& reason) {
    const auto asked = std::chrono::steady_clock::now();
    log_.info("auth.method_refused",
              {{"conn", id_}, {"user", auditName()}, {"method", method}, {"reason", reason}});
    fireDb([account = auditName(), peer = peer_, type, method, reason](DbContext& ctx) {
        auditEvent(
            ctx, type, account, peer,
            {{"account", account}, {"method", method}, {"result", "failure"}, {"reason", reason}});
    });
    authFailed(std::move(msg), asked, true);
}

// Publickey. The probe (no signature) is answered pk_ok for every well-formed
// key, registered or not, and nothing is looked up: whether an account exists
// or holds a key is learned by nobody. The decision is taken only on a
// signature libssh verified, against the keys registered to the account.
void ClientConnection::handlePublicKey(MessagePtr msg) {
    const auto asked = std::chrono::steady_clock::now();
    if (publicKeyDone_) {
        // First factor already passed: the client must continue with the code.
        ssh_message_reply_default(msg.get());
        return;
    }
    const auto state = messagePublicKeyState(msg.get());
    if (state == SSH_PUBLICKEY_STATE_NONE) {
        ssh_message_auth_reply_pk_ok_simple(msg.get());
        return;
    }
    ssh_key key = messagePublicKey(msg.get());
    const std::string blob = publicKeyBlob(key);
    if (state != SSH_PUBLICKEY_STATE_VALID || blob.empty()) {
        log_.info("auth.publickey",
                  {{"conn", id_}, {"user", auditName()}, {"result", "bad_signature"}});
        fireDb([account = auditName(), peer = peer_](DbContext& ctx) {
            auditEvent(ctx, "auth.publickey", account, peer,
                       {{"account", account},
                        {"method", "publickey"},
                        {"result", "failure"},
                        {"reason", "bad_signature"}});
        });
        return authFailed(std::move(msg), asked, true);
    }
    const auto parsed = SshPublicKey::fromBlob(blob);
    const std::string type =
        parsed ? parsed->type : std::string(ssh_key_type_to_char(ssh_key_type(key)));
    const std::string fingerprint = parsed ? parsed->fingerprint() : std::string();
    const std::string account = auditName();
    heldMessage_ = std::move(msg);
    busy_ = true;
    // The account's id is kept with the key, so that a later re-check tells
    // this account from a new one of the same name.
    struct KeyCheck {
        std::optional<std::int64_t> accountId;
        std::optional<db::Lock> lock;  // the key is proven, but a lock refuses the account
    };
    runDb<KeyCheck>(
        [account, blob, type, fingerprint, peer = peer_](DbContext& ctx) {
            KeyCheck check;
            if (checkPublicKey(ctx, account, blob, type, fingerprint, peer)) {
                const auto found = db::Accounts(ctx.db).find(account);
                check.accountId = found ? found->id : 0;
                if (found) check.lock = accountLock(ctx, account, "publickey", peer);
            }
            return check;
        },
        [this, asked, blob, fingerprint](std::optional<KeyCheck> check) {
            busy_ = false;
            MessagePtr m = std::move(heldMessage_);
            if (!check) tellClientDuringAuth(kStoreUnavailable);
            // Only once the key is proven does the user learn of the lock.
            if (check && check->lock && spec_) return refuseLocked(std::move(m), *check->lock);
            if (check && check->accountId && *check->accountId && spec_) {
                publicKeyDone_ = true;
                keyBlob_ = blob;
                keyFingerprint_ = fingerprint;
                accountId_ = *check->accountId;
                log_.info("auth.publickey", {{"conn", id_},
                                             {"account", auditName()},
                                             {"result", "success"},
                                             {"fingerprint", fingerprint}});
                // Partial success lists the methods that are set at this moment.
                ssh_set_auth_methods(session_ssh_.get(), SSH_AUTH_METHOD_INTERACTIVE);
                ssh_message_auth_reply_success(m.get(), 1);
            } else {
                log_.info("auth.publickey",
                          {{"conn", id_}, {"user", auditName()}, {"result", "failure"}});
                authFailed(std::move(m), asked, true);
            }
        },
        StoreFailureAudit{"auth.publickey",
                          {{"account", account},
                           {"method", "publickey"},
                           {"key_type", type},
                           {"fingerprint", fingerprint}}});
}

void ClientConnection::handleKeyboardInteractive(MessagePtr msg) {
    if (!publicKeyDone_) {
        // The order is enforced here: the key first, then the code.
        return refuseMethod(std::move(msg), "auth.totp", "keyboard-interactive",
                            "publickey_required");
    }
    const auto asked = std::chrono::steady_clock::now();
    ssh_session s = session_ssh_.get();
    if (!ssh_message_auth_kbdint_is_response(msg.get())) {
        const char* prompts[] = {kPrompt};
        char echo[] = {0};
        ssh_message_auth_interactive_request(msg.get(), "", "", 1, prompts, echo);
        return;
    }
    auto code = std::make_shared<SecretBytes>();
    if (ssh_userauth_kbdint_getnanswers(s) == 1) {
        const char* answer = ssh_userauth_kbdint_getanswer(s, 0);
        if (answer) *code = SecretBytes(std::string_view(answer));
    }
    const std::string account = auditName();
    heldMessage_ = std::move(msg);
    busy_ = true;
    struct CodeCheck {
        db::OtpVerdict verdict;
        std::optional<TimePoint> lockedUntil;  // to tell the user until when
        std::optional<db::Lock> lock;          // locked since the key was proven
    };
    runDb<CodeCheck>(
        [account, code, peer = peer_](DbContext& ctx) {
            CodeCheck check{checkCode(ctx, account, *code, peer), std::nullopt, std::nullopt};
            if (check.verdict.result == db::OtpResult::locked) {
                if (auto found = db::Accounts(ctx.db).find(account))
                    check.lockedUntil = found->lockedUntil;
            }
            if (check.verdict.accepted())
                check.lock = accountLock(ctx, account, "keyboard-interactive", peer);
            return check;
        },
        [this, asked](std::optional<CodeCheck> check) {
            busy_ = false;
            MessagePtr m = std::move(heldMessage_);
            if (check && check->lock) return refuseLocked(std::move(m), *check->lock);
            const bool accepted = check && check->verdict.accepted();
            log_.info("auth.totp",
                      {{"conn", id_},
                       {"account", auditName()},
                       {"result", accepted ? "success" : "failure"},
                       {"reason", check ? check->verdict.reason() : std::string("store_error")}});
            if (accepted) return authenticated(std::move(m));
            // The key is proven: say why, on the line before the next prompt.
            tellClientDuringAuth(check
                                     ? codeRefusal(check->verdict, auditName(), check->lockedUntil)
                                     : kStoreUnavailable);
            authFailed(std::move(m), asked, true);
        },
        StoreFailureAudit{"auth.totp", {{"account", account}, {"method", "keyboard-interactive"}}});
}

// Every failure is answered the same way, no sooner than authFailureDelay
// after the request, whatever the reason (unknown account, wrong key, wrong or
// replayed code, locked, disabled, not enrolled).
void ClientConnection::authFailed(MessagePtr msg, std::chrono::steady_clock::time_point asked,
                                  bool counts) {
    heldMessage_ = std::move(msg);
    busy_ = true;
    const auto due = asked + config_.authFailureDelay;
    delayTimer_.expires_at(due);
    delayTimer_.async_wait([self = shared_from_this(), counts](const boost::system::error_code&) {
        if (self->phase_ == Phase::closed) return;
        self->busy_ = false;
        MessagePtr m = std::move(self->heldMessage_);
        if (m) ssh_message_reply_default(m.get());
        if (counts && ++self->authFailures_ >= self->config_.maxAuthTries) {
            self->log_.info("auth.too_many_failures",
                            {{"conn", self->id_}, {"user", self->auditName()}});
            self->disconnect("Too many authentication failures");
        }
        self->step();
    });
}

void ClientConnection::authenticated(MessagePtr msg) {
    ssh_message_auth_reply_success(msg.get(), 0);
    phase_ = Phase::open;
    authenticated_ = true;
    graceTimer_.cancel();
    ticket_.release();
    {
        const std::lock_guard lock(accountMutex_);
        authenticatedAccount_ = auditName();
    }
    log_.info("auth.success", {{"conn", id_}, {"account", auditName()}, {"source", peer_.address}});
    scheduleRecheck();
}

void ClientConnection::handleChannelOpen(MessagePtr msg) {
    const int kind = ssh_message_subtype(msg.get());
    if ((kind != SSH_CHANNEL_SESSION && kind != SSH_CHANNEL_DIRECT_TCPIP) || draining_ ||
        bridges_.size() + pendingForwards_ >= static_cast<std::size_t>(config_.maxChannels)) {
        // X11, agent and remote (tcpip-forward) channels are never offered.
        log_.info("channel.refused", {{"conn", id_}, {"kind", kind}});
        ssh_message_reply_default(msg.get());
        return;
    }
    if (kind == SSH_CHANNEL_DIRECT_TCPIP) return openForward(std::move(msg));
    ssh_channel channel = ssh_message_channel_request_open_reply_accept(msg.get());
    if (!channel) return;
    bridges_.push_back(
        Slot{nextBridgeId_++,
             std::make_unique<ChannelBridge>(ChannelPtr(channel), config_.bufferHigh, log_, id_)});
}

// direct-tcpip: the policy decides (channel "forward") before the channel is
// accepted, so that a refusal is a clean open failure for the client.
void ClientConnection::openForward(MessagePtr msg) {
    const char* host = ssh_message_channel_request_open_destination(msg.get());
    const char* origin = ssh_message_channel_request_open_originator(msg.get());
    // The destination is used whole or not at all: a name cut to fit would be another host.
    const std::string wanted = host ? host : "";
    ChannelBridge::Forward destination{wanted,
                                       ssh_message_channel_request_open_destination_port(msg.get()),
                                       origin ? printable(origin) : std::string(),
                                       ssh_message_channel_request_open_originator_port(msg.get())};
    const bool validDestination =
        isValidHostName(wanted) && destination.port > 0 && destination.port <= 65535;
    if (!spec_ || spec_->target.empty() || !validDestination) {
        const std::string why = !validDestination ? "invalid destination" : "no target chosen";
        log_.info("channel.refused", {{"conn", id_}, {"kind", "direct-tcpip"}, {"reason", why}});
        if (!validDestination) {
            fireDb([account = auditName(), peer = peer_, shown = printable(wanted),
                    length = wanted.size(), port = destination.port](DbContext& ctx) {
                auditEvent(ctx, "forward.refused", account, peer,
                           {{"account", account},
                            {"destination", shown},
                            {"destination_length", length},
                            {"destination_port", port},
                            {"reason", "invalid destination"}});
            });
        }
        ssh_message_reply_default(msg.get());
        return;
    }
    ++pendingForwards_;
    db::AccessRequest request{spec_->account, spec_->login, spec_->target, db::Channel::forward,
                              systemNow()};
    request.source = peer_.address;
    request.destination = ForwardDestination{destination.host, destination.port};
    auto held = std::make_shared<MessagePtr>(std::move(msg));
    runDb<AccessOutcome>(
        [request, ceiling = config_.ceiling, peer = peer_](DbContext& ctx) {
            return decideAccess(ctx, request, ceiling, peer);
        },
        [this, held, request, destination](std::optional<AccessOutcome> outcome) {
            --pendingForwards_;
            const bool allowed = outcome && outcome->decision.allowed && !draining_;
            log_.info("policy.decision",
                      {{"conn", id_},
                       {"account", request.account},
                       {"target", request.target},
                       {"channel", "forward"},
                       {"destination", destination.host + ":" + std::to_string(destination.port)},
                       {"allowed", allowed}});
            if (outcome && !outcome->decision.forwardPatterns.empty()) {
                // The grant limits forwards (--forward-to) and this is not one of them.
                fireDb([account = request.account, peer = peer_, target = request.target,
                        destination, patterns = outcome->decision.forwardPatterns](DbContext& ctx) {
                    auditEvent(ctx, "forward.refused", account, peer,
                               {{"account", account},
                                {"target", target},
                                {"destination", destination.host},
                                {"destination_port", destination.port},
                                {"reason", "destination not allowed"},
                                {"allowed_destinations", patterns}});
                });
            }
            if (!allowed || boundElsewhere(*outcome)) {
                ssh_message_reply_default(held->get());
                return;
            }
            ssh_channel channel = ssh_message_channel_request_open_reply_accept(held->get());
            if (!channel) return;
            auto bridge =
                std::make_unique<ChannelBridge>(ChannelPtr(channel), config_.bufferHigh, log_, id_);
            bridge->forwardTo(destination);
            const auto bridgeId = nextBridgeId_++;
            bridges_.push_back(Slot{bridgeId, std::move(bridge)});
            fireDb([account = request.account, peer = peer_, target = request.target,
                    destination](DbContext& ctx) {
                auditEvent(ctx, "forward.open", account, peer,
                           {{"account", account},
                            {"target", target},
                            {"destination", destination.host},
                            {"destination_port", destination.port},
                            {"originator", destination.originHost},
                            {"originator_port", destination.originPort}});
            });
            admit(bridgeId, *outcome);
        },
        StoreFailureAudit{"policy.decision", policyFailureDetails(request)});
}

ChannelBridge* ClientConnection::findBridge(ssh_channel channel) {
    for (auto& slot : bridges_) {
        if (slot.bridge->down() == channel) return slot.bridge.get();
    }
    return nullptr;
}

ChannelBridge* ClientConnection::findBridge(std::uint64_t id) {
    for (auto& slot : bridges_) {
        if (slot.id == id) return slot.bridge.get();
    }
    return nullptr;
}

void ClientConnection::handleChannelRequest(MessagePtr msg) {
    ssh_message m = msg.get();
    ChannelBridge* bridge = findBridge(ssh_message_channel_request_channel(m));
    if (!bridge) {
        ssh_message_reply_default(m);
        return;
    }
    std::uint64_t bridgeId = 0;
    for (auto& slot : bridges_) {
        if (slot.bridge.get() == bridge) bridgeId = slot.id;
    }
    bool ok = false;
    bool decide = false;
    const int request = ssh_message_subtype(m);
    switch (request) {
        case SSH_CHANNEL_REQUEST_PTY:
            ok = bridge->onPty(messagePty(m));
            break;
        case SSH_CHANNEL_REQUEST_ENV: {
            const char* name = ssh_message_channel_request_env_name(m);
            const char* value = ssh_message_channel_request_env_value(m);
            ok = name && value && bridge->onEnv(name, value);
            break;
        }
        case SSH_CHANNEL_REQUEST_SHELL:
            ok = decide = bridge->onShell();
            break;
        case SSH_CHANNEL_REQUEST_EXEC: {
            const char* command = ssh_message_channel_request_command(m);
            ok = decide = command && bridge->onExec(command);
            break;
        }
        case SSH_CHANNEL_REQUEST_SUBSYSTEM: {
            const char* name = ssh_message_channel_request_subsystem(m);
            ok = decide = name && bridge->onSubsystem(name);
            break;
        }
        case SSH_CHANNEL_REQUEST_WINDOW_CHANGE:
            bridge->onWindowChange(messagePty(m));
            ok = true;
            break;
        default:
            // x11-req, auth-agent-req and anything unknown are refused here.
            log_.info("channel.request_refused", {{"conn", id_}, {"request", request}});
            break;
    }
    if (ok)
        ssh_message_channel_request_reply_success(m);
    else
        ssh_message_reply_default(m);
    if (decide) requestAccess(bridgeId);
}

// ---- access and upstream ------------------------------------------------------

void ClientConnection::requestAccess(std::uint64_t bridgeId) {
    ChannelBridge* bridge = findBridge(bridgeId);
    if (!bridge || !spec_) return;
    const std::string account = spec_->account;
    if (spec_->target.empty() && bridge->kind() == db::Channel::exec && bridge->command()) {
        // No target named: the exec request is a gateway command (SPEC §11).
        runDb<CommandOutput>(
            [account, line = *bridge->command(), peer = peer_](DbContext& ctx) {
                return runGatewayCommand(ctx, account, line, peer, systemNow());
            },
            [this, bridgeId](std::optional<CommandOutput> output) {
                ChannelBridge* b = findBridge(bridgeId);
                if (!b) return;
                if (!output)
                    return b->deny("the gateway cannot read its store; try again later", 1);
                b->respond(output->out, output->err, output->status);
            });
        return;
    }
    if (spec_->target.empty()) {
        runDb<std::vector<std::string>>(
            [account](DbContext& ctx) { return reachableTargets(ctx, account); },
            [this, bridgeId](std::optional<std::vector<std::string>> targets) {
                ChannelBridge* b = findBridge(bridgeId);
                if (!b) return;
                const auto names = targets.value_or(std::vector<std::string>{});
                if (b->hasPty() && b->kind() == db::Channel::shell && !names.empty()) {
                    menuTargets_ = names;
                    b->showMenu(menuText());
                    startMenuTimer(bridgeId);
                    return;
                }
                std::string list;
                for (const auto& t : names) list += (list.empty() ? "" : ", ") + t;
                b->deny("no target given: connect as " + spec_->account + ":TARGET or " +
                            spec_->account + ":LOGIN@TARGET; targets you may reach now: " +
                            (list.empty() ? "none" : list),
                        1);
            });
        return;
    }
    db::AccessRequest request{account, spec_->login, spec_->target, bridge->kind(), systemNow()};
    request.source = peer_.address;
    runDb<AccessOutcome>(
        [request, ceiling = config_.ceiling, peer = peer_](DbContext& ctx) {
            return decideAccess(ctx, request, ceiling, peer);
        },
        [this, bridgeId, request](std::optional<AccessOutcome> outcome) {
            ChannelBridge* b = findBridge(bridgeId);
            if (!b) return;
            const std::string login = outcome && !outcome->decision.login.empty()
                                          ? outcome->decision.login
                                          : request.login;
            const std::string where = (login.empty() ? std::string("the default login") : login) +
                                      " on " + request.target;
            const std::string channel = db::channelName(request.channel);
            if (!outcome) return b->deny("the gateway cannot read its store; try again later", 1);
            log_.info("policy.decision", {{"conn", id_},
                                          {"account", request.account},
                                          {"target", request.target},
                                          {"login", outcome->decision.login},
                                          {"channel", channel},
                                          {"allowed", outcome->decision.allowed}});
            if (!outcome->decision.allowed) {
                // What and why, for this request only (the user proved both factors).
                const auto& d = outcome->decision;
                if (d.lock) return b->deny(lockedText(*d.lock, request.account, peer_.address), 1);
                std::string why;
                for (const auto& r : d.reasons) why += (why.empty() ? "" : "; ") + r;
                return b->deny(
                    "access denied: " + request.account + " may not open " + channel + " as " +
                        where + (why.empty() ? "" : " (" + why + ")") +
                        (d.opensAt ? "; it may from " + clockTimeUtc(*d.opensAt, systemNow()) : ""),
                    1);
            }
            if (auto other = boundElsewhere(*outcome)) return b->deny(*other, 1);
            admit(bridgeId, *outcome);
        },
        StoreFailureAudit{"policy.decision", policyFailureDetails(request)});
}

// One connection reaches one target with one login (the first allowed
// decision connects the upstream): a decision that names another is refused,
// so that no channel ever runs on a target its decision did not name.
std::optional<std::string> ClientConnection::boundElsewhere(const AccessOutcome& outcome) const {
    if (!upstream_ || !outcome.target) return std::nullopt;
    if (upstream_->target().name == outcome.target->name &&
        upstream_->login() == outcome.decision.login) {
        return std::nullopt;
    }
    return "this connection already goes to " + upstream_->login() + "@" +
           upstream_->target().name + "; open a new connection for " + outcome.decision.login +
           "@" + outcome.target->name;
}

// An allowed channel: the first decision gives the session its limits
// (SPEC §5) and connects the upstream; the channel waits for it.
void ClientConnection::admit(std::uint64_t bridgeId, const AccessOutcome& outcome) {
    if (!limits_.grantId()) limits_.adopt(outcome.decision);
    if (!upstream_) startUpstream(*outcome.target, outcome.decision.login);
    allowed_.push_back(Allowed{bridgeId, outcome.target->name, outcome.decision.login});
}

std::string ClientConnection::menuText() const {
    std::string text = "\r\nPortcullis: targets " + spec_->account + " may reach now\r\n\r\n";
    for (std::size_t i = 0; i < menuTargets_.size(); ++i)
        text += "  " + std::to_string(i + 1) + ") " + menuTargets_[i] + "\r\n";
    text += "\r\nTarget (number or name, q to quit): ";
    return text;
}

void ClientConnection::startMenuTimer(std::uint64_t bridgeId) {
    menuTimer_.expires_after(config_.loginGraceTime);
    menuTimer_.async_wait(
        [self = shared_from_this(), bridgeId](const boost::system::error_code& ec) {
            if (ec || self->phase_ == Phase::closed) return;
            ChannelBridge* b = self->findBridge(bridgeId);
            if (b && b->stage() == ChannelBridge::Stage::menu) {
                b->deny("no target chosen in time", 1);
                self->step();
            }
        });
}

// A line typed at the menu: a number or a name from the list, or q.
void ClientConnection::menuChoice(std::uint64_t bridgeId, const std::string& line) {
    ChannelBridge* b = findBridge(bridgeId);
    if (!b) return;
    const auto first = line.find_first_not_of(' ');
    const std::string choice = first == std::string::npos
                                   ? ""
                                   : line.substr(first, line.find_last_not_of(' ') - first + 1);
    if (choice.empty()) return b->showMenu("Target (number or name, q to quit): ");
    if (choice == "q" || choice == "quit") {
        menuTimer_.cancel();
        return b->deny("no target chosen", 1);
    }
    std::optional<std::string> target;
    if (choice.find_first_not_of("0123456789") == std::string::npos && choice.size() < 6) {
        const auto n = static_cast<std::size_t>(std::stoul(choice));
        if (n >= 1 && n <= menuTargets_.size()) target = menuTargets_[n - 1];
    } else if (std::find(menuTargets_.begin(), menuTargets_.end(), choice) != menuTargets_.end()) {
        target = choice;
    }
    if (!target) {
        return b->showMenu("not in the list: " + printable(choice) +
                           "\r\nTarget (number or name, q to quit): ");
    }
    menuTimer_.cancel();
    // The first choice is the connection's target from then on, as if it had
    // been named in the user name; a second menu (another pty channel opened
    // before the first choice) may only confirm it.
    if (!spec_->target.empty() && spec_->target != *target) {
        log_.info("policy.decision", {{"conn", id_},
                                      {"account", spec_->account},
                                      {"target", *target},
                                      {"allowed", false},
                                      {"reason", "connection bound to " + spec_->target}});
        fireDb([account = spec_->account, peer = peer_, chosen = *target,
                bound = spec_->target](DbContext& ctx) {
            auditEvent(ctx, "policy.decision", account, peer,
                       {{"account", account},
                        {"target", chosen},
                        {"channel", "shell"},
                        {"allowed", false},
                        {"reasons", {"this connection already goes to " + bound}}});
        });
        return b->deny("this connection already goes to " + spec_->target +
                           "; open a new connection for " + *target,
                       1);
    }
    spec_->target = *target;
    b->leaveMenu();
    requestAccess(bridgeId);
}

void ClientConnection::startUpstream(const db::Target& target, const std::string& login) {
    upstream_ = std::make_unique<Upstream>(strand_, log_, id_, target, login, services_.upstreamKey,
                                           services_.keysDir);
    auto self = shared_from_this();
    upstreamTimer_.expires_after(config_.upstreamTimeout);
    upstreamTimer_.async_wait([self](const boost::system::error_code& ec) {
        if (ec || !self->upstream_ || self->phase_ == Phase::closed) return;
        const auto state = self->upstream_->state();
        if (state == Upstream::State::ready || state == Upstream::State::failed) return;
        self->upstream_->fail(Upstream::Failure::timeout,
                              "timed out connecting to target " + self->upstream_->target().name);
        self->step();
    });
    upstream_->start([self] {
        if (self->phase_ != Phase::closed) self->step();
    });
}

void ClientConnection::advanceUpstream() {
    const auto state = upstream_->state();
    if (state == Upstream::State::handshaking || state == Upstream::State::authenticating)
        upstream_->advance();

    if (upstream_->state() == Upstream::State::ready) {
        upstreamTimer_.cancel();
        for (const auto& allowed : allowed_) {
            ChannelBridge* b = findBridge(allowed.bridgeId);
            if (!b || b->stage() != ChannelBridge::Stage::deciding) continue;
            // Never run a channel on a target its decision did not name.
            if (allowed.target != upstream_->target().name || allowed.login != upstream_->login()) {
                log_.error("policy.target_mismatch", {{"conn", id_},
                                                      {"decided", allowed.target},
                                                      {"upstream", upstream_->target().name}});
                b->deny("this connection already goes to " + upstream_->target().name, 1);
                continue;
            }
            if (!session_) startSessionRow(db::channelName(b->kind()));
            auto recorder = makeRecorder(*b, ++recordedChannels_);
            auto sealed = sealRecording(*recorder);
            if (b->hasPty()) b->notice(sessionBanner());
            b->startUpstream(upstream_->session(), std::move(recorder), std::move(sealed));
        }
        allowed_.clear();
        if (upstream_->broken()) {
            for (auto& slot : bridges_) slot.bridge->upstreamLost();
        }
        return;
    }
    if (upstream_->state() != Upstream::State::failed) return;

    const bool mismatch = upstream_->failure() == Upstream::Failure::hostKeyMismatch;
    if (!upstreamFailureAudited_) {
        upstreamFailureAudited_ = true;
        const auto& t = upstream_->target();
        nlohmann::json details{{"account", auditName()},
                               {"target", t.name},
                               {"host", t.host},
                               {"port", t.port},
                               {"login", upstream_->login()},
                               {"error", upstream_->failureMessage()}};
        if (mismatch) {
            details["pinned_fingerprint"] = t.hostKey.fingerprint();
            details["presented_fingerprint"] = upstream_->presentedFingerprint();
        }
        fireDb([type = std::string(mismatch ? "upstream.hostkey_mismatch" : "upstream.failed"),
                account = auditName(), peer = peer_,
                details](DbContext& ctx) { auditEvent(ctx, type, account, peer, details); });
    }
    // What the user may know: a pinned-key mismatch or a refused gateway key
    // in full; for network trouble only the category (addresses stay inside).
    const auto failure = upstream_->failure();
    const std::string message =
        (mismatch || failure == Upstream::Failure::authRejected)
            ? upstream_->failureMessage()
            : "cannot reach target " + upstream_->target().name +
                  (failure == Upstream::Failure::timeout ? " (timed out)" : " (connection failed)");
    for (const auto& allowed : allowed_) {
        if (ChannelBridge* b = findBridge(allowed.bridgeId)) b->deny(message, mismatch ? 1 : 255);
    }
    allowed_.clear();
    for (auto& slot : bridges_) {
        if (slot.bridge->stage() != ChannelBridge::Stage::deciding) slot.bridge->upstreamLost();
    }
}

void ClientConnection::startSessionRow(const std::string& channel) {
    db::SessionStart start;
    start.id = randomSessionId();
    start.account = spec_->account;
    start.login = upstream_->login();
    start.target = upstream_->target().name;
    start.grantId = limits_.grantId();
    start.source = peer_.address;
    start.gateway = services_.gatewayId;
    start.startedAt = systemNow();
    session_ = start;
    sessionChannel_ = channel == db::channelName(db::Channel::shell)  ? db::Channel::shell
                      : channel == db::channelName(db::Channel::sftp) ? db::Channel::sftp
                                                                      : db::Channel::exec;
    log_.info("session.start", {{"conn", id_},
                                {"session", start.id},
                                {"account", start.account},
                                {"login", start.login},
                                {"target", start.target}});
    fireDb([start, channel](DbContext& ctx) { startSession(ctx, start, channel); });
    limits_.start(std::chrono::steady_clock::now());
    checkLimits();
}

std::unique_ptr<ChannelRecorder> ClientConnection::makeRecorder(const ChannelBridge& bridge,
                                                                int channel) {
    recording::RecordingMeta meta;
    meta.sessionId = session_->id;
    meta.channel = channel;
    meta.account = session_->account;
    meta.login = session_->login;
    meta.target = session_->target;
    meta.source = peer_.address;
    meta.grantId = limits_.grantId();
    meta.kind = db::channelName(bridge.kind());
    meta.command = bridge.command();
    if (const auto& pty = bridge.pty()) {
        meta.term = pty->term;
        meta.width = static_cast<int>(pty->cols);
        meta.height = static_cast<int>(pty->rows);
    }
    meta.startedAtUnix = systemNow().time_since_epoch().count();
    meta.title = meta.account + "@" + meta.target + " as " + meta.login;
    // Terminal channels as asciicast, everything else byte-exact (SPEC §6).
    const bool terminal = bridge.hasPty();
    const std::string name = session_->id + (channel > 1 ? "-" + std::to_string(channel) : "") +
                             (terminal ? ".cast" : ".rec");
    const std::string relative = "recordings/" + name;

    db::RecordingRow row;
    row.sessionId = session_->id;
    row.channel = channel;
    row.kind = meta.kind;
    row.format = terminal ? "cast" : "rec";
    row.path = relative;
    row.startedAt = systemNow();
    fireDb([row](DbContext& ctx) { addRecording(ctx, row); });

    auto self = shared_from_this();
    auto postToStrand = [self](std::function<void()> fn) {
        boost::asio::post(self->strand_, [self, fn = std::move(fn)] {
            fn();
            if (self->phase_ != Phase::closed) self->step();
        });
    };
    ChannelRecorder::Options options;
    options.input = config_.recording.input;
    options.secretPrompts = config_.recording.secretPrompts;
    options.masterKey = &services_.db.masterKey();
    // On the writer thread: size and running digest into the audit chain, in
    // the connection's store order (SPEC §15).
    options.checkpointed = [sequence = dbSequence_, &log = log_, account = meta.account,
                            peer = peer_, sessionId = meta.sessionId, channel,
                            relative](const FileCheckpoint& checkpoint) {
        const bool queued = sequence->submit([=](DbContext& ctx) {
            auditRecordingCheckpoint(ctx, account, peer, sessionId, channel, relative, checkpoint);
        });
        if (!queued) log.error("db.queue_full", {{"session", sessionId}, {"event", "checkpoint"}});
    };
    return std::make_unique<ChannelRecorder>(services_.recordings, std::move(postToStrand),
                                             std::move(meta), services_.stateRoot / relative,
                                             terminal, std::move(options));
}

// Runs on the writer thread once the file is closed: its digest goes to the
// recording's row and to the audit chain, in the connection's store order.
RecordingWriter::Sealed ClientConnection::sealRecording(const ChannelRecorder& recorder) {
    const auto& meta = recorder.meta();
    return [sequence = dbSequence_, &log = log_, account = meta.account, peer = peer_,
            sessionId = meta.sessionId, channel = meta.channel,
            path = "recordings/" + recorder.file().filename().string()](Result<SealedFile> sealed) {
        const bool queued = sequence->submit([=](DbContext& ctx) {
            sealRecordingRow(ctx, account, peer, sessionId, channel, path, sealed);
        });
        if (!queued) log.error("db.queue_full", {{"session", sessionId}, {"event", "seal"}});
    };
}

void ClientConnection::auditChannelEvents(ChannelBridge& bridge) {
    const auto* recorder = bridge.recorder();
    if (!recorder) return;
    const auto& meta = recorder->meta();
    if (auto failure = bridge.takeRecordingFailure()) {
        fireDb([account = meta.account, peer = peer_, session = meta.sessionId,
                channel = meta.channel, error = *failure](DbContext& ctx) {
            auditEvent(ctx, "recording.failed", account, peer,
                       {{"account", account},
                        {"session_id", session},
                        {"channel", channel},
                        {"error", error},
                        {"action", "session ended"}});
        });
        // Fail closed: nothing more of this session can be recorded either
        // (a full disk), and its end names the cause, not the client leaving.
        if (session_ && !recordingFailed_) {
            recordingFailed_ = true;
            endLive("failed", "recording failed: " + *failure, "",
                    "the session cannot be recorded (the gateway's disk may be full); it is ended",
                    nlohmann::json::object(), auditName());
        }
    }
    for (auto& op : bridge.takeSftpOperations()) {
        fireDb([account = meta.account, peer = peer_, session = meta.sessionId,
                channel = meta.channel, op = std::move(op)](DbContext& ctx) {
            auditSftpOperation(ctx, account, peer, session, channel, op);
        });
    }
}

// While a session runs: the time limit (from the session's start, and never
// past the grant's forced end) with notices 5 and 1 minute before, and the
// idle timeout (no input from the client); SessionLimits decides, this acts.
void ClientConnection::checkLimits() {
    if (phase_ != Phase::open || limitReached_) return;
    const auto now = std::chrono::steady_clock::now();
    noteInput(now);
    const auto due = limits_.check(now, systemNow(), kLivePublishInterval);
    using Action = SessionLimits::Check::Action;
    if (due.action == Action::expired) return endForLimit("expired", due.text, "session.expired");
    if (due.action == Action::idle) return endForLimit("idle", due.text, "session.idle");
    if (due.action == Action::notice)
        for (auto& slot : bridges_) slot.bridge->notice(due.text);
    publishLive();
    limitTimer_.expires_at(due.nextCheck);
    limitTimer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
        if (ec || self->phase_ == Phase::closed) return;
        self->checkLimits();
        self->step();
    });
}

// Input from the client restarts the idle clock (seen on every step).
void ClientConnection::noteInput(std::chrono::steady_clock::time_point now) {
    std::uint64_t input = bytesIn_;
    for (auto& slot : bridges_) input += slot.bridge->bytesIn();
    limits_.noteInput(input, now);
}

// The line a terminal channel shows before the target's first output (issue
// 13): under which grant, until when at the latest, and that it is recorded.
std::string ClientConnection::sessionBanner() const {
    const auto end = limits_.latestEnd(session_ ? session_->startedAt : systemNow());
    return (spec_ ? spec_->account : std::string()) + " as " + upstream_->login() + " on " +
           upstream_->target().name + " under grant #" +
           std::to_string(limits_.grantId().value_or(0)) + "; ends " +
           clockTimeUtc(end.at, systemNow()) + " at the latest (" + end.why +
           "); this session is recorded";
}

void ClientConnection::endForLimit(const std::string& status, const std::string& reason,
                                   const std::string& auditType) {
    endLive(status, reason, auditType, reason + "; closing", nlohmann::json::object(), auditName());
}

void ClientConnection::endLive(const std::string& status, const std::string& reason,
                               const std::string& auditType, const std::string& notice,
                               nlohmann::json details, const std::string& actor) {
    if (limitReached_) return;
    limitReached_ = true;
    limitTimer_.cancel();
    log_.info(auditType.empty() ? "session.failed" : auditType,
              {{"conn", id_}, {"account", auditName()}, {"reason", reason}});
    if (session_ && !auditType.empty()) {
        details["account"] = auditName();
        details["session_id"] = session_->id;
        details["reason"] = reason;
        fireDb([type = auditType, actor, peer = peer_, details](DbContext& ctx) {
            auditEvent(ctx, type, actor, peer, details);
        });
    }
    for (auto& slot : bridges_) slot.bridge->deny(notice, 255);
    finishSessionRow(status, reason);
    disconnect(reason);
}

std::optional<LiveSession> ClientConnection::liveSession() const {
    const std::lock_guard lock(liveMutex_);
    return live_;
}

bool ClientConnection::kill(const std::string& sessionId, const std::string& by,
                            const std::string& reason) {
    {
        const std::lock_guard lock(liveMutex_);
        if (!live_ || live_->id != sessionId) return false;
    }
    post([self = shared_from_this(), sessionId, by, reason] {
        if (self->phase_ != Phase::open || !self->session_ || self->session_->id != sessionId)
            return;
        const std::string why = reason.empty() ? "" : ": " + reason;
        nlohmann::json details{{"operator", by}};
        if (!reason.empty()) details["kill_reason"] = reason;
        self->endLive("killed", "terminated by an administrator (" + by + ")" + why, "session.kill",
                      "session terminated by an administrator" + why, std::move(details), by);
        self->step();
    });
    return true;
}

void ClientConnection::publishLive() {
    std::optional<LiveSession> live;
    if (session_ && phase_ == Phase::open && !limitReached_) {
        LiveSession l;
        l.id = session_->id;
        l.account = session_->account;
        l.login = session_->login;
        l.target = session_->target;
        l.source = session_->source;
        l.grantId = session_->grantId;
        l.startedAt = session_->startedAt;
        l.bytesIn = bytesIn_;
        l.bytesOut = bytesOut_;
        for (auto& slot : bridges_) {
            if (slot.bridge->finished()) continue;
            ++l.channels;
            l.bytesIn += slot.bridge->bytesIn();
            l.bytesOut += slot.bridge->bytesOut();
        }
        l.idleSeconds = limits_.idleFor(std::chrono::steady_clock::now()).count();
        live = std::move(l);
    }
    const std::lock_guard lock(liveMutex_);
    live_ = std::move(live);
}

std::string ClientConnection::account() const {
    const std::lock_guard lock(accountMutex_);
    return authenticatedAccount_;
}

void ClientConnection::recheckNow() {
    post([self = shared_from_this()] {
        if (self->phase_ != Phase::open) return;
        self->recheckTimer_.cancel();
        self->recheckAccess();
        self->step();
    });
}

void ClientConnection::scheduleRecheck() {
    // After a miss the store is asked again sooner (three misses end it).
    const auto wait = recheckMisses_ == 0 ? config_.recheckInterval
                                          : std::clamp<Seconds>(config_.recheckInterval / 3,
                                                                Seconds(1), Seconds(10));
    recheckTimer_.expires_after(wait);
    recheckTimer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
        if (ec || self->phase_ != Phase::open) return;
        self->recheckAccess();
        self->step();
    });
}

// Grants can be revoked, expire or leave their window, and accounts can be
// disabled, removed, lose the key or the TOTP enrollment they logged in with,
// while a connection lives, with or without a session open: all of it is
// decided again, on a store worker, every recheck interval. A failure
// lock-out does not end what is already open (only an administrator does).
void ClientConnection::recheckAccess() {
    if (recheckBusy_) {
        recheckAgain_ = true;
        return;
    }
    LiveCheck check{spec_ ? spec_->account : std::string(),
                    peer_.address,
                    accountId_,
                    keyBlob_,
                    keyFingerprint_,
                    std::nullopt};
    if (session_) {
        std::vector<db::Channel> kinds;
        std::vector<ForwardDestination> forwards;
        for (auto& slot : bridges_) {
            if (slot.bridge->finished()) continue;
            const auto kind = slot.bridge->kind();
            if (std::find(kinds.begin(), kinds.end(), kind) == kinds.end()) kinds.push_back(kind);
            if (const auto& f = slot.bridge->forward()) forwards.push_back({f->host, f->port});
        }
        if (kinds.empty() && sessionChannel_) kinds.push_back(*sessionChannel_);
        check.session = LiveCheck::Session{session_->login, session_->target, std::move(kinds),
                                           limits_.grantId(), std::move(forwards)};
    }
    recheckBusy_ = true;
    runDb<LiveVerdict>(
        [check, ceiling = config_.ceiling](DbContext& ctx) {
            return recheckLive(ctx, check, ceiling);
        },
        [this](std::optional<LiveVerdict> verdict) {
            recheckBusy_ = false;
            if (phase_ != Phase::open) return;
            if (!verdict) {
                // The store could not answer: asked again soon; three misses
                // in a row end the connection (fail closed).
                ++recheckMisses_;
                log_.warn("session.recheck_failed", {{"conn", id_}, {"misses", recheckMisses_}});
                if (recheckMisses_ >= kMaxRecheckMisses) {
                    return endAccess("recheck_failed",
                                     "the gateway could not re-check access " +
                                         std::to_string(recheckMisses_) + " times in a row",
                                     {});
                }
            } else {
                recheckMisses_ = 0;
                const auto& reasons = verdict->reasons;
                if (const auto& lock = verdict->lock) {
                    // Ended within a second of `lock add` (its CLI asks for this re-check).
                    return endAccess("locked", lockedText(*lock, auditName(), peer_.address),
                                     reasons,
                                     {{"lock_id", lock->id},
                                      {"lock", lock->subject()},
                                      {"lock_reason", lock->reason}});
                }
                if (!reasons.empty()) {
                    std::string text;
                    for (const auto& r : reasons) text += (text.empty() ? "" : "; ") + r;
                    return endAccess("revoked", "access revoked: " + text, reasons);
                }
                if (verdict->decision && session_) regrant(*verdict->decision);
            }
            if (std::exchange(recheckAgain_, false)) return recheckAccess();
            scheduleRecheck();
        });
}

// The grants changed under a live session: it goes on under the grant that
// governs it now, with that grant's limits (from the session's start), and
// the user is told when that moves its end.
void ClientConnection::regrant(const db::Decision& decision) {
    const auto before = limits_.grantId();
    if (!limits_.adopt(decision)) return;
    log_.info("session.regranted",
              {{"conn", id_}, {"from", before.value_or(0)}, {"to", limits_.grantId().value_or(0)}});
    fireDb([account = auditName(), peer = peer_, session = session_->id, from = before.value_or(0),
            decision](DbContext& ctx) {
        auditEvent(ctx, "session.regranted", account, peer,
                   {{"account", account},
                    {"session_id", session},
                    {"from_grant_id", from},
                    {"grant_id", decision.grantId.value_or(0)},
                    {"max_session_s", decision.maxSession.count()},
                    {"idle_timeout_s", decision.idleTimeout.count()},
                    {"ends_by", decision.endsBy ? formatIso8601(*decision.endsBy) : ""}});
    });
    if (before != limits_.grantId()) {
        for (auto& slot : bridges_) {
            if (slot.bridge->hasPty())
                slot.bridge->notice("the grants changed: " + sessionBanner());
        }
    }
    checkLimits();
}

// The end of a connection whose re-check failed: the live session, if any,
// is ended as revoked (session.revoked / session.recheck_failed), a
// connection without one is closed (connection.revoked / .recheck_failed).
void ClientConnection::endAccess(const std::string& what, const std::string& reason,
                                 const std::vector<std::string>& reasons, nlohmann::json details) {
    details["reasons"] = reasons;
    if (session_) {
        return endLive(what == "locked" ? "locked" : "revoked", reason, "session." + what, reason,
                       std::move(details), auditName());
    }
    log_.info("connection." + what, {{"conn", id_}, {"account", auditName()}, {"reason", reason}});
    details["account"] = auditName();
    details["reason"] = reason;
    fireDb([type = "connection." + what, account = auditName(), peer = peer_,
            details = std::move(details)](DbContext& ctx) {
        auditEvent(ctx, type, account, peer, details);
    });
    for (auto& slot : bridges_) slot.bridge->deny(reason, 255);
    disconnect(reason);
}

// Watched from each step: the timer runs while the connection has no channel.
void ClientConnection::watchUnused() {
    const bool unused = phase_ == Phase::open && bridges_.empty() && pendingForwards_ == 0;
    if (unused == unusedWatched_) return;
    unusedWatched_ = unused;
    ++unusedGeneration_;
    if (!unused) {
        unusedTimer_.cancel();
        return;
    }
    unusedTimer_.expires_after(config_.unusedConnectionTimeout);
    unusedTimer_.async_wait([self = shared_from_this(),
                             generation = unusedGeneration_](const boost::system::error_code& ec) {
        if (ec || generation != self->unusedGeneration_ || self->phase_ != Phase::open) return;
        const std::string reason = "no channel open for " +
                                   formatDuration(self->config_.unusedConnectionTimeout) +
                                   "; connection closed";
        self->log_.info("connection.unused", {{"conn", self->id_}, {"account", self->auditName()}});
        self->fireDb([account = self->auditName(), peer = self->peer_, reason](DbContext& ctx) {
            auditEvent(ctx, "connection.unused", account, peer,
                       {{"account", account}, {"reason", reason}});
        });
        self->disconnect(reason);
        self->step();
    });
}

void ClientConnection::finishSessionRow(const std::string& status, const std::string& reason) {
    if (!session_) return;
    std::uint64_t in = bytesIn_;
    std::uint64_t out = bytesOut_;
    for (auto& slot : bridges_) {
        in += slot.bridge->bytesIn();
        out += slot.bridge->bytesOut();
    }
    db::SessionEnd end;
    end.status = status;
    end.reason = reason;
    end.bytesIn = static_cast<std::int64_t>(in);
    end.bytesOut = static_cast<std::int64_t>(out);
    end.endedAt = systemNow();
    log_.info("session.end", {{"conn", id_},
                              {"session", session_->id},
                              {"status", status},
                              {"reason", reason},
                              {"bytes_in", in},
                              {"bytes_out", out}});
    fireDb([start = *session_, end](DbContext& ctx) { endSession(ctx, start, end); });
    session_.reset();
    publishLive();
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

void ClientConnection::teardown(const std::string& why) {
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
    finishSessionRow(why == "flow control violation" ? "failed" : "closed", why);
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
