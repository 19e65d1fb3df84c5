#pragma once
// Reading either format back, event by event, for play, export, search and
// verify. The format is told by the file name (.cast or .rec).
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "common/result.hpp"

namespace portcullis::recording {

enum class Format { cast, rec };
// From the extension; an error for anything else.
Result<Format> formatOf(const std::filesystem::path& path);

struct RecordingEvent {
    std::int64_t elapsedUs = 0;
    // 'o' output, 'e' stderr (.rec only), 'i' input, 'r' resize (.cast only; data "COLSxROWS")
    char stream = 'o';
    // .rec: the exact bytes; .cast: the event's UTF-8 text.
    std::string data;
};

struct ReadSummary {
    nlohmann::json header;
    std::int64_t events = 0;
    // The file ends inside a frame or line (a crash or a truncation): the
    // events before it were delivered; `problem` says where.
    bool truncated = false;
    std::string problem;
};

// Calls onEvent for each event in order; stops early when it returns false.
// An unreadable file or a malformed header/line is an error ("line 12: ...");
// a cut-off last frame or line is reported as truncated, not as an error.
Result<ReadSummary> readRecording(const std::filesystem::path& path,
                                  const std::function<bool(const RecordingEvent&)>& onEvent);

}  // namespace portcullis::recording
