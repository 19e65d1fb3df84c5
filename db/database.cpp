#include "db/database.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <system_error>

#include "db/schema.hpp"
#include "db/state_dir.hpp"

namespace portcullis::db {
namespace {

std::string sqliteMessage(sqlite3* db, int rc) {
    return db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
}

// An empty file is an empty SQLite database. Another process that created it
// first (EEXIST) is fine: it is then that process's new store.
Result<void> createEmptyFile(const std::filesystem::path& file) {
    const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        if (errno == EEXIST) return {};
        return makeError("cannot create database " + file.string() + ": " + std::strerror(errno));
    }
    ::close(fd);
    return {};
}

}  // namespace

Result<Database> Database::openFile(const std::filesystem::path& file, const OpenOptions& options) {
    std::error_code ec;
    if (!options.create && !std::filesystem::exists(file, ec)) {
        return makeError("no Portcullis store at " + file.string() +
                         " (run `portcullis init` first, or pass --state-dir)");
    }
    sqlite3* raw = nullptr;
    const int flags =
        SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (options.create ? SQLITE_OPEN_CREATE : 0);
    const int rc = sqlite3_open_v2(file.c_str(), &raw, flags, nullptr);
    SqlitePtr handle(raw);
    if (rc != SQLITE_OK) {
        return makeError("cannot open database " + file.string() + ": " + sqliteMessage(raw, rc));
    }
    sqlite3_extended_result_codes(raw, 1);
    sqlite3_busy_timeout(raw, static_cast<int>(options.busyTimeout.count()));
    Database db(std::move(handle));
    try {
        // The first read fails with SQLITE_NOTADB on a damaged or non-SQLite file.
        db.exec("PRAGMA foreign_keys = ON");
        {
            // Finished before migrate(): an unfinished statement blocks COMMIT.
            auto mode = db.prepare("PRAGMA journal_mode = WAL");
            if (!mode.step() || mode.text(0) != "wal") {
                return makeError("database " + file.string() + " cannot use WAL mode");
            }
        }
        db.exec("PRAGMA synchronous = NORMAL");
        db.exec("PRAGMA secure_delete = ON");  // deleted secrets do not linger in free pages
        if (auto r = migrate(db); !r) return makeError(file.string() + ": " + r.error());
    } catch (const Error& e) {
        return makeError("cannot use database " + file.string() + ": " + e.what());
    }
    return db;
}

Result<Database> Database::open(const StateDir& dir, const OpenOptions& options) {
    if (!options.create) {
        if (auto r = dir.checkPermissions(); !r) return makeError(r.error());
    }
    const auto file = dir.database();
    std::error_code ec;
    const bool existed = std::filesystem::exists(file, ec);
    if (!existed && options.create) {
        // New store: the (empty) database file is made 0600 with the directory's
        // owner before SQLite opens it, because SQLite gives the -wal and -shm
        // files it creates the database file's mode and owner; made by SQLite,
        // the file would be 0644 & ~umask while the first writes reach the -wal.
        if (auto r = createEmptyFile(file); !r) return makeError(r.error());
        if (auto r = dir.adopt(file, 0600); !r) return makeError(r.error());
    }
    return openFile(file, options);
}

Statement Database::prepare(std::string_view sql) {
    sqlite3_stmt* raw = nullptr;
    const int rc =
        sqlite3_prepare_v2(db_.get(), sql.data(), static_cast<int>(sql.size()), &raw, nullptr);
    StmtPtr stmt(raw);
    if (rc != SQLITE_OK) throwStoreError(rc, std::string("database: ") + sqlite3_errmsg(db_.get()));
    return Statement(db_.get(), std::move(stmt));
}

void Database::exec(std::string_view sql) {
    const std::string text(sql);
    char* err = nullptr;
    const int rc = sqlite3_exec(db_.get(), text.c_str(), nullptr, nullptr, &err);
    if (rc != SQLITE_OK) {
        std::string message = std::string("database: ") + (err ? err : sqlite3_errstr(rc));
        sqlite3_free(err);
        throwStoreError(rc, message);
    }
}

std::int64_t Database::lastInsertId() const {
    return sqlite3_last_insert_rowid(db_.get());
}
int Database::changes() const {
    return sqlite3_changes(db_.get());
}

int Database::schemaVersion() {
    auto st = prepare("PRAGMA user_version");
    st.step();
    return static_cast<int>(st.int64(0));
}

Transaction::Transaction(Database& db) : db_(db), outer_(db.active_) {
    db_.exec(outer_ ? "SAVEPOINT nested" : "BEGIN IMMEDIATE");
    db_.active_ = this;
}

Transaction::~Transaction() {
    if (!done_) {
        // Rollback cannot usefully fail here; a failed rollback leaves SQLite
        // to roll back when the connection closes.
        const char* sql = outer_ ? "ROLLBACK TO nested; RELEASE nested" : "ROLLBACK";
        sqlite3_exec(db_.handle(), sql, nullptr, nullptr, nullptr);
    }
    finish();
}

void Transaction::finish() {
    done_ = true;
    db_.active_ = outer_;
}

void Transaction::commit() {
    if (outer_) {
        db_.exec("RELEASE nested");
        finish();
        for (auto& hook : hooks_) outer_->hooks_.push_back(std::move(hook));
        hooks_.clear();
        return;
    }
    db_.exec("COMMIT");
    finish();
    for (auto& hook : hooks_) hook();
    hooks_.clear();
}

}  // namespace portcullis::db
