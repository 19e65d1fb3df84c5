#include "admin_cli/output.hpp"

#include <algorithm>
#include <iostream>

#include "recording/display_text.hpp"

namespace portcullis::cli {
namespace {

// Display width: code points (continuation bytes of UTF-8 do not count).
std::size_t displayWidth(std::string_view text) {
    return static_cast<std::size_t>(std::count_if(text.begin(), text.end(), [](char c) {
        return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    }));
}

void printRow(std::ostream& out, const std::vector<std::string>& cells,
              const std::vector<std::size_t>& widths) {
    std::string line;
    for (std::size_t i = 0; i < cells.size(); ++i) {
        line += cells[i];
        if (i + 1 < cells.size()) line += std::string(widths[i] - displayWidth(cells[i]) + 2, ' ');
    }
    out << line << '\n';
}

}  // namespace

void Table::addRow(std::vector<std::string> cells) {
    cells.resize(headers_.size());
    for (auto& cell : cells) cell = recording::displayText(cell);
    rows_.push_back(std::move(cells));
}

void Table::print(std::ostream& out, std::string_view emptyMessage) const {
    if (rows_.empty()) {
        out << emptyMessage << '\n';
        return;
    }
    std::vector<std::size_t> widths(headers_.size());
    for (std::size_t i = 0; i < headers_.size(); ++i) widths[i] = displayWidth(headers_[i]);
    for (const auto& row : rows_) {
        for (std::size_t i = 0; i < row.size(); ++i) {
            widths[i] = std::max(widths[i], displayWidth(row[i]));
        }
    }
    printRow(out, headers_, widths);
    for (const auto& row : rows_) printRow(out, row, widths);
}

void printFields(std::ostream& out, const Fields& fields) {
    std::size_t width = 0;
    for (const auto& [key, value] : fields) width = std::max(width, displayWidth(key));
    for (const auto& [key, value] : fields) {
        out << key << ':' << std::string(width - displayWidth(key) + 2, ' ')
            << recording::displayText(value) << '\n';
    }
}

void printJson(const nlohmann::json& value) {
    std::cout << recording::terminalSafeJson(
                     value.dump(2, ' ', false, nlohmann::json::error_handler_t::replace))
              << '\n';
}

void printJsonLine(const nlohmann::json& value) {
    std::cout << recording::terminalSafeJson(
                     value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace))
              << std::endl;
}

std::string isoTime(TimePoint t) {
    return formatIso8601(t);
}

nlohmann::json isoTimeOrNull(const std::optional<TimePoint>& t) {
    return t ? nlohmann::json(formatIso8601(*t)) : nlohmann::json(nullptr);
}

std::string isoTimeOr(const std::optional<TimePoint>& t, std::string_view none) {
    return t ? formatIso8601(*t) : std::string(none);
}

std::string joinList(const std::vector<std::string>& items, std::string_view separator) {
    std::string out;
    for (const auto& item : items) {
        if (!out.empty()) out += separator;
        out += item;
    }
    return out;
}

std::string orDash(const std::string& text) {
    return text.empty() ? "-" : text;
}

std::string yesNo(bool value) {
    return value ? "yes" : "no";
}

}  // namespace portcullis::cli
