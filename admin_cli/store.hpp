#pragma once
// Store: the opened Portcullis store a command works on (state directory,
// database, audit chain), and the one way commands write admin audit events.
// Opening refuses a missing, damaged, foreign or world-readable store with a
// Failure that says what to do.
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "admin_cli/command.hpp"
#include "db/audit.hpp"
#include "db/database.hpp"
#include "db/master_key.hpp"
#include "db/state_dir.hpp"

namespace portcullis::cli {

// The state directory named by --state-dir, $PORTCULLIS_STATE_DIR or the default.
db::StateDir resolveStateDir(const Globals& globals);

class Store {
  public:
    // Access::read opens the database read-only (never migrated), so that the
    // review commands work on an evidence snapshot on read-only media.
    // Access::change opens one write transaction for the whole command: the
    // change and its audit event (recordChange) commit together, or neither.
    enum class Access { read, change };
    explicit Store(const Globals& globals, Access access = Access::read);
    // For `init`: a store whose directory and database were just created.
    Store(db::StateDir dir, db::Database db);
    Store(const Store&) = delete;
    Store& operator=(const Store&) = delete;

    const db::StateDir& dir() const { return dir_; }
    db::Database& db() { return db_; }
    db::AuditLog& audit() { return audit_; }
    // master.key, refused when missing, unreadable or open to others.
    db::MasterKey masterKey() const;

    // Records an admin change (type "admin.<object>.<verb>") with the operator
    // as actor and commits the command's transaction. Never pass secrets in details.
    std::int64_t recordChange(const std::string& type, nlohmann::json details);
    // Records a further event of the same change (a grant revoked because its
    // account was removed) without committing: recordChange commits them all.
    std::int64_t recordAlso(const std::string& type, nlohmann::json details);

  private:
    db::StateDir dir_;
    db::Database db_;
    db::AuditLog audit_;
    std::optional<db::Transaction> change_;  // rolled back unless recordChange commits it
};

}  // namespace portcullis::cli
