// ClientConnection's live session: the time and idle limits with their
// notices, the re-checks of access while it runs (SPEC §5), an
// administrator's kill, the view the control socket shows, and the end of the
// session row.
#include <algorithm>

#include "gateway/auth_messages.hpp"
#include "gateway/client_connection.hpp"
#include "gateway/client_connection_db.hpp"
#include "gateway/connection_text.hpp"
#include "gateway/store_ops.hpp"

namespace portcullis::gateway {
namespace {

// Re-checks in a row that the store could not answer before a connection is ended.
constexpr int kMaxRecheckMisses = 3;

}  // namespace

// While a session runs: the time limit (from the session's start, and never
// past the grant's forced end) with notices 5 and 1 minute before, and the
// idle timeout (no input from the client); SessionLimits decides, this acts.
void ClientConnection::checkLimits() {
    if (phase_ != Phase::open || limitReached_) return;
    const auto now = std::chrono::steady_clock::now();
    noteInput(now);
    const auto due = limits_.check(now, systemNow(), kLivePublishInterval);
    using Action = SessionLimits::Check::Action;
    if (due.action == Action::expired)
        return endForLimit(SessionEndStatus::expired, due.text, "session.expired");
    if (due.action == Action::idle)
        return endForLimit(SessionEndStatus::idle, due.text, "session.idle");
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

void ClientConnection::endForLimit(SessionEndStatus status, const std::string& reason,
                                   const std::string& auditType) {
    endLive(status, reason, auditType, reason + "; closing", nlohmann::json::object(), auditName());
}

void ClientConnection::endLive(SessionEndStatus status, const std::string& reason,
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
        self->endLive(SessionEndStatus::killed, "terminated by an administrator (" + by + ")" + why,
                      "session.kill", "session terminated by an administrator" + why,
                      std::move(details), by);
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
        return endLive(what == "locked" ? SessionEndStatus::locked : SessionEndStatus::revoked,
                       reason, "session." + what, reason, std::move(details), auditName());
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

void ClientConnection::finishSessionRow(SessionEndStatus status, const std::string& reason) {
    if (!session_) return;
    std::uint64_t in = bytesIn_;
    std::uint64_t out = bytesOut_;
    for (auto& slot : bridges_) {
        in += slot.bridge->bytesIn();
        out += slot.bridge->bytesOut();
    }
    db::SessionEnd end;
    end.status = std::string(sessionStatus(status));
    end.reason = reason;
    end.bytesIn = static_cast<std::int64_t>(in);
    end.bytesOut = static_cast<std::int64_t>(out);
    end.endedAt = systemNow();
    log_.info("session.end", {{"conn", id_},
                              {"session", session_->id},
                              {"status", sessionStatus(status)},
                              {"reason", reason},
                              {"bytes_in", in},
                              {"bytes_out", out}});
    fireDb([start = *session_, end](DbContext& ctx) { endSession(ctx, start, end); });
    session_.reset();
    publishLive();
}

}  // namespace portcullis::gateway
