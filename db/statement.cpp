#include "db/statement.hpp"

#include <string>

namespace portcullis::db {
namespace {

[[noreturn]] void fail(sqlite3* db, int rc) {
    throwStoreError(rc, std::string("database: ") + sqlite3_errmsg(db));
}

}  // namespace

void throwStoreError(int rc, const std::string& message) {
    switch (rc & 0xff) {
        case SQLITE_CONSTRAINT:
            throw ConstraintError(message);
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
            throw BusyError(message);
        case SQLITE_FULL:
            throw FullError(message);
        case SQLITE_IOERR:
            // The writes a full file system refuses (the WAL, its index).
            if (rc == SQLITE_IOERR_WRITE || rc == SQLITE_IOERR_SHMSIZE ||
                rc == SQLITE_IOERR_TRUNCATE)
                throw FullError(message);
            throw Error(message);
        default:
            throw Error(message);
    }
}

Statement& Statement::bind(int index, std::int64_t value) {
    if (int rc = sqlite3_bind_int64(stmt_.get(), index, value); rc != SQLITE_OK) fail(db_, rc);
    return *this;
}

Statement& Statement::bind(int index, std::string_view text) {
    if (int rc = sqlite3_bind_text64(stmt_.get(), index, text.data(), text.size(), SQLITE_TRANSIENT,
                                     SQLITE_UTF8);
        rc != SQLITE_OK) {
        fail(db_, rc);
    }
    return *this;
}

Statement& Statement::bindBlob(int index, std::string_view bytes) {
    // A zero-length blob must still be a blob, not NULL.
    static constexpr char kEmpty = 0;
    const void* data = bytes.empty() ? &kEmpty : bytes.data();
    if (int rc = sqlite3_bind_blob64(stmt_.get(), index, data, bytes.size(), SQLITE_TRANSIENT);
        rc != SQLITE_OK) {
        fail(db_, rc);
    }
    return *this;
}

Statement& Statement::bindNull(int index) {
    if (int rc = sqlite3_bind_null(stmt_.get(), index); rc != SQLITE_OK) fail(db_, rc);
    return *this;
}

bool Statement::step() {
    const int rc = sqlite3_step(stmt_.get());
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    sqlite3_reset(stmt_.get());
    fail(db_, rc);
}

void Statement::reset() {
    sqlite3_reset(stmt_.get());
    sqlite3_clear_bindings(stmt_.get());
}

bool Statement::isNull(int col) const {
    return sqlite3_column_type(stmt_.get(), col) == SQLITE_NULL;
}

std::int64_t Statement::int64(int col) const {
    return sqlite3_column_int64(stmt_.get(), col);
}

std::string Statement::text(int col) const {
    const auto* p = sqlite3_column_text(stmt_.get(), col);
    const int n = sqlite3_column_bytes(stmt_.get(), col);
    return p ? std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n))
             : std::string();
}

std::string Statement::blob(int col) const {
    const auto* p = sqlite3_column_blob(stmt_.get(), col);
    const int n = sqlite3_column_bytes(stmt_.get(), col);
    return p ? std::string(static_cast<const char*>(p), static_cast<std::size_t>(n))
             : std::string();
}

std::optional<std::int64_t> Statement::optInt64(int col) const {
    if (isNull(col)) return std::nullopt;
    return int64(col);
}

std::optional<std::string> Statement::optText(int col) const {
    if (isNull(col)) return std::nullopt;
    return text(col);
}

}  // namespace portcullis::db
