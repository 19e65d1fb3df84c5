#pragma once
// Database: one SQLite connection to portcullis.db, opened in WAL mode with a
// busy timeout and foreign keys, its schema migrated to the version this binary
// knows (a newer schema or a foreign file is refused).
//
// Errors from SQLite itself (I/O, corruption, a lock held too long) throw
// db::Error; callers at a boundary (CLI main, PAM entry point, gateway worker)
// catch it and fail closed.
#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"
#include "db/error.hpp"
#include "db/sqlite_handles.hpp"
#include "db/statement.hpp"

namespace portcullis::db {

class StateDir;

struct OpenOptions {
    bool create = false;  // only `portcullis init` creates a store
    // For commands that only read (audit verify, session list, ...): the
    // store is opened read-only and never migrated, so that they work on an
    // evidence snapshot on read-only media (see openFile). Without it, a
    // store on a read-only file system is refused saying so.
    bool readOnly = false;
    std::chrono::milliseconds busyTimeout{5000};
};

class Transaction;

class Database {
  public:
    static Result<Database> open(const StateDir& dir, const OpenOptions& options = {});
    // For tests and tools: a file path, created if options.create.
    // Read-only, a WAL store is opened with mode=ro, which reads the -wal
    // through the -shm (using or creating it); where the -shm can be neither
    // (a read-only medium without one), with immutable=1 when there is no
    // -wal to lose, and refused when a -wal with events in it would be
    // ignored (copy the snapshot to a writable place then).
    static Result<Database> openFile(const std::filesystem::path& file,
                                     const OpenOptions& options = {});

    Database(Database&&) noexcept = default;
    Database& operator=(Database&&) noexcept = default;

    Statement prepare(std::string_view sql);
    void exec(std::string_view sql);  // statements without parameters only
    std::int64_t lastInsertId() const;
    int changes() const;
    int schemaVersion();
    sqlite3* handle() const { return db_.get(); }

  private:
    friend class Transaction;
    explicit Database(SqlitePtr db) : db_(std::move(db)) {}
    static Result<Database> openReadOnly(const std::filesystem::path& file,
                                         const OpenOptions& options);
    SqlitePtr db_;
    Transaction* active_ = nullptr;  // the innermost open transaction
};

// Transaction: BEGIN IMMEDIATE (takes the write lock at once, so a
// read-check-write sequence such as TOTP replay checking is atomic across
// processes). Rolls back unless commit() is called. Hooks registered with
// onCommit run after a successful COMMIT (used to mirror audit events).
// Opened while another is active on the same connection, it is a SAVEPOINT
// inside it: its commit releases the savepoint and hands its hooks to the
// outer transaction, so a change and its audit event commit together.
class Transaction {
  public:
    explicit Transaction(Database& db);
    ~Transaction();
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;

    void commit();
    void onCommit(std::function<void()> hook) { hooks_.push_back(std::move(hook)); }
    Database& db() { return db_; }

  private:
    void finish();
    Database& db_;
    Transaction* outer_;
    bool done_ = false;
    std::vector<std::function<void()>> hooks_;
};

}  // namespace portcullis::db
