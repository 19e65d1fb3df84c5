#include "recording/hidden_input.hpp"

#include <nlohmann/json.hpp>

#include "common/encoding.hpp"
#include "recording/cast_writer.hpp"

namespace portcullis::recording {

namespace {
constexpr std::string_view kPrefix = "[hidden input, ";
}

std::string hiddenInputPlaceholder(std::size_t bytes) {
    return std::string(kPrefix) + std::to_string(bytes) + (bytes == 1 ? " byte]" : " bytes]");
}

bool isHiddenInputPlaceholder(std::string_view data) {
    if (!data.starts_with(kPrefix)) return false;
    data.remove_prefix(kPrefix.size());
    std::size_t digits = 0;
    std::size_t n = 0;
    while (digits < data.size() && data[digits] >= '0' && data[digits] <= '9' && digits < 12) {
        n = n * 10 + static_cast<std::size_t>(data[digits] - '0');
        ++digits;
    }
    if (digits == 0 || (data[0] == '0' && digits > 1)) return false;
    return data.substr(digits) == (n == 1 ? " byte]" : " bytes]");
}

std::string hiddenInputAssociatedData(std::string_view sessionId, int channel, std::int64_t event) {
    return "portcullis:hidden-input:v1:" + std::string(sessionId) + ":" + std::to_string(channel) +
           ":" + std::to_string(event);
}

std::string hiddenInputLine(const HiddenInputEntry& entry) {
    // Written by hand: "t" keeps the cast's own time format (a JSON number).
    return "{\"event\":" + std::to_string(entry.event) + ",\"t\":" + castTime(entry.elapsedUs) +
           ",\"bytes\":" + std::to_string(entry.bytes) + ",\"sealed\":\"" +
           base64Encode(entry.sealed) + "\"}\n";
}

Result<HiddenInputEntry> parseHiddenInputLine(std::string_view line) {
    if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
    const auto json = nlohmann::json::parse(line, nullptr, false);
    if (json.is_discarded() || !json.is_object()) return makeError("not a JSON object");
    HiddenInputEntry entry;
    if (!json.contains("event") || !json["event"].is_number_integer() || json["event"] < 1)
        return makeError("no event number");
    entry.event = json["event"].get<std::int64_t>();
    if (json.contains("t") && json["t"].is_number())
        entry.elapsedUs = static_cast<std::int64_t>(json["t"].get<double>() * 1e6 + 0.5);
    if (json.contains("bytes") && json["bytes"].is_number_integer())
        entry.bytes = json["bytes"].get<std::int64_t>();
    if (!json.contains("sealed") || !json["sealed"].is_string()) return makeError("no sealed data");
    const auto raw = base64Decode(json["sealed"].get<std::string>());
    if (!raw) return makeError("sealed data is not base64");
    entry.sealed.assign(raw->begin(), raw->end());
    return entry;
}

}  // namespace portcullis::recording
