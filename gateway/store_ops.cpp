#include "gateway/store_ops.hpp"

#include <algorithm>
#include <limits>
#include <map>

#include "db/grants.hpp"
#include "gateway/admission.hpp"
#include "recording/file_digest.hpp"

namespace portcullis::gateway {
namespace {

db::AuditEvent event(const std::string& type, const std::string& actor, const PeerInfo& peer,
                     nlohmann::json details) {
    db::AuditEvent e;
    e.type = type;
    e.actor = actor;
    e.source = peer.address;
    details["source_port"] = peer.port;
    e.details = std::move(details);
    return e;
}

std::optional<db::Lock> refuseIfLocked(DbContext& ctx, const db::LockQuery& query,
                                       const std::string& account, const std::string& method,
                                       const PeerInfo& peer) {
    auto locks = db::Locks(ctx.db).matching(query, systemNow());
    if (locks.empty()) return std::nullopt;
    const auto& lock = locks.front();
    ctx.audit.record(event("auth.locked", account, peer,
                           {{"account", account},
                            {"method", method},
                            {"result", "failure"},
                            {"reason", db::lockKindName(lock.kind) + "_locked"},
                            {"lock_id", lock.id},
                            {"lock", lock.subject()},
                            {"lock_reason", lock.reason}}));
    return lock;
}

}  // namespace

std::optional<db::Lock> sourceLock(DbContext& ctx, const std::string& account,
                                   const std::string& method, const PeerInfo& peer) {
    return refuseIfLocked(ctx, {"", "", peer.address}, account, method, peer);
}

std::optional<db::Lock> accountLock(DbContext& ctx, const std::string& account,
                                    const std::string& method, const PeerInfo& peer) {
    return refuseIfLocked(ctx, {account, "", peer.address}, account, method, peer);
}

bool checkPublicKey(DbContext& ctx, const std::string& account, const std::string& blob,
                    const std::string& keyType, const std::string& fingerprint,
                    const PeerInfo& peer) {
    db::Accounts accounts(ctx.db);
    const bool registered = accounts.hasKey(account, blob);
    // A key held by several accounts (a store from before one key per account)
    // proves nobody in particular: refused, and said so in the chain.
    const char* why = registered                            ? "key_registered"
                      : accounts.keyOwners(blob).size() > 1 ? "key_shared"
                                                            : "key_not_registered";
    ctx.audit.record(event("auth.publickey", account, peer,
                           {{"account", account},
                            {"method", "publickey"},
                            {"result", registered ? "success" : "failure"},
                            {"reason", why},
                            {"key_type", keyType},
                            {"fingerprint", fingerprint}}));
    return registered;
}

db::OtpVerdict checkCode(DbContext& ctx, const std::string& account, const SecretBytes& code,
                         const PeerInfo& peer) {
    db::OtpGuard guard(ctx.db, ctx.masterKey, ctx.audit, ctx.guard);
    // The code is asked only once the account's key signed the request: a
    // proven first factor, so failures count towards the account's lock-out.
    // The throttle counts an IPv6 /64 as one source, as admission does; the
    // audit event keeps the exact address.
    const std::string block = sourceBlock(peer.address);
    const auto verdict = guard.verify(account, code.view(), db::OtpSource{block, peer.address},
                                      db::FirstFactor::proven, systemNow());
    const bool recovery = verdict.result == db::OtpResult::acceptedRecovery;
    ctx.audit.record(event(recovery ? "auth.recovery" : "auth.totp", account, peer,
                           {{"account", account},
                            {"method", "keyboard-interactive"},
                            {"result", verdict.accepted() ? "success" : "failure"},
                            {"reason", verdict.reason()}}));
    return verdict;
}

AccessOutcome decideAccess(DbContext& ctx, const db::AccessRequest& request,
                           const db::LimitCeiling& ceiling, const PeerInfo& peer) {
    AccessOutcome out;
    out.decision = db::Policy(ctx.db).decide(request, ceiling);
    if (out.decision.allowed) {
        auto target = db::Targets(ctx.db).find(request.target);
        if (target) {
            out.target = std::move(target).value();
        } else {
            out.decision.allowed = false;
            out.decision.reasons.push_back("target " + request.target + " is not defined");
        }
    }
    nlohmann::json details{
        {"account", request.account},
        {"login", out.decision.login.empty() ? request.login : out.decision.login},
        {"target", request.target},
        {"channel", db::channelName(request.channel)},
        {"allowed", out.decision.allowed},
        {"reasons", out.decision.reasons}};
    if (out.decision.grantId) details["grant_id"] = *out.decision.grantId;
    if (request.destination) details["destination"] = request.destination->toString();
    if (!out.decision.forwardPatterns.empty())
        details["allowed_destinations"] = out.decision.forwardPatterns;
    if (out.decision.lock) details["lock_id"] = out.decision.lock->id;
    ctx.audit.record(event("policy.decision", request.account, peer, std::move(details)));
    return out;
}

std::vector<std::string> reachableTargets(DbContext& ctx, const std::string& account) {
    db::Policy policy(ctx.db);
    auto shell = policy.reachableTargets(account, db::Channel::shell, systemNow());
    auto exec = policy.reachableTargets(account, db::Channel::exec, systemNow());
    shell.insert(shell.end(), exec.begin(), exec.end());
    std::sort(shell.begin(), shell.end());
    shell.erase(std::unique(shell.begin(), shell.end()), shell.end());
    return shell;
}

LiveVerdict recheckLive(DbContext& ctx, const LiveCheck& check, const db::LimitCeiling& ceiling) {
    // A lock ends what it concerns first, whatever else holds.
    const db::LockQuery query{check.account, check.session ? check.session->target : "",
                              check.address};
    if (auto locks = db::Locks(ctx.db).matching(query, systemNow()); !locks.empty()) {
        LiveVerdict locked;
        locked.reasons = {locks.front().denialReason()};
        locked.lock = locks.front();
        return locked;
    }
    db::Accounts accounts(ctx.db);
    const auto account = accounts.find(check.account);
    // A removed account (or one removed and added again under the same name)
    // is not the one that authenticated.
    if (!account || (check.accountId && account->id != *check.accountId))
        return {{"account " + check.account + " was removed"}, std::nullopt};
    if (!account->enabled) return {{"account " + check.account + " was disabled"}, std::nullopt};
    if (!accounts.hasKey(check.account, check.keyBlob))
        return {{"key " + check.keyFingerprint + " is no longer registered to " + check.account},
                std::nullopt};
    if (!account->totpEnrolled)
        return {{"the TOTP enrollment of " + check.account + " was reset"}, std::nullopt};
    if (!check.session) return {};

    LiveVerdict verdict;
    db::Policy policy(ctx.db);
    const auto& session = *check.session;
    // Each kind in use, and each open forward's destination.
    std::vector<db::AccessRequest> requests;
    for (const auto kind : session.channels) {
        db::AccessRequest request{check.account, session.login, session.target, kind, systemNow()};
        request.ongoing = true;  // a failure lock-out does not end a live session
        request.source = check.address;
        if (kind != db::Channel::forward || session.forwards.empty()) {
            requests.push_back(request);
            continue;
        }
        for (const auto& destination : session.forwards) {
            request.destination = destination;
            requests.push_back(request);
        }
    }
    for (const auto& request : requests) {
        auto decision = policy.decide(request, ceiling);
        if (decision.allowed) {
            if (!verdict.decision) verdict.decision = std::move(decision);
            continue;
        }
        // The reasons that concern this session: its own grant's, and any
        // about the account or target; not every other grant's.
        const std::string own =
            session.grantId ? "grant #" + std::to_string(*session.grantId) + ":" : "";
        for (const auto& r : decision.reasons) {
            if (r.rfind("grant #", 0) != 0 || (!own.empty() && r.rfind(own, 0) == 0))
                verdict.reasons.push_back(r);
        }
        // A revoked grant is no candidate any more, so gives no reason of its own.
        if (verdict.reasons.empty() && session.grantId) {
            const auto id = "grant #" + std::to_string(*session.grantId);
            if (auto g = db::Grants(ctx.db).find(*session.grantId); !g) {
                verdict.reasons.push_back(id + " was removed");
            } else if (g->revokedAt) {
                verdict.reasons.push_back(id + ": revoked at " + formatIso8601(*g->revokedAt) +
                                          (g->revokedBy.empty() ? "" : " by " + g->revokedBy));
            }
        }
        if (verdict.reasons.empty())
            verdict.reasons =
                decision.reasons.empty()
                    ? std::vector<std::string>{"no grant allows this session any more"}
                    : decision.reasons;
    }
    if (!verdict.reasons.empty()) verdict.decision.reset();
    return verdict;
}

void startSession(DbContext& ctx, const db::SessionStart& s, const std::string& channel) {
    db::Transaction tx(ctx.db);
    db::Sessions(ctx.db).insert(s);
    nlohmann::json details{{"session_id", s.id},
                           {"account", s.account},
                           {"login", s.login},
                           {"target", s.target},
                           {"channel", channel}};
    if (s.grantId) details["grant_id"] = *s.grantId;
    ctx.audit.record(tx, db::AuditEvent{"session.start", s.account, s.source, std::move(details)});
    tx.commit();
}

void endSession(DbContext& ctx, const db::SessionStart& s, const db::SessionEnd& e) {
    db::Transaction tx(ctx.db);
    db::Sessions(ctx.db).finish(s.id, e);
    ctx.audit.record(tx, db::AuditEvent{"session.end",
                                        s.account,
                                        s.source,
                                        {{"session_id", s.id},
                                         {"account", s.account},
                                         {"login", s.login},
                                         {"target", s.target},
                                         {"status", e.status},
                                         {"reason", e.reason},
                                         {"bytes_in", e.bytesIn},
                                         {"bytes_out", e.bytesOut},
                                         {"duration_s", (e.endedAt - s.startedAt).count()}}});
    tx.commit();
}

void auditEvent(DbContext& ctx, const std::string& type, const std::string& actor,
                const PeerInfo& peer, nlohmann::json details) {
    ctx.audit.record(event(type, actor, peer, std::move(details)));
}

void addRecording(DbContext& ctx, const db::RecordingRow& row) {
    db::Recordings(ctx.db).add(row);
}

void sealRecordingRow(DbContext& ctx, const std::string& account, const PeerInfo& peer,
                      const std::string& sessionId, int channel, const std::string& path,
                      const Result<SealedFile>& sealed) {
    db::Transaction tx(ctx.db);
    db::Recordings recordings(ctx.db);
    std::optional<std::int64_t> rowId;
    for (const auto& r : recordings.forSession(sessionId)) {
        if (r.channel == channel) rowId = r.id;
    }
    nlohmann::json details{
        {"account", account}, {"session_id", sessionId}, {"channel", channel}, {"path", path}};
    if (!sealed) {
        // Never created: nothing passed on this channel; the row says so.
        details["error"] = sealed.error();
        ctx.audit.record(tx, event("recording.failed", account, peer, std::move(details)));
        if (rowId) recordings.seal(*rowId, 0, "", systemNow());
        tx.commit();
        return;
    }
    if (rowId) {
        recordings.seal(*rowId, static_cast<std::int64_t>(sealed->size), sealed->sha256,
                        systemNow());
    }
    details["size"] = sealed->size;
    details["sha256"] = sealed->sha256;
    if (sealed->error) details["incomplete"] = *sealed->error;
    ctx.audit.record(tx, event("session.recording", account, peer, std::move(details)));
    tx.commit();
}

void auditRecordingCheckpoint(DbContext& ctx, const std::string& account, const PeerInfo& peer,
                              const std::string& sessionId, int channel, const std::string& path,
                              const FileCheckpoint& checkpoint) {
    ctx.audit.record(event("recording.checkpoint", account, peer,
                           {{"account", account},
                            {"session_id", sessionId},
                            {"channel", channel},
                            {"path", path},
                            {"size", checkpoint.size},
                            {"sha256", checkpoint.sha256}}));
}

namespace {

struct LastCheckpoint {
    std::int64_t eventId = 0;
    std::uint64_t size = 0;
    std::string sha256;
};

// The newest recording.checkpoint of each (session, channel) in the chain.
std::map<std::pair<std::string, int>, LastCheckpoint> lastCheckpoints(db::AuditLog& audit) {
    db::AuditFilter filter;
    filter.type = "recording.checkpoint";
    filter.limit = std::numeric_limits<int>::max();
    std::map<std::pair<std::string, int>, LastCheckpoint> last;
    for (const auto& r : audit.list(filter)) {  // oldest first
        const auto& d = r.event.details;
        if (!d.is_object() || !d.contains("session_id") || !d["session_id"].is_string() ||
            !d.contains("channel") || !d["channel"].is_number_integer() || !d.contains("size") ||
            !d["size"].is_number_unsigned() || !d.contains("sha256") || !d["sha256"].is_string())
            continue;
        last[{d["session_id"].get<std::string>(), d["channel"].get<int>()}] = {
            r.id, d["size"].get<std::uint64_t>(), d["sha256"].get<std::string>()};
    }
    return last;
}

// A stored path the gateway itself wrote: "recordings/NAME", nothing else.
bool recordingPathSafe(const std::string& path) {
    const std::filesystem::path p(path);
    if (p.is_absolute() || !path.starts_with("recordings/")) return false;
    for (const auto& part : p) {
        if (part == ".." || part == ".") return false;
    }
    return true;
}

}  // namespace

int reportLeftoverRecordings(DbContext& ctx, const std::filesystem::path& stateRoot) {
    db::Recordings recordings(ctx.db);
    const auto leftovers = recordings.unsealedOfEndedSessions();
    if (leftovers.empty()) return 0;
    const auto checkpoints = lastCheckpoints(ctx.audit);
    int reported = 0;
    for (const auto& r : leftovers) {
        nlohmann::json details{{"session_id", r.sessionId},
                               {"channel", r.channel},
                               {"path", r.path},
                               {"found_at", "start-up"}};
        const auto file = stateRoot / r.path;
        std::optional<recording::FileDigest> found;
        if (!recordingPathSafe(r.path)) {
            details["error"] = "the stored path leaves the recordings directory";
        } else if (auto digest = recording::digestFile(file)) {
            found = *digest;
            details["size"] = digest->size;
        } else {
            details["error"] = digest.error();
        }
        const auto it = checkpoints.find({r.sessionId, r.channel});
        if (it == checkpoints.end()) {
            details["checkpoint"] = nullptr;
            details["prefix_matches"] = false;
            details["problem"] = "no checkpoint: nothing of it can be verified";
        } else {
            const auto& cp = it->second;
            details["checkpoint"] = {
                {"event_id", cp.eventId}, {"size", cp.size}, {"sha256", cp.sha256}};
            bool matches = false;
            if (found && found->size >= cp.size) {
                const auto prefix = recording::digestFilePrefix(file, cp.size);
                matches = prefix && prefix->sha256 == cp.sha256;
                if (!matches) details["problem"] = "differs from its last checkpoint";
                details["unverifiable_bytes"] = found->size - cp.size;
            } else if (found) {
                details["problem"] = "shorter than its last checkpoint";
            } else {
                details["problem"] = "the file cannot be read";
            }
            details["prefix_matches"] = matches;
        }
        db::Transaction tx(ctx.db);
        recordings.markEnded(r.id, systemNow());
        ctx.audit.record(tx, db::AuditEvent{"recording.unsealed", "portcullisd", "", details});
        tx.commit();
        ++reported;
    }
    return reported;
}

void auditSftpOperation(DbContext& ctx, const std::string& account, const PeerInfo& peer,
                        const std::string& sessionId, int channel,
                        const recording::SftpOperation& op) {
    nlohmann::json details{
        {"account", account}, {"session_id", sessionId},           {"channel", channel},
        {"path", op.path},    {"result", op.ok ? "ok" : "failed"}, {"status", op.status}};
    if (!op.path2.empty()) details["new_path"] = op.path2;
    if (!op.flags.empty()) details["flags"] = op.flags;
    if (op.op == "close") {
        details["bytes_read"] = op.bytesRead;
        details["bytes_written"] = op.bytesWritten;
    }
    ctx.audit.record(event("sftp." + op.op, account, peer, std::move(details)));
}

}  // namespace portcullis::gateway
