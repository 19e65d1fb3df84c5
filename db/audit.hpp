#pragma once
// The audit chain (SPEC §7): the one place audit events are written.
// Each event is a row in audit_events whose hash is SHA-256 over its canonical
// JSON (keys sorted, no spaces, prev_hash included), chaining every row to the
// one before. After the transaction commits, the same JSON line is appended to
// audit.log, and a copy made for SIEMs is sent to syslog (db/syslog.hpp).
//
// Event types used across Portcullis (dot-separated, noun.verb):
//   auth.publickey auth.totp auth.recovery  (login attempts, result in details)
//   account.locked  source.throttled  policy.decision  session.start session.end
//   session.expired session.kill  session.recording recording.checkpoint  pam.auth
//   audit.checkpoint (syslog)  admin.<object>.<verb> (admin.user.add, admin.grant.add, ...)
//   auth.locked session.locked connection.locked (locks)  forward.refused
// No secret (code, TOTP secret, recovery code, key material) may appear in
// details; record() refuses a details object with a key named like one
// ("code", "secret", "password", "recovery_code", "otp", "private_key").
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.hpp"
#include "common/time_format.hpp"
#include "db/database.hpp"
#include "db/syslog.hpp"

namespace portcullis::db {

class StateDir;

struct AuditEvent {
    std::string type;    // "admin.user.add"
    std::string actor;   // operator (CLI), account (gateway/PAM), or "portcullisd"
    std::string source;  // client address where there is one
    nlohmann::json details = nlohmann::json::object();
};

struct AuditRecord {
    std::int64_t id = 0;
    std::int64_t tsMicros = 0;  // Unix time in microseconds
    AuditEvent event;
    std::string prevHash;
    std::string hash;
    nlohmann::json toJson() const;  // the canonical object (what is hashed, plus "hash")
};

struct AuditFilter {
    std::optional<TimePoint> since;
    std::optional<std::string> type;  // exact, or a prefix ending in '.' or '*' ("session.*")
    std::optional<std::string> user;  // actor or details.account
    std::optional<std::int64_t> afterId;
    int limit = 100;  // newest `limit` events, returned oldest first
};

// The newest event of the chain: what the gateway's `audit.checkpoint` syslog
// messages carry and `portcullis audit head` prints. An empty chain is id 0
// with the genesis hash (64 zeros).
struct AuditHead {
    std::int64_t id = 0;
    std::string hash;
};

// An anchor kept outside the store (a SIEM's copy of an `audit.checkpoint`):
// row `id` must still be there with this hash.
struct AuditAnchor {
    std::int64_t id = 0;
    std::string hash;  // 64 lower-case hex digits
};
// "ID:HASH" as `audit verify --anchor` takes it.
Result<AuditAnchor> parseAuditAnchor(std::string_view text);

struct AuditProblem {
    std::optional<std::int64_t> id;  // the (first) event it is about, if any
    std::string text;                // "event 17: hash mismatch (row edited)"
};

struct AuditVerifyReport {
    std::int64_t checked = 0;
    std::vector<AuditProblem> problems;
    // The mirror: which files were read and which events they hold.
    std::vector<std::string> mirrorFiles;
    std::optional<std::int64_t> mirrorFirst;
    std::optional<std::int64_t> mirrorLast;
    bool ok() const { return problems.empty(); }
};

// Canonical JSON: sorted keys, no insignificant whitespace, UTF-8.
std::string canonicalJson(const nlohmann::json& value);

class AuditLog {
  public:
    // mirrorDir: the state directory whose audit.log receives JSON lines;
    // syslog: also send each event to syslog through a sink of its own on
    // /dev/log (off in unit tests).
    AuditLog(Database& db, const StateDir* mirrorDir, bool syslog = true);
    // The same with a sink shared by several AuditLogs (the gateway's store
    // workers: dropped copies counted once); null sends nothing.
    AuditLog(Database& db, const StateDir* mirrorDir, std::shared_ptr<SyslogSink> syslog);

    // Appends within the caller's transaction; mirrored after it commits.
    std::int64_t record(Transaction& tx, const AuditEvent& event);
    // Appends in a transaction of its own.
    std::int64_t record(const AuditEvent& event);

    std::vector<AuditRecord> list(const AuditFilter& filter);
    AuditHead head();
    // The distinct event types in the chain (audit list --type checks a typo).
    std::vector<std::string> types();
    // The chain (every row's hash and link), the anchors, and, with a mirror
    // directory, the chain against audit.log in both directions (SPEC §15):
    // audit.log missing, unreadable or with lines that do not parse; a row
    // missing from it, a line whose row is missing or differs; last ids that
    // differ. Rows older than the oldest line found (audit.log and its
    // uncompressed rotated copies) are not required to have one: a rotation
    // that compressed or removed old copies took them.
    AuditVerifyReport verify(const std::vector<AuditAnchor>& anchors = {});

  private:
    Database& db_;
    const StateDir* mirrorDir_;
    std::shared_ptr<SyslogSink> syslog_;
};

}  // namespace portcullis::db
