#pragma once
// The store work the gateway does, each run on a DbPool worker: the checks
// behind the two authentication factors, the access decision, and the
// session rows and audit events. Each writes its audit event itself, before
// the caller replies to the client (SPEC §7: one call site per kind of event).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/secret_bytes.hpp"
#include "db/locks.hpp"
#include "db/otp_guard.hpp"
#include "db/policy.hpp"
#include "db/recordings.hpp"
#include "db/sessions.hpp"
#include "db/targets.hpp"
#include "gateway/db_pool.hpp"
#include "gateway/recording_writer.hpp"
#include "recording/sftp_inspector.hpp"

namespace portcullis::gateway {

struct PeerInfo {
    std::string address;  // IP only (throttling is per address)
    int port = 0;
};

// Locks (SPEC §16): the lock that refuses this source (before any factor),
// or this account or source (once the key is proven), if any; a refusal is
// audited as auth.locked (method: the request's method).
std::optional<db::Lock> sourceLock(DbContext& ctx, const std::string& account,
                                   const std::string& method, const PeerInfo& peer);
std::optional<db::Lock> accountLock(DbContext& ctx, const std::string& account,
                                    const std::string& method, const PeerInfo& peer);

// Publickey factor: is this (signature-verified) key registered to the account?
// Audits auth.publickey. Unknown accounts simply have no keys.
bool checkPublicKey(DbContext& ctx, const std::string& account, const std::string& blob,
                    const std::string& keyType, const std::string& fingerprint,
                    const PeerInfo& peer);

// Second factor: TOTP or recovery code through the shared OtpGuard.
// Audits auth.totp (auth.recovery when a recovery code was accepted).
db::OtpVerdict checkCode(DbContext& ctx, const std::string& account, const SecretBytes& code,
                         const PeerInfo& peer);

struct AccessOutcome {
    db::Decision decision;
    std::optional<db::Target> target;    // when allowed
    std::vector<std::string> reachable;  // when no target was named
    bool storeError = false;
};

// Policy decision for one channel; audits policy.decision.
AccessOutcome decideAccess(DbContext& ctx, const db::AccessRequest& request,
                           const db::LimitCeiling& ceiling, const PeerInfo& peer);
// The menu substitute: targets reachable now (shell and exec).
std::vector<std::string> reachableTargets(DbContext& ctx, const std::string& account);

// What a live connection is re-checked against (SPEC §5): its account and the
// key that passed its first factor, and the live session's decision, if any.
struct LiveCheck {
    std::string account;
    std::string address;                    // the client's (source locks)
    std::optional<std::int64_t> accountId;  // the account that authenticated
    std::string keyBlob;
    std::string keyFingerprint;
    struct Session {
        std::string login;
        std::string target;
        std::vector<db::Channel> channels;           // every kind in use
        std::optional<std::int64_t> grantId;         // the grant that governs it now
        std::vector<ForwardDestination> forwards{};  // destinations of open forwards
    };
    std::optional<Session> session;
};
struct LiveVerdict {
    // Why the connection may not go on (empty: it may), naming only what
    // concerns it: the account, or the governing grant's own reasons.
    std::vector<std::string> reasons;
    // The session's decision again (when it may go on): its governing grant
    // and limits now, which may differ after grants were added or revoked.
    std::optional<db::Decision> decision;
    // An administrator's lock ends it (reasons then hold its denial).
    std::optional<db::Lock> lock{};
};
// Throws db::Error when the store fails (the caller retries, then fails closed).
LiveVerdict recheckLive(DbContext& ctx, const LiveCheck& check, const db::LimitCeiling& ceiling);

void startSession(DbContext& ctx, const db::SessionStart& start, const std::string& channel);
void endSession(DbContext& ctx, const db::SessionStart& start, const db::SessionEnd& end);

// Recordings (SPEC §6): the row when the file is created; at close its size
// and SHA-256 on the row and in the audit chain (session.recording), or
// recording.failed when the file could not be created.
void addRecording(DbContext& ctx, const db::RecordingRow& row);
void sealRecordingRow(DbContext& ctx, const std::string& account, const PeerInfo& peer,
                      const std::string& sessionId, int channel, const std::string& path,
                      const Result<SealedFile>& sealed);
// While a recording is written: its size and running SHA-256 as
// `recording.checkpoint` (SPEC §15).
void auditRecordingCheckpoint(DbContext& ctx, const std::string& account, const PeerInfo& peer,
                              const std::string& sessionId, int channel, const std::string& path,
                              const FileCheckpoint& checkpoint);
// At start-up: recordings of sessions that are no longer active but were
// never sealed (a crash). They are NOT sealed as found (an edit made while the
// gateway was down would be blessed): the row keeps no hash and gets its end
// time, and `recording.unsealed` says what was found against the last
// checkpoint. Returns how many.
int reportLeftoverRecordings(DbContext& ctx, const std::filesystem::path& stateRoot);
// One SFTP file operation as `sftp.<op>` (session and channel, path, flags,
// bytes, result): what `portcullis session show` lists for the channel.
void auditSftpOperation(DbContext& ctx, const std::string& account, const PeerInfo& peer,
                        const std::string& sessionId, int channel,
                        const recording::SftpOperation& op);

// Any other gateway event (upstream.hostkey_mismatch, flow.window_violation, ...).
void auditEvent(DbContext& ctx, const std::string& type, const std::string& actor,
                const PeerInfo& peer, nlohmann::json details);

}  // namespace portcullis::gateway
