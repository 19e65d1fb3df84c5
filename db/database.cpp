#include "db/database.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
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

// A file: URI for a path ('%', '?' and '#' escaped, and anything not printable).
std::string fileUri(const std::filesystem::path& file) {
    const std::string path = std::filesystem::absolute(file).string();
    std::string uri = "file:";
    constexpr char kHex[] = "0123456789ABCDEF";
    for (const char c : path) {
        const auto byte = static_cast<unsigned char>(c);
        if (c == '%' || c == '?' || c == '#' || byte < 0x21 || byte > 0x7e) {
            uri += '%';
            uri += kHex[byte >> 4];
            uri += kHex[byte & 0xf];
        } else {
            uri += c;
        }
    }
    return uri;
}

// The first read of a read-only connection: SQLITE_CANTOPEN when the WAL
// index (-shm) can be neither used nor created.
int probe(sqlite3* db) {
    return sqlite3_exec(db, "PRAGMA user_version", nullptr, nullptr, nullptr);
}

std::uintmax_t walBytes(const std::filesystem::path& file) {
    std::error_code ec;
    const auto size = std::filesystem::file_size(file.string() + "-wal", ec);
    return ec ? 0 : size;
}

// The store's schema as it is: a read-only connection cannot migrate it.
Result<void> checkSchema(Database& db) {
    auto pragmaInt = [&](const char* sql) {
        auto st = db.prepare(sql);
        st.step();
        return st.int64(0);
    };
    if (pragmaInt("PRAGMA application_id") != kApplicationId) {
        return makeError("not a Portcullis database (foreign or empty SQLite file)");
    }
    const auto version = static_cast<int>(pragmaInt("PRAGMA user_version"));
    if (version > currentSchemaVersion()) {
        return makeError("database schema version " + std::to_string(version) +
                         " is newer than this program knows (" +
                         std::to_string(currentSchemaVersion()) +
                         "); read it with the Portcullis version that wrote it");
    }
    if (version < currentSchemaVersion()) {
        return makeError("database schema version " + std::to_string(version) +
                         " is older than this program's (" +
                         std::to_string(currentSchemaVersion()) +
                         "), and a read-only command does not upgrade it: read it with the "
                         "Portcullis version that wrote it, or run a change on the live store "
                         "first");
    }
    return {};
}

// A change needs a writable store: on a read-only file system (an evidence
// snapshot) SQLite would only fail later, as "unable to open database file".
Result<void> requireWritable(const StateDir& dir) {
    struct statvfs fs {};
    if (::statvfs(dir.root().c_str(), &fs) == 0 && (fs.f_flag & ST_RDONLY) != 0) {
        return makeError("the store " + dir.root().string() +
                         " is on a read-only file system, and this command changes it: run "
                         "it on the live store (the review commands, such as audit verify "
                         "and session list, show, export or verify, read a read-only copy)");
    }
    return {};
}

}  // namespace

Result<Database> Database::openReadOnly(const std::filesystem::path& file,
                                        const OpenOptions& options) {
    const std::string uri = fileUri(file);
    bool immutable = false;
    for (;;) {
        sqlite3* raw = nullptr;
        const std::string name = uri + (immutable ? "?immutable=1" : "?mode=ro");
        const int rc =
            sqlite3_open_v2(name.c_str(), &raw,
                            SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX, nullptr);
        SqlitePtr handle(raw);
        if (rc != SQLITE_OK) {
            return makeError("cannot open database " + file.string() + ": " +
                             sqliteMessage(raw, rc));
        }
        sqlite3_extended_result_codes(raw, 1);
        sqlite3_busy_timeout(raw, static_cast<int>(options.busyTimeout.count()));
        const int probed = probe(raw);
        if ((probed & 0xff) == SQLITE_CANTOPEN && !immutable) {
            // No -shm and none can be made: a read-only medium (or directory).
            if (const auto wal = walBytes(file); wal > 0) {
                return makeError(
                    "cannot read " + file.string() + " on a read-only file system: its -wal (" +
                    std::to_string(wal) +
                    " bytes, events not yet in the database file) needs a -shm file that "
                    "cannot be created there; copy the state directory to a writable place "
                    "(cp -a) and run the command on the copy");
            }
            immutable = true;  // the database file alone is the whole store
            continue;
        }
        if (probed != SQLITE_OK) {
            return makeError("cannot use database " + file.string() + ": " +
                             sqliteMessage(raw, probed));
        }
        Database db(std::move(handle));
        try {
            if (auto r = checkSchema(db); !r) return makeError(file.string() + ": " + r.error());
        } catch (const Error& e) {
            return makeError("cannot use database " + file.string() + ": " + e.what());
        }
        return db;
    }
}

Result<Database> Database::openFile(const std::filesystem::path& file, const OpenOptions& options) {
    std::error_code ec;
    if (!options.create && !std::filesystem::exists(file, ec)) {
        return makeError("no Portcullis store at " + file.string() +
                         " (run `portcullis init` first, or pass --state-dir)");
    }
    if (options.readOnly && !options.create) return openReadOnly(file, options);
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
    if (!options.readOnly) {
        if (auto r = requireWritable(dir); !r) return makeError(r.error());
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
