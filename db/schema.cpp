#include "db/schema.hpp"

#include <array>
#include <string>

namespace portcullis::db {
namespace {

// Each entry takes the schema from version i to i+1. Never edit a released
// entry: append a new one. Times are Unix seconds (UTC) unless named *_us.
constexpr std::array kMigrations = {
    R"SQL(
CREATE TABLE accounts (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    full_name     TEXT NOT NULL DEFAULT '',
    email         TEXT NOT NULL DEFAULT '',
    enabled       INTEGER NOT NULL DEFAULT 1,
    created_at    INTEGER NOT NULL,
    -- lock-out: consecutive failed codes, and until when the account is locked
    failures      INTEGER NOT NULL DEFAULT 0,
    locked_until  INTEGER
);

CREATE TABLE ssh_keys (
    id           INTEGER PRIMARY KEY,
    account_id   INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    type         TEXT NOT NULL,
    blob         BLOB NOT NULL,
    fingerprint  TEXT NOT NULL,
    comment      TEXT NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    UNIQUE (account_id, fingerprint)
);
CREATE INDEX ssh_keys_by_fingerprint ON ssh_keys(fingerprint);

-- TOTP secret sealed with master.key (AES-256-GCM: nonce | ciphertext | tag),
-- bound to the account id as associated data. last_step: the newest time step
-- accepted, never accepted again (replay).
CREATE TABLE totp (
    account_id   INTEGER PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
    sealed       BLOB NOT NULL,
    enrolled_at  INTEGER NOT NULL,
    last_step    INTEGER
);

-- One-time recovery codes, stored only as salted PBKDF2-HMAC-SHA256 hashes.
CREATE TABLE recovery_codes (
    id          INTEGER PRIMARY KEY,
    account_id  INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    salt        BLOB NOT NULL,
    hash        BLOB NOT NULL,
    used_at     INTEGER
);

-- Failed codes per source address within a sliding window (throttling).
CREATE TABLE source_failures (
    source        TEXT PRIMARY KEY,
    failures      INTEGER NOT NULL,
    window_start  INTEGER NOT NULL
);

CREATE TABLE groups (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL
);
CREATE TABLE group_members (
    group_id    INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
    account_id  INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, account_id)
);

CREATE TABLE targets (
    id             INTEGER PRIMARY KEY,
    name           TEXT NOT NULL UNIQUE,
    host           TEXT NOT NULL,
    port           INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),
    default_login  TEXT NOT NULL,
    host_key       TEXT NOT NULL,   -- pinned "TYPE BASE64"
    created_at     INTEGER NOT NULL
);

-- subject: an account name or "@group"; target_pattern: a name or a glob.
-- logins / channels: comma-separated ("" logins = the target's default login).
CREATE TABLE grants (
    id              INTEGER PRIMARY KEY,
    subject         TEXT NOT NULL,
    target_pattern  TEXT NOT NULL,
    logins          TEXT NOT NULL DEFAULT '',
    channels        TEXT NOT NULL DEFAULT 'shell,exec',
    max_session     INTEGER NOT NULL,
    idle_timeout    INTEGER NOT NULL,
    time_window     TEXT,
    expires_at      INTEGER,
    reason          TEXT NOT NULL DEFAULT '',
    created_by      TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    revoked_at      INTEGER,
    revoked_by      TEXT
);

CREATE TABLE sessions (
    id            TEXT PRIMARY KEY,
    account       TEXT NOT NULL,
    login         TEXT NOT NULL,
    target        TEXT NOT NULL,
    grant_id      INTEGER,
    source        TEXT NOT NULL,
    gateway       TEXT NOT NULL DEFAULT '',
    started_at    INTEGER NOT NULL,
    ended_at      INTEGER,
    status        TEXT NOT NULL DEFAULT 'active',  -- active, closed, expired, killed, idle, revoked, aborted, failed
    end_reason    TEXT NOT NULL DEFAULT '',
    bytes_in      INTEGER NOT NULL DEFAULT 0,
    bytes_out     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX sessions_by_start ON sessions(started_at);

-- One recording file per channel (SPEC §6).
CREATE TABLE recordings (
    id          INTEGER PRIMARY KEY,
    session_id  TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    channel     INTEGER NOT NULL,
    kind        TEXT NOT NULL,    -- shell, exec, sftp, forward
    format      TEXT NOT NULL,    -- cast, rec
    path        TEXT NOT NULL,
    started_at  INTEGER NOT NULL,
    ended_at    INTEGER,
    size        INTEGER,
    sha256      TEXT,
    UNIQUE (session_id, channel)
);

-- The audit chain: hash = SHA-256(canonical JSON of the row, prev_hash included).
CREATE TABLE audit_events (
    id         INTEGER PRIMARY KEY,
    ts_us      INTEGER NOT NULL,
    type       TEXT NOT NULL,
    actor      TEXT NOT NULL,
    source     TEXT NOT NULL DEFAULT '',
    details    TEXT NOT NULL,    -- canonical JSON object
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL
);
CREATE INDEX audit_by_type ON audit_events(type);
)SQL",
    // 2: failures without a proven first factor (the PAM module) back off their
    // source instead of locking the account (issue 12, finding 3): consecutive
    // such failures, the last one, and until when the source is refused; and
    // which existing accounts were tried from a source, so that `user unlock`
    // can clear the throttles an account is involved in.
    R"SQL(
ALTER TABLE source_failures ADD COLUMN unproven INTEGER NOT NULL DEFAULT 0;
ALTER TABLE source_failures ADD COLUMN last_failure INTEGER;
ALTER TABLE source_failures ADD COLUMN blocked_until INTEGER;
CREATE TABLE source_failure_accounts (
    source   TEXT NOT NULL REFERENCES source_failures(source) ON DELETE CASCADE,
    account  TEXT NOT NULL,
    last_at  INTEGER NOT NULL,
    PRIMARY KEY (source, account)
);
CREATE INDEX source_failure_accounts_by_account ON source_failure_accounts(account);
)SQL",
    // 3: locks for incident response (issue 13, SPEC §16): a user, a target or
    // a source range (canonical CIDR) is refused until the lock expires or is
    // removed; and the destinations a forward grant allows ("HOST:PORT"
    // patterns, comma-separated; "" = any destination).
    R"SQL(
CREATE TABLE locks (
    id          INTEGER PRIMARY KEY,
    kind        TEXT NOT NULL CHECK (kind IN ('user', 'target', 'source')),
    value       TEXT NOT NULL,
    reason      TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER,
    removed_at  INTEGER,
    removed_by  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX locks_by_kind ON locks(kind, value);
ALTER TABLE grants ADD COLUMN forward_to TEXT NOT NULL DEFAULT '';
)SQL",
};

}  // namespace

