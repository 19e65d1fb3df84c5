#pragma once
// Statement: a prepared SQLite statement with typed, 1-based bind and 0-based
// column access. All SQL in Portcullis is parameterized through this class.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "db/error.hpp"
#include "db/sqlite_handles.hpp"

namespace portcullis::db {

class Statement {
  public:
    Statement(sqlite3* db, StmtPtr stmt) : db_(db), stmt_(std::move(stmt)) {}

    Statement& bind(int index, std::int64_t value);
    Statement& bind(int index, int value) { return bind(index, static_cast<std::int64_t>(value)); }
    Statement& bind(int index, bool value) { return bind(index, static_cast<std::int64_t>(value)); }
    Statement& bind(int index, std::string_view text);
    Statement& bind(int index, const char* text) { return bind(index, std::string_view(text)); }
    Statement& bind(int index, const std::string& text) {
        return bind(index, std::string_view(text));
    }
    Statement& bindBlob(int index, std::string_view bytes);
    Statement& bindNull(int index);
    template <class T>
    Statement& bind(int index, const std::optional<T>& value) {
        return value ? bind(index, *value) : bindNull(index);
    }

    // Advances; true when a row is available. Throws db::Error on failure
    // (a constraint violation throws db::ConstraintError).
    bool step();
    // Runs a statement that returns no rows.
    void run() {
        while (step()) {
        }
    }
    void reset();

    bool isNull(int col) const;
    std::int64_t int64(int col) const;
    std::string text(int col) const;
    std::string blob(int col) const;
    std::optional<std::int64_t> optInt64(int col) const;
    std::optional<std::string> optText(int col) const;

  private:
    sqlite3* db_;
    StmtPtr stmt_;
};

}  // namespace portcullis::db
