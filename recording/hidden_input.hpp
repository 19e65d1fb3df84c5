#pragma once
// Input typed at a password-like prompt, sealed (SPEC §6, issue 12 finding 8).
// The `.cast` keeps an ordinary `i` event whose data is the placeholder
// "[hidden input, N bytes]", so stock players still play it; the bytes
// themselves go to the sidecar NAME.cast.secrets, one JSON line per
// placeholder (layout in docs/recording-format.md):
//
//   {"event":N,"t":SECONDS,"bytes":LEN,"sealed":"BASE64"}
//
// N is the placeholder's 1-based index among the .cast's events (the lines
// after the header); `sealed` is AES-256-GCM under master.key (db::MasterKey:
// nonce | ciphertext | tag) with the associated data from
// hiddenInputAssociatedData, so an entry cannot be moved to another session,
// channel or event.
#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.hpp"

namespace portcullis::recording {

// "[hidden input, 9 bytes]" ("1 byte" for one).
std::string hiddenInputPlaceholder(std::size_t bytes);
// Is this event data exactly a placeholder?
bool isHiddenInputPlaceholder(std::string_view data);

std::string hiddenInputAssociatedData(std::string_view sessionId, int channel, std::int64_t event);

struct HiddenInputEntry {
    std::int64_t event = 0;
    std::int64_t elapsedUs = 0;
    std::int64_t bytes = 0;
    std::string sealed;  // raw (base64-decoded)
};

// The sidecar line, "\n" included.
std::string hiddenInputLine(const HiddenInputEntry& entry);
Result<HiddenInputEntry> parseHiddenInputLine(std::string_view line);

}  // namespace portcullis::recording
