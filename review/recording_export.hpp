#pragma once
// A recording converted while it is read, event by event (recordings can be
// gigabytes): a .rec as asciicast v2, what the screen showed or the lines
// typed as text, one stream's exact bytes. What comes out goes to a sink (the
// CLI's buffered stdout or file, a web response); what went wrong comes back
// as the reader's summary or an error, never printed here.
#include <filesystem>
#include <functional>
#include <optional>
#include <string_view>

#include "common/result.hpp"
#include "recording/recording_reader.hpp"

namespace portcullis::review {

using ChunkSink = std::function<void(std::string_view)>;

// A .rec as asciicast v2: stdout and stderr both as "o" (a terminal shows
// both), stdin as "i"; each stream keeps its own encoder so that a character
// split across two reads of that stream is joined, invalid bytes escaped.
// `terminalSafe`: characters a terminal would act on written as JSON escapes.
Result<recording::ReadSummary> recToCast(const std::filesystem::path& file, bool terminalSafe,
                                         const ChunkSink& sink);

// What the screen showed (output and stderr, or only `stream` 'o' or 'e'), as
// lines of text with escape sequences interpreted; `stream` 'i': the lines
// typed (review/typed_lines.hpp).
Result<recording::ReadSummary> recordingText(const std::filesystem::path& file,
                                             recording::Format format, std::optional<char> stream,
                                             const ChunkSink& sink);

// The exact bytes of one stream ('i', 'o', 'e').
Result<recording::ReadSummary> rawStream(const std::filesystem::path& file, char stream,
                                         const ChunkSink& sink);

}  // namespace portcullis::review