int currentSchemaVersion() {
    return static_cast<int>(kMigrations.size());
}

Result<void> migrate(Database& db) {
    auto pragmaInt = [&](const char* sql) {
        auto st = db.prepare(sql);
        st.step();
        return st.int64(0);
    };
    const auto appId = pragmaInt("PRAGMA application_id");
    const auto version = static_cast<int>(pragmaInt("PRAGMA user_version"));
    if (appId != kApplicationId) {
        const auto objects = pragmaInt("SELECT count(*) FROM sqlite_master");
        if (appId != 0 || objects != 0) {
            return makeError("not a Portcullis database (foreign SQLite file)");
        }
    }
    if (version > currentSchemaVersion()) {
        return makeError("database schema version " + std::to_string(version) +
                         " is newer than this program knows (" +
                         std::to_string(currentSchemaVersion()) +
                         "); upgrade Portcullis before using this store");
    }
    if (version == currentSchemaVersion()) return {};

    Transaction tx(db);
    // Another process may have migrated while we waited for the write lock.
    const auto lockedVersion = static_cast<int>(pragmaInt("PRAGMA user_version"));
    for (int v = lockedVersion; v < currentSchemaVersion(); ++v) {
        db.exec(kMigrations[static_cast<std::size_t>(v)]);
    }
    db.exec("PRAGMA application_id = " + std::to_string(kApplicationId));
    db.exec("PRAGMA user_version = " + std::to_string(currentSchemaVersion()));
    tx.commit();
    return {};
}

}  // namespace portcullis::db
