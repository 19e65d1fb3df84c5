#pragma once
// asciicast v2 writing (https://docs.asciinema.org/manual/asciicast/v2/):
// a header line, then one JSON array per event: [seconds, "o"|"i"|"r", data].
#include <cstdint>
#include <string>
#include <string_view>

#include "recording/recording_meta.hpp"

namespace portcullis::recording {

// The header line, "\n" included.
std::string castHeaderLine(const RecordingMeta& meta);

// Turns the bytes of one stream ('o' output or 'i' input) into event lines
// whose data is valid UTF-8: a multi-byte character split across two reads is
// held back and joined with the next read; a byte that can never start or
// continue valid UTF-8 is written as the four visible characters "\xNN"
// (never dropped, never U+FFFD, so the value stays readable).
class CastStreamEncoder {
  public:
    explicit CastStreamEncoder(char code) : code_(code) {}

    // One event line ("\n" included) for `bytes` read `elapsedUs` after the
    // start, or "" when every byte is held as an incomplete character.
    std::string encode(std::int64_t elapsedUs, std::string_view bytes);
    // At the end of the stream: whatever is still held, escaped ("" if none).
    std::string finish(std::int64_t elapsedUs);

  private:
    char code_;
    std::string held_;  // at most 3 bytes: the start of an incomplete character
};

// "[seconds, "r", "COLSxROWS"]\n"
std::string castResizeLine(std::int64_t elapsedUs, int cols, int rows);
// Seconds with microsecond precision, as asciicast wants them ("1.234567").
std::string castTime(std::int64_t elapsedUs);

}  // namespace portcullis::recording
