// The asciicast writer's UTF-8 handling: terminal bytes from the target (and
// keystrokes from the client) are untrusted, split anywhere by the reads.
// Each event line must be valid JSON with a valid UTF-8 string (nlohmann's
// parser checks both), and whatever the split, the data of all events
// together is the same: the bytes as valid UTF-8, invalid ones as "\xNN".
// The header is checked too: its strings (exec command, names) may be any bytes.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include <nlohmann/json.hpp>

#include "fuzz/fuzz_support.hpp"
#include "recording/cast_writer.hpp"
#include "recording/rec_format.hpp"
#include "recording/recording_meta.hpp"
#include "recording/utf8_text.hpp"

namespace {

using nlohmann::json;
using namespace portcullis::recording;

json parseLine(const std::string& line) {
    FUZZ_CHECK_MSG(!line.empty() && line.back() == '\n', line);
    FUZZ_CHECK_MSG(line.find('\n') == line.size() - 1, line);  // one line
    json value = json::parse(line, nullptr, /*allow_exceptions=*/false);
    FUZZ_CHECK_MSG(!value.is_discarded(), line);
    return value;
}

// One event line: [seconds, code, text]; returns the text.
std::string eventText(const std::string& line, char code, std::int64_t elapsedUs) {
    const json event = parseLine(line);
    FUZZ_CHECK_MSG(event.is_array() && event.size() == 3, line);
    FUZZ_CHECK_MSG(event[0].is_number() && event[1] == std::string(1, code) && event[2].is_string(),
                   line);
    const double seconds = event[0].get<double>();
    FUZZ_CHECK_MSG(seconds * 1e6 >= static_cast<double>(elapsedUs) - 1 &&
                       seconds * 1e6 <= static_cast<double>(elapsedUs) + 1,
                   line);
    return event[2].get<std::string>();
}

void checkStream(std::string_view bytes, char code) {
    CastStreamEncoder encoder(code);
    std::string joined;
    std::int64_t elapsedUs = 0;
    // Reads of 1..64 bytes (the first byte picks the longest), so that long
    // inputs stay fast and short ones are cut everywhere.
    const std::size_t maxChunk = bytes.empty() ? 1 : 1 + static_cast<unsigned char>(bytes[0]) % 64;
    portcullis::fuzz::Splitter splitter(bytes, maxChunk);
    while (!splitter.done()) {
        elapsedUs += 1234567;
        const std::string line = encoder.encode(elapsedUs, splitter.next());
        if (!line.empty()) joined += eventText(line, code, elapsedUs);
    }
    const std::string last = encoder.finish(elapsedUs);
    if (!last.empty()) joined += eventText(last, code, elapsedUs);
    FUZZ_CHECK_MSG(joined == detail::toValidUtf8(bytes), joined);
}

void checkHeader(std::string_view bytes) {
    // Client-chosen strings in every text field of the header.
    RecordingMeta meta;
    meta.sessionId = std::string(bytes.substr(0, 8));
    meta.account = std::string(bytes.substr(0, 12));
    meta.login = std::string(bytes.substr(bytes.size() / 3, 8));
    meta.target = std::string(bytes.substr(bytes.size() / 2, 8));
    meta.source = std::string(bytes.substr(bytes.size() / 4, 8));
    meta.kind = "exec";
    meta.command = std::string(bytes);
    meta.term = std::string(bytes.substr(0, 16));
    meta.title = std::string(bytes.substr(bytes.size() / 5));
    meta.width = static_cast<int>(bytes.size());
    meta.height = 24;
    meta.startedAtUnix = 1795631206;
    for (const std::string& line : {castHeaderLine(meta), recHeaderLine(meta)}) {
        const json header = parseLine(line);
        FUZZ_CHECK_MSG(header.is_object(), line);
        const RecordingMeta back = metaFromHeader(header);
        FUZZ_CHECK(back.width == meta.width && back.height == meta.height);
        FUZZ_CHECK(back.command.has_value());
        FUZZ_CHECK_MSG(*back.command == detail::toValidUtf8(*meta.command), line);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view bytes = portcullis::fuzz::asText(data, size);
    checkStream(bytes, 'o');
    checkHeader(bytes);
    // Resize events carry numbers from the client's window-change request.
    if (size >= 8) {
        std::int32_t cols = 0, rows = 0;
        std::memcpy(&cols, data, 4);
        std::memcpy(&rows, data + 4, 4);
        const json event = parseLine(castResizeLine(-5, cols, rows));
        FUZZ_CHECK(event.is_array() && event.size() == 3 && event[1] == "r");
        FUZZ_CHECK(event[2] == std::to_string(cols) + "x" + std::to_string(rows));
    }
    return 0;
}
