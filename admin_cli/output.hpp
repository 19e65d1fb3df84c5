#pragma once
// Output for people (aligned tables, key: value blocks) and for programs
// (--json: objects and arrays with snake_case keys, ISO 8601 UTC times).
// Names, comments and details come from clients, targets and the store: every
// cell and value is shown with controls, C1 and invisible characters escaped
// (recording/display_text.hpp), and JSON is written with them as \u escapes
// (the same JSON value), so that no output acts on the terminal it goes to.
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/time_format.hpp"
#include "recording/display_text.hpp"

namespace portcullis::cli {

using recording::logfmtValue;

// An aligned table: a header row and rows of cells, columns separated by two
// spaces, widths counted in characters (UTF-8 aware).
class Table {
  public:
    explicit Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}
    void addRow(std::vector<std::string> cells);
    bool empty() const { return rows_.empty(); }
    // Prints the table, or `emptyMessage` alone when there is no row.
    void print(std::ostream& out, std::string_view emptyMessage) const;

  private:
    std::vector<std::string> headers_;
    std::vector<std::vector<std::string>> rows_;
};

// "Key:   value" lines with the values aligned.
using Fields = std::vector<std::pair<std::string, std::string>>;
void printFields(std::ostream& out, const Fields& fields);

// Pretty JSON on stdout (one document).
void printJson(const nlohmann::json& value);
// Compact JSON on one line on stdout, flushed (streams such as `audit tail`).
void printJsonLine(const nlohmann::json& value);

std::string isoTime(TimePoint t);
nlohmann::json isoTimeOrNull(const std::optional<TimePoint>& t);
std::string isoTimeOr(const std::optional<TimePoint>& t, std::string_view none);
std::string joinList(const std::vector<std::string>& items, std::string_view separator = ",");
std::string orDash(const std::string& text);
std::string yesNo(bool value);

}  // namespace portcullis::cli
