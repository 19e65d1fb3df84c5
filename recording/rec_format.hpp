#pragma once
// The binary-safe `.rec` format for exec channels without a pty (SPEC §6;
// layout in docs/recording-format.md):
//
//   line 1: the header JSON object (as asciicast's, see recording_meta.hpp), "\n"
//   then frames, each:  "<microseconds> <stream> <length>\n" <length raw bytes> "\n"
//
// stream is 'i' (client stdin), 'o' (target stdout) or 'e' (target stderr).
// The frame header is ASCII so that `head` shows the structure; the payload is
// byte-exact. A frame cut short by a crash is detected by its length.
#include <cstdint>
#include <string>
#include <string_view>

#include "recording/recording_meta.hpp"

namespace portcullis::recording {

std::string recHeaderLine(const RecordingMeta& meta);
// The frame's header line; the caller writes it, then the bytes, then "\n".
std::string recFrameHeader(std::int64_t elapsedUs, char stream, std::size_t length);
// Header, bytes and the closing "\n" in one string (small frames, tests).
std::string recFrame(std::int64_t elapsedUs, char stream, std::string_view bytes);

}  // namespace portcullis::recording
